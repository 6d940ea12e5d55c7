r"""One step forward and backward of each cell, in NumPy, with caches (CS231n style).

Slow by design and never imported by the fast paths: this is the arithmetic written out,
one line per equation, that the torch engines are tested against.

Conventions (the same as rnnkit's torch cells):
    params     dict of arrays with PyTorch names and gate packing:
               weight_ih (G·H, D), weight_hh (G·H, H), bias (G·H,)  [bias_ih, bias_hh for GRU
               reset_after=True]; a missing bias means use_bias=False
    x          (B, D)          one step of input
    state      h (B, H), or (h, c) for LSTM
    d*         dX is dLoss/dX;  d_out is the gradient arriving at this step's output,
               d_state_next the one arriving from step t+1 through the state

    *_step_forward(x, state, params)            -> (y, state', cache)
    *_step_backward(d_out, d_state_next, cache) -> (dx, d_state_prev, dparams)
"""

from __future__ import annotations

import numpy as np

__all__ = ["ACTIVATIONS", "sigmoid", "simple_step_forward", "simple_step_backward",
           "lstm_step_forward", "lstm_step_backward", "peephole_step_forward",
           "peephole_step_backward", "gru_step_forward", "gru_step_backward"]


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))           # = 1 / (1 + e^-a), without overflow


# activation: (f(a), f'(a) written with a and f(a))
ACTIVATIONS = {
    "tanh": (np.tanh, lambda a, y: 1.0 - y * y),
    "relu": (lambda a: np.maximum(a, 0.0), lambda a, y: (a > 0).astype(a.dtype)),
    "sigmoid": (sigmoid, lambda a, y: y * (1.0 - y)),
    "linear": (lambda a: a, lambda a, y: np.ones_like(a)),
}


def _bias(params: dict, name: str = "bias"):
    return params.get(name, 0.0)


def _param_grads(params: dict, d_gates_x: np.ndarray, x: np.ndarray,
                 d_gates_h: np.ndarray, h: np.ndarray, bias_names) -> dict:
    grads = {"weight_ih": d_gates_x.T @ x, "weight_hh": d_gates_h.T @ h}
    for name, d in zip(bias_names, (d_gates_x, d_gates_h)):
        if name in params:
            grads[name] = d.sum(0)
    return grads


# ---------------------------------------------------------------- Elman / SimpleRNN
def simple_step_forward(x, h, params, activation: str = "tanh"):
    f, _ = ACTIVATIONS[activation]
    a = x @ params["weight_ih"].T + h @ params["weight_hh"].T + _bias(params)  # pre-activation
    h_next = f(a)                                                              # h' = act(a)
    return h_next, h_next, (x, h, a, h_next, params, activation)


def simple_step_backward(d_out, d_h_next, cache):
    x, h, a, h_next, params, activation = cache
    _, df = ACTIVATIONS[activation]
    dh = d_out + d_h_next                          # h' feeds the output and step t+1
    da = dh * df(a, h_next)                        # through the activation's derivative
    dx = da @ params["weight_ih"]                  # a = x W_ih^T + ...
    dh_prev = da @ params["weight_hh"]             # a = ... + h W_hh^T
    grads = _param_grads(params, da, x, da, h, ("bias",))
    return dx, dh_prev, grads


# ---------------------------------------------------------------- LSTM
def lstm_step_forward(x, state, params):
    h, c = state
    z = x @ params["weight_ih"].T + h @ params["weight_hh"].T + _bias(params)  # (B, 4H)
    zi, zf, zg, zo = np.split(z, 4, axis=1)
    i, f, g, o = sigmoid(zi), sigmoid(zf), np.tanh(zg), sigmoid(zo)            # gates
    c_next = f * c + i * g                                                     # c' = f c + i g
    tc = np.tanh(c_next)
    h_next = o * tc                                                            # h' = o tanh(c')
    cache = (x, h, c, i, f, g, o, tc, params)
    return h_next, (h_next, c_next), cache


def lstm_step_backward(d_out, d_state_next, cache):
    x, h, c, i, f, g, o, tc, params = cache
    dh_next, dc_next = d_state_next
    dh = d_out + dh_next                           # h' feeds the output and step t+1
    dc = dc_next + dh * o * (1.0 - tc * tc)        # c' feeds h' and step t+1
    do = dh * tc                                   # h' = o tanh(c')
    di, dg, df = dc * g, dc * i, dc * c            # c' = f c + i g
    dc_prev = dc * f
    dz = np.concatenate([di * i * (1 - i), df * f * (1 - f),   # sigmoid' = s (1 - s)
                         dg * (1 - g * g), do * o * (1 - o)], axis=1)  # tanh' = 1 - t^2
    dx = dz @ params["weight_ih"]
    dh_prev = dz @ params["weight_hh"]
    grads = _param_grads(params, dz, x, dz, h, ("bias",))
    return dx, (dh_prev, dc_prev), grads


