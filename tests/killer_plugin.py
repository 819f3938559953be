"""A test plugin: the naive method, except that its first fit of seed 1 kills its own process
(as the OOM killer would) while the file named by $FANLAB_KILL_MARKER does not exist yet."""

import os
import signal
from pathlib import Path

from fanlab.models.naive import NaiveParams, SeasonalNaiveForecaster
from fanlab.registry import register_method


class Killer(SeasonalNaiveForecaster):
    def fit(self, y, train_end, seed=0):
        marker = os.environ.get("FANLAB_KILL_MARKER")
        if marker and seed == 1 and not Path(marker).exists():
            Path(marker).write_text("killed once")
            os.kill(os.getpid(), signal.SIGKILL)
        return super().fit(y, train_end, seed)


@register_method("killer_naive", params=NaiveParams)
def build_killer(params, ctx):
    """Naive; kills its worker once (tests only)."""
    return Killer(period=1, max_samples=params.max_samples)
