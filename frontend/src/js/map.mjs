// The map viewer: MapLibre GL JS (global `maplibregl`, the CSP build) fed by our vector tiles.
// Configuration comes from the page as JSON (no inline script, so the CSP stays strict).

const config = JSON.parse(document.getElementById("map-config").textContent);
const container = document.getElementById("map");

// The CSP build's worker is a static file of ours (worker-src 'self'); its hashed URL is on the page.
maplibregl.setWorkerUrl(container.dataset.workerUrl);

const accent = config.accent;
const style = {
  version: 8,
  sources: {},
  layers: [{ id: "background", type: "background", paint: { "background-color": "#f3f2f1" } }],
};

for (const layer of config.layers) {
  style.sources[layer.slug] = {
    type: "vector",
    // Joined as text: the URL constructor would percent-encode the {z}/{x}/{y} placeholders.
    tiles: [`${window.location.origin}${layer.tiles}`],
    minzoom: 0,
    maxzoom: 16,
    attribution: layer.attribution,
  };
  const common = { source: layer.slug, "source-layer": layer.slug, minzoom: layer.min_zoom };
  if (layer.geometry_type === "polygon") {
    style.layers.push({ id: `${layer.slug}-fill`, type: "fill", ...common,
      paint: { "fill-color": accent, "fill-opacity": 0.08 } });
    style.layers.push({ id: `${layer.slug}-line`, type: "line", ...common,
      paint: { "line-color": accent, "line-width": 1.5 } });
  } else if (layer.geometry_type === "line") {
    style.layers.push({ id: `${layer.slug}-line`, type: "line", ...common,
      paint: { "line-color": accent, "line-width": 2 } });
  } else {
    style.layers.push({ id: `${layer.slug}-point`, type: "circle", ...common,
      paint: { "circle-color": accent, "circle-radius": 4, "circle-stroke-color": "#fff", "circle-stroke-width": 1 } });
  }
}

const map = new maplibregl.Map({
  container,
  style,
  bounds: config.bounds,
  fitBoundsOptions: { padding: 20 },
  attributionControl: { compact: false },
  hash: "view",
});
map.addControl(new maplibregl.NavigationControl(), "top-right");
map.addControl(new maplibregl.ScaleControl({ unit: "metric" }), "bottom-left");
window.infraplanMap = map;

map.on("idle", () => container.setAttribute("data-map-idle", "true"));
map.on("movestart", () => container.removeAttribute("data-map-idle"));

// Layer toggles: the checkboxes in the panel show and hide each dataset's map layers.
for (const checkbox of document.querySelectorAll("[data-layer-toggle]")) {
  checkbox.disabled = false;
  checkbox.addEventListener("change", () => {
    const slug = checkbox.dataset.layerToggle;
    for (const layer of map.getStyle().layers) {
      if (layer.source === slug) {
        map.setLayoutProperty(layer.id, "visibility", checkbox.checked ? "visible" : "none");
      }
    }
  });
}

// Clicking a feature shows its properties.
map.on("click", (event) => {
  const [feature] = map.queryRenderedFeatures(event.point).filter((f) => f.source !== "background");
  if (!feature) return;
  const list = document.createElement("dl");
  list.className = "govuk-summary-list govuk-summary-list--no-border govuk-!-margin-bottom-0";
  for (const [key, value] of Object.entries(feature.properties)) {
    if (value === null || value === "") continue;
    const row = document.createElement("div");
    row.className = "govuk-summary-list__row";
    const term = document.createElement("dt");
    term.className = "govuk-summary-list__key";
    term.textContent = key;
    const detail = document.createElement("dd");
    detail.className = "govuk-summary-list__value";
    detail.textContent = String(value);
    row.append(term, detail);
    list.append(row);
  }
  new maplibregl.Popup({ maxWidth: "320px" }).setLngLat(event.lngLat).setDOMContent(list).addTo(map);
});
