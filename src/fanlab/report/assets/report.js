// fanlab report page: draws every plot from the JSON embedded in the page (id fanlab-data).
// One page kind per DATA.kind: "report" (one results folder) or "compare" (several).
// window.fanlab.drawn is the promise of the latest redraw (the browser test awaits it).
(function () {
  "use strict";
  const DATA = JSON.parse(document.getElementById("fanlab-data").textContent);
  const COMPARE = DATA.kind === "compare";
  const RUNS = DATA.runs;
  const PLOT_CONFIG = {displaylogo: false, responsive: true};
  const state = {dataset: null, level: null, methods: new Set(), pitH: "all", origin: 0, series: null, widthRatio: true};

  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function rgba(hex, alpha) {
    const v = parseInt(hex.slice(1), 16);
    return `rgba(${(v >> 16) & 255},${(v >> 8) & 255},${v & 255},${alpha})`;
  }
  function methodColor(m) { return (DATA.colors && DATA.colors[m]) || "#888888"; }
  function runColor(i) { return DATA.run_colors[i % DATA.run_colors.length]; }

  // Panels of a small-multiples figure: axis pairs laid out on a grid, titled by annotations.
  function grid(titles, opts) {
    const n = Math.max(titles.length, 1);
    const cols = Math.min(n, opts.cols || 4), rows = Math.ceil(n / cols);
    const gx = 0.05, gy = rows > 1 ? 0.12 / (rows - 1) + 0.05 : 0;
    const w = (1 - gx * (cols - 1)) / cols, h = (1 - gy * (rows - 1)) / rows;
    const layout = {height: 130 + rows * (opts.panelHeight || 250), margin: {t: 40, l: 55, r: 20, b: 100},
                    showlegend: true, legend: {orientation: "h", yref: "container", y: 0.005, yanchor: "bottom"},
                    annotations: [], shapes: [], hovermode: "closest"};
    const axes = titles.map((title, i) => {
      const r = Math.floor(i / cols), c = i % cols, k = i === 0 ? "" : String(i + 1);
      const x0 = c * (w + gx), y1 = 1 - r * (h + gy);
      layout["xaxis" + k] = {domain: [x0, x0 + w], anchor: "y" + k, title: {text: opts.xTitle || ""},
                             type: opts.xType || "linear", range: opts.xRange};
      layout["yaxis" + k] = {domain: [y1 - h, y1], anchor: "x" + k, title: {text: c === 0 ? (opts.yTitle || "") : ""},
                             range: opts.yRange, rangemode: opts.yRange ? undefined : "tozero"};
      layout.annotations.push({text: title, x: x0 + w / 2, y: y1, xref: "paper", yref: "paper",
                               xanchor: "center", yanchor: "bottom", showarrow: false, font: {size: 12}});
      return {x: "x" + k, y: "y" + k, x0: x0, x1: x0 + w, y0: y1 - h, y1: y1};
    });
    return {layout: layout, axes: axes};
  }
  function note(layout, ax, text) {
    layout.annotations.push({text: text, x: ax.x0 + 0.01, y: ax.y0 + 0.02, xref: "paper", yref: "paper",
                             xanchor: "left", yanchor: "bottom", showarrow: false,
                             font: {size: 10, color: "firebrick"}});
  }
  // A filled band between lo and hi (gaps where either is missing are left out).
  function band(x, lo, hi, color, name, ax, group) {
    const xs = [], ls = [], hs = [];
    x.forEach((v, i) => { if (lo[i] !== null && hi[i] !== null) { xs.push(v); ls.push(lo[i]); hs.push(hi[i]); } });
    return {x: xs.concat(xs.slice().reverse()), y: hs.concat(ls.slice().reverse()), fill: "toself",
            fillcolor: color, line: {width: 0}, hoverinfo: "skip", name: name, xaxis: ax.x, yaxis: ax.y,
            legendgroup: group, showlegend: false, type: "scatter", mode: "lines"};
  }
  function line(x, y, color, name, ax, extra) {
    return Object.assign({x: x, y: y, type: "scatter", mode: "lines", name: name, line: {color: color, width: 1.6},
                          xaxis: ax.x, yaxis: ax.y, legendgroup: name, showlegend: false}, extra || {});
  }
  function refStyle(m) {
    const r = DATA.refs || {};
    if (m === r.oracle) return {color: "#000000", dash: "solid"};
    if (m === r.climatology) return {color: "#737373", dash: "dot"};
    return null;
  }
  function selected() {
    return (DATA.methods[state.dataset] || []).filter((m) => state.methods.has(m));
  }
  function curvesOf(run, what) {
    const d = run[what] && run[what][state.dataset];
    return (d && d[state.level]) || {};
  }
  function horizonRange() {
    let hmax = 1;
    RUNS.forEach((run) => Object.values(curvesOf(run, "coverage")).forEach((c) => { hmax = Math.max(hmax, c.h[c.h.length - 1]); }));
    return hmax;
  }
  function legendOnce(traces) {
    const seen = new Set();
    traces.forEach((t) => { if (t.fill || !t.name || seen.has(t.name)) return; seen.add(t.name); t.showlegend = true; });
    return traces;
  }
  function draw(id, traces, layout) {
    const div = $(id);
    if (!div) return Promise.resolve();
    return Plotly.react(div, legendOnce(traces), layout, PLOT_CONFIG);
  }

  // Coverage vs h: a panel per method; report: the method, its CI band and the references;
  // compare: a line and band per run.
  // The y ranges of the coverage panels (fanlab.report.data.coverage_zoom): one shared by the
  // arms near the others, its own for an arm far below them.
  function zoomOf() {
    const z = DATA.zoom && DATA.zoom[state.dataset] && DATA.zoom[state.dataset][state.level];
    return z || {range: [0, 1.02], own: {}, low: {}};
  }
  function drawCoverage() {
    const methods = selected(), level = parseFloat(state.level), H = horizonRange(), zoom = zoomOf();
    const g = grid(methods, {xTitle: "horizon step h", yTitle: "coverage", yRange: zoom.range});
    const traces = [];
    const own = Object.keys(zoom.own).filter((m) => methods.includes(m));
    const scale = $("coverage-scale");
    if (scale) {
      scale.textContent = "y axis from " + zoom.range[0].toFixed(2) + " to 1 in every panel" + (own.length ?
        "; its own scale for " + own.map((m) => m + " (lowest " + zoom.low[m].toFixed(2) + ")").join(", ") +
        ", far below the others (its line runs off the bottom of the other panels)" : "") + ".";
    }
    methods.forEach((m, i) => {
      const ax = g.axes[i], k = i === 0 ? "" : String(i + 1);
      if (zoom.own[m]) {
        g.layout["yaxis" + k].range = zoom.own[m];
        g.layout["yaxis" + k].tickfont = {color: "firebrick"};
        g.layout.annotations[i].text = m + " (own scale)";
      }
      const fewCi = [];
      traces.push(line([1, H], [level, level], "#555555", "nominal", ax, {line: {color: "#555555", dash: "dash", width: 1}}));
      let drawn = 0;
      RUNS.forEach((run, r) => {
        const cs = curvesOf(run, "coverage"), c = cs[m];
        if (!COMPARE) {
          ["oracle", "climatology"].forEach((ref) => {
            const key = (DATA.refs || {})[ref];
            if (key && key !== m && cs[key]) {
              const st = refStyle(key);
              traces.push(line(cs[key].h, cs[key].y, st.color, key, ax, {line: {color: st.color, dash: st.dash, width: 1.2}}));
            }
          });
        }
        if (!c) return;
        const color = COMPARE ? runColor(r) : methodColor(m), name = COMPARE ? run.label : m;
        if (c.lo) traces.push(band(c.h, c.lo, c.hi, rgba(color, 0.18), name + " 95% CI", ax, name));
        else if (c.no_ci) fewCi.push(c.no_ci);
        traces.push(line(c.h, c.y, color, name, ax));
        drawn += 1;
      });
      if (!drawn) note(g.layout, ax, "no interval: coverage n/a");
      else if (fewCi.length) note(g.layout, ax, "no CI band: " + (fewCi[0].indexOf("replications") >= 0 ?
        "too few replications for a CI (" + fewCi[0] + ")" : "the CI is too wide to say anything"));
    });
    return draw("plot-coverage", traces, g.layout);
  }

  // Compare only: coverage of each run minus the first run's, with an approximate 95% CI.
  function drawDifference() {
    if (!COMPARE) return Promise.resolve();
    const methods = selected(), H = horizonRange();
    const g = grid(methods, {xTitle: "horizon step h", yTitle: "coverage - " + RUNS[0].label});
    const traces = [];
    const base = curvesOf(RUNS[0], "coverage");
    methods.forEach((m, i) => {
      const ax = g.axes[i];
      traces.push(line([1, H], [0, 0], "#555555", "no difference", ax, {line: {color: "#555555", dash: "dash", width: 1}}));
      let drawn = 0;
      RUNS.slice(1).forEach((run, j) => {
        const d = (run.diff && run.diff[state.dataset] && run.diff[state.dataset][state.level] || {})[m];
        if (!d || !base[m]) return;
        const color = runColor(j + 1);
        if (d.lo) traces.push(band(d.h, d.lo, d.hi, rgba(color, 0.18), run.label + " CI", ax, run.label));
        traces.push(line(d.h, d.y, color, run.label, ax));
        drawn += 1;
      });
      if (!drawn) note(g.layout, ax, "no pair of coverages to compare");
    });
    return draw("plot-difference", traces, g.layout);
  }

  function drawWidth() {
    const methods = selected();
    const traces = [];
    let g;
    if (COMPARE) {
      g = grid(methods, {xTitle: "horizon step h", yTitle: "mean width"});
      methods.forEach((m, i) => RUNS.forEach((run, r) => {
        const c = curvesOf(run, "width")[m];
        if (c) traces.push(line(c.h, c.y, runColor(r), run.label, g.axes[i]));
        if (c && c.n_inf) note(g.layout, g.axes[i], c.n_inf + " inf values not drawn");
      }));
    } else {
      const widths = curvesOf(RUNS[0], "width"), oracle = (DATA.refs || {}).oracle;
      const base = oracle && widths[oracle], ratio = !!base && state.widthRatio;
      if ($("width-ratio-box")) $("width-ratio-box").hidden = !base;
      g = grid([ratio ? "mean interval width / the oracle's, level " + state.level : "mean interval width, level " + state.level],
               {xTitle: "horizon step h", yTitle: ratio ? "width / oracle width" : "mean width", cols: 1, panelHeight: 380});
      const infs = [], off = [];
      const byH = {};
      if (base) base.h.forEach((h, i) => { byH[h] = base.y[i]; });
      const CAP = 3;  // a ratio above it would squash the others: said, and cut at the axis
      let top = 1.1;
      methods.forEach((m) => {
        const c = widths[m], st = refStyle(m);
        if (!c) return;
        let y = c.y;
        if (ratio) {
          y = c.y.map((v, i) => (v === null || !byH[c.h[i]] ? null : v / byH[c.h[i]]));
          const big = Math.max(...y.filter((v) => v !== null).concat([0]));
          if (big > CAP) off.push(m + " (up to " + big.toFixed(1) + ")");
          top = Math.max(top, Math.min(big, CAP) * 1.05);
        }
        traces.push(line(c.h, y, st ? st.color : methodColor(m), m, g.axes[0], st ? {line: {color: st.color, dash: st.dash, width: 1.4}} : {}));
        if (c.n_inf) infs.push(m + ": " + c.n_inf);
      });
      if (ratio) g.layout.yaxis.range = [0, top];
      const said = [];
      if (infs.length) said.push("inf values not drawn (" + infs.join(", ") + ")");
      if (off.length) said.push("beyond the axis: " + off.join(", "));
      if (said.length) note(g.layout, g.axes[0], said.join("; "));
    }
    return draw("plot-width", traces, g.layout);
  }

  function drawReliability() {
    const methods = selected(), traces = [];
    const panels = COMPARE ? methods : ["reliability: empirical coverage (all h) vs nominal level"];
    const g = grid(panels, {xTitle: "nominal level", yTitle: "empirical coverage", xRange: [0, 1], yRange: [0, 1.02],
                            cols: COMPARE ? 4 : 1, panelHeight: COMPARE ? 250 : 420});
    if (!COMPARE) g.layout.width = 760;  // one square-ish panel: the diagonal at 45 degrees
    g.axes.forEach((ax, i) => {
      traces.push(line([0, 1], [0, 1], "#777777", "ideal", ax, {line: {color: "#777777", dash: "dash", width: 1}}));
      const pairs = COMPARE ? RUNS.map((run, r) => [methods[i], run, runColor(r), run.label])
        : methods.map((m) => [m, RUNS[0], methodColor(m), m]);
      pairs.forEach(([m, run, color, name]) => {
        const c = run.reliability[state.dataset] && run.reliability[state.dataset][m];
        const st = COMPARE ? null : refStyle(m);
        if (c) traces.push(line(c.x, c.y, st ? st.color : color, name, ax,
                                {mode: "lines+markers", marker: {size: 4}, line: {color: st ? st.color : color, dash: st ? st.dash : "solid", width: 1.4}}));
      });
    });
    return draw("plot-reliability", traces, g.layout);
  }

  function drawPit() {
    if (COMPARE || !DATA.pit || !DATA.pit[state.dataset]) return Promise.resolve();
    const p = DATA.pit[state.dataset];
    const methods = selected().filter((m) => p[m]);
    const bins = DATA.pit_bins, mids = [], traces = [];
    for (let b = 0; b < bins; b++) mids.push((b + 0.5) / bins);
    const g = grid(methods.map((m) => m), {xTitle: "PIT", yTitle: "density", xRange: [0, 1], panelHeight: 200});
    methods.forEach((m, i) => {
      const rows = state.pitH === "all" ? p[m] : [p[m][parseInt(state.pitH, 10) - 1] || []];
      const counts = new Array(bins).fill(0);
      rows.forEach((row) => row.forEach((v, b) => { counts[b] += v; }));
      const total = counts.reduce((a, b) => a + b, 0);
      const dens = counts.map((v) => (total ? (v * bins) / total : null));
      traces.push({type: "bar", x: mids, y: dens, width: 1 / bins, name: m, marker: {color: rgba(methodColor(m), 0.75)},
                   xaxis: g.axes[i].x, yaxis: g.axes[i].y, showlegend: false, hovertemplate: "%{y:.2f}<extra>" + m + "</extra>"});
      traces.push(line([0, 1], [1, 1], "#555555", "uniform", g.axes[i], {line: {color: "#555555", dash: "dash", width: 1}}));
      g.layout.annotations[i].text = m + " (n=" + total + ")";
    });
    return draw("plot-pit", traces, g.layout);
  }

  function drawFan() {
    if (COMPARE || !DATA.fans || !DATA.fans[state.dataset]) return Promise.resolve();
    const f = DATA.fans[state.dataset].by_series[state.series];
    if (!f) return Promise.resolve();
    const k = Math.min(state.origin, f.origins.length - 1);
    const origin = f.origins[k], oracle = (DATA.refs || {}).oracle, H = f.horizon;
    // dated series: positions drawn at their time stamps
    const st = f.stamps, X = (t) => (st ? st.x[t - st.t0] : t);
    const xs = (arr) => arr.map((t) => (t === null ? null : X(t)));
    const inFan = selected().filter((m) => f.methods[m]);
    const columns = inFan.filter((m) => m !== oracle).length ? inFan.filter((m) => m !== oracle) : inFan;
    const levels = DATA.levels.slice().sort((a, b) => parseFloat(b) - parseFloat(a));
    const where = st ? X(origin) : String(origin);
    const g = grid(columns.map((m) => m + ", origin " + where), {xTitle: st ? "time" : "time index", yTitle: "y", cols: 3,
                                                                  yRange: f.ylim[k], xRange: [X(origin - H), X(origin + H)],
                                                                  xType: st ? "date" : "linear"});
    const tx = [], ty = [];
    f.truth.t.forEach((t, i) => { if (t >= origin - H && t <= origin + H) { tx.push(t); ty.push(f.truth.y[i]); } });
    const ts = []; for (let h = 1; h <= H; h++) ts.push(origin + h);
    const traces = [];
    columns.forEach((m, i) => {
      const ax = g.axes[i], d = f.methods[m], color = methodColor(m);
      levels.forEach((lv) => {
        const lo = d.lo[lv][k], hi = d.hi[lv][k];
        traces.push(band(xs(ts.slice(0, lo.length)), lo, hi, rgba(color, 0.2), m + " " + lv, ax, m));
      });
      traces.push(line(xs(ts.slice(0, d.mean[k].length)), d.mean[k], color, m + " mean", ax));
      if (oracle && m !== oracle && f.methods[oracle]) {
        const o = f.methods[oracle], lv = levels[0];
        const x = ts.concat([null], ts), y = o.lo[lv][k].concat([null], o.hi[lv][k]);
        traces.push(line(xs(x), y, "#000000", "oracle " + lv + " band", ax, {line: {color: "#000000", dash: "dash", width: 0.8}}));
      }
      traces.push(line(xs(tx), ty, "#000000", "observed y", ax, {line: {color: "#000000", width: 1}}));
      g.layout.shapes.push({type: "line", xref: ax.x, yref: ax.y + " domain", x0: X(origin), x1: X(origin), y0: 0, y1: 1,
                            line: {color: "#888888", dash: "dot", width: 1}});
      if (d.clipped[k]) note(g.layout, ax, "band clipped at axis");
    });
    $("fan-origin-label").textContent = "origin " + where + (st ? " (position " + origin + ")" : "") + " (" + (k + 1) +
      " of " + f.origins.length + " shown; " + f.n_origins + " in the results), series " + f.series + ", seed " + f.seed;
    return draw("plot-fan", traces, g.layout);
  }

  function filterRows() {
    document.querySelectorAll("tr[data-dataset]").forEach((tr) => {
      const ok = tr.dataset.dataset === state.dataset && (!tr.dataset.level || tr.dataset.level === state.level) &&
        (!tr.dataset.method || state.methods.has(tr.dataset.method));
      tr.hidden = !ok;
    });
  }

  function redraw() {
    filterRows();
    const p = Promise.all([drawCoverage(), drawDifference(), drawWidth(), drawReliability(), drawPit(), drawFan()]);
    window.fanlab.drawn = p;
    return p;
  }

  // Click a header to sort its table by that column (numbers by value, empty cells last).
  function sortable(table) {
    table.querySelectorAll("th").forEach((th, col) => {
      th.addEventListener("click", () => {
        const asc = th.dataset.dir !== "asc";
        table.querySelectorAll("th").forEach((o) => { delete o.dataset.dir; });
        th.dataset.dir = asc ? "asc" : "desc";
        const body = table.tBodies[0], rows = Array.from(body.rows);
        const key = (tr) => { const td = tr.cells[col]; return td ? (td.dataset.sort !== undefined ? td.dataset.sort : td.textContent) : ""; };
        rows.sort((a, b) => {
          const ka = key(a), kb = key(b), na = parseFloat(ka), nb = parseFloat(kb);
          const ea = ka === "" || Number.isNaN(na) && a.cells[col].dataset.sort !== undefined;
          const eb = kb === "" || Number.isNaN(nb) && b.cells[col].dataset.sort !== undefined;
          if (ea || eb) return ea === eb ? 0 : ea ? 1 : -1;
          const c = !Number.isNaN(na) && !Number.isNaN(nb) ? na - nb : String(ka).localeCompare(String(kb));
          return asc ? c : -c;
        });
        rows.forEach((r) => body.appendChild(r));
      });
    });
  }

  function fillSelect(sel, values, labels) {
    sel.innerHTML = "";
    values.forEach((v, i) => sel.appendChild(el("option", {value: v}, labels ? labels[i] : v)));
  }

  // A group's box is ticked when all its methods are, half-ticked when some are.
  function syncGroups() {
    document.querySelectorAll("#sel-methods-list input.group").forEach((g) => {
      const ms = JSON.parse(g.dataset.methods), on = ms.filter((m) => state.methods.has(m)).length;
      g.checked = on === ms.length;
      g.indeterminate = on > 0 && on < ms.length;
    });
  }
  function methodBox(m) {
    const lab = el("label", {class: "method"});
    const cb = el("input", {type: "checkbox", value: m});
    cb.checked = state.methods.has(m);
    cb.addEventListener("change", () => { if (cb.checked) state.methods.add(m); else state.methods.delete(m); syncGroups(); redraw(); });
    lab.appendChild(cb);
    lab.appendChild(document.createTextNode(" " + m));
    return lab;
  }
  function setDataset(ds) {
    state.dataset = ds;
    const all = DATA.methods[ds] || [];
    // the first view: the config's headline methods where it names some, else every method
    const heads = (DATA.headline_methods || []).filter((m) => all.includes(m));
    state.methods = new Set(heads.length ? heads : all);
    const box = $("sel-methods-list");
    box.innerHTML = "";
    const groups = (DATA.groups && DATA.groups[ds]) || [{key: "all", label: "", methods: all}];
    groups.forEach((grp) => {
      const span = el("span", {class: "family", "data-group": grp.key});
      if (grp.label) {
        const lab = el("label", {class: "family-label"});
        const cb = el("input", {type: "checkbox", class: "group", "data-group": grp.key, "data-methods": JSON.stringify(grp.methods)});
        cb.addEventListener("change", () => {
          grp.methods.forEach((m) => { if (cb.checked) state.methods.add(m); else state.methods.delete(m); });
          span.querySelectorAll("label.method input").forEach((b) => { b.checked = cb.checked; });
          syncGroups();
          redraw();
        });
        lab.appendChild(cb);
        lab.appendChild(document.createTextNode(" " + grp.label + ":"));
        span.appendChild(lab);
      }
      grp.methods.forEach((m) => span.appendChild(methodBox(m)));
      box.appendChild(span);
    });
    syncGroups();
    const pit = $("sel-pit-h"), p = DATA.pit && DATA.pit[ds];
    if (pit && p) fillSelect(pit, ["all"].concat(p.h.map(String)), ["all h pooled"].concat(p.h.map((h) => "h = " + h)));
    state.pitH = "all";
    const fan = DATA.fans && DATA.fans[ds];
    if ($("sel-series") && fan) fillSelect($("sel-series"), fan.series);
    setSeries(fan ? fan.series[0] : null);
  }
  function setSeries(name) {
    state.series = name;
    const org = $("sel-origin"), fan = DATA.fans && DATA.fans[state.dataset], f = fan && fan.by_series[name];
    state.origin = f ? f.first_full : 0;
    if (org && f) { org.max = String(f.origins.length - 1); org.value = String(state.origin); }
    if ($("sel-series") && name !== null) $("sel-series").value = name;
  }

  function init() {
    window.fanlab = {drawn: null, state: state};
    fillSelect($("sel-dataset"), DATA.datasets);
    fillSelect($("sel-level"), DATA.levels);
    state.level = DATA.levels[DATA.levels.length - 1];
    $("sel-level").value = state.level;
    const start = DATA.start && DATA.datasets.includes(DATA.start) ? DATA.start : DATA.datasets[0];
    $("sel-dataset").value = start;
    setDataset(start);
    $("sel-dataset").addEventListener("change", (e) => { setDataset(e.target.value); redraw(); });
    $("sel-level").addEventListener("change", (e) => { state.level = e.target.value; redraw(); });
    const setAll = (on) => {
      document.querySelectorAll("#sel-methods-list input").forEach((cb) => { cb.checked = on; });
      state.methods = new Set(on ? DATA.methods[state.dataset] : []);
      syncGroups();
      redraw();
    };
    $("methods-all").addEventListener("click", () => setAll(true));
    $("methods-none").addEventListener("click", () => setAll(false));
    if ($("sel-pit-h")) $("sel-pit-h").addEventListener("change", (e) => { state.pitH = e.target.value; window.fanlab.drawn = drawPit(); });
    if ($("sel-series")) $("sel-series").addEventListener("change", (e) => { setSeries(e.target.value); window.fanlab.drawn = drawFan(); });
    if ($("width-ratio")) $("width-ratio").addEventListener("change", (e) => { state.widthRatio = e.target.checked; window.fanlab.drawn = drawWidth(); });
    if ($("sel-origin")) $("sel-origin").addEventListener("input", (e) => { state.origin = parseInt(e.target.value, 10); window.fanlab.drawn = drawFan(); });
    document.querySelectorAll("table.sortable").forEach(sortable);
    redraw();
  }

  init();
})();
