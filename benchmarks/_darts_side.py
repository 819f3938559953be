"""The darts side of benchmarks/peer_darts.py: run by the darts venv's python in a subprocess,
never imported by fanlab (darts is no fanlab dependency).

    <darts venv>/bin/python benchmarks/_darts_side.py IN.npz OUT.npz

IN.npz holds the series `y` and a JSON string `settings` (arms in the order to run them,
train_end, horizon, stride, first origin, context, hidden, epochs, seed, ...). OUT.npz gets,
per arm, `<arm>:lo`, `<arm>:hi` (K, H): the central 95% band at each test origin, `<arm>:mid`
(K, H) its point forecast, and `info` (JSON: per-arm seconds, timed here so interpreter
start-up and the darts import are left out, the import's seconds, versions).

Each arm is built as the darts docs show (darts 0.48.1):

- arima: `ARIMA(p=2, d=0, q=1)` fitted on the training block, `historical_forecasts(...,
  retrain=False, num_samples=S)`: darts' ARIMA gives intervals by simulating S paths.
- lstm: `BlockRNNModel(model="LSTM")`, MSE loss, point forecast (no interval).
- lstm_mc: the stock `BlockRNNModel` LSTM has no MonteCarloDropout layer (its `dropout` acts
  only between stacked layers), so `mc_dropout=True` would change nothing. As darts' docs
  say for custom architectures, a `CustomBlockRNNModule` subclass (`_DropoutLSTM`: the stock
  block LSTM's layout plus darts' `MonteCarloDropout` on the inputs and before the head) is
  trained, then forecast with `num_samples=S, predict_kwargs={"mc_dropout": True}`.
- lstm_gauss: `BlockRNNModel(model="LSTM", likelihood=GaussianLikelihood())`, band from the
  predicted mean and sd (`predict_likelihood_parameters=True`).
- ensemble: five such Gaussian models (seeds differ) in `NaiveEnsembleModel(...,
  train_forecasting_models=False)`, band from its averaged parameters.
- conformal_lstm / conformal_ensemble: `ConformalNaiveModel(base, quantiles=[.025, .5,
  .975], cal_length=n_cal, cal_num_samples=S)` around the fitted lstm / ensemble (the same
  fitted objects: the first arm to need a base pays its fit, as fanlab's fit store does).
  n_cal = 201, fanlab's number of calibration origins, so at the first test origin both use
  the same calibration forecasts (darts then slides its window forward, fanlab keeps its
  block). The ensemble is probabilistic, so darts scores the median of S sampled forecasts
  (S = 200, as every sampling arm here, instead of darts' default 500).

Run with no arguments (as `make bench` does with every file in benchmarks/) it says what it
is and exits 0.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time

for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

LO, HI = 0.025, 0.975
Z975 = 1.959963984540054  # the standard normal's 0.975 quantile


def _dropout_lstm_class():
    """A block LSTM with MonteCarloDropout layers (defined here so that darts is imported only
    when the arm runs)."""
    import torch.nn as nn
    from darts.models.forecasting.block_rnn_model import CustomBlockRNNModule
    from darts.models.forecasting.pl_forecasting_module import io_processor
    from darts.utils.data.torch_datasets.utils import PLModuleOutput
    from darts.utils.torch import MonteCarloDropout

    class _DropoutLSTM(CustomBlockRNNModule):
        """LSTM encoder, then a linear head on each of the last `output_chunk_length` outputs
        (the stock block module's layout), with MC dropout (rate `dropout`) on the inputs and
        on the head's inputs: live in training and, with `mc_dropout=True`, at prediction."""

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.rnn = nn.LSTM(self.input_size, self.hidden_dim, self.num_layers, batch_first=True)
            self.drop_in = MonteCarloDropout(self.dropout)
            self.drop_head = MonteCarloDropout(self.dropout)
            self.head = nn.Linear(self.hidden_dim, self.target_size * self.nr_params)

        @io_processor
        def forward(self, x_in):
            x = x_in.concatenate_past_features()  # (B, L, features)
            out, _ = self.rnn(self.drop_in(x))
            out = out[:, -self.output_chunk_length:, :]
            pred = self.head(self.drop_head(out))
            return PLModuleOutput(prediction=pred.view(x.shape[0], self.output_chunk_length, self.target_size,
                                                       self.nr_params))

    return _DropoutLSTM


class Side:
    def __init__(self, y, st: dict, workdir: str):
        import numpy as np
        from darts import TimeSeries

        self.st = st
        self.workdir = workdir
        self.ts64 = TimeSeries.from_values(np.asarray(y, dtype=np.float64))
        self.ts32 = TimeSeries.from_values(np.asarray(y, dtype=np.float32))
        self.fitted: dict = {}  # shared bases: the first arm that needs one pays its fit

    # -- building and fitting ------------------------------------------------------------------
    def _trainer(self) -> dict:
        return {"accelerator": "cpu", "enable_progress_bar": False, "enable_model_summary": False,
                "logger": False, "enable_checkpointing": False, "gradient_clip_val": self.st["grad_clip"]}

    def _torch_model(self, seed: int, kind: str):
        from darts.models import BlockRNNModel
        from darts.utils.likelihood_models.torch import GaussianLikelihood

        st = self.st
        common = dict(input_chunk_length=st["context"], output_chunk_length=st["horizon"],
                      hidden_dim=st["hidden"], n_rnn_layers=1, n_epochs=st["epochs"], batch_size=st["batch_size"],
                      optimizer_kwargs={"lr": st["lr"]}, random_state=seed, pl_trainer_kwargs=self._trainer(),
                      work_dir=self.workdir, save_checkpoints=False)
        if kind == "mc":
            return BlockRNNModel(model=_dropout_lstm_class(), dropout=st["dropout"], **common)
        if kind == "gauss":
            return BlockRNNModel(model="LSTM", likelihood=GaussianLikelihood(), **common)
        return BlockRNNModel(model="LSTM", **common)

    def _fit(self, model):
        """Train on the training block; the validation windows (targets in the last `val_frac`
        of it) are darts' `val_series`, as fanlab's validation tail (no early stopping here:
        every epoch runs, as on the fanlab side)."""
        st = self.st
        train_end, ctx = st["train_end"], st["context"]
        val_start = train_end - max(int(round(st["val_frac"] * train_end)), st["horizon"])
        model.fit(self.ts32[:val_start], val_series=self.ts32[val_start - ctx:train_end], verbose=False)
        return model

    def base(self, key: str):
        if key not in self.fitted:
            seed = self.st["seed"]
            if key == "lstm":
                self.fitted[key] = self._fit(self._torch_model(seed, "point"))
            elif key == "lstm_mc":
                self.fitted[key] = self._fit(self._torch_model(seed, "mc"))
            elif key == "lstm_gauss":
                self.fitted[key] = self._fit(self._torch_model(seed, "gauss"))
            elif key == "ensemble":
                from darts.models import NaiveEnsembleModel

                members = [self._fit(self._torch_model(seed + 1000 * (m + 1), "gauss"))
                           for m in range(self.st["members"])]
                self.fitted[key] = NaiveEnsembleModel(members, train_forecasting_models=False, show_warnings=False)
            elif key == "arima":
                from darts.models import ARIMA

                self.fitted[key] = ARIMA(p=2, d=0, q=1).fit(self.ts64[:self.st["train_end"]])
            else:
                raise SystemExit(f"_darts_side.py: unknown base {key!r}")
        return self.fitted[key]

    # -- forecasting ---------------------------------------------------------------------------
    def _hist(self, model, ts, **kw):
        """One `horizon`-step forecast from every test origin, the fitted model unchanged."""
        import numpy as np

        st = self.st
        fcs = model.historical_forecasts(ts, start=st["first_origin"] + 1, start_format="value",
                                         forecast_horizon=st["horizon"], stride=st["stride"], retrain=False,
                                         last_points_only=False, verbose=False, show_warnings=False, **kw)
        if kw.get("predict_likelihood_parameters"):  # the parameters are the components: (H, P, 1)
            return np.stack([f.all_values(copy=False)[:, :, 0] for f in fcs]).astype(np.float64)  # (K, H, P)
        return np.stack([f.all_values(copy=False)[:, 0, :] for f in fcs]).astype(np.float64)  # (K, H, S)

    def run(self, arm: str):
        import numpy as np

        st = self.st
        if arm == "arima":
            v = self._hist(self.base("arima"), self.ts64, num_samples=st["arima_samples"], random_state=st["seed"])
            return np.quantile(v, LO, axis=2), np.quantile(v, HI, axis=2), np.median(v, axis=2)
        if arm == "lstm":  # a point forecast: the band is the point itself (no interval)
            v = self._hist(self.base("lstm"), self.ts32)[:, :, 0]
            return v, v, v
        if arm == "lstm_mc":
            v = self._hist(self.base("lstm_mc"), self.ts32, num_samples=st["samples"],
                           predict_kwargs={"mc_dropout": True}, random_state=st["seed"])
            return np.quantile(v, LO, axis=2), np.quantile(v, HI, axis=2), v.mean(axis=2)
        if arm in ("lstm_gauss", "ensemble"):
            v = self._hist(self.base(arm), self.ts32, predict_likelihood_parameters=True)  # (K, H, [mu, sigma])
            mu, sd = v[:, :, 0], v[:, :, 1]
            return mu - Z975 * sd, mu + Z975 * sd, mu
        if arm in ("conformal_lstm", "conformal_ensemble"):
            from darts.models import ConformalNaiveModel

            base = self.base("lstm" if arm == "conformal_lstm" else "ensemble")
            cm = ConformalNaiveModel(base, quantiles=[LO, 0.5, HI], symmetric=True, cal_length=st["cal_length"],
                                     cal_stride=1, cal_num_samples=st["samples"], random_state=st["seed"])
            v = self._hist(cm, self.ts32, predict_likelihood_parameters=True)  # (K, H, [lo, median, hi])
            return v[:, :, 0], v[:, :, 2], v[:, :, 1]
        raise SystemExit(f"_darts_side.py: unknown arm {arm!r}")


def main(argv) -> int:
    if len(argv) != 3:
        print("benchmarks/_darts_side.py: the darts side of benchmarks/peer_darts.py (run by it, in the darts "
              "venv); nothing to run alone")
        return 0
    t_import = time.perf_counter()
    import logging
    import warnings

    import numpy as np
    import torch

    torch.set_num_threads(1)
    import darts
    from darts.models import ARIMA, BlockRNNModel, ConformalNaiveModel, NaiveEnsembleModel  # noqa: F401

    t_import = time.perf_counter() - t_import
    for name in ("pytorch_lightning", "lightning.pytorch", "lightning", "darts"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    with np.load(argv[1]) as f:
        y = f["y"]
        st = json.loads(str(f["settings"]))
    h = st["horizon"]
    origins = np.arange(st["first_origin"], len(y) - h, st["stride"])
    out, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="peer_darts_") as workdir:
        side = Side(y, st, workdir)
        for arm in st["arms"]:
            t0 = time.perf_counter()
            lo, hi, mid = side.run(arm)
            seconds[arm] = time.perf_counter() - t0
            if lo.shape != (origins.size, h):
                raise SystemExit(f"_darts_side.py: {arm} gave {lo.shape}, expected {(origins.size, h)}")
            out[f"{arm}:lo"], out[f"{arm}:hi"], out[f"{arm}:mid"] = lo, hi, mid
    info = {"seconds": seconds, "import_seconds": t_import, "darts": darts.__version__, "torch": torch.__version__,
            "threads": torch.get_num_threads()}
    np.savez(argv[2], origins=origins, info=json.dumps(info), **out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
