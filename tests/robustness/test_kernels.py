"""The C++ entry points refuse every tensor they would index out of bounds.

Each case calls a kernel with valid arguments except one -- the wrong shape, dtype or
layout -- and expects torch's RuntimeError naming the function and the argument, never a
read or write past a buffer (``make sanitize`` runs this file under AddressSanitizer too).
"""

import pytest
import torch

from rnnkit.engines import codes
from rnnkit.engines._ext import kernels
from rnnkit.engines.codes import LayerSpec, StepConfig

B, H, T = 2, 3, 4
G = 4 * H
F64 = torch.float64

# function -> its arguments in order: (name, shape) for a tensor, ("=", value) for a scalar
SIGNATURES = {
    "lstm_fwd_step": [("z", (B, 4 * H)), ("c_prev", (B, H)), ("c_out", (B, H)),
                      ("h_out", (B, H))],
    "lstm_bwd_step": [("gates", (B, 4 * H)), ("c_prev", (B, H)), ("dh", (B, H)),
                      ("dc", (B, H)), ("dz", (B, 4 * H)), ("dc_prev", (B, H))],
    "peephole_fwd_step": [("z", (B, 4 * H)), ("w_ci", (H,)), ("w_cf", (H,)), ("w_co", (H,)),
                          ("c_prev", (B, H)), ("c_out", (B, H)), ("h_out", (B, H))],
    "peephole_bwd_step": [("gates", (B, 4 * H)), ("w_ci", (H,)), ("w_cf", (H,)), ("w_co", (H,)),
                          ("c_prev", (B, H)), ("dh", (B, H)), ("dc", (B, H)), ("dz", (B, 4 * H)),
                          ("dc_prev", (B, H))],
    "gru_fwd_step": [("zx", (B, 3 * H)), ("zh", (B, 3 * H)), ("h_prev", (B, H)),
                     ("gates", (B, 3 * H)), ("h_out", (B, H))],
    "gru_bwd_step": [("gates", (B, 3 * H)), ("zh", (B, 3 * H)), ("h_prev", (B, H)),
                     ("dh", (B, H)), ("dzx", (B, 3 * H)), ("dzh", (B, 3 * H)),
                     ("dh_direct", (B, H))],
    "lnlstm_fwd_step": [("z", (B, G)), ("ah", (B, G)), ("gamma_h", (G,)), ("beta_h", (G,)),
                        ("gamma_c", (H,)), ("beta_c", (H,)), ("c_prev", (B, H)),
                        ("c_out", (B, H)), ("nc", (B, H)), ("rstd_h", (B,)), ("rstd_c", (B,)),
                        ("h_out", (B, H)), ("=", 1e-5)],
    "lnlstm_bwd_step": [("gates", (B, G)), ("c_prev", (B, H)), ("nh", (B, G)),
                        ("rstd_h", (B,)), ("nc", (B, H)), ("rstd_c", (B,)), ("gamma_h", (G,)),
                        ("gamma_c", (H,)), ("beta_c", (H,)), ("dh", (B, H)), ("dc", (B, H)),
                        ("dz", (B, G)), ("dah", (B, G)), ("dgh", (G,)), ("dbz", (G,)),
                        ("dgc", (H,)), ("dbc", (H,))],
    "ln_bwd_rows": [("d", (B, G)), ("n", (B, G)), ("rstd", (B,)), ("gamma", (G,)),
                    ("dgamma", (G,))],
    "simple_seq_fwd": [("zx", (T, B, H)), ("w_hh", (H, H)), ("q", (B, H)), ("mask", (T, B)),
                       ("=", 0), ("a", (T, B, H)), ("hs", (T + 1, B, H))],
    "simple_seq_bwd": [("a", (T, B, H)), ("hs", (T + 1, B, H)), ("w_hh", (H, H)), ("q", (B, H)),
                       ("mask", (T, B)), ("=", 0), ("dy", (T, B, H)), ("dh", (B, H)),
                       ("dz", (T, B, H))],
}


SIZES_FROM = {"lstm_fwd_step": "c_prev", "lstm_bwd_step": "c_prev",
              "peephole_fwd_step": "c_prev", "peephole_bwd_step": "c_prev",
              "gru_fwd_step": "h_prev", "gru_bwd_step": "h_prev", "lnlstm_fwd_step": "c_prev",
              "lnlstm_bwd_step": "c_prev",
              "ln_bwd_rows": "d", "simple_seq_fwd": "zx", "simple_seq_bwd": "a"}


def _args(fn: str) -> list:
    out = []
    for name, shape in SIGNATURES[fn]:
        if name == "=":
            out.append(shape)
        elif name == "mask":
            out.append(torch.ones(shape, dtype=torch.bool))
        else:
            out.append(torch.rand(shape, dtype=F64) * 0.5 + 0.25)
    return out


