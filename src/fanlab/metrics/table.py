"""metrics.parquet's rows of one dataset and method, built in their sorted order.

`fanlab.metrics.evaluate.score_dataset` gives a method's rows sorted by (dataset, method,
series, seed, metric, level, h), a stable sort. Within one dataset and method that order is:
the cells and the pooled rows (series "*", seed -1) in the order of their (series, seed), and
within each the rows by (metric, level, h). A cell's order within is its `Layout`'s
(`Layout.sorted_rows`, computed once per layout), so `method_table` puts the rows in place
without sorting millions of them: the frame `DataFrame.sort_values` gives of the cells' tidy
rows, the pooled rows and the reference rows, column for column (the tests compare the two).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from fanlab.schema import POOLED_SEED, POOLED_SERIES

#: The dtype of metrics.parquet's string columns in a frame (pandas' "str").
_STR = pd.StringDtype(storage="pyarrow", na_value=np.nan)


def method_table(dataset: str, method: str, scored: list[tuple], head: pd.DataFrame) -> pd.DataFrame | None:
    """One method's rows in metrics.parquet's order: scored, the cells' (ids, `Records`, arrays)
    sorted by series and seed; head, the pooled and reference rows (series "*", seed -1),
    already sorted. None where the cells' keys repeat or one is the pooled rows' own (then
    only a sort of all rows gives the order)."""
    names = [str(ids["series"]) for ids, _, _ in scored]
    seeds = np.array([int(ids["seed"]) for ids, _, _ in scored] + [POOLED_SEED], dtype=np.int64)
    keys = pd.DataFrame({"series": pd.array(names + [POOLED_SERIES], dtype="str"), "seed": seeds})
    if keys.duplicated().any():
        return None
    order = keys.sort_values(["series", "seed"], kind="stable").index.to_numpy()
    layouts: dict[int, tuple] = {}  # by layout object
    coded: dict[int, tuple] = {}  # by structure (its sorted rows)
    metric_codes: dict[str, int] = {}
    value, h, level, metric, sizes = [], [], [], [], []
    for i in order:
        if i == len(scored):  # the pooled and reference rows
            value.append(head["value"].to_numpy(dtype=float))
            h.append(head["h"].to_numpy(dtype=np.int64))
            level.append(head["level"].to_numpy(dtype=float))
            metric.append(_codes(head["metric"].to_numpy(dtype=object), metric_codes))
            sizes.append(len(head))
            continue
        rec = scored[i][1]
        lay = layouts.get(id(rec.layout))
        if lay is None:
            sorted_rows = rec.layout.sorted_rows()  # one per structure, shared by equal layouts
            lay = coded.get(id(sorted_rows))
            if lay is None:
                perm, h_s, level_s, metric_s = sorted_rows
                lay = coded[id(sorted_rows)] = (perm, h_s, level_s, _codes(metric_s, metric_codes))
            layouts[id(rec.layout)] = lay
        perm, h_s, level_s, codes = lay
        value.append(rec.values[perm])
        h.append(h_s)
        level.append(level_s)
        metric.append(codes)
        sizes.append(perm.size)
    sizes = np.array(sizes, dtype=np.int64)
    series = np.repeat(order.astype(np.int32), sizes)  # row -> position in names + ["*"]
    n = int(sizes.sum())
    metric_names = pa.array(list(metric_codes), type=pa.large_string())
    return pd.DataFrame({
        "dataset": _strings(pa.array([dataset], type=pa.large_string()), np.zeros(n, dtype=np.int32)),
        "series": _strings(pa.array(names + [POOLED_SERIES], type=pa.large_string()), series),
        "method": _strings(pa.array([method], type=pa.large_string()), np.zeros(n, dtype=np.int32)),
        "seed": np.repeat(seeds[order], sizes),
        "h": np.concatenate(h),
        "level": np.concatenate(level),
        "metric": _strings(metric_names, np.concatenate(metric).astype(np.int32)),
        "value": np.concatenate(value),
    })


def _codes(names: np.ndarray, codes: dict[str, int]) -> np.ndarray:
    """Each name's code in `codes` (new names get the next codes)."""
    return np.array([codes.setdefault(str(m), len(codes)) for m in names], dtype=np.int32)


def _strings(dictionary: pa.Array, indices: np.ndarray) -> pd.arrays.ArrowStringArray:
    """A pandas "str" column of dictionary[indices], built by arrow."""
    return pd.arrays.ArrowStringArray(pa.chunked_array([dictionary.take(pa.array(indices))]), dtype=_STR)
