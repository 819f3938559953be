"""The three layouts an `external` forecasts file may have, each read into one long table.

`normalize(frame, format, model, ...)` returns a frame with one row per forecast value:

==========  ===========================================================================
series      the series name ("" where the file names none)
seed        the config seed (only where the file has the column)
origin      0-based position of the last observed point, or ``cutoff``: its time stamp
h           step 1 .. H, or ``ds``: the time stamp of the forecast target
prob        quantile probability (quantile rows), or ``sample``: the sample path's id
value       the quantile or the sample's value
mean        point forecast (optional); ``y`` the observed value the file holds (optional)
==========  ===========================================================================

Time stamps stay as the file has them; `positions` matches them to a series' own time index
(a series without stamps: integer positions) once the series is known. ``attrs`` says which keys the
table has (``origin_key``: origin | cutoff | None, ``step_key``: h | ds), whether its rows
are quantiles or samples (``kind``), the format and model read, and notes for the cell.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from fanlab.errors import DataError
from fanlab.forecast import PROB_DECIMALS

FORMATS = ("auto", "long", "statsforecast", "darts")
#: statsforecast / mlforecast / neuralforecast interval columns: <model>-lo-<level>, -hi-, -median
SF_BAND = re.compile(r"^(?P<model>.+)-(?P<side>lo|hi)-(?P<level>\d+(?:\.\d+)?)$")
SF_MEDIAN = re.compile(r"^(?P<model>.+)-median$")
#: neuralforecast's quantile columns when asked for quantiles: <model>_ql<prob>
NF_QUANTILE = re.compile(r"^(?P<model>.+)_ql(?P<prob>0?\.\d+)$")
#: darts' column names: <component>_q<prob> (quantile series), <component>_s<i> (sample paths)
DARTS_QUANTILE = re.compile(r"^(?P<model>.+)_q(?P<prob>0?\.\d+)$")
DARTS_SAMPLE = re.compile(r"^(?P<model>.+)_s(?P<sample>\d+)$")
SF_IDS = ("unique_id", "ds", "cutoff", "y", "index")
DARTS_TIME = ("time", "ds", "date", "Date", "timestamp")


def detect(df: pd.DataFrame) -> str:
    """The layout of a frame: long (a ``value`` column), statsforecast (``ds`` and ``cutoff``
    beside ``<model>-lo-<L>`` / ``-hi-<L>`` columns), darts (``<component>_q<p>`` or
    ``<component>_s<i>`` columns); DataError naming the rules otherwise."""
    cols = [str(c) for c in df.columns]
    if "value" in cols:
        return "long"
    if {"ds", "cutoff"} <= set(cols) and any(SF_BAND.match(c) or NF_QUANTILE.match(c) for c in cols):
        return "statsforecast"
    if any(DARTS_QUANTILE.match(c) or DARTS_SAMPLE.match(c) for c in cols):
        return "darts"
    raise DataError(f"missing column 'value': columns {cols[:12]} fit none of the layouts: long (a 'value' "
                    "column), statsforecast ('ds', 'cutoff' and '<model>-lo-<level>' / '-hi-<level>' columns), darts "
                    "('<component>_q<prob>' or '<component>_s<i>' columns); or set format:")


def normalize(df: pd.DataFrame, format: str = "auto", model: str | None = None, time: str | None = None,
              known_probs=()) -> pd.DataFrame:
    """The frame in the long table of the module notes; DataError on what cannot be read.
    `known_probs`: probabilities darts' two-decimal names are read as (0.025 is 'q0.03')."""
    if format not in FORMATS:
        raise DataError(f"format {format!r} unknown; one of {list(FORMATS)}")
    df = _lift_index(df)
    if len(set(map(str, df.columns))) != len(df.columns):
        raise DataError("a column appears twice in the header; name every column once")
    fmt = detect(df) if format == "auto" else format
    out = {"long": _long, "statsforecast": _statsforecast, "darts": _darts}[fmt](df, model, time, known_probs)
    out.attrs.update(format=fmt, has_series=bool((out["series"] != "").any()))
    out.attrs.setdefault("notes", [])
    return out


def _lift_index(df: pd.DataFrame) -> pd.DataFrame:
    """Named index levels (statsforecast 1.x's unique_id, darts' time index) as columns."""
    names = [n for n in df.index.names if n is not None]
    if names and not set(names) & set(map(str, df.columns)):
        return df.reset_index()
    if isinstance(df.index, pd.DatetimeIndex) and "time" not in df:
        return df.rename_axis("time").reset_index()
    return df.reset_index(drop=True)


