// Builds front-end assets into build/, which Django collects as static files.
// GOV.UK Frontend is compiled from Sass so its asset URLs point at our static path and it uses
// Arial rather than the GOV.UK-only Transport typeface.
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as sass from "sass";

const out = "build";
rmSync(out, { recursive: true, force: true });
mkdirSync(`${out}/css`, { recursive: true });

const css = sass.compile("src/scss/app.scss", {
  loadPaths: ["node_modules"],
  style: "compressed",
  quietDeps: true,
  silenceDeprecations: ["import", "global-builtin", "color-functions", "slash-div"],
});
// The crest belongs to GOV.UK services only: drop the footer's crest image instead of shipping it.
const crest = /url\("\/static\/govuk\/assets\/images\/govuk-crest\.svg"\)/g;
writeFileSync(`${out}/css/app.css`, css.css.replace(crest, "none"));

const copy = (from, to) => cpSync(from, `${out}/${to}`, { recursive: true });
copy("node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js", "vendor/govuk-frontend.min.js");
copy("node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js.map", "vendor/govuk-frontend.min.js.map");
copy("node_modules/maplibre-gl/dist/maplibre-gl-csp.js", "vendor/maplibre-gl/maplibre-gl-csp.js");
copy("node_modules/maplibre-gl/dist/maplibre-gl-csp-worker.js", "vendor/maplibre-gl/maplibre-gl-csp-worker.js");
// Source maps ship beside the scripts that name them (the manifest storage follows the names).
copy("node_modules/maplibre-gl/dist/maplibre-gl-csp.js.map", "vendor/maplibre-gl/maplibre-gl-csp.js.map");
copy("node_modules/maplibre-gl/dist/maplibre-gl-csp-worker.js.map", "vendor/maplibre-gl/maplibre-gl-csp-worker.js.map");
copy("node_modules/maplibre-gl/dist/maplibre-gl.css", "vendor/maplibre-gl/maplibre-gl.css");
copy("node_modules/maplibre-gl/LICENSE.txt", "vendor/maplibre-gl/LICENSE.txt");
copy("src/js", "js");
copy("src/images", "images");
console.log("front-end assets built into build/");
