"""End to end: a small config through the runner and the CLI."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from fanlab.cli import app
from fanlab.config import parse_config
from fanlab.engine.results import cell_path
from fanlab.api import run_config as run

RAW = {
    "name": "tiny",
    "horizon": 20,
    "levels": [0.8, 0.95],
    "seeds": [0, 1],
    "stride": 5,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2},
    "bootstrap": {"reps": 100},
    "datasets": [{"name": "arma", "label": "ar1", "params": {"ar": [0.6], "n": 300}}],
    "methods": [{"name": "oracle"}, {"name": "naive"}, {"name": "arima", "params": {"order": [1, 0, 0]}}],
}


def _cfg(tmp_path, **over):
    raw = {**RAW, **over, "out": str(tmp_path / "res")}
    return parse_config(raw)


def test_run_writes_the_schema(tmp_path):
    cfg = _cfg(tmp_path)
    res = run(cfg, progress=False, figures=False)
    out = res.out
    assert not res.failed
    for name in ("config.yaml", "manifest.json", "forecasts.parquet", "metrics.parquet", "summary.csv"):
        assert (out / name).is_file(), name
    fc = pd.read_parquet(out / "forecasts.parquet")
    assert list(fc.columns[:8]) == ["dataset", "series", "method", "seed", "origin", "h", "y", "mean"]
    assert {"lo_0.8", "hi_0.8", "lo_0.95", "hi_0.95", "pit", "crps"} <= set(fc.columns)
    # 60 test points, H=20, stride 5 -> origins 239, 244, ..., 279: 9 origins x 20 steps per cell
    cell = fc[(fc["method"] == "naive") & (fc["seed"] == 0)]
    assert sorted(cell["origin"].unique()) == list(range(239, 280, 5))
    assert len(cell) == 9 * 20
    # y is the realised series value at origin + h (the same for every method)
    a = fc[fc["method"] == "naive"].set_index(["seed", "origin", "h"])["y"]
    b = fc[fc["method"] == "oracle"].set_index(["seed", "origin", "h"])["y"]
    pd.testing.assert_series_equal(a.sort_index(), b.sort_index())
    m = pd.read_parquet(out / "metrics.parquet")
    assert list(m.columns) == ["dataset", "series", "method", "seed", "h", "level", "metric", "value"]
    # per-cell coverage recomputed by hand from the forecasts file
    sel = cell[cell["h"] == 3]
    by_hand = ((sel["y"] >= sel["lo_0.95"]) & (sel["y"] <= sel["hi_0.95"])).mean()
    row = m[(m["method"] == "naive") & (m["seed"] == 0) & (m["metric"] == "coverage") & (m["h"] == 3)
            & np.isclose(m["level"], 0.95)]
    assert row["value"].item() == pytest.approx(by_hand)
    # pooled over both seeds
    both = fc[(fc["method"] == "naive") & (fc["h"] == 3)]
    pooled = m[(m["series"] == "*") & (m["method"] == "naive") & (m["metric"] == "coverage") & (m["h"] == 3)
               & np.isclose(m["level"], 0.95)]
    assert pooled["value"].item() == pytest.approx(((both["y"] >= both["lo_0.95"]) & (both["y"] <= both["hi_0.95"])).mean())
    s = pd.read_csv(out / "summary.csv")
    assert set(s["method"]) == {"oracle", "naive", "arima"} and len(s) == 3 * 2
    assert (s["coverage_lo"] <= s["coverage"]).all() and (s["coverage"] <= s["coverage_hi"]).all()
    man = json.loads((out / "manifest.json").read_text())
    assert man["counts"]["done"] == 6 and man["versions"]["fanlab"]


def test_same_config_same_bytes(tmp_path):
    a = run(_cfg(tmp_path / "a"), progress=False, figures=False).out
    b = run(_cfg(tmp_path / "b"), progress=False, figures=False).out
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()
    assert (a / "forecasts.parquet").read_bytes() == (b / "forecasts.parquet").read_bytes()
    assert (a / "summary.csv").read_bytes() == (b / "summary.csv").read_bytes()


def test_resume_recomputes_only_the_deleted_cell(tmp_path):
    cfg = _cfg(tmp_path)
    first = run(cfg, progress=False, figures=False)
    metrics = (first.out / "metrics.parquet").read_bytes()
    cell_path(first.out, "ar1__arma_0__naive__s1").unlink()
    second = run(cfg, progress=False, figures=False)
    status = {k: v["status"] for k, v in second.statuses.items()}
    assert status.pop("ar1__arma_0__naive__s1") == "done"
    assert set(status.values()) == {"cached"}
    assert (second.out / "metrics.parquet").read_bytes() == metrics
    forced = run(cfg, progress=False, figures=False, force=True)
    assert {v["status"] for v in forced.statuses.values()} == {"done"}
    # a changed method spec changes the hash: that cell reruns, the others stay cached
    cfg2 = parse_config({**RAW, "out": str(tmp_path / "res"),
                         "methods": RAW["methods"][:2] + [{"name": "arima", "params": {"order": [2, 0, 0]}}]})
    third = run(cfg2, progress=False, figures=False)
    assert {k for k, v in third.statuses.items() if v["status"] == "done"} == {
        "ar1__arma_0__arima__s0", "ar1__arma_0__arima__s1"}


def test_failing_cell_is_recorded_and_others_finish(tmp_path):
    # seasonal naive needs a period; the AR series has none -> that cell fails
    cfg = _cfg(tmp_path, methods=[{"name": "naive"}, {"name": "seasonal_naive"}])
    res = run(cfg, progress=False, figures=False)
    assert sorted(res.failed) == ["ar1__arma_0__seasonal_naive__s0", "ar1__arma_0__seasonal_naive__s1"]
    man = json.loads((res.out / "manifest.json").read_text())
    bad = man["cells"]["ar1__arma_0__seasonal_naive__s0"]
    assert bad["status"] == "failed" and "period" in bad["error"] and bad["traceback"]
    s = pd.read_csv(res.out / "summary.csv")
    assert set(s["method"]) == {"naive"}


def test_cli_run_exit_codes_and_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = {**RAW, "seeds": [0], "methods": [{"name": "naive"}, {"name": "seasonal_naive"}]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(app, ["run", "c.yaml", "--no-progress"])
    assert res.exit_code == 1, res.output
    assert "ar1__arma_0__seasonal_naive__s0" in res.output
    res_dir = tmp_path / "results" / "tiny"
    assert (res_dir / "figures" / "coverage_ar1.png").is_file()
    page = (res_dir / "report.html").read_text()
    pngs = len(list((res_dir / "figures").glob("*.png")))
    assert pngs >= 5 and len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) == pngs and "ar1__arma_0__seasonal_naive__s0" in page
    md = (res_dir / "summary.md").read_text()
    # the markdown table carries summary.csv's numbers
    s = pd.read_csv(res_dir / "summary.csv")
    row = s[(s["method"] == "naive") & (s["level"] == 0.95)].iloc[0]
    assert f"| ar1 | naive | {row['coverage']:.3f} [" in md
    raw["methods"] = [{"name": "naive"}]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(app, ["run", "c.yaml", "--no-progress"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["compare", "results/tiny", "results/tiny", "--level", "0.8"])
    assert res.exit_code == 0 and "naive" in res.output


def test_data_error_exits_2_before_writing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    raw = {**RAW, "horizon": 200}  # test block of 60 points cannot hold 200 steps
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(raw))
    res = CliRunner().invoke(app, ["run", "c.yaml"])
    assert res.exit_code == 2
    assert "ar1/arma_0" in res.output and "at least 1000 points" in res.output
    assert not (tmp_path / "results").exists()


def test_parallel_jobs_give_the_same_numbers(tmp_path):
    a = run(_cfg(tmp_path / "a"), progress=False, figures=False, jobs=1).out
    b = run(_cfg(tmp_path / "b"), progress=False, figures=False, jobs=2).out
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()


def test_cli_list_and_validate(tmp_path):
    res = CliRunner().invoke(app, ["list"])
    assert res.exit_code == 0
    for word in ("arma", "co2", "arima", "conformal", "joint_coverage"):
        assert word in res.output


def test_seeds_of_one_real_series_do_not_narrow_the_ci(tmp_path):
    base = {**RAW, "horizon": 20, "stride": 5, "datasets": [{"name": "electricity_daily"}],
            "methods": [{"name": "naive"}]}
    one = run(parse_config({**base, "seeds": [0], "out": str(tmp_path / "one")}), progress=False, figures=False).out
    two = run(parse_config({**base, "seeds": [0, 1], "out": str(tmp_path / "two")}), progress=False, figures=False).out
    a, b = pd.read_csv(one / "summary.csv"), pd.read_csv(two / "summary.csv")
    cols = ["coverage", "coverage_lo", "coverage_hi", "joint_coverage_lo", "n_origins"]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    assert (a["coverage_hi"] > a["coverage_lo"]).all()


def test_ci_is_nan_when_too_few_origins_for_two_blocks(tmp_path):
    # one series, 9 origins < 2 blocks of 5: no honest bootstrap interval
    cfg = _cfg(tmp_path, seeds=[0], bootstrap={"reps": 100, "block": 5})
    s = pd.read_csv(run(cfg, progress=False, figures=False).out / "summary.csv")
    assert s["coverage_lo"].isna().all() and s["coverage"].notna().all()
    assert set(s["ci_method"]) == {"none"}


def test_ci_between_replications_is_a_t_interval_on_series_coverages(tmp_path):
    from scipy.stats import t as student_t

    cfg = _cfg(tmp_path, seeds=[0, 1, 2])
    out = run(cfg, progress=False, figures=False).out
    fc = pd.read_parquet(out / "forecasts.parquet")
    fc = fc[fc["method"] == "naive"]
    inside = (fc["y"] >= fc["lo_0.8"]) & (fc["y"] <= fc["hi_0.8"])
    per_seed = inside.groupby(fc["seed"]).mean().to_numpy()  # each replication's coverage over all steps
    half = student_t.ppf(0.975, 2) * per_seed.std(ddof=1) / np.sqrt(3)
    s = pd.read_csv(out / "summary.csv")
    row = s[(s["method"] == "naive") & (s["level"] == 0.8)].iloc[0]
    assert row["coverage"] == pytest.approx(inside.mean())
    assert row["coverage_lo"] == pytest.approx(max(0.0, inside.mean() - half))
    assert row["coverage_hi"] == pytest.approx(min(1.0, inside.mean() + half))
    assert row["ci_method"] == "between-series t" and row["n_units"] == 3


def test_dask_engine_gives_the_same_numbers(tmp_path):
    pytest.importorskip("distributed")
    a = run(_cfg(tmp_path / "a"), progress=False, figures=False, jobs=1).out
    b = run(_cfg(tmp_path / "b"), progress=False, figures=False, jobs=2, engine="dask").out
    assert (a / "metrics.parquet").read_bytes() == (b / "metrics.parquet").read_bytes()
    with pytest.raises(ValueError, match="engine"):
        run(_cfg(tmp_path / "c"), progress=False, figures=False, engine="spark")


def test_dask_holds_the_later_cells_of_a_fit_group_until_the_one_before_finishes(tmp_path):
    from fanlab.engine.execute import held_by_group

    # cells 1, 3, 4 share fit A, cells 2 and 5 fit B; 0 and 6 share nothing
    now, held = held_by_group([None, "A", "B", "A", "A", "B", None], 7)
    assert now == [0, 1, 2, 6] and held == {"A": [3, 4], "B": [5]}
    assert held_by_group(None, 3) == ([0, 1, 2], {})
    pytest.importorskip("distributed")
    # three arms on one ARIMA fit per seed: every held cell still runs, with the numbers of one process
    arima = {"name": "arima", "params": {"order": [1, 0, 0]}}
    methods = [arima, {"name": "conformal", "label": "conf", "params": {"base": arima, "method": "split"}},
               {"name": "conformal", "label": "aci", "params": {"base": arima, "method": "aci"}}]
    a = run(_cfg(tmp_path / "a", methods=methods), progress=False, figures=False, jobs=1).out
    b = run(_cfg(tmp_path / "b", methods=methods), progress=False, figures=False, jobs=2, engine="dask")
    assert json.loads((b.out / "manifest.json").read_text())["counts"] == {"done": 6, "cached": 0, "failed": 0}
    assert (a / "metrics.parquet").read_bytes() == (b.out / "metrics.parquet").read_bytes()
    assert len(list((b.out / "fits").glob("*.pkl"))) == 2  # one ARIMA fit per seed, shared


def test_dask_without_a_scheduler_is_one_line_exit_2(tmp_path):
    """A scheduler that cannot be reached (as inside a network namespace without loopback) is
    a clear error naming the engine, not a minute of retries and a long traceback."""
    import time

    from typer.testing import CliRunner

    from fanlab.cli import app

    cfg = tmp_path / "c.yaml"
    cfg.write_text("name: d\nhorizon: 5\nsplit: {train: 0.6, cal: 0.2, test: 0.2}\n"
                   "datasets: [{name: arma, params: {n: 200}}]\nmethods: [{name: naive}]\n")
    t0 = time.time()
    res = CliRunner().invoke(app, ["run", str(cfg), "--out", str(tmp_path / "o"), "--engine", "dask",
                                   "--scheduler", "tcp://127.0.0.1:9", "--no-progress", "--no-figures"])
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --engine dask: could not reach the scheduler at "
                                                   "tcp://127.0.0.1:9"), lines
    assert time.time() - t0 < 60


def test_forecasts_carry_the_time_of_each_target_where_the_series_has_one(tmp_path):
    import pandas as pd

    from fanlab import registry
    from fanlab.config import parse_config

    cfg = parse_config({"name": "ts", "horizon": 12, "stride": 50, "split": {"train": 0.6, "cal": 0.2, "test": 0.2},
                        "datasets": [{"name": "retail_employment"}, {"name": "arma", "params": {"n": 300}}],
                        "methods": [{"name": "naive"}]})
    res = run(cfg, root=tmp_path, jobs=1, progress=False, figures=False)
    assert not res.failed
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    real = fc[fc["dataset"] == "retail_employment"]
    index = registry.build_dataset("retail_employment", {}, 0)[0].index
    assert (real["time"].to_numpy() == index[real["origin"] + real["h"]].to_numpy()).all()
    assert fc[fc["dataset"] == "arma"]["time"].isna().all()  # a synthetic series has no time stamps


def test_quantiles_file_holds_every_fine_grid_quantile_of_each_forecast_row(tmp_path):
    from fanlab.schema import prob_col

    cfg = _cfg(tmp_path, quantiles=True, seeds=[0])
    res = run(cfg, jobs=1, progress=False, figures=False)
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    q = pd.read_parquet(res.out / "quantiles.parquet")
    keys = ["dataset", "series", "method", "seed", "origin", "h"]
    assert q[keys].equals(fc[keys])  # the same rows, in the same order: joinable on the keys
    assert [c for c in q.columns if c.startswith("q_")] == [prob_col(p) for p in cfg.probs]
    cell = pd.read_parquet(cell_path(res.out, "ar1__arma_0__arima__s0")).sort_values(["origin", "h"], ignore_index=True)
    mine = q[q["method"] == "arima"].sort_values(["origin", "h"], ignore_index=True)
    for p in cfg.probs:
        np.testing.assert_array_equal(mine[prob_col(p)].to_numpy(), cell[prob_col(p)].to_numpy())
    np.testing.assert_array_equal(q.loc[fc["method"] == "arima", prob_col(0.9)].to_numpy(),
                                  fc.loc[fc["method"] == "arima", "hi_0.8"].to_numpy())
    # the same folder rerun without the key: no stale file of the earlier run stays behind
    again = run(_cfg(tmp_path, seeds=[0]), jobs=1, progress=False, figures=False)
    assert not (again.out / "quantiles.parquet").exists()


def test_a_series_named_like_the_global_cell_is_refused_before_anything_runs(tmp_path):
    import numpy as np

    path = tmp_path / "long.csv"
    rng = np.random.default_rng(0)
    rows = ["id,y"] + [f"{name},{v:.4f}" for name in ("panel", "b") for v in rng.normal(size=120)]
    path.write_text("\n".join(rows) + "\n")
    cfg = parse_config({"name": "clash", "horizon": 5, "stride": 5, "out": str(tmp_path / "res"),
                        "datasets": [{"name": "csv", "label": "mine",
                                      "params": {"path": str(path), "series_id": "id", "value": "y"}}],
                        "methods": [{"name": "naive"}]})
    from fanlab.errors import DataError

    with pytest.raises(DataError, match="dataset 'mine': file .*long.csv', column 'id', line 2: series id 'panel' is reserved"):
        run(cfg, jobs=1, progress=False, figures=False)
    assert not (tmp_path / "res" / "cells").exists()
