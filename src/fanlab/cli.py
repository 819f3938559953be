"""`fanlab run | validate | export | list | report | compare`.

Exit codes: 0 success, 1 some cells failed (the others finished and were written),
2 a config or data error (one line naming the file and key; nothing written).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(add_completion=False, no_args_is_help=True, help="fanlab: forecasting-uncertainty lab.")
err = Console(stderr=True)
out = Console(width=None if sys.stdout.isatty() else 160)


def _fail(message: str) -> None:
    """Print one error line (control characters replaced) and exit 2."""
    from rich.markup import escape

    line = "".join(c if c.isprintable() else "?" for c in " ".join(str(message).split()))
    err.print(f"[red]error:[/red] {escape(line)}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def _load(config: Path):
    from fanlab.config import load_config
    from fanlab.errors import ConfigError

    try:
        return load_config(config)
    except ConfigError as exc:
        _fail(str(exc))


def _check_data(config: Path, cfg) -> list[str]:
    """Build every dataset and split as `run` would, and check every external forecasts file
    (no fitting); exit 2 on a DataError. Returns the data's warnings."""
    from fanlab.errors import DataError
    from fanlab.models.external import check_external_files
    from fanlab.engine.runner import load_all_series

    notes: list[str] = []
    try:
        check_external_files(cfg, load_all_series(cfg, notes))
    except DataError as exc:
        _fail(f"{config}: {_dataset_path(cfg, exc)}: {exc}")
    return notes


def _dataset_path(cfg, exc: Exception) -> str:
    """Key path of the dataset (or method) a DataError from the runner names
    ("dataset '<label>': ...", "method '<label>' ...")."""
    for i, m in enumerate(cfg.methods):
        if str(exc).startswith(f"method '{m.key}' "):
            return f"methods[{i}].params"
    for i, ds in enumerate(cfg.datasets):
        if str(exc).startswith((f"dataset '{ds.key}'", f"series '{ds.key}/")):
            return f"datasets[{i}]"
    return "datasets"


def _warn(line: str) -> None:
    from rich.markup import escape

    err.print(f"[yellow]warning:[/yellow] {escape(line)}", highlight=False, soft_wrap=True)


