"""The benchmark harness behind ``rnnkit bench``: every system in one process, interleaved,
medians and spreads, ratios against torch.nn, and the share of the GEMM peak measured in
the same run.  Speed claims live here, never in unit tests.

A training step is zero_grad + forward + MSE on the last output through Dense(1) +
backward + Adam.step; timesteps/s = B·T / step time.  Cell "lstm-rd" is an LSTM with
recurrent dropout 0.25, against torch.nn.LSTM without it (torch has none) and a naive
LSTMCell loop that applies the same mask.  Cell "lnlstm" is ``rk.LayerNormLSTM`` against
torch.nn.LSTM (which has no layer norm) and the loop users write by hand with
nn.Linear + nn.LayerNorm.

``precisions=("fp32", "bf16")`` adds, beside the fp32 rows of the same run, "rnnkit
engine=auto bf16" (the step under ``torch.autocast(bfloat16)``, as ``fit(precision="bf16")``
runs it: bf16 products, fp32 states, loss and Adam) and "torch.nn autocast bf16"; their
ratios are to fp32 torch.nn, their GEMM share to a bf16 GEMM peak measured in the same
run.  Config "textgen" (only when named) is the text generator's tutorial size:
Embedding(70, 256) + GRU(1024) + Dense(70), 64 streams x 100 steps, cross-entropy.

``inference_rows`` (``rnnkit bench --inference``) times inference instead: batch-1
streaming steps and a batch-256 predict, each precision beside fp32 in the same run.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

CONFIGS = {"tiny": (1, 12, 1, 3), "small": (32, 100, 32, 128), "medium": (64, 100, 256, 512)}
TEXTGEN = (64, 100, 256, 1024)   # streams, steps, embedding, GRU units: the tutorial size
VOCAB = 70                       # characters of the text generator's tutorial corpus
PRECISIONS = ("fp32", "bf16")
CELLS = ("lstm", "gru", "simple", "lstm-rd", "lnlstm")
GATES = {"lstm": 4, "gru": 3, "simple": 1, "lstm-rd": 4, "lnlstm": 4}
RECURRENT_DROPOUT = 0.25    # "lstm-rd": an LSTM with variational dropout on h while training


@dataclass
class Result:
    config: str
    cell: str
    system: str
    ms: float            # median ms per training step
    ms_min: float
    ms_max: float
    timesteps_per_s: float
    vs_torch: float      # torch.nn time / this time (> 1 is faster)
    gemm_share: float    # achieved GFLOP/s / measured GEMM GFLOP/s (bf16 rows: bf16 GEMM)
    precision: str = "fp32"


class _TorchNet(nn.Module):
    """torch.nn's built-in layer (for "lstm-rd" and "lnlstm": the LSTM without the feature
    it lacks)."""

    def __init__(self, cell: str, D: int, H: int):
        super().__init__()
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "simple": nn.RNN, "lstm-rd": nn.LSTM,
                "lnlstm": nn.LSTM}[cell]
        self.rnn = kind(D, H, batch_first=True)
        self.out = nn.Linear(H, 1)

    def forward(self, x):
        return self.out(self.rnn(x)[0][:, -1])


class _NaiveLoop(nn.Module):
    """The loop users write by hand: nn.LSTMCell/GRUCell/RNNCell, x[:, t] per step."""

    def __init__(self, cell: str, D: int, H: int):
        super().__init__()
        kind = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "simple": nn.RNNCell,
                "lstm-rd": nn.LSTMCell}[cell]
        self.cell, self.H = kind(D, H), H
        self.out, self.lstm = nn.Linear(H, 1), cell.startswith("lstm")
        self.rd = RECURRENT_DROPOUT if cell == "lstm-rd" else 0.0

    def forward(self, x):
        B = x.shape[0]
        state = None
        if self.rd:           # one mask per sequence on h, as Keras' recurrent_dropout
            q = torch.bernoulli(x.new_full((B, self.H), 1 - self.rd)) / (1 - self.rd)
            state = (x.new_zeros(B, self.H), x.new_zeros(B, self.H))
        for t in range(x.shape[1]):
            if self.rd:
                state = (state[0] * q, state[1])
            state = self.cell(x[:, t], state)
        return self.out(state[0] if self.lstm else state)


class _NaiveLayerNormLoop(nn.Module):
    """A LayerNorm-LSTM as users write it by hand: nn.Linear + nn.LayerNorm, x[:, t] per step."""

    def __init__(self, D: int, H: int):
        super().__init__()
        self.ih, self.hh = nn.Linear(D, 4 * H, bias=False), nn.Linear(H, 4 * H)
        self.ln_ih, self.ln_hh = nn.LayerNorm(4 * H), nn.LayerNorm(4 * H)
        self.ln_c = nn.LayerNorm(H)
        self.out, self.H = nn.Linear(H, 1), H

    def forward(self, x):
        h = c = x.new_zeros(x.shape[0], self.H)
        for t in range(x.shape[1]):
            i, f, g, o = (self.ln_ih(self.ih(x[:, t])) + self.ln_hh(self.hh(h))).chunk(4, 1)
            c = f.sigmoid() * c + i.sigmoid() * g.tanh()
            h = o.sigmoid() * self.ln_c(c).tanh()
        return self.out(h)


def _rnnkit(cell: str, D: int, H: int, engine: str):
    import rnnkit as rk
    if cell == "lnlstm":
        layer = rk.LayerNormLSTM(H, input_size=D, engine=engine)
    elif cell == "lstm-rd":
        layer = rk.LSTM(H, input_size=D, engine=engine, recurrent_dropout=RECURRENT_DROPOUT)
    else:
        layer = {"lstm": rk.LSTM, "gru": rk.GRU, "simple": rk.SimpleRNN}[cell](
            H, input_size=D, engine=engine)
    return rk.Sequential([layer, rk.Dense(1, input_size=H)])


def _cpp_stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], None]:
    """rnnkit's C++ training step (``rnnkit.training.cpp_step``) on the same model."""
    from .training.cpp_step import plan
    from .training.losses import MeanSquaredError
    with torch.no_grad():
        model(x[:1])                                       # build the lazy layers
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    step, _ = plan(model, MeanSquaredError(), opt, x, batch_size=x.shape[0], tbptt=None,
                   mode="cpp")
    return lambda: step(x, y, None, None)


