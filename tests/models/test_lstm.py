"""LSTM forecasters: no look-ahead, determinism, dropout live/off, early stopping inside the
training block, quantile handling, ensembles as mixtures. Tiny networks, few epochs."""

import copy

import numpy as np
import pytest
import torch
from scipy.stats import norm

from fanlab.forecast import probs_for_levels
from fanlab.models.lstm.ensemble import LSTMEnsemble, mixture_quantiles
from fanlab.models.lstm.forecaster import LSTMForecaster
from fanlab.models.lstm.training import (TrainConfig, generators, member_seeds, train, validation_loss,
                                         window_origins)

H = 5
TRAIN_END = 160
TINY = {"context": 16, "hidden": 6, "epochs": 2, "batch_size": 32, "samples": 16}
PROBS = probs_for_levels([0.5, 0.9])
ORIGINS = np.array([170, 183, 201, 230])

VARIANTS = {
    "point": ("lstm", {}),
    "gaussian": ("lstm", {"head": "gaussian"}),
    "quantile": ("lstm", {"head": "quantile"}),
    "mc_point": ("lstm", {"uncertainty": "mc_dropout"}),
    "mc_point_no_noise": ("lstm", {"uncertainty": "mc_dropout", "noise": False}),
    "mc_gaussian": ("lstm", {"head": "gaussian", "uncertainty": "mc_dropout"}),
    "mc_quantile": ("lstm", {"head": "quantile", "uncertainty": "mc_dropout", "layers": 2}),
    "rec_point": ("lstm", {"strategy": "recursive"}),
    "rec_gaussian": ("lstm", {"strategy": "recursive", "head": "gaussian"}),
    "rec_quantile": ("lstm", {"strategy": "recursive", "head": "quantile"}),
    "rec_mc_point": ("lstm", {"strategy": "recursive", "uncertainty": "mc_dropout"}),
    "rec_mc_gaussian_no_noise": ("lstm", {"strategy": "recursive", "head": "gaussian",
                                          "uncertainty": "mc_dropout", "noise": False}),
    "mc_var_point": ("lstm", {"uncertainty": "mc_dropout", "dropout_kind": "variational", "layers": 2}),
    "rec_mc_var_gaussian": ("lstm", {"strategy": "recursive", "head": "gaussian", "uncertainty": "mc_dropout",
                                     "dropout_kind": "variational"}),
    "window_gaussian": ("lstm", {"head": "gaussian", "scaling": "window"}),
    "global_rec_quantile": ("lstm", {"strategy": "recursive", "head": "quantile", "scaling": "global"}),
    "ensemble": ("ens", {"members": 2}),
    "ensemble_epistemic": ("ens", {"members": 2, "epistemic_only": True}),
    "ensemble_rec": ("ens", {"members": 2, "strategy": "recursive"}),
    "ensemble_rec_epistemic": ("ens", {"members": 3, "strategy": "recursive", "epistemic_only": True}),
}


