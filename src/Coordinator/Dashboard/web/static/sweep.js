// One sweep: the sortable trial table, objective and best-so-far, parallel coordinates, learning curves, samples
// and PBT lineage, refreshed by polling the data endpoint. Charts are Apache ECharts (installed by the build).
"use strict";
(function () {
  const d = window.dashboard;
  const sweepId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop());
  const dataPath = "/api/dashboard/sweeps/" + encodeURIComponent(sweepId);
  // Metrics that describe training steps rather than evaluations: they stay off the evaluation chart.
  const TRAINING_KEYS = new Set(["d_loss", "g_loss", "gradient_penalty", "fooled_rate", "g_lr", "d_lr", "d_grad_norm", "g_grad_norm", "samples_per_sec"]);
  const sort = { key: "number", dir: "asc" };
  let sweep = null;
  let selectedTrial = null;

  document.getElementById("home").href = d.withToken("/dashboard");
  document.getElementById("title").textContent = "sweep " + sweepId;
  document.title = "Orchestrator · " + sweepId;

  function chart(id) {
    if (!d.charts[id]) {
      d.charts[id] = echarts.init(document.getElementById(id), null, { renderer: "canvas" });
      window.addEventListener("resize", function () { d.charts[id].resize(); });
    }
    return d.charts[id];
  }

  function parameterNames(trials) {
    const names = new Set();
    trials.forEach(function (t) { Object.keys(t.parameters || {}).forEach(function (n) { names.add(n); }); });
    return Array.from(names).sort();
  }

  function traceLink(traceId) {
    if (!sweep.traceUrl || !traceId) return null;
    const a = d.element("a", "trace");
    a.title = traceId;
    a.href = sweep.traceUrl.replace("{traceId}", encodeURIComponent(traceId));
    a.target = "_blank";
    a.rel = "noopener";
    a.className = "trace";
    return a;
  }

  function sortValue(trial, key) {
    if (key.startsWith("p:")) {
      const raw = (trial.parameters || {})[key.slice(2)];
      const n = Number(raw);
      return raw !== undefined && raw !== "" && !Number.isNaN(n) ? n : raw;
    }
    return trial[key];
  }

  function compare(a, b) {
    const x = sortValue(a, sort.key), y = sortValue(b, sort.key);
    // Missing values (a running trial's objective) sort last in both directions.
    if (x === null || x === undefined) return y === null || y === undefined ? a.number - b.number : 1;
    if (y === null || y === undefined) return -1;
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return (sort.dir === "asc" ? order : -order) || a.number - b.number;
  }

  function renderSummary() {
    const s = sweep.summary;
    const parts = [["Name", s.name], ["State", s.state], ["Trials", s.trials + " / " + s.maxTrials], ["Active", s.active],
      ["Goal", sweep.goal], ["Best trial", s.bestTrial ?? "—"], ["Best objective", d.number(s.bestObjective) || "—"], ["Created", d.time(s.createdAt)]];
    if (s.reason) parts.push(["Reason", s.reason]);
    document.getElementById("summary").replaceChildren.apply(document.getElementById("summary"), parts.map(function (p) {
      const div = d.element("div");
      div.append(d.element("span", p[0] + ": ", "muted"), d.element("strong", p[1]));
      return div;
    }));
  }

  function renderTable() {
    const table = document.getElementById("trials");
    const names = parameterNames(sweep.trials);
    const columns = [["number", "Trial"], ["state", "State"], ["attempts", "Attempts"]]
      .concat(names.map(function (n) { return ["p:" + n, n]; }))
      .concat([["objective", "Objective"], ["step", "Step"], ["traceId", "Trace"]]);
    const head = document.createElement("tr");
    columns.forEach(function (c) {
      const th = d.element("th", c[1]);
      th.dataset.key = c[0];
      if (c[0] === sort.key) th.dataset.dir = sort.dir;
      th.addEventListener("click", function () {
        sort.dir = sort.key === c[0] && sort.dir === "asc" ? "desc" : "asc";
        sort.key = c[0];
        renderTable();
      });
      head.appendChild(th);
    });
    table.tHead.replaceChildren(head);
    const rows = sweep.trials.slice().sort(compare).map(function (t) {
      const row = document.createElement("tr");
      row.dataset.trial = t.number;
      if (t.number === sweep.summary.bestTrial) row.className = "best";
      row.append(d.element("td", t.number), d.stateCell(t.state), d.element("td", t.attempts));
      names.forEach(function (n) { row.appendChild(d.element("td", (t.parameters || {})[n] ?? "")); });
      row.append(d.element("td", d.number(t.objective)), d.element("td", t.totalSteps ? t.step + " / " + t.totalSteps : t.step));
      const trace = d.element("td");
      const link = traceLink(t.traceId);
      if (link) trace.appendChild(link); else trace.textContent = t.traceId ? t.traceId.slice(0, 8) + "…" : "";
      row.appendChild(trace);
      row.addEventListener("click", function () { selectTrial(t.number); });
      return row;
    });
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], rows);
  }

  function renderObjective() {
    const minimize = sweep.goal !== "maximize";
    const finished = sweep.trials.filter(function (t) { return t.objective !== null && t.objective !== undefined; })
      .sort(function (a, b) { return a.number - b.number; });
    let best = null;
    const bestSoFar = finished.map(function (t) {
      best = best === null ? t.objective : (minimize ? Math.min(best, t.objective) : Math.max(best, t.objective));
      return [t.number, best];
    });
    chart("chart-objective").setOption({
      animation: false,
      tooltip: { trigger: "axis" },
      legend: { data: ["objective", "best so far"] },
      xAxis: { type: "value", name: "trial", minInterval: 1 },
      yAxis: { type: "value", name: "objective", scale: true },
      series: [
        { name: "objective", type: "scatter", symbolSize: 8, data: finished.map(function (t) { return [t.number, t.objective]; }) },
        { name: "best so far", type: "line", step: "end", showSymbol: false, data: bestSoFar },
      ],
    });
  }

  function renderParallel() {
    const names = parameterNames(sweep.trials);
    const numeric = names.map(function (n) {
      return sweep.trials.every(function (t) { const v = (t.parameters || {})[n]; return v === undefined || !Number.isNaN(Number(v)); });
    });
    const dims = names.map(function (n, i) {
      if (numeric[i]) return { dim: i, name: n, scale: true };
      const values = Array.from(new Set(sweep.trials.map(function (t) { return (t.parameters || {})[n]; }).filter(function (v) { return v !== undefined; }))).sort();
      return { dim: i, name: n, type: "category", data: values };
    });
    dims.push({ dim: names.length, name: "objective", scale: true });
    const data = sweep.trials.filter(function (t) { return t.objective !== null && t.objective !== undefined; }).map(function (t) {
      return names.map(function (n, i) { const v = (t.parameters || {})[n]; return numeric[i] ? Number(v) : v; }).concat([t.objective]);
    });
    const objectives = data.map(function (row) { return row[row.length - 1]; });
    chart("chart-parallel").setOption({
      animation: false,
      parallelAxis: dims,
      parallel: { left: 40, right: 60, top: 40, bottom: 30 },
      visualMap: objectives.length ? {
        show: true, type: "continuous", dimension: names.length, right: 0, top: "middle", itemHeight: 120,
        min: Math.min.apply(null, objectives), max: Math.max.apply(null, objectives) || 1,
        inRange: { color: sweep.goal === "maximize" ? ["#d94e5d", "#eac736", "#50a3ba"] : ["#50a3ba", "#eac736", "#d94e5d"] },
      } : undefined,
      series: [{ name: "trials", type: "parallel", lineStyle: { width: 2, opacity: 0.6 }, data: data }],
    }, { replaceMerge: ["parallelAxis", "visualMap"] });
  }

  function selectTrial(number) {
    selectedTrial = number;
    document.getElementById("curve-trial").value = String(number);
    renderCurves();
  }

  function renderCurveSelect() {
    const select = document.getElementById("curve-trial");
    const wanted = sweep.trials.map(function (t) { return String(t.number); });
    const have = Array.from(select.options).map(function (o) { return o.value; });
    if (wanted.join() !== have.join()) {
      select.replaceChildren.apply(select, sweep.trials.map(function (t) { const o = d.element("option", "trial " + t.number); o.value = String(t.number); return o; }));
    }
    if (selectedTrial === null && sweep.trials.length) selectedTrial = sweep.summary.bestTrial ?? sweep.trials[0].number;
    if (selectedTrial !== null) select.value = String(selectedTrial);
  }

  function curveSeries(history, keys) {
    return keys.map(function (k) {
      return {
        name: k, type: "line", showSymbol: history.length < 30, connectNulls: true,
        data: history.filter(function (p) { return p.metrics[k] !== undefined; }).map(function (p) { return [p.step, p.metrics[k]]; }),
      };
    });
  }

  function renderCurves() {
    const trial = sweep && sweep.trials.find(function (t) { return t.number === selectedTrial; });
    const history = trial ? trial.history : [];
    const keys = new Set();
    history.forEach(function (p) { Object.keys(p.metrics).forEach(function (k) { keys.add(k); }); });
    const losses = ["d_loss", "g_loss"].filter(function (k) { return keys.has(k); });
    const evaluation = Array.from(keys).filter(function (k) { return !TRAINING_KEYS.has(k); }).sort();
    document.getElementById("losses-empty").hidden = losses.length > 0;
    const base = { animation: false, tooltip: { trigger: "axis" }, xAxis: { type: "value", name: "step", scale: true }, yAxis: { type: "value", scale: true } };
    chart("chart-losses").setOption(Object.assign({}, base, { legend: { data: losses }, series: curveSeries(history, losses) }), { replaceMerge: ["series"] });
    chart("chart-eval").setOption(Object.assign({}, base, { legend: { data: evaluation }, series: curveSeries(history, evaluation) }), { replaceMerge: ["series"] });
  }

  function renderSamples() {
    const container = document.getElementById("samples");
    const withSamples = sweep.trials.filter(function (t) { return t.samples; });
    const figures = withSamples.map(function (t) {
      const src = d.withToken(dataPath + "/trials/" + t.number + "/samples?step=" + t.samplesStep);
      const existing = container.querySelector('figure[data-trial="' + t.number + '"]');
      if (existing && existing.dataset.src === src) return existing;
      const figure = d.element("figure");
      figure.dataset.trial = t.number;
      figure.dataset.src = src;
      const img = d.element("img");
      img.src = src;
      img.alt = "samples of trial " + t.number;
      figure.append(img, d.element("figcaption", "trial " + t.number + " · step " + t.samplesStep));
      return figure;
    });
    container.replaceChildren.apply(container, figures);
    document.getElementById("samples-empty").hidden = withSamples.length > 0;
  }

  function parameters(p) {
    return Object.keys(p || {}).sort().map(function (k) { return k + "=" + p[k]; }).join(", ");
  }

  function renderLineage() {
    const rows = [];
    sweep.trials.forEach(function (t) {
      (t.lineage || []).forEach(function (l) {
        const row = document.createElement("tr");
        row.append(d.element("td", t.number), d.element("td", l.step), d.element("td", l.sourceTrial), d.element("td", l.sourceCheckpointStep),
          d.element("td", parameters(l.oldParameters)), d.element("td", parameters(l.newParameters)), d.element("td", d.time(l.at)));
        rows.push(row);
      });
    });
    const table = document.getElementById("lineage");
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], rows);
    table.hidden = rows.length === 0;
    document.getElementById("lineage-empty").hidden = rows.length > 0;
  }

  document.getElementById("curve-trial").addEventListener("change", function (e) { selectTrial(Number(e.target.value)); });

  d.poll(async function () {
    sweep = await d.getJson(dataPath);
    d.sweep = sweep;
    renderSummary();
    renderTable();
    renderObjective();
    renderParallel();
    renderCurveSelect();
    renderCurves();
    renderSamples();
    renderLineage();
  });
})();
