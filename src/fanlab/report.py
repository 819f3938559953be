"""One self-contained HTML report (figures embedded) and a markdown summary of a run.

Both are made from the results files only (summary.csv, config.yaml, manifest.json and the
PNGs in figures/), so `fanlab report DIR` can redo them at any time.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fanlab.results import write_text

STEP_COLS = ["coverage_h1", "coverage_h5", "coverage_h10", "coverage_h50", "coverage_h100"]
#: Skill and sharpness beside coverage: coverage alone is never the verdict.
SKILL_COLS = {"crps_skill_h1": "skill h1", "crps_skill": "skill", "width_ratio": "width/oracle",
              "mae_ratio": "MAE/oracle", "cond_coverage_low": "cov calm", "cond_coverage_high": "cov volatile"}


def _fmt(v, digits: int = 3) -> str:
    if isinstance(v, (float, np.floating)):
        if np.isnan(v):
            return "-"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:.4g}"
    return str(v)


def coverage_table(summary: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per dataset and method at one level: coverage [CI], joint, per-step coverage, width."""
    df = summary[np.isclose(summary["level"], level)].copy()
    out = pd.DataFrame({"dataset": df["dataset"], "method": df["method"]})
    notes = (df["note"].map(lambda v: "" if v != v else str(v)) if "note" in df
             else pd.Series("", index=df.index))
    out["coverage [95% CI]"] = [("n/a" if np.isnan(c) else f"{_fmt(c)} [{_fmt(lo)}, {_fmt(hi)}]")
                                for c, lo, hi in zip(df["coverage"], df["coverage_lo"], df["coverage_hi"])]
    out["joint"] = [_fmt(v) for v in df["joint_coverage"]]
    for col in STEP_COLS:
        if col in df:
            out[col.replace("coverage_", "")] = [_fmt(v) for v in df[col]]
    for col in ("width", "width_median", "crps", "mase"):
        if col in df:
            out[col] = [_fmt(v) for v in df[col]]
    for col, name in SKILL_COLS.items():
        if col in df and df[col].notna().any():
            out[name] = [_fmt(v) for v in df[col]]
    out["note"] = notes.to_numpy()
    return out.reset_index(drop=True)


def cell_warnings(manifest: dict) -> pd.DataFrame:
    """Distinct warnings of the finished cells: method, warning, number of cells that gave it."""
    counts: dict[tuple[str, str], int] = {}
    for key, cell in manifest.get("cells", {}).items():
        for w in cell.get("warnings", []) or []:
            k = (f"{cell.get('dataset', '?')} / {cell.get('method', key)}", str(w)[:300])
            counts[k] = counts.get(k, 0) + 1
    rows = [{"dataset / method": k[0], "warning": k[1], "cells": n} for k, n in sorted(counts.items())]
    return pd.DataFrame(rows, columns=["dataset / method", "warning", "cells"])


def _markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


def make_report(results_dir: str | Path) -> tuple[Path, Path]:
    """Write report.html and summary.md into `results_dir`; returns their paths."""
    out = Path(results_dir)
    summary = pd.read_csv(out / "summary.csv")
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    levels = cfg["levels"]
    title = f"fanlab: {cfg['name']}"
    # one text for both outputs, so the page and the markdown cannot drift apart
    intro = (f"Horizon {cfg['horizon']}, levels {levels}, seeds {cfg['seeds']}, stride {cfg['stride']}. "
             "Coverage is pooled over series and seeds, with a 95% CI: a t interval between replications "
             "where there are two or more, else a moving-block bootstrap over one series' origins (too "
             "narrow; see ci_method in summary.csv). joint = share of origins whose whole path stayed "
             "inside the band; h1 ... h100 = coverage at that step. n/a: the method has no interval "
             "(zero width) or an infinite one. skill = 1 - CRPS / CRPS of climatology (0: learnt "
             "nothing; h1: at step 1); width/oracle and MAE/oracle read the method against the truth; "
             "cov calm / cov volatile = coverage in the calmest and most volatile third of origins "
             "(by the oracle's spread, else recent volatility).")
    md = [f"# {title}", "", cfg.get("description", ""), "", intro, ""]
    body = [f"<h1>{html.escape(title)}</h1>", f"<p>{html.escape(cfg.get('description', ''))}</p>",
            f"<p>{html.escape(intro)}</p>"]
    for level in levels:
        table = coverage_table(summary, level)
        md += [f"## Level {level:g}", "", _markdown(table), ""]
        body += [f"<h2>Level {level:g}</h2>", table.to_html(index=False, escape=True, border=0)]
    warns = cell_warnings(manifest)
    if len(warns):
        md += ["## Cell warnings", "", _markdown(warns), ""]
        body += ["<h2>Cell warnings</h2>", warns.to_html(index=False, escape=True, border=0)]
    failed = {k: v for k, v in manifest.get("cells", {}).items() if v.get("status") == "failed"}
    if failed:
        md += ["## Failed cells", ""] + [f"- `{k}`: {v.get('error', '')}" for k, v in sorted(failed.items())] + [""]
        body += ["<h2>Failed cells</h2><ul>"] + [
            f"<li><code>{html.escape(k)}</code>: {html.escape(str(v.get('error', '')))}</li>"
            for k, v in sorted(failed.items())] + ["</ul>"]
    figs = sorted((out / "figures").glob("*.png")) if (out / "figures").is_dir() else []
    by_dataset: dict[str, list[Path]] = {}
    for f in figs:
        by_dataset.setdefault(f.stem.split("_", 1)[1], []).append(f)
    order = ("coverage", "width", "reliability", "pit", "fan")
    for ds, files in sorted(by_dataset.items()):
        body.append(f"<h2>{html.escape(ds)}</h2>")
        for f in sorted(files, key=lambda p: order.index(p.stem.split("_", 1)[0]) if p.stem.split("_", 1)[0] in order else 99):
            data = base64.b64encode(f.read_bytes()).decode()
            body.append(f'<figure><img alt="{html.escape(f.stem)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(f.stem)}</figcaption></figure>")
    versions = manifest.get("versions", {})
    body.append("<p class=small>" + html.escape(", ".join(f"{k} {v}" for k, v in versions.items() if v))
                + (f"; commit {html.escape(str(manifest.get('git_commit')))}" if manifest.get("git_commit") else "")
                + "</p>")
    style = ("body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em}"
             "table{border-collapse:collapse;font-size:13px}td,th{padding:3px 8px;border-bottom:1px solid #ddd;"
             "text-align:right}td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}"
             ".small{color:#666;font-size:12px}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    html_path, md_path = out / "report.html", out / "summary.md"
    write_text(page, html_path)
    write_text("\n".join(md) + "\n", md_path)
    return html_path, md_path
