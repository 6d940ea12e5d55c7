"""Shared test helpers: rnnkit weights copied into torch.nn modules (parity tests), and a
synthetic airline-like series (forecasting tests)."""

import torch
from torch import nn

from rnnkit.cells import GRUCell, LSTMCell, SimpleRNNCell

KINDS = {LSTMCell: nn.LSTM, GRUCell: nn.GRU, SimpleRNNCell: nn.RNN}


def torch_twin(cells, bidirectional=False):
    """An nn.LSTM/GRU/RNN holding the weights of ``cells`` (one per layer and direction,
    ordered layer by layer, forward before backward)."""
    first = cells[0]
    kwargs = {}
    if isinstance(first, SimpleRNNCell):
        kwargs["nonlinearity"] = first.activation_name
    dirs = 2 if bidirectional else 1
    module = KINDS[type(first)](first.input_size, first.hidden_size,
                                num_layers=len(cells) // dirs, batch_first=True,
                                bidirectional=bidirectional, **kwargs)
    module = module.to(first.weight_ih.dtype)
    with torch.no_grad():
        for k, cell in enumerate(cells):
            sfx = f"l{k // dirs}" + ("_reverse" if k % dirs else "")
            getattr(module, f"weight_ih_{sfx}").copy_(cell.weight_ih)
            getattr(module, f"weight_hh_{sfx}").copy_(cell.weight_hh)
            if isinstance(cell, GRUCell):
                getattr(module, f"bias_ih_{sfx}").copy_(cell.bias_ih)
                getattr(module, f"bias_hh_{sfx}").copy_(cell.bias_hh)
            else:
                getattr(module, f"bias_ih_{sfx}").copy_(cell.bias)
                getattr(module, f"bias_hh_{sfx}").zero_()
    return module


def randomize(module, scale=0.5):
    """Non-trivial weights (default init zeros the biases, hiding bias bugs)."""
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-scale, scale)
    return module


def airline_like(n=150, seed=0, noise=0.02):
    """A trending, multiplicative-seasonal (season 12), positive series, airline-like."""
    import numpy as np
    t = np.arange(n, dtype=np.float64)
    eps = np.random.default_rng(seed).normal(0, noise, n)
    return (100 + 2 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * (1 + eps)
