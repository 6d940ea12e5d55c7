"""An experiment, not a feature: an LSTNet-style autoregressive highway on rnnkit's
Forecaster, measured through the CLI itself.  Results and verdict: highway-experiment.md.

    .venv/bin/python benchmarks/forecast_unseen.py --out runs/forecast-unseen   # the CSVs
    .venv/bin/python benchmarks/highway_experiment.py MODE SERIES[,SERIES..] [--seed S]
        [--p P] [--warm ALPHA] [--unseen runs/forecast-unseen] [--out runs/highway]

MODE:
  base      the CLI exactly as shipped (C++ training step for the rnn where it qualifies)
  autograd  the same, the rnn's Trainer forced to step="autograd" (the highway's training path)
  highway   the rnn's network = Sequential([GRU, Dense]) (unchanged, same init) + Linear over
            the last p values of the (scaled, possibly differenced) target column, zero init;
            trained end to end by the Forecaster's own Trainer (autograd step)
Everything else is the CLI's `rnnkit forecast NAME|FILE.csv --column y --date-column date
--quiet` (strategy auto, presets, split, scaling, differencing, early stopping, seed),
with --stats none (the statistical scores are in forecast-unseen.md), and the model folder
save and plots turned off (nothing that changes a number).  It patches rnnkit's classes in
this process only.  Writes OUT/<tag>/<series>/metrics.json and appends a JSON line per run
to OUT/results.jsonl.
"""
import argparse
import json
import time
from pathlib import Path

import torch

torch.set_num_threads(1)

import rnnkit.plots.forecast as pf  # noqa: E402
from rnnkit.tasks import forecast as fc  # noqa: E402
from rnnkit.tasks import forecast_auto as fa  # noqa: E402
from rnnkit.training import trainer as tr  # noqa: E402

SHIPPED = ("sunspots", "airline", "stocks", "weather", "sine")


class Highway(torch.nn.Module):
    """out = rnn(x) + W x[:, -p:, target] + b  (W, b zero at the start)."""

    def __init__(self, rnn, p, target, n_out):
        super().__init__()
        self.rnn, self.p, self.target = rnn, p, target
        # plain zero Parameters: no RNG drawn, so the GRU/Dense init and batches are unchanged
        self.ar_w = torch.nn.Parameter(torch.zeros(n_out, p))
        self.ar_b = torch.nn.Parameter(torch.zeros(n_out))

    def forward(self, x):
        lin = x[:, -self.p:, self.target] @ self.ar_w.t() + self.ar_b
        return self.rnn(x) + lin


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("base", "autograd", "highway"))
    ap.add_argument("series")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--p", default="window", help="window | season2 | an int")
    ap.add_argument("--unseen", default="runs/forecast-unseen", help="where "
                    "forecast_unseen.py --out wrote the unseen series' CSV files")
    ap.add_argument("--out", default="runs/highway")
    ap.add_argument("--warm", type=float, default=None, help="NOT the brief's zero init: start "
                    "the AR weights at a ridge fit (this alpha) of the training windows' scaled "
                    "target on their last p target values, then train end to end as before")
    args = ap.parse_args()

    # no plots, no saved model folder: neither changes a score
    pf.plot_forecast = lambda *a, **k: {"future_steps": 0}
    pf.plot_training = lambda *a, **k: None
    fa.AutoForecaster.save = lambda self, path: None
    fc.Forecaster.save = lambda self, path: None

    if args.mode in ("autograd", "highway"):
        orig_fit = tr.Trainer.fit

        def fit(self, x, y, *a, **k):
            k["step"] = "autograd"
            if args.warm is not None and isinstance(self.model, Highway):
                m = self.model
                z = torch.as_tensor(x, dtype=torch.float64)[:, -m.p:, m.target]
                t = torch.as_tensor(y, dtype=torch.float64).reshape(len(z), -1)
                zm, tm = z.mean(0), t.mean(0)
                zc, tc = z - zm, t - tm
                w = torch.linalg.solve(zc.T @ zc + args.warm * torch.eye(m.p), zc.T @ tc)  # (p, K)
                with torch.no_grad():
                    m.ar_w.copy_(w.T.float())
                    m.ar_b.copy_((tm - zm @ w).float())
            return orig_fit(self, x, y, *a, **k)
        tr.Trainer.fit = fit

    if args.mode == "highway":
        orig_build = fc.Forecaster._build

        def build(self, n_features):
            seq = orig_build(self, n_features)              # the default network, same RNG use
            cfg = self.config
            assert cfg.strategy == "direct" and not cfg.quantiles and len(self.target_idx) == 1
            if args.p == "window":
                p = cfg.window
            elif args.p == "season2":
                p = min(cfg.window, 2 * cfg.season) if cfg.season else cfg.window
            else:
                p = min(int(args.p), cfg.window)
            model = Highway(seq, p, self.target_idx[0], cfg.horizon)
            model(torch.zeros(1, cfg.window, n_features))
            return model
        fc.Forecaster._build = build

    info = {}
    orig_choose = fa.AutoForecaster._choose

    def choose(self, skipped):                 # record the rnn candidate's training
        f = self.candidates["rnn"]
        vl = f.history.get("val_loss", [])
        info.clear()
        info.update(rnn_epochs=len(f.history.get("loss", [])),
                    rnn_best_epoch=1 + min(range(len(vl)), key=vl.__getitem__) if vl else None)
        if isinstance(f.model, Highway):
            info["ar_w"] = [round(v, 4) for v in f.model.ar_w.detach().ravel().tolist()]
            info["ar_b"] = round(float(f.model.ar_b.detach().ravel()[0]), 4)
        return orig_choose(self, skipped)
    fa.AutoForecaster._choose = choose

    from typer.testing import CliRunner

    from rnnkit.cli.main import app
    warm = f"-warm{args.warm:g}" if args.warm is not None else ""
    tag = f"{args.mode}-p{args.p}{warm}-s{args.seed}" if args.mode == "highway" else \
        f"{args.mode}-s{args.seed}"
    for name in args.series.split(","):
        out = Path(args.out) / tag / name
        if name in SHIPPED:
            cli = ["forecast", name]
        else:
            cli = ["forecast", f"{args.unseen}/{name}.csv", "--column", "y", "--date-column",
                   "date"]
            if name == "co2":
                cli += ["--fill", "interpolate"]
        cli += ["--quiet", "--stats", "none", "--seed", str(args.seed), "--out", str(out)]
        t0 = time.perf_counter()
        res = CliRunner().invoke(app, cli, prog_name="rnnkit")
        sec = time.perf_counter() - t0
        if res.exit_code != 0:
            print(name, "exit", res.exit_code, res.output[-3000:], repr(res.exception))
            import traceback
            traceback.print_exception(*res.exc_info)
            continue
        m = json.loads((out / "metrics.json").read_text())
        auto = m["test"]["auto"]
        val = {n: v["rmse"] for n, v in auto["validation"].items() if "rmse" in v}
        test = {n: v["rmse"] for n, v in auto["scores_on_test"].items()}
        row = {"tag": tag, "series": name, "seed": args.seed, "kind": auto["kind"],
               "auto_test": m["test"]["rmse"], "val": val, "test": test,
               "chosen_epochs": m["epochs_run"], **info, "seconds": round(sec, 1)}
        print(json.dumps(row), flush=True)
        with open(Path(args.out) / "results.jsonl", "a") as fh:
            fh.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
