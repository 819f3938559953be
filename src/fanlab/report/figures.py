"""fanlab's figures, drawn from a run's results files only.

`make_figures(results_dir)` reads ``forecasts.parquet``, ``metrics.parquet`` and
``config.yaml`` and writes five PNGs per dataset into ``results_dir/figures/``:

- ``coverage_<dataset>.png``: pooled coverage vs h, a panel per config level, a line per
  method, its 95% CI shaded, the nominal level dashed.
- ``width_<dataset>.png``: pooled mean interval width vs h, same layout.
- ``reliability_<dataset>.png``: coverage over all steps vs nominal level (fine grid and
  config levels), a line per method, the diagonal.
- ``pit_<dataset>.png``: PIT histogram (10 bins) per method against the uniform density.
- ``fan_<dataset>.png``: fan charts of the first series and seed at up to 3 origins (rows)
  for each method (columns), the oracle's widest band outlined in every panel.
- ``series_<dataset>.png`` (panels of at least `MIN_PANEL_SERIES` series): the distribution
  (empirical CDF) of per-series coverage over all steps at each config level, a line per
  method: a pooled 0.95 can hide series at 0.5 and series at 1.

Figures are `matplotlib.figure.Figure` objects rendered by Agg, never registered with pyplot
(so nothing changes the caller's backend and nothing is left open); size and dpi are fixed
per layout and PNG metadata is stripped, so the same files give the same bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from fanlab.errors import DataError
from fanlab.report.figure_helpers import (Curve, clip_band, coverage_curves, fan_limits, fan_path,
                                 first_cell, h_curves, pick_origins, pit_counts, pooled_rows,
                                 reliability_curves, safe_label, truth_by_time, width_curves)

__all__ = ["make_figures", "load_results", "method_colors", "coverage_figure", "width_figure",
           "reliability_figure", "pit_figure", "fan_figure", "coverage_curves", "Curve"]

DPI = 100
#: Figure sizes in inches (pixels = inches * DPI): panel sizes times the panel grid, plus a
#: fixed column for the legend outside the panels.
PANEL_W, PANEL_H, LEGEND_W = 4.0, 3.5, 2.0
RELIABILITY_SIZE = (7.5, 5.0)
PIT_W, PIT_H, PIT_COLS = 2.5, 2.0, 4
FAN_W, FAN_H, FAN_ORIGINS = 3.5, 2.5, 3
TITLE_H = 0.5
MIN_PANEL_SERIES = 10
PIT_BINS = 10
ORACLE = "oracle"
CLIMATOLOGY = "climatology"
#: Reference methods are drawn alike in every figure: the oracle solid black beneath the
#: others, climatology (the "learnt nothing" line) dotted grey.
REF_STYLE = {ORACLE: {"zorder": 1.9}, CLIMATOLOGY: {"ls": ":", "lw": 1.8, "zorder": 1.8}}


def method_colors(methods) -> dict[str, str | tuple]:
    """A fixed colour per method: the oracle black, the others tab10 (tab20 past ten methods)
    in name order, so no two methods share a colour."""
    others = [m for m in sorted(set(map(str, methods))) if m not in (ORACLE, CLIMATOLOGY)]
    palette = colormaps["tab10" if len(others) <= 10 else "tab20"].colors
    colors: dict[str, str | tuple] = {m: palette[i % len(palette)] for i, m in enumerate(others)}
    colors[ORACLE] = "black"
    colors[CLIMATOLOGY] = "0.45"
    return colors


def _new_figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _legend(fig: Figure, handles: list) -> None:
    fig.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False)


def _h_panels(metrics: pd.DataFrame, dataset: str, levels: list[float], colors: dict,
              curves_of, ylabel: str, what: str, nominal: bool) -> Figure:
    """Shared layout of the coverage and width figures: one panel per level."""
    fig = _new_figure(PANEL_W * len(levels) + LEGEND_W, PANEL_H)
    axes = fig.subplots(1, len(levels), sharey=nominal, squeeze=False)[0]
    shown: dict[str, str] = {}
    for ax, level in zip(axes, levels):
        curves = curves_of(metrics, dataset, level)
        n_inf = 0
        for method, c in curves.items():
            color = colors.get(method, "grey")
            y = np.where(np.isfinite(c.y), c.y, np.nan)  # inf widths cannot be drawn
            n_inf += int(np.sum(np.isinf(c.y)))
            if c.lo is not None and c.hi is not None:
                ax.fill_between(c.x, c.lo, c.hi, color=color, alpha=0.15, linewidth=0)
            # the oracle is the reference: drawn beneath so methods matching it stay visible
            style = {"lw": 1.4, "zorder": 2.0, **REF_STYLE.get(method, {})}
            ax.plot(c.x, y, color=color, label=method, **style)
            shown.setdefault(method, method)
            if np.isinf(c.y).any():
                shown[method] = f"{method} (some inf, not drawn)"
        if nominal:
            ax.axhline(level, color="0.3", ls="--", lw=1.0, label="nominal")
            ax.set_ylim(0.0, 1.02)
        else:
            ax.set_ylim(bottom=0.0)
        if n_inf:
            ax.text(0.98, 0.03, f"{n_inf} inf values not drawn", transform=ax.transAxes,
                    fontsize=7, ha="right", color="firebrick")
        if not curves:
            ax.text(0.5, 0.5, "no pooled rows", transform=ax.transAxes, ha="center")
        ax.set_title(f"{dataset}: {what}, level {level:g}", fontsize=10)
        ax.set_xlabel("horizon step h")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    handles = [Line2D([], [], color=colors.get(m, "grey"), lw=1.4, ls=REF_STYLE.get(m, {}).get("ls", "-"),
                      label=shown[m]) for m in sorted(shown)]
    if nominal:
        handles += [Line2D([], [], color="0.3", ls="--", label="nominal level"),
                    Patch(color="0.5", alpha=0.3, label="95% CI of coverage")]
    _legend(fig, handles)
    return fig


def coverage_figure(metrics: pd.DataFrame, dataset: str, levels: list[float],
                    colors: dict | None = None) -> Figure:
    """Pooled coverage vs h, a panel per level; lines carry the method name as label."""
    colors = colors or method_colors(metrics["method"].unique())
    return _h_panels(metrics, dataset, levels, colors, coverage_curves, "coverage",
                     "coverage", nominal=True)


def width_figure(metrics: pd.DataFrame, dataset: str, levels: list[float],
                 colors: dict | None = None) -> Figure:
    """Pooled mean interval width vs h, a panel per level; infinite widths are left out."""
    colors = colors or method_colors(metrics["method"].unique())
    return _h_panels(metrics, dataset, levels, colors, width_curves, "mean interval width",
                     "width", nominal=False)


def skill_figure(metrics: pd.DataFrame, dataset: str, colors: dict | None = None) -> Figure:
    """CRPS skill against climatology vs h (left) and, with an oracle, MAE over the oracle's
    (right): a line per method; 0 skill is the "learnt nothing" line."""
    colors = colors or method_colors(metrics["method"].unique())
    skill_c = h_curves(metrics, dataset, None, "crps_skill")
    mae_c = h_curves(metrics, dataset, None, "mae_ratio")
    panels = [("CRPS skill vs climatology", skill_c, 0.0)] + ([("MAE / oracle MAE", mae_c, 1.0)] if mae_c else [])
    fig = _new_figure(PANEL_W * 1.3 * len(panels) + LEGEND_W, PANEL_H)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (what, curves, ref) in zip(axes, panels):
        lows, highs = [], []
        for method, c in curves.items():
            style = {"lw": 1.4, "zorder": 2.0, **REF_STYLE.get(method, {})}
            ax.plot(c.x, np.where(np.isfinite(c.y), c.y, np.nan), color=colors.get(method, "grey"),
                    label=method, **style)
            finite = c.y[np.isfinite(c.y)]
            lows.append(finite.min() if finite.size else ref)
            highs.append(finite.max() if finite.size else ref)
        ax.axhline(ref, color="0.3", ls="--", lw=1.0)
        if ref == 0.0 and lows:  # skill: keep the informative range, clip very negative values
            ax.set_ylim(max(min(lows) - 0.05, -1.0), 1.02)
        elif lows:  # MAE ratio: from just below 1 up to the worst method, at most 3
            ax.set_ylim(min(min(lows), 1.0) - 0.05, min(max(highs) + 0.1, 3.0))
        ax.set_title(f"{dataset}: {what}", fontsize=10)
        ax.set_xlabel("horizon step h")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    handles = [Line2D([], [], color=colors.get(m, "grey"), lw=1.4, ls=REF_STYLE.get(m, {}).get("ls", "-"),
                      label=m) for m in sorted(skill_c)]
    _legend(fig, handles)
    return fig


def conditional_figure(metrics: pd.DataFrame, dataset: str, level: float,
                       colors: dict | None = None) -> Figure:
    """Coverage at `level` in the calm, middle and volatile third of origins, per method."""
    colors = colors or method_colors(metrics["method"].unique())
    names = ["cond_coverage_low", "cond_coverage_mid", "cond_coverage_high"]
    rows = pooled_rows(metrics, dataset, names, level)
    methods = sorted(rows["method"].astype(str).unique())
    fig = _new_figure(max(6.0, 0.45 * len(methods) + 2.5) + LEGEND_W, PANEL_H)
    ax = fig.subplots()
    x = np.arange(len(methods))
    for j, (name, alpha) in enumerate(zip(names, (0.35, 0.65, 1.0))):
        vals = [rows[(rows["method"] == m) & (rows["metric"] == name)]["value"].mean() for m in methods]
        ax.bar(x + (j - 1) * 0.27, vals, width=0.27, color=[colors.get(m, "grey") for m in methods], alpha=alpha)
    ax.axhline(level, color="0.3", ls="--", lw=1.0)
    ax.set_xticks(x, methods, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0.0, 1.02)
    ax.set_ylabel(f"coverage at {level:g}")
    state = pooled_rows(metrics, dataset, ["cond_state"])["value"]
    src = "oracle's predictive spread" if len(state) and state.iloc[0] == 1.0 else "recent volatility"
    ax.set_title(f"{dataset}: coverage by state at the origin ({src}), thirds calm / mid / volatile", fontsize=9)
    ax.grid(alpha=0.3, axis="y")
    _legend(fig, [Patch(color="0.3", alpha=a, label=f"{t} third") for a, t in
                  zip((0.35, 0.65, 1.0), ("calm", "middle", "volatile"))]
            + [Line2D([], [], color="0.3", ls="--", label="nominal level")])
    return fig


def series_coverage(metrics: pd.DataFrame, dataset: str, level: float) -> dict[str, np.ndarray]:
    """Per method, the sorted coverage over all steps of each series (mean over h, then over
    seeds) at `level`; methods without an interval (coverage n/a) are left out."""
    rows = metrics[(metrics["dataset"] == dataset) & (metrics["metric"] == "coverage") & (metrics["h"] > 0)
                   & (metrics["series"] != "*") & np.isclose(metrics["level"], level)]
    out = {}
    for method, grp in rows.groupby("method", sort=True):
        per = grp.groupby(["series", "seed"])["value"].mean().groupby(level="series").mean().dropna()
        if len(per):
            out[str(method)] = np.sort(per.to_numpy())
    return out


def series_figure(metrics: pd.DataFrame, dataset: str, levels: list[float], colors: dict | None = None) -> Figure:
    """Empirical CDF of per-series coverage at each config level (a panel each), a line per method."""
    colors = colors or method_colors(metrics["method"].unique())
    fig = _new_figure(PANEL_W * len(levels) + LEGEND_W, PANEL_H)
    axes = np.atleast_1d(fig.subplots(1, len(levels), squeeze=False)[0])
    for ax, level in zip(axes, levels):
        for method, v in series_coverage(metrics, dataset, level).items():
            style = {"lw": 1.4, **REF_STYLE.get(method, {})}
            ax.step(np.r_[0.0, v, 1.0], np.r_[0.0, np.arange(1, v.size + 1) / v.size, 1.0], where="post",
                    color=colors.get(method, "grey"), label=method, **style)
        ax.axvline(level, color="0.3", ls="--", lw=1.0)
        ax.set(xlim=(0, 1.0), ylim=(0, 1.02), xlabel=f"coverage of a series at {level:g} (all h)",
               ylabel="share of series at or below")
        ax.grid(alpha=0.3)
    fig.suptitle(f"{dataset}: coverage per series (ECDF)", fontsize=10)
    handles = axes[0].get_legend_handles_labels()[0]
    _legend(fig, handles)
    return fig


def reliability_figure(metrics: pd.DataFrame, dataset: str, levels: list[float],
                       colors: dict | None = None) -> Figure:
    """Coverage over all steps vs nominal level, a line per method, the diagonal dashed."""
    colors = colors or method_colors(metrics["method"].unique())
    fig = _new_figure(*RELIABILITY_SIZE)
    ax = fig.subplots()
    for level in levels:  # where the config levels sit on the curve
        ax.axvline(level, color="0.85", lw=0.8, zorder=0)
    ax.plot([0, 1], [0, 1], color="0.4", ls="--", lw=1.0, label="ideal")
    for method, c in reliability_curves(metrics, dataset).items():
        style = {"lw": 1.4, "zorder": 2.0, **REF_STYLE.get(method, {})}
        ax.plot(c.x, c.y, color=colors.get(method, "grey"), marker="o", ms=3, label=method, **style)
    ax.set(xlim=(0, 1), ylim=(0, 1.02), xlabel="nominal level",
           ylabel="empirical coverage (all h pooled)")
    ax.set_title(f"{dataset}: reliability (grey verticals: config levels)", fontsize=10)
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    _legend(fig, ax.get_legend_handles_labels()[0])
    return fig


def pit_figure(forecasts: pd.DataFrame, dataset: str, colors: dict | None = None,
               bins: int = PIT_BINS) -> Figure:
    """PIT histograms (density, `bins` bins) per method, uniform density dashed."""
    counts = pit_counts(forecasts, dataset, bins)
    colors = colors or method_colors(counts)
    n = max(len(counts), 1)
    ncols = min(n, PIT_COLS)
    nrows = -(-n // ncols)
    fig = _new_figure(PIT_W * ncols, PIT_H * nrows + TITLE_H)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    edges = np.linspace(0.0, 1.0, bins + 1)
    for ax, (method, c) in zip(axes, counts.items()):
        total = int(c.sum())
        if total:
            ax.bar(edges[:-1], c * bins / total, width=1.0 / bins, align="edge",
                   color=colors.get(method, "grey"), alpha=0.75, edgecolor="white", lw=0.5)
        else:
            ax.text(0.5, 0.5, "no PIT values", transform=ax.transAxes, ha="center")
        ax.axhline(1.0, color="0.3", ls="--", lw=1.0)
        ax.set_title(f"{method} (n={total})", fontsize=9)
        ax.set_xlim(0, 1)
    for ax in axes[len(counts):]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("density")
    for ax in axes[(nrows - 1) * ncols:]:
        ax.set_xlabel("PIT")
    fig.suptitle(f"{dataset}: PIT histograms, all h pooled (dashed: uniform)", fontsize=10)
    return fig


def fan_figure(forecasts: pd.DataFrame, dataset: str, levels: list[float], horizon: int,
               colors: dict | None = None, n_origins: int = FAN_ORIGINS) -> Figure:
    """Fan charts of the first series and seed: a row per origin, a column per method.

    The truth line shows y over [origin - horizon, origin + horizon] where the file holds
    it: forecasts.parquet has no history, so y before an origin comes from earlier origins'
    futures. Origins are therefore picked among those at least `horizon` steps after the
    first (a full history window), unless fewer than `n_origins` qualify. Each panel shows
    the method's mean and its bands at the config levels; where an ``oracle`` method exists
    its band at the widest config level is drawn in every other panel as a dashed outline
    (and it gets no column of its own). Bands beyond the row's axis range (infinite ones
    included) are clipped to it and the panel says so.
    """
    series, seed, cell = first_cell(forecasts, dataset)
    methods = sorted(cell["method"].astype(str).unique())
    colors = colors or method_colors(methods)
    has_oracle = ORACLE in methods
    columns = [m for m in methods if m != ORACLE] or methods
    origins = pick_origins(cell["origin"].to_numpy(), n_origins, history=horizon)
    truth = truth_by_time(cell)
    levels = sorted(levels, reverse=True)  # widest band first, narrower ones on top
    fig = _new_figure(FAN_W * len(columns) + LEGEND_W, FAN_H * len(origins) + TITLE_H)
    axes = fig.subplots(len(origins), len(columns), sharex="row", squeeze=False)
    for r, origin in enumerate(origins):
        origin = int(origin)
        window = truth.loc[origin - horizon: origin + horizon]
        paths = {m: fan_path(cell, m, origin, levels) for m in methods}
        oracle = paths.get(ORACLE) if has_oracle and columns != [ORACLE] else None
        core = [window.to_numpy()] + [paths[m].mean for m in columns]
        if oracle is not None:
            core += [np.stack(b) for b in oracle.bands.values()]
        ylim = fan_limits(core, [np.stack(b) for m in columns for b in paths[m].bands.values()])
        for c, method in enumerate(columns):
            ax, p, color = axes[r, c], paths[method], colors.get(method, "grey")
            cut = False
            for level in levels:
                lo, hi, was_cut = clip_band(*p.bands[level], ylim)
                cut |= was_cut
                ax.fill_between(p.t, lo, hi, color=color, alpha=0.2, linewidth=0,
                                label=f"{method} {level:g}")
            ax.plot(p.t, p.mean, color=color, lw=1.2, label=f"{method} mean")
            if oracle is not None:  # its widest band only: more outlines hide the fan
                for bound in oracle.bands[levels[0]]:
                    ax.plot(oracle.t, np.clip(bound, *ylim), color="black", lw=0.7, ls="--",
                            label=f"oracle {levels[0]:g}")
            ax.plot(window.index, window.to_numpy(), color="black", lw=0.9, label="observed y")
            ax.axvline(origin, color="0.5", ls=":", lw=1.0)
            if cut:
                ax.text(0.02, 0.03, "band clipped at axis", transform=ax.transAxes,
                        fontsize=7, color="firebrick")
            if not (window.index <= origin).any():
                ax.text(0.02, 0.97, "no history in results", transform=ax.transAxes,
                        fontsize=7, va="top", color="0.4")
            ax.set_xlim(origin - horizon, origin + horizon)
            ax.set_ylim(ylim)
            ax.set_title(f"{method}, origin {origin}", fontsize=9)
            if r == len(origins) - 1:
                ax.set_xlabel("time index")
            if c == 0:
                ax.set_ylabel("y")
    fig.suptitle(f"{dataset}: fan charts, series {series}, seed {seed}, levels "
                 + ", ".join(f"{lv:g}" for lv in sorted(levels)), fontsize=10)
    handles = [Line2D([], [], color="black", lw=0.9, label="observed y"),
               Line2D([], [], color="0.5", ls=":", label="origin"),
               Line2D([], [], color="0.4", lw=1.2, label="method mean"),
               Patch(color="0.4", alpha=0.2, label="method bands\n(darker = narrower level)")]
    if has_oracle and columns != [ORACLE]:
        handles.append(Line2D([], [], color="black", lw=0.7, ls="--",
                              label=f"oracle {levels[0]:g} band"))
    _legend(fig, handles)
    return fig


def load_results(results_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Read forecasts.parquet, metrics.parquet and config.yaml of a run directory."""
    results_dir = Path(results_dir)
    config = _read_config(results_dir)
    return (pd.read_parquet(results_dir / "forecasts.parquet"),
            pd.read_parquet(results_dir / "metrics.parquet"), config)


