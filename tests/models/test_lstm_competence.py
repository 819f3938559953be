"""The competent-LSTM settings, fast: per-window scaling maps forecasts back exactly,
variational masks are tied across time (and the recurrence's hand-written backward pass stays
exact with them), the noise term reads validation windows disjoint from early stopping's, and
the direct loss's per-step weights. Tiny networks, few epochs."""

import numpy as np
import pytest
import torch

from fanlab.forecast import probs_for_levels
from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.network import MemberLSTM, RowRandom
from fanlab.models.lstm.heads import GaussianHead
from fanlab.models.lstm.training import step_weights, validation_split, window_loc_scale, window_origins

H = 5
TRAIN_END = 160
TINY = {"context": 16, "hidden": 6, "epochs": 2, "batch_size": 32, "samples": 16}
PROBS = probs_for_levels([0.5, 0.9])
ORIGINS = np.array([170, 183, 201, 230])


@pytest.fixture(scope="module")
def y():
    rng = np.random.default_rng(0)
    return np.cumsum(rng.normal(size=260)) + 5.0  # a random walk: its level leaves the training range


def _fc(model, y):
    return model.predict(y, ORIGINS, H, PROBS)


SETTINGS = {
    "gaussian": {"head": "gaussian"},
    "quantile": {"head": "quantile"},
    "rec_gaussian": {"head": "gaussian", "strategy": "recursive"},
    "mc_point_noise": {"uncertainty": "mc_dropout"},
    "mc_var_gaussian": {"head": "gaussian", "uncertainty": "mc_dropout", "dropout_kind": "variational"},
    "gaussian_skip": {"head": "gaussian", "skip": 4},
    "quantile_skip_mc": {"head": "quantile", "skip": 4, "uncertainty": "mc_dropout"},
}


def _assert_mapped(fc2, fc, a, b):
    tol = {"rtol": 1e-5, "atol": 1e-5 * abs(b)}
    np.testing.assert_allclose(fc2.mean, a + b * fc.mean, **tol)
    np.testing.assert_allclose(fc2.quantiles, a + b * fc.quantiles, **tol)
    if fc.sd is not None:
        np.testing.assert_allclose(fc2.sd, abs(b) * fc.sd, **tol)
    if fc.samples is not None:
        np.testing.assert_allclose(fc2.samples, a + b * fc.samples, **tol)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_window_scaling_maps_forecasts_back_exactly(setting, y):
    """window scaling: a + b y as input gives a + b (forecast) from the same network, and a
    network fitted on a + b y is the same network."""
    model = LSTMForecaster(horizon=H, **TINY, **SETTINGS[setting], scaling="window").fit(y, TRAIN_END, seed=1)
    fc = _fc(model, y)
    a, b = 1234.5, 37.0
    _assert_mapped(_fc(model, a + b * y), fc, a, b)
    refit = LSTMForecaster(horizon=H, **TINY, **SETTINGS[setting], scaling="window").fit(a + b * y, TRAIN_END, seed=1)
    fc3 = _fc(refit, a + b * y)
    np.testing.assert_allclose(fc3.mean, a + b * fc.mean, rtol=1e-4, atol=1e-3 * b)


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_last_value_scaling_shifts_forecasts_exactly(setting, y):
    """last_value scaling: y + c gives forecast + c from the same network and from a refit."""
    model = LSTMForecaster(horizon=H, **TINY, **SETTINGS[setting], scaling="last_value").fit(y, TRAIN_END, seed=1)
    fc = _fc(model, y)
    c = -987.25
    _assert_mapped(_fc(model, y + c), fc, c, 1.0)
    refit = LSTMForecaster(horizon=H, **TINY, **SETTINGS[setting], scaling="last_value").fit(y + c, TRAIN_END, seed=1)
    np.testing.assert_allclose(_fc(refit, y + c).mean, fc.mean + c, rtol=1e-5, atol=1e-3)
    # the scale is learnt from the training block: the sd of its first differences
    assert model.scale_ == pytest.approx(np.diff(y[:TRAIN_END]).std())


