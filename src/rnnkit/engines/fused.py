r"""Whole-sequence kernels with hand-derived gradients (a ``torch.autograd.Function``).

Forward: the input projection of all T steps is one GEMM, ``X W_ih^T + b``; the time loop
does only ``h W_hh^T`` plus the gate arithmetic, and saves the activated gates.
Backward: one walk back through time for dh (and dc), writing each step's gate gradients
into one (T, B, G·H) buffer; then dW_ih, dW_hh and the bias gradients are single GEMMs and
reductions over all steps, and dX one GEMM -- the shape of cuDNN's RNN backward.

The gate arithmetic of a step is one C++ kernel (``_kernels.cpp``, compiled on first use)
for LSTM and GRU(reset_after=True); without a compiler, and for SimpleRNN and
GRU(reset_after=False), it is a few PyTorch ops.  Supported: masks (a masked step keeps
the state and outputs zeros), a per-sequence recurrent-dropout mask ``q`` on h, initial
states with gradients.  The readable cells in ``rnnkit.cells`` are the specification;
``tests/engines/test_fused.py`` holds this file to them.
"""

from __future__ import annotations

import torch

from ..cells import GRUCell, LSTMCell, SimpleRNNCell
from ..types import LSTMState
from ._ext import kernels

__all__ = ["run_fused", "fused_blocker"]

_ACT = {  # activation, derivative written with (pre-activation a, output y)
    "tanh": (torch.tanh, lambda a, y: 1 - y * y),
    "relu": (torch.relu, lambda a, y: (a > 0).to(y.dtype)),
    "sigmoid": (torch.sigmoid, lambda a, y: y * (1 - y)),
    "linear": (lambda a: a, lambda a, y: torch.ones_like(y)),
}


def fused_blocker(cell) -> str | None:
    if type(cell) in (LSTMCell, GRUCell):
        return None
    if type(cell) is SimpleRNNCell:
        return None if cell.activation_name in _ACT else \
            f"SimpleRNNCell(activation={cell.activation_name!r}) is a custom callable"
    return f"{type(cell).__name__} is not a built-in cell"