@app.command()
def run(
    config: Path = typer.Argument(..., help="YAML config"),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1,
                                       help="cells in parallel, one thread each (default: every core)"),
    force: bool = typer.Option(False, "--force", help="recompute cells already written"),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="results folder (default results/<name>)"),
    progress: bool = typer.Option(True, "--progress/--no-progress"),
    figures: bool = typer.Option(True, "--figures/--no-figures"),
    engine: str = typer.Option("local", help="local (worker processes on this machine) or dask (dask.distributed)"),
    scheduler: Optional[str] = typer.Option(None, help="dask scheduler address (default: a local cluster)"),
) -> None:
    """Run a config: fit, forecast, score, write results and figures."""
    from fanlab.errors import DataError, EngineError
    from fanlab.engine.results import FolderError, WriteError, io_reason, show_path
    from fanlab.api import run_config

    if engine not in ("local", "joblib", "dask"):
        _fail(f"--engine: must be 'local' (alias 'joblib') or 'dask', got {engine!r}")
    cfg = _load(config)
    target = out_dir if out_dir is not None else cfg.out_dir()
    where = "--out"  # a config cannot choose its folder: --out is what picks another
    try:
        if target.exists() and not target.is_dir():
            _fail(f"{where}: {target} exists and is not a folder")
        for parent in target.parents:
            if parent.exists():
                if not parent.is_dir():
                    _fail(f"{where}: {parent} is not a folder, so {target} cannot be created")
                break
    except OSError as exc:  # a name too long, a symlink loop
        _fail(f"{where}: {show_path(target)}: {io_reason(exc)}")
    try:
        res = run_config(cfg, jobs=jobs, force=force, progress=progress and sys.stderr.isatty(), figures=figures,
                         out=out_dir, engine=engine, scheduler=scheduler)
    except EngineError as exc:
        _fail(str(exc))
    except FolderError as exc:
        _fail(f"{where}: {exc}")
    except WriteError as exc:
        _fail(str(exc))
    except DataError as exc:
        _fail(f"{config}: {_dataset_path(cfg, exc)}: {exc}")
    counts = {s: sum(v["status"] == s for v in res.statuses.values()) for s in ("done", "cached", "failed")}
    out.print(f"{res.out}: {counts['done']} cells run, {counts['cached']} cached, {counts['failed']} failed"
              + (f", {len(res.skipped)} skipped (no oracle)" if res.skipped else ""), highlight=False)
    for line in res.notes:
        _warn(line)
    if (res.out / "summary.csv").is_file():
        _print_summary(res.out / "summary.csv")
    if res.failed:
        err.print("[red]failed cells:[/red]")
        for key in res.failed:
            err.print(f"  {key}: {res.statuses[key]['error']}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)


def _print_summary(path: Path) -> None:
    import pandas as pd

    df = pd.read_csv(path)
    level = df["level"].max()
    df = df[df["level"] == level]  # the widest level; all levels are in summary.csv
    _print_coverage(df, f"coverage at level {level:g} (pooled, 95% CI; skill = 1 - CRPS/CRPS of "
                        f"climatology; all levels and columns in {path.name})",
                    lead=("dataset", "method"), with_crps=True)


def _num(r, col: str, fmt: str = ".3f") -> str:
    v = r.get(col, float("nan"))
    return "-" if v != v else format(v, fmt)  # NaN -> "-"


def _print_coverage(df, title: str, lead: tuple[str, ...], with_crps: bool) -> None:
    """One row per summary row: the `lead` columns as text, then coverage, CI, joint, width,
    and the skill columns; coverage of a band that is no interval prints as n/a."""
    table = Table(title=title)
    extra = ("skill h1", "skill", "w/oracle") if with_crps else ()
    for col in lead + ("coverage", "CI", "joint", "median w") + extra + ("note",):
        table.add_column(col)
    for _, r in df.iterrows():
        na = r["coverage"] != r["coverage"]
        note = r.get("note", "")
        cells = [str(r[c]) for c in lead] + [
            "n/a" if na else f"{r['coverage']:.3f}",
            "" if na else f"[{r['coverage_lo']:.3f}, {r['coverage_hi']:.3f}]",
            _num(r, "joint_coverage"), _num(r, "width_median", ".3g")]
        if with_crps:
            cells += [_num(r, "crps_skill_h1", ".2f"), _num(r, "crps_skill", ".2f"), _num(r, "width_ratio", ".2f")]
        table.add_row(*cells, "" if note != note else str(note))
    out.print(table)


@app.command()
def validate(configs: list[Path] = typer.Argument(..., help="YAML configs")) -> None:
    """Check configs (keys, names, params, types) and build their datasets and splits; fits nothing."""
    for config in configs:
        cfg = _load(config)
        for line in _check_data(config, cfg):
            _warn(line)
        out.print(f"{config}: ok ({len(cfg.datasets)} datasets x {len(cfg.methods)} methods x "
                  f"{len(cfg.seeds)} seeds, horizon {cfg.horizon}, levels {cfg.levels})", highlight=False)


@app.command()
def export(
    config: Path = typer.Argument(..., help="YAML config"),
    out_dir: Path = typer.Option(..., "--out", help="folder for the series, cutoffs, export.json and README.md"),
) -> None:
    """Write each dataset's series and the exact cutoffs and horizon a run scores, for
    forecasts made in another library (handed back with the `external` method)."""
    from fanlab.errors import DataError
    from fanlab.engine.export import export as export_config
    from fanlab.engine.results import WriteError, io_reason, show_path

    cfg = _load(config)
    if out_dir.exists() and not out_dir.is_dir():
        _fail(f"--out: {out_dir} exists and is not a folder")
    try:
        res = export_config(cfg, out_dir)
    except DataError as exc:
        _fail(f"{config}: {_dataset_path(cfg, exc)}: {exc}")
    except WriteError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"--out: cannot write {show_path(out_dir)}: {io_reason(exc)}")
    for line in res.notes:
        _warn(line)
    for key, d in res.info["datasets"].items():
        sf = d["statsforecast"]
        how = (f"statsforecast: h={sf['h']}, step_size={sf['step_size']}, n_windows="
               + "/".join(str(c["n_windows"]) for c in sf["calls"]) if sf["possible"]
               else "statsforecast: no cross_validation call gives these cutoffs")
        out.print(f"{out_dir / key}: {d['series']} series, {d['forecasts']} forecasts of h={d['h_max']} ({how})",
                  highlight=False)
    out.print(f"{out_dir / 'README.md'}: how to hand the forecasts back", highlight=False)


