"""GlobalMaxPool1D / GlobalAveragePool1D: padding never reaches the pooled vector."""

import pytest
import torch

import rnnkit as rk
from rnnkit.layers import GlobalAveragePool1D, GlobalMaxPool1D
from rnnkit.registry import deserialize, serialize

POOLS = [GlobalMaxPool1D, GlobalAveragePool1D]


@pytest.mark.parametrize("pool", POOLS)
def test_padded_sequence_pools_like_the_unpadded_one(pool):
    torch.manual_seed(0)
    x = -torch.rand(1, 4, 3) - 1.0                 # all negative: a zero pad would win a max
    padded = torch.cat([x, torch.zeros(1, 3, 3)], 1)
    mask = torch.tensor([[True] * 4 + [False] * 3])
    alone = pool()(x)
    torch.testing.assert_close(pool()(padded, mask=mask), alone, rtol=0, atol=0)
    torch.testing.assert_close(pool()(padded, lengths=torch.tensor([4])), alone, rtol=0, atol=0)
    assert not torch.allclose(pool()(padded), alone)   # without the mask the padding leaks


@pytest.mark.parametrize("pool", POOLS)
def test_inside_sequential_the_embedding_mask_reaches_the_pooling(pool):
    torch.manual_seed(0)
    model = rk.Sequential([rk.Embedding(20, 4, mask_zero=True),
                           rk.Bidirectional(rk.GRU(5, return_sequences=True)), pool(),
                           rk.Dense(1)]).eval()
    one = torch.tensor([[3, 7, 9]])
    batch = torch.tensor([[3, 7, 9, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    torch.testing.assert_close(model(batch)[:1], model(one), rtol=0, atol=1e-6)


def test_values_by_hand_and_a_row_without_real_steps():
    x = torch.tensor([[[1.0, -2.0], [3.0, -4.0], [9.0, 9.0]],
                      [[5.0, 5.0], [6.0, 6.0], [7.0, 7.0]]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    assert GlobalMaxPool1D()(x, mask=mask).tolist() == [[3.0, -2.0], [0.0, 0.0]]
    assert GlobalAveragePool1D()(x, mask=mask).tolist() == [[2.0, -3.0], [0.0, 0.0]]


@pytest.mark.parametrize("pool", POOLS)
def test_gradient_reaches_only_real_steps_and_config_round_trips(pool):
    x = torch.randn(2, 5, 3, requires_grad=True)
    lengths = torch.tensor([5, 2])
    pool()(x, lengths=lengths).sum().backward()
    assert x.grad[1, 2:].abs().sum() == 0 and x.grad[1, :2].abs().sum() > 0
    assert isinstance(deserialize(serialize(pool())), pool)


@pytest.mark.parametrize("pool", POOLS)
def test_bad_input_is_named(pool):
    with pytest.raises(ValueError, match=f"{pool.__name__} expects a float tensor"):
        pool()(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="mask must have shape"):
        pool()(torch.zeros(2, 3, 4), mask=torch.ones(2, 4, dtype=torch.bool))


def test_summary_of_a_model_with_pooling_layers():
    for pool in (rk.GlobalMaxPool1D(), rk.GlobalAveragePool1D(), rk.MeanOverTime()):
        model = rk.Sequential([rk.Embedding(20, 4, mask_zero=True),
                               rk.GRU(3, return_sequences=True), pool, rk.Dense(1)])
        model(torch.randint(1, 20, (2, 5)))
        text = model.summary(print_fn=lambda *_: None)
        assert type(pool).__name__ in text and "GRU" in text
