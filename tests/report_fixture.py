"""A tiny real run for the report tests: two datasets, the two references, naive, ARIMA and
one method that fails on every cell (seasonal naive on a series without a period)."""

from __future__ import annotations

from pathlib import Path

from fanlab.config import parse_config
from fanlab.api import run_config as run

RAW = {
    "name": "report_tiny",
    "horizon": 20,
    "levels": [0.8, 0.95],
    "seeds": [0, 1],
    "stride": 5,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2},
    "bootstrap": {"reps": 100},
    "datasets": [{"name": "arma", "label": "ar1", "params": {"ar": [0.6], "n": 300}},
                 {"name": "arma", "label": "ar9", "params": {"ar": [0.9], "sigma": 2.0, "n": 300}}],
    "methods": [{"name": "oracle"}, {"name": "climatology"}, {"name": "naive"},
                {"name": "arima", "params": {"order": [1, 0, 0]}}, {"name": "seasonal_naive"}],
}


def make_run(out: Path, figures: bool = True, **over) -> Path:
    """Run the tiny config into `out` (cells of seasonal_naive fail; the others finish)."""
    cfg = parse_config({**RAW, **over, "out": str(out)})
    res = run(cfg, progress=False, figures=figures)
    assert res.failed and (res.out / "report.html").is_file()
    return res.out


def write_monthly_csv(path: Path, n: int = 96) -> Path:
    """Two dated monthly series (wide: columns `north`, `south`), the second with a long
    name-free note-worthy trend, as a user's own CSV would hold them."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    t = np.arange(n)
    frame = pd.DataFrame({
        "month": pd.date_range("2015-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
        "north": 10 + 2 * np.sin(2 * np.pi * t / 12) + np.cumsum(rng.normal(0, 0.3, n)),
        "south": 5 + 0.05 * t + rng.normal(0, 1.0, n)})
    frame.to_csv(path, index=False, float_format="%.4f")
    return path


CSV_RAW = {
    "name": "report_csv", "horizon": 12, "levels": [0.8, 0.95], "seeds": [0, 1], "stride": 3,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2}, "bootstrap": {"reps": 100},
    "methods": [{"name": "climatology"}, {"name": "naive"}, {"name": "arima", "params": {"order": [1, 0, 0]}}],
}


def make_csv_run(out: Path, figures: bool = False) -> Path:
    """The dated two-series CSV run: monthly stamps, two series, two seeds (so two to four
    replications: no CI worth drawing)."""
    csv_path = write_monthly_csv(Path(out).parent / "monthly.csv")
    raw = {**CSV_RAW, "out": str(out),
           "datasets": [{"name": "csv", "label": "monthly", "params": {
               "path": str(csv_path), "time": "month", "value": ["north", "south"], "freq": "MS"}}]}
    res = run(parse_config(raw), progress=False, figures=figures)
    assert not res.failed and (res.out / "report.html").is_file()
    return res.out


_CSV_RUN: dict[str, Path] = {}


def csv_run_once(tmp_path_factory) -> Path:
    """`make_csv_run` once per test process (the page and browser tests share it)."""
    if "out" not in _CSV_RUN:
        _CSV_RUN["out"] = make_csv_run(tmp_path_factory.mktemp("csv_run") / "res")
    return _CSV_RUN["out"]


def doctor_many_arms(run_dir: Path, out: Path) -> Path:
    """A copy of the tiny run read as a study of many arms: its config names a headline
    (dataset ar9, methods arima and naive) and lists the datasets in reverse name order, and
    naive's pooled coverage on ar9 at 0.95 is set to 0.1 (an arm far off); the report rebuilt."""
    import shutil

    import pandas as pd
    import yaml

    from fanlab.report.build import make_report

    out = Path(shutil.copytree(run_dir, out))
    cfg = yaml.safe_load((out / "config.yaml").read_text())
    cfg["datasets"] = list(reversed(cfg["datasets"]))
    cfg["report"] = {"headline_datasets": ["ar9"], "headline_methods": ["arima", "naive"]}
    (out / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    m = pd.read_parquet(out / "metrics.parquet")
    far = ((m["dataset"] == "ar9") & (m["method"] == "naive") & (m["series"] == "*") & (m["h"] >= 1)
           & (m["metric"] == "coverage") & ((m["level"] - 0.95).abs() < 1e-9))
    m.loc[far, "value"] = 0.1
    m.to_parquet(out / "metrics.parquet")
    make_report(out)
    return out