def save_figure(fig: Figure, path: Path) -> Path:
    """Write `fig` as a PNG whose bytes depend only on its content, then drop its artists."""
    fig.savefig(path, dpi=DPI, format="png", metadata={"Software": None})
    fig.clear()
    return path


def make_figures(results_dir: str | Path, jobs: int = 1) -> list[Path]:
    """Write the five figures of every dataset into ``results_dir/figures/``.

    Returns the written paths, datasets in name order and, per dataset, coverage, width,
    reliability (from metrics.parquet), then pit and fan (from forecasts.parquet). With
    `jobs` > 1 the datasets are drawn in that many worker processes (`fanlab.engine.pool`),
    each reading only its dataset's rows; the files are the same bytes either way.
    """
    results_dir = Path(results_dir)
    config = _read_config(results_dir)
    levels = sorted(float(level) for level in config["levels"])
    horizon = config.get("horizon")
    forecast_cols = ["dataset", "method"] + ([] if isinstance(horizon, int) else ["h"])
    forecasts = pd.read_parquet(results_dir / "forecasts.parquet", columns=forecast_cols)
    metrics = pd.read_parquet(results_dir / "metrics.parquet", columns=["dataset", "method"])
    horizon = int(horizon) if isinstance(horizon, int) else int(forecasts["h"].max())  # auto: per series
    colors = method_colors(set(metrics["method"].astype(str))
                           | set(forecasts["method"].astype(str)))
    in_metrics = set(metrics["dataset"].astype(str))
    in_forecasts = set(forecasts["dataset"].astype(str))
    del forecasts, metrics
    datasets = sorted(in_metrics | in_forecasts)
    stems = [safe_label(d) for d in datasets]
    if len(set(stems)) != len(stems):
        raise DataError(f"dataset labels {datasets} clash once made safe for file names")
    out_dir = results_dir / "figures"
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks = [(str(results_dir), dataset, stem, levels, horizon, colors) for dataset, stem in zip(datasets, stems)]
    drawn: dict[int, list[str]] = {}
    if jobs <= 1 or len(tasks) <= 1:
        for i, task in enumerate(tasks):
            drawn[i] = dataset_figures(*task)
    else:
        from fanlab.engine.pool import imap_unordered

        for i, got in imap_unordered(_figures_worker, tasks, min(jobs, len(tasks)), env={"OMP_NUM_THREADS": "1"}):
            if not (isinstance(got, dict) and got.get("status") == "done"):
                error = got.get("error", "?") if isinstance(got, dict) else repr(got)
                kind = DataError if isinstance(got, dict) and got.get("kind") == "DataError" else RuntimeError
                raise kind(f"figures of dataset {datasets[i]!r}: {error}")
            drawn[i] = got["paths"]
    paths = [Path(p) for i in range(len(tasks)) for p in drawn[i]]
    # figures of datasets no longer in the results (an earlier config) would mislead the report
    for old in out_dir.glob("*.png"):
        if old not in paths:
            old.unlink()
    return paths


