"""The C++ entry points refuse every tensor they would index out of bounds.

Each case calls a kernel with valid arguments except one -- the wrong shape, dtype or
layout -- and expects torch's RuntimeError naming the function and the argument, never a
read or write past a buffer (``make sanitize`` runs this file under AddressSanitizer too).
"""

import pytest
import torch

from rnnkit.engines._ext import kernels

B, H, T = 2, 3, 4
G = 4 * H
F64 = torch.float64

# function -> its arguments in order: (name, shape) for a tensor, ("=", value) for a scalar
SIGNATURES = {
    "lstm_fwd_step": [("z", (B, 4 * H)), ("c_prev", (B, H)), ("c_out", (B, H)),
                      ("h_out", (B, H))],
    "lstm_bwd_step": [("gates", (B, 4 * H)), ("c_prev", (B, H)), ("dh", (B, H)),
                      ("dc", (B, H)), ("dz", (B, 4 * H)), ("dc_prev", (B, H))],
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


SIZES_FROM = {"lstm_fwd_step": "c_prev", "lstm_bwd_step": "c_prev", "gru_fwd_step": "h_prev",
              "gru_bwd_step": "h_prev", "lnlstm_fwd_step": "c_prev", "lnlstm_bwd_step": "c_prev",
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
    spec = [0, D, units, 0, 1, 3, units, out, 3, 1]
    params = [torch.zeros(units, D, dtype=F64), torch.zeros(units, units, dtype=F64),
              torch.zeros(units, dtype=F64), torch.zeros(out, units, dtype=F64),
              torch.zeros(out, dtype=F64)]
    grads = [torch.zeros_like(p) for p in params]
    hyper = [0.01, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    return [torch.zeros(5, 6, D, dtype=F64), torch.zeros(5, out, dtype=F64), spec, params,
            grads, [], [], [], hyper]


TRAIN_FAULTS = {
    "x features": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 7, dtype=F64)), "x has shape"),
    "x too few features": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 1, dtype=F64)),
                           "x has shape"),
    "x rank": (lambda a: a.__setitem__(0, torch.zeros(5, 6, dtype=F64)), "x must have 3"),
    "x dtype": (lambda a: a.__setitem__(0, torch.zeros(5, 6, 3, dtype=torch.int64)),
                "x must be float32 or float64"),
    "x empty": (lambda a: a.__setitem__(0, torch.zeros(0, 6, 3, dtype=F64)),
                "x must have samples"),
    "y count": (lambda a: a.__setitem__(1, torch.zeros(4, 1, dtype=F64)), "y must be"),
    "y dtype": (lambda a: a.__setitem__(1, torch.zeros(5, 1)), "y must be"),
    "weight shape": (lambda a: a[3].__setitem__(1, torch.zeros(4, 5, dtype=F64)), "parameter"),
    "grad shape": (lambda a: a[4].__setitem__(0, torch.zeros(4, 2, dtype=F64)), "gradient"),
    "param count": (lambda a: a[3].pop(), "spec wants 5 parameters"),
    "spec length": (lambda a: a[2].pop(), "5 codes a layer"),
    "chained sizes": (lambda a: a[2].__setitem__(6, 9), "takes 9 inputs"),
    "activation code": (lambda a: a[2].__setitem__(3, 7), "invalid codes"),
    "layer kind": (lambda a: a[2].__setitem__(0, 9), "invalid codes"),
    "hyper length": (lambda a: a[8].pop(), "hyper must hold 9"),
    "loss code": (lambda a: a[8].__setitem__(8, 6.0), "unknown loss code"),
    "adam without state": (lambda a: a[8].__setitem__(7, 1.0), "Adam moments"),
}


def test_train_step_runs_on_valid_arguments(K):
    K.train_step(*_train_args())


@pytest.mark.parametrize("fault", list(TRAIN_FAULTS))
def test_train_step_refuses(K, fault):
    args = _train_args()
    mutate, message = TRAIN_FAULTS[fault]
    mutate(args)
    with pytest.raises(RuntimeError, match="train_step: .*" + message):
        K.train_step(*args)


def _update_args():
    """apply_update's arguments for _train_args' model: params, grads, Adam state, hyper."""
    a = _train_args()
    return [a[3], a[4], [], [], [], a[8]]


UPDATE_FAULTS = {
    "grad shape": (lambda a: a[1].__setitem__(0, torch.zeros(4, 2, dtype=F64)), "gradient"),
    "grad dtype": (lambda a: a[1].__setitem__(0, torch.zeros(4, 3)), "gradient"),
    "grad count": (lambda a: a[1].pop(), "5 parameters and 4 gradients"),
    "no parameters": (lambda a: (a[0].clear(), a[1].clear()), "0 parameters"),
    "hyper length": (lambda a: a[5].pop(), "hyper must hold 9"),
    "adam without state": (lambda a: a[5].__setitem__(7, 1.0), "Adam state for 0"),
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
    whole[8][6] = split[8][6] = 0.5                        # clip by norm
    K.train_step(*whole)
    _, loss, _ = K.train_step(*split[:8], [*split[8], 1.0])
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
