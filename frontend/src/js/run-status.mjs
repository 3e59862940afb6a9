// A load's page, kept up to date. Without this script the page says the load is in progress and
// offers a "Refresh" link. With it, the stage and rows read are fetched every 2 seconds from the
// run's status.json and written into the summary (a polite live region announces the stage);
// once the load has ended, or an attempt has failed and waits to be tried again (or that retry
// has started), the page is reloaded so the server shows the outcome, the report or the error.
// A request that fails (offline, the server busy or restarting, signed out) is tried again,
// each time after twice the wait before, up to a minute; after a few failures in a row the page
// says that its live updates have paused, until one gets through.

const summary = document.getElementById("run-summary");
const statusUrl = summary?.dataset.statusUrl;
const INTERVAL_MS = 2000;
const LONGEST_WAIT_MS = 60_000;
const FAILURES_BEFORE_NOTICE = 3;
let failures = 0;

function setValue(key, text) {
  const node = summary.querySelector(`[data-run-value="${key}"]`);
  if (node && node.textContent !== text) node.textContent = text;
}

// The banner above the summary says whether the load (or rollback) has started, or waits to
// try again after a failed attempt.
function setHeading(status) {
  const heading = document.querySelector("[data-run-heading]");
  const noun = heading?.dataset.runNoun || "load";
  const waiting = status.retry_at ? "waiting to try again" : "waiting to start";
  const text = `The ${noun} is ${status.state === "queued" ? waiting : "in progress"}.`;
  if (heading && heading.textContent !== text) heading.textContent = text;
}

// Where the page says its updates have paused: a live region there from the start, so that
// what is written into it later is announced.
const notice = document.createElement("div");
notice.id = "run-updates-paused";
notice.setAttribute("role", "status");

function sayPaused() {
  const noun = document.querySelector("[data-run-heading]")?.dataset.runNoun || "load";
  const text = document.createElement("p");
  text.className = "govuk-inset-text";
  const reload = document.createElement("a");
  reload.className = "govuk-link";
  reload.href = window.location.pathname;
  reload.textContent = "Reload the page";
  text.append(`Live updates have paused: this page could not get the ${noun}'s progress, `
    + "so what it shows may be out of date. ", reload, " to see how far it has got.");
  notice.replaceChildren(text);
}

function failed() {
  failures += 1;
  if (failures === FAILURES_BEFORE_NOTICE) sayPaused();
  window.setTimeout(poll, Math.min(INTERVAL_MS * 2 ** failures, LONGEST_WAIT_MS));
}

async function poll() {
  let status;
  try {
    const response = await fetch(statusUrl, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`status.json answered ${response.status}`);
    // Signed out, the sign-in page answers instead: not JSON, a failure too.
    status = await response.json();
  } catch {
    failed();
    return;
  }
  failures = 0;
  notice.replaceChildren();
  if (!status.active || (status.retry_at || "") !== (summary.dataset.retryAt || "")) {
    window.location.reload();
    return;
  }
  setHeading(status);
  setValue("state", status.state_label);
  setValue("stage", status.stage_label);
  setValue("rows", status.rows_read.toLocaleString("en-GB"));
  window.setTimeout(poll, INTERVAL_MS);
}

if (statusUrl) {
  summary.before(notice);
  window.setTimeout(poll, INTERVAL_MS);
}
