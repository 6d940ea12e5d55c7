"""Dense (applied to the last axis, so per time step on (B, T, D)) and Dropout."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_finite, check_flag, check_rate, check_units
from ..registry import register_serializable

__all__ = ["Dense", "Dropout", "Masking", "MeanOverTime"]

DENSE_ACTIVATIONS = {
    "linear": lambda x: x,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "sigmoid": torch.sigmoid,
    "softmax": lambda x: torch.softmax(x, dim=-1),
}


@register_serializable
class Dense(nn.Module):
    """y = act(x W^T + b) on the last axis: (B, D) -> (B, units), (B, T, D) -> (B, T, units).

    Args:
        units: output features.
        activation: None/"linear", "tanh", "relu", "sigmoid" or "softmax".
        use_bias: add b.
        input_size: D; None infers it on the first call.

    Parameters: weight (units, D) glorot-uniform, bias (units,) zeros -- (D+1)·units.

    Example:
        >>> layer = Dense(66, input_size=1024)
        >>> tuple(layer(torch.zeros(2, 7, 1024)).shape), sum(p.numel() for p in layer.parameters())
        ((2, 7, 66), 67650)
    """

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 *, input_size: int | None = None):
        super().__init__()
        self.units = check_units("units", units)
        activation = activation or "linear"
        if activation not in DENSE_ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(DENSE_ACTIVATIONS)}, "
                             f"got {activation!r}")
        self.activation, self.use_bias = activation, check_flag("use_bias", use_bias)
        self.weight = self.bias = None
        if input_size is not None:
            self.build(check_units("input_size", input_size))

    @property
    def built(self) -> bool:
        return self.weight is not None

    @property
    def input_size(self) -> int | None:
        return self.weight.shape[1] if self.built else None

    def build(self, input_size: int, like: torch.Tensor | None = None) -> None:
        kw = {"device": like.device, "dtype": like.dtype} if like is not None else {}
        self.weight = nn.Parameter(torch.empty(self.units, input_size, **kw))
        self.bias = nn.Parameter(torch.zeros(self.units, **kw)) if self.use_bias else None
        nn.init.xavier_uniform_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point() or x.dim() < 1:
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"Dense expects a floating-point tensor (..., D), got {got}")
        if not self.built:
            self.build(x.shape[-1], like=x)
        if x.device.type not in ("cpu", "cuda"):
            raise TypeError(f"Dense expects a CPU or CUDA tensor, got device {x.device.type!r}")
        if x.dim() < 2:
            raise ValueError(f"Dense expects input of shape (B, D) or (B, T, D), got shape "
                             f"{tuple(x.shape)}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"Dense was built for {self.input_size} input features, "
                             f"got input of shape {tuple(x.shape)}")
        if x.dtype != self.weight.dtype:
            raise TypeError(f"Dense input dtype {x.dtype} differs from its parameters' "
                            f"{self.weight.dtype}; convert one (x.to({self.weight.dtype}) or "
                            f"model.to({x.dtype}))")
        check_finite(x, "Dense input")
        return DENSE_ACTIVATIONS[self.activation](F.linear(x, self.weight, self.bias))

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        return mask

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "activation": self.activation, "use_bias": self.use_bias,
                "input_size": self.input_size}

    def extra_repr(self) -> str:
        return f"{self.units}, activation={self.activation!r}, input_size={self.input_size}"


@register_serializable
class Dropout(nn.Dropout):
    """``torch.nn.Dropout`` that keeps the padding mask flowing in ``Sequential``."""

    def __init__(self, rate: float):
        super().__init__(check_rate("rate", rate))

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        return mask

    def get_config(self) -> dict[str, Any]:
        return {"rate": self.p}


@register_serializable
class Masking(nn.Module):
    """Mark the steps whose features all equal ``mask_value`` as padding (Keras' Masking).

    Output: the input with padded steps zeroed; the mask (B, T) flows to the next layers
    in ``Sequential``, so recurrent layers skip those steps.

    Example:
        >>> x = torch.tensor([[[1.0], [2.0], [0.0]]])
        >>> Masking(0.0).compute_mask(x).tolist()
        [[True, True, False]]
    """

    def __init__(self, mask_value: float = 0.0):
        super().__init__()
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)) \
                or not math.isfinite(mask_value):
            raise ValueError(f"mask_value must be a finite number (NaN never equals itself, "
                             f"so it would mask nothing), got {mask_value!r}")
        self.mask_value = float(mask_value)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        keep = (x != self.mask_value).any(-1)
        return keep if mask is None else keep & mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Masking expects (B, T, D) input, got {got}")
        return x * self.compute_mask(x).unsqueeze(-1).to(x.dtype)

    def get_config(self) -> dict[str, Any]:
        return {"mask_value": self.mask_value}

    def extra_repr(self) -> str:
        return f"mask_value={self.mask_value}"


@register_serializable
class MeanOverTime(nn.Module):
    """(B, T, D) -> (B, D): the mean over the real steps (the mask from an Embedding or
    Masking layer excludes padding), as Keras' GlobalAveragePooling1D.

    Example:
        >>> x = torch.tensor([[[1.0], [3.0], [100.0]]])
        >>> MeanOverTime()(x, mask=torch.tensor([[True, True, False]])).tolist()
        [[2.0]]
    """

    takes_mask = True

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"MeanOverTime expects (B, T, D) input, got {got}")
        if mask is None:
            return x.mean(1)
        m = mask.unsqueeze(-1).to(x.dtype)
        return (x * m).sum(1) / m.sum(1).clamp(min=1.0)

    def compute_mask(self, x: torch.Tensor, mask: torch.Tensor | None = None):
        return None                                   # the time axis is gone

    def get_config(self) -> dict[str, Any]:
        return {}
