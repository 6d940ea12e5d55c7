r"""rnnkit's whole-sequence engine: one generic driver, one small kernel object per cell kind.

The driver, ``_WholeSequence`` (a ``torch.autograd.Function``), walks time.  What it shares
across kinds: the states h_0..h_T (and c_0..c_T), masks (a masked step keeps the state and
outputs zeros), the per-sequence recurrent-dropout mask q on h, initial states with
gradients.  What a kind adds is a kernel object, found by ``describe(cell).kind`` in
``KERNELS`` (as haste keeps one file per layer):

    weights(cell)                 the tensors to differentiate: W_ih, W_hh, then the rest
    allocate(ws)                  X W_ih^T (+ b) for all T steps in one GEMM, per-step buffers
    forward_step(ws, t, hr)       step t from hr = h_{t-1} (* q): writes h_t (and c_t); or
                                  forward_steps(ws) returning it with ws bound, its views
                                  looked up once per call (the built-in kinds do)
    allocate_grads(ws)            dz (T, B, G·H), and dzh where the recurrent side differs
    backward_step(ws, t, dh, dc, out) -> (d_hr, d_h)   (or backward_steps(ws), likewise)
                                  step t's gate gradients into ws.dz[t]; returns the gradient
                                  reaching hr and any reaching h_{t-1} directly; dc becomes
                                  the gradient reaching c_{t-1}
    weight_grads(ws, need_dx, need_dw_ih) -> (dx, weight gradients)
                                  GEMMs and reductions over all T·B rows at once, the shape
                                  of cuDNN's RNN backward
    whole_sequence(ws)            True when the kind's forward_sequence/backward_sequence
                                  run the whole time loop themselves (SimpleRNN, small H)

A step's arithmetic is one C++ kernel (``csrc/kernels.cpp``, its math in ``csrc/gates.h``,
compiled on first use) for float32/float64 on the CPU, else a few PyTorch ops (no
compiler, half precision, other devices).  The readable cells in ``rnnkit.cells`` are the
specification; ``tests/engines/test_fused.py`` holds this file to them.

Mixed precision (``run_fused(..., gemm_dtype=torch.bfloat16)``, ``rnnkit.precision``): the
products alone change.  W_ih and W_hh are cast once per call; the input projection, each
step's h W_hh^T (h cast per step, the bf16 product added into the fp32 buffer) and the
weight-gradient GEMMs take bf16 operands, oneDNN accumulating in fp32.  The buffers, the
states and the step kernels' gate math stay fp32, so the C++ kernels run unchanged.  (An
fp32 out= for a bf16 product is not offered by torch on the CPU; the bf16 result added
into the fp32 buffer measured 2.2x the fp32 addmm_ at 64x512 @ 512x2048.)
"""

from __future__ import annotations

import contextlib
import functools
import threading

import torch

from ..cells.base import describe
from ..types import LSTMState
from ._ext import kernels
from .codes import ACTIVATIONS

__all__ = ["run_fused", "fused_blocker", "KERNELS", "Kernel"]

SEQ_MAX_H = 32      # SimpleRNN up to this H runs its whole time loop in one C++ call

# Scratch tensors that live only in one call, kept between calls on the CPU: backward's
# (dz, dzh, their bf16 copies), the forward's bf16 input product, and at inference its
# gates.  A fresh tensor of tens of MB comes from mmap, and the first write to each of its
# pages faults: a medium GRU's training step (B=64, T=100, H=512) spent ~50 ms of 320 ms on
# it (with malloc told to keep memory, 320 -> 270 ms fp32, 219 -> 185 ms bf16; rnnkit
# bench).  The cost: up to SCRATCH_KEEP tensors of each shape stay allocated, for the
# SCRATCH_SHAPES shapes used last and SCRATCH_BYTES in all (a server sees many sequence
# lengths; the shapes used longest ago go first).
SCRATCH_KEEP = 2
SCRATCH_SHAPES = 12
SCRATCH_BYTES = 1 << 30
_SCRATCH: dict[tuple, list[torch.Tensor]] = {}
_SCRATCH_LOCK = threading.Lock()         # a server's threads may run calls side by side


def _held_bytes() -> int:
    return sum(b.numel() * b.element_size() for free in _SCRATCH.values() for b in free)


def _cpu_kernels(x: torch.Tensor):
    """The C++ module for float32/float64 CPU tensors (its kernels take those two), else None:
    half precision and other devices run the same driver in PyTorch ops."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return kernels()
    return None


def _project(ws: Workspace, b: torch.Tensor | None) -> torch.Tensor:
    """All T input projections in one GEMM, time-major: (T, B, G·H), in x's dtype."""
    x, w_ih = ws.x, ws.w_ih
    if ws.lo is not None:
        x = x.to(ws.lo)
    flat = x.transpose(0, 1).reshape(-1, x.shape[2])              # (T·B, D)
    shape = (flat.shape[0], w_ih.shape[0])
    # inference: the gates live only in this call, so they too come from the scratch pool
    out = ws.scratch(shape, ws.x.dtype) if ws.infer else ws.x.new_empty(shape)
    if ws.lo is not None:                 # bf16 product, fp32 sum (convert, then add: a
        prod = torch.mm(flat, w_ih.t(), out=ws.scratch(shape, ws.lo))   # mixed-dtype
        out.copy_(prod)                                                  # add is 2x slower)
        if b is not None:
            out.add_(b)
    elif b is None:
        torch.mm(flat, w_ih.t(), out=out)
    else:
        torch.addmm(b, flat, w_ih.t(), out=out)
    return out.view(x.shape[1], x.shape[0], -1)


