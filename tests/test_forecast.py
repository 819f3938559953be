import numpy as np
import pytest
from scipy.stats import norm

from fanlab.data.splits import SplitError, make_split
from fanlab.forecast import FINE_LEVELS, Forecast, gaussian_forecast, level_probs, probs_for_levels, sample_forecast


def test_level_maps_to_central_probabilities():
    assert level_probs(0.95) == (0.025, 0.975)
    assert level_probs(0.5) == (0.25, 0.75)
    with pytest.raises(ValueError):
        level_probs(1.0)


def test_fine_grid_and_levels_share_probabilities():
    probs = probs_for_levels(list(FINE_LEVELS) + [0.8, 0.95])
    assert len(FINE_LEVELS) == 19 and FINE_LEVELS[0] == 0.05 and FINE_LEVELS[-1] == 0.95
    # 0.8 and 0.95 are on the fine grid: no duplicate probabilities from rounding
    assert probs.size == 2 * 19 + 1
    assert np.all(np.diff(probs) > 0)


def test_gaussian_interval_is_exact():
    mean, sd = np.full((2, 3), 1.0), np.array([[1.0, 2.0, 3.0]] * 2)
    fc = gaussian_forecast(np.array([5, 9]), mean, sd, probs_for_levels([0.9]))
    lo, hi = fc.interval(0.9)
    np.testing.assert_allclose(hi - lo, 2 * norm.ppf(0.95) * sd)
    with pytest.raises(KeyError):
        fc.interval(0.8)


def test_forecast_rejects_bad_shapes():
    with pytest.raises(ValueError, match="quantiles"):
        Forecast(np.arange(2), np.zeros((2, 3)), np.array([0.5]), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="probs"):
        Forecast(np.arange(2), np.zeros((2, 3)), np.array([0.5, 0.2]), np.zeros((2, 2, 3)))


def test_sample_forecast_quantiles_and_select():
    rng = np.random.default_rng(0)
    s = rng.normal(size=(3, 4000, 2))
    fc = sample_forecast(np.array([1, 2, 3]), s, np.array([0.1, 0.5, 0.9]))
    np.testing.assert_allclose(fc.quantile(0.9), np.quantile(s, 0.9, axis=1))
    sub = fc.select(np.array([2]))
    assert sub.origins.tolist() == [3] and sub.samples.shape == (1, 4000, 2)


def test_split_blocks_and_origins():
    sp = make_split(1000, 0.6, 0.2, 0.2, horizon=100)
    assert (sp.train_end, sp.cal_end, sp.test_end) == (600, 800, 1000)
    o = sp.test_origins(100, 10)
    # first origin forecasts the first test point; last target is the last point
    assert o[0] == 799 and o[-1] + 100 <= 999 and o[-1] + 10 + 100 > 999
    c = sp.cal_origins(100, 1)
    assert c[0] == 599 and c[-1] + 100 == 799


def test_split_too_short_says_how_long():
    with pytest.raises(SplitError, match=r"series 'x' has 400 points.*at least 500 points"):
        make_split(400, 0.6, 0.2, 0.2, horizon=100, series="x")
    with pytest.raises(SplitError, match="at least 350"):
        make_split(300, 200, 50, 50, horizon=100, series="x")
