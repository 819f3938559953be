"""nnetar-style paths for a one-step point LSTM (``uncertainty: residual_paths``): residuals
from held-out windows, innovations fed back, paths deterministic per seed and origin."""

import copy

import numpy as np
import pytest
import torch

from fanlab import registry
from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.params import LSTMParams

H = 20
TINY = {"context": 24, "hidden": 8, "epochs": 4, "batch_size": 64, "strategy": "recursive",
        "uncertainty": "residual_paths"}
PROBS = np.array([0.1, 0.5, 0.9])


@pytest.fixture(scope="module")
def y():
    return registry.build_dataset("arma", {"ar": [0.9], "n": 600}, seed=1)[0].values


@pytest.fixture(scope="module")
def fitted(y):
    # 40 epochs: enough for the tiny net to learn the AR(1)'s persistence (4 leave it mean-reverting)
    return LSTMForecaster(horizon=H, **{**TINY, "epochs": 40}, samples=400).fit(y, 400, seed=0)


def _arm(model, **params):
    """The same fit predicting with other prediction-only params (as the fit store does)."""
    view = copy.copy(model)
    view.params = model.params.model_copy(update=params)
    view._use(view._criterion())
    return view


def test_residuals_come_from_the_held_out_windows(fitted, y):
    m = fitted
    targets = m.residual_origins() + 1
    early = m.criteria_["early"]
    # every early-stopping target lies before every residual's target, and they fill the rest
    # of the training block
    assert early.max() + H < targets.min()
    assert targets.max() == 399 and np.all(np.diff(targets) == 1)
    assert m.resid_.shape == targets.shape and m.criterion_ == "early"
    # they are the one-step errors of the early-stopped weights' point forecast
    point = _arm(m, uncertainty="none").predict(y, targets - 1, 1, PROBS).mean[:, 0]
    np.testing.assert_allclose(m.resid_ * m.scale_, y[targets] - point, rtol=1e-6, atol=1e-9)
    # a plain recursive point arm (the same fit) predicts with the weights early-stopped on the
    # whole tail instead
    assert _arm(m, uncertainty="none").criterion_ == "all"


def test_paths_are_deterministic_per_seed_and_origin(fitted, y):
    origins = np.array([399, 420, 455, 480])
    a = fitted.predict(y, origins, H, PROBS)
    assert a.samples.shape == (4, 400, H) and a.paths
    alone = fitted.predict(y, origins[2:3], H, PROBS)
    np.testing.assert_array_equal(alone.samples[0], a.samples[2])
    np.testing.assert_array_equal(fitted.predict(y, origins, H, PROBS).samples, a.samples)
    other = LSTMForecaster(horizon=H, **TINY, samples=400).fit(y, 400, seed=1)
    assert not np.allclose(other.predict(y, origins[:1], H, PROBS).samples, a.samples[:1])


def test_bootstrap_innovations_are_residuals_and_are_fed_back(fitted, y):
    m, t = fitted, 420
    fc = m.predict(y, np.array([t]), H, PROBS)
    point = _arm(m, uncertainty="none").predict(y, np.array([t]), 1, PROBS).mean[0, 0]
    pool = m.innovation_pool() * m.scale_  # last_value scaling: one scale for every window
    assert abs(pool.mean()) < 1e-12

    def in_pool(e):
        return np.abs(e[:, None] - pool[None, :]).min(axis=1)

    v1 = fc.samples[0, :, 0]
    assert in_pool(v1 - point).max() < 1e-6 * m.scale_
    # step 2: the network's forecast from the window extended by the path's own step 1, plus a
    # residual (so the step-1 draw was fed back into the input)
    x, (loc, scale) = m.scaled_inputs(y, np.array([t]))
    ext = torch.cat([x.repeat(v1.size, 1), torch.from_numpy((v1 - loc) / scale).float()[:, None]], 1)
    with torch.no_grad():
        top, _ = m.net_.encode(ext.t().unsqueeze(1))
        f2 = m.net_.head_infer(top)[0, :, 0, 0].numpy() * scale + loc
    assert in_pool(fc.samples[0, :, 1] - f2).max() < 1e-4 * m.scale_
    assert len(np.unique(np.round(v1, 9))) > 20  # resampled, not one residual repeated


