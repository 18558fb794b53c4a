// The sweeps list: one row per sweep, newest first, refreshed by polling.
"use strict";
(function () {
  const d = window.dashboard;
  document.querySelector("header .home").href = d.withToken("/dashboard");

  d.poll(async function () {
    const sweeps = await d.getJson("/api/dashboard/sweeps");
    const body = document.querySelector("#sweeps tbody");
    const rows = sweeps.map(function (s) {
      const row = document.createElement("tr");
      row.dataset.sweep = s.id;
      const link = d.element("a", s.id);
      link.href = d.withToken("/dashboard/sweeps/" + encodeURIComponent(s.id));
      const idCell = document.createElement("td");
      idCell.appendChild(link);
      row.append(idCell, d.element("td", s.name), d.stateCell(s.state), d.element("td", s.trials + " / " + s.maxTrials),
        d.element("td", s.active), d.element("td", s.bestTrial ?? ""), d.element("td", d.number(s.bestObjective)),
        d.element("td", d.time(s.createdAt)));
      return row;
    });
    body.replaceChildren.apply(body, rows);
    document.getElementById("empty").hidden = sweeps.length > 0;
  });
})();