def _cases():
    for fn, sig in SIGNATURES.items():
        for k, (name, shape) in enumerate(sig):
            if name == "=":
                continue
            yield pytest.param(fn, k, name, "shape", id=f"{fn}-{name}-shape")
            if name != "mask":
                yield pytest.param(fn, k, name, "dtype", id=f"{fn}-{name}-dtype")
    for fn in ("lstm_fwd_step", "gru_bwd_step", "simple_seq_fwd"):
        yield pytest.param(fn, 1, SIGNATURES[fn][1][0], "layout", id=f"{fn}-layout")


@pytest.fixture(scope="module")
def K():
    k = kernels()
    assert k is not None, "the C++ kernels did not build on this machine"
    return k


@pytest.mark.parametrize("fn", list(SIGNATURES))
def test_valid_arguments_run(K, fn):
    getattr(K, fn)(*_args(fn))


@pytest.mark.parametrize("fn, k, name, fault", list(_cases()))
def test_a_bad_argument_is_refused_by_name(K, fn, k, name, fault):
    args = _args(fn)
    t = args[k]
    if fault == "shape":          # one column short: the classic out-of-bounds read
        args[k] = t[..., :-1].contiguous()
    elif fault == "dtype":
        args[k] = t.float()
    else:
        args[k] = t.t().contiguous().t()
        assert not args[k].is_contiguous()
    # B, H (or T, N) are read off one argument; when that one is wrong, or the dtype is
    # taken from the first, the mismatch is reported on the argument checked against it
    relative = (fault == "shape" and name == SIZES_FROM[fn]) or (fault == "dtype" and k == 0)
    with pytest.raises(RuntimeError, match=f"{fn}: " + ("" if relative else name)):
        getattr(K, fn)(*args)


def _train_args(D=3, units=4, out=1):
    """SimpleRNN(units) + Dense(out), SGD, MSE: the smallest valid train_step call."""
    layers = [LayerSpec(kind=codes.LAYER_KINDS["simple"], inputs=D, units=units,
                        activation=codes.ACTIVATIONS["tanh"], bias=True),
              LayerSpec(kind=codes.LAYER_KINDS["dense"], inputs=units, units=out,
                        activation=codes.ACTIVATIONS["linear"], bias=True)]
    params = [torch.zeros(units, D, dtype=F64), torch.zeros(units, units, dtype=F64),
              torch.zeros(units, dtype=F64), torch.zeros(out, units, dtype=F64),
              torch.zeros(out, dtype=F64)]
    grads = [torch.zeros_like(p) for p in params]
    config = StepConfig(lr=0.01, beta1=0.0, beta2=0.0, eps=0.0, weight_decay=0.0,
                        clip_value=0.0, clip_norm=0.0, adam=False,
                        loss=codes.LOSSES[("mse", False)], grads_only=False)
    return [torch.zeros(5, 6, D, dtype=F64), torch.zeros(5, out, dtype=F64),
            [v for layer in layers for v in layer], params, grads, [], [], [], config]


def _layer(args, k, **change):
    """args with layer k of the flat spec changed by field name."""
    n = len(LayerSpec._fields)
    layers = [LayerSpec(*args[2][i:i + n]) for i in range(0, len(args[2]), n)]
    layers[k] = layers[k]._replace(**change)
    args[2] = [v for layer in layers for v in layer]


def _config(args, at=8, **change):
    args[at] = args[at]._replace(**change)


def _adam_state(args, broken=None):
    """Adam on, with its state for every parameter; ``broken``: (which, k, tensor)."""
    _config(args, adam=True)
    state = [[torch.zeros_like(p) for p in args[3]], [torch.zeros_like(p) for p in args[3]],
             [torch.zeros(()) for _ in args[3]]]
    if broken is not None:
        which, k, tensor = broken
        state[which][k] = tensor
    args[5:8] = state


