"""The NumPy reference: gradcheck, and agreement with rnnkit's engines and torch.nn."""

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit import reference as ref

from ..helpers import torch_twin

CELLS = {
    "simple-tanh": ref.Cell("simple"),
    "simple-relu": ref.Cell("simple", activation="relu"),
    "simple-sigmoid": ref.Cell("simple", activation="sigmoid"),
    "simple-linear": ref.Cell("simple", activation="linear"),
    "lstm": ref.Cell("lstm"),
    "gru": ref.Cell("gru"),
    "gru-reset-before": ref.Cell("gru", reset_after=False),
}
LAYER = {"simple": rk.SimpleRNN, "lstm": rk.LSTM, "gru": rk.GRU}


def _data(per_step=False, B=2, T=6, D=2, K=1, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(B, T, D))
    y = rng.normal(size=(B, T, K) if per_step else (B, K))
    return x, y


def _layer_for(cell, params, engine="loop", **kw):
    opts = {"activation": cell.activation} if cell.kind == "simple" else (
        {"reset_after": cell.reset_after} if cell.kind == "gru" else {})
    H, D = params["weight_hh"].shape[1], params["weight_ih"].shape[1]
    layer = LAYER[cell.kind](H, input_size=D, engine=engine, **opts, **kw).double()
    with torch.no_grad():
        for name, p in layer.cell.named_parameters():
            p.copy_(torch.from_numpy(params[name]))
    return layer


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("per_step", [False, True])
def test_gradcheck_full_bptt(name, per_step):
    cell = CELLS[name]
    params = ref.init_params(cell, 2, 3, K=1, seed=1)
    x, y = _data(per_step)
    if cell.activation == "relu":
        x = x + 0.3           # keep pre-activations away from relu's kink
    errors = ref.gradcheck(lambda p: ref.loss_and_grads(cell, p, x, y), params)
    assert max(errors.values()) < 1e-6, errors


def _truncated_loss(cell, p, p_frozen, x, y, k):
    """The loss whose true gradient is truncated BPTT: every chunk starts from the state the
    frozen parameters reach there (a detached state)."""
    T = x.shape[1]
    state, loss = None, 0.0
    for t in range(0, T, k):
        chunk = slice(t, t + k)
        yc = y[:, chunk] if y.ndim == 3 else y
        scored = y.ndim == 3 or t + k >= T
        if scored:
            loss += ref.loss_and_grads(cell, p, x[:, chunk], yc, state=state)[0] * (
                (min(t + k, T) - t) / T if y.ndim == 3 else 1.0)
        _, state, _ = ref.forward(cell, p_frozen, x[:, chunk], state)
    return loss


@pytest.mark.parametrize("name", ["simple-tanh", "lstm", "gru", "gru-reset-before"])
@pytest.mark.parametrize("per_step", [False, True])
def test_gradcheck_truncated_bptt(name, per_step):
    cell = CELLS[name]
    params = ref.init_params(cell, 2, 3, K=1, seed=2)
    frozen = {k: v.copy() for k, v in params.items()}
    x, y = _data(per_step, T=7)
    _, grads, _ = ref.loss_and_grads(cell, params, x, y, truncate=3)
    errors = ref.gradcheck(lambda p: (_truncated_loss(cell, p, frozen, x, y, 3), grads), params)
    assert max(errors.values()) < 1e-6, errors
    _, full, _ = ref.loss_and_grads(cell, params, x, y)
    assert not np.allclose(full["weight_hh"], grads["weight_hh"])   # truncation did something


