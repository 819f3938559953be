"""Naive and seasonal naive: hand-computed points and empirical error quantiles, no look-ahead."""

import numpy as np
import pytest

from fanlab.data.series import Series
from fanlab.data.splits import Split
from fanlab.context import BuildContext
from fanlab.models.naive import SeasonalNaiveForecaster, empirical_errors
from fanlab.registry import build_method


def _ctx(values, period=None):
    series = Series("s", np.asarray(values, dtype=float), period=period)
    n = len(values)
    return BuildContext(series=series, split=Split(n, n // 2, n // 2, n), horizon=2, stride=1)


def test_naive_quantiles_hand_computed():
    # training block y[:8]; origin 8 (y = 10).
    # h=1 errors y[s+1]-y[s], s=0..6: 2,-1,4,-2,1,4,-2 -> sorted -2,-2,-1,1,2,4,4 (n=7)
    #   type-7 positions p*(n-1): 0.25 -> 1.5 -> -1.5; 0.5 -> 3 -> 1; 0.75 -> 4.5 -> 3
    # h=2 errors y[s+2]-y[s], s=0..5: 1,3,2,-1,5,2 -> sorted -1,1,2,2,3,5 (n=6)
    #   0.25 -> 1.25 -> 1.25; 0.5 -> 2.5 -> 2; 0.75 -> 3.75 -> 2.75
    y = np.array([1, 3, 2, 6, 4, 5, 9, 7, 10, 8, 12], dtype=float)
    f = SeasonalNaiveForecaster(period=1).fit(y, train_end=8, seed=0)
    fc = f.predict(y, np.array([8]), 2, np.array([0.25, 0.5, 0.75]))
    np.testing.assert_allclose(fc.mean, [[10.0, 10.0]])
    np.testing.assert_allclose(fc.quantiles[0], [[8.5, 11.25], [11.0, 12.0], [13.0, 12.75]])
    # S = n_1 = 7: the h=1 samples are exactly point + the sorted h=1 errors
    np.testing.assert_allclose(np.sort(fc.samples[0, :, 0]), 10 + np.array([-2, -2, -1, 1, 2, 4, 4]))


def test_thinning_takes_evenly_spaced_order_statistics():
    y = np.array([1, 3, 2, 6, 4, 5, 9, 7, 10, 8, 12], dtype=float)
    fc = SeasonalNaiveForecaster(period=1, max_samples=3).fit(y, 8, 0).predict(y, np.array([8]), 2, np.array([0.5]))
    # three evenly spaced order statistics of 7 h=1 errors: min, median, max = -2, 1, 4
    np.testing.assert_allclose(fc.samples[0, :, 0], 10 + np.array([-2.0, 1.0, 4.0]))
    # of 6 h=2 errors at probabilities 0, 0.5, 1: -1, 2, 5
    np.testing.assert_allclose(fc.samples[0, :, 1], 10 + np.array([-1.0, 2.0, 5.0]))


def test_seasonal_naive_point_is_one_period_back():
    y = np.arange(40.0) ** 2
    f = SeasonalNaiveForecaster(period=4).fit(y, train_end=20, seed=0)
    fc = f.predict(y, np.array([30]), 9, np.array([0.5]))
    np.testing.assert_array_equal(fc.mean[0], y[[27, 28, 29, 30, 27, 28, 29, 30, 27]])


def test_seasonal_errors_hand_computed():
    # period 2, y[:7]; origins s = 1 .. 6 - h.
    # h=1 looks back 1: y[s+1] - y[s-1], s=1..5: 1, 2, 1, -1, 5
    # h=2 looks back 0: y[s+2] - y[s],   s=1..4: 2, 1, -1, 5
    y = np.array([1, 4, 2, 6, 3, 5, 8], dtype=float)
    e1, e2 = empirical_errors(y, horizon=2, period=2)
    np.testing.assert_array_equal(e1, [1, 2, 1, -1, 5])
    np.testing.assert_array_equal(e2, [2, 1, -1, 5])
    yy = np.r_[y, 7.0, 9.0]
    fc = SeasonalNaiveForecaster(period=2).fit(yy, 7, 0).predict(yy, np.array([6]), 2, np.array([0.5]))
    # point: y[5] = 5 at h=1, y[6] = 8 at h=2; medians of the errors 1 and 1.5
    np.testing.assert_allclose(fc.quantile(0.5), [[6.0, 9.5]])


@pytest.mark.parametrize("period,train_end,horizon", [(1, 5, 5), (4, 6, 3)])
def test_too_short_training_block_names_lengths(period, train_end, horizon):
    y = np.arange(30.0)
    f = SeasonalNaiveForecaster(period=period).fit(y, train_end, 0)
    with pytest.raises(ValueError, match=rf"{train_end} points.*{horizon} \+ {period} = {horizon + period}"):
        f.predict(y, np.array([train_end - 1]), horizon, np.array([0.5]))
    # one more training point gives exactly one h=H error
    f = SeasonalNaiveForecaster(period=period).fit(y, train_end + 1, 0)
    assert empirical_errors(y[: train_end + 1], horizon, period)[-1].size == 1
    f.predict(y, np.array([train_end]), horizon, np.array([0.5]))


def test_registry_period_from_series_and_error_without():
    y = np.arange(50.0)
    assert build_method("seasonal_naive", {}, _ctx(y, period=12)).period == 12
    assert build_method("seasonal_naive", {"period": 7}, _ctx(y, period=12)).period == 7
    assert build_method("naive", {}, _ctx(y)).period == 1
    with pytest.raises(ValueError, match="needs a period"):
        build_method("seasonal_naive", {}, _ctx(y))


@pytest.mark.parametrize("period", [1, 7])
def test_no_lookahead(period):
    rng = np.random.default_rng(3)
    y = np.cumsum(rng.standard_normal(300)) + 10 * np.sin(np.arange(300) * 2 * np.pi / 7)
    train_end, horizon, probs = 150, 20, np.array([0.05, 0.5, 0.95])
    origins = np.array([149, 180, 220, 279])
    fc = SeasonalNaiveForecaster(period).fit(y, train_end, 0).predict(y, origins, horizon, probs)
    for k, t in enumerate(origins):
        y2 = y.copy()
        y2[t + 1 :] += rng.normal(0, 100, size=y.size - t - 1)
        fc2 = SeasonalNaiveForecaster(period).fit(y2, train_end, 0).predict(y2, origins[k : k + 1], horizon, probs)
        np.testing.assert_array_equal(fc2.quantiles[0], fc.quantiles[k])
        np.testing.assert_array_equal(fc2.samples[0], fc.samples[k])
        np.testing.assert_array_equal(fc2.mean[0], fc.mean[k])
