"""The files a cell reads, and the digests that key its cache.

A cell's hash covers its spec (`fanlab.engine.cells.CellSpec.hash`) and, through `data_spec`, the
bytes of every file it reads: the CSV of a `csv` dataset, the forecasts file of an `external`
method (also as a wrapper's base), and the source of a plugin module that registered its
dataset or method. Edit one of them and the cells that read it recompute on the next run
(which says why); the other cells stay cached.

A config's relative file paths (`csv` and `external` `path`) are read relative to the
config file that sets them, as `extends` is (`resolve_paths`).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any, Iterator

from fanlab import registry

#: Datasets and methods whose params name a file they read, by param name.
FILE_PARAMS = {"dataset": {"csv": "path"}, "method": {"external": "path"}}


def method_specs(name: str, params: Any) -> Iterator[tuple[str, dict]]:
    """The method spec and every base it wraps (conformal's `base`), outermost first."""
    yield name, params if isinstance(params, dict) else {}
    base = params.get("base") if isinstance(params, dict) else None
    if isinstance(base, dict) and isinstance(base.get("name"), str):
        yield from method_specs(base["name"], base.get("params") or {})


def resolve_paths(raw: Any, file_of) -> Any:
    """`raw` (a config mapping) with every relative `path` of a csv dataset or an external
    method (nested bases too) joined to the folder of the file that set it (`file_of(loc)`)."""
    if not isinstance(raw, dict):
        return raw

    def fix(spec: Any, kind: str, loc: tuple) -> Any:
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
            return spec
        params = spec.get("params")
        if not isinstance(params, dict):
            return spec
        params = dict(params)
        key = FILE_PARAMS[kind].get(spec["name"])
        if key and isinstance(params.get(key), str) and params[key].strip():
            p = Path(params[key]).expanduser()
            if not p.is_absolute():
                here = Path(file_of(loc + ("params", key))).parent
                params[key] = os.path.normpath(here / p)
        if kind == "method" and isinstance(params.get("base"), dict):
            params["base"] = fix(params["base"], "method", loc + ("params", "base"))
        return {**spec, "params": params}

    out = dict(raw)
    for field, kind in (("datasets", "dataset"), ("methods", "method")):
        if isinstance(out.get(field), list):
            out[field] = [fix(s, kind, (field, i)) for i, s in enumerate(out[field])]
    return out


def file_digest(path: str | Path, cache: dict | None = None) -> str | None:
    """sha256 of a file's bytes (first 16 hex digits); None where it cannot be read (the
    dataset or method then says why when it reads the file)."""
    key = str(path)
    if cache is not None and key in cache:
        return cache[key]
    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        digest = h.hexdigest()[:16]
    except (OSError, ValueError):
        digest = None
    if cache is not None:
        cache[key] = digest
    return digest


def _plugin_source(kind: str, name: str) -> str | None:
    """The source file of a user plugin module that registered `name`, else None."""
    try:
        mod = registry.get(kind, name).factory.__module__
    except (registry.UnknownName, AttributeError):
        return None
    if not mod or mod.split(".")[0] == "fanlab" or mod not in registry.plugin_modules():
        return None
    return getattr(sys.modules.get(mod), "__file__", None)


def dataset_files(name: str, params: dict) -> list[str]:
    """Files a dataset reads: its data file and a plugin's source."""
    out = []
    key = FILE_PARAMS["dataset"].get(name)
    if key and isinstance(params.get(key), str):
        out.append(os.path.expanduser(params[key]))
    src = _plugin_source("dataset", name)
    return out + ([src] if src else [])


def method_files(name: str, params: dict) -> list[str]:
    """Files a method reads (wrapped bases included): forecast files and plugins' sources."""
    out = []
    for n, p in method_specs(name, params):
        key = FILE_PARAMS["method"].get(n)
        if key and isinstance(p.get(key), str):
            out.append(os.path.expanduser(p[key]))
        src = _plugin_source("method", n)
        if src:
            out.append(src)
    return out


def digests(files: list[str], cache: dict) -> dict[str, str | None]:
    return {f: file_digest(f, cache) for f in dict.fromkeys(files)}


def changed_notes(old: dict, new: dict, readers: dict[str, int]) -> list[str]:
    """One line per input file whose digest differs from the last run's (`old`), with how
    many cells read it and recompute (`readers`)."""
    notes = []
    for path, digest in sorted(new.items()):
        before = old.get(path)
        if before is not None and digest is not None and before != digest and readers.get(path):
            n = readers[path]
            who = "the 1 cell that reads it recomputes" if n == 1 else f"the {n} cells that read it recompute"
            notes.append(f"file '{path}' changed since the last run: {who}")
    return notes
