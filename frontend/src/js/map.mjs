// The map viewer: MapLibre GL JS (global `maplibregl`, the CSP build) fed by our vector tiles.
// Configuration comes from the page as JSON (no inline script, so the CSP stays strict). The
// page works without this script: the layer form reloads the page, and a PNG of the view and a
// table of its features stand in for the map. Without WebGL this script shows those instead.

const config = JSON.parse(document.getElementById("map-config").textContent);
const container = document.getElementById("map");
const layersBySlug = new Map(config.layers.map((layer) => [layer.slug, layer]));
const ownLayerIds = new Set();
// Zoomed out further, a view reaches past the world's edges (and past any use for a county's
// data); the links and labels ask for at most the mapped world.
const MIN_ZOOM = 4;
const SELECTED_FEATURE = /^([-\w]+)\/([1-9][0-9]{0,15})$/;
// Of the other features drawn where a feature was clicked, how many its pop-up links to.
const ALSO_HERE_SHOWN = 8;
// The bands at the map's top and bottom that its buttons take (pixels), which a pop-up avoids.
const POPUP_CLEAR_TOP = 110;
const POPUP_CLEAR_BOTTOM = 45;
// What the map tells everyone, and screen readers as it happens (a role="status" region).
const status = document.getElementById("map-status");
// The date shown and whether ended features are (as_of, ended): every request and link keeps it.
const moment = config.moment || {};

function webglAvailable() {
  const canvas = document.createElement("canvas");
  try {
    return Boolean(canvas.getContext("webgl2") || canvas.getContext("webgl"));
  } catch {
    return false;
  }
}

function visibleSlugs() {
  return [...document.querySelectorAll("[data-layer-toggle]")]
    .filter((box) => box.checked)
    .map((box) => box.value);
}

// ``slug:percent`` of each layer whose slider is turned down from full, as the URL keeps them
// (the server reads them back into the sliders: maps/selectors.py `parse_opacities`).
function opacityParameter() {
  return [...document.querySelectorAll("[data-layer-opacity]")]
    .filter((range) => range.value !== range.max)
    .map((range) => `${range.dataset.layerOpacity}:${range.value}`)
    .join(",");
}

// Sets the hidden fields of ``form`` that ``values`` names, adding those it lacks.
function setHiddenFields(form, values) {
  for (const [name, value] of Object.entries(values)) {
    let input = form.elements.namedItem(name);
    if (!input) {
      input = document.createElement("input");
      input.type = "hidden";
      input.name = name;
      form.append(input);
    }
    input.value = value;
  }
}

// The search form sends the layers and date shown (its hidden fields, as the page came), so
// that the links of its results, on this page or the search page, open the map as it is now.
function updateSearchChoice() {
  setHiddenFields(document.getElementById("map-search"),
    { layers: visibleSlugs().join(","), ...moment });
}

// --- links that follow the view: the table of features and the PNG --------------------------

// The smallest box the links describe, in degrees each way (as the server's usable_bbox): at
// zoom 22 by the edge of the world the view would otherwise round to a box of no height.
const MIN_BOX_DEGREES = 0.0001;

function boundsParameter(bounds) {
  const span = (low, high, limit) => {
    let [from, to] = [Math.max(-limit, low), Math.min(limit, high)];
    if (to - from < MIN_BOX_DEGREES) {
      const half = MIN_BOX_DEGREES / 2;
      const middle = Math.min(Math.max((from + to) / 2, half - limit), limit - half);
      [from, to] = [middle - half, middle + half];
    }
    return [from, to];
  };
  const [west, east] = span(bounds.getWest(), bounds.getEast(), 180);
  const [south, north] = span(bounds.getSouth(), bounds.getNorth(), 85);
  return [west, south, east, north].map((value) => value.toFixed(5)).join(",");
}

