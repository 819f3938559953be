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
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, field_validator, model_validator
from pydantic.functional_validators import BeforeValidator

from fanlab import registry
from fanlab.config_yaml import Origins, blame, key_path, read_yaml, show_value
from fanlab.errors import ConfigError
from fanlab.engine.inputs import resolve_paths
from fanlab.forecast import FINE_LEVELS, level_probs, probs_for_levels

#: Seeds are 32-bit unsigned integers (stored as int64 in the results, fed to numpy).
MAX_SEED = 2**32 - 1
#: Labels and names: a safe file-name word.
LABEL_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
LABEL_RULE = "1 to 64 characters from A-Z a-z 0-9 _ . - (labels name files and table rows)"


def _no_bool(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"must be a number, not a boolean ({str(v).lower()})")
    return v


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {v}")
    return v


#: An integer that refuses booleans (`horizon: true` is not 1).
StrictInt = Annotated[int, BeforeValidator(_no_bool)]
#: Fractions (floats) or lengths (ints) of the split: finite, no booleans.
Number = Annotated[Union[int, float], BeforeValidator(_finite), BeforeValidator(_no_bool)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED), BeforeValidator(_no_bool)]
#: A forecast horizon: steps (1..100,000), or `auto`: each series' own (a competition's h).
MAX_HORIZON = 100_000


def _horizon(v: Any) -> Any:
    if isinstance(v, bool):
        raise ValueError(f"must be a number of steps or auto, not a boolean ({str(v).lower()})")
    if v == "auto":
        return v
    if not isinstance(v, int):
        raise ValueError(f"must be an integer number of steps (1 to {MAX_HORIZON:,}) or auto, got {show_value(v)}")
    if not 1 <= v <= MAX_HORIZON:
        raise ValueError(f"must be an integer from 1 to {MAX_HORIZON:,} (or auto), got {v}")
    return v


