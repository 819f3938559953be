"""The on-disk schema of a run (`results/<name>/`).

| file | what |
|---|---|
| config.yaml | the resolved config as run |
| manifest.json | versions, git commit, seeds, timings, host, each cell's status and error |
| cells/<key>.parquet | one finished cell: one row per (origin, h), every quantile, pit, crps |
| forecasts.parquet | dataset, series, method, seed, origin, h, y, mean, lo_<L>, hi_<L>, pit, crps |
| metrics.parquet | tidy: dataset, series, method, seed, h, level, metric, value |
| summary.csv | per dataset, method and level: coverage with bootstrap CI, width, scores |
| figures/*.png | made from the files above only |

Every file is written to a temporary name in the same folder and renamed, so a crash never
leaves a half-written file that a resumed run would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META_KEY = b"fanlab"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renamed onto `path` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_parquet(df: pd.DataFrame, path: Path, meta: dict | None = None) -> None:
    table = pa.Table.from_pandas(df, preserve_index=False)
    if meta is not None:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), META_KEY: json.dumps(meta, sort_keys=True).encode()})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_parquet_meta(path: Path) -> dict:
    """The fanlab metadata alone (reads only the file's footer)."""
    raw = (pq.read_schema(path).metadata or {}).get(META_KEY)
    return json.loads(raw) if raw else {}


def read_parquet_with_meta(path: Path) -> tuple[pd.DataFrame, dict]:
    """The table and its fanlab metadata, from one read of the file."""
    table = pq.read_table(path)
    raw = (table.schema.metadata or {}).get(META_KEY)
    return table.to_pandas(), (json.loads(raw) if raw else {})


def write_text(text: str, path: Path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def write_json(obj: dict, path: Path) -> None:
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def cells_dir(out: Path) -> Path:
    return Path(out) / "cells"


def cell_path(out: Path, key: str) -> Path:
    return cells_dir(out) / f"{key}.parquet"