function updateLinks(bbox) {
  const layers = visibleSlugs().join(",");
  const table = document.getElementById("map-features-link");
  const png = document.getElementById("map-png-link");
  // The feature shown in a pop-up too: the table and the picture show it as well.
  const marked = { ...markerParameters(), ...(selected && { feature: selected }) };
  table.href = `/map/features/?${new URLSearchParams({ bbox, layers, ...moment, ...marked })}`;
  const box = container.getBoundingClientRect();
  const size = { width: Math.max(64, Math.min(2000, Math.round(box.width))),
    height: Math.max(64, Math.min(1500, Math.round(box.height))) };
  const opacity = opacityParameter();
  // Saved as a file (download=1), under the name its download attribute gives.
  png.href = `/map.png?${new URLSearchParams({ bbox, layers, ...size, ...moment, ...marked,
    ...(opacity && { opacity }), download: "1" })}`;
}

// --- the search result's marker: a pin, kept in the URL ------------------------------------
// ``marker=lon,lat`` (six decimals) and ``marker_label``, as the server reads them
// (maps/marker.py), which draws the mark on the picture and says where it is on the table.

const MARKER_COLOUR = "#d4351c";
const MARKER_DECIMALS = 6;
let marked = config.marker || null; // {lon, lat, label}
let pin = null;

// A label as the server keeps one: spaces for control characters, cut to its length.
function markerLabel(text) {
  const clean = String(text || "").replace(/[\p{C}\p{Z}\s]+/gu, " ").trim();
  const most = config.marker_label_length;
  return clean.length > most ? `${clean.slice(0, most - 1).trimEnd()}…` : clean;
}

function markerParameters() {
  if (!marked) return {};
  const parameters = {
    marker: `${marked.lon.toFixed(MARKER_DECIMALS)},${marked.lat.toFixed(MARKER_DECIMALS)}`,
  };
  if (marked.label) parameters.marker_label = marked.label;
  return parameters;
}

function drawPin(map) {
  if (!pin) {
    pin = new maplibregl.Marker({ color: MARKER_COLOUR });
    const element = pin.getElement();
    element.setAttribute("role", "img");
    element.dataset.searchMarker = "true";
  }
  pin.getElement().setAttribute("aria-label",
    marked.label ? `Search result: ${marked.label}` : "Search result");
  pin.setLngLat([marked.lon, marked.lat]).addTo(map);
}

// The panel's words for the marker (the server's, with its grid reference, as the page came)
// and its link that removes it, whose address is the page's without the marker.
function updateMarkerPanel(words) {
  const panel = document.getElementById("map-marker");
  panel.hidden = !marked;
  if (words !== undefined) document.getElementById("map-marker-text").textContent = words;
  const url = new URL(window.location.href);
  url.searchParams.delete("marker");
  url.searchParams.delete("marker_label");
  document.getElementById("map-marker-remove").href = `${url.pathname}${url.search}`;
}

function setMarker(map, place) {
  marked = place;
  if (marked) {
    drawPin(map);
  } else {
    pin?.remove();
  }
  updateUrl(map);
  updateLinks(boundsParameter(map.getBounds()));
  updateMarkerPanel(marked ? marked.label || "the search result" : undefined);
}

// --- without WebGL: the picture and the table ------------------------------------------------

function showFallback() {
  const fallback = document.getElementById("map-fallback");
  const image = document.getElementById("map-fallback-image");
  image.src = image.dataset.src;
  fallback.hidden = false;
  container.hidden = true;
  container.setAttribute("data-map-fallback", "true");
}

// --- the style: our layers, from each dataset's style ----------------------------------------

// Drawn bottom to top: areas, lines, points; of the areas, the coarser under the finer (the
// districts under their wards), so a click or Enter finds the most particular feature there.
const DRAWING_ORDER = { polygon: 0, line: 1, point: 2 };

/** ``text`` with the characters HTML gives a meaning escaped. MapLibre writes a source's
 * attribution into the page as HTML; a dataset's attribution is what its data manager typed,
 * so it is shown as the text it is, never as links or markup of theirs. */
