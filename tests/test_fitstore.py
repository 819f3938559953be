"""The fit store: one fit per shared base, identical bytes with and without it."""

import pickle

from fanlab.config import parse_config
from fanlab.api import run_config as run

TINY_LSTM = {"context": 24, "hidden": 8, "epochs": 3, "batch_size": 64}
RAW = {
    "name": "fits",
    "horizon": 12,
    "levels": [0.8],
    "seeds": [0, 1],
    "stride": 6,
    "split": {"train": 0.6, "cal": 0.2, "test": 0.2},
    "bootstrap": {"reps": 100},
    "datasets": [{"name": "arma", "label": "ar1", "params": {"ar": [0.6], "n": 300}}],
    "methods": [
        {"name": "arima", "params": {"order": [1, 0, 0]}},
        {"name": "conformal", "label": "conf_arima",
         "params": {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "method": "split"}},
        {"name": "conformal", "label": "aci_arima",
         "params": {"base": {"name": "arima", "params": {"order": [1, 0, 0]}}, "method": "aci"}},
        {"name": "lstm", "params": {**TINY_LSTM, "head": "gaussian"}},
        {"name": "lstm", "label": "point", "params": {**TINY_LSTM, "epochs": 6, "patience": 1}},
        {"name": "conformal", "label": "conf_point",
         "params": {"base": {"name": "lstm", "params": {**TINY_LSTM, "epochs": 6, "patience": 1}}, "method": "split"}},
        {"name": "lstm", "label": "mc_point", "params": {**TINY_LSTM, "epochs": 6, "patience": 1,
                                                         "uncertainty": "mc_dropout", "samples": 20}},
        {"name": "lstm", "label": "mc", "params": {**TINY_LSTM, "uncertainty": "mc_dropout", "noise": False,
                                                   "samples": 20}},
        {"name": "lstm", "label": "mc_noise", "params": {**TINY_LSTM, "uncertainty": "mc_dropout", "noise": True,
                                                         "samples": 30}},
        {"name": "lstm", "label": "rec_point", "params": {**TINY_LSTM, "strategy": "recursive"}},
        {"name": "lstm", "label": "rec_paths", "params": {**TINY_LSTM, "strategy": "recursive",
                                                          "uncertainty": "residual_paths", "samples": 20}},
        {"name": "lstm", "label": "rec_paths_gauss",
         "params": {**TINY_LSTM, "strategy": "recursive", "uncertainty": "residual_paths", "samples": 20,
                    "innovations": "gaussian", "path_dropout": True}},
        {"name": "conformal", "label": "conf_lstm",
         "params": {"base": {"name": "lstm", "params": {**TINY_LSTM, "head": "gaussian"}}, "method": "split"}},
    ],
}


def _run(tmp_path, name, fit_store=True, **over):
    cfg = parse_config({**RAW, **over, "out": str(tmp_path / name)})
    res = run(cfg, progress=False, figures=False, fit_store=fit_store)
    assert not res.failed, res.statuses
    return res.out


def test_identical_bytes_with_and_without_the_store(tmp_path):
    a = _run(tmp_path, "with")
    b = _run(tmp_path, "without", fit_store=False)
    for f in ("metrics.parquet", "forecasts.parquet", "summary.csv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    # per seed one arima fit, one Gaussian LSTM fit, one point LSTM fit and one recursive point
    # LSTM fit: the wrappers loaded them (the point arm, the conformal band around it and its
    # MC-dropout arms with and without the noise term differ only in what they do at prediction
    # or early-stop on: one training run tracks both early-stopping criteria; the recursive point
    # arm and its residual-path arms likewise)
    fits = sorted(p.name.split("-")[0] for p in (a / "fits").glob("*.pkl"))
    assert fits == ["arima", "arima"] + ["lstm"] * 8
    assert not (b / "fits").exists() or not list((b / "fits").glob("*.pkl"))


def test_fit_groups_are_the_fits_the_store_keeps():
    """`fit_group` (which cells the pool keeps apart) names the fits the byte test above counts:
    per seed one arima fit and four LSTM fits, each shared by the arms said there."""
    from fanlab.engine.fitstore import fit_group

    g = {m.get("label", m["name"]): fit_group(m["name"], m.get("params")) for m in RAW["methods"]}
    assert None not in g.values() and len(set(g.values())) == 5
    assert g["arima"] == g["conf_arima"] == g["aci_arima"]
    assert g["lstm"] == g["conf_lstm"]
    assert g["point"] == g["conf_point"] == g["mc_point"] != g["mc"] == g["mc_noise"]
    assert g["rec_point"] == g["rec_paths"] == g["rec_paths_gauss"] != g["point"]
    assert fit_group("naive", {}) is None
    assert fit_group("conformal", {"base": {"name": "naive"}, "method": "split"}) is None
    assert fit_group("no_such_method", {}) is None


def test_changed_base_spec_refits_and_force_empties(tmp_path):
    out = _run(tmp_path, "r")
    before = {p.name for p in (out / "fits").glob("*.pkl")}
    methods = [{"name": "arima", "params": {"order": [2, 0, 0]}}]
    _run(tmp_path, "r", methods=methods)
    after = {p.name for p in (out / "fits").glob("*.pkl")}
    assert before < after and len(after - before) == 2  # a new order: new fits for both seeds
    # a stored fit is the fitted object itself
    path = sorted(out / "fits" / n for n in after - before)[0]
    with open(path, "rb") as fh:
        model = pickle.load(fh)
    assert hasattr(model, "predict")
    cfg = parse_config({**RAW, "methods": methods, "out": str(out)})
    run(cfg, progress=False, figures=False, force=True)
    assert {p.name for p in (out / "fits").glob("*.pkl")} == after - before


def test_every_predict_only_param_is_varied_between_arms_of_the_byte_test():
    """The registry's facts are tested where they act: every param an entry calls predict-only
    differs between two arms of `RAW` that share one fit (so the byte test above would catch
    a param wrongly declared predict-only), and only entries that store fits declare any."""
    from fanlab import registry

    varied: dict[str, set] = {}
    for i, a in enumerate(RAW["methods"]):
        for b in RAW["methods"][i + 1:]:
            if a["name"] != b["name"]:
                continue
            pa, pb = a.get("params", {}), b.get("params", {})
            keys = {k for k in set(pa) | set(pb) if pa.get(k) != pb.get(k)}
            only = registry.get("method", a["name"]).predict_only
            if keys and keys <= only:
                varied.setdefault(a["name"], set()).update(keys)
    for name, entry in registry.entries("method").items():
        assert not entry.predict_only or entry.store_fit, name
        assert varied.get(name, set()) == set(entry.predict_only), name


def test_a_method_that_does_not_store_fits_is_not_wrapped(tmp_path):
    from fanlab import registry
    from fanlab.engine.fitstore import FitStore, StoredFit

    store = FitStore(tmp_path)
    for name, entry in registry.entries("method").items():
        wrapped = store.wrap(object(), name, {}, 12)
        assert isinstance(wrapped, StoredFit) == entry.store_fit, name
    assert {n for n, e in registry.entries("method").items() if e.store_fit} >= {"arima", "lstm", "lstm_ensemble"}
