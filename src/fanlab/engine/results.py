"""The on-disk schema of a run (`results/<name>/`).

| file | what |
|---|---|
| config.yaml | the resolved config as run |
| manifest.json | versions, git commit, seeds, timings, host, each cell's status and error |
| cells/<key>.parquet | one finished cell: one row per (origin, h), every quantile, pit, crps |
| forecasts.parquet | dataset, series, method, seed, origin, h, y, mean, lo_<L>, hi_<L>, pit, crps |
| quantiles.parquet | with `quantiles: true`: the rows of forecasts.parquet (same keys) with every quantile q_<p> of the fine grid |
| metrics.parquet | tidy: dataset, series, method, seed, h, level, metric, value |
| summary.csv | per dataset, method and level: coverage with bootstrap CI, width, scores |
| figures/*.png | made from the files above only |

Every file is written to a temporary name in the same folder and renamed, so a crash never
leaves a half-written file that a resumed run would trust.
"""

from __future__ import annotations

import hashlib
import json
import re
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fanlab.errors import DataError, FanlabError

META_KEY = b"fanlab"


class WriteError(FanlabError):
    """A results file that could not be written (full or read-only disk, a name too long):
    one line naming the file and the system's reason; the CLI exits 2."""


def _umask() -> int:
    """The process's umask, read without changing it where /proc says it (else set and reset)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    old = os.umask(0o022)
    os.umask(old)
    return old


def io_reason(exc: OSError) -> str:
    """The system's words for an OSError ('No space left on device'), without the path."""
    return exc.strerror or " ".join(str(exc).split())[:160] or type(exc).__name__


def show_path(path, limit: int = 120) -> str:
    """A path fit for a one-line message: printable, and its middle cut where it is long."""
    text = "".join(c if c.isprintable() else "?" for c in str(path))
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]}...{text[-(limit // 2 - 3):]} ({len(text)} characters)"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yields a temporary path beside `path`; renamed onto `path` if the block succeeds. The
    file gets the mode a plain `open` would (0666 less the umask: 0644 under 022), not
    mkstemp's 0600. An OSError (full disk, read-only folder, long name) becomes a WriteError
    naming `path`; the temporary file is removed."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:64]}.", suffix=".tmp")
        os.close(fd)
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise WriteError(f"cannot write '{show_path(path)}': {io_reason(exc)}") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass


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


def safe_name(key: str, max_len: int = 100) -> str:
    """A file name for a key made of labels and data values: the key's safe characters
    (letters, digits, '.', '_', '-'; anything else becomes '_', leading dots dropped), cut to
    `max_len`, then a hash of the whole key, so no value can name a path outside the folder
    and two keys never share a file."""
    readable = re.sub(r"\.{2,}", "_", re.sub(r"[^A-Za-z0-9._-]", "_", key)).lstrip(".")[:max_len]
    return f"{readable}-{hashlib.sha256(key.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}"


def _key_part(part: str) -> str:
    """One part of a cell key, escaped so that parts joined by '__' split back uniquely: '%'
    always, and every '_' of a part that starts or ends with '_' or holds '__' (as %5F)."""
    part = str(part).replace("%", "%25")
    if part.startswith("_") or part.endswith("_") or "__" in part:
        part = part.replace("_", "%5F")
    return part


def cell_key(dataset: str, series: str, method: str, seed: int) -> str:
    """The key of a cell: (dataset, series, method, seed) joined by '__', each part escaped so
    that no two cells share a key (`x`/`_m` and `x_`/`m` differ: `x__%5Fm` and `x%5F__m`).
    Ordinary labels and ids (`ar1__arma_0__naive__s0`) read as they are."""
    return "__".join([_key_part(dataset), _key_part(series), _key_part(method), f"s{int(seed)}"])


def cell_path(out: Path, key: str) -> Path:
    return cells_dir(out) / f"{safe_name(key)}.parquet"


MARKER = ".fanlab.json"
LOCK = ".fanlab.lock"


class FolderError(DataError):
    """A results folder that this run may not write into (another config's, not fanlab's,
    in use by another run, or not a folder)."""


def _looks_like_results(out: Path) -> bool:
    # a folder written before markers existed: config, manifest and cells of a run
    return (out / "manifest.json").is_file() and (out / "config.yaml").is_file()


@contextmanager
def claim_folder(out: Path, name: str, config_hash: str, force: bool = False) -> Iterator[Path]:
    """Hold a results folder for one run of config `name`, with a lock, for the block.

    A folder belongs to the config whose name its marker holds: a run of another config into
    it is refused unless `force` (which takes it over); a non-empty folder that is no fanlab
    results folder is refused always; a folder another run holds is refused at once (no
    waiting, no two runs writing the same files). Temp files of killed writes are removed.
    """
    out = Path(out)
    try:
        if out.exists() and not out.is_dir():
            raise FolderError(f"results folder '{out}' is a file, not a folder")
        marker = out / MARKER
        if out.is_dir() and not marker.is_file() and any(out.iterdir()) and not _looks_like_results(out):
            raise FolderError(f"results folder '{out}' is not empty and holds no fanlab run; "
                              "pick another --out (nothing was written)")
        out.mkdir(parents=True, exist_ok=True)
        fh = open(out / LOCK, "a+")
    except OSError as exc:
        raise FolderError(f"results folder '{show_path(out)}' cannot be created or written: {io_reason(exc)}; "
                          "pick another --out") from None
    try:
        import fcntl

        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            who = fh.read().strip() or "?"
            raise FolderError(f"results folder '{out}' is in use by another fanlab run (pid {who}); "
                              "wait for it to finish or pick another --out") from None
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(str(os.getpid()))
            fh.flush()
        except OSError as exc:
            raise FolderError(f"results folder '{out}' cannot be written: {io_reason(exc)}; "
                              "pick another --out") from None
        if marker.is_file():
            try:
                owner = json.loads(marker.read_text()).get("name")
            except (OSError, ValueError):
                owner = None
            if owner != name and not force:
                raise FolderError(f"results folder '{out}' holds the results of config '{owner}', not "
                                  f"'{name}'; pick another --out, or --force to replace them")
        write_json({"name": name, "config_hash": config_hash, "pid": os.getpid()}, marker)
        for d in (out, out / "cells"):
            if d.is_dir():
                for tmp in d.glob(".*.tmp"):
                    try:
                        tmp.unlink()
                    except OSError:
                        pass
        yield out
    finally:
        fh.close()  # releases the lock
