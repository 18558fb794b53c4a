// Shared by the dashboard's pages: the API token (kept from ?token= when the page was opened with one), fetching
// the JSON data endpoints, polling, and small formatting helpers. Exposed as window.dashboard for the browser tests.
"use strict";
(function () {
  const token = new URLSearchParams(location.search).get("token");
  const POLL_MS = 1500;

  function withToken(path) {
    if (!token) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(token);
  }

  async function getJson(path) {
    const response = await fetch(withToken(path), { credentials: "same-origin", cache: "no-store" });
    if (!response.ok) throw new Error(path + ": HTTP " + response.status);
    return response.json();
  }

  // Calls load() now and then every POLL_MS after the previous call ends; never two at once.
  function poll(load) {
    const error = document.getElementById("error");
    const updated = document.getElementById("updated");
    async function tick() {
      try {
        await load();
        error.hidden = true;
        window.dashboard.updates++;
        updated.textContent = "updated " + new Date().toLocaleTimeString();
      } catch (e) {
        error.textContent = String(e.message || e);
        error.hidden = false;
      }
      setTimeout(tick, POLL_MS);
    }
    tick();
  }

  function number(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "";
    if (Number.isInteger(value)) return String(value);
    const magnitude = Math.abs(value);
    return magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6) ? value.toExponential(3) : value.toPrecision(5);
  }

  function element(tag, text, className) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (className) e.className = className;
    return e;
  }

  function stateCell(state) {
    return element("td", state, "state-" + String(state).toLowerCase());
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString() : "";
  }

  // Every page links to the Orleans dashboard; with the token, like the pages' other links.
  const orleans = document.getElementById("orleans-link");
  if (orleans) orleans.href = withToken("/dashboard/orleans");

  window.dashboard = { token, withToken, getJson, poll, number, element, stateCell, time, updates: 0, charts: {} };
})();
