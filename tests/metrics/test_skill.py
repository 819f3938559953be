"""Skill and conditional-coverage functions against small hand-computed arrays."""

import numpy as np
import pandas as pd
import pytest

from fanlab.metrics.aggregate import band_degenerate
from fanlab.metrics.batch import cell_metrics
from fanlab.metrics.frames import cell_frame
from fanlab.metrics.summary import band_note
from fanlab.forecast import Forecast, probs_for_levels
from fanlab.metrics import skill
from fanlab.metrics.reference import reference_metrics


def test_crps_skill_is_a_skill_of_mean_scores():
    crps = np.array([[1.0, 2.0], [3.0, 2.0]])  # means (2, 2)
    ref = np.array([[2.0, 4.0], [2.0, 4.0]])  # means (2, 4)
    np.testing.assert_allclose(skill.crps_skill(crps, ref), [0.0, 0.5])
    # not the mean of per-origin ratios: (1 - 1/2 + 1 - 3/2) / 2 = 0 too here, so check another
    crps2 = np.array([[0.5], [3.5]])
    ref2 = np.array([[1.0], [3.0]])
    assert skill.crps_skill(crps2, ref2)[0] == pytest.approx(1 - 2.0 / 2.0)
    assert np.mean(1 - crps2 / ref2) != pytest.approx(0.0)


def test_skill_nan_without_a_reference():
    assert np.isnan(skill.skill(1.0, 0.0))
    assert np.isnan(skill.skill(1.0, np.inf))
    np.testing.assert_allclose(skill.ratio([2.0, 3.0], [4.0, 0.0]), [0.5, np.nan])


