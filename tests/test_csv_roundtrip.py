"""A synthetic series written to CSV and read back gives the same results as in memory."""

import numpy as np
import pandas as pd
import yaml
from typer.testing import CliRunner

from fanlab import registry
from fanlab.cli import app
from fanlab.config import parse_config
from fanlab.api import run_config as run

COMMON = {"horizon": 20, "levels": [0.8, 0.95], "seeds": [4], "stride": 5, "bootstrap": {"reps": 100},
          "methods": [{"name": "naive"}, {"name": "arima", "params": {"order": [1, 0, 1]}}]}
ARMA = {"ar": [0.6], "ma": [0.2], "n": 300}


def test_csv_round_trip_gives_identical_metrics(tmp_path):
    y = registry.build_dataset("arma", ARMA, seed=4)[0].values
    path = tmp_path / "series.csv"
    pd.DataFrame({"time": pd.date_range("2020-01-01", periods=y.size, freq="D"), "value": y}).to_csv(
        path, index=False, float_format="%.17g")
    mem = run(parse_config({**COMMON, "name": "mem", "out": str(tmp_path / "mem"),
                            "datasets": [{"name": "arma", "label": "d", "params": ARMA}]}), progress=False, figures=False)
    csv = run(parse_config({**COMMON, "name": "csv", "out": str(tmp_path / "csv"),
                            "datasets": [{"name": "csv", "label": "d",
                                          "params": {"path": str(path), "time": "time", "value": "value"}}]}),
              progress=False, figures=False)
    a = pd.read_parquet(mem.out / "metrics.parquet")
    b = pd.read_parquet(csv.out / "metrics.parquet")
    key = ["method", "seed", "h", "level", "metric"]
    a = a[a["series"] != "*"].sort_values(key, ignore_index=True)
    b = b[b["series"] != "*"].sort_values(key, ignore_index=True)
    assert len(a) == len(b) > 1000
    np.testing.assert_allclose(a["value"].to_numpy(), b["value"].to_numpy(), rtol=1e-9, equal_nan=True)


def test_bad_csv_exits_2_naming_file_column_and_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.csv").write_text("time,value\n2020-01-01,1.0\n2020-01-02,abc\n")
    raw = {**COMMON, "name": "bad", "datasets": [{"name": "csv", "params": {"path": "bad.csv", "time": "time",
                                                                            "value": "value"}}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(app, ["run", "c.yaml"])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "bad.csv" in out and "'value'" in out and "line 3" in out
    assert not (tmp_path / "results").exists()
