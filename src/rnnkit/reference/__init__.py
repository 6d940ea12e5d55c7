"""The NumPy truth: step forward/backward with caches, hand-written BPTT (truncated too),
clipping, a numeric gradient checker and written-out optimizers. NumPy only; slow by
design; the torch engines are tested against it."""

from .cells import (
                    gru_step_backward,
                    gru_step_forward,
                    lstm_step_backward,
                    lstm_step_forward,
                    peephole_step_backward,
                    peephole_step_forward,
                    simple_step_backward,
                    simple_step_forward,
)
from .optim import SGD, Adam
from .params import from_layer, init_params
from .sequence import Cell, backward, clip_grads, forward, gradcheck, loss_and_grads
from .train import fit, predict

__all__ = ["Cell", "forward", "backward", "loss_and_grads", "clip_grads", "gradcheck",
           "simple_step_forward", "simple_step_backward", "lstm_step_forward",
           "lstm_step_backward", "peephole_step_forward", "peephole_step_backward",
           "gru_step_forward", "gru_step_backward", "SGD", "Adam",
           "init_params", "from_layer", "fit", "predict"]