def _stepper(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool = False,
             loss_fn: Callable | None = None) -> Callable[[], None]:
    """One training step; ``bf16``: the forward under a bfloat16 autocast and the loss in
    fp32, as ``fit(precision="bf16")`` (master weights and Adam stay fp32)."""
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    loss_fn = loss_fn or (lambda out, target: ((out - target) ** 2).mean())

    def step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(x)
        loss = loss_fn(out.float(), y)
        loss.backward()
        opt.step()
    return step


def gemm_gflops(n: int = 1024, reps: int = 5, dtype: torch.dtype = torch.float32) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    a @ b
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


def machine_line() -> str:
    return (f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
            f"torch {torch.__version__}, python {platform.python_version()}")


def _time(steps: dict[str, Callable[[], None]], reps: int, inner: int) -> dict[str, list]:
    """Seconds per call of every step: one warm-up, then ``reps`` interleaved rounds."""
    times: dict[str, list[float]] = {name: [] for name in steps}
    for step in steps.values():
        step()                                                    # warm-up
    for _ in range(reps):                                         # interleaved repetitions
        for name, step in steps.items():
            t0 = time.perf_counter()
            for _ in range(inner):
                step()
            times[name].append((time.perf_counter() - t0) / inner)
    return times


def _results(cname: str, cell: str, times: dict, work: float, peaks: dict,
             bf16_names: set) -> list[Result]:
    """Rows with ratios to fp32 torch.nn; ``work`` = B·T and FLOP per step."""
    steps_bt, flop = work
    base = statistics.median(times["torch.nn"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        precision = "bf16" if name in bf16_names else "fp32"
        rows.append(Result(cname, cell, name, med * 1e3, min(ts) * 1e3, max(ts) * 1e3,
                           steps_bt / med, base / med, flop / med / 1e9 / peaks[precision],
                           precision))
    return rows


def _textgen(system: str) -> tuple[nn.Module, Callable]:
    """The tutorial-size text generator as torch.nn or rnnkit; (model, loss)."""
    _, _, E, H = TEXTGEN
    if system == "torch.nn":
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.rnn = nn.Embedding(VOCAB, E), nn.GRU(E, H, batch_first=True)
                self.out = nn.Linear(H, VOCAB)

            def forward(self, x):
                return self.out(self.rnn(self.emb(x))[0])
        model: nn.Module = Net()
    else:
        import rnnkit as rk
        model = rk.Sequential([rk.Embedding(VOCAB, E),
                               rk.GRU(H, input_size=E, return_sequences=True),
                               rk.Dense(VOCAB, input_size=H)])

    def loss(logits, y):        # (B, T, V) against (B, T) ids
        return nn.functional.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))
    return model, loss


