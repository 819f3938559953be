"""The interactive report page: one HTML file that works offline.

The page embeds plotly's JS bundle (shipped in plotly's wheel, nothing is fetched), the plot
data as JSON (`fanlab.report.data`), and the tables as HTML that sorts by a click on its header.
`write_report` makes a results folder's report.html; `write_compare` puts several results
folders side by side (datasets and methods aligned by name, coverage differences with CIs).
The drawing code is the package file assets/report.js.
"""

from __future__ import annotations

import base64
import html
import json
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fanlab.report import data as rd
from fanlab.schema import SUMMARY_STEPS, level_tag, step_col
from fanlab.engine.results import write_text

#: Static PNGs are embedded while their total stays below this; beyond it the page lists them.
PNG_BUDGET = 3_000_000
#: (summary.csv column, header, kind): "cov" prints NaN as n/a (no interval, or not computed).
SUMMARY_COLS = [("coverage", "coverage [95% CI]", "cov"), ("joint_coverage", "joint", "cov"),
                *((step_col("coverage", h), f"h{h}", "cov") for h in SUMMARY_STEPS),
                ("width", "mean width", "num"), ("width_median", "median width", "num"),
                ("crps", "CRPS", "num"), ("mase", "MASE", "num"), ("msis", "MSIS", "num"),
                ("scaled_crps", "scaled CRPS", "num"),
                ("crps_skill_h1", "skill h1", "num"), ("crps_skill", "skill", "num"),
                ("width_ratio", "width/oracle", "num"), ("mae_ratio", "MAE/oracle", "num"),
                ("cond_coverage_low", "cov calm", "cov"), ("cond_coverage_mid", "cov mid", "cov"),
                ("cond_coverage_high", "cov volatile", "cov")]


def fmt(v, kind: str = "num", digits: int = 3) -> str:
    """A table value as text: NaN is 'n/a' for coverage columns and '-' elsewhere, infinities
    'inf' / '-inf' (never a huge or zero number)."""
    if v is None or (isinstance(v, str) and v == ""):
        return "n/a" if kind == "cov" else "-"
    if isinstance(v, (float, int, np.floating, np.integer)) and not isinstance(v, bool):
        v = float(v)
        if np.isnan(v):
            return "n/a" if kind == "cov" else "-"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.4g}"
    return str(v)


def _sort_key(v) -> str:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return ""
    return "" if np.isnan(v) else ("Infinity" if v == np.inf else "-Infinity" if v == -np.inf else repr(v))


