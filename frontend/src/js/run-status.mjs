// A load's page, kept up to date. Without this script the page says the load is in progress and
// offers a "Refresh" link. With it, the stage and rows read are fetched every 2 seconds from the
// run's status.json and written into the summary (a polite live region announces the stage);
// once the load has ended, the page is reloaded so the server shows the outcome and the report.

const summary = document.getElementById("run-summary");
const statusUrl = summary?.dataset.statusUrl;
const INTERVAL_MS = 2000;

function setValue(key, text) {
  const node = summary.querySelector(`[data-run-value="${key}"]`);
  if (node && node.textContent !== text) node.textContent = text;
}

// The banner above the summary says whether the load (or rollback) has started.
function setHeading(state) {
  const heading = document.querySelector("[data-run-heading]");
  const noun = heading?.dataset.runNoun || "load";
  const text = `The ${noun} is ${state === "queued" ? "waiting to start" : "in progress"}.`;
  if (heading && heading.textContent !== text) heading.textContent = text;
}

async function poll() {
  let status;
  try {
    const response = await fetch(statusUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) return; // signed out or gone: the Refresh link still works
    status = await response.json();
  } catch {
    return; // offline for a moment: try again at the next tick
  }
  if (!status.active) {
    window.location.reload();
    return;
  }
  setHeading(status.state);
  setValue("state", status.state_label);
  setValue("stage", status.stage || "Not started");
  setValue("rows", status.rows_read.toLocaleString("en-GB"));
  window.setTimeout(poll, INTERVAL_MS);
}

if (statusUrl) window.setTimeout(poll, INTERVAL_MS);
