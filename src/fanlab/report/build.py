"""The report of a run: an interactive self-contained HTML page and a markdown summary.

Both are made from the results files only (summary.csv, metrics.parquet, forecasts.parquet,
config.yaml, manifest.json and the PNGs in figures/), so `fanlab report DIR` can redo them at
any time. The page itself is built by `fanlab.report.page`; `finish` draws the figures and
the page after a run and records in its manifest what could not be drawn.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fanlab.report.data import cell_warnings
from fanlab.schema import SUMMARY_STEPS, step_col
from fanlab.engine.results import WriteError, read_json, write_json, write_text

STEP_COLS = [step_col("coverage", h) for h in SUMMARY_STEPS]
#: Skill and sharpness beside coverage: coverage alone is never the verdict.
SKILL_COLS = {"crps_skill_h1": "skill h1", "crps_skill": "skill", "width_ratio": "width/oracle",
              "mae_ratio": "MAE/oracle", "cond_coverage_low": "cov calm", "cond_coverage_high": "cov volatile"}


#: One text for the page and the markdown summary, so they cannot drift apart.
INTRO = ("Horizon {horizon}, levels {levels}, seeds {seeds}, stride {stride}. "
         "Coverage is pooled over series and seeds, with a 95% CI: a t interval between replications "
         "where there are two or more, else a moving-block bootstrap over one series' origins (too "
         "narrow; see ci_method in summary.csv). joint = share of origins whose whole path stayed "
         "inside the band; h1 ... h100 = coverage at that step. n/a: the method has no interval "
         "(zero width) or an infinite one. skill = 1 - CRPS / CRPS of climatology (0: learnt "
         "nothing; h1: at step 1); width/oracle and MAE/oracle read the method against the truth; "
         "cov calm / cov volatile = coverage in the calmest and most volatile third of origins "
         "(by the oracle's spread, else recent volatility).")


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
    for col in ("width", "width_median", "crps", "mase", "msis", "scaled_crps"):
        if col in df:
            out[col] = [_fmt(v) for v in df[col]]
    for col, name in SKILL_COLS.items():
        if col in df and df[col].notna().any():
            out[name] = [_fmt(v) for v in df[col]]
    out["note"] = notes.to_numpy()
    return out.reset_index(drop=True)


def _markdown(df: pd.DataFrame) -> str:
    head = "| " + " | ".join(df.columns) + " |"
    sep = "|" + "|".join("---" for _ in df.columns) + "|"
    rows = ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join([head, sep, *rows])


#: What `fanlab report` and `fanlab compare` read from each file of a results folder.
NEEDED = {"config.yaml": ("name", "horizon", "levels", "seeds", "stride"),
          "summary.csv": ("dataset", "method", "level", "coverage", "coverage_lo", "coverage_hi"),
          "metrics.parquet": ("dataset", "series", "method", "seed", "h", "level", "metric", "value")}


def check_readable(results_dir: str | Path) -> None:
    """Raise NotResults (one line naming the folder and the file) unless every results file
    the report reads opens and holds what it needs: a config with its levels, a summary and
    metrics with their columns, a readable manifest and forecasts file where present."""
    import pyarrow.parquet as pq

    from fanlab.report.data import NotResults, check_folder

    out = Path(results_dir)
    check_folder(out)

    def bad(name: str, why: str):
        raise NotResults(f"{out}: {name} {why} (a broken fanlab results folder; rerun its config)")

    try:
        cfg = yaml.safe_load((out / "config.yaml").read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        bad("config.yaml", f"cannot be read ({type(exc).__name__})")
    if not isinstance(cfg, dict):
        bad("config.yaml", "is not a mapping")
    lacking = [k for k in NEEDED["config.yaml"] if k not in cfg]
    if lacking or not isinstance(cfg.get("levels"), list) or not cfg["levels"]:
        bad("config.yaml", f"has no {', '.join(lacking) or 'levels'}")
    try:
        cols = pd.read_csv(out / "summary.csv", nrows=0).columns
    except pd.errors.EmptyDataError:
        bad("summary.csv", "is empty")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        bad("summary.csv", f"cannot be read ({type(exc).__name__})")
    for name in ("metrics.parquet", "forecasts.parquet"):
        if name == "forecasts.parquet" and not (out / name).is_file():
            continue
        try:
            schema = pq.read_schema(out / name)
        except Exception as exc:  # pyarrow: ArrowInvalid on a truncated or empty file
            size = (out / name).stat().st_size
            bad(name, f"is not a parquet file ({size:,} bytes; {type(exc).__name__})")
        missing = [c for c in NEEDED.get(name, ()) if c not in schema.names]
        if missing:
            bad(name, f"lacks column(s) {', '.join(missing)}")
    missing = [c for c in NEEDED["summary.csv"] if c not in cols]
    if missing:
        bad("summary.csv", f"lacks column(s) {', '.join(missing)}")
    if (out / "manifest.json").is_file():
        try:
            json.loads((out / "manifest.json").read_text())
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            bad("manifest.json", f"cannot be read ({type(exc).__name__})")


def make_report(results_dir: str | Path) -> tuple[Path, Path]:
    """Write report.html (interactive, see `fanlab.report.page`) and summary.md into `results_dir`;
    returns their paths."""
    from fanlab.report.page import write_report

    out = Path(results_dir)
    summary = pd.read_csv(out / "summary.csv")
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    manifest = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
    levels = cfg["levels"]
    title = f"fanlab: {cfg['name']}"
    intro = INTRO.format(horizon=cfg["horizon"], levels=levels, seeds=cfg["seeds"], stride=cfg["stride"])
    md = [f"# {title}", "", cfg.get("description", ""), "", intro, ""]
    for level in levels:
        md += [f"## Level {level:g}", "", _markdown(coverage_table(summary, level)), ""]
    warns = cell_warnings(manifest)
    if len(warns):
        md += ["## Cell warnings", "", _markdown(warns), ""]
    notes = [str(n) for n in manifest.get("notes") or []]
    if notes:  # the run's own words: changed input files, irregular time stamps
        md += ["## Run notes", ""] + [f"- {n}" for n in notes] + [""]
    failed = {k: v for k, v in manifest.get("cells", {}).items() if v.get("status") == "failed"}
    if failed:
        md += ["## Failed cells", ""] + [f"- `{k}`: {v.get('error', '')}" for k, v in sorted(failed.items())] + [""]
    html_path, md_path = write_report(out, intro), out / "summary.md"
    write_text("\n".join(md) + "\n", md_path)
    return html_path, md_path


def finish(res, figures: bool = True, jobs: int | None = 1):
    """After a run (`fanlab.engine.runner.run`'s result): draw the figures (unless `figures` is
    False) and write the report, if any cell finished. Neither may lose the numbers: a figure
    or page that fails is recorded in manifest.json (`figures_error`, `report_error`) and in
    the result's notes. `jobs`: worker processes for the figures (None: every core). Returns `res`."""
    out = Path(res.out)
    if not any(v["status"] in ("done", "cached") for v in res.statuses.values()):
        return res
    manifest = read_json(out / "manifest.json")
    if figures:
        try:
            from fanlab.engine.execute import default_jobs
            from fanlab.report.figures import make_figures

            make_figures(out, jobs=default_jobs() if jobs is None else jobs)
        except Exception as exc:  # figures must never lose the numbers
            manifest["figures_error"] = f"{type(exc).__name__}: {exc}"
            res.notes.append(f"figures not drawn: {manifest['figures_error']}")
    try:
        make_report(out)
    except Exception as exc:  # the page must never lose the numbers: record why it is missing
        manifest["report_error"] = f"{type(exc).__name__}: {exc}"
        res.notes.append(f"report.html not written: {exc if isinstance(exc, WriteError) else manifest['report_error']}")
    if manifest.get("figures_error") or manifest.get("report_error"):
        manifest["notes"] = list(res.notes)
        try:
            write_json(manifest, out / "manifest.json")
        except WriteError as exc:
            res.notes.append(str(exc))
    return res