def _project(x: torch.Tensor, w_ih: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """All T input projections in one GEMM, time-major: (T, B, G·H)."""
    flat = x.transpose(0, 1).reshape(-1, x.shape[2])              # (T·B, D)
    out = flat @ w_ih.t() if b is None else torch.addmm(b, flat, w_ih.t())
    return out.view(x.shape[1], x.shape[0], -1)


# ---------------------------------------------------------------- one step, forward
def _lstm_fwd(K, t, zx, hr, w_hh_t, gates, hs, cs):
    z = torch.addmm(zx[t], hr, w_hh_t, out=gates[t])              # (B, 4H) pre-activations
    if K is not None:
        K.lstm_fwd_step(z, cs[t], cs[t + 1], hs[t + 1])
        return
    H = cs.shape[2]
    g = z[:, 2 * H:3 * H].tanh()
    z.sigmoid_()
    z[:, 2 * H:3 * H] = g
    i, f, g, o = z.chunk(4, 1)
    torch.addcmul(f * cs[t], i, g, out=cs[t + 1])                 # c' = f c + i g
    torch.mul(o, cs[t + 1].tanh(), out=hs[t + 1])                 # h' = o tanh(c')


def _gru_fwd(K, t, zx, hr, w_hh_t, b_hh, gates, hs, zhs):
    zh = zhs[t]
    if b_hh is None:
        torch.mm(hr, w_hh_t, out=zh)
    else:
        torch.addmm(b_hh, hr, w_hh_t, out=zh)                     # W_hh h + b_hh
    if K is not None:
        K.gru_fwd_step(zx[t], zh, hs[t], gates[t], hs[t + 1])
        return
    H = hs.shape[2]
    a = gates[t]
    torch.sigmoid(zx[t][:, :2 * H] + zh[:, :2 * H], out=a[:, :2 * H])   # r, z
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.tanh(torch.addcmul(zx[t][:, 2 * H:], r, zh[:, 2 * H:]), out=n)
    torch.addcmul(n, z, hs[t] - n, out=hs[t + 1])                 # (1 - z) n + z h


def _gru_before_fwd(t, zx, hr, w_hh_t, gates, hs, rhs):
    H = hs.shape[2]
    a = gates[t]
    torch.sigmoid(torch.addmm(zx[t][:, :2 * H], hr, w_hh_t[:, :2 * H]), out=a[:, :2 * H])
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.mul(r, hr, out=rhs[t])                                  # r * h, for dW_hn
    torch.tanh(torch.addmm(zx[t][:, 2 * H:], rhs[t], w_hh_t[:, 2 * H:]), out=n)
    torch.addcmul(n, z, hs[t] - n, out=hs[t + 1])


def _simple_fwd(act, t, zx, hr, w_hh_t, gates, hs):
    z = torch.addmm(zx[t], hr, w_hh_t, out=gates[t])              # pre-activation a
    hs[t + 1] = _ACT[act][0](z)                                   # h' = act(a)


class _Fused(torch.autograd.Function):
    """Inputs: (kind, activation, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, q).
    Outputs: y (B, T, H), h_T, c_T (c_T is a zeros placeholder without an LSTM)."""

    @staticmethod
    def forward(ctx, kind, act, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, q):
        T, B, H = x.shape[1], x.shape[0], w_hh.shape[1]
        K = kernels() if x.device.type == "cpu" and kind in ("lstm", "gru") else None
        zx = _project(x, w_ih, b_ih)                              # (T, B, G·H)
        w_hh_t = w_hh.t()
        masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None  # T x (B, 1)
        hs = x.new_empty(T + 1, B, H)                             # h_0 .. h_T
        hs[0] = h0
        gates = x.new_empty(T, B, w_ih.shape[0])                  # activated gates per step
        cs = zhs = rhs = None
        if kind == "lstm":
            cs = x.new_empty(T + 1, B, H)
            cs[0] = c0
        elif kind == "gru":
            zhs = x.new_empty(T, B, 3 * H)                        # W_hh h + b_hh, for dr
        elif kind == "gru_before":
            rhs = x.new_empty(T, B, H)
        for t in range(T):
            hr = hs[t] if q is None else hs[t] * q
            if kind == "lstm":
                _lstm_fwd(K, t, zx, hr, w_hh_t, gates, hs, cs)
            elif kind == "gru":
                _gru_fwd(K, t, zx, hr, w_hh_t, b_hh, gates, hs, zhs)
            elif kind == "gru_before":
                _gru_before_fwd(t, zx, hr, w_hh_t, gates, hs, rhs)
            else:
                _simple_fwd(act, t, zx, hr, w_hh_t, gates, hs)
            if masks is not None:                                 # masked: keep the state
                hs[t + 1] = torch.where(masks[t], hs[t + 1], hs[t])
                if cs is not None:
                    cs[t + 1] = torch.where(masks[t], cs[t + 1], cs[t])
        ys = hs[1:] if mask is None else hs[1:] * mask.t().unsqueeze(-1)
        ctx.kind, ctx.act, ctx.has_b = kind, act, (b_ih is not None, b_hh is not None)
        ctx.save_for_backward(x, w_ih, w_hh, hs, cs, gates, zhs, rhs, mask, q)
        c_out = cs[T] if cs is not None else torch.zeros_like(h0)
        return ys.transpose(0, 1), hs[T].clone(), c_out.clone()

    @staticmethod
    def backward(ctx, dy, dh_T, dc_T):
        x, w_ih, w_hh, hs, cs, gates, zhs, rhs, mask, q = ctx.saved_tensors
        kind, act = ctx.kind, ctx.act
        T, H = x.shape[1], w_hh.shape[1]
        K = kernels() if x.device.type == "cpu" and kind in ("lstm", "gru") else None
        dy = dy.transpose(0, 1)                                   # (T, B, H)
        dzx = torch.empty_like(gates)                             # gate grads, input side
        dzh = dzx if kind in ("lstm", "simple") else torch.empty_like(gates)
        masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None
        dh, dc = dh_T.contiguous(), (dc_T.contiguous() if kind == "lstm" else None)
        dh_direct = torch.empty_like(dh) if kind == "gru" else None
        dc_prev = torch.empty_like(dh) if kind == "lstm" else None
        for t in reversed(range(T)):
            dh_new = dh + dy[t]                                   # h' feeds y_t and step t+1
            if masks is not None:                                 # masked: state passes
                m = masks[t]
                dh_new, dh_pass = dh_new * m, dh * ~m
            if kind == "lstm":
                dc_new = dc if masks is None else dc * m
                if K is not None:
                    K.lstm_bwd_step(gates[t], cs[t], dh_new, dc_new, dzx[t], dc_prev)
                else:
                    _lstm_bwd(gates[t], cs[t], dh_new, dc_new, dzx[t], dc_prev)
                dc = dc_prev.clone() if masks is None else dc_prev + dc * ~m
                dhr = dzx[t] @ w_hh
            elif kind == "gru":
                if K is not None:
                    K.gru_bwd_step(gates[t], zhs[t], hs[t], dh_new, dzx[t], dzh[t], dh_direct)
                else:
                    _gru_bwd(gates[t], zhs[t], hs[t], dh_new, dzx[t], dzh[t], dh_direct)
                dhr = dzh[t] @ w_hh
            elif kind == "gru_before":
                hr = hs[t] if q is None else hs[t] * q
                dhr = _gru_before_bwd(gates[t], hr, hs[t], dh_new, dzx[t], dzh[t], w_hh)
                dh_direct = dh_new * gates[t][:, H:2 * H]
            else:
                a = gates[t]
                torch.mul(dh_new, _ACT[act][1](a, hs[t + 1]), out=dzx[t])
                dhr = dzx[t] @ w_hh
            dh = dhr if q is None else dhr * q
            if kind in ("gru", "gru_before"):
                dh = dh + dh_direct
            if masks is not None:
                dh = dh + dh_pass
        h_rec = hs[:-1] if q is None else hs[:-1] * q             # what met W_hh
        dx, dw_ih, db_x = _input_side(dzx, x, w_ih, ctx.has_b[0])
        TB = T * x.shape[0]
        if kind == "gru_before":    # dW_hh = [d(r,z)^T h ; d(n)^T (r*h)]
            flat = dzh.reshape(TB, -1)
            dw_hh = torch.cat([flat[:, :2 * H].t() @ h_rec.reshape(TB, H),
                               flat[:, 2 * H:].t() @ rhs.reshape(TB, H)])
            db_h = None
        else:
            flat = dzh.reshape(TB, -1)
            dw_hh = flat.t() @ h_rec.reshape(TB, H)
            db_h = flat.sum(0) if ctx.has_b[1] else None
        dc0 = dc if kind == "lstm" else None
        return (None, None, dx, dh, dc0, dw_ih, dw_hh, db_x, db_h, None, None)


def _input_side(dzx, x, w_ih, has_bias):
    """dX, dW_ih and the input bias gradient as single GEMMs over all steps."""
    T, B, GH = dzx.shape
    flat = dzx.reshape(T * B, GH)
    dx = (flat @ w_ih).view(T, B, -1).transpose(0, 1)             # (B, T, D)
    dw_ih = flat.t() @ x.transpose(0, 1).reshape(T * B, -1)
    return dx, dw_ih, (flat.sum(0) if has_bias else None)


# ---------------------------------------------------------------- one step, backward (ops)
def _lstm_bwd(a, c_prev, dh, dc, dz, dc_prev):
    H = c_prev.shape[1]
    i, f, g, o = a.chunk(4, 1)
    tc = torch.addcmul(f * c_prev, i, g).tanh_()
    dct = torch.addcmul(dc, dh * o, 1 - tc * tc)                  # through h' = o tanh(c')
    torch.mul(dct * g, i * (1 - i), out=dz[:, :H])                # sigmoid' = s (1 - s)
    torch.mul(dct * c_prev, f * (1 - f), out=dz[:, H:2 * H])
    torch.mul(dct * i, 1 - g * g, out=dz[:, 2 * H:3 * H])         # tanh' = 1 - t^2
    torch.mul(dh * tc, o * (1 - o), out=dz[:, 3 * H:])
    torch.mul(dct, f, out=dc_prev)


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


def _gru_before_bwd(a, hr, h_prev, dh, dzx, dzh, w_hh):
    H = h_prev.shape[1]
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    dan = dh * (1 - z) * (1 - n * n)
    d_rh = dan @ w_hh[2 * H:]                                     # n = tanh(... + (r h) W_hn^T)
    dzx[:, :H] = d_rh * hr * r * (1 - r)
    dzx[:, H:2 * H] = dh * (h_prev - n) * z * (1 - z)
    dzx[:, 2 * H:] = dan
    dzh[:, :2 * H] = dzx[:, :2 * H]
    dzh[:, 2 * H:] = dan
    return dzx[:, :2 * H] @ w_hh[:2 * H] + d_rh * r


def run_fused(cell, x: torch.Tensor, state, mask: torch.Tensor | None = None,
              recurrent_mask: torch.Tensor | None = None):
    """Same contract as ``run_loop`` for a built-in cell and a plain tensor input."""
    act, b_hh = None, None
    if type(cell) is LSTMCell:
        kind, (h0, c0) = "lstm", state
        b_ih = cell.bias if cell.use_bias else None
    else:
        h0, c0 = state, torch.zeros_like(state)
        if type(cell) is GRUCell and cell.reset_after:
            kind = "gru"
            b_ih, b_hh = (cell.bias_ih, cell.bias_hh) if cell.use_bias else (None, None)
        else:
            kind = "gru_before" if type(cell) is GRUCell else "simple"
            act = getattr(cell, "activation_name", None)
            b_ih = cell.bias if cell.use_bias else None
    y, h, c = _Fused.apply(kind, act, x, h0, c0, cell.weight_ih, cell.weight_hh, b_ih, b_hh,
                           mask, recurrent_mask)
    last = h if mask is None else h * mask.any(1, keepdim=True)   # zero if no real step
    return y, last, (LSTMState(h, c) if kind == "lstm" else h)
