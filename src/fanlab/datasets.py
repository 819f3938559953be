"""Datasets by name, from Python: ``fanlab.datasets.load("arma", ar=[0.7], n=800)``.

The same registry as a config's `datasets:` entries (`fanlab list datasets` shows every name
and parameter); each returns a list of `Series`, synthetic ones with their `oracle`.
"""

from __future__ import annotations

from fanlab.registry import build_dataset, entries


def names() -> list[str]:
    """Every dataset name."""
    return list(entries("dataset"))


def load(name: str, seed: int = 0, **params):
    """The series of dataset `name` with `params` (validated as in a config); list of Series."""
    return build_dataset(name, params, seed)
