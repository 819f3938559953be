"""Your own series from a CSV file: dataset ``csv``.

Layouts:

- single: ``value: y`` names one column; one Series, named after the column.
- wide: ``value: [a, b, c]``; one Series per column, named after it, sharing the time
  column. Leading and trailing empty cells of a column are dropped (so columns may have
  different lengths); empty cells in between are missing values.
- long: ``series_id: id`` and ``value: y``; one Series per distinct id, named by the id, in
  order of first appearance.

Every error is a `fanlab.errors.DataError` naming the file, the column and the CSV line
number (the header is line 1, the first data row line 2; a quoted field spanning several
lines would shift the count).
"""

from __future__ import annotations

import csv as _csv
import errno
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pydantic import Field, field_validator, model_validator

from fanlab.data.windowing import RealParams, finish, window_slice
from fanlab.data.series import MAX_ABS_VALUE, MAX_SERIES_LENGTH, Series
from fanlab.data.stamps import check_irregular, check_period
from fanlab.errors import DataError
from fanlab.registry import register_dataset


class CsvParams(RealParams):
    """Where the series are in the file; `start`, `length`, `missing` apply to each series."""

    path: str = Field(description="CSV file; a relative path is read from the config file's folder "
                                  "(from the working directory where no config file names it)")
    value: str | list[str] = Field(description="value column, or a list of columns (wide format)")
    time: str | None = Field(None, description="time stamp column; rows are sorted by it")
    series_id: str | None = Field(None, description="id column (long format)")
    freq: str | None = Field(
        None,
        description="pandas frequency ('h', 'D', 'MS', ...); absent stamps become missing values",
    )
    period: int | None = Field(None, ge=1, description="main seasonal period of every series")

    @field_validator("freq")
    @classmethod
    def _known_freq(cls, freq: str | None) -> str | None:
        if freq is not None:
            to_offset(freq)  # raises ValueError naming the bad alias
        return freq

    @model_validator(mode="after")
    def _layout(self) -> "CsvParams":
        if isinstance(self.value, list):
            if not self.value:
                raise ValueError("value: give at least one column")
            if len(set(self.value)) != len(self.value):
                raise ValueError(f"value: repeated column in {self.value}")
            if self.series_id is not None:
                raise ValueError("series_id (long format) takes a single value column, not a list")
        if self.freq is not None and self.time is None:
            raise ValueError("freq needs a time column")
        return self


#: Largest CSV file read.
MAX_CSV_BYTES = 2_000_000_000
_SAFE_CELL = re.compile(r"[A-Za-z0-9 _.,:+-]{0,32}")
_INT_TIME = re.compile(r"\s*[+-]?\d{1,18}\s*")


def _show(cell) -> str:
    """A cell or header of the file, quoted only when it looks like CSV data.

    The path may name any file (`/etc/shadow`); messages must not copy its content, so a
    value is echoed only when short and made of characters a date or number uses.
    """
    text = str(cell)
    if _SAFE_CELL.fullmatch(text):
        return repr(text)
    return f"<{len(text)} characters, not shown>"


def _where(file: str, column: str, line: int | None = None) -> str:
    return f"file '{file}', column '{column}'" + (f", line {line}" if line is not None else "")


def _check_header(path: Path, file: str) -> None:
    """Refuse a header that names a column twice (pandas would read the second as 'v.1')."""
    with path.open(encoding="utf-8", newline="") as fh:
        first = fh.readline(1_000_000)
    try:
        header = next(_csv.reader([first]), [])
    except _csv.Error:
        return  # pandas says what is wrong with it
    seen: set[str] = set()
    for name in header:
        if name in seen and name.strip():
            raise DataError(f"file '{file}', line 1: column {_show(name)} appears twice in the header; "
                            "name every column once")
        seen.add(name)


