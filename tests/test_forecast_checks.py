"""Fuzz: `check_forecast` passes every honest forecast and names the first flaw of a broken one;
a step whose band has zero width at every origin is n/a at that step, and only there."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fanlab.errors import ForecastError
from fanlab.forecast import Forecast, probs_for_levels
from fanlab.metrics.batch import cell_metrics
from fanlab.metrics.frames import cell_frame
from fanlab.metrics.evaluate import check_forecast, check_forecasts, readonly

FUZZ = settings(max_examples=60, deadline=None)


@st.composite
def forecasts(draw):
    """An honest forecast: K origins, Q probabilities, H steps, quantiles non-decreasing along Q
    (ties and infinite outer quantiles allowed)."""
    k, q, h = draw(st.integers(1, 6)), draw(st.integers(1, 5)), draw(st.integers(1, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    origins = np.sort(rng.choice(np.arange(10, 200), size=k, replace=False))
    probs = np.sort(rng.choice(np.arange(1, 100), size=q, replace=False)) / 100.0
    steps = rng.exponential(size=(k, q, h)) * (rng.random((k, q, h)) > 0.2)  # some ties
    quant = rng.normal(scale=10 ** rng.uniform(-3, 6)) + np.cumsum(steps, axis=1)
    if draw(st.booleans()):
        quant[:, 0, :] = np.where(rng.random((k, h)) < 0.3, -np.inf, quant[:, 0, :])
        quant[:, -1, :] = np.where(rng.random((k, h)) < 0.3, np.inf, quant[:, -1, :])
    return Forecast(origins=origins, mean=rng.normal(size=(k, h)), probs=probs, quantiles=quant), rng


def _check(fc, origins=None, horizon=None, probs=None):
    return check_forecast(fc, fc.origins if origins is None else origins, fc.horizon if horizon is None else horizon,
                          fc.probs if probs is None else probs, "m")


@FUZZ
@given(forecasts())
def test_an_honest_forecast_passes(case):
    fc, _ = case
    assert _check(fc) is fc


@FUZZ
@given(forecasts(), st.sampled_from(["mean", "quantiles"]), st.integers(1, 4))
def test_nan_is_refused_at_its_first_origin_and_step(case, where, n_bad):
    fc, rng = case
    arr = getattr(fc, where).copy()
    flat = rng.choice(arr.size, size=min(n_bad, arr.size), replace=False)
    arr.flat[flat] = np.nan
    first = np.argwhere(np.isnan(arr))[0]
    broken = Forecast(origins=fc.origins, mean=arr if where == "mean" else fc.mean, probs=fc.probs,
                      quantiles=arr if where == "quantiles" else fc.quantiles)
    with pytest.raises(ForecastError) as err:
        _check(broken)
    msg = str(err.value)
    assert msg.startswith("method 'm': NaN ")
    assert f"at origin {fc.origins[first[0]]}, step h = {first[-1] + 1}" in msg
    if where == "quantiles":
        assert f"(p = {fc.probs[first[1]]:g})" in msg


@FUZZ
@given(forecasts())
def test_crossing_quantiles_are_refused_at_the_first_crossing(case):
    fc, rng = case
    if fc.probs.size < 2:
        return
    q = fc.quantiles.copy()
    finite = np.isfinite(q[:, :-1, :]) & np.isfinite(q[:, 1:, :])
    if not finite.any():
        return
    cand = np.argwhere(finite)
    k, j, h = cand[rng.integers(len(cand))]
    q[k, j + 1, h] = q[k, j, h] - 1e-6 * (1 + abs(q[k, j, h])) - rng.exponential()
    drop = np.where(np.isfinite(q[:, :-1, :]) | np.isfinite(q[:, 1:, :]), q[:, :-1, :] - q[:, 1:, :], 0.0)
    fk, fj, fh = np.argwhere(drop > 1e-9 * (1 + np.abs(q[:, :-1, :])))[0]
    with pytest.raises(ForecastError, match=rf"quantiles cross along Q at origin {fc.origins[fk]}, "
                                            rf"step h = {fh + 1}: q\({fc.probs[fj]:g}\)"):
        _check(Forecast(origins=fc.origins, mean=fc.mean, probs=fc.probs, quantiles=q))


@FUZZ
@given(forecasts())
def test_rounding_is_not_crossing(case):
    fc, _ = case
    q = fc.quantiles.copy()
    upper = q[:, 1:, :]
    fin = np.isfinite(upper)
    upper[fin] -= 1e-12 * (1 + np.abs(upper[fin]))  # ties become a hair lower: still one quantile
    _check(Forecast(origins=fc.origins, mean=fc.mean, probs=fc.probs, quantiles=q))


@FUZZ
@given(forecasts(), st.integers(-3, 3), st.integers(-2, 2))
def test_other_origins_or_horizon_are_refused(case, shift, extra):
    fc, rng = case
    asked = fc.origins + shift
    if shift:
        with pytest.raises(ForecastError, match=rf"forecast origin {fc.origins[0]} where origin {asked[0]}"):
            _check(fc, origins=asked)
    if fc.origins.size > 1:
        keep = int(rng.integers(1, fc.origins.size))
        with pytest.raises(ForecastError, match=rf"forecast for {keep} of {fc.origins.size} origins; first "
                                                rf"missing origin {fc.origins[keep]}"):
            _check(fc.select(np.arange(keep)), origins=fc.origins)
    if extra and fc.horizon + extra >= 1:
        with pytest.raises(ForecastError, match=rf"forecast of {fc.horizon} steps where the horizon is "
                                                rf"{fc.horizon + extra} \(first offending step h = "
                                                rf"{min(fc.horizon, fc.horizon + extra) + 1}\)"):
            _check(fc, horizon=fc.horizon + extra)


@FUZZ
@given(forecasts())
def test_other_probabilities_are_refused(case):
    fc, _ = case
    with pytest.raises(ForecastError, match="quantiles at probabilities"):
        _check(fc, probs=np.append(fc.probs, 0.995) if fc.probs[-1] < 0.995 else fc.probs[:-1])


@pytest.mark.parametrize("returned, says", [(None, "predict returned None"), ({"mean": 1}, "predict returned a dict"),
                                            ("ok", "predict returned a str")])
def test_what_is_no_forecast_is_refused(returned, says):
    with pytest.raises(ForecastError, match=f"method 'm': {says}, not a fanlab.Forecast"):
        check_forecast(returned, np.arange(3), 4, np.array([0.5]), "m")


def test_a_global_method_answers_one_forecast_or_none_per_series():
    fc = Forecast(origins=np.array([5]), mean=np.zeros((1, 2)), probs=np.array([0.5]), quantiles=np.zeros((1, 1, 2)))
    o = [np.array([5]), np.array([5])]
    assert check_forecasts([fc, None], o, 2, np.array([0.5]), "g", ["a", "b"]) == [fc, None]
    with pytest.raises(ForecastError, match=r"predict returned 1 forecasts, not a list of 2"):
        check_forecasts([fc], o, 2, np.array([0.5]), "g", ["a", "b"])
    with pytest.raises(ForecastError, match="method 'g', series 'b': forecast of 2 steps where the horizon is 3"):
        check_forecasts([None, fc], o, 3, np.array([0.5]), "g", ["a", "b"])


def test_readonly_copies_and_refuses_writes():
    y = np.arange(5.0)
    r = readonly(y)
    with pytest.raises(ValueError, match="read-only"):
        r[0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        r -= 1.0
    y[0] = 9.0
    assert r[0] == 0.0  # a copy: what the method sees never changes under it


@FUZZ
@given(st.integers(3, 12), st.integers(2, 9), st.sets(st.integers(0, 8), max_size=9), st.integers(0, 2**32 - 1))
def test_zero_width_at_every_origin_is_na_at_that_step_only(k, h, dead, seed):
    rng = np.random.default_rng(seed)
    dead = sorted(d for d in dead if d < h)
    probs = probs_for_levels([0.8])
    origins = np.arange(k) * 3 + 20
    y = rng.normal(size=origins.max() + h + 1)
    mean = rng.normal(size=(k, h))
    half = rng.exponential(size=(k, h)) + 0.1
    half[:, dead] = 0.0
    some = rng.integers(h)  # zero width at some origins of another step is still an interval there
    half[0, some] = 0.0
    q = np.stack([mean - half, mean, mean + half], axis=1)
    fc = Forecast(origins=origins, mean=mean, probs=probs, quantiles=q)
    frame = cell_frame(fc, y, {"dataset": "d", "series": "s", "method": "m", "seed": 0})
    rows = cell_metrics(frame, [0.8], [0.8], None)
    cov = rows[(rows["metric"] == "coverage") & (rows["h"] > 0)].sort_values("h")["value"].to_numpy()
    hits = ((q[:, 0] <= frame["y"].to_numpy().reshape(k, h)) & (frame["y"].to_numpy().reshape(k, h) <= q[:, 2]))
    if len(dead) == h:  # no interval anywhere: the whole band is n/a (the older rule)
        assert np.isnan(cov).all()
        return
    assert np.flatnonzero(np.isnan(cov)).tolist() == dead
    live = [i for i in range(h) if i not in dead]
    np.testing.assert_allclose(cov[live], hits[:, live].mean(axis=0))
    steps = rows[rows["metric"] == "interval_steps"]["value"].tolist()
    assert steps == ([float(len(live))] if dead else [])
    joint = rows[rows["metric"] == "joint_coverage"]["value"].iloc[0]
    assert joint == pytest.approx(hits[:, live].all(axis=1).mean())
