"""The C++ training step (``step="cpp"``): a whole optimizer step of a small model in one
C++ call.  (Before 0.2 it was called the "compiled" step; that name still works for this
release and warns.  Nothing here is ``torch.compile``.)

For a model like the sunspots tutorial's (SimpleRNN(3) + Dense(1), batch 1) a step is a
few hundred multiply-adds, and the framework work around them -- module calls, the autograd
graph and its backward, the optimizer -- is about a millisecond.  ``train_step`` in
``rnnkit/engines/csrc/train.cpp`` does forward, loss, backpropagation through time, clipping and
the Adam or SGD update as plain loops over the weights, in place, with the optimizer's own
state tensors (so checkpoints, resuming and switching between the two paths just work).
A big enough batch is split over ``torch.get_num_threads()`` threads (1.4-1.8x with two
here), each sample's forward and BPTT being independent until the gradients are summed.
What crosses to C++ is named: one ``LayerSpec`` per layer and a ``StepConfig`` per step
(``engines/codes.py``, whose table also writes the C++ structs that read them).

The data was validated once by ``fit`` (``training/boundary.py``: the model's own checks on
a probe, the loss's target checks) before this step is chosen, so it trains only on what
the autograd path accepts; the C++ entry checks device, dtype, exact shape and layout of
every tensor it indexes.

It runs when ``Trainer.fit(step=...)`` allows it and the model qualifies (``plan`` names
what does not):
    a ``Sequential`` of SimpleRNN (any activation), LSTM or GRU(reset_after=True) layers --
    every one but the last with ``return_sequences=True``, the last without -- followed by
    Dense layers (linear, tanh, relu, sigmoid or softmax); no dropout, masks,
    ``go_backwards``, ``stateful`` or frozen weights; loss "mse", "mae",
    "binary_crossentropy" or "sparse_categorical_crossentropy" (rnnkit's, from logits or
    on probabilities, targets at the last step); ``torch.optim.Adam`` (no amsgrad)
    or plain ``torch.optim.SGD`` (no momentum); full BPTT; float32 or float64 on the CPU; no
    module or gradient hooks and no torch.distributed process group other than the one
    ``fit`` trains in (the step would skip them).
Under ``fit``'s own process group (torchrun, ``--nproc``) the step is split in three:
forward and BPTT in C++ leave this rank's gradients, one all-reduce sums every gradient and
the loss in a single flat buffer, and the clipping and update run in C++ on the sums.
``step="auto"`` also asks the model to be small: the loops call no GEMM, so above
``AUTO_MAX_MACS`` multiply-adds per batch and time step (recurrent layers, forward) autograd
with rnnkit's engines is faster (the crossover is measured by ``rnnkit bench``'s training
step table).  ``step="cpp"`` runs it at any size, or says why it cannot.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._checks import renamed
from ..cells.base import describe
from ..engines import codes
from ..engines._ext import kernels
from ..engines.codes import LayerSpec, StepConfig
from ..types import Choice
from .threads import work_per_step

__all__ = ["CppStep", "plan", "step_name", "STEPS", "AUTO_MAX_MACS"]

STEPS = ("auto", "cpp", "autograd")


def step_name(value: object) -> object:
    """``value`` with the deprecated ``"compiled"`` mapped to ``"cpp"``, with a warning."""
    return renamed("step", value, {"compiled": "cpp"}, stacklevel=4)

AUTO_MAX_MACS = 131072    # per batch and time step: the crossover measured, see module doc
ACTS = codes.ACTIVATIONS
DENSE = codes.LAYER_KINDS["dense"]
SOFTMAX = codes.SOFTMAX   # Dense only


class CppStep:
    """``step(x, y) -> (loss, grad_norm, y_hat)``: one optimizer step, weights updated."""

    def __init__(self, layers: list[LayerSpec], params: list[torch.Tensor], optimizer,
                 loss_kind: int, macs: int, note: str, dist=None):
        self.layers, self.params, self.optimizer, self.dist = layers, params, optimizer, dist
        self.loss_kind, self.macs, self.note = loss_kind, macs, note
        self.spec = [value for layer in layers for value in layer]   # the C++ side's flat form
        self.out_units = layers[-1].units
        for p in params:     # the step writes each gradient into p.grad, as autograd would
            if p.grad is None or p.grad.shape != p.shape or not p.grad.is_contiguous():
                p.grad = torch.zeros_like(p, memory_format=torch.contiguous_format)
        self.grads = [p.grad for p in params]
        self.adam = isinstance(optimizer, torch.optim.Adam)
        if self.adam:
            self._init_adam_state()
        group = optimizer.param_groups[0]
        self._state = ([optimizer.state[p]["exp_avg"] for p in params],
                       [optimizer.state[p]["exp_avg_sq"] for p in params],
                       [optimizer.state[p]["step"] for p in params]) if self.adam else ([], [], [])
        self.group = group
        self._flat: torch.Tensor | None = None     # the distributed step's all-reduce buffer
        cpp = kernels()                            # (plan made sure there are some)
        self._train_step, self._apply_update = cpp.train_step, cpp.apply_update

    def _init_adam_state(self) -> None:
        """Create Adam's state the way torch.optim.Adam does on its first step."""
        group = self.optimizer.param_groups[0]
        scalar = (torch.float32 if group["fused"] or group["capturable"] or
                  torch.get_default_dtype() != torch.float64 else torch.float64)
        for p in self.params:
            state = self.optimizer.state[p]
            if len(state) == 0:
                state["step"] = torch.zeros((), dtype=scalar)
                state["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def config(self, clip_value: float | None, clip_norm: float | None,
               grads_only: bool = False) -> StepConfig:
        """This step's settings, read from the optimizer now (a callback may change lr)."""
        g = self.group
        beta1, beta2 = g.get("betas", (0.0, 0.0))
        return StepConfig(lr=g["lr"], beta1=beta1, beta2=beta2, eps=g.get("eps", 0.0),
                          weight_decay=g.get("weight_decay", 0.0), clip_value=clip_value or 0.0,
                          clip_norm=clip_norm or 0.0, adam=self.adam, loss=self.loss_kind,
                          grads_only=grads_only)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, clip_value: float | None,
                 clip_norm: float | None, weight: float = 1.0):
        # the targets were checked once, against the model and the loss, before this step
        # was chosen (training/boundary.py); the C++ entry checks every size it indexes.
        # Each conversion runs only when needed: at batch 1 one torch call is a tenth of
        # the step.
        if y.dtype != x.dtype:
            y = y.to(x.dtype)
        if y.dim() > 2:                   # (B, 1, 1): the C++ takes (B, n) or (B,)
            y = y.reshape(len(y), -1)
        if not y.is_contiguous():
            y = y.contiguous()
        if not x.is_contiguous():
            x = x.contiguous()
        if self.dist is not None:
            return self._distributed(x, y, clip_value, clip_norm, weight)
        y_hat, loss, norm = self._train_step(x, y, self.spec, self.params, self.grads,
                                             *self._state, self.config(clip_value, clip_norm))
        return loss, (norm if clip_norm is not None else None), y_hat

    def _distributed(self, x, y, clip_value, clip_norm, weight):
        """The step split in three: this rank's gradients from C++, then ONE all-reduce of
        every gradient and the loss packed in a flat buffer (weighted by this rank's share,
        as the autograd path weights its loss), then clipping and the update in C++.  Every
        rank updates from the same sums, so the weights stay equal without a broadcast."""
        config = self.config(clip_value, clip_norm, grads_only=True)
        y_hat, loss, _ = self._train_step(x, y, self.spec, self.params, self.grads,
                                          *self._state, config)
        flat = self._flat
        if flat is None:
            n = sum(p.numel() for p in self.params)
            self._flat = flat = torch.empty(n + 1, dtype=torch.float64)
        at = 0
        for grad in self.grads:
            k = grad.numel()
            flat[at:at + k].copy_(grad.view(-1))
            at += k
        flat[:at] *= weight
        flat[at] = loss * weight
        self.dist.all_reduce(flat)
        flat /= self.dist.world
        loss = float(flat[at])
        if not math.isfinite(loss):       # every rank sees the same sum: all stop together
            return loss, None, y_hat
        at = 0
        for grad in self.grads:
            k = grad.numel()
            grad.view(-1).copy_(flat[at:at + k])
            at += k
        norm = self._apply_update(self.params, self.grads, *self._state, config)
        return loss, (norm if clip_norm is not None else None), y_hat