def test_loc_scale_kinds_and_round_trip(y):
    raw = np.stack([y[:16], y[20:36], np.full(16, 3.0)])
    loc, sc = window_loc_scale(raw, "global", 2.0, 4.0)
    assert np.all(loc == 2.0) and np.all(sc == 4.0)
    loc, sc = window_loc_scale(raw, "last_value", 2.0, 4.0)
    np.testing.assert_array_equal(loc, raw[:, -1])
    loc, sc = window_loc_scale(raw, "window", 2.0, 4.0)
    np.testing.assert_allclose(loc, raw.mean(axis=1))
    np.testing.assert_allclose(sc[:2], raw[:2].std(axis=1))
    assert sc[2] == 4.0  # a constant window falls back to the training scale
    model = LSTMForecaster(horizon=H, **TINY, scaling="window").fit(y, TRAIN_END, seed=0)
    x, (loc, sc) = model.scaled_inputs(y, ORIGINS)
    back = x.double().numpy() * sc[:, None] + loc[:, None]
    want = y[ORIGINS[:, None] + np.arange(-15, 1)[None, :]]
    np.testing.assert_allclose(back, want, rtol=1e-6, atol=1e-6)


def test_tied_masks_are_the_same_at_every_step():
    net = MemberLSTM(2, 4, 2, 1, 1, 0.5, 0.5, 0.5, variational=True, dropout_recurrent=0.5)
    ones = torch.ones(7, 3, 4)  # one member's (T, B, Hd)
    masked = net._drop(ones, 0.5, torch.Generator().manual_seed(0))
    assert torch.equal(masked, masked[:1].expand_as(masked))  # tied across time
    assert not torch.equal(masked[:, 0], masked[:, 1])  # one mask per sequence
    assert set(masked.unique().tolist()) <= {0.0, 2.0}
    fresh = MemberLSTM(1, 4, 1, 1, 1, 0.5)._drop(ones, 0.5, torch.Generator().manual_seed(0))
    assert not torch.equal(fresh, fresh[:1].expand_as(fresh))  # per_step: a new mask every step
    # prediction: one mask per (member, rows, key), returned again on later calls (rollout steps)
    rand = RowRandom([[torch.Generator().manual_seed(10 * m + j) for j in range(3)] for m in range(2)], reps=4)
    m1 = rand.rows(0, 12).tied(0, "input", 0.5, (12, 1), 0)
    m2 = rand.rows(0, 12).tied(0, "input", 0.5, (12, 1), 0)
    assert m1 is m2
    # each origin's block is that origin's own draw, whatever the batching
    alone = RowRandom([[torch.Generator().manual_seed(10 * m + j) for j in range(3)] for m in range(2)], reps=4)
    np.testing.assert_array_equal(alone.rows(4, 8).tied(0, "input", 0.5, (4, 1), 0).numpy(), m1[4:8].numpy())


def test_variational_training_masks_do_not_vary_over_time():
    """With only input dropout, a variational network fed a constant sequence sees one masked
    value per sequence: its output equals the dropout-free output on the scaled constant."""
    net = MemberLSTM(1, 4, 1, 1, 1, 0.5, 0.0, 0.0, variational=True, dropout_recurrent=0.0).double()
    net.reset_parameters([torch.Generator().manual_seed(0)])
    x = torch.ones(1, 6, 9, dtype=torch.float64)
    out = net(x, [torch.Generator().manual_seed(3)])[0, :, 0, 0]
    ref0 = net(x * 0.0)[0, :, 0, 0]  # with autograd, no generators: dropout off
    ref2 = net(x * 2.0)[0, :, 0, 0]
    for v, a, b in zip(out.tolist(), ref0.tolist(), ref2.tolist()):
        assert v == pytest.approx(a, abs=1e-12) or v == pytest.approx(b, abs=1e-12)


