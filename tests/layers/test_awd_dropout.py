"""AWD-LSTM's two dropouts as layer options (Merity et al., 2018): ``weight_dropout`` on every
recurrent layer (DropConnect on ``weight_hh``, one mask per call, any engine) and
``Embedding(dropout=...)`` (whole words, one draw per call)."""

import copy

import pytest
import torch
from torch import nn

import rnnkit as rk

# every (layer, engine) pair that can run a plain right-padded batch
PAIRS = [(cls, engine) for cls in (rk.SimpleRNN, rk.LSTM, rk.GRU, rk.LayerNormLSTM)
         for engine in ("loop", "torch", "rnnkit")
         if not (cls is rk.LayerNormLSTM and engine == "torch")]


def _layer(cls, engine, rate=0.5, **kw):
    torch.manual_seed(0)
    return cls(6, input_size=3, engine=engine, weight_dropout=rate, return_sequences=True,
               **kw).double()


@pytest.mark.parametrize("cls, engine", PAIRS, ids=lambda v: getattr(v, "__name__", v))
def test_weight_dropout_runs_the_engine_on_the_masked_matrix_and_grads_reach_the_parameter(
        cls, engine):
    layer = _layer(cls, engine)
    w = layer.cell.weight_hh
    before = w.detach().clone()
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    torch.manual_seed(7)
    out = layer(x)
    assert layer.engine_choice.kind == engine
    torch.manual_seed(7)                  # the same draw: one (G·H, H) mask for the whole call
    mask = torch.bernoulli(torch.full_like(w, 0.5)) / 0.5
    # the reference: the same layer in eval with the masked matrix as its Parameter
    ref = copy.deepcopy(layer).eval()
    ref.cell.weight_hh = nn.Parameter(before * mask)
    out_ref = ref(x)
    torch.testing.assert_close(out, out_ref, atol=1e-10, rtol=0)
    (out ** 2).sum().backward()
    (out_ref ** 2).sum().backward()
    assert layer.cell.weight_hh is w and isinstance(w, nn.Parameter)   # put back after the call
    assert torch.equal(w.detach(), before)                             # never changed
    torch.testing.assert_close(w.grad, ref.cell.weight_hh.grad * mask, atol=1e-10, rtol=0)
    assert bool((w.grad[mask == 0] == 0).all()) and bool((w.grad[mask != 0] != 0).any())


@pytest.mark.parametrize("cls, engine", PAIRS, ids=lambda v: getattr(v, "__name__", v))
def test_weight_dropout_is_off_in_eval_and_draws_a_new_mask_each_training_call(cls, engine):
    layer = _layer(cls, engine)
    plain = _layer(cls, engine, rate=0.0)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(4, 5, 3, dtype=torch.float64)
    layer.eval()
    torch.testing.assert_close(layer(x), plain(x), atol=1e-12, rtol=0)   # deterministic
    torch.testing.assert_close(layer(x), layer(x), atol=0, rtol=0)
    layer.train()
    a, b = layer(x), layer(x)
    assert not torch.allclose(a, b) and not torch.allclose(a, plain(x))


def test_weight_dropout_is_one_mask_for_every_sequence_of_the_batch():
    layer = _layer(rk.GRU, "loop")
    x = torch.randn(1, 5, 3, dtype=torch.float64).expand(3, 5, 3)      # three equal rows
    out = layer(x)
    torch.testing.assert_close(out[0], out[1], atol=1e-12, rtol=0)     # BLAS rounding only
    torch.testing.assert_close(out[0], out[2], atol=1e-12, rtol=0)


def test_weight_dropout_trains_through_fit_and_reaches_both_directions():
    torch.manual_seed(0)
    bi = rk.Bidirectional(rk.GRU(4, input_size=3, weight_dropout=0.3))
    assert bi.backward_layer.weight_dropout == 0.3
    model = rk.Sequential([bi, rk.Dense(1, input_size=8)])
    x, y = torch.randn(32, 5, 3), torch.randn(32, 1)
    w0 = bi.forward_layer.cell.weight_hh.detach().clone()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not torch.equal(bi.forward_layer.cell.weight_hh.detach(), w0)   # it learned
    assert isinstance(bi.backward_layer.cell.weight_hh, nn.Parameter)