def textgen_results(reps: int, precisions=PRECISIONS, peaks: dict | None = None) -> list[Result]:
    """One training step of the tutorial-size text generator, every system in one run."""
    B, T, E, H = TEXTGEN
    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, VOCAB, (B, T), generator=g), torch.randint(0, VOCAB, (B, T),
                                                                       generator=g)
    peaks = peaks or {p: gemm_gflops(1024, dtype=_DTYPES[p]) for p in precisions}
    steps, bf16_names = {}, set()
    for precision in precisions:
        bf16 = precision == "bf16"
        for system in ("torch.nn", "rnnkit engine=auto"):
            name = system if not bf16 else ("torch.nn autocast bf16" if system == "torch.nn"
                                            else f"{system} bf16")
            torch.manual_seed(0)
            model, loss = _textgen(system)
            steps[name] = _stepper(model, x, y, bf16, loss)
            if bf16:
                bf16_names.add(name)
    # GRU: 3 gate blocks of (E + H) x H, forward + backward (x3), plus Dense(V)
    flop = 3 * 2 * B * T * (3 * (E + H) * H + H * VOCAB)
    return _results("textgen", "gru", _time(steps, reps, 1), (B * T, flop), peaks, bf16_names)


_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def run(configs=("tiny", "small"), cells=CELLS, reps: int = 5, quick: bool = False,
        progress: Callable[[str], None] | None = None,
        precisions=("fp32",)) -> tuple[list[Result], dict]:
    """Time every system on every (config, cell); returns results and run facts.
    ``precisions`` ("fp32", "bf16"): which rows of rnnkit's engine=auto to add."""
    from .engines._ext import kernels, status
    torch.manual_seed(0)
    n = 512 if quick else 1024
    peaks = {p: gemm_gflops(n, dtype=_DTYPES[p]) for p in ("fp32", *precisions)}
    peak = peaks["fp32"]
    facts = {"machine": machine_line(), "gemm_gflops": peak, "kernels": status(), "reps": reps}
    if "bf16" in precisions:
        facts["gemm_gflops_bf16"] = peaks["bf16"]
    cpp_ok = kernels() is not None
    results: list[Result] = []
    for cname in configs:
        if cname == "textgen":
            results += textgen_results(reps, ("fp32", *[p for p in precisions if p != "fp32"]),
                                       peaks)
            if progress:
                progress("textgen done")
            continue
        B, T, D, H = CONFIGS[cname]
        x, y = torch.randn(B, T, D), torch.randn(B, 1)
        flop = 3 * 2 * B * T * (D + H) * H   # per gate block; x3 for forward + backward
        for cell in cells:
            naive = _NaiveLayerNormLoop(D, H) if cell == "lnlstm" else _NaiveLoop(cell, D, H)
            systems = {"torch.nn": _TorchNet(cell, D, H), "naive loop": naive}
            engines = ("auto", "rnnkit", "loop") if cell in ("lstm-rd", "lnlstm") else \
                ("auto", "torch", "rnnkit", "loop")      # torch has no rd, no layer norm
            for engine in engines:
                systems[f"rnnkit engine={engine}"] = _rnnkit(cell, D, H, engine)
            steps = {name: _stepper(m, x, y) for name, m in systems.items()}
            bf16_names = set()
            if "bf16" in precisions:                  # beside the fp32 rows, same run
                bf16_names = {"rnnkit engine=auto bf16", "torch.nn autocast bf16"}
                steps["rnnkit engine=auto bf16"] = _stepper(_rnnkit(cell, D, H, "auto"), x, y,
                                                            bf16=True)
                steps["torch.nn autocast bf16"] = _stepper(_TorchNet(cell, D, H), x, y,
                                                           bf16=True)
            if cell in ("lstm", "gru", "simple") and cname != "medium" and cpp_ok:
                steps["rnnkit step=cpp"] = _cpp_stepper(_rnnkit(cell, D, H, "auto"), x, y)
            inner = 1 if cname == "medium" else 3
            times = _time(steps, reps, inner)
            results += _results(cname, cell, times, (B * T, flop * GATES[cell]), peaks,
                                bf16_names)
            if progress:
                progress(f"{cname} {cell} done")
    return results, facts