def _read(path: Path, file: str) -> tuple[pd.DataFrame, np.ndarray]:
    """All cells as strings (NaN where empty) and the CSV line number (R,) of each row."""
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise DataError(f"file '{file}': a symbolic link loop (the link points back to itself)") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise DataError(f"file '{file}': not found (looked for {os.path.abspath(path)})") from None
        raise DataError(f"file '{file}': cannot read ({exc.strerror or type(exc).__name__})") from None
    if not path.is_file():
        raise DataError(f"file '{file}': not a regular file")
    try:
        _check_header(path, file)
        size = path.stat().st_size
        if size > MAX_CSV_BYTES:
            raise DataError(f"file '{file}': {size:,} bytes, more than the {MAX_CSV_BYTES:,}-byte limit")
        # blank lines kept as rows so that row positions map to line numbers
        df = pd.read_csv(path, dtype=str, skip_blank_lines=False, encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"file '{file}': cannot read as CSV: not UTF-8 text (byte offset {exc.start})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"file '{file}': cannot read as CSV: the file is empty") from None
    except pd.errors.ParserError as exc:
        # pandas' messages give line and field counts, not content
        why = " ".join(str(exc).split())[:160]
        raise DataError(f"file '{file}': cannot read as CSV: {why}") from None
    except OSError as exc:
        raise DataError(f"file '{file}': cannot read ({exc.strerror or type(exc).__name__})") from None
    except (ValueError, MemoryError, OverflowError) as exc:
        raise DataError(f"file '{file}': cannot read as CSV ({type(exc).__name__})") from None
    if len(df) > MAX_SERIES_LENGTH * 10:
        raise DataError(f"file '{file}': {len(df):,} rows, more than {MAX_SERIES_LENGTH * 10:,}")
    lines = np.arange(len(df)) + 2
    keep = ~df.isna().all(axis=1).to_numpy()
    df, lines = df[keep].reset_index(drop=True), lines[keep]
    if df.empty:
        raise DataError(f"file '{file}': no data rows")
    return df, lines


def _parse_time(raw: pd.Series, file: str, column: str, lines: np.ndarray) -> pd.Index:
    """Date-times (DatetimeIndex), or integer time indices (0, 1, 2, ...) as an int64 Index."""
    blank = raw.isna().to_numpy()
    if blank.any():
        raise DataError(f"{_where(file, column, int(lines[blank.argmax()]))}: missing time value")
    if raw.map(lambda v: bool(_INT_TIME.fullmatch(v))).all():
        return pd.Index(raw.astype("int64").to_numpy(), dtype="int64")
    try:
        parsed = pd.to_datetime(raw, errors="coerce")
    except ValueError:  # mixed UTC offsets: compare them on one clock
        parsed = pd.to_datetime(raw, errors="coerce", utc=True)
    bad = parsed.isna().to_numpy()
    if bad.any():
        i = int(bad.argmax())
        raise DataError(
            f"{_where(file, column, int(lines[i]))}: cannot parse time value {_show(raw.iloc[i])} "
            f"(format taken from the first value {_show(raw.iloc[0])})"
        )
    return pd.DatetimeIndex(parsed)


def _parse_values(raw: pd.Series, file: str, column: str, lines: np.ndarray) -> np.ndarray:
    """Floats (R,), NaN where the cell is empty or an NA marker."""
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad = (np.isnan(values) & raw.notna().to_numpy()) | np.isinf(values)
    if bad.any():
        i = int(bad.argmax())
        raise DataError(f"{_where(file, column, int(lines[i]))}: non-numeric value {_show(raw.iloc[i])}")
    big = np.abs(values) > MAX_ABS_VALUE
    if big.any():
        i = int(big.argmax())
        raise DataError(f"{_where(file, column, int(lines[i]))}: value beyond +-{MAX_ABS_VALUE:g}; errors and scores of such values overflow: rescale the data")
    return values


def _one_series(
    name: str,
    values: np.ndarray,
    times: pd.Index | None,
    lines: np.ndarray,
    params: CsvParams,
    file: str,
    column: str,
    meta: dict,
) -> Series:
    """Sort by time, check duplicates, regularise to `freq`, apply the policy and the window."""
    label = f" (series '{name}')"
    index = None
    if times is not None:
        integer = not isinstance(times, pd.DatetimeIndex)
        order = np.argsort(times.to_numpy() if integer else times.asi8, kind="stable")
        times, values, lines = times[order], values[order], lines[order]
        dup = np.flatnonzero(times[1:] == times[:-1])
        if dup.size:
            a, b = int(lines[dup[0]]), int(lines[dup[0] + 1])
            raise DataError(
                f"{_where(file, params.time, b)}: duplicated time stamp {times[dup[0] + 1]} "
                f"(also on line {a}){label}"
            )
        if params.freq is not None and integer:
            raise DataError(f"{_where(file, params.time)}: freq={params.freq!r} needs date-time stamps, "
                            f"but the time column holds integers{label}")
        if integer:
            index = pd.Index(times, dtype="int64")
        elif params.freq is not None:
            grid = pd.date_range(times[0], times[-1], freq=params.freq)
            pos = grid.get_indexer(times)
            off = np.flatnonzero(pos < 0)
            if off.size:
                raise DataError(
                    f"{_where(file, params.time, int(lines[off[0]]))}: time stamp {times[off[0]]} "
                    f"is not on the freq={params.freq!r} grid starting at {times[0]}{label}"
                )
            full = np.full(grid.size, np.nan)
            full[pos] = values
            full_lines = np.zeros(grid.size, dtype=np.int64)  # 0: no row in the file
            full_lines[pos] = lines
            values, lines, index = full, full_lines, grid
        else:
            index = pd.DatetimeIndex(times, freq="infer")  # None where irregular
    cut = window_slice(values.size, params.start, params.length, f"file '{file}'{label}")
    gaps = np.flatnonzero(np.isnan(values[cut])) + params.start
    if gaps.size and params.missing == "error":
        g = int(gaps[0])
        if lines[g] > 0:
            what = f"{_where(file, column, int(lines[g]))}: missing value"
        else:
            what = (
                f"{_where(file, params.time)}: no row for time stamp {index[g]} "
                f"(freq={params.freq!r})"
            )
        raise DataError(
            f"{what}{label}; {gaps.size} missing in the window; set params missing: interpolate or ffill"
        )
    if np.isnan(values).all():
        raise DataError(f"{_where(file, column)}: every value is missing{label}")
    meta = {**meta, "frequency": getattr(index, "freqstr", None)}
    return finish(name, values, index, params, period=params.period, meta=meta)


#: Series names the results reserve: '*' marks rows pooled over series, 'panel' a global cell.
RESERVED_NAMES = ("*", "panel")


def _not_reserved(name: str, file: str, column: str, line: int) -> None:
    if name.strip() in RESERVED_NAMES:
        what = "series id" if line > 1 else "value column (a series name)"
        raise DataError(f"{_where(file, column, line)}: {what} {name!r} is reserved (the results use "
                        f"{' and '.join(repr(n) for n in RESERVED_NAMES)} for pooled rows and global cells); "
                        "rename it")


@register_dataset("csv", params=CsvParams)
def csv(params: CsvParams, seed: int) -> list[Series]:
    """Series from your own CSV file: one column, several columns (wide) or an id column (long).

    Source: the file at `path` (relative to the config file that names it). Frequency: from
    `freq` if given (absent time stamps then become missing values, handled by `missing`),
    else inferred from the time column where regular, else none (rows are consecutive
    observations; a series whose stamps skip a step gets a warning naming the gap, and is
    refused where a `period` is given). Length:
    as in the file, cut by `start` and `length` per series. Licence: yours. Seasonal period:
    `period` if given (an error where it is another frequency's calendar cycle, such as 12 on
    quarterly stamps), else none. The series ids `*` and `panel` are reserved; a header that
    names a column twice is refused. Rows are sorted by time; a duplicated time stamp within
    a series is an error. Time stamps with differing UTC offsets (daylight saving) are
    converted to UTC.
    """
    file = params.path
    df, lines = _read(Path(file).expanduser(), file)
    columns = [params.value] if isinstance(params.value, str) else list(params.value)
    needed = [c for c in (params.time, params.series_id) if c is not None] + columns
    for col in needed:
        if col not in df.columns:
            if len(df.columns) <= 50 and all(_SAFE_CELL.fullmatch(str(c)) for c in df.columns):
                present = "columns present: " + ", ".join(repr(c) for c in df.columns)
            else:  # not a CSV header: do not copy the first line of an arbitrary file
                present = f"the first line does not read as a CSV header of named columns ({len(df.columns)} fields)"
            raise DataError(f"{_where(file, col)}: no such column ({present})")
    times = None if params.time is None else _parse_time(df[params.time], file, params.time, lines)
    base = {"source": f"csv file '{file}'", "licence": "user data", "path": file}

    if params.series_id is not None:
        col = columns[0]
        values = _parse_values(df[col], file, col, lines)
        ids = df[params.series_id]
        blank = ids.isna().to_numpy()
        if blank.any():
            line = int(lines[blank.argmax()])
            raise DataError(f"{_where(file, params.series_id, line)}: missing series id")
        out = []
        for sid in pd.unique(ids):
            rows = (ids == sid).to_numpy()
            _not_reserved(str(sid), file, params.series_id, int(lines[rows][0]))
            out.append(_one_series(
                str(sid), values[rows], None if times is None else times[rows], lines[rows],
                params, file, col, {**base, "column": col, "series_id": str(sid)},
            ))
        return _check_stamps(out, params, file)

    out = []
    for col in columns:
        _not_reserved(col, file, col, 1)
        values = _parse_values(df[col], file, col, lines)
        rows = np.ones(values.size, dtype=bool)
        if isinstance(params.value, list):
            # wide: a column may start late or end early
            seen = np.flatnonzero(~np.isnan(values))
            if seen.size == 0:
                raise DataError(f"{_where(file, col)}: every value is missing")
            rows[: seen[0]] = False
            rows[seen[-1] + 1:] = False
        out.append(_one_series(
            col, values[rows], None if times is None else times[rows], lines[rows],
            params, file, col, {**base, "column": col},
        ))
    return _check_stamps(out, params, file)


def _check_stamps(out: list[Series], params: CsvParams, file: str) -> list[Series]:
    """A declared period the stamps contradict is an error; irregular stamps (no freq) warn
    (and refuse a period, which counts rows)."""
    for s in out:
        freq = params.freq or getattr(s.index, "freqstr", None)
        check_period(params.period, freq, f"{_where(file, params.time or '')} (series '{s.name}')")
    if params.freq is None:
        check_irregular(out, file, params.period)
    return out