def _models(found: dict, model: str | None, what: str, point_only=()) -> str:
    """The column group to read: `model` where given, the only one otherwise."""
    if model is not None:
        if model not in found:
            extra = f"; point forecasts only (no band): {sorted(point_only)}" if point_only else ""
            raise DataError(f"model {model!r} not among the {what} in the file: {sorted(found)}{extra}")
        return model
    if len(found) != 1:
        raise DataError(f"the file holds {len(found)} {what} {sorted(found)}: say which to score with "
                        "the param model:")
    return next(iter(found))


def _series(df: pd.DataFrame, *names: str) -> pd.Series:
    for n in names:
        if n in df:
            return df[n].astype(str)
    return pd.Series("", index=df.index)


def _numeric(df: pd.DataFrame, cols, what: str) -> None:
    for c in cols:
        num = pd.to_numeric(df[c], errors="coerce")
        bad = num.isna() & ~(df[c].astype(str).str.strip().str.lower().isin(["inf", "-inf", "+inf"]))
        if bad.any():
            raise DataError(f"row {int(np.flatnonzero(bad)[0]) + 2}: column '{c}' must hold numbers ({what})")
        df[c] = num


def _keys(src: pd.DataFrame, out: dict, origin_needed: bool = True) -> tuple[str | None, str]:
    """Copy the origin key (origin or cutoff) and step key (h or ds) of `src` into `out`."""
    if "origin" in src and "cutoff" in src:
        raise DataError("both 'origin' and 'cutoff' columns: give the origin one way")
    origin_key = "origin" if "origin" in src else "cutoff" if "cutoff" in src else None
    if origin_key is None and origin_needed:
        raise DataError("missing column 'origin' (0-based position of the last observed point) or 'cutoff' "
                        "(its time stamp)")
    step_key = "h" if "h" in src else "ds" if "ds" in src else None
    if step_key is None:
        raise DataError("missing column 'h' (step 1..H) or 'ds' (the target's time stamp)")
    for k in (origin_key, step_key):
        if k is not None:
            out[k] = src[k].to_numpy()
    return origin_key, step_key


def _finish(out: pd.DataFrame, origin_key, step_key, kind: str, model) -> pd.DataFrame:
    for k in ("origin", "h"):
        if k in out:
            _numeric(out, [k], "a whole number")
            if (out[k] != out[k].round()).any():
                raise DataError(f"column '{k}' must hold whole numbers")
    if kind == "quantile":
        out["prob"] = out["prob"].round(PROB_DECIMALS)
        if ((out["prob"] <= 0) | (out["prob"] >= 1)).any():
            raise DataError("probabilities must lie in (0, 1)")
    if out["value"].isna().any():
        raise DataError(f"row {int(np.flatnonzero(out['value'].isna())[0]) + 2} has no value")
    out.attrs.update(origin_key=origin_key, step_key=step_key, kind=kind, model=model)
    return out


def _long(df: pd.DataFrame, model, time, known_probs) -> pd.DataFrame:
    if "model" in df:
        chosen = _models(dict.fromkeys(df["model"].astype(str).unique()), model, "models (column 'model')")
        df = df[df["model"].astype(str) == chosen].reset_index(drop=True)
        model = chosen
    elif model is not None:
        raise DataError(f"model {model!r} asked for, but the file has no 'model' column")
    has_prob = "prob" in df or {"level", "side"} <= set(df.columns)
    if has_prob and "sample" in df:
        raise DataError("both quantile ('prob') and 'sample' columns: a file holds one or the other")
    if not has_prob and "sample" not in df:
        raise DataError("missing column(s) ['prob'] (need origin, h, prob (or level + side, or sample), value)")
    out = {"series": _series(df, "series").to_numpy()}
    origin_key, step_key = _keys(df, out)
    if "prob" in df:
        out["prob"] = df["prob"].to_numpy()
    elif "sample" in df:
        out["sample"] = df["sample"].astype(str).to_numpy()
    else:
        side = df["side"].astype(str).str.lower()
        if not side.isin(["lo", "hi"]).all():
            raise DataError("column 'side' must hold lo or hi")
        lvl = pd.to_numeric(df["level"], errors="coerce").to_numpy(float)
        lvl = np.where(lvl > 1, lvl / 100.0, lvl)  # statsforecast writes levels in percent
        out["prob"] = np.where(side == "lo", (1 - lvl) / 2, (1 + lvl) / 2)
    out["value"] = df["value"].to_numpy()
    for c in ("mean", "seed"):
        if c in df:
            out[c] = df[c].to_numpy()
    out = pd.DataFrame(out)
    _numeric(out, [c for c in ("prob", "value", "mean") if c in out], "numbers")
    if "seed" in out:
        _seed(out)
    return _finish(out, origin_key, step_key, "sample" if "sample" in out else "quantile", model)


