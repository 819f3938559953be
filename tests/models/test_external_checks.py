"""External forecast files complete or refused (issue 20 part 4): a `series` column where the
dataset has several series, a `seed` column where the config's seeds give other series,
infinite quantiles read exactly, every check run by `fanlab validate` before any fit, and
relative paths read against the config file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.special import ndtri
from typer.testing import CliRunner

from fanlab import registry
from fanlab.cli import app
from fanlab.config import load_config
from fanlab.data.splits import make_split
from fanlab.forecast import probs_for_levels
from fanlab.models.external import _interp
from fanlab.api import run_config as run

H, LEVELS = 5, [0.8, 0.95]
PROBS = probs_for_levels(LEVELS)
COMMON = {"horizon": H, "levels": LEVELS, "stride": 5, "bootstrap": {"reps": 100},
          "split": {"train": 0.6, "cal": 0.2, "test": 0.2}}


def oracle_rows(params: dict, seeds=(0,), with_series=True, with_seed=False) -> pd.DataFrame:
    """The oracle's quantiles as a long external file, for every series and seed."""
    parts = []
    for seed in seeds:
        for s in registry.build_dataset("arma", params, seed):
            sp = make_split(len(s), 0.6, 0.2, 0.2, horizon=H)
            origins = sp.test_origins(H, 5)
            fc = s.oracle().fit(s.values, sp.train_end, seed).predict(s.values, origins, H, PROBS)
            k, q, h = np.meshgrid(np.arange(origins.size), np.arange(PROBS.size), np.arange(H), indexing="ij")
            d = {"origin": origins[k.ravel()], "h": h.ravel() + 1, "prob": PROBS[q.ravel()],
                 "value": fc.quantiles[k.ravel(), q.ravel(), h.ravel()]}
            if with_series:
                d["series"] = s.name
            if with_seed:
                d["seed"] = seed
            parts.append(pd.DataFrame(d))
    return pd.concat(parts, ignore_index=True)


def _cfg(tmp_path, params, seeds=(0,), path="fc.csv", name="c.yaml") -> str:
    cfg = tmp_path / name
    cfg.write_text(yaml.safe_dump({**COMMON, "name": "ext", "seeds": list(seeds),
                                   "datasets": [{"name": "arma", "label": "ar", "params": params}],
                                   "methods": [{"name": "oracle"}, {"name": "climatology"},
                                               {"name": "external", "label": "ext", "params": {"path": path}}]}))
    return str(cfg)