def _flat(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(-1, t.shape[-1])                             # (T, B, n) -> (T·B, n)


def _bias(cell, name: str) -> torch.Tensor | None:
    return getattr(cell, name) if cell.use_bias else None


class Workspace:
    """One call's tensors: x, the weights ``w``, q, the C++ module ``K`` (or None), and
    time-first buffers added with ``add(name=tensor)``: the whole tensor is ``ws.whole[name]``
    (saved for backward), its per-step views ``ws.<name>`` (``ws.gates[t]``, made on first
    use).  The driver adds ``h`` (T+1, B, H) and, for a paired kind, ``c``.

    ``lo``: the GEMM dtype (bf16) or None; ``w_ih``, ``w_hh`` are W_ih, W_hh in it (cast
    once, or ``low`` from the forward), and ``addmm_``, ``mm``, ``gemm`` the products."""

    def __init__(self, x: torch.Tensor, weights: tuple, q: torch.Tensor | None, K,
                 lo: torch.dtype | None = None, low: tuple | None = None,
                 infer: bool = False):
        self.x, self.w, self.q, self.K, self.lo = x, weights, q, K, lo
        self.infer = infer          # a forward no gradient will follow: nothing outlives it
        self.B, self.T, self.H = x.shape[0], x.shape[1], weights[1].shape[1]
        if lo is not None and low is None:
            low = (weights[0].to(lo), weights[1].to(lo))          # once per call
        self.w_ih, self.w_hh = low if lo is not None else weights[:2]
        self.w_hh_t = self.w_hh.t()
        self.whole: dict[str, torch.Tensor | None] = {}

    def addmm_(self, acc: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> None:
        """acc += a b, b in the GEMM dtype; a fp32 is cast, the product added in fp32."""
        if self.lo is None:
            acc.addmm_(a, b)
        else:
            acc.add_(torch.mm(a.to(self.lo), b))

    def mm(self, a: torch.Tensor, b: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        """out = a b (out in the state dtype)."""
        if self.lo is None:
            return torch.mm(a, b, out=out)
        return out.copy_(torch.mm(a.to(self.lo), b))

    def flat(self, name: str) -> torch.Tensor:
        """``whole[name]`` as (T·B, n) in the GEMM dtype, cast once (weight gradients)."""
        cache = self.__dict__.setdefault("_flat", {})
        if name not in cache:
            t = _flat(self.whole[name])
            cache[name] = t if self.lo is None else \
                self.scratch_like(t, self.lo).copy_(t)
        return cache[name]

    def scratch_like(self, t: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """An uninitialised tensor shaped like ``t`` that lives only in this call (the
        forward or the backward): on the CPU it comes from ``_SCRATCH`` and goes back there
        when the call ends (``release``)."""
        return self.scratch(tuple(t.shape), dtype or t.dtype)

    def scratch(self, shape: tuple, dtype: torch.dtype) -> torch.Tensor:
        """``scratch_like`` by shape and dtype, on x's device."""
        if self.x.device.type != "cpu":
            return self.x.new_empty(shape, dtype=dtype)
        key = (tuple(shape), dtype)
        with _SCRATCH_LOCK:
            free = _SCRATCH.get(key)
            buf = free.pop() if free else None
        if buf is None:
            buf = self.x.new_empty(key[0], dtype=key[1])
        self.__dict__.setdefault("_scratch", []).append(buf)
        return buf

    def release(self) -> None:
        """Hand this call's scratch tensors back (none of them leaves the call)."""
        for buf in self.__dict__.pop("_scratch", ()):
            key = (tuple(buf.shape), buf.dtype)
            with _SCRATCH_LOCK:
                free = _SCRATCH.pop(key, [])         # re-inserted: the newest shape last
                if len(free) < SCRATCH_KEEP:
                    free.append(buf)
                _SCRATCH[key] = free
                while len(_SCRATCH) > 1 and (len(_SCRATCH) > SCRATCH_SHAPES or
                                             _held_bytes() > SCRATCH_BYTES):
                    del _SCRATCH[next(iter(_SCRATCH))]    # the shape used longest ago

    def gemm(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """a b over all T·B rows (the weight gradients), returned in the state dtype."""
        if self.lo is None:
            return a @ b
        return (a.to(self.lo) @ b.to(self.lo)).to(self.x.dtype)

    def add(self, **tensors: torch.Tensor | None) -> None:
        for name, value in tensors.items():
            self.whole[name] = value
            self.__dict__.pop(name, None)                         # views of an older one

    def __getattr__(self, name: str):          # only for names not set yet: per-step views
        whole = self.__dict__.get("whole", {})
        if name not in whole:
            raise AttributeError(name)
        steps = None if whole[name] is None else whole[name].unbind(0)
        setattr(self, name, steps)
        return steps


class _WholeSequence(torch.autograd.Function):
    """Inputs (kernel, x, h0, c0, mask, q, *weights); c0 is None unless ``kernel.paired``.
    Outputs y (B, T, H), h_T, and c_T for a paired kernel."""

    @staticmethod
    def forward(ctx, kernel, x, h0, c0, mask, q, *weights):
        ctx.device_type = x.device.type
        with _plain(ctx.device_type):
            return _WholeSequence._forward(ctx, kernel, x, h0, c0, mask, q, *weights)

    @staticmethod
    def backward(ctx, *grads):
        with _plain(ctx.device_type):
            return _WholeSequence._backward(ctx, *grads)

    @staticmethod
    def _forward(ctx, kernel, x, h0, c0, mask, q, *weights):
        ctx.set_materialize_grads(False)
        ws = Workspace(x, weights, q, _cpu_kernels(x), kernel.gemm_dtype, infer=kernel.infer)
        T, B, H = ws.T, ws.B, ws.H
        hs = x.new_empty(T + 1, B, H)                             # h_0 .. h_T
        hs[0] = h0
        ws.add(h=hs)
        if kernel.paired:
            cs = x.new_empty(T + 1, B, H)                         # c_0 .. c_T
            cs[0] = c0
            ws.add(c=cs)
        kernel.allocate(ws)
        if kernel.whole_sequence(ws):
            kernel.forward_sequence(ws, mask)
        else:
            _walk_forward(kernel, ws, mask)
        ctx.kernel, ctx.names, ctx.n_weights = kernel, tuple(ws.whole), len(weights)
        ctx.low = (ws.w_ih, ws.w_hh) if ws.lo is not None else None   # cast once per call
        ctx.save_for_backward(x, mask, q, *weights, *ws.whole.values())
        ys = hs[1:] if mask is None else hs[1:] * mask.t().unsqueeze(-1)
        ws.release()                 # the bf16 product; at inference the gates as well
        out = (ys.transpose(0, 1), hs[T].clone())
        return out + (cs[T].clone(),) if kernel.paired else out

    @staticmethod
    def _backward(ctx, dy, dh_T, dc_T=None):
        kernel = ctx.kernel
        x, mask, q, *rest = ctx.saved_tensors
        ws = Workspace(x, tuple(rest[:ctx.n_weights]), q, _cpu_kernels(x), kernel.gemm_dtype,
                       ctx.low)
        ws.add(**dict(zip(ctx.names, rest[ctx.n_weights:])))
        kernel.allocate_grads(ws)
        dh = dh_T.clone() if dh_T is not None else x.new_zeros(ws.B, ws.H)
        dc = None
        if kernel.paired:
            dc = dc_T.clone() if dc_T is not None else x.new_zeros(ws.B, ws.H)
        if kernel.whole_sequence(ws):
            kernel.backward_sequence(ws, dy, dh)
        else:
            dh, dc = _walk_backward(kernel, ws, dy, dh, dc, mask)
        dx, dw = kernel.weight_grads(ws, ctx.needs_input_grad[1], ctx.needs_input_grad[6])
        ws.release()
        return (None, dx, dh, dc, None, None, *dw)


def _plain(device_type: str):
    """Autocast off: the driver picks every product's dtype itself (``gemm_dtype``)."""
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def _walk_forward(kernel: Kernel, ws: Workspace, mask: torch.Tensor | None) -> None:
    masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None   # T x (B, 1)
    hr_buf = ws.x.new_empty(ws.B, ws.H) if ws.q is not None else None
    h, c = ws.h, (ws.c if kernel.paired else None)
    step = kernel.forward_steps(ws)
    for t in range(ws.T):
        hr = h[t] if ws.q is None else torch.mul(h[t], ws.q, out=hr_buf)
        step(t, hr)
        if masks is not None:                                     # masked: keep the state
            torch.where(masks[t], h[t + 1], h[t], out=h[t + 1])
            if c is not None:
                torch.where(masks[t], c[t + 1], c[t], out=c[t + 1])


def _walk_backward(kernel: Kernel, ws: Workspace, dy, dh, dc, mask):
    """BPTT: dh, dc reach h_T, c_T on entry and h_0, c_0 on return."""
    dY = dy.transpose(0, 1).unbind(0) if dy is not None else None   # T x (B, H)
    masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None
    step = kernel.backward_steps(ws)
    for t in reversed(range(ws.T)):
        if masks is None:                                         # h_t feeds y_t and step t+1
            if dY is not None:
                dh.add_(dY[t])
            dh_t, dc_t = dh, dc
        else:                                                     # masked rows: state passes
            m = masks[t]
            dh_pass, dh_t = dh * ~m, (dh if dY is None else dh + dY[t]) * m
            dc_pass, dc_t = (dc * ~m, dc * m) if dc is not None else (None, None)
        d_hr, d_h = step(t, dh_t, dc_t, dh)                       # dc_t -> d c_{t-1}
        dh = d_hr if ws.q is None else d_hr * ws.q                # hr = h * q met W_hh
        if d_h is not None:
            dh = dh + d_h
        if masks is not None:
            dh = dh + dh_pass
            if dc is not None:
                dc = dc_t + dc_pass
    return dh, dc


def _input_grads(ws: Workspace, need_dx: bool, need_dw: bool):
    """dX (B, T, D) and dW_ih from dz = the gradient of X W_ih^T (T, B, G·H): two GEMMs."""
    flat = ws.flat("dz")
    dx = ws.gemm(flat, ws.w_ih).view(ws.T, ws.B, -1).transpose(0, 1) if need_dx else None
    x = ws.x if ws.lo is None else ws.x.to(ws.lo)
    dw = ws.gemm(flat.t(), _flat(x.transpose(0, 1))) if need_dw else None
    return dx, dw


def _h_rec(ws: Workspace) -> torch.Tensor:
    """h_0 .. h_{T-1} as they met W_hh (times q): (T·B, H)."""
    h = ws.whole["h"][:-1]
    return _flat(h if ws.q is None else h * ws.q)


def _step_mm(ws: Workspace):
    """``mm(a, b, out=)`` for the steps: torch.mm, or the Workspace's bf16 product."""
    return torch.mm if ws.lo is None else ws.mm


def _step_addmm_(ws: Workspace):
    """``addmm_(acc, a, b)``: acc += a b, in place (bf16: the Workspace's cast product)."""
    return torch.Tensor.addmm_ if ws.lo is None else ws.addmm_


# ---------------------------------------------------------------- the kernel objects
class Kernel:
    """One cell kind's share of the engine (see the module docstring).  The defaults fit
    gates = X W_ih^T + b + h W_hh^T, one bias, with one gradient ``dz`` for both sides."""

    paired = False          # the state is LSTMState(h, c)
    gemm_dtype: torch.dtype | None = None     # bf16: products in it (set by run_fused)
    infer = False       # no gradient will follow this call (set by run_fused)

    def __init__(self, cell) -> None:               # options only; weights come per call
        pass

    def weights(self, cell) -> tuple:
        return cell.weight_ih, cell.weight_hh, _bias(cell, "bias")

    def allocate(self, ws: Workspace) -> None:
        ws.add(gates=_project(ws, ws.w[2]))                       # becomes the activated gates

    def allocate_grads(self, ws: Workspace) -> None:
        ws.add(dz=ws.scratch_like(ws.whole["gates"]))

    def whole_sequence(self, ws: Workspace) -> bool:
        """True when ``forward_sequence``/``backward_sequence`` run the time loop instead."""
        return False

    def forward_steps(self, ws: Workspace):
        """``forward_step`` with ``ws`` bound, which the walk calls T times.  A kind may
        return a closure over its per-step views instead, looked up once per call: at the
        tiny sizes the lookups and calls are the step's cost (``rnnkit bench`` tiny rows)."""
        return functools.partial(self.forward_step, ws)

    def backward_steps(self, ws: Workspace):
        """``backward_step`` with ``ws`` bound (see ``forward_steps``)."""
        return functools.partial(self.backward_step, ws)

    def weight_grads(self, ws: Workspace, need_dx: bool, need_dw_ih: bool):
        dz = ws.whole["dz"]
        dx, dw_ih = _input_grads(ws, need_dx, need_dw_ih)
        db = _flat(dz).sum(0) if ws.w[2] is not None else None
        return dx, (dw_ih, ws.gemm(ws.flat("dz").t(), _h_rec(ws)), db)


_ACT = {  # activation, written into out=, and its derivative from (pre-activation a, output y)
    "tanh": (lambda a, out: torch.tanh(a, out=out), lambda a, y: 1 - y * y),
    "relu": (lambda a, out: torch.clamp_min(a, 0, out=out), lambda a, y: (a > 0).to(y.dtype)),
    "sigmoid": (lambda a, out: torch.sigmoid(a, out=out), lambda a, y: y * (1 - y)),
    "linear": (lambda a, out: out.copy_(a), lambda a, y: torch.ones_like(y)),
}


class SimpleKernel(Kernel):
    """h' = act(a), a = W_ih x + b + W_hh h (cells/elman.py).  Up to SEQ_MAX_H units the
    time loop itself is C++ (simple_seq_fwd / simple_seq_bwd), masks and q included."""

    def __init__(self, cell) -> None:
        self.act = cell.activation_name

    def forward_steps(self, ws):
        act, gates, h, w_hh_t = _ACT[self.act][0], ws.gates, ws.h, ws.w_hh_t
        addmm_ = _step_addmm_(ws)

        def step(t, hr):
            a = gates[t]
            addmm_(a, hr, w_hh_t)                                 # pre-activation a
            act(a, h[t + 1])                                      # h' = act(a)
        return step

    def backward_steps(self, ws):
        grad, gates, h, dz, w_hh = _ACT[self.act][1], ws.gates, ws.h, ws.dz, ws.w_hh
        mm = _step_mm(ws)

        def step(t, dh, dc, out):
            torch.mul(dh, grad(gates[t], h[t + 1]), out=dz[t])
            return mm(dz[t], w_hh, out=out), None
        return step

    def whole_sequence(self, ws):
        return ws.K is not None and ws.H <= SEQ_MAX_H

    def forward_sequence(self, ws, mask):
        a, none = ws.whole["gates"], ws.x.new_empty(0)
        ws.add(mask_tb=mask.t().contiguous() if mask is not None else none.bool())   # (T, B)
        ws.K.simple_seq_fwd(a, ws.w[1].contiguous(), none if ws.q is None else ws.q.contiguous(),
                            ws.whole["mask_tb"], ACTIVATIONS[self.act], a, ws.whole["h"])

    def backward_sequence(self, ws, dy, dh):
        none = ws.x.new_empty(0)
        ws.K.simple_seq_bwd(ws.whole["gates"], ws.whole["h"], ws.w[1].contiguous(),
                            none if ws.q is None else ws.q.contiguous(), ws.whole["mask_tb"],
                            ACTIVATIONS[self.act],
                            none if dy is None else dy.transpose(0, 1).contiguous(), dh,
                            ws.whole["dz"])


class LSTMKernel(Kernel):
    """c' = f c + i g, h' = o tanh(c') (cells/lstm.py); C++ lstm_fwd_step / lstm_bwd_step."""

    paired = True

    def forward_steps(self, ws):
        fwd = ws.K.lstm_fwd_step if ws.K else _lstm_fwd
        gates, c, h, w_hh_t, addmm_ = ws.gates, ws.c, ws.h, ws.w_hh_t, _step_addmm_(ws)

        def step(t, hr):
            z = gates[t]
            addmm_(z, hr, w_hh_t)                                 # + W_hh h
            fwd(z, c[t], c[t + 1], h[t + 1])
        return step

    def backward_steps(self, ws):
        bwd = ws.K.lstm_bwd_step if ws.K else _lstm_bwd
        gates, c, dz, w_hh, mm = ws.gates, ws.c, ws.dz, ws.w_hh, _step_mm(ws)

        def step(t, dh, dc, out):
            bwd(gates[t], c[t], dh, dc, dz[t], dc)
            return mm(dz[t], w_hh, out=out), None
        return step


class PeepholeKernel(LSTMKernel):
    """The LSTM with i, f reading c and o reading c' (cells/peephole.py); C++
    peephole_fwd_step / peephole_bwd_step."""

    forward_steps = Kernel.forward_steps        # its own steps, not the LSTM's closures
    backward_steps = Kernel.backward_steps

    def weights(self, cell):
        return (*super().weights(cell), cell.weight_ci, cell.weight_cf, cell.weight_co)

    def forward_step(self, ws, t, hr):
        z = ws.gates[t]
        ws.addmm_(z, hr, ws.w_hh_t)                               # + W_hh h
        (ws.K.peephole_fwd_step if ws.K else _peephole_fwd)(
            z, *ws.w[3:], ws.c[t], ws.c[t + 1], ws.h[t + 1])

    def backward_step(self, ws, t, dh, dc, out):
        (ws.K.peephole_bwd_step if ws.K else _peephole_bwd)(
            ws.gates[t], *ws.w[3:], ws.c[t], dh, dc, ws.dz[t], dc)
        return ws.mm(ws.dz[t], ws.w_hh, out=out), None

    def weight_grads(self, ws, need_dx, need_dw_ih):
        dx, grads = super().weight_grads(ws, need_dx, need_dw_ih)
        H, dz, c = ws.H, ws.whole["dz"], ws.whole["c"]
        dw_ci = (dz[..., :H] * c[:-1]).sum((0, 1))                # a_i = ... + w_ci * c
        dw_cf = (dz[..., H:2 * H] * c[:-1]).sum((0, 1))           # a_f = ... + w_cf * c
        dw_co = (dz[..., 3 * H:] * c[1:]).sum((0, 1))             # a_o = ... + w_co * c'
        return dx, (*grads, dw_ci, dw_cf, dw_co)


class LayerNormLSTMKernel(Kernel):
    """z = LN_ih(W_ih x) + LN_hh(W_hh h) + b, h' = o tanh(LN_c(c')) (cells/lnlstm.py).
    LN_ih of all steps runs before the loop, and its backward after it."""

    paired = True

    def __init__(self, cell) -> None:
        self.eps = cell.eps

    def weights(self, cell):
        return (*super().weights(cell), cell.norm_ih.weight, cell.norm_ih.bias,
                cell.norm_hh.weight, cell.norm_hh.bias, cell.norm_c.weight, cell.norm_c.bias)

    def allocate(self, ws):
        T, B, H, w = ws.T, ws.B, ws.H, ws.w
        nx, _, rstd_x = torch.native_layer_norm(_project(ws, None), (4 * H,),
                                                None, None, self.eps)
        gates = torch.addcmul(w[4], nx, w[3])                     # LN_ih(W_ih x)
        if w[2] is not None:
            gates += w[2]
        new = ws.x.new_empty
        ws.add(gates=gates, nx=nx, rstd_x=rstd_x,
               hproj=new(T, B, 4 * H),                            # W_hh h, then normalised
               rh=new(T, B), rc=new(T, B), nc=new(T, B, H))       # 1/std of LN_hh, LN_c; LN_c(c')

    def allocate_grads(self, ws):
        super().allocate_grads(ws)
        ws.add(dzh=ws.scratch_like(ws.whole["gates"]))           # d(W_hh h)
        H = ws.H         # sums over steps: d gamma_hh, d beta (= d b), d gamma_c, d beta_c
        ws.acc = (ws.x.new_zeros(4 * H), ws.x.new_zeros(4 * H), ws.x.new_zeros(H),
                  ws.x.new_zeros(H))

    def forward_steps(self, ws):
        fwd = ws.K.lnlstm_fwd_step if ws.K else _lnlstm_fwd
        gates, hproj, c, h, nc, rh, rc = ws.gates, ws.hproj, ws.c, ws.h, ws.nc, ws.rh, ws.rc
        w_hh_t, norm, eps, mm = ws.w_hh_t, ws.w[5:], self.eps, _step_mm(ws)

        def step(t, hr):
            mm(hr, w_hh_t, out=hproj[t])
            fwd(gates[t], hproj[t], *norm, c[t], c[t + 1], nc[t], rh[t], rc[t], h[t + 1], eps)
        return step

    def backward_steps(self, ws):
        bwd = ws.K.lnlstm_bwd_step if ws.K else _lnlstm_bwd
        gates, c, hproj, rh, nc, rc, dz, dzh = (ws.gates, ws.c, ws.hproj, ws.rh, ws.nc, ws.rc,
                                                ws.dz, ws.dzh)
        w, w_hh, acc, mm = ws.w, ws.w_hh, ws.acc, _step_mm(ws)

        def step(t, dh, dc, out):
            bwd(gates[t], c[t], hproj[t], rh[t], nc[t], rc[t], w[5], w[7], w[8], dh, dc, dz[t],
                dzh[t], *acc)
            return mm(dzh[t], w_hh, out=out), None
        return step

    def weight_grads(self, ws, need_dx, need_dw_ih):
        dgh, dbeta, dgc, dbc = ws.acc                             # d beta_ih = d beta_hh = d b
        dz = ws.whole["dz"]
        dgx = torch.zeros_like(dgh)
        (ws.K.ln_bwd_rows if ws.K else _ln_bwd_rows)(
            _flat(dz), _flat(ws.whole["nx"]), ws.whole["rstd_x"].reshape(-1), ws.w[3], dgx)
        dx, dw_ih = _input_grads(ws, need_dx, need_dw_ih)        # dz is now d(W_ih x)
        dw_hh = ws.gemm(ws.flat("dzh").t(), _h_rec(ws))
        db = dbeta.clone() if ws.w[2] is not None else None
        return dx, (dw_ih, dw_hh, db, dgx, dbeta, dgh, dbeta.clone(), dgc, dbc)


class GRUKernel(Kernel):
    """reset_after=True: n = tanh(W_in x + b_in + r (W_hn h + b_hn)) (cells/gru.py); C++
    gru_fwd_step / gru_bwd_step.  The recurrent side has its own gradient ``dzh``."""

    def weights(self, cell):
        return cell.weight_ih, cell.weight_hh, _bias(cell, "bias_ih"), _bias(cell, "bias_hh")

    def allocate(self, ws):
        super().allocate(ws)                                      # gates: W_ih x + b_ih
        ws.add(hproj=ws.x.new_empty(ws.T, ws.B, 3 * ws.H))       # W_hh h + b_hh, for dr

    def allocate_grads(self, ws):
        super().allocate_grads(ws)
        ws.add(dzh=ws.scratch_like(ws.whole["gates"]))
        ws.dh_direct = ws.x.new_empty(ws.B, ws.H)                 # through z h

    def forward_steps(self, ws):
        fwd = ws.K.gru_fwd_step if ws.K else _gru_fwd
        gates, hproj, h, w_hh_t, b_hh = ws.gates, ws.hproj, ws.h, ws.w_hh_t, ws.w[3]
        mm, lo = _step_mm(ws), ws.lo

        def step(t, hr):
            zh = hproj[t]
            if b_hh is None:
                mm(hr, w_hh_t, out=zh)
            elif lo is None:
                torch.addmm(b_hh, hr, w_hh_t, out=zh)             # W_hh h + b_hh
            else:                                                 # bf16 product + b_hh, fp32
                mm(hr, w_hh_t, out=zh).add_(b_hh)
            fwd(gates[t], zh, h[t], gates[t], h[t + 1])
        return step

    def backward_steps(self, ws):
        bwd = ws.K.gru_bwd_step if ws.K else _gru_bwd
        gates, hproj, h, dz, dzh = ws.gates, ws.hproj, ws.h, ws.dz, ws.dzh
        w_hh, direct, mm = ws.w_hh, ws.dh_direct, _step_mm(ws)
        fold = ws.q is None and ws.lo is None

        def step(t, dh, dc, out):
            bwd(gates[t], hproj[t], h[t], dh, dz[t], dzh[t], direct)
            if fold:                          # dh_{t-1} = dzh W_hh + z dh, in one product
                return torch.addmm(direct, dzh[t], w_hh, out=out), None
            return mm(dzh[t], w_hh, out=out), direct
        return step

    def weight_grads(self, ws, need_dx, need_dw_ih):
        dz, dzh = ws.whole["dz"], _flat(ws.whole["dzh"])
        dx, dw_ih = _input_grads(ws, need_dx, need_dw_ih)
        db_ih = _flat(dz).sum(0) if ws.w[2] is not None else None
        db_hh = dzh.sum(0) if ws.w[3] is not None else None
        return dx, (dw_ih, ws.gemm(ws.flat("dzh").t(), _h_rec(ws)), db_ih, db_hh)


class GRUBeforeKernel(Kernel):
    """reset_after=False: n = tanh(W_in x + b_n + W_hn (r h)) (cells/gru.py); PyTorch ops
    only (the product with r h sits inside the step)."""

    def allocate(self, ws):
        super().allocate(ws)
        ws.add(rh=ws.x.new_empty(ws.T, ws.B, ws.H))               # r * hr, for dW_hn

    def forward_step(self, ws, t, hr):
        _gru_before_fwd(ws.gates[t], hr, ws.w_hh_t, ws.h[t], ws.h[t + 1], ws.rh[t])

    def backward_step(self, ws, t, dh, dc, out):
        hr = ws.h[t] if ws.q is None else ws.h[t] * ws.q
        d_h = dh * ws.gates[t][:, ws.H:2 * ws.H]                  # h' = ... + z h
        return _gru_before_bwd(ws.gates[t], hr, ws.h[t], dh, ws.dz[t], ws.w_hh), d_h

    def weight_grads(self, ws, need_dx, need_dw_ih):
        H, dz = ws.H, _flat(ws.whole["dz"])
        dx, dw_ih = _input_grads(ws, need_dx, need_dw_ih)
        lo = ws.flat("dz")
        dw_hh = torch.cat([ws.gemm(lo[:, :2 * H].t(), _h_rec(ws)),   # [d(r,z)^T hr ;
                           ws.gemm(lo[:, 2 * H:].t(), ws.flat("rh"))])   # dn^T (r hr)]
        return dx, (dw_ih, dw_hh, dz.sum(0) if ws.w[2] is not None else None)


KERNELS: dict[str, type[Kernel]] = {
    "simple": SimpleKernel, "lstm": LSTMKernel, "peephole": PeepholeKernel,
    "lnlstm": LayerNormLSTMKernel, "gru": GRUKernel, "gru_before": GRUBeforeKernel,
}


# ---------------------------------------------------------------- one step in PyTorch ops
# What the C++ kernels do in one pass; these run without a compiler and for other dtypes.
def _lstm_fwd(z, c_prev, c_out, h_out):
    H = c_prev.shape[1]
    g = z[:, 2 * H:3 * H].tanh()
    z.sigmoid_()
    z[:, 2 * H:3 * H] = g
    i, f, g, o = z.chunk(4, 1)
    torch.addcmul(f * c_prev, i, g, out=c_out)                    # c' = f c + i g
    torch.mul(o, c_out.tanh(), out=h_out)                         # h' = o tanh(c')


def _lstm_bwd(a, c_prev, dh, dc, dz, dc_prev):                     # dc_prev may be dc
    H = c_prev.shape[1]
    i, f, g, o = a.chunk(4, 1)
    tc = torch.addcmul(f * c_prev, i, g).tanh_()
    dct = torch.addcmul(dc, dh * o, 1 - tc * tc)                  # through h' = o tanh(c')
    torch.mul(dct * g, i * (1 - i), out=dz[:, :H])                # sigmoid' = s (1 - s)
    torch.mul(dct * c_prev, f * (1 - f), out=dz[:, H:2 * H])
    torch.mul(dct * i, 1 - g * g, out=dz[:, 2 * H:3 * H])         # tanh' = 1 - t^2
    torch.mul(dh * tc, o * (1 - o), out=dz[:, 3 * H:])
    torch.mul(dct, f, out=dc_prev)


def _peephole_fwd(z, w_ci, w_cf, w_co, c_prev, c_out, h_out):
    i, f, g, o = z.chunk(4, 1)                                    # views: become the gates
    torch.sigmoid(torch.addcmul(i, w_ci, c_prev), out=i)          # i = sigmoid(a_i + w_ci c)
    torch.sigmoid(torch.addcmul(f, w_cf, c_prev), out=f)          # f = sigmoid(a_f + w_cf c)
    g.tanh_()
    torch.addcmul(f * c_prev, i, g, out=c_out)                    # c' = f c + i g
    torch.sigmoid(torch.addcmul(o, w_co, c_out), out=o)           # o = sigmoid(a_o + w_co c')
    torch.mul(o, c_out.tanh(), out=h_out)                         # h' = o tanh(c')


def _peephole_bwd(a, w_ci, w_cf, w_co, c_prev, dh, dc, dz, dc_prev):   # dc_prev may be dc
    H = c_prev.shape[1]
    i, f, g, o = a.chunk(4, 1)
    tc = torch.addcmul(f * c_prev, i, g).tanh_()
    torch.mul(dh * tc, o * (1 - o), out=dz[:, 3 * H:])
    dct = dc + dh * o * (1 - tc * tc) + dz[:, 3 * H:] * w_co      # c' feeds h', o, step t+1
    torch.mul(dct * g, i * (1 - i), out=dz[:, :H])
    torch.mul(dct * c_prev, f * (1 - f), out=dz[:, H:2 * H])
    torch.mul(dct * i, 1 - g * g, out=dz[:, 2 * H:3 * H])
    torch.addcmul(dct * f + dz[:, :H] * w_ci, dz[:, H:2 * H], w_cf, out=dc_prev)  # c feeds i, f


def _lnlstm_fwd(z, ah, gh, bh, gc, bc, c_prev, c_out, nc, rh, rc, h_out, eps):
    H = c_prev.shape[1]
    n, _, r = torch.native_layer_norm(ah, (4 * H,), None, None, eps)
    ah.copy_(n)
    rh.copy_(r.view(-1))
    z.add_(torch.addcmul(bh, n, gh))                              # + LN_hh(W_hh h)
    _lstm_fwd(z, c_prev, c_out, h_out)
    n, _, r = torch.native_layer_norm(c_out, (H,), None, None, eps)
    nc.copy_(n)
    rc.copy_(r.view(-1))
    torch.mul(z[:, 3 * H:], torch.addcmul(bc, n, gc).tanh(), out=h_out)   # o tanh(LN_c(c'))


def _ln_bwd(dn, n, rstd):
    """Gradient of a LayerNorm's input from dn (= gamma * d output), n its normalised rows."""
    return rstd.unsqueeze(1) * (dn - dn.mean(1, keepdim=True) - n * (dn * n).mean(1, keepdim=True))


def _ln_bwd_rows(d, n, rstd, gamma, dgamma):
    dgamma.add_((d * n).sum(0))
    d.copy_(_ln_bwd(d * gamma, n, rstd))


def _lnlstm_bwd(a, c_prev, nh, rh, nc, rc, gh, gc, bc, dh, dc, dz, dah, dgh, dbz, dgc, dbc):
    H = c_prev.shape[1]
    i, f, g, o = a.chunk(4, 1)
    th = torch.addcmul(bc, nc, gc).tanh()
    torch.mul(dh * th, o * (1 - o), out=dz[:, 3 * H:])            # through h' = o tanh(.)
    dcn = dh * o * (1 - th * th)                                  # d LN_c(c')
    dgc.add_((dcn * nc).sum(0))
    dbc.add_(dcn.sum(0))
    dct = dc + _ln_bwd(dcn * gc, nc, rc)
    torch.mul(dct * g, i * (1 - i), out=dz[:, :H])
    torch.mul(dct * c_prev, f * (1 - f), out=dz[:, H:2 * H])
    torch.mul(dct * i, 1 - g * g, out=dz[:, 2 * H:3 * H])
    torch.mul(dct, f, out=dc)
    dgh.add_((dz * nh).sum(0))
    dbz.add_(dz.sum(0))
    dah.copy_(_ln_bwd(dz * gh, nh, rh))


def _gru_fwd(zx, zh, h_prev, a, h_out):                            # a may be zx itself
    H = h_prev.shape[1]
    torch.sigmoid(zx[:, :2 * H] + zh[:, :2 * H], out=a[:, :2 * H])  # r, z
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.tanh(torch.addcmul(zx[:, 2 * H:], r, zh[:, 2 * H:]), out=n)
    torch.addcmul(n, z, h_prev - n, out=h_out)                    # (1 - z) n + z h


def _gru_bwd(a, zh, h_prev, dh, dzx, dzh, dh_direct):
    H = h_prev.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dan = dh * (1 - z) * (1 - n * n)                              # through n = tanh(...)
    dzx[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
    dzx[:, :H] = dan * zh[:, 2 * H:] * r * (1 - r)
    dzx[:, 2 * H:] = dan
    dzh[:, :2 * H] = dzx[:, :2 * H]
    torch.mul(dan, r, out=dzh[:, 2 * H:])
    torch.mul(dh, z, out=dh_direct)


def _gru_before_fwd(a, hr, w_hh_t, h_prev, h_out, rh):             # a holds W_ih x + b
    H = h_prev.shape[1]
    torch.sigmoid(_addmm(a[:, :2 * H], hr, w_hh_t[:, :2 * H]), out=a[:, :2 * H])
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.mul(r, hr, out=rh)                                      # r * h, for dW_hn
    torch.tanh(_addmm(n, rh, w_hh_t[:, 2 * H:]), out=n)
    torch.addcmul(n, z, h_prev - n, out=h_out)


def _gru_before_bwd(a, hr, h_prev, dh, dz, w_hh):
    """Writes dz (the same for both projections) and returns the gradient reaching hr."""
    H = h_prev.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dan = dh * (1 - z) * (1 - n * n)
    d_rh = _mm(dan, w_hh[2 * H:])                                 # n = tanh(... + (r h) W_hn^T)
    dz[:, :H] = d_rh * hr * r * (1 - r)
    dz[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
    dz[:, 2 * H:] = dan
    return _mm(dz[:, :2 * H], w_hh[:2 * H]) + d_rh * r


def _addmm(acc, a, b):
    """acc + a b; a b in b's dtype (bf16 under mixed precision), the sum in acc's."""
    if a.dtype == b.dtype == acc.dtype:
        return torch.addmm(acc, a, b)
    return acc + torch.mm(a.to(b.dtype), b)


def _mm(a, b):
    """a b in b's dtype, returned in a's."""
    return a @ b if a.dtype == b.dtype else torch.mm(a.to(b.dtype), b).to(a.dtype)


# ---------------------------------------------------------------- entry points
def fused_blocker(cell) -> str | None:
    """Why rnnkit's kernels cannot run this cell, or None."""
    d = describe(cell)
    if d is None:
        return f"{type(cell).__name__} is not a built-in cell"
    if not d.fused:
        return d.not_fused
    return None if d.kind in KERNELS else f"no rnnkit kernel for kind {d.kind!r}"


def run_fused(cell, x: torch.Tensor, state, mask: torch.Tensor | None = None,
              recurrent_mask: torch.Tensor | None = None,
              gemm_dtype: torch.dtype | None = None):
    """Same contract as ``run_loop`` for a built-in cell and a plain tensor input.
    ``gemm_dtype`` (torch.bfloat16) runs the products in it, states and gates in x's dtype."""
    kernel = KERNELS[describe(cell).kind](cell)
    kernel.gemm_dtype = gemm_dtype
    h0, c0 = state if kernel.paired else (state, None)
    kernel.infer = not torch.is_grad_enabled() or not any(
        t is not None and t.requires_grad for t in (x, h0, c0, *kernel.weights(cell)))
    y, h, *c = _WholeSequence.apply(kernel, x, h0, c0, mask, recurrent_mask,
                                    *kernel.weights(cell))
    last = h if mask is None else h * mask.any(1, keepdim=True)   # zero if no real step
    return y, last, (LSTMState(h, c[0]) if kernel.paired else h)