def _loss_kind(loss_fn: Callable) -> int | str:
    """The C++ loss code (``engines/codes.py``), or why this loss has none."""
    from .losses import (
        BinaryCrossentropy,
        MeanAbsoluteError,
        MeanSquaredError,
        SparseCategoricalCrossentropy,
    )
    names = {MeanSquaredError: "mse", MeanAbsoluteError: "mae",
             BinaryCrossentropy: "binary_crossentropy",
             SparseCategoricalCrossentropy: "sparse_categorical_crossentropy"}
    kind = type(loss_fn)
    if kind in names:
        return codes.LOSSES[(names[kind], bool(getattr(loss_fn, "from_logits", False)))]
    name = getattr(loss_fn, "name", None) or getattr(loss_fn, "__name__", kind.__name__)
    return (f"loss {name!r} (only rnnkit's mse, mae, binary_crossentropy and "
            "sparse_categorical_crossentropy)")


def _optimizer_blocker(opt) -> str | None:
    if opt is None:
        return "no optimizer"
    if len(opt.param_groups) != 1:
        return "an optimizer with several parameter groups"
    g = opt.param_groups[0]
    if type(opt) is torch.optim.Adam:
        for key in ("amsgrad", "maximize", "differentiable", "decoupled_weight_decay"):
            if g.get(key):
                return f"Adam({key}=True)"
        if torch.is_tensor(g["lr"]) or torch.is_tensor(g["betas"][0]):
            return "Adam with tensor hyperparameters"
        return None
    if type(opt) is torch.optim.SGD:
        for key in ("momentum", "dampening", "nesterov", "maximize", "differentiable"):
            if g.get(key):
                return f"SGD({key}={g[key]})"
        return None
    return f"optimizer {type(opt).__name__} (only Adam and SGD)"


