"""A batch of cell tables scored in stacks (`fanlab.engine.cellread`) gives each series what
`score_cell` gives of its frame: the same ids, the same records to the bit, the same arrays;
tables of other shapes, unsorted rows, missing rows, a global method's many series and
columns of other layouts included."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from fanlab.engine.cellread import forecast_part, forecast_rows, member, score_batch, split_series
from fanlab.metrics.evaluate import score_cell
from fanlab.metrics.frames import ColumnFrame
from fanlab.metrics.joint import sim_cols
from fanlab.schema import prob_col
from tests.metrics.cellgen import ALL_LEVELS, LEVELS, cell, same_bits


def table_of(arr: dict, series: str, method: str = "m", seed: int = 0, paths: bool = True, time: bool = False):
    """A cell file's table of one series' arrays (rows by origin, then h)."""
    k, h = arr["y"].shape
    cols = {"dataset": ["d"] * (k * h), "series": [series] * (k * h), "method": [method] * (k * h),
            "seed": np.full(k * h, seed, dtype=np.int64), "origin": np.repeat(arr["origins"], h),
            "h": np.tile(np.arange(1, h + 1, dtype=np.int64), k), "y": arr["y"].ravel(), "mean": arr["mean"].ravel()}
    for j, p in enumerate(arr["probs"]):
        cols[prob_col(p)] = arr["quantiles"][:, j, :].ravel()
    cols["pit"], cols["crps"] = arr["pit"].ravel(), arr["crps"].ravel()
    cols["state"] = np.repeat(arr["state"], h)
    if paths:
        for lv, (lo, hi) in arr["paths"]["sim"].items():
            lo_c, hi_c = sim_cols(lv)
            cols[lo_c], cols[hi_c] = lo.ravel(), hi.ravel()
        for c in ("energy", "variogram", "energy_clim"):
            cols[c] = np.repeat(arr["paths"][c], h)
    if time:
        cols["time"] = pd.date_range("2000-01-01", periods=k * h, freq="D")
    frame = pd.DataFrame(cols)
    for c in ("dataset", "series", "method"):
        frame[c] = frame[c].astype("str")
    return pa.Table.from_pandas(frame, preserve_index=False)


def _want(table: pa.Table, scale):
    frame = ColumnFrame({c: table.column(c).to_numpy(zero_copy_only=False) for c in table.column_names if c != "time"})
    return score_cell(frame, scale, LEVELS, ALL_LEVELS)


def _assert_member(got, want):
    (gids, grec, garr), (wids, wrec, warr) = got, want
    assert gids == wids and type(gids["seed"]) is type(wids["seed"])
    g, w = grec.packed(), wrec.packed()
    assert g[2] == w[2] and all(same_bits(a, b) for a, b in zip(g[:2] + g[3:], w[:2] + w[3:]))
    for key in ("y", "mean", "pit", "crps", "quantiles", "origins", "state", "probs"):
        assert same_bits(garr[key], warr[key]), key
        assert garr[key].flags.c_contiguous == warr[key].flags.c_contiguous or garr[key].ndim == 1, key
    for key in ("energy", "variogram", "energy_clim"):
        assert same_bits(garr["paths"][key], warr["paths"][key])
    assert garr["paths"]["sim"].keys() == warr["paths"]["sim"].keys()
    for lv in warr["paths"]["sim"]:
        assert all(same_bits(a, b) for a, b in zip(garr["paths"]["sim"][lv], warr["paths"]["sim"][lv]))


def test_a_batch_scores_as_cell_by_cell():
    rng = np.random.default_rng(0)
    kinds = ("plain", "dead_h1", "law", "point", "nan_y", "law_inf")
    series = []
    for i in range(30):
        k, h = [(1, 6), (1, 18), (3, 8), (1, 6)][i % 4]
        arr = cell(rng, k, h, kinds[i % len(kinds)])
        table = table_of(arr, f"s{i}", paths=i % 5 != 0, time=i % 7 == 0)
        if i % 6 == 1:  # rows out of order: sorted as `frame_arrays` sorts them
            table = table.take(rng.permutation(table.num_rows))
        series.append((table, None if i % 3 == 0 else 0.5 + i))
    groups, where = score_batch(series, LEVELS, ALL_LEVELS, [prob_col(0.5)])
    assert len(groups) == 4  # paths or not, time or not: four sets of columns
    groups = pickle.loads(pickle.dumps(groups))  # as a worker sends them
    for (table, scale), (g, m) in zip(series, where):
        _assert_member(member(groups[g], m), _want(table, scale))
        keep, q = forecast_part(groups[g], m)
        want_keep, want_q = forecast_rows(table, LEVELS, [prob_col(0.5)])
        assert keep.equals(want_keep) and q.equals(want_q)


def test_a_global_cell_splits_into_its_series():
    rng = np.random.default_rng(1)
    arrays = [cell(rng, 1, 6) for _ in range(4)]
    whole = pa.concat_tables([table_of(a, n, method="pooled") for a, n in zip(arrays, ["b", "a", "c", "d"])])
    whole = whole.take(np.r_[0:6, 12:18, 6:12, 18:24][::-1].copy())  # rows of one series not adjacent to its first
    meta = {"scales": {"a": 1.0, "b": 2.0, "c": None, "d": 4.0}}
    parts = list(split_series(whole, meta))
    assert [p[0] for p in parts] == ["d", "a", "c", "b"] and [p[2] for p in parts] == [4.0, 1.0, None, 2.0]
    groups, where = score_batch([(t, s) for _, t, s in parts], LEVELS, ALL_LEVELS, [])
    for (_, table, scale), (g, m) in zip(parts, where):
        _assert_member(member(groups[g], m), _want(table, scale))
        assert forecast_part(groups[g], m)[1] is None


def test_a_table_of_missing_rows_fails_as_its_frame_does():
    rng = np.random.default_rng(2)
    good, bad = table_of(cell(rng, 2, 6), "a"), table_of(cell(rng, 2, 6), "b").slice(1)
    with pytest.raises(ValueError, match="reshape") as want:
        _want(bad, 1.0)
    with pytest.raises(ValueError) as got:
        score_batch([(good, 1.0), (bad, 1.0)], LEVELS, ALL_LEVELS, [])
    assert str(got.value) == str(want.value)


def test_tables_that_do_not_concatenate_are_scored_apart():
    # as many columns, the same last one: another probability grid (q_0.51 for q_0.5), a seed
    # column of another type
    rng = np.random.default_rng(3)
    plain = [table_of(cell(rng, 1, 6), f"p{i}") for i in range(3)]
    grid = table_of(cell(rng, 1, 6), "g")
    grid = grid.rename_columns([c if c != "q_0.5" else "q_0.51" for c in grid.column_names])
    typed = table_of(cell(rng, 1, 6), "t")
    typed = typed.set_column(typed.schema.get_field_index("seed"), "seed", typed.column("seed").cast(pa.int32()))
    series = [(plain[0], 1.0), (grid, 1.0), (plain[1], None), (typed, 2.0), (plain[2], 1.0)]
    groups, where = score_batch(series, LEVELS, ALL_LEVELS, [])
    assert [g for g, _ in where] == [0, 2, 0, 1, 0]  # the plain tables in one group, the others apart
    for (table, scale), (g, m) in zip(series, where):
        _assert_member(member(groups[g], m), _want(table, scale))
