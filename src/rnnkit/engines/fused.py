r"""Whole-sequence kernels with hand-derived gradients (a ``torch.autograd.Function``).

Forward: the input projection of all T steps is one GEMM, ``X W_ih^T + b``, written into
the buffer that then holds each step's activated gates; the time loop does only
``h W_hh^T`` (accumulated in place) plus the gate arithmetic.
Backward: one walk back through time for dh (and dc), writing each step's gate gradients
into one (T, B, G·H) buffer; then dW_ih, dW_hh and the bias gradients are single GEMMs and
reductions over all steps, and dX one GEMM -- the shape of cuDNN's RNN backward.

The gate arithmetic of a step is one C++ kernel (``csrc/kernels.cpp``, its math in
``csrc/gates.h``, compiled on first use) for LSTM, LayerNorm-LSTM and GRU(reset_after=True);
without a compiler, and for SimpleRNN and GRU(reset_after=False), it is a few PyTorch ops.
LayerNorm-LSTM normalises the input projections of all steps at once, before the loop, and
back-propagates through that normalisation after it. Supported: masks (a masked step keeps
the state and outputs zeros), a per-sequence recurrent-dropout mask ``q`` on h, initial
states with gradients.
The readable cells in ``rnnkit.cells`` are the specification; ``tests/engines/test_fused.py``
holds this file to them.
"""

from __future__ import annotations

import torch

from ..cells.base import describe
from ..types import LSTMState
from ._ext import kernels
from .codes import ACTIVATIONS

__all__ = ["run_fused", "fused_blocker"]

_ACT = {  # activation, written into out=, and its derivative from (pre-activation a, output y)
    "tanh": (lambda a, out: torch.tanh(a, out=out), lambda a, y: 1 - y * y),
    "relu": (lambda a, out: torch.clamp_min(a, 0, out=out), lambda a, y: (a > 0).to(y.dtype)),
    "sigmoid": (lambda a, out: torch.sigmoid(a, out=out), lambda a, y: y * (1 - y)),
    "linear": (lambda a, out: out.copy_(a), lambda a, y: torch.ones_like(y)),
}
_KERNEL_KINDS = ("lstm", "gru", "lnlstm")
_LSTM_KINDS = ("lstm", "lnlstm")
SEQ_MAX_H = 32      # SimpleRNN up to this H runs its whole time loop in one C++ call
_ACT_CODE = ACTIVATIONS     # the C++ codes (engines/codes.py)


def _cpu_kernels(x: torch.Tensor):
    """The C++ module for float32/float64 CPU tensors (its kernels take those two), else None:
    half precision and other devices run the same Function in PyTorch ops."""
    if x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64):
        return kernels()
    return None


def _seq_kernels(kind: str, x: torch.Tensor, H: int):
    """The C++ module when this call runs as one whole-sequence kernel, else None."""
    if kind == "simple" and H <= SEQ_MAX_H:
        return _cpu_kernels(x)
    return None


def fused_blocker(cell) -> str | None:
    d = describe(cell)
    if d is None:
        return f"{type(cell).__name__} is not a built-in cell"
    return None if d.fused else d.not_fused


