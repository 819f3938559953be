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
