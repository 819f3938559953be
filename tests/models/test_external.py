"""Forecasts made elsewhere, scored end to end: exports shaped like statsforecast's and
darts', converted with the README's recipes, give the same scores as the forecasts themselves."""

import numpy as np
import pandas as pd
import pytest

from fanlab import registry
from fanlab.config import parse_config
from fanlab.data.splits import make_split
from fanlab.errors import DataError
from fanlab.forecast import probs_for_levels
from fanlab.models.external import ExternalForecaster
from fanlab.api import run_config as run

H, LEVELS = 10, [0.8, 0.95]
DATA = {"name": "arma", "label": "ar", "params": {"ar": [0.7], "n": 400}}
SPLIT = {"train": 0.6, "cal": 0.2, "test": 0.2}


def _oracle_forecasts():
    s = registry.build_dataset("arma", DATA["params"], 0)[0]
    sp = make_split(len(s), 0.6, 0.2, 0.2, horizon=H)
    origins = sp.test_origins(H, 5)
    probs = probs_for_levels(LEVELS)
    return s, origins, s.oracle().fit(s.values, sp.train_end, 0).predict(s.values, origins, H, probs)


def statsforecast_shaped(origins, fc, name="arma_0") -> pd.DataFrame:
    """One frame per origin as `StatsForecast.forecast(h, level=[80, 95])` returns it, stacked."""
    parts = []
    for k, t in enumerate(origins):
        d = {"unique_id": name, "ds": np.arange(t + 1, t + H + 1), "cutoff": t, "Model": fc.mean[k]}
        for lv in LEVELS:
            lo, hi = fc.interval(lv)
            d[f"Model-lo-{int(lv * 100)}"], d[f"Model-hi-{int(lv * 100)}"] = lo[k], hi[k]
        parts.append(pd.DataFrame(d))
    return pd.concat(parts, ignore_index=True)


def from_statsforecast(sf: pd.DataFrame, model: str = "Model") -> pd.DataFrame:
    """The README recipe: melt the lo/hi columns into level + side rows."""
    cols = [c for c in sf.columns if c.startswith(f"{model}-")]
    long = sf.melt(id_vars=["unique_id", "ds", "cutoff", model], value_vars=cols, value_name="value")
    parts = long["variable"].str.extract(r"-(lo|hi)-(\d+)$")
    return pd.DataFrame({"series": long["unique_id"], "origin": long["cutoff"], "h": long["ds"] - long["cutoff"],
                         "side": parts[0], "level": parts[1].astype(float), "value": long["value"],
                         "mean": long[model]})


def test_statsforecast_export_scores_like_the_forecasts(tmp_path):
    s, origins, fc = _oracle_forecasts()
    path = tmp_path / "sf.csv"
    from_statsforecast(statsforecast_shaped(origins, fc)).to_csv(path, index=False)
    cfg = parse_config({"name": "ext", "horizon": H, "levels": LEVELS, "seeds": [0], "stride": 5,
                        "split": SPLIT, "datasets": [DATA], "out": str(tmp_path / "res"),
                        "methods": [{"name": "oracle"}, {"name": "climatology"},
                                    {"name": "external", "params": {"path": str(path)}}]})
    res = run(cfg, progress=False, figures=False)
    assert not res.failed, res.statuses
    summ = pd.read_csv(res.out / "summary.csv").set_index(["method", "level"])
    for lv in LEVELS:
        for col in ("coverage", "width", "interval_score", "joint_coverage", "coverage_h1"):
            assert summ.loc[("external", lv), col] == pytest.approx(summ.loc[("oracle", lv), col], rel=1e-9)
        assert summ.loc[("external", lv), "width_ratio"] == pytest.approx(1.0)
    assert summ.loc[("external", 0.95), "mae_ratio"] == pytest.approx(1.0)
    warn = res.statuses[f"ar__{s.name}__external__s0"]["warnings"]
    assert any("interpolated" in w for w in warn)  # the fine grid was filled in, and said so


def test_darts_style_quantile_columns(tmp_path):
    """darts: `quantile_df(q)` per quantile gives columns '<component>_<q>'; melt them to prob rows."""
    s, origins, fc = _oracle_forecasts()
    rows = []
    for k, t in enumerate(origins):
        wide = pd.DataFrame({f"y_{p:g}": fc.quantiles[k, j] for j, p in enumerate(fc.probs)})
        wide["h"] = np.arange(1, H + 1)
        long = wide.melt(id_vars="h", var_name="col", value_name="value")
        long["prob"] = long["col"].str.split("_").str[-1].astype(float)
        long["origin"] = t
        rows.append(long[["origin", "h", "prob", "value"]])
    path = tmp_path / "darts.parquet"
    pd.concat(rows).to_parquet(path)
    model = ExternalForecaster(str(path), s.name).fit(s.values, 240, 0)
    out = model.predict(s.values, origins, H, fc.probs)
    np.testing.assert_allclose(out.quantiles, fc.quantiles, rtol=1e-12)


def test_clear_errors(tmp_path):
    s, origins, fc = _oracle_forecasts()
    good = from_statsforecast(statsforecast_shaped(origins, fc))
    need = probs_for_levels(LEVELS, median=False)

    def fails(frame, match, probs=need):
        p = tmp_path / "f.csv"
        frame.to_csv(p, index=False)
        with pytest.raises(DataError, match=match):
            ExternalForecaster(str(p), s.name, probs).fit(s.values, 240, 0).predict(s.values, origins, H, fc.probs)

    fails(good[good["origin"] != origins[2]], "no forecast for all 10 steps of origin")
    fails(good[good["level"] != 95], "lacks probabilities")
    crossed = good.copy()
    crossed.loc[(crossed["side"] == "lo") & (crossed["level"] == 95), "value"] += 100.0
    fails(crossed, "quantiles cross")
    fails(good.drop(columns=["value"]), "missing column")
    with pytest.raises(DataError, match="not found"):
        ExternalForecaster(str(tmp_path / "nope.csv"), s.name).fit(s.values, 240, 0)
