"""Does the confidence interval on coverage contain the truth as often as it claims?

The oracle's 95% band covers with probability exactly 0.95 at every step, so the lab's CI on
the oracle's coverage should contain 0.95 in about 95% of independent repetitions of a
study shaped like configs/article.yaml (2,000 points, test block 400, an origin every 10
steps, H = 100). Each repetition draws fresh replications; the acceptance bound is the exact
binomial band for 0.95 over the repetitions (false alarm 1e-3), not a tuned number.
"""

import numpy as np
import pytest

from fanlab import registry
from fanlab.data.splits import make_split
from fanlab.metrics.pooled import _between_units_ci
from fanlab.forecast import probs_for_levels
from fanlab.metrics.calibration import binomial_band
from fanlab.context import BuildContext

H, STRIDE, LEVEL, REPS = 100, 10, 0.95, 200


def _oracle_hits(seed: int) -> np.ndarray:
    s = registry.build_dataset("arma", {"ar": [0.5, -0.2], "ma": [0.3], "n": 2000}, seed=seed)[0]
    sp = make_split(2000, 0.6, 0.2, 0.2, H)
    origins = sp.test_origins(H, STRIDE)
    model = registry.build_method("oracle", {}, BuildContext(s, sp, H, STRIDE)).fit(s.values, sp.train_end, 0)
    lo, hi = model.predict(s.values, origins, H, probs_for_levels([LEVEL])).interval(LEVEL)
    y = s.values[origins[:, None] + np.arange(1, H + 1)]
    return ((y >= lo) & (y <= hi)).astype(float)  # (K, H)


@pytest.mark.slow
@pytest.mark.parametrize("n_series, step", [(3, None), (10, 50)])
def test_between_series_interval_contains_the_truth_at_its_rate(n_series, step):
    contains = 0
    for r in range(REPS):
        groups = [_oracle_hits(100_000 + r * n_series + i) for i in range(n_series)]
        values = [g.mean(axis=1) if step is None else g[:, step - 1] for g in groups]
        _, lo, hi = _between_units_ci(values, 0.95)
        contains += lo <= LEVEL <= hi
    low, _ = binomial_band(0.95, REPS, false_alarm=1e-3)
    rate = contains / REPS
    print(f"{n_series} series, step {step}: CI contained 0.95 in {rate:.3f} of {REPS} (lower bound {low:.3f})")
    assert rate >= low
