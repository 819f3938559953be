"""`fanlab compare A B ... --out FILE.html`: several results folders on one interactive page.

Datasets, levels and methods are aligned by name (the union is offered; a run without a
method simply has no line for it). Every run after the first is also read as a difference:
its coverage minus the first run's, per step h, with an approximate 95% CI (the two CIs'
half-widths added in quadrature: the runs are independent), in the plots and the table.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import to_hex

from fanlab.report import data as rd
from fanlab.report import page as rp
from fanlab.engine.results import write_text


def labels(paths: list[Path]) -> list[str]:
    """A distinct label per folder: its name, with ' (2)', ' (3)' ... where names repeat."""
    out, seen = [], {}
    for p in paths:
        name = Path(p).resolve().name or str(p)
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out


def _diff(c: dict, b: dict) -> dict | None:
    """Coverage curve `c` minus `b` on their common steps, with a CI where both have one."""
    common = sorted(set(c["h"]) & set(b["h"]))
    if not common:
        return None
    ic, ib = {h: i for i, h in enumerate(c["h"])}, {h: i for i, h in enumerate(b["h"])}

    def at(curve, idx, key):
        vals = curve.get(key)
        return np.array([np.nan if vals is None or vals[idx[h]] is None else vals[idx[h]] for h in common], float)

    d = at(c, ic, "y") - at(b, ib, "y")
    out = {"h": common, "y": rd.num(d)}
    if c.get("lo") and b.get("lo"):
        hw = np.hypot((at(c, ic, "hi") - at(c, ic, "lo")) / 2, (at(b, ib, "hi") - at(b, ib, "lo")) / 2)
        out["lo"], out["hi"] = rd.num(d - hw), rd.num(d + hw)
    return out


def diffs(run: dict, base: dict) -> dict:
    """{dataset: {level tag: {method: diff curve}}} of `run` against `base`."""
    out: dict = {}
    for ds, by_level in run["coverage"].items():
        for tag, curves in by_level.items():
            b = base["coverage"].get(ds, {}).get(tag, {})
            for m, c in curves.items():
                if m in b:
                    d = _diff(c, b[m])
                    if d is not None:
                        out.setdefault(ds, {}).setdefault(tag, {})[m] = d
    return out


def shared_start(runs: list[dict]) -> str | None:
    """The dataset the compare page opens on: the first run's own start if every run has it,
    else its first dataset (in its order) that every run has, else the one most runs have."""
    everyone = set.intersection(*(set(r["datasets"]) for r in runs)) if runs else set()
    first = runs[0] if runs else {"datasets": [], "start": None}
    if first.get("start") in everyone:
        return first["start"]
    shared = [ds for ds in first["datasets"] if ds in everyone]
    if shared:
        return shared[0]
    counts: dict[str, int] = {}
    for r in runs:
        for ds in r["datasets"]:
            counts[ds] = counts.get(ds, 0) + 1
    return max(counts, key=lambda ds: counts[ds], default=None)


def write_compare(folders: list[str | Path], out_file: str | Path) -> Path:
    """Write the compare page of `folders` (the first is the baseline) to `out_file`.
    Raises `fanlab.report.data.NotResults` naming the first folder that holds no results."""
    folders = [Path(f) for f in folders]
    for f in folders:
        rd.check_folder(f)
    data = [rd.load_folder(f) for f in folders]
    names = labels(folders)
    runs = []
    for d, name in zip(data, names):
        run = rd.run_payload(d)
        run["label"] = name
        runs.append(run)
    for run in runs[1:]:
        run["diff"] = diffs(run, runs[0])
    datasets = list(dict.fromkeys(ds for r in runs for ds in r["datasets"]))  # the first run's order first
    levels = sorted({lv for r in runs for lv in r["levels"]}, key=float)
    methods = {ds: list(dict.fromkeys(m for r in runs for m in r["methods"].get(ds, []))) for ds in datasets}
    merged = {"methods": [m for d in data for m in d["config"].get("methods") or []]}
    palette = [to_hex(c) for c in colormaps["tab10"].colors]
    payload = {"kind": "compare", "runs": runs, "datasets": datasets, "levels": levels, "methods": methods,
               "start": shared_start(runs), "groups": {ds: rd.method_groups(merged, ms) for ds, ms in methods.items()},
               "zoom": {ds: {lv: rd.coverage_zoom([r["coverage"].get(ds, {}).get(lv, {}) for r in runs], float(lv))
                             for lv in levels} for ds in datasets},
               "run_colors": palette, "refs": {}, "colors": {}}
    frames = []
    base = data[0]["summary"]
    cols = rp.summary_columns(*(d["summary"] for d in data))
    for d, name in zip(data, names):
        frames.append(rp.summary_table(d["summary"], run=name, base=None if d is data[0] else base, cols=cols))
    # one table: the first run has an empty difference column
    headers = frames[-1][0] if len(frames) > 1 else frames[0][0]
    rows, attrs = [], []
    for i, (h, r, a) in enumerate(frames):
        if len(frames) > 1 and i == 0:
            r = [row[:-1] + [("(baseline)", "")] + row[-1:] for row in r]
        rows += r
        attrs += a
    facts = [rd.facts(d) for d in data]
    keys = list(dict.fromkeys(k for f in facts for k in f))
    facts_table = rp.table(["fact"] + names, [[k] + [f.get(k, "-") for f in facts] for k in keys],
                           text_cols=len(names) + 1, cls="facts")
    problems = []
    for d, name in zip(data, names):
        failed = rd.failed_cells(d["manifest"])
        n_warn = sum(len(c.get("warnings") or []) for c in (d["manifest"].get("cells") or {}).values()
                     if isinstance(c, dict))
        problems.append([name, str(len(failed)), str(n_warn), "; ".join(k for k, _ in failed[:20])])
    title = "fanlab compare: " + " vs ".join(names)
    header = (f"<h1>{html.escape(title)}</h1><p class='note'>Coverage, width and reliability of "
              f"{len(names)} results folders, aligned by dataset and method name; the first, "
              f"{html.escape(names[0])}, is the baseline of the differences. Folders: "
              + html.escape(", ".join(str(f) for f in folders)) + "</p>")
    sections = [
        rp._section("coverage", "Coverage vs horizon", "A panel per method, a line per run, its 95% CI shaded "
                    f"(only from {rd.MIN_CI_UNITS} or more replications, or one series' bootstrap); the nominal "
                    "level dashed. The page opens on a dataset every run has.",
                    "<p class='note' id='coverage-scale'></p>" + rp._plot("coverage")),
        rp._section("difference", f"Coverage difference to {names[0]}",
                    "Each later run's coverage minus the baseline's at each step; CI: the two 95% CIs' "
                    "half-widths added in quadrature (independent runs, normal approximation). A band "
                    "that excludes 0 is a difference beyond run-to-run noise.", rp._plot("difference")),
        rp._section("width", "Width vs horizon", "Mean interval width, a line per run.", rp._plot("width")),
        rp._section("reliability", "Reliability", rp.TEXT["reliability"], rp._plot("reliability")),
        rp._section("summary", "Summary (selected dataset and level)",
                    "Click a header to sort. n/a: no interval (or not computed); -: no value.",
                    rp.table(headers, rows, attrs, text_cols=2, clip_cols=(len(headers) - 1,))),
        rp._section("warnings", "Failed cells and warnings per run", "",
                    rp.table(["run", "failed cells", "cell warnings", "failed (first 20)"], problems, text_cols=4)),
        rp._section("facts", "Run facts", "", facts_table),
    ]
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    write_text(rp.page(title, header, sections, payload), out_file)
    return out_file