def _seed(out: pd.DataFrame) -> None:
    seed = pd.to_numeric(out["seed"], errors="coerce")
    bad = seed.isna() | (seed != seed.round())
    if bad.any():
        raise DataError(f"row {int(np.flatnonzero(bad)[0]) + 2}: column 'seed' must hold whole numbers "
                        "(the config's seeds)")
    out["seed"] = seed.astype(np.int64)


def _statsforecast(df: pd.DataFrame, model, time, known_probs) -> pd.DataFrame:
    groups: dict[str, list[tuple[str, float]]] = {}
    for c in map(str, df.columns):
        if m := SF_BAND.match(c):
            lv = float(m["level"]) / 100.0
            p = (1 - lv) / 2 if m["side"] == "lo" else (1 + lv) / 2
        elif m := SF_MEDIAN.match(c):
            p = 0.5
        elif m := NF_QUANTILE.match(c):
            p = float(m["prob"])
        else:
            continue
        groups.setdefault(m["model"], []).append((c, p))
    bands = {c for v in groups.values() for c, _ in v}
    point = [c for c in map(str, df.columns) if c not in (*SF_IDS, "seed", *bands, *groups)]
    chosen = _models(groups, model, "models with bands", point)
    cols = groups[chosen]
    n = len(df)
    out = {"series": np.tile(_series(df, "unique_id").to_numpy(), len(cols))}
    tiled = pd.DataFrame({k: np.tile(df[k].to_numpy(), len(cols)) for k in ("ds", "cutoff")})
    origin_key, step_key = _keys(tiled, out)
    out["prob"] = np.repeat([p for _, p in cols], n)
    out["value"] = np.concatenate([df[c].to_numpy() for c, _ in cols])
    if chosen in df:
        out["mean"] = np.tile(df[chosen].to_numpy(), len(cols))
    for c in ("y", "seed"):
        if c in df:
            out[c] = np.tile(df[c].to_numpy(), len(cols))
    out = pd.DataFrame(out)
    _numeric(out, [c for c in ("value", "mean", "y") if c in out], "numbers")
    if "seed" in out:
        _seed(out)
    return _finish(out, origin_key, step_key, "quantile", chosen)


def _darts_prob(text: str, known_probs, notes: list, col: str) -> float:
    """darts names quantiles with two decimals (0.025 -> 'q0.03'): such a name reads as the one
    probability of the config that rounds to it, and the cell's notes say so."""
    p = float(text)
    decimals = len(text.split(".")[1])
    known = np.round(np.asarray(known_probs, dtype=float), PROB_DECIMALS)
    if decimals > 2 or np.isclose(known, p, atol=1e-12).any():
        return p
    match = [k for k in known if f"{k:.{decimals}f}" == f"{p:.{decimals}f}"]
    if len(match) == 1:
        notes.append(f"darts column {col!r} read as probability {match[0]:g} (darts writes two decimals)")
        return float(match[0])
    return p