def _layer_spec(k: int, layer: nn.Module, last_rnn: bool) -> LayerSpec | str:
    from ..layers import RNN, Dense
    if isinstance(layer, RNN):
        cell = layer.cell
        d = describe(cell)
        kind = codes.LAYER_KINDS.get(d.kind) if d is not None else None
        if d is not None and d.kind == "gru_before":
            return f"layer {k}: GRU(reset_after=False)"
        if kind is None or kind == DENSE:
            return f"layer {k}: {type(cell).__name__} (SimpleRNN, LSTM, GRU only)"
        if not d.fused:
            return f"layer {k}: a custom activation"
        act = ACTS[getattr(cell, "activation_name", "tanh")]
        for flag in ("go_backwards", "stateful", "return_state", "dropout", "recurrent_dropout",
                     "weight_dropout"):
            if getattr(layer, flag):
                return f"layer {k}: {flag}={getattr(layer, flag)}"
        if layer.engine not in ("auto", "rnnkit"):
            return f"layer {k}: engine={layer.engine!r} requested"
        if layer.return_sequences == last_rnn:
            return (f"layer {k}: return_sequences={layer.return_sequences} (only the last "
                    "recurrent layer returns its final state, the others sequences)")
        return LayerSpec(kind=kind, inputs=cell.input_size, units=cell.hidden_size,
                         activation=act, bias=bool(cell.use_bias))
    if type(layer) is Dense:
        act = SOFTMAX if layer.activation == "softmax" else ACTS.get(layer.activation)
        if act is None:
            return f"layer {k}: Dense(activation={layer.activation!r})"
        return LayerSpec(kind=DENSE, inputs=layer.weight.shape[1], units=layer.units,
                         activation=act, bias=bool(layer.use_bias))
    return f"layer {k}: {type(layer).__name__}"


def _params(layer: nn.Module) -> list[torch.Tensor]:
    from ..layers import RNN
    if isinstance(layer, RNN):
        c = layer.cell
        bias = ([c.bias_ih, c.bias_hh] if describe(c).kind == "gru" else [c.bias]) \
            if c.use_bias else []
        return [c.weight_ih, c.weight_hh, *bias]
    return [layer.weight] + ([layer.bias] if layer.use_bias else [])


