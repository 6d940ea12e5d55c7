"""Pooling over time: (B, T, D) -> (B, D), over the real steps only (Keras'
GlobalMaxPooling1D / GlobalAveragePooling1D, with the mask honoured).

Why a mask matters here: a recurrent layer outputs zeros at padded steps, so an unmasked
max would return 0 for a feature whose real values are all negative, and an unmasked mean
would shrink towards 0 as the padding grows -- the same review would score differently
alone and inside a padded batch.  Both layers take the mask that ``Sequential`` carries
from an ``Embedding(mask_zero=True)`` or ``Masking`` layer, or ``mask=``/``lengths=``.

A row with no real step at all pools to zeros (there is nothing to take a max or mean of).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import resolve_mask
from ..registry import register_serializable

__all__ = ["GlobalMaxPool1D", "GlobalAveragePool1D"]


class _PoolOverTime(nn.Module):
    takes_mask = True          # Sequential passes its mask to forward()

    def _checked(self, x: Any, mask: Any, lengths: Any) -> torch.Tensor | None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or not x.is_floating_point():
            got = (f"shape {tuple(x.shape)} {x.dtype}" if isinstance(x, torch.Tensor)
                   else type(x).__name__)
            raise ValueError(f"{type(self).__name__} expects a float tensor (B, T, D), got "
                             f"{got}")
        if mask is None and lengths is None:
            return None
        mask, _, _ = resolve_mask(mask, lengths, x.shape[0], x.shape[1], x.device)
        return mask

    def compute_mask(self, x: Any, mask: torch.Tensor | None = None):
        return None                                   # the time axis is gone

    def get_config(self) -> dict[str, Any]:
        return {}


@register_serializable
class GlobalMaxPool1D(_PoolOverTime):
    """(B, T, D) -> (B, D): each feature's largest value over the real steps.

    Call: ``layer(x, mask=None, lengths=None)``; mask (B, T) bool, True at real steps.

    Example:
        >>> x = torch.tensor([[[-1.0], [-3.0], [0.0]]])     # the last step is padding
        >>> GlobalMaxPool1D()(x, mask=torch.tensor([[True, True, False]])).tolist()
        [[-1.0]]
    """

    def forward(self, x: torch.Tensor, mask: Any = None, lengths: Any = None) -> torch.Tensor:
        mask = self._checked(x, mask, lengths)
        if mask is None:
            return x.amax(1)
        m = mask.unsqueeze(-1)                                  # (B, T) -> (B, T, 1)
        # -inf at padding never wins a max; rows without a real step give 0, not -inf
        pooled = x.masked_fill(~m, float("-inf")).amax(1)
        return torch.where(m.any(1), pooled, torch.zeros_like(pooled))


@register_serializable
class GlobalAveragePool1D(_PoolOverTime):
    """(B, T, D) -> (B, D): each feature's mean over the real steps.

    Call: ``layer(x, mask=None, lengths=None)``; mask (B, T) bool, True at real steps.

    Example:
        >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])     # the last step is padding
        >>> GlobalAveragePool1D()(x, lengths=torch.tensor([2])).tolist()
        [[2.0]]
    """

    def forward(self, x: torch.Tensor, mask: Any = None, lengths: Any = None) -> torch.Tensor:
        mask = self._checked(x, mask, lengths)
        if mask is None:
            return x.mean(1)
        m = mask.unsqueeze(-1).to(x.dtype)                      # (B, T) -> (B, T, 1)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)
