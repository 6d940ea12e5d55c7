"""The one boundary: data checked against the model and the loss before any training step.

``Trainer.fit``, ``evaluate`` and the validation data pass through ``check_data`` before a
step is chosen (``cpp_step.plan``), so the C++ step, rnnkit's kernels and the
readable loop all see data that the readable path has accepted:

1. ``x`` and ``y`` are tensors with no NaN or inf (``data.batching.as_tensors``, done by
   the caller over the whole of both).
2. A probe: the model runs on the first two samples with every layer's own checks on
   (feature counts, dtypes, ranks), in eval mode and without gradients; stateful layers
   keep the state they had (it is a real forward call: forward hooks see it).  All samples
   of a tensor share its shape, so a probe that passes means every batch passes the same
   checks.
3. The whole target tensor is checked against one batch of predictions (the batch axis
   aside) and the loss's range: ``loss.check_targets`` for rnnkit's losses; any other
   callable is called once on the probe and must give a finite scalar tensor.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..data.batching import num_samples, take

__all__ = ["check_data", "check_optimizer"]

PROBE = 2   # samples run through the model to learn the prediction shape


def _stateful_layers(model: nn.Module) -> list[nn.Module]:
    from ..layers import RNN
    return [m for m in model.modules() if isinstance(m, RNN) and m.stateful]


def probe(model: nn.Module, x: Any, name: str = "x") -> Any:
    """The model's output on the first ``PROBE`` samples, every check on, nothing changed."""
    carried = [(m, m.get_states()) for m in _stateful_layers(model)]
    for m, _ in carried:       # the probe starts from zeros, whatever batch size is carried
        m.reset_states()
    was_training = model.training
    try:
        with torch.no_grad():
            return model.eval()(take(x, slice(0, PROBE)))
    except (ValueError, TypeError) as err:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise type(err)(f"{name} {shape} does not fit the model: {err}") from None
    finally:
        model.train(was_training)
        for m, state in carried:
            m.reset_states(state)


def check_data(model: nn.Module, loss_fn: Any, x: Any, y: torch.Tensor,
               names: tuple[str, str] = ("x", "y")) -> None:
    """Raise ValueError/TypeError unless ``model(x)`` runs and ``y`` fits it and ``loss_fn``;
    messages call the two ``names``."""
    y_hat = probe(model, x, names[0])
    name = names[1]
    if not isinstance(y_hat, torch.Tensor):
        raise TypeError(f"the model returns {type(y_hat).__name__}; training needs one "
                        "prediction tensor (set return_state=False on the last layer)")
    if num_samples(y) != num_samples(x):
        raise ValueError(f"{names[0]} has {num_samples(x)} samples but {name} has "
                         f"{num_samples(y)}")
    check = getattr(loss_fn, "check_targets", None)
    if check is not None:
        loss_fn.check_predictions(y_hat)
        try:
            check(tuple(y_hat.shape), y)
        except ValueError as err:
            raise ValueError(f"{name}: {err}") from None
        return
    value = loss_fn(y_hat, take(y, slice(0, PROBE)))
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise TypeError(f"the loss {getattr(loss_fn, '__name__', loss_fn)!r} must return a "
                        f"scalar tensor, got {type(value).__name__}"
                        f"{'' if not isinstance(value, torch.Tensor) else tuple(value.shape)}")
    if not math.isfinite(float(value)):
        raise ValueError(f"the loss {getattr(loss_fn, '__name__', loss_fn)!r} is {float(value)}"
                         " on the first samples of the data, before any training")


def check_optimizer(model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """An optimizer given by the caller must update this model: one built on another
    model's parameters would "train" without changing a weight."""
    own = {id(p) for p in model.parameters()}
    held = [p for g in optimizer.param_groups for p in g["params"]]
    if not any(id(p) in own for p in held):
        raise ValueError(f"the optimizer ({type(optimizer).__name__}) holds none of this "
                         "model's parameters; build it from model.parameters()")
    foreign = sum(id(p) not in own for p in held)
    if foreign:
        raise ValueError(f"the optimizer ({type(optimizer).__name__}) holds {foreign} "
                         "parameter(s) that are not this model's")
