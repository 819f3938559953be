"""The names results files share: id columns, quantile and band columns, the pooled-row marker,
the summary's steps. The run writes them, the metrics read and write them, the report reads
them; each is spelt here once.

forecasts.parquet: one row per (dataset, series, method, seed, origin, h) with ``y``, ``mean``,
``q_<p>`` for every forecast probability, ``pit``, ``crps``, ``state`` (and ``time`` where the
series is dated). metrics.parquet: tidy rows (ids, h, level, metric, value); h = 0 is "over all
steps", level NaN a level-free metric; pooled rows have ``series == POOLED_SERIES`` and
``seed == POOLED_SEED``. summary.csv: one row per (dataset, method, level).
"""

from __future__ import annotations

import numpy as np

#: Identifies a cell's rows in every results table.
ID_COLS = ["dataset", "series", "method", "seed"]
#: The series and seed of a row pooled over the cells of a dataset and method.
POOLED_SERIES, POOLED_SEED = "*", -1
#: Decimals a probability keeps in a column name and in comparisons (``q_0.025``).
PROB_DECIMALS = 10
#: The layout of a cell file's frame. A cell's hash includes it, so a cell file written with
#: another layout (e.g. before the whole-path columns) is recomputed, never read as if it had
#: them. Raise it with every change to the columns or metadata a cell writes.
CELL_SCHEMA = 2
#: The steps the summary reports coverage and skill at (those within the horizon).
SUMMARY_STEPS = (1, 5, 10, 50, 100)


def prob_col(p: float) -> str:
    """The quantile column of probability `p`: 0.025 -> 'q_0.025'."""
    return f"q_{round(float(p), PROB_DECIMALS):.10g}"


def level_tag(level: float) -> str:
    """How a level is spelt in column names: 0.95 -> '0.95', 0.8 -> '0.8'."""
    return f"{level:g}"


def level_cols(level: float) -> tuple[str, str]:
    """The band columns of `level` in a quantiles or paths table: ('lo_0.95', 'hi_0.95')."""
    return f"lo_{level_tag(level)}", f"hi_{level_tag(level)}"


def frame_probs(columns) -> np.ndarray:
    """The sorted probabilities of a table's ``q_<p>`` columns."""
    return np.array(sorted(float(c[2:]) for c in columns if str(c).startswith("q_")))


def step_col(metric: str, h: int) -> str:
    """A summary column of `metric` at step h: ('coverage', 5) -> 'coverage_h5'."""
    return f"{metric}_h{h}"
