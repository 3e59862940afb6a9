// The map's search box (form#map-search), enhanced. Without this script the form opens the
// search page (/search/), whose results link back to the map centred on each place. With it,
// results are listed under the form, a short summary of them is announced to screen readers,
// and the map flies to the first one (or the one chosen) and marks it. The map is window.infraplanMap and its marker
// (kept in the URL) window.infraplanMarker, set by map.mjs; without them (no WebGL) the results'
// links still open the map there, marked.

const form = document.getElementById("map-search");
const input = document.getElementById("map-search-q");

const STREET_ZOOM = 16;
const MAX_ZOOM = 17;

let request = null;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// What a search found is listed in `results`; what screen readers hear of it is one sentence,
// in the live region `status` (a whole list read out after every search would be too much:
// WCAG 4.1.3). The live region exists before anything is written into it, so each change is
// announced.
const results = element("div", "govuk-!-margin-bottom-4");
results.id = "map-search-results";
const status = element("div", "govuk-visually-hidden");
status.id = "map-search-status";
status.setAttribute("aria-live", "polite");
const group = form.querySelector(".govuk-form-group");
form.after(status, results);

function announce(...sentences) {
  status.textContent = sentences.filter(Boolean).join(" ");
}

function clearError() {
  group.classList.remove("govuk-form-group--error");
  input.classList.remove("govuk-input--error");
  input.removeAttribute("aria-describedby");
  document.getElementById("map-search-q-error")?.remove();
}

// Shown by the field, GOV.UK's way, and told through the live region: searching from the
// keyboard (Enter) leaves focus in the field, so its new description would go unannounced.
function showError(message) {
  results.replaceChildren();
  announce(`Error: ${message}`);
  group.classList.add("govuk-form-group--error");
  input.classList.add("govuk-input--error");
  const error = element("p", "govuk-error-message");
  error.id = "map-search-q-error";
  error.append(element("span", "govuk-visually-hidden", "Error:"), ` ${message}`);
  (input.closest(".app-map-search__row") || input).before(error);
  input.setAttribute("aria-describedby", error.id);
}

function switchOnLayer(slug) {
  const toggle = document.querySelector(`[data-layer-toggle="${CSS.escape(slug)}"]`);
  if (toggle && !toggle.checked) {
    toggle.checked = true;
    toggle.dispatchEvent(new Event("change"));
  }
}

function flyTo(result) {
  const map = window.infraplanMap;
  if (!map) return false;
  const [west, south, east, north] = result.bbox || [];
  if (result.bbox && (east > west || north > south)) {
    map.fitBounds([[west, south], [east, north]], { padding: 40, maxZoom: MAX_ZOOM });
  } else {
    map.flyTo({ center: [result.point.lon, result.point.lat], zoom: STREET_ZOOM });
  }
  window.infraplanMarker.show({ ...result.point, label: result.label });
  if (result.dataset) switchOnLayer(result.dataset.slug);
  return true;
}

function describe(result) {
  return result.detail ? `${result.kind_label}: ${result.detail}` : result.kind_label;
}

// A list of results, each a link that flies the map to it (or, without the map, opens the map
// there), with its kind after a separator that screen readers and copying keep.
function resultList(results, tag, heading) {
  const list = element(tag, "govuk-list govuk-!-font-size-16");
  list.setAttribute("aria-labelledby", heading.id);
  results.forEach((result, index) => {
    const item = element("li", "govuk-!-margin-bottom-2");
    const link = element("a", "govuk-link", result.label);
    link.href = result.map_url;
    link.dataset.searchResult = String(index);
    link.addEventListener("click", (event) => {
      if (flyTo(result)) {
        event.preventDefault();
        link.setAttribute("aria-current", "location");
        list.querySelectorAll("[aria-current]").forEach((other) => {
          if (other !== link) other.removeAttribute("aria-current");
        });
      }
    });
    item.append(
      link,
      element("span", "govuk-visually-hidden", ", "),
      element("span", "govuk-caption-s", describe(result)),
    );
    list.append(item);
  });
  return list;
}