def _darts(df: pd.DataFrame, model, time, known_probs) -> pd.DataFrame:
    tcol = time or next((c for c in DARTS_TIME if c in df), None)
    if tcol is None or tcol not in df:
        raise DataError(f"no time column: darts writes the time index as the frame's index (saved with it) or "
                        f"a column {list(DARTS_TIME)}; name another with the param time: (columns "
                        f"{list(map(str, df.columns))[:10]})")
    groups: dict[str, list[tuple[str, str]]] = {}
    kinds = set()
    for c in map(str, df.columns):
        if m := DARTS_QUANTILE.match(c):
            kinds.add("quantile")
            groups.setdefault(m["model"], []).append((c, m["prob"]))
        elif m := DARTS_SAMPLE.match(c):
            kinds.add("sample")
            groups.setdefault(m["model"], []).append((c, m["sample"]))
    chosen = _models(groups, model, "darts components")
    cols = groups[chosen]
    kind = "sample" if all(DARTS_SAMPLE.match(c) for c, _ in cols) else "quantile"
    if kind == "quantile" and not all(DARTS_QUANTILE.match(c) for c, _ in cols):
        raise DataError(f"component {chosen!r} has both quantile (_q) and sample (_s) columns")
    notes: list[str] = []
    keys = df.rename(columns={tcol: "ds"})
    if "cutoff" in keys and "origin" in keys:
        raise DataError("both 'origin' and 'cutoff' columns: give the origin one way")
    n = len(df)
    out = {"series": np.tile(_series(df, "unique_id", "series").to_numpy(), len(cols))}
    tiled = pd.DataFrame({k: np.tile(keys[k].to_numpy(), len(cols)) for k in ("ds", "cutoff", "origin")
                          if k in keys})
    origin_key, step_key = _keys(tiled, out, origin_needed=False)
    if kind == "quantile":
        out["prob"] = np.repeat([_darts_prob(t, known_probs, notes, c) for c, t in cols], n)
    else:
        out["sample"] = np.repeat([t for _, t in cols], n)
    out["value"] = np.concatenate([df[c].to_numpy() for c, _ in cols])
    if chosen in df:
        out["mean"] = np.tile(df[chosen].to_numpy(), len(cols))
    if "seed" in df:
        out["seed"] = np.tile(df["seed"].to_numpy(), len(cols))
    out = pd.DataFrame(out)
    _numeric(out, [c for c in ("value", "mean", "prob") if c in out], "numbers")
    if "seed" in out:
        _seed(out)
    out = _finish(out, origin_key, step_key, kind, chosen)
    out.attrs["notes"] = sorted(set(notes))
    return out


def stamp(x) -> str:
    ts = pd.Timestamp(x)
    return str(ts.date()) if ts == ts.normalize() and ts.tz is None else str(ts)


def positions(keys: pd.Series, index, what: str) -> np.ndarray:
    """Positions (n,) of time keys in a series' time index, -1 where absent; a series without
    stamps takes 0-based integer positions."""
    keys = pd.Series(np.asarray(keys))
    dated = isinstance(index, pd.DatetimeIndex)
    numeric = pd.api.types.is_numeric_dtype(keys)
    if not dated:
        num = pd.to_numeric(keys, errors="coerce") if not pd.api.types.is_datetime64_any_dtype(keys) else None
        if num is None or num.isna().any() or (num != num.round()).any():
            first = keys.iloc[0] if num is None else keys[num.isna() | (num != num.round())].iloc[0]
            has = "has no time stamps" if index is None else f"has integer time stamps ({index[0]}..{index[-1]})"
            raise DataError(f"{what} holds {first!s}, but the series {has}: give whole numbers (0-based positions "
                            "where the series has no stamps)")
        num = num.to_numpy(np.int64)
        return np.where((num >= 0), num, -1) if index is None else index.get_indexer(num)
    if numeric:
        raise DataError(f"{what} holds numbers ({keys.iloc[0]}), but the series' time stamps are dates "
                        f"({stamp(index[0])}..{stamp(index[-1])})")
    try:
        stamps = pd.DatetimeIndex(pd.to_datetime(keys))
    except (ValueError, TypeError):
        raise DataError(f"{what} holds {keys.iloc[0]!s}, not a time stamp") from None
    if index.tz is not None:
        stamps = stamps.tz_localize(index.tz) if stamps.tz is None else stamps.tz_convert(index.tz)
    elif stamps.tz is not None:
        stamps = stamps.tz_convert(None)
    codes, uniq = pd.factorize(stamps)
    return index.get_indexer(uniq)[codes]


def check_known(keys, pos: np.ndarray, index, n: int, what: str) -> None:
    """DataError naming the keys that are not time stamps (positions) of the series."""
    bad = (pos < 0) | (pos >= n)
    if not bad.any():
        return
    vals = pd.Series(np.asarray(keys))[bad].unique()
    if isinstance(index, pd.DatetimeIndex):
        span = f"{stamp(index[0])}..{stamp(index[-1])}, {index.freqstr or 'irregular'}"
        shown = [stamp(v) for v in vals[:3]]
    else:
        span = f"{index[0]}..{index[-1]}" if index is not None else f"positions 0..{n - 1}"
        shown = [str(v) for v in vals[:3]]
    raise DataError(f"{what}: {len(vals)} value(s) are not time stamps of the series ({span}), e.g. "
                    f"{', '.join(shown)}")