def _series(n: int = 260, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(n)
    for t in range(1, n):
        y[t] = 0.7 * y[t - 1] + rng.normal()
    return y + 5.0


def _build(variant: str, **extra):
    kind, params = VARIANTS[variant]
    cls = LSTMForecaster if kind == "lstm" else LSTMEnsemble
    return cls(horizon=H, **{**TINY, **params, **extra})


@pytest.fixture(scope="module")
def y():
    return _series()


@pytest.fixture(scope="module")
def fitted(y):
    cache = {}

    def get(variant):
        if variant not in cache:
            model = _build(variant).fit(y, TRAIN_END, seed=3)
            cache[variant] = (model, model.predict(y, ORIGINS, H, PROBS))
        return cache[variant]

    return get


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_no_look_ahead(variant, y, fitted):
    model, fc = fitted(variant)
    rng = np.random.default_rng(1)
    for k, t in enumerate(ORIGINS):
        y2 = y.copy()
        y2[t + 1:] += rng.normal(scale=5.0, size=y2.size - t - 1)
        fc2 = model.predict(y2, ORIGINS[k:k + 1], H, PROBS)  # alone, not in a batch: also checks that
        np.testing.assert_allclose(fc2.mean[0], fc.mean[k], rtol=1e-7, atol=1e-9)  # rows don't interact
        np.testing.assert_allclose(fc2.quantiles[0], fc.quantiles[k], rtol=1e-7, atol=1e-9)
        if fc.samples is not None:
            np.testing.assert_allclose(fc2.samples[0], fc.samples[k], rtol=1e-7, atol=1e-9)
    # the fit side: values past train_end (here: past the first origin) do not reach the model
    y3 = y.copy()
    y3[ORIGINS[0] + 1:] = 0.0
    fc3 = _build(variant).fit(y3, TRAIN_END, seed=3).predict(y3, ORIGINS[:1], H, PROBS)
    np.testing.assert_allclose(fc3.quantiles[0], fc.quantiles[0], rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_shapes_sorted_quantiles_and_extras(variant, fitted):
    _, fc = fitted(variant)
    assert fc.quantiles.shape == (ORIGINS.size, PROBS.size, H)
    assert np.all(np.diff(fc.quantiles, axis=1) >= 0), "quantiles cross"
    gaussian_closed_form = variant in ("gaussian", "window_gaussian")
    assert (fc.sd is not None) == gaussian_closed_form  # sd only where the predictive is exactly Gaussian
    sampled = variant.startswith(("mc_", "rec_gaussian", "rec_quantile", "rec_mc", "ensemble_epistemic", "ensemble_rec",
                                  "global_rec"))
    assert (fc.samples is not None) == sampled
    if variant == "ensemble_rec":
        assert fc.samples.shape == (ORIGINS.size, 2 * 8, H)  # ceil(16 / 2) paths per member, pooled
    if variant.endswith("epistemic"):
        assert fc.samples.shape[1] == VARIANTS[variant][1]["members"]


@pytest.mark.parametrize("variant", ["mc_point", "rec_gaussian", "ensemble", "mc_quantile", "rec_mc_var_gaussian"])
def test_same_seed_same_forecast(variant, y, fitted):
    _, fc = fitted(variant)
    again = _build(variant).fit(y, TRAIN_END, seed=3).predict(y, ORIGINS, H, PROBS)
    assert np.array_equal(again.quantiles, fc.quantiles) and np.array_equal(again.mean, fc.mean)
    if fc.samples is not None:
        assert np.array_equal(again.samples, fc.samples)
    other = _build(variant).fit(y, TRAIN_END, seed=4).predict(y, ORIGINS, H, PROBS)
    assert not np.allclose(other.mean, fc.mean)


def test_point_head_has_zero_width(fitted):
    _, fc = fitted("point")
    assert np.array_equal(fc.quantiles, np.repeat(fc.mean[:, None, :], PROBS.size, axis=1))


def test_dropout_live_for_mc_and_off_for_none(y, fitted):
    none, fc_none = fitted("point")
    mc, fc_mc = fitted("mc_point_no_noise")
    # the point head's MC arms share one network, with or without the noise term (their
    # early stopping reads the same part of the validation tail)
    mc_noise, _ = fitted("mc_point")
    for a, b in zip(mc_noise.net_.state_dict().values(), mc.net_.state_dict().values()):
        assert torch.equal(a, b)
    # and the other heads' training does not depend on the uncertainty setting
    g, _ = fitted("gaussian")
    mcg, _ = fitted("mc_gaussian")
    for a, b in zip(g.net_.state_dict().values(), mcg.net_.state_dict().values()):
        assert torch.equal(a, b)
    # live: without the noise term, the only spread between passes is dropout's
    spread = fc_mc.samples.std(axis=1)
    assert np.all(spread > 1e-4)
    # off: the 'none' forecast is the dropout-free network, computed here by the training path
    x, (loc, sc) = none.scaled_inputs(y, ORIGINS)
    with torch.enable_grad():
        direct = none.net_(x.unsqueeze(0))[0, :, :, 0].detach().double().numpy() * sc[:, None] + loc[:, None]
    np.testing.assert_allclose(fc_none.mean, direct, rtol=1e-5, atol=1e-5)
    # although its network has dropout layers with rate > 0
    assert none.net_.rates[0] > 0 and none.net_.rates[2] > 0


def test_early_stopping_reads_nothing_past_train_end(y):
    kw = {**TINY, "epochs": 8, "patience": 2, "head": "gaussian"}
    a = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, seed=5)
    y2 = y.copy()
    y2[TRAIN_END:] = np.random.default_rng(9).normal(scale=100.0, size=y.size - TRAIN_END)
    b = LSTMForecaster(horizon=H, **kw).fit(y2, TRAIN_END, seed=5)
    for p, q in zip(a.net_.state_dict().values(), b.net_.state_dict().values()):
        assert torch.equal(p, q)
    assert [h.tolist() for h in a.train_.history] == [h.tolist() for h in b.train_.history]
    # the restored weights are those of the best validation epoch
    hist = np.array([h[0] for h in a.train_.history])
    assert a.train_.best_epoch[0] == int(np.argmin(hist)) + 1
    assert a.train_.epochs == min(kw["epochs"], a.train_.best_epoch[0] + kw["patience"])
    _, val_o = window_origins(TRAIN_END, TINY["context"], H, 0.2)
    val = validation_loss(a.net_, a.head_, a.scaled_windows(y[:TRAIN_END], val_o), H, False)
    np.testing.assert_allclose(val[0], hist.min(), rtol=1e-6)
    # the validation windows lie inside the training block
    assert val_o.max() + H < TRAIN_END


def test_one_run_tracks_each_early_stopping_criterion_exactly(y):
    """The point head trains once for its plain and MC-dropout arms: each arm's weights,
    epochs and history are those of a run early-stopped on its own windows alone."""
    kw = {**TINY, "epochs": 30, "patience": 1, "lr": 0.05}
    both = LSTMForecaster(horizon=H, **kw).fit(y, TRAIN_END, seed=4)
    assert set(both.fits_) == {"all", "early"}
    runs = {name: both.fits_[name][0] for name in both.fits_}
    assert runs["all"].epochs != runs["early"].epochs  # the criteria stop apart here
    head = both.head_
    for name, origins in both.criteria_.items():
        net = copy.deepcopy(both.net_)
        alone = train(net, head, both.scaled_windows(y[:TRAIN_END], train_origins(both)),
                      both.scaled_windows(y[:TRAIN_END], origins), H, False,
                      TrainConfig(max_epochs=30, batch_size=32, lr=0.05, patience=1), [generators(4)])
        assert alone.epochs == runs[name].epochs and alone.best_epoch.tolist() == runs[name].best_epoch.tolist()
        assert [v.tolist() for v in alone.history] == [v.tolist() for v in runs[name].history]
        for k, v in net.state_dict().items():
            assert torch.equal(v, both.fits_[name][1][k]), (name, k)
    # the MC arm predicts with the early-stopping part's weights, the plain arm with the whole tail's
    mc = LSTMForecaster(horizon=H, **kw, uncertainty="mc_dropout").fit(y, TRAIN_END, seed=4)
    assert mc.criterion_ == "early" and both.criterion_ == "all"
    np.testing.assert_array_equal(mc.noise_var_, both.noise_var_)
    both.adopt_predict_params(mc)
    assert both.criterion_ == "early" and both.train_.epochs == runs["early"].epochs


def train_origins(model):
    return window_origins(TRAIN_END, model.params.context, H, model.params.val_frac)[0]


def test_noise_term_is_per_step_mse_on_held_out_validation_windows(y, fitted):
    mc, _ = fitted("mc_point")
    vo, no = mc.val_origins_, mc.noise_origins_
    # the noise windows' targets are disjoint from (after) those of the early-stopping windows,
    # and inside the training block
    assert no.size > 0 and vo.size > 0
    assert vo.max() + H < no.min() + 1 and no.max() + H < TRAIN_END
    x, (loc, sc) = mc.scaled_inputs(y[:TRAIN_END], no)
    with torch.enable_grad():  # the dropout-free network through the training path
        point = mc.net_(x.unsqueeze(0))[0, :, :, 0].detach().double().numpy()
    truth = (y[no[:, None] + np.arange(1, H + 1)[None, :]] - loc[:, None]) / sc[:, None]
    np.testing.assert_allclose(mc.noise_var_, ((truth - point) ** 2).mean(axis=0), rtol=1e-5)



def test_quantile_head_interpolates_linearly_in_z(y, fitted):
    model, _ = fitted("quantile")
    knots = np.asarray(model.params.quantile_probs)
    at_knots = model.predict(y, ORIGINS, H, knots).quantiles  # (K, Qk, H)
    j = np.searchsorted(knots, 0.31) - 1  # 0.31 lies between knots 0.3 and 0.325
    w = (norm.ppf(0.31) - norm.ppf(knots[j])) / (norm.ppf(knots[j + 1]) - norm.ppf(knots[j]))
    want = at_knots[:, j] + w * (at_knots[:, j + 1] - at_knots[:, j])
    got = model.predict(y, ORIGINS, H, np.array([0.31, 0.5]))
    np.testing.assert_allclose(got.quantiles[:, 0], want, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.mean, got.quantiles[:, 1], rtol=1e-12)  # mean = the median


def test_recursive_point_path_is_the_one_step_model_fed_its_outputs(y, fitted):
    model, fc = fitted("rec_point")
    c = TINY["context"]
    x0, (loc, sc) = model.scaled_inputs(y, ORIGINS[1:2])
    window = x0[0].tolist()
    assert len(window) == c
    for h in range(H):
        x = torch.tensor(window, dtype=torch.float32).view(1, 1, -1)
        with torch.enable_grad():  # the training path, an independent implementation
            step = model.net_(x, last=1)[0, 0, 0, 0].item()
        assert step * sc[0] + loc[0] == pytest.approx(fc.mean[1, h], rel=1e-5, abs=1e-5)
        window.append(step)


def test_ensemble_member_is_the_single_model_of_its_seed(y, fitted):
    ens, fc = fitted("ensemble")
    mean, sd = ens.member_forecasts(y, ORIGINS, H)
    for m, s in enumerate(member_seeds(3, 2)):
        single = LSTMForecaster(horizon=H, **TINY, head="gaussian").fit(y, TRAIN_END, seed=s)
        one = single.predict(y, ORIGINS, H, PROBS)
        np.testing.assert_allclose(mean[m], one.mean, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(sd[m], one.sd, rtol=1e-4, atol=1e-4)
    # the forecast is the mixture of the members, its mean their average
    np.testing.assert_allclose(fc.quantiles, mixture_quantiles(mean, sd, PROBS), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fc.mean, mean.mean(axis=0), rtol=1e-12)


def test_epistemic_only_samples_are_member_means(y, fitted):
    ens, _ = fitted("ensemble")
    _, fc = fitted("ensemble_epistemic")
    mean, _ = ens.member_forecasts(y, ORIGINS, H)
    np.testing.assert_allclose(fc.samples, np.moveaxis(mean, 0, 1), rtol=1e-12)


def test_origin_without_full_context_is_an_error(y, fitted):
    model, _ = fitted("point")
    with pytest.raises(ValueError, match=r"origin 13 .*context=16"):
        model.predict(y, np.array([13, 100]), H, PROBS)
    with pytest.raises(ValueError, match="horizon"):
        model.predict(y, ORIGINS, H + 1, PROBS)


def test_training_block_too_short_is_an_error(y):
    with pytest.raises(ValueError, match="too short"):
        LSTMForecaster(horizon=H, **TINY).fit(y, 22, seed=0)  # 16 + 5 + a 5-point tail > 22


@pytest.mark.parametrize("variant", ["mc_point", "mc_quantile", "rec_gaussian", "ensemble_rec", "mc_var_point",
                                     "rec_mc_var_gaussian"])
def test_chunking_does_not_change_the_forecast(variant, y, fitted, monkeypatch):
    import fanlab.models.lstm.forecaster as fmod

    model, fc = fitted(variant)
    monkeypatch.setattr(fmod, "CHUNK_ROWS", 20)  # one or two origins per chunk instead of all four
    small = model.predict(y, ORIGINS, H, PROBS)
    if variant.startswith("rec_"):
        # recursive rollouts (with or without dropout) may move by ~1e-15 with the chunk size:
        # float64 rounding of the fed-back steps, not a change of draws
        np.testing.assert_allclose(small.samples, fc.samples, rtol=1e-12, atol=1e-12)
        return
    assert np.array_equal(small.samples, fc.samples) and np.array_equal(small.quantiles, fc.quantiles)