Horizon = Annotated[Union[int, str], BeforeValidator(_horizon)]
#: Fewest training points a holdout series may have (fewer: the dataset is refused).
HOLDOUT_MIN_TRAIN = 3
#: rolling: train | cal | test in time, an origin every `stride` steps of the test block;
#: holdout: the last H points of each series are its test, one origin (the M-competitions).
Protocol = Literal["rolling", "holdout"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: Smallest non-zero split fraction (1 / MAX_SERIES_LENGTH: below it a block has no point).
MIN_FRACTION = 1e-7


class SplitSpec(_Strict):
    """Block sizes, all fractions of the series (floats) or all lengths (ints)."""

    train: Number = 0.6
    cal: Number = 0.2
    test: Number = 0.2

    @field_validator("train", "cal", "test")
    @classmethod
    def _not_tiny(cls, v):
        # a float is a fraction (lengths are integers): one this small names its own key
        if isinstance(v, float) and 0 < v < MIN_FRACTION:
            raise ValueError(f"fraction {v:g} is below {MIN_FRACTION:g}: a block that small holds no point "
                             "of any series (use 0 or a length)")
        return v

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
            small = [v for v in vals if 0 < v < MIN_FRACTION]
            if small:
                raise ValueError(f"fraction {small[0]:g} is below {MIN_FRACTION:g}: a block that small "
                                 "holds no point of any series (use 0 or a length)")
        if self.train <= 0 or self.test <= 0:
            raise ValueError("train and test blocks must be non-empty")
        return self


class DatasetSpec(_Strict):
    name: str
    label: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    split: SplitSpec | None = None  # overrides the config's split for this dataset
    methods: list[str] | None = None  # method labels to run on this dataset (default: all)
    horizon: Horizon | None = None  # overrides the config's horizon for this dataset
    protocol: Protocol | None = None  # overrides the config's protocol for this dataset
    holdout_cal: StrictInt | None = Field(None, ge=0)  # overrides the config's holdout_cal

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
    reps: StrictInt = Field(1000, ge=50, le=1_000_000)
    block: StrictInt | None = Field(None, ge=1)  # None: ceil(horizon / stride)
    seed: Seed = 0
    ci: float = Field(0.95, gt=0.0, lt=1.0)


class ReportSpec(_Strict):
    """What the report opens on; read by the report only (nothing in a run depends on it)."""
    headline_datasets: list[str] = Field(default_factory=list)
    headline_methods: list[str] = Field(default_factory=list)


class Config(_Strict):
    name: str
    description: str = ""
    horizon: Horizon = 100
    protocol: Protocol = "rolling"
    #: holdout: calibration points kept just before each series' test block (0: none)
    holdout_cal: StrictInt = Field(0, ge=0)
    levels: list[Annotated[float, BeforeValidator(_no_bool)]] = Field(
        default_factory=lambda: [0.5, 0.8, 0.95], min_length=1)
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1, max_length=10_000)
    split: SplitSpec = Field(default_factory=SplitSpec)
    stride: StrictInt = Field(10, ge=1)
    max_origins: StrictInt | None = Field(None, ge=1)
    datasets: list[DatasetSpec] = Field(min_length=1)
    methods: list[MethodSpec] = Field(min_length=1)
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec)
    plugins: list[str] = Field(default_factory=list)  # importable modules that register user methods
    #: also write quantiles.parquet: every quantile of the fine grid (q_<p>), one row per forecasts.parquet row
    quantiles: StrictBool = False

    @field_validator("plugins")
    @classmethod
    def _plugins(cls, v: list[str]) -> list[str]:
        for mod in v:
            if not isinstance(mod, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", mod):
                raise ValueError(f"plugins: {mod!r} is not a module name (e.g. mypackage.methods)")
        return v
    out: str | None = None  # results folder; default results/<name>
    report: ReportSpec | None = None  # the report's first view (headline datasets and methods)

    @model_validator(mode="after")
    def _headlines(self) -> "Config":
        if self.report is not None:
            for what, names, have in (("datasets", self.report.headline_datasets, [d.key for d in self.datasets]),
                                      ("methods", self.report.headline_methods, [m.key for m in self.methods])):
                for n in names:
                    if n not in have:
                        raise ValueError(f"report.headline_{what}: {n!r} is not one of the config's {what} "
                                         f"({', '.join(have)})")
        return self

    @field_validator("levels")
    @classmethod
    def _levels(cls, v: list[float]) -> list[float]:
        for i, lv in enumerate(v):
            if not (0.0 < lv < 1.0) or math.isnan(lv):
                raise ValueError(f"level {lv} (item {i}) must lie strictly between 0 and 1")
        if len(set(v)) != len(v):
            raise ValueError("levels must be unique")
        # levels name columns (lo_<level:g>) and quantiles (probabilities rounded to
        # PROB_DECIMALS): two levels equal after that rounding would silently merge
        def key(lv):
            return f"{lv:g}"

        def probs(lv):
            return level_probs(lv)

        for i, lv in enumerate(v):
            for j in range(i):
                if key(v[j]) == key(lv) or probs(v[j]) == probs(lv):
                    raise ValueError(f"levels {v[j]!r} (item {j}) and {lv!r} (item {i}) coincide once "
                                     f"rounded (both are level {key(lv)}); give distinct levels")
            for fine in FINE_LEVELS:
                if lv != fine and (key(lv) == key(fine) or probs(lv) == probs(fine)):
                    raise ValueError(f"level {lv!r} (item {i}) coincides once rounded with the fine-grid "
                                     f"level {fine:g}; write {fine:g}")
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
        if not LABEL_RE.fullmatch(v) or v.startswith("."):
            raise ValueError(f"name {show_value(v)} must be {LABEL_RULE}, not starting with '.'")
        return v

    @field_validator("out")
    @classmethod
    def _out(cls, v: str | None) -> str | None:
        if v is not None and (not v.strip() or any(ord(c) < 32 for c in v) or len(v) > 1024):
            raise ValueError("out must be a non-empty folder path without control characters")
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

    def protocol_for(self, ds: DatasetSpec) -> str:
        return ds.protocol or self.protocol

    def horizon_for(self, ds: DatasetSpec, series) -> int:
        """The horizon of one series of dataset `ds`; `auto` takes the series' own."""
        h = ds.horizon if ds.horizon is not None else self.horizon
        if h != "auto":
            return int(h)
        if getattr(series, "horizon", None) is None:
            raise ConfigError(f"dataset '{ds.key}': horizon: auto needs series with their own horizon "
                              f"(m1, m3, tourism); series '{series.name}' has none: give a number")
        return int(series.horizon)

    def cell_split(self, ds: DatasetSpec, series, horizon: int) -> dict:
        """The block sizes of one series: the config's split (rolling), or train = the rest,
        `holdout_cal` calibration points and the last `horizon` points as the test (holdout)."""
        if self.protocol_for(ds) == "rolling":
            return self.split_for(ds).model_dump()
        cal = ds.holdout_cal if ds.holdout_cal is not None else self.holdout_cal
        # competition series can be short (M1 yearly: 9 points before its 6 test points)
        return {"train": len(series) - horizon - cal, "cal": cal, "test": horizon, "min_train": HOLDOUT_MIN_TRAIN}

    @property
    def max_horizon(self) -> int | None:
        """The largest fixed horizon of the config (None where every horizon is auto)."""
        hs = [h for h in [self.horizon] + [d.horizon for d in self.datasets] if h not in (None, "auto")]
        return max(hs) if hs else None


def _first_error(exc: ValidationError, prefix: str = "") -> tuple[str, str]:
    err = exc.errors()[0]
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
    elif err["type"] == "missing":
        msg = "required key is missing"
    path = key_path(err["loc"])
    if prefix:
        path = f"{prefix}.{path}" if path else prefix
    more = len(exc.errors()) - 1
    if more:
        msg += f" (and {more} more error{'s' if more > 1 else ''})"
    return path, msg


def _bool_smuggled(raw: Any, parsed: Any, loc: tuple = ()) -> tuple | None:
    """Key path where a boolean in `raw` became a number in `parsed` (lax int coercion)."""
    if isinstance(raw, bool):
        return loc if isinstance(parsed, (int, float)) and not isinstance(parsed, bool) else None
    if isinstance(raw, dict) and isinstance(parsed, dict):
        for k, v in raw.items():
            if k in parsed:
                hit = _bool_smuggled(v, parsed[k], loc + (k,))
                if hit is not None:
                    return hit
    if isinstance(raw, list) and isinstance(parsed, (list, tuple)) and len(raw) == len(parsed):
        for i, (a, b) in enumerate(zip(raw, parsed)):
            hit = _bool_smuggled(a, b, loc + (i,))
            if hit is not None:
                return hit
    return None


def parse_config(raw: dict, file: str | None = None, origins: Origins | None = None) -> Config:
    """Validate a config mapping, including every dataset's and method's params.

    `origins` (key path -> file, from `extends`) blames each error on the file that set the key.
    """
    origins = origins or {}

    def fail(msg: str, loc: tuple):
        raise ConfigError(msg, path=key_path(loc), file=blame(origins, loc, file) if file else None)

    try:
        cfg = Config.model_validate(raw)
    except ValidationError as exc:
        path, msg = _first_error(exc)
        fail(msg, tuple(exc.errors()[0]["loc"]))
    for i, mod in enumerate(cfg.plugins):  # user methods register themselves when imported
        try:
            registry.load_plugins([mod])
        except Exception as exc:
            fail(f"cannot import plugin module '{mod}': {type(exc).__name__}", ("plugins", i))
    for kind, specs, field in (("dataset", cfg.datasets, "datasets"), ("method", cfg.methods, "methods")):
        seen: dict[str, int] = {}
        for i, spec in enumerate(specs):
            where = (field, i)
            try:
                parsed = registry.parse_params(kind, spec.name, spec.params)
            except registry.UnknownName as exc:
                fail(str(exc), where + ("name",))
            except ValidationError as exc:
                _, msg = _first_error(exc)
                fail(msg, where + ("params",) + tuple(exc.errors()[0]["loc"]))
            except (ValueError, TypeError, ArithmeticError) as exc:  # a params validator that raised oddly
                fail(" ".join(str(exc).split())[:200] or type(exc).__name__, where + ("params",))
            hit = _bool_smuggled(spec.params, parsed.model_dump())
            if hit is not None:
                fail("must be a number, not a boolean", where + ("params",) + hit)
            if spec.label is not None and not LABEL_RE.fullmatch(spec.label):
                fail(f"label {show_value(spec.label)} must be {LABEL_RULE}", where + ("label",))
            if spec.key in seen:
                fail(f"duplicate {kind} label '{spec.key}' (also {field}[{seen[spec.key]}]); give each a distinct 'label'",
                     where + ("label",))
            if "*" in spec.key or "/" in spec.key or "__" in spec.key:
                fail("labels may not contain '*', '/' or '__'", where + ("label",))
            seen[spec.key] = i
    labels = [m.key for m in cfg.methods]
    for i, ds in enumerate(cfg.datasets):
        for j, lab in enumerate(ds.methods or []):
            if lab not in labels:
                fail(f"no method labelled {show_value(lab)} (methods: {', '.join(labels)})", ("datasets", i, "methods", j))
    return cfg


def load_config(path: str | Path) -> Config:
    """Read, merge (`extends`) and validate a YAML config; raises ConfigError. Relative file
    paths of `csv` datasets and `external` methods are taken relative to the config file that
    sets them, as `extends` is."""
    path = Path(path)
    raw, origins = read_yaml(path)
    if isinstance(raw, dict) and "out" in raw:
        # a config file must not choose where it writes: results go to results/<name> or --out
        raise ConfigError("a config file may not set the results folder; use --out",
                          path="out", file=str(origins.get(("out",), path)))
    raw = resolve_paths(raw, lambda loc: blame(origins, loc, str(path)))
    return parse_config(raw, file=str(path), origins=origins)


def config_to_dict(cfg: Config) -> dict:
    out = cfg.model_dump(mode="json")
    if out.get("report") is None:  # configs without a report block dump as they always did
        out.pop("report", None)
    return out


def stable_hash(obj: Any, n: int = 12) -> str:
    """Hash of a JSON-able object, independent of key order."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:n]