def _allowed(annotation) -> str:
    """The values a parameter allows where they are a fixed set ("none | mc_dropout"), else ''."""
    import typing

    values = []
    stack = [annotation]
    while stack:
        a = stack.pop()
        if typing.get_origin(a) is typing.Literal:
            values += [str(v) for v in typing.get_args(a)]
        elif typing.get_origin(a) in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
            stack += [x for x in typing.get_args(a) if x is not type(None)]
    return " | ".join(dict.fromkeys(values))


@app.command("list")
def list_(kind: str = typer.Argument("all", help="datasets | methods | metrics | all")) -> None:
    """Datasets, methods and metrics, with their parameters and defaults."""
    from fanlab import registry

    kinds = {"datasets": "dataset", "methods": "method"}
    for plural, k in kinds.items():
        if kind not in ("all", plural):
            continue
        table = Table(title=plural, show_lines=True)
        table.add_column("name")
        table.add_column("what")
        table.add_column("params (default)")
        for name, entry in registry.entries(k).items():
            params = []
            for fname, f in entry.params.model_fields.items():
                default = "required" if f.is_required() else repr(f.get_default(call_default_factory=True))
                allowed = _allowed(f.annotation)
                params.append(f"{fname} = {default}" + (f"  ({allowed})" if allowed else ""))
            table.add_row(name, entry.summary, "\n".join(params) or "-")
        out.print(table)
    if kind in ("all", "metrics"):
        from fanlab.metrics.summary import METRICS

        table = Table(title="metrics")
        table.add_column("metric")
        table.add_column("what")
        for name, what in METRICS.items():
            table.add_row(name, what)
        out.print(table)


@app.command()
def report(results: Path = typer.Argument(..., help="a results folder")) -> None:
    """Redraw the figures and the report (interactive report.html, summary.md) of a results folder."""
    from fanlab.errors import DataError
    from fanlab.engine.execute import default_jobs
    from fanlab.report.figures import make_figures
    from fanlab.report.build import check_readable, make_report
    from fanlab.engine.results import WriteError, io_reason

    try:
        check_readable(results)
        paths = make_figures(results, jobs=default_jobs())
        html_path, md_path = make_report(results)
    except WriteError as exc:  # a full or read-only disk
        _fail(str(exc))
    except OSError as exc:  # the same, met outside fanlab's own writes (a figure)
        _fail(f"{results}: cannot write the report: {io_reason(exc)}")
    except DataError as exc:  # a folder that is no (whole) results folder
        _fail(str(exc) if str(exc).startswith(str(results)) else f"{results}: {exc}")
    out.print(f"{len(paths)} figures in {results / 'figures'}; {html_path}; {md_path}", highlight=False)


@app.command()
def compare(
    results: list[Path] = typer.Argument(..., help="results folders (the first is the baseline)"),
    level: float = typer.Option(0.95, help="level of the table printed here"),
    out_file: Optional[Path] = typer.Option(None, "--out", help="also write an interactive page of all levels here (.html)"),
) -> None:
    """Side-by-side coverage of several runs: a table here, and with --out an interactive page
    (coverage, its difference to the first run with CIs, width, reliability, summary)."""
    import pandas as pd

    from fanlab.errors import DataError
    from fanlab.report.build import check_readable
    from fanlab.engine.results import WriteError, io_reason, show_path

    for r in results:
        try:
            check_readable(r)
        except DataError as exc:
            _fail(str(exc))
    if out_file is not None and out_file.is_dir():
        _fail(f"--out: {out_file} is a folder; give a file name such as compare.html")
    rows, levels = [], set()
    for r in results:
        df = pd.read_csv(r / "summary.csv")
        df.insert(0, "run", r.name)
        levels |= set(df["level"].dropna().round(9))
        rows.append(df[abs(df["level"] - level) < 1e-9])
    if not any(len(x) for x in rows):
        _fail(f"--level {level:g}: no run has this level (their levels: "
              f"{', '.join(f'{v:g}' for v in sorted(levels)) or 'none'})")
    _print_coverage(pd.concat(rows, ignore_index=True), f"coverage at level {level:g}",
                    lead=("run", "dataset", "method"), with_crps=False)
    if out_file is not None:
        from fanlab.report.compare import write_compare

        try:
            out.print(f"{write_compare(results, out_file)}", highlight=False)
        except WriteError as exc:
            _fail(str(exc))
        except OSError as exc:
            _fail(f"--out: cannot write {show_path(out_file)}: {io_reason(exc)}")
        except DataError as exc:
            _fail(str(exc))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
