"""The cell that docs/adding-a-cell.md adds, PeepholeLSTMCell, through every anchor: the
contract suite, the rnnkit engine against the readable loop, and the NumPy reference
(gradcheck of its hand-written BPTT, and agreement with autograd through the cell)."""

import numpy as np
import pytest
import torch

import rnnkit as rk
from rnnkit import reference as ref
from rnnkit.cells import LSTMCell, PeepholeLSTMCell

from ..contract import test_contract as contract

MASK = torch.tensor([[1] * 6, [1, 1, 1, 0, 0, 0], [0, 1, 1, 0, 1, 1], [0] * 6], dtype=torch.bool)


@pytest.fixture
def in_the_contract_suite(monkeypatch):
    """The contract suite's own tables, with the new cell and its layers added."""
    D, H = contract.D, contract.H
    monkeypatch.setitem(contract.CELLS, "PeepholeLSTMCell", lambda: PeepholeLSTMCell(D, H))
    for name, kw in (("RNN(PeepholeLSTMCell)", {}),
                     ("RNN(PeepholeLSTMCell)-dropout", {"dropout": 0.2, "recurrent_dropout": 0.2}),
                     ("RNN(PeepholeLSTMCell)-loop", {"engine": "loop"})):
        monkeypatch.setitem(contract.LAYERS, name, lambda kw=kw: rk.RNN(
            PeepholeLSTMCell(D, H), return_sequences=True, **kw))


def test_passes_the_cell_contract(in_the_contract_suite):
    contract.test_cell_contract("PeepholeLSTMCell")


@pytest.mark.parametrize("name", ["RNN(PeepholeLSTMCell)", "RNN(PeepholeLSTMCell)-dropout",
                                  "RNN(PeepholeLSTMCell)-loop"])
def test_passes_the_layer_contract(in_the_contract_suite, name):
    contract.test_layer_contract(name)


def test_torch_compile_smoke(in_the_contract_suite):
    contract.test_torch_compile_smoke("RNN(PeepholeLSTMCell)")


def _random_cell(dtype=torch.float64, H=5):
    torch.manual_seed(0)
    cell = PeepholeLSTMCell(3, H).to(dtype)
    with torch.no_grad():
        for p in cell.parameters():
            p.uniform_(-0.5, 0.5)
    return cell


def _run(engine, cell, x, state, mask, rec):
    """Outputs, final state and every gradient, through the layer with ``engine``."""
    layer = rk.RNN(cell, return_sequences=True, return_state=True, engine=engine,
                   recurrent_dropout=0.3 if rec else 0.0)
    torch.manual_seed(7)                                  # the same dropout mask q
    y, h, c = layer(x, initial_state=state, mask=mask)
    assert layer.engine_choice.kind == engine
    loss = sum((t * torch.sin(torch.arange(t.numel(), dtype=t.dtype) * (k + 1.3)).view_as(t))
               .sum() for k, t in enumerate((y, h, c)))
    return [y, h, c, *torch.autograd.grad(loss, [x, *state, *cell.parameters()])]


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("rec", [False, True])
@pytest.mark.parametrize("dtype, tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_rnnkit_engine_equals_the_loop(masked, rec, dtype, tol):
    cell = _random_cell(dtype)
    x = torch.randn(4, 6, 3, dtype=dtype, requires_grad=True)
    state = rk.LSTMState(*(torch.randn(4, 5, dtype=dtype, requires_grad=True) for _ in "hc"))
    mask = MASK if masked else None
    fast, slow = (_run(e, cell, x, state, mask, rec) for e in ("rnnkit", "loop"))
    for a, b in zip(fast, slow):
        torch.testing.assert_close(a, b, atol=tol, rtol=0)


def test_auto_picks_rnnkit_and_says_why():
    layer = rk.RNN(PeepholeLSTMCell(3, 4))
    layer(torch.randn(2, 5, 3))
    kind, reason = layer.engine_choice
    assert kind == "rnnkit" and "PeepholeLSTMCell has no torch kernel" in reason


def test_zero_peepholes_are_an_lstm():
    """Golden: a new cell (peepholes at zero) computes LSTMCell's values; a peephole counts."""
    torch.manual_seed(0)
    peep, lstm = PeepholeLSTMCell(3, 4), LSTMCell(3, 4)
    lstm.load_state_dict({k: v for k, v in peep.state_dict().items() if "weight_c" not in k})
    x = torch.randn(2, 6, 3)
    torch.testing.assert_close(rk.RNN(peep, engine="loop")(x), rk.RNN(lstm, engine="loop")(x),
                               atol=0, rtol=0)
    with torch.no_grad():
        peep.weight_co.fill_(0.5)
    assert not torch.allclose(rk.RNN(peep)(x), rk.RNN(lstm)(x))


# ---------------------------------------------------------------- the NumPy reference
CELL = ref.Cell("peephole")


def _data(per_step, T=6):
    rng = np.random.default_rng(0)
    return rng.normal(size=(2, T, 2)), rng.normal(size=(2, T, 1) if per_step else (2, 1))


@pytest.mark.parametrize("per_step", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_reference_gradcheck(per_step, masked):
    params = ref.init_params(CELL, 2, 3, K=1, seed=1)
    x, y = _data(per_step)
    mask = np.array([[1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1]], bool) if masked else None
    errors = ref.gradcheck(lambda p: ref.loss_and_grads(CELL, p, x, y, mask=mask), params)
    assert max(errors.values()) < 1e-6, errors


def test_reference_truncated_bptt_gradcheck():
    """truncate=3 equals the true gradient of a loss whose chunks start from detached states."""
    params = ref.init_params(CELL, 2, 3, K=1, seed=2)
    frozen = {k: v.copy() for k, v in params.items()}
    x, y = _data(True, T=7)
    _, grads, _ = ref.loss_and_grads(CELL, params, x, y, truncate=3)

    def chunked(p):
        state, loss = None, 0.0
        for t in range(0, 7, 3):
            c = slice(t, t + 3)
            loss += ref.loss_and_grads(CELL, p, x[:, c], y[:, c], state=state)[0] * (
                x[:, c].shape[1] / 7)
            _, state, _ = ref.forward(CELL, frozen, x[:, c], state)
        return loss, grads
    errors = ref.gradcheck(chunked, params)
    assert max(errors.values()) < 1e-6, errors


@pytest.mark.parametrize("engine", ["loop", "rnnkit"])
def test_reference_bptt_equals_autograd_through_the_cell(engine):
    cell = _random_cell(H=3)
    spec, params = ref.from_layer(cell)
    assert spec == CELL
    rng = np.random.default_rng(3)
    x, d_out = rng.normal(size=(2, 6, 3)), rng.normal(size=(2, 6, 3))
    outputs, final, caches = ref.forward(spec, params, x)
    dx, _, grads, _ = ref.backward(spec, caches, d_out)
    xt = torch.tensor(x, requires_grad=True)
    y = rk.RNN(cell, return_sequences=True, engine=engine)(xt)
    (y * torch.tensor(d_out)).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), outputs, atol=1e-12, rtol=0)
    np.testing.assert_allclose(xt.grad.numpy(), dx, atol=1e-10, rtol=0)
    for name, p in cell.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), grads[name], atol=1e-10, rtol=0,
                                   err_msg=name)


def test_saves_and_loads(tmp_path):
    model = rk.Sequential([rk.RNN(_random_cell(torch.float32, H=4)), rk.Dense(1, input_size=4)])
    x = torch.randn(2, 5, 3)
    rk.save(model, tmp_path / "m")
    torch.testing.assert_close(rk.load(tmp_path / "m")(x), model(x), atol=0, rtol=0)