STEP_SIZES = [(cell, 32, 50, 8, H) for cell in ("simple", "gru", "lstm") for H in (16, 32, 64)]


def cpp_step_rows(reps: int = 5, sizes=STEP_SIZES) -> list[dict]:
    """Where the C++ training step pays: ms per step of ``fit``'s two step kinds on
    models around ``AUTO_MAX_MACS``, and what ``step="auto"`` picks there."""
    from .training.cpp_step import AUTO_MAX_MACS
    rows = []
    for cell, B, T, D, H in sizes:
        torch.manual_seed(0)
        x, y = torch.randn(B, T, D), torch.randn(B, 1)
        steps = {"autograd": _stepper(_rnnkit(cell, D, H, "auto"), x, y),
                 "cpp": _cpp_stepper(_rnnkit(cell, D, H, "auto"), x, y)}
        times: dict[str, list[float]] = {k: [] for k in steps}
        for fn in steps.values():
            fn()
        for _ in range(reps):
            for name, fn in steps.items():
                t0 = time.perf_counter()
                for _ in range(3):
                    fn()
                times[name].append((time.perf_counter() - t0) / 3)
        macs = B * GATES[cell] * H * (D + H)
        med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
        rows.append({"cell": cell, "B": B, "T": T, "D": D, "H": H, "macs": macs,
                     "autograd_ms": med["autograd"], "cpp_ms": med["cpp"],
                     "speedup": med["autograd"] / med["cpp"],
                     "auto_picks": "cpp" if macs <= AUTO_MAX_MACS else "autograd"})
    return rows