@pytest.mark.parametrize("rate", [1.0, -0.1, 1.5, "0.5", True, None])
def test_bad_rates_are_refused_by_name(rate):
    with pytest.raises(ValueError, match=r"weight_dropout must be a number in \[0, 1\)"):
        rk.GRU(4, weight_dropout=rate)
    with pytest.raises(ValueError, match=r"dropout must be a number in \[0, 1\)"):
        rk.Embedding(10, 4, dropout=rate)


def test_weight_dropout_needs_a_recurrent_matrix():
    class Counter(nn.Module):             # a cell with state but no weight_hh
        state_size = 2

        def forward(self, x, h):
            h = h + x[:, :2]
            return h, h

    with pytest.raises(ValueError, match="weight_dropout needs a cell with a recurrent "
                                         "matrix weight_hh"):
        rk.RNN(Counter(), weight_dropout=0.2)
    rk.RNN(Counter())                     # without the option it runs as before


def test_save_and_load_keep_both_dropouts(tmp_path):
    torch.manual_seed(0)
    model = rk.Sequential([rk.Embedding(20, 4, mask_zero=True, dropout=0.1),
                           rk.Bidirectional(rk.LSTM(5, input_size=4, weight_dropout=0.4)),
                           rk.Dense(1, input_size=10)])
    rk.save(model, tmp_path / "m")
    back = rk.load(tmp_path / "m")
    assert back.layers[0].dropout == 0.1 and back.layers[0].get_config()["dropout"] == 0.1
    assert back.layers[1].forward_layer.weight_dropout == 0.4
    assert back.layers[1].backward_layer.weight_dropout == 0.4
    ids = torch.tensor([[3, 4, 5, 0], [7, 1, 0, 0]])
    model.eval(), back.eval()
    torch.testing.assert_close(back(ids), model(ids), atol=0, rtol=0)


def test_embedding_dropout_drops_whole_words_in_training_only():
    torch.manual_seed(0)
    emb = rk.Embedding(10, 3, dropout=0.5)
    ids = torch.tensor([[2, 3, 2, 3, 4, 5, 4, 5]] * 4)
    plain = torch.nn.functional.embedding(ids, emb.weight).detach()
    emb.eval()
    torch.testing.assert_close(emb(ids), plain, atol=0, rtol=0)         # off in eval
    emb.train()
    dropped = emb(ids)
    ratio = (dropped / plain).detach()                                  # 0 or 2, all of E
    assert set(torch.unique(ratio.round(decimals=6)).tolist()) <= {0.0, 2.0}
    for token in (2, 3, 4, 5):            # one draw per word: every place and feature alike
        assert torch.unique(ratio[ids == token].round(decimals=6)).numel() == 1
    draws = {tuple(emb(ids)[0, :, 0].ne(0).tolist()) for _ in range(10)}
    assert len(draws) > 1                 # a new draw each call


def test_embedding_dropout_gradients_reach_the_kept_rows_only():
    torch.manual_seed(3)
    emb = rk.Embedding(12, 3, dropout=0.5)
    ids = torch.arange(1, 12).reshape(1, 11)
    out = emb(ids)
    out.sum().backward()
    kept = out[0, :, 0].ne(0)
    grad = emb.weight.grad[1:]                                          # rows of ids 1..11
    torch.testing.assert_close(grad[kept], torch.full_like(grad[kept], 2.0))
    assert bool((grad[~kept] == 0).all()) and 0 < int(kept.sum()) < 11
    assert bool((emb.weight.grad[0] == 0).all())                        # id 0 never read


def test_the_cpp_training_step_refuses_weight_drop_rather_than_ignore_it():
    x, y = torch.randn(16, 6, 2), torch.randn(16, 1)
    model = rk.Sequential([rk.GRU(4, weight_dropout=0.5), rk.Dense(1)])
    model.fit(x, y, epochs=1, verbose=0)                       # auto: autograd, and why
    kind, reason = model._trainer.step_choice
    assert kind == "autograd" and "weight_dropout=0.5" in reason
    with pytest.raises(ValueError, match="step='cpp' cannot train this model: .*weight_dropout"):
        rk.Sequential([rk.GRU(4, weight_dropout=0.5), rk.Dense(1)]).fit(
            x, y, epochs=1, verbose=0, step="cpp")


def test_the_cpp_training_step_takes_layers_that_ask_for_rnnkits_engine():
    model = rk.Sequential([rk.GRU(4, engine="rnnkit"), rk.Dense(1)])
    model.fit(torch.randn(16, 6, 2), torch.randn(16, 1), epochs=1, verbose=0)
    assert model._trainer.step_choice.kind == "cpp"