function htmlEscaped(text) {
  return String(text ?? "").replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function addOwnLayers(map) {
  const drawn = [...config.layers].sort((one, other) =>
    (DRAWING_ORDER[one.geometry_type] ?? 2) - (DRAWING_ORDER[other.geometry_type] ?? 2)
    || one.feature_count - other.feature_count);
  for (const layer of drawn) {
    map.addSource(layer.slug, {
      type: "vector",
      // Joined as text: the URL constructor would percent-encode the {z}/{x}/{y} placeholders.
      tiles: [`${window.location.origin}${layer.tiles}`],
      minzoom: layer.min_zoom,
      maxzoom: 16,
      attribution: htmlEscaped(layer.attribution),
    });
    const common = {
      source: layer.slug,
      "source-layer": layer.slug,
      minzoom: layer.min_zoom,
      layout: { visibility: layer.visible ? "visible" : "none" },
    };
    const added = [];
    if (layer.geometry_type === "polygon") {
      added.push({ id: `${layer.slug}-fill`, type: "fill", ...common,
        paint: { "fill-color": layer.colour, "fill-opacity": layer.fill_opacity } });
      added.push({ id: `${layer.slug}-line`, type: "line", ...common,
        paint: { "line-color": layer.colour, "line-width": 1.5 } });
    } else if (layer.geometry_type === "line") {
      added.push({ id: `${layer.slug}-line`, type: "line", ...common,
        paint: { "line-color": layer.colour, "line-width": 2 } });
    } else {
      added.push({ id: `${layer.slug}-point`, type: "circle", ...common,
        paint: { "circle-color": layer.colour, "circle-radius": 5,
          "circle-stroke-color": "#ffffff", "circle-stroke-width": 1 } });
    }
    for (const definition of added) {
      map.addLayer(definition);
      ownLayerIds.add(definition.id);
    }
  }
}

function baseStyle() {
  const style = {
    version: 8,
    sources: {},
    layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f2f1" } }],
  };
  const basemap = config.basemap;
  if (basemap && basemap.raster_tiles) {
    style.sources.basemap = { type: "raster", tiles: [basemap.raster_tiles],
      tileSize: basemap.tile_size, attribution: basemap.attribution };
    style.layers.push({ id: "basemap", type: "raster", source: "basemap" });
  }
  return basemap && basemap.style_url ? basemap.style_url : style;
}

function setOpacity(map, slug, value) {
  for (const id of [`${slug}-fill`, `${slug}-line`, `${slug}-point`]) {
    if (!map.getLayer(id)) continue;
    const type = map.getLayer(id).type;
    if (type === "fill") {
      map.setPaintProperty(id, "fill-opacity", layersBySlug.get(slug).fill_opacity * value);
    }
    if (type === "line") map.setPaintProperty(id, "line-opacity", value);
    if (type === "circle") {
      map.setPaintProperty(id, "circle-opacity", value);
      map.setPaintProperty(id, "circle-stroke-opacity", value);
    }
  }
}

function setVisible(map, slug, visible) {
  for (const id of [`${slug}-fill`, `${slug}-line`, `${slug}-point`]) {
    if (map.getLayer(id)) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
  }
}

// --- labels: HTML markers from the label endpoint --------------------------------------------
// Why HTML and not MapLibre symbol layers: symbol text needs glyph PBFs, fetched at run time,
// and there is no network here and no small packaged open font in our registry. HTML labels use
// the page's own font, are real text (zoomable, readable by assistive technology) and come from
// a small permission-checked endpoint, one request per layer per view.

const labelMarkers = new Map(); // slug -> markers
const POINT_LABEL_GAP = 8; // px between a point's centre and its label (the circle's radius is 5)
const LABEL_MARGIN = 2; // px kept clear around each label shown
let labelRequest = null;

async function refreshLabels(map) {
  labelRequest?.abort();
  labelRequest = new AbortController();
  const { signal } = labelRequest;
  const bbox = boundsParameter(map.getBounds());
  const zoom = map.getZoom();
  const wanted = new Set(visibleSlugs().filter((slug) => {
    const layer = layersBySlug.get(slug);
    return layer && layer.labels && zoom >= layer.label_min_zoom;
  }));
  for (const [slug, markers] of labelMarkers) {
    if (!wanted.has(slug)) {
      markers.forEach((marker) => marker.remove());
      labelMarkers.delete(slug);
    }
  }
  declutterLabels(); // what a removed layer's labels hid can show now
  for (const slug of wanted) {
    let labels;
    try {
      const url = layersBySlug.get(slug).labels;
      const response = await fetch(`${url}${url.includes("?") ? "&" : "?"}bbox=${bbox}`, { signal });
      if (!response.ok) continue;
      // Reading the body fails too when the map moves on meanwhile (a newer request aborts it).
      ({ labels } = await response.json());
    } catch (error) {
      if (error.name === "AbortError") return;
      // Labels are drawn text only (the table of features is the text alternative): a layer
      // whose labels cannot be fetched now goes without until the next move.
      console.warn(`The labels of ${slug} could not be loaded:`, error.message);
      continue;
    }
    if (signal.aborted) return;
    (labelMarkers.get(slug) || []).forEach((marker) => marker.remove());
    const pointLayer = layersBySlug.get(slug).geometry_type === "point";
    labelMarkers.set(slug, labels.map((label) => {
      const element = document.createElement("div");
      element.className = "app-map-label";
      element.textContent = label.text;
      element.dataset.labelLayer = slug;
      // Visual only (the table of features is the text alternative); without a role and label
      // of its own, MapLibre would announce each one as a "Map marker" button.
      element.setAttribute("role", "presentation");
      element.setAttribute("aria-label", label.text);
      element.setAttribute("aria-hidden", "true");
      // A point's label sits beside it, leaving the point itself in sight.
      const placement = pointLayer ? { anchor: "left", offset: [POINT_LABEL_GAP, 0] } : {};
      return new maplibregl.Marker({ element, ...placement })
        .setLngLat([label.lon, label.lat]).addTo(map);
    }));
    declutterLabels();
  }
}

// HTML labels know nothing of each other, as symbol layers would: of two that would overlap,
// the later is hidden (layers in the panel's order, a layer's labels in the endpoint's order),
// so that every label shown can be read. Each move places them again.
function declutterLabels() {
  const order = visibleSlugs();
  const slugs = [...labelMarkers.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const shown = [];
  for (const slug of slugs) {
    for (const marker of labelMarkers.get(slug)) {
      const element = marker.getElement();
      const box = element.getBoundingClientRect();
      const overlaps = shown.some((other) => box.left < other.right + LABEL_MARGIN
        && other.left < box.right + LABEL_MARGIN && box.top < other.bottom + LABEL_MARGIN
        && other.top < box.bottom + LABEL_MARGIN);
      element.classList.toggle("app-map-label--hidden", overlaps);
      if (!overlaps) shown.push(box);
    }
  }
}

// --- what the map says: the status above it --------------------------------------------------

function announce(message) {
  const text = document.createElement("p");
  text.className = "govuk-inset-text govuk-!-margin-top-0 govuk-!-margin-bottom-2";
  text.textContent = message;
  status.replaceChildren(text);
}

function clearAnnouncement() {
  status.replaceChildren();
}

const LINKED_FEATURE_PROBLEMS = {
  gone: "The feature this link points to is not available: it may have been removed, or you may "
    + "not have access to it. The map shows the rest of the view.",
  failed: "The feature this link points to could not be loaded. Try again in a moment; the map "
    + "shows the rest of the view.",
};
const NOTHING_AT_CENTRE = "Nothing is shown at the centre of the map. Move the map with the arrow "
  + "keys to bring a feature to its centre, or list the features in this view.";

// --- the URL: view, layers, selected feature and marker ---------------------------------------

// "slug/id" of the feature whose pop-up is open; anything else in the URL is dropped.
let selected = SELECTED_FEATURE.test(config.feature || "") ? config.feature : "";

function updateUrl(map) {
  const centre = map.getCenter();
  const parameters = new URLSearchParams({
    layers: visibleSlugs().join(","),
    center: `${centre.lng.toFixed(5)},${centre.lat.toFixed(5)}`,
    zoom: map.getZoom().toFixed(2),
    ...moment,
  });
  const opacity = opacityParameter();
  if (opacity) parameters.set("opacity", opacity);
  if (selected) parameters.set("feature", selected);
  for (const [name, value] of Object.entries(markerParameters())) parameters.set(name, value);
  window.history.replaceState(null, "", `${window.location.pathname}?${parameters}`);
  if (marked) updateMarkerPanel();
  updateLinks(boundsParameter(map.getBounds())); // they name the feature shown too
}

// --- pop-ups ---------------------------------------------------------------------------------

let popup = null;

// The other features drawn where the pop-up's feature was clicked (``here`` holds them all), as
// links to their own pop-ups: links, so that one can also open in a new tab with it chosen.
function alsoHereContent(map, here, others, lngLat) {
  const section = document.createElement("div");
  const heading = document.createElement("h3");
  heading.className = "govuk-heading-s govuk-!-margin-top-3 govuk-!-margin-bottom-1";
  heading.textContent = "Also here";
  const list = document.createElement("ul");
  list.className = "govuk-list govuk-body-s govuk-!-margin-bottom-0";
  for (const other of others.slice(0, ALSO_HERE_SHOWN)) {
    const item = document.createElement("li");
    const link = document.createElement("a");
    link.className = "govuk-link";
    const url = new URL(window.location.href);
    url.searchParams.set("feature", `${other.slug}/${other.id}`);
    link.href = url.toString();
    link.textContent = other.name;
    const title = document.createElement("span");
    title.className = "govuk-caption-s govuk-!-display-inline";
    title.textContent = ` (${other.title})`;
    link.addEventListener("click", (event) => {
      if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
      event.preventDefault();
      openFeature(map, other.slug, other.id, lngLat, { here });
    });
    item.append(link, title);
    list.append(item);
  }
  if (others.length > ALSO_HERE_SHOWN) {
    const more = document.createElement("li");
    more.textContent = `and ${others.length - ALSO_HERE_SHOWN} more: zoom in to tell them apart.`;
    list.append(more);
  }
  section.append(heading, list);
  return section;
}

// A row's web address as a link that opens in a new tab (following it in this one would leave
// the map), or null. The server decides which values are addresses (maps/web_addresses.py);
// what becomes an href is checked again here, and only ever set through the DOM.
function webAddressLink(href) {
  let url;
  try {
    url = new URL(href);
  } catch {
    return null;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return null;
  const link = document.createElement("a");
  link.className = "govuk-link govuk-!-text-break-word";
  link.setAttribute("href", url.href);
  link.setAttribute("target", "_blank");
  link.setAttribute("rel", "noreferrer noopener");
  link.textContent = `${href} (opens in new tab)`;
  return link;
}

// The rows come as text from the server (maps/selectors.py `_detail_rows`), which lists them
// on the feature's own page too; a row whose value is a web address names it as its third item.
function detailContent(detail) {
  const wrapper = document.createElement("div");
  wrapper.className = "app-map-popup";
  const heading = document.createElement("h2");
  heading.className = "govuk-heading-s govuk-!-margin-bottom-1";
  heading.tabIndex = -1;
  heading.textContent = detail.label;
  const caption = document.createElement("p");
  caption.className = "govuk-caption-s govuk-!-margin-bottom-2";
  caption.textContent = detail.dataset.title;
  const list = document.createElement("dl");
  list.className = "govuk-summary-list govuk-summary-list--no-border govuk-!-margin-bottom-0";
  for (const [key, value, href] of detail.rows) {
    const row = document.createElement("div");
    row.className = "govuk-summary-list__row";
    const term = document.createElement("dt");
    term.className = "govuk-summary-list__key";
    term.textContent = key;
    const description = document.createElement("dd");
    description.className = "govuk-summary-list__value";
    const link = href ? webAddressLink(href) : null;
    if (link) description.append(link);
    else description.textContent = value;
    row.append(term, description);
    list.append(row);
  }
  wrapper.append(heading, caption, list);
  return wrapper;
}

function problemContent(message) {
  const wrapper = document.createElement("div");
  wrapper.className = "app-map-popup";
  const text = document.createElement("p");
  text.className = "govuk-body-s govuk-!-margin-bottom-0";
  text.tabIndex = -1;
  text.textContent = message;
  wrapper.append(text);
  return wrapper;
}

async function featureDetail(slug, id) {
  const query = new URLSearchParams(moment).toString();
  try {
    const response = await fetch(`/datasets/${slug}/features/${id}.json${query ? `?${query}` : ""}`);
    if (response.ok) return { detail: await response.json() };
    if (response.status === 404) {
      // The server says why: an ended feature's answer says when it ended.
      const answer = await response.json().catch(() => ({}));
      if (answer.ended) return { problem: answer.error, kind: "ended" };
      return { problem: "This feature is not available: it may have been removed, or you may not have access to it.",
        kind: "gone" };
    }
  } catch (error) {
    console.warn("The feature could not be loaded:", error.message);
  }
  return { problem: "This feature could not be loaded. Try again in a moment.", kind: "failed" };
}

function showPopup(map, content, lngLat) {
  clearAnnouncement();
  popup?.remove();
  // The padding keeps it, where there is room, clear of the map's buttons: zoom at the top
  // right, scale and credits at the bottom (the pop-up's height is capped to fit; app.scss).
  popup = new maplibregl.Popup({ maxWidth: "340px", focusAfterOpen: false,
    padding: { top: POPUP_CLEAR_TOP, bottom: POPUP_CLEAR_BOTTOM } })
    .setLngLat(lngLat)
    .setDOMContent(content)
    .addTo(map);
  // The sources' credits fold away (their button shows them again) so they cover no pop-up.
  container.querySelector(".maplibregl-ctrl-attrib.maplibregl-compact-show")
    ?.classList.remove("maplibregl-compact-show");
  const opened = popup;
  opened.on("close", () => {
    if (popup === opened) {
      popup = null;
      selected = "";
      updateUrl(map);
      // Focus that went with the pop-up comes back to the map; focus elsewhere stays there.
      if (document.activeElement === document.body) container.querySelector("canvas")?.focus();
    }
  });
}

// Opens the feature's pop-up; ``lngLat`` where it was clicked (else its own point), ``here``
// every feature drawn there (``featuresAt``). Focus moves into the pop-up when a person opened it, not when
// the page opens one named in its URL.
let opening = 0; // counts the pop-ups asked for: only the latest one asked for opens

async function openFeature(map, slug, id, lngLat, { focus = true, here = [] } = {}) {
  const asked = ++opening;
  const { detail, problem, kind } = await featureDetail(slug, id);
  if (asked !== opening) return; // another feature was asked for meanwhile
  if (problem) {
    if (!focus) {
      // A feature named in the URL that cannot be shown: the URL stops naming it, and the page
      // says why no pop-up opened (without taking focus from where the person is).
      // An ended one stays named, so that showing ended features opens it.
      if (kind !== "ended") selected = "";
      updateUrl(map);
      announce(kind === "ended"
        ? `The feature this link points to is hidden: ${problem} To show it, tick "Show ended `
          + 'features" and choose "Show this date". The map shows the rest of the view.'
        : LINKED_FEATURE_PROBLEMS[kind]);
      return;
    }
    const content = problemContent(problem);
    showPopup(map, content, lngLat || map.getCenter());
    content.querySelector("p").focus();
    return;
  }
  const content = detailContent(detail);
  const others = here.filter((feature) => `${feature.slug}/${feature.id}` !== `${slug}/${id}`);
  if (others.length) content.append(alsoHereContent(map, here, others, lngLat));
  showPopup(map, content, lngLat || [detail.point.lon, detail.point.lat]);
  // The feature as it is now: a link made before it last changed names an older row of it.
  selected = `${slug}/${detail.id}`;
  updateUrl(map);
  if (focus) content.querySelector("h2").focus();
}

// Every feature drawn at ``point``, the most particular first (drawn on top), each once (an
// area is drawn as a fill and an outline), with what names it among the others.
function featuresAt(map, point) {
  const layers = [...ownLayerIds].filter((id) => map.getLayoutProperty(id, "visibility") !== "none");
  const found = new Map();
  for (const feature of map.queryRenderedFeatures(point, { layers })) {
    const key = `${feature.source}/${feature.id}`;
    if (feature.id === undefined || found.has(key)) continue;
    const layer = layersBySlug.get(feature.source);
    const name = (layer?.label_field && feature.properties[layer.label_field])
      || feature.properties.reference || `Feature ${feature.id}`;
    found.set(key, { slug: feature.source, id: feature.id, name: String(name),
      title: layer?.title || feature.source });
  }
  return [...found.values()];
}

// Whether a feature is drawn at ``point`` (its pop-up then opens).
function openFeatureAt(map, point, lngLat) {
  const found = featuresAt(map, point);
  if (found.length) {
    openFeature(map, found[0].slug, found[0].id, lngLat, { here: found });
  }
  return found.length > 0;
}

// --- moving the map without dragging (WCAG 2.5.7) --------------------------------------------

// Each button moves the view by half its width or height, as the page's links without WebGL do.
const PAN_DIRECTIONS = [
  { name: "north", arrow: "↑", offset: (width, height) => [0, -height / 2] },
  { name: "west", arrow: "←", offset: (width, height) => [-width / 2, 0] },
  { name: "east", arrow: "→", offset: (width, height) => [width / 2, 0] },
  { name: "south", arrow: "↓", offset: (width, height) => [0, height / 2] },
];

/** Buttons that move the map north, west, east or south: dragging is not the only way. */
class PanControl {
  onAdd(map) {
    this.container = document.createElement("div");
    this.container.className = "maplibregl-ctrl maplibregl-ctrl-group app-pan-control";
    for (const direction of PAN_DIRECTIONS) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = `app-pan-control__${direction.name}`;
      button.setAttribute("aria-label", `Move the map ${direction.name}`);
      button.title = `Move the map ${direction.name}`;
      const arrow = document.createElement("span");
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = direction.arrow;
      button.append(arrow);
      button.addEventListener("click", () => {
        const canvas = map.getCanvas();
        map.panBy(direction.offset(canvas.clientWidth, canvas.clientHeight));
      });
      this.container.append(button);
    }
    return this.container;
  }

  onRemove() {
    this.container.remove();
  }
}

// --- the map ---------------------------------------------------------------------------------

function start() {
  // The CSP build's worker is a static file of ours (worker-src 'self'); its URL is on the page.
  maplibregl.setWorkerUrl(container.dataset.workerUrl);
  container.hidden = false; // hidden in the page, so that without this script no empty box shows
  const options = {
    container,
    style: baseStyle(),
    // Folded into a button once the map is moved or a pop-up opens; the page's footer credits
    // every source in full as well.
    attributionControl: { compact: true },
    fadeDuration: 0,
    minZoom: MIN_ZOOM,
  };
  if (config.view) {
    options.center = config.view.center;
    options.zoom = config.view.zoom;
  } else {
    options.bounds = config.bounds;
    options.fitBoundsOptions = { padding: 20 };
  }
  const map = new maplibregl.Map(options);
  window.infraplanMap = map;
  // For the search box (search.mjs): a result's place marked, or the mark taken off.
  window.infraplanMarker = {
    show: ({ lon, lat, label }) => setMarker(map, {
      lon: Number(lon.toFixed(MARKER_DECIMALS)), lat: Number(lat.toFixed(MARKER_DECIMALS)),
      label: markerLabel(label),
    }),
    clear: () => { if (marked) setMarker(map, null); },
  };
  if (marked) drawPin(map);
  document.getElementById("map-marker-remove").addEventListener("click", (event) => {
    event.preventDefault();
    setMarker(map, null);
    // The link went with the marker: focus goes to the search box, to search again.
    document.getElementById("map-search-q").focus();
  });
  map.addControl(new maplibregl.NavigationControl(), "top-right");
  map.addControl(new PanControl(), "top-right");
  map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");

  map.on("style.load", () => {
    addOwnLayers(map);
    // Each layer as its slider stands: as the URL's ``opacity`` set it.
    for (const range of document.querySelectorAll("[data-layer-opacity]")) {
      setOpacity(map, range.dataset.layerOpacity, Number(range.value) / 100);
    }
  });
  map.on("idle", () => container.setAttribute("data-map-idle", "true"));
  map.on("movestart", () => {
    container.removeAttribute("data-map-idle");
    clearAnnouncement(); // what it said was about the view before
  });
  map.on("moveend", () => {
    updateUrl(map);
    updateLinks(boundsParameter(map.getBounds()));
    refreshLabels(map);
  });
  map.once("load", () => {
    updateLinks(boundsParameter(map.getBounds()));
    refreshLabels(map);
    if (selected) {
      const [, slug, id] = selected.match(SELECTED_FEATURE);
      openFeature(map, slug, id, null, { focus: false });
    } else if (config.feature) {
      updateUrl(map); // it named no feature: the URL stops naming it
      announce(`The feature this link points to (“${config.feature}”) is not one the map can `
        + "show. The map shows the rest of the view.");
    }
  });

  // The layer form works without the script (it reloads the page); with it, changes are live.
  // A new date reloads the page (every layer's tiles change), keeping the view.
  document.querySelector(".app-layers-submit")?.setAttribute("hidden", "");
  document.getElementById("map-layers").addEventListener("submit", (event) => {
    // The page's own view fields (kept for use without the script) take the view as it is.
    const centre = map.getCenter();
    const opacity = opacityParameter();
    // The marker and the feature shown as they are now: the page's own fields name those it
    // came with.
    for (const name of ["marker", "marker_label", "feature"]) {
      event.target.elements.namedItem(name)?.remove();
    }
    setHiddenFields(event.target, {
      center: `${centre.lng.toFixed(5)},${centre.lat.toFixed(5)}`,
      zoom: map.getZoom().toFixed(2),
      ...(opacity && { opacity }),
      ...markerParameters(),
      ...(selected && { feature: selected }),
    });
    // One layers parameter (as the map's own links write it), not the form's empty one and
    // one per ticked box, so that the link the page opens at reads as the others do.
    event.preventDefault();
    const fields = new FormData(event.target);
    const query = new URLSearchParams({ layers: fields.getAll("layers").filter(Boolean).join(",") });
    for (const [name, value] of fields) if (name !== "layers") query.append(name, value);
    window.location.assign(`${event.target.action}?${query}`);
  });
  updateSearchChoice(); // the boxes as the browser may have restored them
  // "Skip to the map" (whose link, without the map, leads to the picture and table) takes
  // focus to the map itself, ready for its keys.
  document.getElementById("skip-to-map").addEventListener("click", (event) => {
    event.preventDefault();
    map.getCanvas().focus();
  });
  for (const checkbox of document.querySelectorAll("[data-layer-toggle]")) {
    checkbox.addEventListener("change", () => {
      setVisible(map, checkbox.value, checkbox.checked);
      // A layer ticked further out than it is drawn would show nothing and say nothing.
      const layer = layersBySlug.get(checkbox.value);
      if (checkbox.checked && layer?.min_zoom && map.getZoom() < layer.min_zoom) {
        announce(`${layer.title} are drawn from zoom level ${layer.min_zoom}: zoom in to see `
          + "them, or use the table of features in this view.");
      }
      container.removeAttribute("data-map-idle");
      map.triggerRepaint();
      updateUrl(map);
      updateSearchChoice();
      updateLinks(boundsParameter(map.getBounds()));
      refreshLabels(map);
    });
  }
  for (const range of document.querySelectorAll("[data-layer-opacity]")) {
    range.closest(".app-opacity").hidden = false;
    range.addEventListener("input", () => {
      setOpacity(map, range.dataset.layerOpacity, Number(range.value) / 100);
      range.setAttribute("aria-valuetext", `${range.value}%`); // read out as a percentage
      container.removeAttribute("data-map-idle");
    });
    // Once let go (not at each step of a drag: browsers throttle changes to the address).
    range.addEventListener("change", () => updateUrl(map));
  }

  map.on("click", (event) => openFeatureAt(map, event.point, event.lngLat));
  map.on("mousemove", (event) => {
    map.getCanvas().style.cursor = featuresAt(map, event.point).length ? "pointer" : "";
  });
  // From the keyboard: Enter on the focused map opens the feature at its centre (marked while
  // the map has focus), or says there is none; Escape closes. The hint above the map says so.
  const canvas = map.getCanvas();
  const hint = document.getElementById("map-keyboard-hint");
  hint.hidden = false;
  canvas.setAttribute("aria-describedby", hint.id);
  canvas.addEventListener("keydown", (event) => {
    if (event.key !== "Enter") return;
    if (!openFeatureAt(map, map.project(map.getCenter()), map.getCenter())) {
      announce(NOTHING_AT_CENTRE);
    }
  });
  // Escape closes the pop-up from within it or anywhere on the map (its canvas, its zoom and
  // credits buttons, which an open pop-up may cover), not from the search box or the layer
  // panel, where it is the browser's or the control's own.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && popup && container.contains(document.activeElement)) {
      popup.remove();
    }
  });
}

if (!window.maplibregl || !webglAvailable()) {
  showFallback();
} else {
  try {
    start();
  } catch (error) {
    // MapLibre throws when it cannot create a WebGL context after all.
    console.warn("The interactive map could not start:", error.message);
    showFallback();
  }
}