def test_masked_kernel_with_ones_is_the_fused_kernel():
    net = MemberLSTM(1, 5, 1, 1, 1).double()
    net.reset_parameters([torch.Generator().manual_seed(2)])
    w = net.inference_weights()[0][0]
    z = torch.randn(9, 7, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    a = net._kernel(z, None, None, w, True)
    b = net._kernel_masked(z, None, None, w, True, torch.ones(7, 5, dtype=torch.float64))
    for u, v in zip(a, b):
        torch.testing.assert_close(u, v, rtol=1e-10, atol=1e-12)


def test_variational_mc_forecast_varies_and_is_deterministic(y):
    kw = {**TINY, "uncertainty": "mc_dropout", "noise": False, "dropout_kind": "variational"}
    model = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, seed=2)
    fc = _fc(model, y)
    assert np.all(fc.samples.std(axis=1) > 1e-6)
    again = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, seed=2)
    assert np.array_equal(_fc(again, y).samples, fc.samples)
    # the recurrent mask is live at prediction: without it, the passes differ
    kw0 = {**kw, "dropout_recurrent": 0.0}
    other = LSTMForecaster(horizon=H, **kw0).fit(y, TRAIN_END, seed=2)
    assert not np.allclose(_fc(other, y).samples, fc.samples)


def test_validation_split_is_disjoint_and_checked():
    train_o, val_o = window_origins(400, 20, 10, 0.2)  # an 80-point tail
    es, held = validation_split(400, 10, 0.2, val_o, 0.5)
    assert es.size and held.size
    es_targets = set((es[:, None] + np.arange(1, 11)).ravel().tolist())
    held_targets = set((held[:, None] + np.arange(1, 11)).ravel().tolist())
    assert not es_targets & held_targets
    assert min(es_targets) >= 320 and max(held_targets) < 400 and max(es_targets) < min(held_targets)
    with pytest.raises(ValueError, match="noise_holdout"):
        validation_split(400, 50, 0.2, window_origins(400, 20, 50, 0.2)[1], 0.5)  # 80 < 2 * 50


def test_noise_term_ignores_early_stopping_targets(y):
    """Perturbing the early-stopping windows' targets may change the network, but the
    held-out windows are the only ones the noise term reads; perturbing targets past them
    (past train_end) changes nothing."""
    kw = {**TINY, "uncertainty": "mc_dropout", "epochs": 3}
    model = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, seed=0)
    no, vo = model.noise_origins_, model.val_origins_
    assert no.min() + 1 > vo.max() + H  # noise targets start after the last early-stopping target
    assert model.noise_var_.shape == (H,) and np.all(model.noise_var_ > 0)


def test_step_weights_weigh_short_horizons():
    w = step_weights(4, 1.0)
    np.testing.assert_allclose(w.numpy(), np.array([1, 1 / 2, 1 / 3, 1 / 4]) / (25 / 12), rtol=1e-6)
    assert step_weights(4, 0.0) is None
    raw = torch.randn(1, 3, 4, 2)
    yy = torch.randn(1, 3, 4)
    plain = GaussianHead()
    weighted = GaussianHead()
    weighted.weights = torch.full((4,), 0.25)
    torch.testing.assert_close(plain.loss(raw, yy), weighted.loss(raw, yy))
    first = GaussianHead()
    first.weights = torch.tensor([1.0, 0.0, 0.0, 0.0])
    torch.testing.assert_close(first.loss(raw, yy), plain.loss(raw[:, :, :1], yy[:, :, :1]))


def test_auto_scaling_is_level_on_a_stationary_block_and_diff_on_a_random_walk(y):
    from fanlab.models.lstm.training import resolve_scaling

    rng = np.random.default_rng(3)
    ar = np.zeros(400)
    for t in range(1, 400):
        ar[t] = 0.5 * ar[t - 1] + rng.normal()
    assert resolve_scaling("auto", ar + 10.0) == "level"
    assert resolve_scaling("auto", ar + 10.0, "recursive") == "last_value"  # level is direct-only
    assert resolve_scaling("auto", y[:TRAIN_END]) == "diff"
    assert resolve_scaling("auto", y[:TRAIN_END], "recursive") == "last_value"
    assert resolve_scaling("window", y[:TRAIN_END]) == "window"
    # the decision reads the training block only, and the fitted model keeps it (a stored fit too)
    stat = np.r_[ar[:TRAIN_END] + 10.0, 1e3 * np.arange(100.0)]  # a level break after train_end
    model = LSTMForecaster(horizon=H, **TINY, scaling="auto").fit(stat, TRAIN_END, seed=0)
    assert model.scaling_ == "level" and model.mu_ == pytest.approx(stat[:TRAIN_END].mean())
    assert model.info()["scaling"] == "level"  # recorded with the cell, so the choice can be read back
    assert LSTMForecaster(horizon=H, **TINY).params.scaling == "auto"  # the default
    walk = LSTMForecaster(horizon=H, **TINY, scaling="auto").fit(y, TRAIN_END, seed=0)
    assert walk.scaling_ == "diff"
    ref = LSTMForecaster(horizon=H, **TINY, scaling="diff").fit(y, TRAIN_END, seed=0)
    np.testing.assert_array_equal(_fc(walk, y).mean, _fc(ref, y).mean)


