"""A competent LSTM at the headline study's settings (run with -m slow; a few minutes).

ARMA(2,1) (ar [0.5, -0.2], ma [0.3], sigma 1) and ARIMA(1,1,0) (ar [0.5]), n = 2000, split
0.6/0.2/0.2, H = 100, origins every 10 steps of the test block, seeds 0-2, the LSTM's
default settings (context 50 since commit 3e62fb6, scaling auto since 4fafef8). The issue's
own goal (h = 1 within 3% of the oracle, skill at h = 2..5 within noise of zero) is read on
fresh seeds by benchmarks/lstm_competence.py:
experiments/lstm_competence/README.md. Targets (issue "a competent LSTM"), means over the seeds:

- ARMA(2,1): the direct Gaussian head's h = 1 MAE within 3% of the oracle's (the issue's goal;
  at the default scaling auto, 4fafef8: 0.809 against 0.807; under last_value it was 1.051x),
  and its CRPS skill against climatology (the training block's empirical marginal) above half
  the oracle's at h = 1 (met: 0.814 against 0.807 at the defaults, skip 4, 697a607) and h = 2..5
  (xfail: see the test's reason; -0.038 / -0.030 / -0.021 / -0.026 against the oracle's 0.017 /
  0.017 / 0.011 / -0.006);
- ARIMA(1,1,0): the default-scaled LSTM's MAE within 15% of the oracle's at h = 1, 10, 50, 100 (both
  heads met at the defaults, scaling auto = diff here and skip 4, 697a607: the point head 0.841 /
  4.393 / 10.216 / 13.999, the Gaussian 0.848 / 4.161 / 10.245 / 14.888, against the oracle's
  0.851 / 4.103 / 9.690 / 13.819; without the skip, 4fafef8, the Gaussian 0.880 at h = 1; at
  context 200 it missed h = 10 at 1.18x).
"""

import functools

import numpy as np
import pytest
import scoringrules as sr
import torch

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.forecast import FINE_LEVELS, probs_for_levels
from fanlab.metrics.scores import crps
from fanlab.context import BuildContext

H, STRIDE, SEEDS = 100, 10, (0, 1, 2)
PROCESSES = {"arma": ("arma", {"ar": [0.5, -0.2], "ma": [0.3], "sigma": 1.0, "n": 2000}),
             "arima": ("arima", {"ar": [0.5], "n": 2000})}
STEPS = np.array([1, 10, 50, 100])


def _scores(process: str, method: str, params: dict, seed: int):
    name, dparams = PROCESSES[process]
    series = registry.build_dataset(name, dparams, seed)[0]
    y = np.asarray(series.values, dtype=float)
    split = make_split(len(y), 0.6, 0.2, 0.2, horizon=H)
    ctx = BuildContext(series=series, split=split, horizon=H, stride=STRIDE)
    origins = split.test_origins(H, STRIDE)
    fc = registry.build_method(method, params, ctx).fit(y, split.train_end, seed=seed).predict(
        y, origins, H, probs_for_levels(FINE_LEVELS))
    target = y[origins[:, None] + np.arange(1, H + 1)[None, :]]
    mae = np.abs(target - fc.mean).mean(axis=0)
    clim = np.asarray(sr.crps_ensemble(target[:, :5], np.broadcast_to(
        y[: split.train_end], (target.shape[0], 5, split.train_end)), m_axis=-1, estimator="qd")).mean(axis=0)
    skill = 1.0 - crps(target, fc)[:, :5].mean(axis=0) / clim
    return mae, skill


@functools.lru_cache(maxsize=None)
def _mean(process, method, head=None):
    torch.set_num_threads(1)
    params = {} if head is None else {"head": head}
    rows = [_scores(process, method, params, s) for s in SEEDS]
    return np.mean([r[0] for r in rows], axis=0), np.mean([r[1] for r in rows], axis=0)


@pytest.mark.slow
def test_gaussian_lstm_near_oracle_on_arma21():
    o_mae, o_skill = _mean("arma", "oracle")
    mae, skill = _mean("arma", "lstm", "gaussian")
    print(f"ARMA(2,1) h=1 MAE {mae[0]:.3f} vs oracle {o_mae[0]:.3f}; skill h1..5 {np.round(skill, 3)} "
          f"vs oracle {np.round(o_skill, 3)}")
    assert mae[0] <= 1.03 * o_mae[0]
    assert skill[0] > 0.5 * o_skill[0]


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "at h >= 2 ARMA(2,1) has almost nothing left to predict (predictable variance 0.05 of 1.69 at "
    "h = 2, < 0.01 beyond): the oracle's skill there (~0.01-0.02) is mostly its knowing the true "
    "marginal, and the LSTM's sits within the seeds' noise of 0 (measured -0.04..0.01; at the defaults, "
    "scaling auto and skip 4 (697a607), -0.038 / -0.030 / -0.021 / -0.026 on these seeds and 31 origins "
    "each, and +0.001 +- 0.006 over h = 2..5 on 5 fresh seeds at every origin, the oracle's +0.006: "
    "experiments/lstm_competence)"))
def test_gaussian_lstm_skill_h2_to_5_on_arma21():
    _, o_skill = _mean("arma", "oracle")
    _, skill = _mean("arma", "lstm", "gaussian")
    assert np.all(skill[1:] > 0.5 * o_skill[1:])


@pytest.mark.slow
@pytest.mark.parametrize("head", ["point", "gaussian"])
def test_default_scaled_lstm_near_oracle_on_arima110(head):
    o_mae, _ = _mean("arima", "oracle")
    mae, _ = _mean("arima", "lstm", head)
    print(f"ARIMA(1,1,0) {head}: MAE at h={STEPS.tolist()} {np.round(mae[STEPS - 1], 3)} "
          f"vs oracle {np.round(o_mae[STEPS - 1], 3)}")
    assert np.all(mae[STEPS - 1] <= 1.15 * o_mae[STEPS - 1])
