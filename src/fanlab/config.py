"""Experiment configs: pydantic v2 models (unknown keys forbidden) and a loader.

A config names datasets, methods, seeds, the split, the horizon and the levels. A config may
`extends:` another file (path relative to itself): mappings merge key by key, lists and
scalars replace, so a study config says only what differs from its base.

Every error is one line naming the file and the key path, e.g.
``configs/x.yaml: methods[1].params.order: Input should be ...``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fanlab import registry
from fanlab.errors import ConfigError
from fanlab.forecast import FINE_LEVELS, probs_for_levels

Number = Union[int, float]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SplitSpec(_Strict):
    """Block sizes, all fractions of the series (floats) or all lengths (ints)."""

    train: Number = 0.6
    cal: Number = 0.2
    test: Number = 0.2

    @model_validator(mode="after")
    def _check(self) -> "SplitSpec":
        vals = (self.train, self.cal, self.test)
        kinds = {isinstance(v, float) for v in vals}
        if len(kinds) > 1:
            raise ValueError("train, cal and test must be all fractions (0.6) or all lengths (600)")
        if any(v < 0 for v in vals):
            raise ValueError("block sizes must be >= 0")
        if kinds == {True}:
            if sum(vals) > 1.0 + 1e-9:
                raise ValueError(f"fractions sum to {sum(vals):g} > 1")
        if self.train <= 0 or self.test <= 0:
            raise ValueError("train and test blocks must be non-empty")
        return self


class DatasetSpec(_Strict):
    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    split: SplitSpec | None = None  # overrides the config's split for this dataset
    methods: list[str] | None = None  # method labels to run on this dataset (default: all)

    @property
    def key(self) -> str:
        return self.label or self.name


class MethodSpec(_Strict):
    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.label or self.name


class BootstrapSpec(_Strict):
    reps: int = Field(1000, ge=50)
    block: int | None = Field(None, ge=1)  # None: ceil(horizon / stride)
    seed: int = 0
    ci: float = Field(0.95, gt=0.0, lt=1.0)


class Config(_Strict):
    name: str
    description: str = ""
    horizon: int = Field(100, ge=1)
    levels: list[float] = Field(default_factory=lambda: [0.5, 0.8, 0.95], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    split: SplitSpec = Field(default_factory=SplitSpec)
    stride: int = Field(10, ge=1)
    max_origins: int | None = Field(None, ge=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    methods: list[MethodSpec] = Field(min_length=1)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    out: str | None = None  # results folder; default results/<name>

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        for i, lv in enumerate(v):
            if not (0.0 < lv < 1.0) or math.isnan(lv):
                raise ValueError(f"level {lv} (item {i}) must lie strictly between 0 and 1")
        if len(set(v)) != len(v):
            raise ValueError("levels must be unique")
        return sorted(v)

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, v: list[int]) -> list[int]:
        if len(set(v)) != len(v):
            raise ValueError("seeds must be unique")
        if any(s < 0 for s in v):
            raise ValueError("seeds must be >= 0")
        return v

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not v or any(c in v for c in "/\\ ") or v.startswith("."):
            raise ValueError("name must be a non-empty word without slashes or spaces")
        return v

    # what the evaluation asks every method for
    @property
    def all_levels(self) -> list[float]:
        return sorted(set(self.levels) | set(FINE_LEVELS))

    @property
    def probs(self):
        return probs_for_levels(self.all_levels)

    def out_dir(self, root: str | Path = ".") -> Path:
        return Path(root) / (self.out or f"results/{self.name}")

    def split_for(self, ds: DatasetSpec) -> SplitSpec:
        return ds.split or self.split


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _first_error(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    err = exc.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    path = _loc(err["loc"])
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more error{'s' if more > 1 else ''})"
    return path, msg


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"not valid YAML{where}: {getattr(exc, 'problem', exc)}", file=str(path)) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError("a config must be a mapping of keys", file=str(path))
    parent = raw.pop("extends", None)
    if parent is not None:
        if not isinstance(parent, str):
            raise ConfigError("must be a path to another config", path="extends", file=str(path))
        ppath = (path.parent / parent).resolve()
        if ppath in seen:
            raise ConfigError(f"circular extends via {parent}", path="extends", file=str(path))
        raw = _merge(_read_yaml(ppath, seen + (path.resolve(),)), raw)
    return raw


def parse_config(raw: dict, file: str | None = None) -> Config:
    """Validate a config mapping, including every dataset's and method's params."""
    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        path, msg = _first_error(exc)
        raise ConfigError(msg, path=path, file=file) from None
    for kind, specs, field in (("dataset", cfg.datasets, "datasets"), ("method", cfg.methods, "methods")):
        seen: dict[str, int] = {}
        for i, spec in enumerate(specs):
            where = f"{field}[{i}]"
            try:
                registry.parse_params(kind, spec.name, spec.params)
            except registry.UnknownName as exc:
                raise ConfigError(str(exc), path=f"{where}.name", file=file) from None
            except ValidationError as exc:
                path, msg = _first_error(exc, prefix=f"{where}.params")
                raise ConfigError(msg, path=path, file=file) from None
            if spec.key in seen:
                raise ConfigError(
                    f"duplicate {kind} label '{spec.key}' (also {field}[{seen[spec.key]}]); give each a distinct 'label'",
                    path=f"{where}.label", file=file,
                )
            if "*" in spec.key or "/" in spec.key or "__" in spec.key:
                raise ConfigError("labels may not contain '*', '/' or '__'", path=f"{where}.label", file=file)
            seen[spec.key] = i
    labels = [m.key for m in cfg.methods]
    for i, ds in enumerate(cfg.datasets):
        for j, lab in enumerate(ds.methods or []):
            if lab not in labels:
                raise ConfigError(f"no method labelled '{lab}' (methods: {', '.join(labels)})",
                                  path=f"datasets[{i}].methods[{j}]", file=file)
    return cfg


def load_config(path: str | Path) -> Config:
    """Read, merge (`extends`) and validate a YAML config; raises ConfigError."""
    path = Path(path)
    return parse_config(_read_yaml(path), file=str(path))


def config_to_dict(cfg: Config) -> dict:
    return cfg.model_dump(mode="json")


def stable_hash(obj: Any, n: int = 12) -> str:
    """Hash of a JSON-able object, independent of key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]
