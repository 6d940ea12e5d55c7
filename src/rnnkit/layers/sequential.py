"""LayerStack: layers in order, the padding mask carried from layer to layer, and summary().

Mask flow: a layer with ``compute_mask(x, mask)`` decides the mask after it (Embedding
with ``mask_zero`` creates one, an RNN with ``return_sequences=False`` ends it); any other
module keeps the mask while its output keeps the (B, T) leading axes.

Layers know no training: ``rnnkit.Sequential`` (``rnnkit/model.py``, above both layers and
training) is this stack plus ``fit``/``evaluate``/``predict``/``save``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .._checks import resolve_mask
from ..registry import deserialize, serialize
from ..types import tree_first
from .bidirectional import Bidirectional
from .embedding import Embedding
from .recurrent import RNN

__all__ = ["LayerStack"]


def _takes_mask(layer: nn.Module) -> bool:
    return isinstance(layer, (RNN, Bidirectional)) or getattr(layer, "takes_mask", False)


def _shape_text(y: Any) -> str:
    if isinstance(y, torch.Tensor):
        return str((None, *y.shape[1:])).replace("None,)", "None)")
    return "[" + ", ".join(_shape_text(a) for a in y) + "]"


class LayerStack(nn.Module):
    """A stack of layers applied in order, with the padding mask carried between them.

    Call: ``model(x, mask=None, lengths=None)``; x (B, T, D) floats or (B, T) token ids.
    ``rnnkit.Sequential`` adds training and saving to it.

    Example:
        >>> from rnnkit.layers import LSTM, Dense
        >>> stack = LayerStack([LSTM(8), Dense(1, activation="tanh")])
        >>> tuple(stack(torch.zeros(4, 12, 1)).shape)
        (4, 1)
        >>> print(stack.summary(print_fn=None))   # doctest: +NORMALIZE_WHITESPACE
        LayerStack   input (None, 12, 1)
        #   layer   output shape   params   engine
        0   LSTM    (None, 8)      320      torch
        1   Dense   (None, 1)      9        -
        Total params: 329 (trainable 329)
    """

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        if isinstance(layers, nn.Module) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"{type(self).__name__} takes a list of layers, got "
                            f"{type(layers).__name__} (write {type(self).__name__}([layer, ...]))")
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer, got an empty "
                             "list")
        layers = list(layers)
        for k, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise TypeError(f"layer {k} must be an nn.Module, got {type(layer).__name__}")
            if getattr(layer, "return_state", False):
                raise ValueError(f"layer {k} ({type(layer).__name__}) has return_state=True; "
                                 f"{type(self).__name__} passes one tensor from layer to "
                                 "layer")
        self.layers = nn.ModuleList(layers)
        self.input_shape: tuple | None = None     # (T, D) or (T,), recorded on each call

    def forward(self, x: Any, mask: Any = None, lengths: Any = None):
        if isinstance(x, torch.Tensor):
            if x.dim() < 2:
                raise ValueError(f"{type(self).__name__} expects (B, T, D) or (B, T) input, "
                                 f"got shape {tuple(x.shape)}")
            self.input_shape = tuple(x.shape[1:])
        if mask is not None or lengths is not None:
            first = tree_first(x)
            mask, _, _ = resolve_mask(mask, lengths, first.shape[0], first.shape[1], first.device)
        for layer in self.layers:
            y = layer(x, mask=mask) if _takes_mask(layer) else layer(x)
            if hasattr(layer, "compute_mask"):
                mask = layer.compute_mask(x, mask)
            elif mask is not None and not (isinstance(y, torch.Tensor) and y.dim() >= 2
                                           and y.shape[:2] == mask.shape):
                mask = None
            x = y
        return x

    # ----------------------------------------------------------------- summary
    def summary(self, input_shape: tuple | None = None, print_fn=print) -> str:
        """A table of layers, output shapes, parameter counts (equal to Keras') and engines.

        The engine column shows what runs while training on a batch of this shape, and why
        the native engine was not eligible where it was not.
        """
        if input_shape is not None and not (
                isinstance(input_shape, (tuple, list)) and 1 <= len(input_shape) <= 2
                and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1
                        for d in input_shape)):
            raise ValueError(f"input_shape must be (T, D) or (T,) of positive ints, got "
                             f"{input_shape!r}")
        if input_shape is not None and (input_shape[0] > 100_000 or
                                        (len(input_shape) > 1 and input_shape[1] > 1 << 16)):
            raise ValueError(f"input_shape {tuple(input_shape)} is too large for a summary "
                             "(T at most 100,000, D at most 65,536): it runs one sample")
        shape = tuple(input_shape) if input_shape is not None else self.input_shape
        if shape is None:
            raise ValueError("summary() needs the input shape: call the model on data first "
                             "or pass input_shape=(T, D) (or (T,) for token ids)")
        outputs: dict[int, Any] = {}
        hooks = [layer.register_forward_hook(lambda m, a, y, k=k: outputs.__setitem__(k, y))
                 for k, layer in enumerate(self.layers)]
        param = next(self.parameters(), None)
        if isinstance(self.layers[0], Embedding) or len(shape) == 1:
            dummy = torch.ones((1, *shape), dtype=torch.long)
        else:
            dummy = torch.zeros((1, *shape), dtype=param.dtype if param is not None else None)
        saved = [(m, m.get_states()) for m in self.modules() if isinstance(m, RNN)]
        was_training = self.training
        for m, _ in saved:
            m.reset_states()
        try:
            with torch.random.fork_rng(), torch.no_grad():   # no RNG drawn, no state kept
                self.train()(dummy)
        finally:
            self.train(was_training)
            for m, state in saved:
                m.reset_states(state)
            for h in hooks:
                h.remove()
        rows, notes = [], []
        for k, layer in enumerate(self.layers):
            engine = "-"
            if isinstance(layer, (RNN, Bidirectional)):   # the layers that pick an engine
                choice = layer.engine_choice
                engine = choice.kind
                if choice.kind != "torch":
                    notes.append(f"layer {k}: {choice}")
            n = sum(p.numel() for p in layer.parameters())
            rows.append((str(k), type(layer).__name__, _shape_text(outputs[k]), f"{n:,}", engine))
        head = ("#", "layer", "output shape", "params", "engine")
        widths = [max(len(r[i]) for r in [head, *rows]) + 3 for i in range(5)]
        fmt = lambda r: "".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        text = "\n".join([f"{type(self).__name__}   input {_shape_text(dummy)}", fmt(head),
                          *map(fmt, rows), f"Total params: {total:,} (trainable {trainable:,})",
                          *notes, *self._summary_notes()])
        if print_fn is not None:
            print_fn(text)
        return text

    def _summary_notes(self) -> list[str]:
        """Lines after the table; a subclass adds its own (``rnnkit.Sequential``: training)."""
        return []

    def get_config(self) -> dict[str, Any]:
        return {"layers": [serialize(layer) for layer in self.layers],
                "input_shape": list(self.input_shape) if self.input_shape else None}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> LayerStack:
        model = cls([deserialize(spec) for spec in config["layers"]])
        shape = config.get("input_shape")
        model.input_shape = tuple(shape) if shape else None
        return model
