"""Reading a config file: bytes, text, YAML, the `extends` chain, and where each key came from.

Every refusal is a `ConfigError` naming the file (and, for a base config, the file that
`extends` it). Kept apart from the schema (`fanlab.config`), which validates what this reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from fanlab.errors import ConfigError

#: Largest config file read (bytes); a bigger one is refused before it is parsed.
MAX_CONFIG_BYTES = 1_000_000
#: Most values a config may hold once YAML aliases are expanded (bounds alias bombs).
MAX_CONFIG_NODES = 100_000
#: Deepest nesting of mappings and lists in a config.
MAX_CONFIG_DEPTH = 40


def key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def show_value(v: Any, limit: int = 40) -> str:
    """A user value fit for a one-line message: printable, short."""
    text = repr(v)
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


Origins = dict  # key path (tuple) -> the file that set it


def _origins(raw: dict, file: str, prefix: tuple = ()) -> Origins:
    out: Origins = {}
    for k, v in raw.items():
        out[prefix + (k,)] = file
        if isinstance(v, dict):
            out.update(_origins(v, file, prefix + (k,)))
    return out


def _merge_origins(base: Origins, over: Origins, merged: dict) -> Origins:
    out = dict(base)
    for path in over:
        value = merged
        for part in path:
            value = value[part]
        if not isinstance(value, dict):  # a replaced value: forget the base's keys under it
            for p in [p for p in out if len(p) > len(path) and p[: len(path)] == path]:
                del out[p]
        out[path] = over[path]
    return out


def blame(origins: Origins, loc: tuple, default: str) -> str:
    """The file that set the longest prefix of key path `loc`."""
    for k in range(len(loc), 0, -1):
        if tuple(loc[:k]) in origins:
            return origins[tuple(loc[:k])]
    return default


def _read_bytes(path: Path, file: str, key: str = "", referrer: str | None = None) -> bytes:
    """The bytes of a config, refused (ConfigError) when missing, not a regular file or too big.

    When the config is the base of another (`extends`), errors name the referring file and
    the `extends` key, plus the base path.
    """
    def fail(msg: str):
        if referrer is not None:
            raise ConfigError(f"base config '{file}': {msg}", path=key, file=referrer)
        raise ConfigError(msg, file=file)

    try:
        if not path.exists():
            fail("not found")
        if path.is_dir():
            fail("is a directory, not a config file")
        if not path.is_file():
            fail("not a regular file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            fail(f"{size:,} bytes, larger than the {MAX_CONFIG_BYTES:,}-byte limit for a config")
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        fail(f"cannot read ({exc.strerror or type(exc).__name__})")
    if len(data) > MAX_CONFIG_BYTES:
        fail(f"larger than the {MAX_CONFIG_BYTES:,}-byte limit for a config")
    return data


def _decode(data: bytes, file: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ConfigError("is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8",
                          file=file)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} cannot be decoded; "
                          "save the file as UTF-8", file=file) from None
    text = text.removeprefix("\ufeff")
    bad = next((i for i, c in enumerate(text) if (ord(c) < 32 and c not in "\t\n\r") or c == "\x7f"), None)
    if bad is not None:
        line = text[:bad].count("\n") + 1
        raise ConfigError(f"control character {ord(text[bad]):#04x} on line {line}; a config is plain text",
                          file=file)
    return text


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents with too many nodes or alias uses (alias bombs)."""

    def compose_node(self, parent, index):
        self._nodes = getattr(self, "_nodes", 0) + 1
        if self._nodes > MAX_CONFIG_NODES:
            raise ConfigError(f"more than {MAX_CONFIG_NODES:,} YAML nodes")
        return super().compose_node(parent, index)


def _check_size(raw: Any, file: str) -> None:
    """Refuse a loaded config whose aliases expand too far or refer to themselves.

    Aliases share one object, so the parsed document is small, but everything downstream
    (validation, hashing, the written config.yaml) expands them: bound the expanded size.
    """
    count = 0
    stack: list[tuple[Any, tuple, frozenset]] = [(raw, (), frozenset())]
    while stack:
        obj, loc, above = stack.pop()
        count += 1
        if count > MAX_CONFIG_NODES:
            raise ConfigError(f"YAML aliases expand to more than {MAX_CONFIG_NODES:,} values",
                              path=key_path(loc[:4]), file=file)
        if not isinstance(obj, (dict, list)):
            continue
        if id(obj) in above:
            raise ConfigError("a YAML alias refers to itself (recursive structure)", path=key_path(loc[:6]), file=file)
        if len(loc) > MAX_CONFIG_DEPTH:
            raise ConfigError(f"nested more than {MAX_CONFIG_DEPTH} levels deep", path=key_path(loc[:6]), file=file)
        inner = above | {id(obj)}
        if isinstance(obj, dict):
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise ConfigError(f"keys must be text, got {show_value(k)}", path=key_path(loc), file=file)
                stack.append((v, loc + (k,), inner))
        else:
            for i, v in enumerate(obj):
                stack.append((v, loc + (i,), inner))


def read_yaml(path: Path, seen: tuple[Path, ...] = (), file: str | None = None,
               referrer: str | None = None) -> tuple[dict, Origins]:
    """The merged mapping of a config and its `extends` chain, and which file set each key."""
    file = str(path) if file is None else file

    def whole_file(exc: ConfigError) -> ConfigError:
        # a base that is no config at all: name the referring file and its `extends` key too
        if referrer is None or exc.path:
            return exc
        return ConfigError(f"base config '{file}': {exc.message}", path="extends", file=referrer)

    try:
        text = _decode(_read_bytes(path, file, "extends", referrer), file)
        try:
            loader = _BoundedLoader(text)
            try:
                raw = loader.get_single_data()
            finally:
                loader.dispose()
        except ConfigError as exc:
            raise ConfigError(exc.message, path=exc.path, file=file) from None
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            problem = " ".join(str(getattr(exc, "problem", None) or "syntax error").split())
            raise ConfigError(f"not valid YAML{where}: {problem}", file=file) from None
        except RecursionError:
            raise ConfigError("YAML nested too deeply", file=file) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"a config must be a mapping of keys, not {type(raw).__name__}", file=file)
    except ConfigError as exc:
        raise whole_file(exc) from None
    _check_size(raw, file)
    raw = dict(raw)
    parent = raw.pop("extends", None)
    origins = _origins(raw, file)
    if parent is not None:
        if not isinstance(parent, str) or not parent.strip():
            raise ConfigError("must be a path to another config", path="extends", file=file)
        ppath = (path.parent / parent).resolve()
        if ppath in seen + (path.resolve(),):
            raise ConfigError(f"circular extends via {show_value(parent)}", path="extends", file=file)
        base, base_origins = read_yaml(ppath, seen + (path.resolve(),), file=str(path.parent / parent),
                                        referrer=file)
        merged = _merge(base, raw)
        origins = _merge_origins(base_origins, origins, merged)
        raw = merged
    _check_size(raw, file)
    return raw, origins