def _project(x: torch.Tensor, w_ih: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    """All T input projections in one GEMM, time-major: (T, B, G·H)."""
    flat = x.transpose(0, 1).reshape(-1, x.shape[2])              # (T·B, D)
    out = flat @ w_ih.t() if b is None else torch.addmm(b, flat, w_ih.t())
    return out.view(x.shape[1], x.shape[0], -1)


# ---------------------------------------------------------------- one step, forward (ops)
# The C++ kernels do the same in one pass; these run without a compiler.
def _lstm_fwd(z, c_prev, c_out, h_out):
    H = c_prev.shape[1]
    g = z[:, 2 * H:3 * H].tanh()
    z.sigmoid_()
    z[:, 2 * H:3 * H] = g
    i, f, g, o = z.chunk(4, 1)
    torch.addcmul(f * c_prev, i, g, out=c_out)                    # c' = f c + i g
    torch.mul(o, c_out.tanh(), out=h_out)                         # h' = o tanh(c')


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


def _gru_fwd(zx, zh, h_prev, a, h_out):                            # a may be zx itself
    H = h_prev.shape[1]
    torch.sigmoid(zx[:, :2 * H] + zh[:, :2 * H], out=a[:, :2 * H])  # r, z
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.tanh(torch.addcmul(zx[:, 2 * H:], r, zh[:, 2 * H:]), out=n)
    torch.addcmul(n, z, h_prev - n, out=h_out)                    # (1 - z) n + z h


def _gru_before_fwd(a, hr, w_hh_t, h_prev, h_out, rh):             # a holds W_ih x + b
    H = h_prev.shape[1]
    torch.sigmoid(torch.addmm(a[:, :2 * H], hr, w_hh_t[:, :2 * H]), out=a[:, :2 * H])
    r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
    torch.mul(r, hr, out=rh)                                      # r * h, for dW_hn
    torch.tanh(torch.addmm(n, rh, w_hh_t[:, 2 * H:]), out=n)
    torch.addcmul(n, z, h_prev - n, out=h_out)


class _Fused(torch.autograd.Function):
    """Inputs: (kind, opt, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, q, ln) where ``opt``
    is the activation (SimpleRNN) or the LN eps (LayerNorm-LSTM) and ``ln`` the six
    LayerNorm parameters (gamma, beta of ih, hh, c) or None.
    Outputs: y (B, T, H), h_T, c_T (c_T is a zeros placeholder without an LSTM)."""

    @staticmethod
    def forward(ctx, kind, opt, x, h0, c0, w_ih, w_hh, b_ih, b_hh, mask, q,
                gx=None, bx=None, gh=None, bh=None, gc=None, bc=None):
        ctx.set_materialize_grads(False)
        T, B, H = x.shape[1], x.shape[0], w_hh.shape[1]
        ctx.seq = _seq_kernels(kind, x, H) is not None
        if ctx.seq:
            return _seq_forward(ctx, opt, x, h0, w_ih, w_hh, b_ih, mask, q)
        K = _cpu_kernels(x) if kind in _KERNEL_KINDS else None
        w_hh_t = w_hh.t()
        masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None  # T x (B, 1)
        hs = x.new_empty(T + 1, B, H)                             # h_0 .. h_T
        hs[0] = h0
        Hs = hs.unbind(0)
        cs = nx = rstd_x = aux = rh = rc = ncs = None
        if kind == "lnlstm":                                      # LN_ih of all steps at once
            nx, _, rstd_x = torch.native_layer_norm(_project(x, w_ih, None), (4 * H,),
                                                    None, None, opt)
            gates = torch.addcmul(bx, nx, gx)
            if b_ih is not None:
                gates += b_ih
            aux = x.new_empty(T, B, 4 * H)                        # W_hh h, then normalised
            rh, rc, ncs = x.new_empty(T, B), x.new_empty(T, B), x.new_empty(T, B, H)
            AUX, RH, RC, NC = aux.unbind(0), rh.unbind(0), rc.unbind(0), ncs.unbind(0)
        else:
            gates = _project(x, w_ih, b_ih)                       # becomes the activated gates
            if kind == "gru":
                aux = x.new_empty(T, B, 3 * H)                    # W_hh h + b_hh, for dr
            elif kind == "gru_before":
                aux = x.new_empty(T, B, H)                        # r * h
            AUX = aux.unbind(0) if aux is not None else None
        Gs = gates.unbind(0)
        if kind in _LSTM_KINDS:
            cs = x.new_empty(T + 1, B, H)
            cs[0] = c0
            Cs = cs.unbind(0)
        hr_buf = x.new_empty(B, H) if q is not None else None
        for t in range(T):
            hr = Hs[t] if q is None else torch.mul(Hs[t], q, out=hr_buf)
            if kind == "lstm":
                Gs[t].addmm_(hr, w_hh_t)
                (K.lstm_fwd_step if K else _lstm_fwd)(Gs[t], Cs[t], Cs[t + 1], Hs[t + 1])
            elif kind == "lnlstm":
                torch.mm(hr, w_hh_t, out=AUX[t])
                (K.lnlstm_fwd_step if K else _lnlstm_fwd)(
                    Gs[t], AUX[t], gh, bh, gc, bc, Cs[t], Cs[t + 1], NC[t], RH[t], RC[t],
                    Hs[t + 1], opt)
            elif kind == "gru":
                if b_hh is None:
                    torch.mm(hr, w_hh_t, out=AUX[t])
                else:
                    torch.addmm(b_hh, hr, w_hh_t, out=AUX[t])     # W_hh h + b_hh
                (K.gru_fwd_step if K else _gru_fwd)(Gs[t], AUX[t], Hs[t], Gs[t], Hs[t + 1])
            elif kind == "gru_before":
                _gru_before_fwd(Gs[t], hr, w_hh_t, Hs[t], Hs[t + 1], AUX[t])
            else:
                Gs[t].addmm_(hr, w_hh_t)                          # pre-activation a
                _ACT[opt][0](Gs[t], Hs[t + 1])                    # h' = act(a)
            if masks is not None:                                 # masked: keep the state
                torch.where(masks[t], Hs[t + 1], Hs[t], out=Hs[t + 1])
                if cs is not None:
                    torch.where(masks[t], Cs[t + 1], Cs[t], out=Cs[t + 1])
        ys = hs[1:] if mask is None else hs[1:] * mask.t().unsqueeze(-1)
        ctx.kind, ctx.opt, ctx.has_b = kind, opt, (b_ih is not None, b_hh is not None)
        ctx.save_for_backward(x, w_ih, w_hh, hs, cs, gates, aux, mask, q,
                              nx, rstd_x, rh, rc, ncs, gx, gh, gc, bc)
        c_out = cs[T] if cs is not None else torch.zeros_like(h0)
        return ys.transpose(0, 1), hs[T].clone(), c_out.clone()

    @staticmethod
    def backward(ctx, dy, dh_T, dc_T):
        if ctx.seq:
            return _seq_backward(ctx, dy, dh_T)
        (x, w_ih, w_hh, hs, cs, gates, aux, mask, q,
         nx, rstd_x, rh, rc, ncs, gx, gh, gc, bc) = ctx.saved_tensors
        kind, opt = ctx.kind, ctx.opt
        T, B, H = x.shape[1], x.shape[0], w_hh.shape[1]
        K = _cpu_kernels(x) if kind in _KERNEL_KINDS else None
        dY = dy.transpose(0, 1).unbind(0) if dy is not None else None   # T x (B, H)
        masks = mask.t().unsqueeze(-1).unbind(0) if mask is not None else None
        Gs, Hs = gates.unbind(0), hs.unbind(0)
        dz = torch.empty_like(gates)                              # gate grads, input side
        DZ = dz.unbind(0)
        dzh = DZH = acc = None                                    # recurrent side, if other
        if kind in ("gru", "gru_before", "lnlstm"):
            dzh = torch.empty_like(gates)
            DZH = dzh.unbind(0)
        if kind == "lnlstm":         # d gamma_hh, d beta (= d b), d gamma_c, d beta_c
            acc = (x.new_zeros(4 * H), x.new_zeros(4 * H), x.new_zeros(H), x.new_zeros(H))
            AUX, RH, RC, NC = aux.unbind(0), rh.unbind(0), rc.unbind(0), ncs.unbind(0)
        elif kind == "gru":
            AUX = aux.unbind(0)
        Cs = cs.unbind(0) if cs is not None else None
        dh = dh_T.clone() if dh_T is not None else x.new_zeros(B, H)
        dc = None
        if kind in _LSTM_KINDS:
            dc = dc_T.clone() if dc_T is not None else x.new_zeros(B, H)
        dh_direct = torch.empty_like(dh) if kind == "gru" else None
        for t in reversed(range(T)):
            if masks is None:                                     # h' feeds y_t and step t+1
                if dY is not None:
                    dh.add_(dY[t])
                dh_new, dc_new = dh, dc
            else:                                                 # masked: the state passes
                m = masks[t]
                dh_pass = dh * ~m
                dh_new = (dh if dY is None else dh + dY[t]) * m
                if dc is not None:
                    dc_pass, dc_new = dc * ~m, dc * m
            if kind == "lstm":                                    # dc_new becomes dc_prev
                (K.lstm_bwd_step if K else _lstm_bwd)(Gs[t], Cs[t], dh_new, dc_new, DZ[t],
                                                      dc_new)
                dh = torch.mm(DZ[t], w_hh, out=dh) if masks is None else DZ[t] @ w_hh
            elif kind == "lnlstm":
                (K.lnlstm_bwd_step if K else _lnlstm_bwd)(
                    Gs[t], Cs[t], AUX[t], RH[t], NC[t], RC[t], gh, gc, bc, dh_new, dc_new,
                    DZ[t], DZH[t], *acc)
                dh = torch.mm(DZH[t], w_hh, out=dh) if masks is None else DZH[t] @ w_hh
            elif kind == "gru":
                (K.gru_bwd_step if K else _gru_bwd)(Gs[t], AUX[t], Hs[t], dh_new, DZ[t],
                                                    DZH[t], dh_direct)
                dh = DZH[t] @ w_hh
            elif kind == "gru_before":
                hr = Hs[t] if q is None else Hs[t] * q
                dh_direct = dh_new * Gs[t][:, H:2 * H]
                dh = _gru_before_bwd(Gs[t], hr, Hs[t], dh_new, DZ[t], DZH[t], w_hh)
            else:
                torch.mul(dh_new, _ACT[opt][1](Gs[t], Hs[t + 1]), out=DZ[t])
                dh = torch.mm(DZ[t], w_hh, out=dh) if masks is None else DZ[t] @ w_hh
            if q is not None:
                dh = dh * q
            if kind in ("gru", "gru_before"):
                dh = dh + dh_direct
            if masks is not None:
                dh = dh + dh_pass
                if dc is not None:
                    dc = dc_new + dc_pass
            elif dc is not None:
                dc = dc_new
        return _weight_grads(ctx, x, w_ih, hs, dz, dzh, q, nx, rstd_x, gx, aux, acc, K, dh, dc)


def _seq_forward(ctx, act, x, h0, w_ih, w_hh, b_ih, mask, q):
    """SimpleRNN with small H: the whole time loop in one C++ call each way."""
    T, B, H = x.shape[1], x.shape[0], w_hh.shape[1]
    gates = _project(x, w_ih, b_ih)                               # becomes the pre-activations
    hs = x.new_empty(T + 1, B, H)
    hs[0] = h0
    none = x.new_empty(0)
    mask_tb = mask.t().contiguous() if mask is not None else none.bool()
    kernels().simple_seq_fwd(gates, w_hh.contiguous(), none if q is None else q.contiguous(),
                             mask_tb, _ACT_CODE[act], gates, hs)
    ys = hs[1:] if mask is None else hs[1:] * mask.t().unsqueeze(-1)
    ctx.kind, ctx.opt, ctx.has_b = "simple", act, (b_ih is not None, False)
    ctx.save_for_backward(x, w_ih, w_hh, hs, gates, mask_tb, q)
    return ys.transpose(0, 1), hs[T].clone(), torch.zeros_like(h0)


def _seq_backward(ctx, dy, dh_T):
    x, w_ih, w_hh, hs, gates, mask_tb, q = ctx.saved_tensors
    B, H = x.shape[0], w_hh.shape[1]
    none = x.new_empty(0)
    dh = dh_T.clone() if dh_T is not None else x.new_zeros(B, H)
    dz = torch.empty_like(gates)
    kernels().simple_seq_bwd(gates, hs, w_hh.contiguous(), none if q is None else q.contiguous(),
                             mask_tb, _ACT_CODE[ctx.opt],
                             none if dy is None else dy.transpose(0, 1).contiguous(), dh, dz)
    return _weight_grads(ctx, x, w_ih, hs, dz, None, q, None, None, None, None, None, None, dh,
                         None)


def _weight_grads(ctx, x, w_ih, hs, dz, dzh, q, nx, rstd_x, gx, aux, acc, K, dh, dc):
    """Everything that is not recurrent, as GEMMs and reductions over all T·B rows."""
    kind, (has_b_ih, has_b_hh) = ctx.kind, ctx.has_b
    T, B, GH = dz.shape
    H = hs.shape[2]
    TB = T * B
    h_rec = hs[:-1] if q is None else hs[:-1] * q                 # what met W_hh
    h_rec = h_rec.reshape(TB, H)
    flat = dz.reshape(TB, GH)
    ln_grads = (None,) * 6
    if kind == "lnlstm":          # the LN_hh and LN_c parts were summed during the walk back
        dgh, dbeta, dgc, dbc = acc                                # d beta_ih = d beta_hh = d b
        db_ih = dbeta.clone() if has_b_ih else None
        dgx = torch.zeros_like(dgh)
        (K.ln_bwd_rows if K else _ln_bwd_rows)(flat, nx.reshape(TB, GH), rstd_x.reshape(TB),
                                               gx, dgx)           # flat: now d(W_ih x)
        ln_grads = (dgx, dbeta, dgh, dbeta.clone(), dgc, dbc)
    else:
        db_ih = flat.sum(0) if has_b_ih else None
    dx = dw_ih = None
    if ctx.needs_input_grad[2]:
        dx = (flat @ w_ih).view(T, B, -1).transpose(0, 1)         # (B, T, D)
    if ctx.needs_input_grad[5]:
        dw_ih = flat.t() @ x.transpose(0, 1).reshape(TB, -1)
    rec = (dzh if dzh is not None else dz).reshape(TB, GH)        # grads of W_hh h (+ b_hh)
    if kind == "gru_before":    # dW_hh = [d(r,z)^T h ; d(n)^T (r*h)]
        dw_hh = torch.cat([rec[:, :2 * H].t() @ h_rec, rec[:, 2 * H:].t() @ aux.reshape(TB, H)])
    else:
        dw_hh = rec.t() @ h_rec
    db_hh = rec.sum(0) if has_b_hh else None
    dc0 = dc if kind in _LSTM_KINDS else None
    return (None, None, dx, dh, dc0, dw_ih, dw_hh, db_ih, db_hh, None, None, *ln_grads)


# ---------------------------------------------------------------- one step, backward (ops)
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
    opt, b_hh, ln = None, None, ()
    b_ih = getattr(cell, "bias", None) if cell.use_bias else None
    kind = describe(cell).kind
    if describe(cell).paired:
        h0, c0 = state
        if kind == "lnlstm":
            opt = cell.eps
            ln = (cell.norm_ih.weight, cell.norm_ih.bias, cell.norm_hh.weight,
                  cell.norm_hh.bias, cell.norm_c.weight, cell.norm_c.bias)
    else:
        h0, c0 = state, torch.zeros_like(state)
        if kind == "gru":
            b_ih, b_hh = (cell.bias_ih, cell.bias_hh) if cell.use_bias else (None, None)
        elif kind == "simple":
            opt = cell.activation_name
    y, h, c = _Fused.apply(kind, opt, x, h0, c0, cell.weight_ih, cell.weight_hh, b_ih, b_hh,
                           mask, recurrent_mask, *ln)
    last = h if mask is None else h * mask.any(1, keepdim=True)   # zero if no real step
    return y, last, (LSTMState(h, c) if kind in _LSTM_KINDS else h)