TRAIN_FAULTS = {
    "x features": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 7, dtype=F64)), "x has shape"),
    "x too few features": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 1, dtype=F64)),
                           "x has shape"),
    "x rank": (lambda a: a.__setitem__(0, torch.zeros(5, 6, dtype=F64)), "x must have 3"),
    "x dtype": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 3, dtype=torch.int64)),
                "x must be float32 or float64"),
    "x empty": (lambda a: a.__setitem__(0, torch.zeros(0, 6, 3, dtype=F64)),
                "x must have samples"),
    "x layout": (lambda a: a.__setitem__(0, torch.zeros(5, 3, 6, dtype=F64).transpose(1, 2)),
                 "x must be contiguous"),
    "x device": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 3, dtype=F64, device="meta")),
                 "x must be a CPU tensor"),
    "y count": (lambda a: a.__setitem__(1, torch.zeros(4, 1, dtype=F64)), "y has shape"),
    "y flat": (lambda a: a.__setitem__(1, torch.zeros(10, dtype=F64)), "y has shape"),
    "y dtype": (lambda a: a.__setitem__(1, torch.zeros(5, 1)), "y has dtype"),
    "y layout": (lambda a: a.__setitem__(1, torch.zeros(5, 2, dtype=F64)[:, :1]),
                 "y must be contiguous"),
    "weight shape": (lambda a: a[3].__setitem__(1, torch.zeros(4, 5, dtype=F64)), "parameter"),
    "weight device": (lambda a: a[3].__setitem__(3, torch.zeros(1, 4, dtype=F64,
                                                                device="meta")),
                      "a parameter must be a CPU tensor"),
    "grad shape": (lambda a: a[4].__setitem__(0, torch.zeros(4, 2, dtype=F64)), "gradient"),
    "param count": (lambda a: a[3].pop(), "spec wants 5 parameters"),
    "spec length": (lambda a: a[2].pop(), "5 values a layer"),
    "chained sizes": (lambda a: _layer(a, 1, inputs=9), "takes 9 inputs"),
    "activation code": (lambda a: _layer(a, 0, activation=7), "layer 0 has invalid codes"),
    "softmax in a recurrent layer": (lambda a: _layer(a, 0, activation=codes.SOFTMAX),
                                     "layer 0 has invalid codes"),
    "layer kind": (lambda a: _layer(a, 0, kind=9), "invalid codes"),
    "no recurrent layer": (lambda a: _layer(a, 0, kind=codes.LAYER_KINDS["dense"]),
                           "layer 0 must be recurrent"),
    "recurrent after dense": (lambda a: a[2].extend(LayerSpec(0, 1, 2, 0, True)),
                              "layer 2 is recurrent after a Dense"),
    "config length": (lambda a: a.__setitem__(8, tuple(a[8])[:-1]), "config must hold 10"),
    "loss code": (lambda a: _config(a, loss=6), "unknown loss code"),
    "adam without state": (lambda a: _config(a, adam=True), "Adam state for 0"),
    "adam moment shape": (lambda a: _adam_state(a, (0, 1, torch.zeros(4, 3, dtype=F64))),
                          "Adam's exp_avg has shape"),
    "adam step count": (lambda a: _adam_state(a, (2, 0, torch.zeros(2))),
                        "Adam step must be one float number"),
}


def test_train_step_runs_on_valid_arguments(K):
    K.train_step(*_train_args())
    args = _train_args()
    _adam_state(args)
    K.train_step(*args)


def test_train_step_takes_flat_targets_only_for_one_output(K):
    args = _train_args(out=1)
    args[1] = torch.zeros(5, dtype=F64)                 # (B,): one target a sample
    K.train_step(*args)
    args = _train_args(out=2)
    args[1] = torch.zeros(5, dtype=F64)
    with pytest.raises(RuntimeError, match=r"train_step: y has shape \[5\], expected \[5, 2\]"):
        K.train_step(*args)


@pytest.mark.parametrize("fault", list(TRAIN_FAULTS))
def test_train_step_refuses(K, fault):
    args = _train_args()
    mutate, message = TRAIN_FAULTS[fault]
    mutate(args)
    with pytest.raises(RuntimeError, match="train_step: .*" + message):
        K.train_step(*args)


def _update_args():
    """apply_update's arguments for _train_args' model: params, grads, Adam state, config."""
    a = _train_args()
    return [a[3], a[4], [], [], [], a[8]]


UPDATE_FAULTS = {
    "grad shape": (lambda a: a[1].__setitem__(0, torch.zeros(4, 2, dtype=F64)), "gradient"),
    "grad dtype": (lambda a: a[1].__setitem__(0, torch.zeros(4, 3)), "gradient"),
    "grad count": (lambda a: a[1].pop(), "5 parameters and 4 gradients"),
    "no parameters": (lambda a: (a[0].clear(), a[1].clear()), "0 parameters"),
    "config length": (lambda a: a.__setitem__(5, tuple(a[5])[:-1]), "config must hold 10"),
    "adam without state": (lambda a: _config(a, at=5, adam=True), "Adam state for 0"),
    "param not contiguous": (lambda a: a[0].__setitem__(1, torch.zeros(4, 8, dtype=F64)[:, ::2]),
                             "parameter"),
}


def test_apply_update_matches_the_whole_step(K):
    """gradients-only train_step, then apply_update == one whole train_step."""
    whole, split = _train_args(), _train_args()
    for args in (whole, split):
        g = torch.Generator().manual_seed(0)
        args[0].normal_(generator=g)
        args[1].normal_(generator=g)
        for p in args[3]:
            p.normal_(generator=g)
    split[3] = [p.clone() for p in whole[3]]
    split[0], split[1] = whole[0].clone(), whole[1].clone()
    for args in (whole, split):
        _config(args, clip_norm=0.5)
    K.train_step(*whole)
    _, loss, _ = K.train_step(*split[:8], split[8]._replace(grads_only=True))
    assert all(not torch.equal(p, q) for p, q in zip(whole[3], split[3]))   # not updated yet
    K.apply_update(split[3], split[4], [], [], [], split[8])
    for p, q in zip(whole[3], split[3]):
        assert torch.equal(p, q)


@pytest.mark.parametrize("fault", list(UPDATE_FAULTS))
def test_apply_update_refuses(K, fault):
    args = _update_args()
    mutate, message = UPDATE_FAULTS[fault]
    mutate(args)
    with pytest.raises(RuntimeError, match="apply_update: .*" + message):
        K.apply_update(*args)
