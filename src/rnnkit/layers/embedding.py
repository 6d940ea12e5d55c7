"""Token ids (B, T) -> vectors (B, T, E), with an optional padding mask for the next layers."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import MAX_VOCAB, check_flag, check_rate, check_units
from ..registry import register_serializable

__all__ = ["Embedding"]


@register_serializable
class Embedding(nn.Module):
    """A lookup table of V vectors of size E (Keras ``Embedding``; weights uniform ±0.05).

    Args:
        input_dim: V, the vocabulary size; ids must lie in [0, V).
        output_dim: E.
        mask_zero: id 0 is padding: ``compute_mask`` gives ``ids != 0`` and, inside
            ``Sequential``, the following layers skip those steps.
        dropout: share of the vocabulary dropped while training: each call zeroes every
            occurrence of a random ``dropout`` share of the V words and scales the rest by
            1/(1 - dropout), AWD-LSTM's embedding dropout (Merity et al., 2018, section
            4.3).  Off in eval.

    Shapes: ids (B, T) integer -> (B, T, E).  Parameters: weight (V, E).

    Example:
        >>> emb = Embedding(66, 256, mask_zero=True)
        >>> ids = torch.tensor([[5, 9, 0]])
        >>> tuple(emb(ids).shape), emb.compute_mask(ids).tolist(), emb.weight.numel()
        ((1, 3, 256), [[True, True, False]], 16896)
    """

    def __init__(self, input_dim: int, output_dim: int, mask_zero: bool = False,
                 dropout: float = 0.0):
        super().__init__()
        self.input_dim = check_units("input_dim", input_dim, MAX_VOCAB)
        self.output_dim = check_units("output_dim", output_dim)
        self.mask_zero = check_flag("mask_zero", mask_zero)
        self.dropout = check_rate("dropout", dropout)
        self.weight = nn.Parameter(torch.empty(input_dim, output_dim))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weight, -0.05, 0.05)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        if not isinstance(ids, torch.Tensor) or ids.dtype.is_floating_point \
                or ids.dtype == torch.bool:
            got = ids.dtype if isinstance(ids, torch.Tensor) else type(ids).__name__
            raise TypeError(f"Embedding expects integer token ids, got {got}")
        if ids.dtype in (torch.uint8, torch.int8, torch.int16):
            ids = ids.long()              # torch's lookup takes int32/int64 only
        if ids.dim() != 2:
            raise ValueError(f"Embedding expects token ids of shape (B, T), got shape "
                             f"{tuple(ids.shape)}")
        if ids.numel() == 0:
            raise ValueError("Embedding got an empty batch")
        lo, hi = int(ids.min()), int(ids.max())
        if lo < 0 or hi >= self.input_dim:
            bad = lo if lo < 0 else hi
            raise ValueError(f"token id {bad} is out of range for Embedding(input_dim="
                             f"{self.input_dim}): ids must lie in [0, {self.input_dim - 1}]")
        out = F.embedding(ids, self.weight)
        if self.training and self.dropout:                 # one draw per word, not per place
            keep = torch.bernoulli(out.new_full((self.input_dim,), 1.0 - self.dropout))
            scale = (keep / (1.0 - self.dropout))[ids].unsqueeze(-1)   # (V,)[ids] -> (B, T, 1)
            out = out * scale
        return out

    def compute_mask(self, ids: torch.Tensor, mask: torch.Tensor | None = None):
        return ids != 0 if self.mask_zero else mask

    def get_config(self) -> dict[str, Any]:
        return {"input_dim": self.input_dim, "output_dim": self.output_dim,
                "mask_zero": self.mask_zero, "dropout": self.dropout}

    def extra_repr(self) -> str:
        return f"{self.input_dim}, {self.output_dim}, mask_zero={self.mask_zero}"