def table(headers: list[str], rows: list[list], attrs: list[dict] | None = None, text_cols: int = 1,
          cls: str = "sortable", code_cols: tuple[int, ...] = (), clip_cols: tuple[int, ...] = ()) -> str:
    """HTML table in a box that scrolls sideways if it must; a cell is text or (text, sort
    key); `attrs` are data-* per row; `clip_cols` are cut to one line, the whole text in a
    tooltip (a long note must not make a tall row)."""
    head = "".join(f'<th class="{"text" if i < text_cols else ""}">{html.escape(h)}</th>'
                   for i, h in enumerate(headers))
    body = []
    for r, row in enumerate(rows):
        a = "".join(f' data-{k}="{html.escape(str(v))}"' for k, v in ((attrs or [{}] * len(rows))[r]).items())
        cells = []
        for i, c in enumerate(row):
            text, key = c if isinstance(c, tuple) else (c, None)
            klass = ("clip" if i in clip_cols else "code" if i in code_cols
                     else "text" if i < text_cols or key is None else "ci" if " [" in str(text) else "")
            sort = "" if key is None else f' data-sort="{html.escape(key)}"'
            tip = f' title="{html.escape(str(text))}"' if i in clip_cols and text else ""
            cells.append(f'<td class="{klass}"{sort}{tip}>{html.escape(str(text))}</td>')
        body.append(f"<tr{a}>{''.join(cells)}</tr>")
    return (f'<div class="table-box"><table class="{cls}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _coverage_cell(r) -> tuple[str, str]:
    c = r.get("coverage", np.nan)
    if c != c:
        return "n/a", ""
    # a no-break space inside the CI: a narrow column wraps between the value and its CI only
    return f"{fmt(c)} [{fmt(r.get('coverage_lo', np.nan))},\u00a0{fmt(r.get('coverage_hi', np.nan))}]", _sort_key(c)


def summary_columns(*summaries: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The SUMMARY_COLS that any of `summaries` holds (older runs may lack some)."""
    return [c for c in SUMMARY_COLS if any(c[0] in s for s in summaries)]


def summary_table(summary: pd.DataFrame, run: str | None = None, base: pd.DataFrame | None = None,
                  cols: list[tuple[str, str, str]] | None = None) -> tuple[list, list, list]:
    """Headers, rows and row attributes of summary.csv (every dataset and level; the page
    shows the selected ones). With `base`, a column of the coverage difference to it; `cols`
    (default: those `summary` holds) keeps several runs' tables aligned."""
    cols = summary_columns(summary) if cols is None else cols
    headers = (["run"] if run is not None else []) + ["method"] + [c[1] for c in cols]
    headers += (["coverage - first run [CI]"] if base is not None else []) + ["note"]
    rows, attrs = [], []
    index = {} if base is None else {(str(r["dataset"]), level_tag(r["level"]), str(r["method"])): r
                                     for _, r in base.iterrows()}
    for _, r in summary.iterrows():
        tag = level_tag(float(r["level"]))
        row = ([run] if run is not None else []) + [str(r["method"])]
        row += [_coverage_cell(r) if name == "coverage" else (fmt(r.get(name, np.nan), kind), _sort_key(r.get(name)))
                for name, _, kind in cols]
        if base is not None:
            b = index.get((str(r["dataset"]), tag, str(r["method"])))
            row.append(_diff_cell(r, b))
        note = r.get("note", "")
        row.append("" if note != note else str(note))
        rows.append(row)
        attrs.append({"dataset": str(r["dataset"]), "level": tag, "method": str(r["method"])})
    return headers, rows, attrs


def _half(r) -> float:
    return (float(r.get("coverage_hi", np.nan)) - float(r.get("coverage_lo", np.nan))) / 2


def _diff_cell(r, b) -> tuple[str, str]:
    """Coverage of `r` minus that of `b` with a normal-approximation CI (independent runs)."""
    if b is None or r["coverage"] != r["coverage"] or b["coverage"] != b["coverage"]:
        return "n/a", ""
    d, hw = float(r["coverage"] - b["coverage"]), float(np.hypot(_half(r), _half(b)))
    ci = f" [{d - hw:+.3f},\u00a0{d + hw:+.3f}]" if np.isfinite(hw) else ""
    return f"{d:+.3f}{ci}", _sort_key(d)


def _asset(name: str) -> str:
    return resources.files("fanlab.report").joinpath("assets", name).read_text(encoding="utf-8")


def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs  # the bundle inside plotly's wheel

    return get_plotlyjs()


def _json(obj) -> str:
    # '<' escaped so no string in the data can close the script element
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _controls() -> str:
    return ('<div id="controls" class="controls"><label>dataset <select id="sel-dataset"></select></label>'
            '<label>level <select id="sel-level"></select></label>'
            '<fieldset id="sel-methods"><legend>methods</legend><span id="sel-methods-list"></span>'
            '<button id="methods-all" type="button">all</button><button id="methods-none" type="button">none</button>'
            "</fieldset></div>")


def _section(sid: str, title: str, text: str, inner: str) -> str:
    return (f'<section id="sec-{sid}"><h2>{html.escape(title)}</h2>'
            + (f'<p class="note">{html.escape(text)}</p>' if text else "") + inner + "</section>")


def _plot(pid: str) -> str:
    return f'<div id="plot-{pid}" class="plot"></div>'


def page(title: str, header: str, sections: list[str], data: dict) -> str:
    """The whole document: styles, plotly, the sections, the data and the drawing code."""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<style>{_asset('report.css')}</style><script>{_plotly_js()}</script></head><body>"
            f"{header}{_controls()}{''.join(sections)}"
            f"<script type='application/json' id='fanlab-data'>{_json(data)}</script>"
            f"<script>{_asset('report.js')}</script></body></html>\n")


def _static_figures(folder: Path) -> str:
    figs = sorted((folder / "figures").glob("*.png")) if (folder / "figures").is_dir() else []
    if not figs:
        return "<p class='note'>No static figures in figures/ (run without --no-figures, or fanlab report).</p>"
    total = sum(f.stat().st_size for f in figs)
    if total > PNG_BUDGET:
        names = ", ".join(f.name for f in figs)
        return (f"<p class='note'>{len(figs)} PNGs ({total / 1e6:.1f} MB) are in figures/ beside this page and "
                f"not embedded, to keep the page small: {html.escape(names)}.</p>")
    out = []
    for f in figs:
        data = base64.b64encode(f.read_bytes()).decode()
        out.append(f'<figure><img alt="{html.escape(f.stem)}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{html.escape(f.stem)}</figcaption></figure>")
    return "<details><summary>the static PNGs of figures/ (" + str(len(figs)) + ")</summary>" + "".join(out) + "</details>"


TEXT = {
    "coverage": "A panel per method: its pooled coverage at the selected level against the horizon step, "
                "the 95% CI shaded, the nominal level dashed; the oracle (black) and climatology (grey, "
                "dotted) are drawn in every panel for reference. 'n/a': no interval. The CI is drawn only "
                f"from {rd.MIN_CI_UNITS} or more replications (series x seeds) or one series' bootstrap, and "
                f"only where it is at most {rd.MAX_CI_WIDTH:g} wide: with 2 or 3 the t interval spans most of "
                "[0, 1] (too few replications for a CI; the table still prints it). The panels share a y scale "
                "zoomed to the arms near the level; an arm far below the others gets its own (said below).",
    "width": "Mean interval width at the selected level; infinite widths are not drawn. Where the dataset "
             "has an oracle, the box shows each width as a ratio to the oracle's at the same step "
             "(1: as wide as the truth's band).",
    "reliability": "Empirical coverage over all steps against the nominal level (fine grid and config "
                   "levels); the diagonal is perfect calibration.",
    "pit": "PIT histograms (10 bins, density) per method at the chosen step, or all steps pooled; a flat "
           "histogram at 1 is calibrated, a U shape too narrow, a hump too wide.",
}


def sawtooth_note(stride: int, horizon: int) -> str:
    """Why coverage against h zigzags with period `stride` (empty where it cannot)."""
    if not 1 < stride < horizon:
        return ""
    return (f"With stride {stride}, coverage against h can zigzag with period {stride}: steps h and h + {stride} "
            f"are scored on nearly the same observations (origin o's target at step h + {stride} is origin "
            f"o + {stride}'s target at step h, so the two steps share all their targets but one per series and "
            "seed), while neighbouring steps h and h + 1 share none. The curve is "
            f"{stride} interleaved curves with their own sampling noise: the zigzag says which observations a "
            "step sees, not how the method behaves.")


def _run_sections(data: dict, summary_html: str) -> list[str]:
    """The tables of one results folder: methods, warnings, failed cells, facts, config."""

    cfg, man = data["config"], data["manifest"]
    out = []
    mt = rd.method_table(cfg, set(data["summary"]["method"].astype(str)))
    out.append(_section("methods", "Methods", "Description from the registry (fanlab list); parameters as "
                        "given in config.yaml and resolved with the registry defaults.",
                        table(["method", "registry name", "what", "params (config)", "params (resolved)", "in results"],
                              [list(r.values()) for r in mt], text_cols=6, code_cols=(3, 4))))
    warns = rd.cell_warnings(man)
    failed = rd.failed_cells(man)
    inner = (table(list(warns.columns), [[a, b, (str(c), str(c))] for a, b, c in warns.itertuples(index=False)], text_cols=2)
             if len(warns) else "<p>No cell warnings.</p>")
    inner += ("<h3>Failed cells</h3>" + table(["cell", "error"], [list(f) for f in failed], text_cols=2)
              if failed else "<p>No failed cells.</p>")
    out.append(_section("warnings", "Cell warnings and failed cells", "", inner))
    facts = rd.facts(data)
    cfg_text = yaml.safe_dump(cfg, sort_keys=False)
    out.append(_section("facts", "Run facts and config", "",
                        table(["fact", "value"], [[k, v] for k, v in facts.items()], text_cols=2, cls="facts")
                        + f"<details><summary>config.yaml</summary><pre>{html.escape(cfg_text)}</pre></details>"))
    return [summary_html] + out


def _fan_note(fans: dict) -> str:
    """The fan section's caption: which series and origins are shown."""
    cut = [f"{ds} {len(f['series'])} of {f['n_series']}" for ds, f in fans.items() if len(f["series"]) < f["n_series"]]
    thinned = [f"{ds} {len(e['origins'])} of {e['n_origins']}" for ds, f in fans.items()
               for e in list(f["by_series"].values())[:1] if len(e["origins"]) < e["n_origins"]]
    return ("Fan charts of every series of the dataset (pick one; its first seed), time stamps on the axis where "
            "the series is dated; the oracle's widest band dashed; bands beyond the axis clipped. "
            + ("Series shown (the first by name; the rest are in forecasts.parquet): " + ", ".join(cut) + ". " if cut else "")
            + ("Origins thinned evenly to keep the page small: " + ", ".join(thinned) + "." if thinned
               else "All origins shown."))


def write_report(results_dir: str | Path, intro: str) -> Path:
    """Write `results_dir`/report.html from the results files; returns its path."""
    folder = Path(results_dir)
    data = rd.load_folder(folder)
    cfg = data["config"]
    levels = sorted(float(v) for v in cfg["levels"])
    run = rd.run_payload(data)
    refs = rd.reference_methods(cfg)
    fans = rd.fans(data["forecasts"], levels, refs["oracle"])
    all_methods = sorted({m for ms in run["methods"].values() for m in ms})
    groups = {ds: rd.method_groups(cfg, ms) for ds, ms in run["methods"].items()}
    payload = {"kind": "report", "runs": [run], "datasets": run["datasets"], "levels": run["levels"],
               "methods": run["methods"], "groups": groups, "start": run["start"],
               "headline_methods": run["headline_methods"], "zoom": run["zoom"],
               "refs": refs, "colors": rd.colors_of(all_methods),
               "pit": rd.pit_per_h(data["forecasts"]), "pit_bins": rd.PIT_BINS, "fans": fans}
    fan_note = _fan_note(fans)
    title = f"fanlab: {cfg.get('name', folder.name)}"
    header = (f"<h1>{html.escape(title)}</h1><p>{html.escape(str(cfg.get('description', '')))}</p>"
              f"<p class='note'>{html.escape(intro)}</p>")
    h, rows, attrs = summary_table(data["summary"])
    saw = sawtooth_note(int(cfg.get("stride", 1)), int(cfg.get("horizon", 1)))
    sections = [
        _section("coverage", "Coverage vs horizon", TEXT["coverage"],
                 (f"<p class='note' id='coverage-sawtooth'>{html.escape(saw)}</p>" if saw else "")
                 + "<p class='note' id='coverage-scale'></p>" + _plot("coverage")),
        _section("width", "Width vs horizon", TEXT["width"],
                 "<label id='width-ratio-box'><input id='width-ratio' type='checkbox' checked> width / oracle's width"
                 "</label>" + _plot("width")),
        _section("reliability", "Reliability", TEXT["reliability"], _plot("reliability")),
        _section("pit", "PIT histograms", TEXT["pit"],
                 "<label>step <select id='sel-pit-h'></select></label>" + _plot("pit")),
        _section("fan", "Fan charts", fan_note,
                 "<label>series <select id='sel-series'></select></label> "
                 "<label>origin <input id='sel-origin' type='range' min='0' max='0' value='0' step='1'></label> "
                 "<span id='fan-origin-label' class='note'></span>" + _plot("fan")),
        *_run_sections(data, _section("summary", "Summary (selected dataset and level)",
                                      "Click a header to sort. n/a: no interval (or not computed); -: no value.",
                                      table(h, rows, attrs, text_cols=1, clip_cols=(len(h) - 1,)))),
        _section("figures", "Static figures", "", _static_figures(folder)),
    ]
    path = folder / "report.html"
    write_text(page(title, header, sections, payload), path)
    return path
