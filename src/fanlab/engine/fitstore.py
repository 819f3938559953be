"""One fit serves every arm that shares it.

Arms that differ only in how they predict or post-process a forecaster (ARIMA and every
conformal band around it; the point LSTM, its MC-dropout arms with and without the noise
term, and the conformal bands around it; an ensemble and the bands around it) fit the same
base on the same training block with the same seed. The fit store keeps each such fit once,
as a pickle under ``<results>/fits/``, keyed by a hash of everything the fit may depend on: the method's name
and validated params (minus the params its registry entry declares `predict_only`), the horizon it
is trained for, the seed, ``train_end`` and the bytes of ``y[:train_end]`` (a fit reads
nothing else, by the Forecaster contract). Cells and resumed runs that need the same fit load
it instead of refitting; results are byte-identical to fitting each arm alone (a test checks
it), because the loaded object is the fitted object.

Two workers that need the same fit at once take a lock file: the second waits and loads.
Like cell files, a stored fit is keyed by the spec, not by the code: rerun with ``--force``
(which refits and overwrites) after changing a method.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pickle
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from fanlab import registry
from fanlab.config import stable_hash
from fanlab.engine.results import atomic_path


class FitStore:
    """A folder of fitted forecasters; `refit=True` fits anew and overwrites (``--force``)."""

    def __init__(self, root: str | Path, refit: bool = False):
        self.root = Path(root)
        self.refit = refit
        self.hits = 0
        self.misses = 0

    def wrap(self, model, name: str, params: dict, horizon: int, panel: bool = False):
        """`model` with its fit going through the store (`panel`: a global method, keyed by
        every series' training block). Which methods store their fits, and which params only
        change prediction, the method's registry entry says (`store_fit`, `predict_only`); the
        others are returned as they are."""
        entry = registry.get("method", name)
        if not entry.store_fit:
            return model
        return StoredFit(model, self, {**_fit_spec(entry, params), "horizon": horizon}, panel=panel)

    @contextmanager
    def _lock(self, key: str):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f".{key}.lock", "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def fit(self, model, spec: dict, y: np.ndarray, train_end: int, seed: int):
        """The fitted model: loaded from the store, or fitted and stored."""
        data = hashlib.sha256(np.ascontiguousarray(np.asarray(y, dtype=float)[:train_end]).tobytes()).hexdigest()
        key = stable_hash({**spec, "seed": int(seed), "train_end": int(train_end), "data": data}, n=20)
        return self._load_or_fit(spec["name"], key, lambda: model.fit(y, train_end, seed))

    def fit_panel(self, model, spec: dict, ys: list[np.ndarray], train_ends: list[int], seed: int):
        """The fitted global (panel) model, keyed by every series' training block."""
        h = hashlib.sha256()
        for y, te in zip(ys, train_ends):
            h.update(np.int64(te).tobytes())
            h.update(np.ascontiguousarray(np.asarray(y, dtype=float)[:te]).tobytes())
        key = stable_hash({**spec, "seed": int(seed), "n_series": len(ys), "data": h.hexdigest()}, n=20)
        return self._load_or_fit(f"panel-{spec['name']}", key, lambda: model.fit(ys, train_ends, seed))

    def _load_or_fit(self, name: str, key: str, fit):
        path = self.root / f"{name}-{key}.pkl"
        with self._lock(key):
            if path.is_file() and not self.refit:
                try:
                    with open(path, "rb") as fh:
                        fitted = pickle.load(fh)
                    self.hits += 1
                    return fitted
                except Exception:  # an unreadable fit is refitted
                    pass
            fitted = fit()
            with atomic_path(path) as tmp:
                with open(tmp, "wb") as fh:
                    pickle.dump(fitted, fh, protocol=pickle.HIGHEST_PROTOCOL)
            self.misses += 1
            return fitted


def _fit_spec(entry, params: dict) -> dict:
    """What a stored fit of `entry`'s method is keyed by, of its validated `params`: all but
    the params that only change prediction."""
    return {"name": entry.name, "params": {k: v for k, v in params.items() if k not in entry.predict_only}}


def fit_group(name: str, params: dict | None) -> str | None:
    """The stored fit a cell of method `name` with `params` makes or loads (a wrapper's, such
    as conformal's: that of its ``base``), as a hash; None where it stores none. Cells of one
    series, seed and group take the fit's lock in turn, so the run does not start them at once
    (`fanlab.engine.pool`); a hint for the order of cells only, it changes no result."""
    try:
        entry = registry.get("method", name)
        validated = entry.params.model_validate(params or {}).model_dump(mode="json")
    except Exception:  # an invalid spec fails in its cell, with its own message
        return None
    if entry.store_fit:
        return stable_hash(_fit_spec(entry, validated))
    base = (params or {}).get("base")
    if isinstance(base, dict) and "name" in base:
        return fit_group(str(base["name"]), base.get("params"))
    return None


class StoredFit:
    """A forecaster whose `fit` goes through a `FitStore`; everything else is the inner one's.
    `panel`: a global forecaster, ``fit(ys, train_ends, seed)`` keyed by every training block."""

    def __init__(self, inner, store: FitStore, spec: dict, panel: bool = False):
        self._inner, self._store, self._spec, self._panel = inner, store, spec, panel

    @property
    def name(self) -> str:
        return self._inner.name

    def fit(self, y, train_end, seed: int) -> "StoredFit":
        """Local: ``fit(y, train_end, seed)``; panel: ``fit(ys, train_ends, seed)``."""
        fit = self._store.fit_panel if self._panel else self._store.fit
        fitted = fit(self._inner, self._spec, y, train_end, seed)
        adopt = getattr(fitted, "adopt_predict_params", None)
        if adopt is not None:  # the stored fit may come from an arm with other predict-only params
            adopt(self._inner)
        self._inner = fitted
        return self

    def predict(self, y, origins, horizon, probs):
        return self._inner.predict(y, origins, horizon, probs)

    def __getattr__(self, attr):
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self._inner, attr)


def clean_stale(root: Path) -> None:
    """Remove temp files a killed write left behind."""
    if root.is_dir():
        for tmp in root.glob(".*.tmp"):
            try:
                os.unlink(tmp)
            except OSError:
                pass