def cpp_step_table(rows: list[dict]) -> str:
    head = ("cell", "B, T, D, H", "multiply-adds per step", "autograd ms", "C++ step ms",
            "C++ step speed-up", "auto picks")
    out = [(r["cell"], f"{r['B']}, {r['T']}, {r['D']}, {r['H']}", f"{r['macs']:,}",
            f"{r['autograd_ms']:.2f}", f"{r['cpp_ms']:.2f}", f"{r['speedup']:.2f}x",
            r["auto_picks"]) for r in rows]
    widths = [max(len(x[i]) for x in [head, *out]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [head, *out])


def step_latency(reps: int = 2000) -> dict[str, float]:
    """Microseconds per streaming step at batch 1: ``layer.step`` vs ``nn.LSTMCell``."""
    import rnnkit as rk
    layer, ref = rk.LSTM(64, input_size=32), nn.LSTMCell(32, 64)
    x = torch.randn(1, 32)
    out = {}
    with torch.no_grad():
        for name, fn in (("rnnkit LSTM.step", lambda s: layer.step(x, s)[1]),
                         ("torch nn.LSTMCell", lambda s: ref(x, s))):
            state = fn(None)
            t0 = time.perf_counter()
            for _ in range(reps):
                state = fn(state)
            out[name] = (time.perf_counter() - t0) / reps * 1e6
    return out


# ---------------------------------------------------------------- inference: bf16 vs fp32
def inference_rows(reps: int = 5, precisions=PRECISIONS, quick: bool = False) -> list[dict]:
    """Latency per call of rnnkit's inference at each precision, in one run, interleaved:

        step     a batch-1 streaming ``layer.step(x_t, state, precision=p)`` of the
                 tutorial-size text generator's GRU(1024) (its input an Embedding-256 row)
                 and of the medium LSTM(512) on 256 features, state carried from call to
                 call; each call is its own precision scope
        stream   the same steps inside one ``rnnkit.precision.inference(layer, p)`` block,
                 as a served session's request runs them (autocast keeps its bf16 copy of
                 the weights for the whole block, instead of casting them at every step)
        predict  ``model.predict(x, precision=p)`` of the medium LSTM(512) + Dense(1) on a
                 batch of 256 sequences of T steps (T = 100; 10 with ``quick``)

    Each row: ms per call (median [min-max] over ``reps`` rounds; a step round times many
    steps), ``vs_fp32`` = fp32 ms / this ms (> 1: faster than fp32) and ``ran``: the
    precision the recurrent layer chose (``layer.precision_choice``)."""
    import rnnkit as rk

    from .precision import check_precision, inference
    for p in precisions:
        check_precision(p, "precisions")
    precisions = ("fp32", *[p for p in precisions if p != "fp32"])
    _, T, D, H = CONFIGS["medium"]
    _, _, E, H_gen = TEXTGEN
    T, n_steps = (10, 10) if quick else (T, 200)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    medium = rk.Sequential([rk.LSTM(H, input_size=D), rk.Dense(1, input_size=H)]).eval()
    x_seq = torch.randn(256, T, D, generator=g)
    with torch.no_grad():
        token = rk.Embedding(VOCAB, E)(torch.tensor([[3]]))[:, 0]           # (1, E)
    layers = {f"GRU({H_gen}) on Embedding {E}, B=1 (text generator)":
              (rk.GRU(H_gen, input_size=E), token),
              f"LSTM({H}) on {D} features, B=1 (medium)":
              (medium.layers[0], torch.randn(1, D, generator=g))}

    def stepper(layer, x, precision):
        state = None

        def call():
            nonlocal state
            _, state = layer.step(x, state, precision=precision)
        return call

    def streamer(layer, x, precision):
        state = layer.step(x)[1]

        def call():
            nonlocal state
            with inference(layer, precision):
                for _ in range(n_steps):
                    _, state = layer.step(x, state)
        return call

    rows = []
    for kind, group, inner in (("step", stepper, n_steps), ("stream", streamer, 1)):
        for name, (layer, x) in layers.items():
            calls = {p: group(layer, x, p) for p in precisions}
            ran = {}
            for p, call in calls.items():                    # what each precision runs at
                call()
                ran[p] = layer.precision_choice.kind
            times = _time(calls, reps, inner)
            per = n_steps if kind == "stream" else 1           # per step, like "step"
            rows += _inference_rows(f"{kind} {name}", times, ran, per)
    calls = {p: (lambda p=p: medium.predict(x_seq, precision=p)) for p in precisions}
    ran = {}
    for p, call in calls.items():
        call()
        ran[p] = medium.layers[0].precision_choice.kind
    rows += _inference_rows(f"predict LSTM({H}) + Dense(1), B=256, T={T} (medium)",
                            _time(calls, reps, 1), ran, 1)
    return rows


def _inference_rows(workload: str, times: dict, ran: dict, per: int) -> list[dict]:
    base = statistics.median(times["fp32"])
    return [{"workload": workload, "precision": p, "ran": ran[p],
             "ms": statistics.median(ts) / per * 1e3, "ms_min": min(ts) / per * 1e3,
             "ms_max": max(ts) / per * 1e3, "vs_fp32": base / statistics.median(ts)}
            for p, ts in times.items()]


def inference_table(rows: list[dict]) -> str:
    head = ("inference workload", "precision", "ran", "ms per step or call median [min-max]",
            "vs fp32")
    out = [(r["workload"], r["precision"], r["ran"],
            f"{r['ms']:.3f} [{r['ms_min']:.3f}-{r['ms_max']:.3f}]", f"{r['vs_fp32']:.2f}x")
           for r in rows]
    widths = [max(len(x[i]) for x in [head, *out]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [head, *out])


def table(results: list[Result]) -> str:
    head = ("config", "cell", "system", "ms/step median [min-max]", "timesteps/s", "vs torch.nn",
            "of GEMM peak")
    rows = [(r.config, r.cell, r.system, f"{r.ms:.2f} [{r.ms_min:.2f}-{r.ms_max:.2f}]",
             f"{r.timesteps_per_s:,.0f}", f"{r.vs_torch:.2f}x", f"{r.gemm_share:.0%}")
            for r in results]
    widths = [max(len(x[i]) for x in [head, *rows]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [head, *rows])


def to_json(results: list[Result], facts: dict, latency: dict) -> dict:
    return {"facts": facts, "results": [asdict(r) for r in results], "step_latency_us": latency}


# ---------------------------------------------------------------- tutorial workloads
KERAS_TF_SUNSPOTS_S = 12.0   # ../shared/anchors/RESULTS.md section 3 (Keras 3 on TF, same recipe)


def _plain_torch_sunspots(seed: int, epochs: int) -> tuple[float, float, float]:
    """The same recipe as a hand-written PyTorch loop: nn.RNN + nn.Linear, Adam, batch 1."""
    from .tutorials.sunspots import data
    _, _, _, x_tr, y_tr, x_te, y_te, _, _ = data()
    x, y = torch.tensor(x_tr, dtype=torch.float32), torch.tensor(y_tr, dtype=torch.float32)
    torch.manual_seed(seed)
    rnn, lin = nn.RNN(1, 3, batch_first=True), nn.Linear(3, 1)
    params = [*rnn.parameters(), *lin.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3, eps=1e-7, fused=True)

    def model(a):
        return torch.tanh(lin(rnn(a)[1][0]))[:, 0]
    t0 = time.perf_counter()
    for _ in range(epochs):
        for i in torch.randperm(len(x)).tolist():
            loss = ((model(x[i:i + 1]) - y[i:i + 1]) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        rmse = [float(((model(torch.tensor(a, dtype=torch.float32)) - torch.tensor(b)) ** 2)
                      .mean().sqrt()) for a, b in ((x_tr, y_tr), (x_te, y_te))]
    return seconds, rmse[0], rmse[1]


def tutorial_rows(quick: bool = False, seed: int = 0) -> list[dict]:
    """Fit time and error of the tutorial workloads, rnnkit beside a plain PyTorch loop."""
    from .tutorials import sine, sunspots
    epochs = 2 if quick else 20
    rows = []
    work = f"sunspots, Keras recipe ({epochs} epochs of batch 1)"
    for step, system in (("auto", "rnnkit (auto: C++ training step)"),
                         ("autograd", "rnnkit step='autograd' (rnnkit's whole-sequence kernel)")):
        s, tr, te, model = sunspots.tutorial_recipe(seed, epochs=epochs, step=step)
        if step == "auto" and model._trainer.step_choice.kind != "cpp":
            system = f"rnnkit (auto: {str(model._trainer.step_choice)[:60]})"
        rows.append({"workload": work, "system": system, "fit_s": s,
                     "metrics": {"train RMSE": tr, "test RMSE": te}})
    s2, tr2, te2 = _plain_torch_sunspots(seed, epochs)
    rows.append({"workload": rows[0]["workload"], "system": "plain PyTorch loop (nn.RNN)",
                 "fit_s": s2, "metrics": {"train RMSE": tr2, "test RMSE": te2}})
    if not quick:
        rows.append({"workload": rows[0]["workload"],
                     "system": "Keras 3 on TensorFlow (anchor, not this run)",
                     "fit_s": KERAS_TF_SUNSPOTS_S, "metrics": {}})
    sine_epochs = 2 if quick else 25
    for engine in ("auto", "loop"):
        s, rmse = sine._rnnkit_run(seed, sine_epochs, engine)
        rows.append({"workload": f"sine, SimpleRNN(100), TBPTT 5 ({sine_epochs} epochs)",
                     "system": f"rnnkit {engine}", "fit_s": s, "metrics": {"val RMSE": rmse}})
    return rows


def tutorial_table(rows: list[dict]) -> str:
    base: dict[str, float] = {}
    out = []
    for r in rows:
        base.setdefault(r["workload"], r["fit_s"])
        ratio = base[r["workload"]] / r["fit_s"]
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in r["metrics"].items())
        out.append((r["workload"], r["system"], f"{r['fit_s']:.2f}",
                    f"{1 / ratio:.2f}x" if ratio else "", metrics))
    head = ("workload", "system", "fit s", "time vs first row", "error")
    widths = [max(len(x[i]) for x in [head, *out]) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()
                     for r in [head, *out])