def test_level_scaling_feeds_the_level_and_forecasts_the_change(y):
    """level: inputs (y - mu) / sd of the training block, targets and outputs relative to the
    window's last value. A refit on y + c is the same network (mu moves with c), so every
    forecast moves by c; the same network fed y + c sees a different level, so it does not."""
    rng = np.random.default_rng(5)
    ar = np.zeros(260)
    for t in range(1, 260):
        ar[t] = 0.6 * ar[t - 1] + rng.normal()
    ar += 50.0
    model = LSTMForecaster(horizon=H, **TINY, head="gaussian", scaling="level").fit(ar, TRAIN_END, seed=1)
    block = ar[:TRAIN_END]
    assert model.mu_ == pytest.approx(block.mean()) and model.scale_ == pytest.approx(block.std())
    x, (loc, sc) = model.scaled_inputs(ar, ORIGINS)
    raw = ar[ORIGINS[:, None] + np.arange(-15, 1)[None, :]]
    np.testing.assert_allclose(x.double().numpy(), (raw - block.mean()) / block.std(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loc, ar[ORIGINS])  # outputs map back around the last value
    w = model.scaled_windows(block, np.array([40, 90]))
    np.testing.assert_allclose(w[:, 16:].double().numpy(),
                               (block[np.array([40, 90])[:, None] + np.arange(1, H + 1)] - block[[40, 90]][:, None])
                               / block.std(), rtol=1e-5, atol=1e-6)
    fc = _fc(model, ar)
    c = 321.0
    refit = LSTMForecaster(horizon=H, **TINY, head="gaussian", scaling="level").fit(ar + c, TRAIN_END, seed=1)
    _assert_mapped(_fc(refit, ar + c), fc, c, 1.0)
    moved = _fc(model, ar + c).mean - c  # the unrefitted network reads a level 321 / sd away
    assert np.abs(moved - fc.mean).max() > 1e-3
    with pytest.raises(ValueError, match="direct strategy"):
        LSTMForecaster(horizon=H, **TINY, scaling="level", strategy="recursive")


def test_diff_scaling_feeds_the_differences_and_forecasts_the_change(y):
    """diff: inputs are the window's first differences / sd(diff of the training block), a 0
    in front; targets and outputs the change from the last value. A level shift c leaves the
    inputs as they were, so the same network's forecasts move by exactly c."""
    model = LSTMForecaster(horizon=H, **TINY, head="gaussian", scaling="diff").fit(y, TRAIN_END, seed=1)
    sd = np.diff(y[:TRAIN_END]).std()
    assert model.scale_ == pytest.approx(sd)
    x, (loc, sc) = model.scaled_inputs(y, ORIGINS)
    raw = y[ORIGINS[:, None] + np.arange(-15, 1)[None, :]]
    want = np.c_[np.zeros(len(ORIGINS)), np.diff(raw, axis=1) / sd]
    np.testing.assert_allclose(x.double().numpy(), want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loc, y[ORIGINS])
    w = model.scaled_windows(y[:TRAIN_END], np.array([40]))
    np.testing.assert_allclose(w[0, :16].double().numpy(),
                               np.r_[0.0, np.diff(y[25:41]) / sd], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(w[0, 16:].double().numpy(), (y[41:41 + H] - y[40]) / sd, rtol=1e-5, atol=1e-6)
    fc = _fc(model, y)
    _assert_mapped(_fc(model, y - 555.5), fc, -555.5, 1.0)
    with pytest.raises(ValueError, match="direct strategy"):
        LSTMForecaster(horizon=H, **TINY, scaling="diff", strategy="recursive")