function showResults(body) {
  const count = body.results.length;
  const heading = element(
    "h2",
    "govuk-heading-s govuk-!-margin-bottom-2",
    `${count} result${count === 1 ? "" : "s"} for “${body.query}”`,
  );
  heading.id = "map-search-results-title";
  const list = resultList(body.results, "ol", heading);
  list.querySelector("a")?.setAttribute("aria-current", "location");
  const shown = flyTo(body.results[0])
    ? element("p", "govuk-body-s govuk-!-margin-bottom-2",
      `The map shows the first: ${body.results[0].label}.`)
    : "";
  const more = body.more ? element("p", "govuk-body-s govuk-!-margin-bottom-2", body.more) : "";
  // Where the results answer only part of the search (a word nothing holds was left out), the
  // search page's note says so here too.
  const note = body.note
    ? element("p", "govuk-inset-text govuk-!-font-size-16 govuk-!-margin-top-0 govuk-!-margin-bottom-2", body.note)
    : "";
  if (note) note.id = "map-search-note";
  results.replaceChildren(heading, note, shown, more, list);
  announce(`${heading.textContent}.`, body.note, shown && shown.textContent,
    count > 1 ? "The results are listed after the search box." : "");
}

function clearMarker() {
  window.infraplanMarker?.clear();
}

// What an earlier search showed (its results, its marker) goes when a new one finds nothing.
function clearResults() {
  clearMarker();
  results.replaceChildren();
  announce();
}

function showNothing(body) {
  clearMarker();
  const hint = element("div", "govuk-hint");
  hint.append(element("p", "govuk-body govuk-!-margin-bottom-1", `Nothing found for “${body.query}”.`));
  const formats = element("ul", "govuk-list govuk-list--bullet govuk-!-font-size-16");
  body.formats.forEach((format) => formats.append(element("li", "", format)));
  hint.append(element("p", "govuk-body-s govuk-!-margin-bottom-1", "Search for:"), formats);
  results.replaceChildren(hint);
  announce(`Nothing found for “${body.query}”.`, "What you can search for is listed after the search box.");
}

// A postcode that does not exist: what it might have been (its sector and district, postcodes
// one character away), for the officer to choose; the map does not move by itself.
function showSuggestions(body) {
  const heading = element("h2", "govuk-heading-s govuk-!-margin-bottom-2", `Postcodes like “${body.query}”`);
  heading.id = "map-search-suggestions-title";
  results.replaceChildren(heading, resultList(body.suggestions, "ul", heading));
  const count = body.suggestions.length;
  announce(status.textContent,
    `${count} postcode${count === 1 ? "" : "s"} like it ${count === 1 ? "is" : "are"} listed after the search box.`);
}

async function search(query) {
  request?.abort();
  request = new AbortController();
  clearError();
  announce();
  results.replaceChildren(element("p", "govuk-body-s", "Searching…"));
  let body;
  try {
    // The form's own fields too (the layers and date shown), which result links keep.
    const parameters = new URLSearchParams([...new FormData(form), ["format", "json"]]);
    parameters.set("q", query);
    const response = await fetch(`/search/?${parameters}`, {
      headers: { Accept: "application/json" },
      signal: request.signal,
    });
    if (!response.ok) throw new Error(`search answered ${response.status}`);
    body = await response.json();
  } catch (error) {
    if (error.name === "AbortError") return;
    showError("Search is not working at the moment. Try again, or use the search page.");
    return;
  }
  if (body.error) {
    clearMarker();
    showError(body.error);
    if (body.suggestions?.length) showSuggestions(body);
  } else if (body.results.length) {
    showResults(body);
  } else {
    showNothing(body);
  }
}

form.addEventListener("submit", (event) => {
  const query = input.value.trim();
  event.preventDefault();
  if (!query) {
    clearError();
    clearResults();
    showError("Enter a place, postcode, grid reference or feature name");
    input.focus();
    return;
  }
  search(query);
});
