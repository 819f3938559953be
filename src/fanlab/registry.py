"""Short names -> factories, for datasets and methods.

Each entry has a pydantic params model (extra keys forbidden), so a config is checked, and
`fanlab list` can show every parameter with its default, without running anything. An
unknown name is an error that lists the valid ones.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, ValidationError

# Modules that register entries when imported. Heavy dependencies (torch) are imported inside
# the factories, so listing and validating stay fast.
_PLUGIN_MODULES = (
    "fanlab.data.synthetic",
    "fanlab.data.real",
    "fanlab.data.csv_loader",
    "fanlab.data.panels",
    "fanlab.data.processes_panel",
    "fanlab.models.oracle",
    "fanlab.models.naive",
    "fanlab.models.arima",
    "fanlab.models.ets",
    "fanlab.models.external",
    "fanlab.models.lstm.register",
    "fanlab.intervals.conformal",
    "fanlab.intervals.pooled",
)


#: Modules named by a config's `plugins:` (user methods and datasets), imported here and by
#: every worker process before it runs a cell.
_USER_PLUGINS: list[str] = []


def load_plugins(modules) -> None:
    """Import user plugin modules (each registers its entries when imported); remembered so
    worker processes import them too. Raises ImportError naming a module that is missing."""
    for mod in modules:
        if mod not in _USER_PLUGINS:
            importlib.import_module(mod)
            _USER_PLUGINS.append(mod)


def plugin_modules() -> tuple[str, ...]:
    """The user plugin modules loaded so far, for worker processes to import."""
    return tuple(_USER_PLUGINS)


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Entry:
    """A registered dataset or method, with what the run needs to know about a method."""

    kind: str  # "dataset" or "method"
    name: str
    factory: Callable[..., Any]
    params: type[BaseModel]
    summary: str
    #: its fits are worth keeping in the run's fit store (`fanlab.engine.fitstore`), shared by
    #: every arm whose params differ only in `predict_only`
    store_fit: bool = False
    #: params that change prediction only: arms differing in them share one stored fit
    #: (`tests/test_fitstore.py` runs such arms with and without the store, byte for byte)
    predict_only: frozenset[str] = frozenset()
    #: rough seconds of one cell, a number or ``cost(params: dict) -> float``; only orders the
    #: cells (longest first), never changes a result
    cost: float | Callable[[dict], float] = 1.0

    def cell_cost(self, params: dict | None) -> float:
        return float(self.cost(params or {}) if callable(self.cost) else self.cost)


_REGISTRY: dict[str, dict[str, Entry]] = {"dataset": {}, "method": {}}
_loaded = False


class UnknownName(KeyError):
    def __init__(self, kind: str, name: str, valid: list[str]):
        self.kind, self.name, self.valid = kind, name, valid
        super().__init__(f"unknown {kind} '{name}' (valid: {', '.join(valid)})")

    def __str__(self) -> str:
        return self.args[0]


def _register(kind: str, name: str, params: type[BaseModel] | None, **facts):
    def deco(factory):
        if name in _REGISTRY[kind]:
            raise ValueError(f"{kind} '{name}' registered twice")
        mod = getattr(factory, "__module__", None)
        if mod and mod not in _PLUGIN_MODULES and mod != "__main__" and mod not in _USER_PLUGINS:
            _USER_PLUGINS.append(mod)  # a user's module: worker processes import it too
        doc = (factory.__doc__ or "").strip().splitlines()
        entry = Entry(kind, name, factory, params or NoParams, doc[0] if doc else "", **facts)
        unknown = entry.predict_only - set(entry.params.model_fields)
        if unknown:
            raise ValueError(f"{kind} '{name}': predict_only names no param: {sorted(unknown)}")
        _REGISTRY[kind][name] = entry
        return factory

    return deco


def register_dataset(name: str, params: type[BaseModel] | None = None):
    """Decorator: ``factory(params, seed) -> list[Series]``."""
    return _register("dataset", name, params)


def register_method(name: str, params: type[BaseModel] | None = None, *, store_fit: bool = False,
                    predict_only=(), cost: float | Callable[[dict], float] = 1.0):
    """Decorator: ``factory(params, ctx: BuildContext) -> Forecaster``; `store_fit`,
    `predict_only` and `cost` are the method's facts for the run (see `Entry`)."""
    return _register("method", name, params, store_fit=store_fit, predict_only=frozenset(predict_only), cost=cost)


#: Methods fitted across every series of a dataset at once ("global"), for some params:
#: name -> (when(validated params) -> bool, panel factory(params, PanelContext) -> panel forecaster).
_PANEL: dict[str, tuple[Callable, Callable]] = {}


def register_panel(name: str, when: Callable[[BaseModel], bool]):
    """Decorator: ``factory(params, ctx: fanlab.context.PanelContext)`` builds the global form of
    method `name` for the params where ``when(params)`` holds. Such a method's cell is one
    dataset x method x seed (every series at once; see `fanlab.engine.cells`)."""
    def deco(factory):
        _PANEL[name] = (when, factory)
        return factory

    return deco


def is_panel(name: str, params: dict | None) -> bool:
    """True where method `name` with `params` is fitted across the series of a dataset."""
    _ensure_loaded()
    if name not in _PANEL:
        return False
    return bool(_PANEL[name][0](get("method", name).params.model_validate(params or {})))


def build_panel_method(name: str, params: dict | None, ctx):
    _ensure_loaded()
    return _PANEL[name][1](get("method", name).params.model_validate(params or {}), ctx)


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            # a plugin module not written yet is simply absent; a broken import inside one is not
            if exc.name != mod:
                raise


def entries(kind: str) -> dict[str, Entry]:
    _ensure_loaded()
    return dict(sorted(_REGISTRY[kind].items()))


def get(kind: str, name: str) -> Entry:
    _ensure_loaded()
    try:
        return _REGISTRY[kind][name]
    except KeyError:
        raise UnknownName(kind, name, sorted(_REGISTRY[kind])) from None


def parse_params(kind: str, name: str, params: dict | None) -> BaseModel:
    """Validated params model; raises UnknownName or pydantic ValidationError."""
    return get(kind, name).params.model_validate(params or {})


def build_dataset(name: str, params: dict | None, seed: int):
    entry = get("dataset", name)
    return entry.factory(entry.params.model_validate(params or {}), seed)


def build_method(name: str, params: dict | None, ctx):
    """The forecaster of a method spec; its fit goes through ``ctx.fit_store`` where set
    (wrappers build their base through here too, so the base's fit is shared)."""
    entry = get("method", name)
    validated = entry.params.model_validate(params or {})
    model = entry.factory(validated, ctx)
    store = getattr(ctx, "fit_store", None)
    if store is not None:
        model = store.wrap(model, name, validated.model_dump(mode="json"), ctx.horizon)
    return model


def validate_method_spec(spec: Any) -> dict:
    """Check a nested method spec ``{name, params}`` (used by wrappers); returns it as a dict.

    Raises ValueError with a readable message, which pydantic reports at the wrapper's key.
    """
    if not isinstance(spec, dict) or "name" not in spec:
        raise ValueError("a method spec needs 'name' (and optionally 'params')")
    extra = set(spec) - {"name", "params", "label"}
    if extra:
        raise ValueError(f"unknown key(s) {sorted(extra)} in method spec")
    try:
        parse_params("method", spec["name"], spec.get("params"))
    except UnknownName as exc:
        raise ValueError(str(exc)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise ValueError(f"{spec['name']}.params.{loc}: {first['msg']}") from None
    return spec
