"""The heads as classes: each decodes, scores and draws as its own distribution says."""

import numpy as np
import pytest
import torch
from scipy.stats import norm

from fanlab.models.lstm.heads import GaussianHead, PointHead, QuantileHead, make_head


def test_make_head_builds_each_kind_and_refuses_others():
    assert isinstance(make_head("point"), PointHead) and make_head("point").outputs == 1
    assert isinstance(make_head("gaussian"), GaussianHead) and make_head("gaussian").outputs == 2
    q = make_head("quantile", probs=(0.1, 0.5, 0.9))
    assert isinstance(q, QuantileHead) and q.outputs == 3
    with pytest.raises(ValueError, match="unknown head"):
        make_head("laplace")
    with pytest.raises(ValueError, match="probabilities"):
        make_head("quantile")


def test_losses_are_the_distributions_own():
    torch.manual_seed(0)
    raw = torch.randn(2, 5, 3, 2)
    y = torch.randn(2, 5, 3)
    g = GaussianHead(variance="exp", min_variance=0.0)
    var = torch.exp(raw[..., 1])
    nll = 0.5 * (torch.log(var) + (y - raw[..., 0]) ** 2 / var)
    torch.testing.assert_close(g.loss(raw, y), nll.mean(dim=(1, 2)))
    p = PointHead()
    torch.testing.assert_close(p.loss(raw[..., :1], y), ((raw[..., 0] - y) ** 2).mean(dim=(1, 2)))
    probs = (0.1, 0.5, 0.9)
    qh = QuantileHead(probs)
    rq = torch.randn(2, 5, 3, 3)
    qs = torch.sort(rq, dim=-1).values
    by_hand = torch.zeros(2)
    for j, a in enumerate(probs):
        e = y - qs[..., j]
        by_hand += torch.maximum(a * e, (a - 1) * e).mean(dim=(1, 2)) / 3
    torch.testing.assert_close(qh.loss(rq, y), by_hand)


def test_the_quantile_head_reads_gaussian_knots_exactly():
    probs = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    h = QuantileHead(probs)
    q = torch.from_numpy(2.0 + 3.0 * norm.ppf(probs))[None, :]
    z = torch.from_numpy(norm.ppf([0.1, 0.5, 0.9]))
    np.testing.assert_allclose(h.read(q, z)[0].numpy(), 2.0 + 3.0 * norm.ppf([0.1, 0.5, 0.9]), rtol=1e-12)


def test_step_scales_are_in_the_units_of_each_loss():
    w = torch.tensor([[0.0, 1.0, 2.0], [0.0, 3.0, 4.0]])
    ms = np.array([(1 + 9) / 2, (4 + 16) / 2])
    np.testing.assert_allclose(PointHead().step_scales(w, 2).numpy(), ms, rtol=1e-6)  # squared units
    np.testing.assert_allclose(QuantileHead((0.5,)).step_scales(w, 2).numpy(), np.sqrt(ms), rtol=1e-6)
    assert PointHead().scaled_steps and QuantileHead((0.5,)).scaled_steps and not GaussianHead().scaled_steps


def test_samples_are_a_path_law_only_where_the_randomness_entered_the_rollout():
    """MC dropout with the point head's noise term adds noise drawn step by step after the
    rollout: its samples are no joint law (n/a in the path scores); without the noise term one
    dropout mask per sample drives the whole path, which is."""
    from fanlab.models.lstm.forecaster import LSTMForecaster

    rng = np.random.default_rng(0)
    y = np.zeros(400)
    for t in range(1, 400):
        y[t] = 0.7 * y[t - 1] + rng.standard_normal()
    tiny = {"context": 16, "hidden": 4, "epochs": 2, "batch_size": 64, "strategy": "recursive",
            "uncertainty": "mc_dropout", "samples": 8}
    origins = np.array([300, 310])
    probs = np.array([0.1, 0.5, 0.9])
    noisy = LSTMForecaster(horizon=6, **tiny, noise=True).fit(y, 280, 0).predict(y, origins, 6, probs)
    clean = LSTMForecaster(horizon=6, **tiny, noise=False).fit(y, 280, 0).predict(y, origins, 6, probs)
    assert noisy.samples is not None and noisy.joint is None
    assert clean.joint == "samples"