def test_gaussian_step_one_spread_is_the_residual_sd(fitted, y):
    m = _arm(fitted, innovations="gaussian", samples=3000)
    origins = np.array([399, 430, 470])
    fc = m.predict(y, origins, H, PROBS)
    sd = np.sqrt(np.mean(m.innovation_pool() ** 2)) * m.scale_
    assert sd == pytest.approx(np.std(fitted.resid_) * fitted.scale_)
    step1 = fc.samples[:, :, 0]
    dev = (step1 - step1.mean(axis=1, keepdims=True)).ravel()
    # sample sd of 9,000 Gaussian draws: relative sd about 1 / sqrt(2 * 9000) = 0.0075
    assert np.sqrt(np.mean(dev ** 2)) / sd == pytest.approx(1.0, abs=0.03)
    # the bootstrap's step-1 variance is the same number (the pool's mean square)
    boot = _arm(fitted, samples=3000).predict(y, origins, H, PROBS).samples[:, :, 0]
    assert boot.std(axis=1).mean() / sd == pytest.approx(1.0, abs=0.05)


class _LinearAR:
    """A stand-in for the network: the one-step forecast phi * z of the last scaled value z."""

    members = 1

    def __init__(self, phi):
        self.phi = phi

    def encode(self, x, rand=None, state=None, weights=None):
        last = x[-1].double().unsqueeze(-1)  # (M, B, 1)
        return last, [(last, last)]

    def head_infer(self, top, rand=None):
        return (self.phi * top).unsqueeze(-1)  # (M, R, 1, 1)

    def inference_weights(self):
        return None


@pytest.mark.parametrize("innovations", ["gaussian", "bootstrap"])
def test_spread_compounds_as_a_linear_ar1_says(y, innovations):
    m = LSTMForecaster(horizon=H, **{**TINY, "epochs": 1}, scaling="global", innovations=innovations,
                       samples=4000).fit(y, 400, seed=0)
    phi, s = 0.8, 0.5
    m.net_ = _LinearAR(phi)
    m.resid_ = s * np.random.default_rng(0).standard_normal(300)
    fc = m.predict(y, np.array([420, 440]), H, PROBS)
    pool_sd = np.sqrt(np.mean(m.innovation_pool() ** 2))
    h = np.arange(1, H + 1)
    want = m.scale_ * pool_sd * np.sqrt(np.cumsum(phi ** (2 * (h - 1))))  # psi weights of an AR(1)
    got = fc.samples.std(axis=1)  # (2, H)
    np.testing.assert_allclose(got / want, 1.0, atol=0.06)
    # the mean path decays towards the training mean as the AR(1) says
    z0 = (y[[420, 440]] - m.mu_) / m.scale_
    np.testing.assert_allclose(fc.mean, m.mu_ + m.scale_ * z0[:, None] * phi ** h, atol=0.06 * want.max())
    assert np.all(np.diff(want) > 0) and got[:, -1].min() > 1.5 * got[:, 0].max()


def test_spread_grows_with_h_for_a_trained_net(fitted, y):
    sd = fitted.predict(y, np.array([399, 450]), H, PROBS).samples.std(axis=1)  # (2, H)
    # an AR(0.9)'s 20-step sd is 2.3 times its one-step sd; the net's own dynamics give about 1.9
    assert np.all(sd[:, -1] > 1.5 * sd[:, 0])


def test_path_dropout_adds_spread_and_stays_origin_independent(fitted, y):
    m = _arm(fitted, path_dropout=True)
    origins = np.array([399, 455])
    a = m.predict(y, origins, H, PROBS)
    np.testing.assert_array_equal(m.predict(y, origins[1:], H, PROBS).samples[0], a.samples[1])
    assert not np.allclose(a.samples, fitted.predict(y, origins, H, PROBS).samples)


def test_settings_it_refuses():
    with pytest.raises(ValueError, match="head point and strategy recursive"):
        LSTMParams(uncertainty="residual_paths")
    with pytest.raises(ValueError, match="head point and strategy recursive"):
        LSTMParams(uncertainty="residual_paths", strategy="recursive", head="gaussian")
    with pytest.raises(ValueError, match="scope global"):
        LSTMParams(uncertainty="residual_paths", strategy="recursive", scope="global")
    with pytest.raises(ValueError, match="path_dropout"):
        LSTMParams(uncertainty="residual_paths", strategy="recursive", path_dropout=True, dropout_input=0.0,
                   dropout_head=0.0)
    # the new params leave the dump at their defaults (fit-store keys and cell hashes as before)
    dump = LSTMParams().model_dump(mode="json")
    assert "innovations" not in dump and "path_dropout" not in dump