def _read_config(results_dir: Path) -> dict:
    for name in ("forecasts.parquet", "metrics.parquet", "config.yaml"):
        if not (results_dir / name).is_file():
            raise DataError(f"{results_dir / name}: file not found (is this a run directory?)")
    config = yaml.safe_load((results_dir / "config.yaml").read_text()) or {}
    if not config.get("levels"):
        raise DataError(f"{results_dir / 'config.yaml'}: key 'levels' missing or empty")
    return config


def _dataset_rows(path: Path, dataset: str) -> pd.DataFrame:
    """The rows of one dataset of a results table (read with a filter: only its row groups)."""
    return pd.read_parquet(path, filters=[("dataset", "==", dataset)])


def dataset_figures(results_dir: str | Path, dataset: str, stem: str, levels: list[float], horizon: int,
                    colors: dict) -> list[str]:
    """Draw and write the figures of one dataset (see `make_figures`); returns their paths."""
    results_dir = Path(results_dir)
    metrics = _dataset_rows(results_dir / "metrics.parquet", dataset)
    forecasts = _dataset_rows(results_dir / "forecasts.parquet", dataset)
    out_dir = results_dir / "figures"
    builders = []
    if len(metrics):
        builders += [("coverage", lambda: coverage_figure(metrics, dataset, levels, colors)),
                     ("width", lambda: width_figure(metrics, dataset, levels, colors)),
                     ("reliability",
                      lambda: reliability_figure(metrics, dataset, levels, colors))]
        has = set(metrics["metric"].unique())
        if "crps_skill" in has:
            builders.append(("skill", lambda: skill_figure(metrics, dataset, colors)))
        n_series = metrics.loc[metrics["series"] != "*", "series"].nunique()
        if n_series >= MIN_PANEL_SERIES:
            builders.append(("series", lambda: series_figure(metrics, dataset, levels, colors)))
        if "cond_coverage_low" in has:
            builders.append(("conditional", lambda: conditional_figure(metrics, dataset, max(levels), colors)))
    if len(forecasts):
        builders += [("pit", lambda: pit_figure(forecasts, dataset, colors)),
                     ("fan", lambda: fan_figure(forecasts, dataset, levels, horizon, colors))]
    # built one at a time: fan charts can be large
    return [str(save_figure(build(), out_dir / f"{kind}_{stem}.png")) for kind, build in builders]


def _figures_worker(*task) -> dict:
    """`dataset_figures` in a worker process; its error comes back as data."""
    try:
        return {"status": "done", "paths": dataset_figures(*task)}
    except Exception as exc:
        return {"status": "failed", "kind": type(exc).__name__, "error": f"{type(exc).__name__}: {exc}"}