# ---------------------------------------------------------------- peephole LSTM
def peephole_step_forward(x, state, params):
    h, c = state
    z = x @ params["weight_ih"].T + h @ params["weight_hh"].T + _bias(params)  # (B, 4H)
    zi, zf, zg, zo = np.split(z, 4, axis=1)
    i = sigmoid(zi + params["weight_ci"] * c)                                  # peeks at c
    f = sigmoid(zf + params["weight_cf"] * c)                                  # peeks at c
    g = np.tanh(zg)
    c_next = f * c + i * g                                                     # c' = f c + i g
    o = sigmoid(zo + params["weight_co"] * c_next)                             # peeks at c'
    tc = np.tanh(c_next)
    h_next = o * tc                                                            # h' = o tanh(c')
    cache = (x, h, c, c_next, i, f, g, o, tc, params)
    return h_next, (h_next, c_next), cache


def peephole_step_backward(d_out, d_state_next, cache):
    x, h, c, c_next, i, f, g, o, tc, params = cache
    dh_next, dc_next = d_state_next
    dh = d_out + dh_next                           # h' feeds the output and step t+1
    da_o = dh * tc * o * (1 - o)                   # h' = o tanh(c'), o = sigmoid(a_o)
    dc = dc_next + dh * o * (1 - tc * tc) + da_o * params["weight_co"]  # c' feeds step t+1, h', o
    da_i = dc * g * i * (1 - i)                    # c' = f c + i g
    da_f = dc * c * f * (1 - f)
    da_g = dc * i * (1 - g * g)
    dc_prev = dc * f + da_i * params["weight_ci"] + da_f * params["weight_cf"]  # c feeds c', i, f
    dz = np.concatenate([da_i, da_f, da_g, da_o], axis=1)
    dx = dz @ params["weight_ih"]
    dh_prev = dz @ params["weight_hh"]
    grads = _param_grads(params, dz, x, dz, h, ("bias",))
    grads.update(weight_ci=(da_i * c).sum(0), weight_cf=(da_f * c).sum(0),
                 weight_co=(da_o * c_next).sum(0))
    return dx, (dh_prev, dc_prev), grads


# ---------------------------------------------------------------- GRU (both forms)
def gru_step_forward(x, h, params, reset_after: bool = True):
    H = h.shape[1]
    W_hh = params["weight_hh"]
    if reset_after:
        gx = x @ params["weight_ih"].T + _bias(params, "bias_ih")             # (B, 3H)
        gh = h @ W_hh.T + _bias(params, "bias_hh")                             # (B, 3H)
        r = sigmoid(gx[:, :H] + gh[:, :H])                                     # reset gate
        z = sigmoid(gx[:, H:2 * H] + gh[:, H:2 * H])                           # update gate
        n = np.tanh(gx[:, 2 * H:] + r * gh[:, 2 * H:])                         # candidate
        extra = gh[:, 2 * H:]
    else:
        gx = x @ params["weight_ih"].T + _bias(params)
        ghrz = h @ W_hh[:2 * H].T
        r = sigmoid(gx[:, :H] + ghrz[:, :H])
        z = sigmoid(gx[:, H:2 * H] + ghrz[:, H:])
        extra = r * h                                                          # reset before
        n = np.tanh(gx[:, 2 * H:] + extra @ W_hh[2 * H:].T)
    h_next = (1 - z) * n + z * h                                               # h'
    return h_next, h_next, (x, h, r, z, n, extra, params, reset_after)


def gru_step_backward(d_out, d_h_next, cache):
    x, h, r, z, n, extra, params, reset_after = cache
    H = h.shape[1]
    W_hh = params["weight_hh"]
    dh = d_out + d_h_next
    dn = dh * (1 - z)                              # h' = (1 - z) n + z h
    dz = dh * (h - n)
    dh_prev = dh * z
    da_n = dn * (1 - n * n)                        # tanh'
    if reset_after:
        dr = da_n * extra                          # n = tanh(gx_n + r * gh_n)
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
        d_gx = np.concatenate([da_r, da_z, da_n], axis=1)
        d_gh = np.concatenate([da_r, da_z, da_n * r], axis=1)
        dh_prev = dh_prev + d_gh @ W_hh
        grads = _param_grads(params, d_gx, x, d_gh, h, ("bias_ih", "bias_hh"))
    else:
        d_rh = da_n @ W_hh[2 * H:]                 # n = tanh(gx_n + (r h) W_hn^T)
        dr = d_rh * h
        da_r, da_z = dr * r * (1 - r), dz * z * (1 - z)
        d_grz = np.concatenate([da_r, da_z], axis=1)
        dh_prev = dh_prev + d_rh * r + d_grz @ W_hh[:2 * H]
        d_gx = np.concatenate([da_r, da_z, da_n], axis=1)
        grads = _param_grads(params, d_gx, x, d_gx[:, :0], h, ("bias",))
        grads["weight_hh"] = np.concatenate([d_grz.T @ h, da_n.T @ extra], axis=0)
    dx = d_gx @ params["weight_ih"]
    return dx, dh_prev, grads