@pytest.mark.parametrize("name", CELLS)
@pytest.mark.parametrize("engine", ["loop", "torch"])
@pytest.mark.parametrize("truncate", [None, 2])
@pytest.mark.parametrize("masked", [False, True])
def test_bptt_equals_torch_autograd_through_rnnkit(name, engine, truncate, masked):
    cell = CELLS[name]
    native_ok = cell.kind == "lstm" or (cell.kind == "gru" and cell.reset_after) or (
        cell.kind == "simple" and cell.activation in ("tanh", "relu"))
    if engine == "torch" and not native_ok:
        engine = "loop"        # no torch kernel for this cell: the loop engine is its engine
    params = ref.init_params(cell, 2, 3, K=1, seed=3)
    x, y = _data(T=6, B=3)
    mask = np.array([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], bool) if masked else None
    loss_ref, grads_ref, _ = ref.loss_and_grads(cell, params, x, y, mask=mask, truncate=truncate)

    layer = _layer_for(cell, params, engine, return_state=True, stateful=truncate is not None)
    head = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        head.weight.copy_(torch.from_numpy(params["head.weight"]))
        head.bias.copy_(torch.from_numpy(params["head.bias"]))
    xt = torch.from_numpy(x)
    lengths = torch.from_numpy(mask.sum(1)) if masked else None
    if truncate is None:
        h = layer(xt, lengths=lengths)[1]
    else:     # stateful chunks: the state is detached between calls
        for t in range(0, 6, truncate):
            m = None if mask is None else torch.from_numpy(mask[:, t:t + truncate])
            h = layer(xt[:, t:t + truncate], mask=m)[1]
    assert layer.engine_choice.kind == engine
    loss = torch.nn.functional.mse_loss(head(h), torch.from_numpy(y))
    loss.backward()
    assert abs(loss.item() - loss_ref) < 1e-10
    for pname, p in list(layer.cell.named_parameters()) + [("head.weight", head.weight),
                                                           ("head.bias", head.bias)]:
        np.testing.assert_allclose(p.grad.numpy(), grads_ref[pname], atol=1e-8, rtol=0,
                                   err_msg=pname)


@pytest.mark.parametrize("name", CELLS)
def test_forward_equals_rnnkit_cells_and_torch_nn(name):
    cell = CELLS[name]
    params = ref.init_params(cell, 2, 4, seed=4)
    x, _ = _data(T=5)
    outputs, final, _ = ref.forward(cell, params, x)
    layer = _layer_for(cell, params, return_sequences=True)
    np.testing.assert_allclose(layer(torch.from_numpy(x)).detach().numpy(), outputs, atol=1e-12)
    native_ok = cell.kind == "lstm" or (cell.kind == "gru" and cell.reset_after) or (
        cell.kind == "simple" and cell.activation in ("tanh", "relu"))
    if native_ok:
        out_torch, _ = torch_twin([layer.cell])(torch.from_numpy(x))
        np.testing.assert_allclose(out_torch.detach().numpy(), outputs, atol=1e-12)


def test_tutorial_hand_computation_to_the_printed_digits():
    """h1 = x1 wx + bh, h2 = x2 wx + h1 wh + bh, ... with the tutorial's Keras weights."""
    wx = np.array([[0.18662322, -1.2369459]])
    wh = np.array([[0.86981213, -0.49338293], [0.49338293, 0.8698122]])
    wy = np.array([[-0.4635998], [0.6538409]])
    params = {"weight_ih": wx.T, "weight_hh": wh.T, "bias": np.zeros(2),
              "head.weight": wy.T, "head.bias": np.zeros(1)}
    cell = ref.Cell("simple", activation="linear")
    outputs, h3, _ = ref.forward(cell, params, np.array([[[1.0], [2.0], [3.0]]]))
    h1 = 1.0 * wx
    h2 = 2.0 * wx + h1 @ wh
    np.testing.assert_allclose(outputs[0, :2], np.vstack([h1, h2]), atol=1e-12)
    # the tutorial printed float32 results: agreement to float32 resolution (1 ulp at 6.8)
    ulp = float(np.spacing(np.float32(6.84)))
    np.testing.assert_allclose(h3, [[-1.30195881, -6.84172557]], atol=ulp, rtol=0)
    assert abs(float((h3 @ wy)[0, 0]) - (-3.86981216)) < ulp


def test_clip_value_and_norm():
    grads = {"a": np.array([3.0, -4.0]), "b": np.array([12.0])}
    clipped, norm = ref.clip_grads(grads, clip_value=5.0)
    assert clipped["b"].tolist() == [5.0] and norm == pytest.approx(np.sqrt(50))
    clipped, norm = ref.clip_grads(grads, clip_norm=1.0)
    assert norm == pytest.approx(13.0)
    assert np.sqrt(sum((g ** 2).sum() for g in clipped.values())) == pytest.approx(1.0)


def test_written_out_optimizers_match_torch():
    for ours, theirs in [(ref.SGD(lr=0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
                         (ref.Adam(lr=0.01), lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-7))]:
        w = {"w": np.array([1.0, -2.0, 3.0])}
        wt = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
        opt = theirs([wt])
        for step in range(5):
            g = np.array([0.5, -1.0, 2.0]) * (step + 1)
            ours.step(w, {"w": g})
            wt.grad = torch.from_numpy(g.copy())
            opt.step()
        np.testing.assert_allclose(w["w"], wt.detach().numpy(), atol=1e-12)


def test_reference_never_imports_torch():
    import ast
    from pathlib import Path
    for path in Path(ref.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n.split(".")[0] == "torch" for n in names), path.name