def plan(model: nn.Module, loss_fn: Callable, optimizer, x: Any, *, batch_size: int,
         tbptt: int | None, mode: str, dist=None) -> tuple[CppStep | None, Choice]:
    """``(step, choice)``: the C++ step and why, or None and why not.  With ``dist``
    (the trainer's process group) the step all-reduces its gradients itself."""
    from ..layers import RNN, LayerStack
    if mode == "autograd":
        return None, Choice("autograd", "step='autograd' requested")
    from ..engines.select import forced_engine
    if mode == "auto" and forced_engine() == "loop":
        return None, Choice("autograd", "RNNKIT_ENGINE=loop: the readable path everywhere")
    reasons: list[str] = []
    specs: list[LayerSpec] = []
    params: list[torch.Tensor] = []
    macs = 0
    if not isinstance(model, LayerStack) or type(model).forward is not LayerStack.forward:
        kind = type(model)
        reasons.append(f"model is a {kind.__module__}.{kind.__qualname__}, not an rnnkit "
                       "Sequential")
    else:
        layers = list(model.layers)
        n_rnn = 0
        while n_rnn < len(layers) and isinstance(layers[n_rnn], RNN):
            n_rnn += 1
        if n_rnn == 0:
            reasons.append("no recurrent layer first")
        for k, layer in enumerate(layers):
            if k >= n_rnn and isinstance(layer, RNN):
                s: LayerSpec | str = f"layer {k}: a recurrent layer after a non-recurrent one"
            else:
                s = _layer_spec(k, layer, last_rnn=k == n_rnn - 1)
            if isinstance(s, str):
                reasons.append(s)
                continue
            specs.append(s)
            params += _params(layer)
            if s.kind != DENSE:
                macs += work_per_step(layer)
        for name, m in model.named_modules():
            if m._forward_hooks or m._forward_pre_hooks or m._backward_hooks:
                reasons.append(f"hooks on {name or 'the model'} (they would not run)")
                break
        if any(p._backward_hooks or getattr(p, "_post_accumulate_grad_hooks", None)
               for p in params):
            reasons.append("gradient hooks on parameters (they would not run)")
    if dist is None and torch.distributed.is_available() and torch.distributed.is_initialized():
        reasons.append("a torch.distributed group that fit does not manage (the step would "
                       "skip its all-reduce)")
    kind = _loss_kind(loss_fn)
    if isinstance(kind, str):
        reasons.append(kind)
    why = _optimizer_blocker(optimizer)
    if why:
        reasons.append(why)
    elif params and not reasons and {id(p) for p in optimizer.param_groups[0]["params"]} \
            != {id(p) for p in params}:     # (a layer refused above holds the rest)
        reasons.append("the optimizer does not hold exactly the model's parameters")
    if tbptt is not None:
        reasons.append("truncated BPTT")
    if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.dtype not in (torch.float32,
                                                                         torch.float64):
        reasons.append("input is not one (B, T, D) float32 or float64 tensor")
    elif x.device.type != "cpu":
        reasons.append(f"input on {x.device.type} (the C++ step is for the CPU)")
    elif any(p.dtype != x.dtype or p.device.type != "cpu" or not p.is_contiguous()
             or not p.requires_grad for p in params):
        reasons.append("parameters that are frozen, non-contiguous or of another dtype")
    if not reasons and kernels() is None:
        reasons.append("the C++ kernels are unavailable")
    if isinstance(x, torch.Tensor):
        macs *= min(batch_size, x.shape[0])
    if not reasons and mode == "auto" and macs > AUTO_MAX_MACS:
        reasons.append(f"{macs:,} multiply-adds per batch and time step > {AUTO_MAX_MACS:,}, "
                       "where autograd with BLAS is faster")
    if reasons:
        if mode == "cpp":
            raise ValueError("step='cpp' cannot train this model: " + "; ".join(reasons)
                             + ". Use step='auto' or 'autograd'.")
        return None, Choice("autograd", "C++ step not eligible: " + "; ".join(reasons))
    note = (f"forward, BPTT and {type(optimizer).__name__} in one C++ call per "
            f"batch ({macs:,} multiply-adds per batch and time step)")
    if dist is not None:
        note = (f"forward and BPTT in C++, one flat all-reduce of the gradients "
                f"over {dist.world} processes, then {type(optimizer).__name__} in C++ "
                f"({macs:,} multiply-adds per batch and time step)")
    return CppStep(specs, params, optimizer, kind, macs, note, dist), Choice("cpp", note)