def _refused(cfg: str, *words: str) -> str:
    for cmd in (["validate", cfg], ["run", cfg, "-j", "1", "--no-figures"]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert res.output.strip().count("\n") == 0 or len(text) > 160, res.output  # one line (wrapped)
        assert "methods[2].params" in text and "fc.csv" in text
        for w in words:
            assert w in text, text
    return text


TWO = {"ar": [0.6], "n": 150, "n_series": 2}


def test_a_file_without_series_column_on_two_series_is_refused(tmp_path):
    oracle_rows(TWO, with_series=False).drop_duplicates(["origin", "h", "prob"]).to_csv(tmp_path / "fc.csv",
                                                                                         index=False)
    _refused(_cfg(tmp_path, TWO), "dataset 'ar' has 2 series", "'series' column")
    assert not (tmp_path / "results").exists()


def test_a_file_without_seed_column_on_two_seeds_of_a_synthetic_dataset_is_refused(tmp_path):
    one = {"ar": [0.6], "n": 150}
    oracle_rows(one, seeds=(0,)).to_csv(tmp_path / "fc.csv", index=False)
    _refused(_cfg(tmp_path, one, seeds=(0, 1)), "'seed' column", "[0, 1]")


def test_with_a_seed_column_each_seed_is_scored_against_its_own_rows(tmp_path):
    one = {"ar": [0.6], "n": 150}
    oracle_rows(one, seeds=(0, 1), with_seed=True).to_csv(tmp_path / "fc.csv", index=False)
    res = run(load_config(_cfg(tmp_path, one, seeds=(0, 1))), out=tmp_path / "res", progress=False, figures=False)
    assert not res.failed
    m = pd.read_parquet(res.out / "metrics.parquet")
    rows = m[(m["metric"] == "coverage") & (m["series"] != "*") & m["level"].isin(LEVELS)]
    cov = rows.pivot_table(index=["seed", "level", "h"], columns="method", values="value")
    assert len(cov) == 2 * len(LEVELS) * H
    np.testing.assert_allclose(cov["ext"].to_numpy(), cov["oracle"].to_numpy(), atol=1e-12)
    # the file's seed 1 rows differ from seed 0's: the check is not vacuous
    fc = pd.read_csv(tmp_path / "fc.csv")
    assert not np.allclose(fc[fc.seed == 0]["value"].to_numpy(), fc[fc.seed == 1]["value"].to_numpy())


def test_a_seed_missing_from_the_seed_column_is_refused(tmp_path):
    one = {"ar": [0.6], "n": 150}
    oracle_rows(one, seeds=(0,), with_seed=True).to_csv(tmp_path / "fc.csv", index=False)
    _refused(_cfg(tmp_path, one, seeds=(0, 1)), "seed 1", "no forecasts for seed 1")


def test_interpolation_next_to_an_infinite_quantile_is_exact():
    have = np.array([0.025, 0.1, 0.5, 0.9, 0.975])
    knots = np.array([[-np.inf, -1.0, 0.0, 1.0, np.inf]])
    want = np.array([0.01, 0.025, 0.05, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975, 0.99])
    q = _interp(knots, ndtri(have), ndtri(want))[0]
    assert q[0] == q[1] == q[2] == -np.inf and q[-1] == q[-2] == q[-3] == np.inf
    assert (q[3], q[5], q[7]) == (-1.0, 0.0, 1.0)  # a knot reads as itself
    z = ndtri(np.array([0.3, 0.7]))
    np.testing.assert_allclose(q[[4, 6]], z / ndtri(0.9), rtol=1e-12)  # linear in z between finite knots
    assert not np.isnan(q).any()
    # strictly between -inf and +inf there is no value: NaN there only
    both = _interp(np.array([[-np.inf, np.inf]]), ndtri(np.array([0.1, 0.9])), ndtri(np.array([0.05, 0.1, 0.5, 0.95])))
    assert both[0, 0] == -np.inf and both[0, 1] == -np.inf and np.isnan(both[0, 2]) and both[0, 3] == np.inf


def test_a_minus_inf_lower_quantile_leaves_the_finite_bands_scored_as_they_are(tmp_path):
    one = {"ar": [0.6], "n": 150}
    rows = oracle_rows(one)
    rows = rows[np.isin(rows["prob"].round(6), [0.025, 0.1, 0.5, 0.9, 0.975])].copy()
    rows.loc[rows["prob"].round(6) == 0.025, "value"] = -np.inf  # a band open below at 95%
    rows.to_csv(tmp_path / "fc.csv", index=False)
    res = run(load_config(_cfg(tmp_path, one)), out=tmp_path / "res", progress=False, figures=False)
    assert not res.failed, res.statuses
    s = pd.read_csv(res.out / "summary.csv").set_index(["method", "level"])
    assert s.loc[("ext", 0.8), "coverage"] == s.loc[("oracle", 0.8), "coverage"]
    assert s.loc[("ext", 0.8), "width"] == pytest.approx(s.loc[("oracle", 0.8), "width"], rel=1e-9)
    fc = pd.read_parquet(res.out / "forecasts.parquet")
    ext = fc[fc["method"] == "ext"]
    assert np.isfinite(ext["lo_0.8"]).all() and (ext["lo_0.95"] == -np.inf).all()


def test_validate_opens_the_external_file(tmp_path):
    one = {"ar": [0.6], "n": 150}
    cfg = _cfg(tmp_path, one)
    _refused(cfg, "not found")
    (tmp_path / "fc.csv").write_text("origin,h,value\n1,1,0.5\n")
    _refused(cfg, "missing column(s) ['prob']")
    rows = oracle_rows(one)
    rows[rows["origin"] != rows["origin"].max()].to_csv(tmp_path / "fc.csv", index=False)
    _refused(cfg, "no forecast for all 5 steps of origin(s)")
    rows = oracle_rows(one)
    rows[~np.isclose(rows["prob"], 0.975)].to_csv(tmp_path / "fc.csv", index=False)
    _refused(cfg, "lacks probabilities [0.975]")
    rows = oracle_rows(one)
    rows.loc[np.isclose(rows["prob"], 0.9), "value"] = -50.0
    rows.to_csv(tmp_path / "fc.csv", index=False)
    _refused(cfg, "quantiles cross at origin")
    oracle_rows(one).to_csv(tmp_path / "fc.csv", index=False)
    res = CliRunner().invoke(app, ["validate", cfg])
    assert res.exit_code == 0, res.output


def test_a_relative_path_is_read_against_the_config_file(tmp_path, monkeypatch):
    one = {"ar": [0.6], "n": 150}
    (tmp_path / "study").mkdir()
    oracle_rows(one).to_csv(tmp_path / "study" / "fc.csv", index=False)
    cfg = _cfg(tmp_path / "study", one)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    res = CliRunner().invoke(app, ["run", cfg, "-j", "1", "--no-figures", "--out", str(tmp_path / "res")])
    assert res.exit_code == 0, res.output
    s = pd.read_csv(tmp_path / "res" / "summary.csv").set_index(["method", "level"])
    assert s.loc[("ext", 0.95), "coverage"] == s.loc[("oracle", 0.95), "coverage"]