def test_excess_width_and_mae_ratios():
    a = np.array([[1.0, 4.0], [3.0, 2.0]])
    b = np.array([[1.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(skill.crps_excess(a, b), [1.0, 1.0])
    np.testing.assert_allclose(skill.width_ratio(a, b), [2.0, 1.5])
    np.testing.assert_allclose(skill.mae_ratio(a, b), [2.0, 1.5])
    assert skill.width_ratio(np.array([[np.inf]]), np.array([[2.0]]))[0] == np.inf


def test_state_bins_terciles_and_ties():
    state = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    # edges at the 1/3 and 2/3 quantiles: 2.667 and 4.333
    np.testing.assert_array_equal(skill.state_bins(state), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(skill.state_bins(np.array([1.0, np.nan, 3.0])), [0, -1, 2])
    # a state that does not vary has no bins
    np.testing.assert_array_equal(skill.state_bins(np.full(5, 2.0)), [-1] * 5)
    # (K, H): each column binned on its own
    st = np.array([[1.0, 30.0], [2.0, 20.0], [3.0, 10.0]])
    np.testing.assert_array_equal(skill.state_bins(st), [[0, 2], [1, 1], [2, 0]])


def test_conditional_coverage_by_hand():
    hits = np.array([[1, 1], [1, 0], [0, 0], [1, 1]], dtype=bool)
    bins = np.array([0, 0, 2, 2])  # per origin
    np.testing.assert_allclose(skill.conditional_coverage(hits, bins), [0.75, np.nan, 0.5])
    bins2 = np.array([[0, 1], [0, 1], [1, 1], [2, 2]])
    np.testing.assert_allclose(skill.conditional_coverage(hits, bins2), [1.0, 0.25, 1.0])
    with pytest.raises(ValueError):
        skill.conditional_coverage(hits, np.zeros((4, 3), dtype=int))


def test_state_blind_forecaster_is_visible():
    """Climatology on a series whose spread switches: calibrated on average, not by state."""
    rng = np.random.default_rng(0)
    k = 3000
    sd = np.where(np.arange(k) % 2 == 0, 0.5, 2.0)
    y = rng.normal(scale=sd)[:, None]  # (K, 1)
    # a band calibrated on the mixture: +-q where P(|y| <= q) = 0.9 over both states
    q = np.quantile(np.abs(y), 0.9)
    hits = np.abs(y) <= q
    cov = skill.conditional_coverage(hits, skill.state_bins(sd, 2), 2)
    assert hits.mean() == pytest.approx(0.9, abs=0.01)
    assert cov[0] > 0.99 and cov[1] < 0.85


def test_recent_volatility_reads_only_the_past():
    y = np.array([0.0, 1.0, 3.0, 6.0, 10.0, 100.0])
    v = skill.recent_volatility(y, np.array([1, 3, 4]), window=2)
    assert np.isnan(v[0])
    assert v[1] == pytest.approx(np.std([2.0, 3.0]))
    assert v[2] == pytest.approx(np.std([3.0, 4.0]))  # y[5] = 100 is not read


def _fc(origins, mean, half):
    probs = probs_for_levels([0.5, 0.9])
    k, h = mean.shape
    z = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])[None, :, None]
    q = mean[:, None, :] + z * half
    return Forecast(origins=origins, mean=mean, probs=probs, quantiles=np.broadcast_to(q, (k, 5, h)).copy())


def test_point_forecast_coverage_is_nan_not_zero():
    y = np.arange(20, dtype=float)
    origins = np.array([5, 8])
    fc = _fc(origins, np.zeros((2, 3)), 0.0)
    frame = cell_frame(fc, y, {"dataset": "d", "series": "s", "method": "m", "seed": 0})
    rows = cell_metrics(frame, [0.9], [0.5, 0.9], scale=None)
    cov = rows[(rows["metric"] == "coverage")]["value"]
    assert cov.isna().all()
    assert rows[rows["metric"] == "zero_width_share"]["value"].iloc[0] == 1.0
    assert band_degenerate(np.zeros((2, 3))) and band_degenerate(np.full((2, 3), np.inf))
    assert not band_degenerate(np.array([[0.0, np.inf]]))
    assert band_note(1.0, 0.0).startswith("n/a") and band_note(0.0, 1.0).startswith("n/a")
    assert "2.5% infinite" in band_note(0.0, 0.025)


def test_reference_rows_by_hand():
    """Method with half the oracle's CRPS excess, matched origin by origin."""
    k, h = 4, 2
    origins = np.arange(10, 10 + k)
    y = np.zeros(40)
    arrays = {}
    for lab, half, bias in (("orc", 1.0, 0.0), ("clim", 2.0, 0.0), ("m", 1.5, 1.0)):
        fc = _fc(origins, np.full((k, h), bias), half)
        frame = cell_frame(fc, y, {"dataset": "d", "series": "s", "method": lab, "seed": 0})
        from fanlab.metrics.frames import frame_arrays

        arrays[lab] = [("s", 0, frame_arrays(frame))]
    rows = reference_metrics("d", arrays, [0.9], "clim", "orc")

    def v(method, metric, hh=0, level=None):
        r = rows[(rows["method"] == method) & (rows["metric"] == metric) & (rows["h"] == hh)]
        if level is not None:
            r = r[np.isclose(r["level"], level)]
        return float(r["value"].iloc[0])

    crps = {lab: float(a[0][2]["crps"].mean()) for lab, a in arrays.items()}
    assert v("m", "crps_skill") == pytest.approx(1 - crps["m"] / crps["clim"])
    assert v("clim", "crps_skill") == pytest.approx(0.0)
    assert v("m", "crps_excess") == pytest.approx(crps["m"] - crps["orc"])
    assert np.isnan(v("m", "mae_ratio"))  # the oracle's MAE is 0: no ratio
    assert v("m", "width_ratio", level=0.9) == pytest.approx(1.5)
    assert v("clim", "width_ratio", 1, level=0.9) == pytest.approx(2.0)
    # the oracle's spread is the same at every origin: no state bins
    assert not rows["metric"].str.startswith("cond_coverage").any()
    assert isinstance(rows, pd.DataFrame)


def test_scaled_crps_is_crps_over_the_naive_scale_and_absent_without_one():
    y = np.arange(20, dtype=float)
    fc = _fc(np.array([5, 8]), np.zeros((2, 3)), 1.0)
    frame = cell_frame(fc, y, {"dataset": "d", "series": "s", "method": "m", "seed": 0})
    rows = cell_metrics(frame, [0.9], [0.9], scale=2.5)
    crps = rows[rows["metric"] == "crps"].sort_values("h")["value"].to_numpy()
    scaled = rows[rows["metric"] == "scaled_crps"].sort_values("h")["value"].to_numpy()
    np.testing.assert_allclose(scaled, crps / 2.5)
    assert crps.shape == (3,) and np.all(crps > 0)
    assert "scaled_crps" not in set(cell_metrics(frame, [0.9], [0.9], scale=None)["metric"])
