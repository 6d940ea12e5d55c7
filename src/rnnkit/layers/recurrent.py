r"""The recurrent layer: the one place in rnnkit that loops over time.

``RNN(cell)`` turns any cell (one step) into a layer over (B, T, ...) sequences and owns
everything about time: masks and lengths, ``go_backwards``, initial and returned states,
``stateful`` carry-over between calls, per-sequence dropout masks, and the engine that runs
the steps (see ``rnnkit.engines.select`` for the rules).

Padding semantics: a masked step keeps the previous state and outputs zeros, so a
sequence gives the same result alone or padded in a batch.  ``go_backwards`` reverses
each sequence within its real span (padding stays at the end, as Flax's
``flip_sequences``); its ``return_sequences`` output is in processing order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .._checks import (
    check_choice,
    check_finite,
    check_flag,
    check_rate,
    check_sequence,
    check_units,
    describe,
    resolve_mask,
)
from ..cells import GRUCell, LayerNormLSTMCell, LSTMCell, SimpleRNNCell
from ..cells.base import describe as descriptor_of
from ..cells.base import resolve_activation
from ..engines import (
    ENGINES,
    choose_engine,
    engine_name,
    native_blocker,
    run_fused,
    run_loop,
    run_native,
)
from ..engines.native import native_step
from ..precision import (
    FP32_CHOICE,
    block_open,
    check_precision,
    choose_precision,
    requested_precision,
    to_fp32,
    using_precision,
)
from ..registry import deserialize, register_serializable, serialize
from ..types import Choice, LSTMState, is_namedtuple, tree_first, tree_leaves, tree_map

__all__ = ["RNN", "SimpleRNN", "LSTM", "GRU", "LayerNormLSTM", "reverse_sequences",
           "flatten_state"]


def reverse_sequences(x: Any, mask: torch.Tensor | None):
    """Reverse every sequence within its real span [0, L), L = 1 + its last real step.

    Steps after L stay where they are.  With the same ``mask`` this is its own inverse.
    Returns ``(x reversed, mask reversed)``; ``x`` may be a nesting of (B, T, ...) tensors.
    """
    if mask is None:
        return tree_map(lambda a: a.flip(1), x), None
    B, T = mask.shape
    t = torch.arange(T, device=mask.device)
    span = torch.where(mask, t + 1, 0).amax(1, keepdim=True)        # (B, 1) = L per row
    idx = torch.where(t < span, span - 1 - t, t)                    # (B, T) permutation
    gather = lambda a: torch.take_along_dim(a, idx.view(B, T, *[1] * (a.dim() - 2)), dim=1)  # noqa: E731
    return tree_map(gather, x), mask.gather(1, idx)


def flatten_state(state: Any) -> tuple:
    """``return_state`` convention: LSTMState(h, c) -> (h, c), a tensor h -> (h,)."""
    return tuple(state) if isinstance(state, tuple) else (state,)


@register_serializable
class RNN(nn.Module):
    r"""Run a cell over sequences.

    Args:
        cell: any cell following the contract in ``rnnkit.cells.base``.
        return_sequences: output every step (B, T, H) instead of the last real one (B, H).
        return_state: also return the final state: ``(output, h)`` for SimpleRNN and GRU,
            ``(output, h, c)`` for LSTM, ``(output, *state)`` for a tuple state.
        go_backwards: process each sequence from its last real step to its first.
        stateful: the final state of one call is the initial state of the next
            (detached: gradients stop at the call boundary); ``reset_states()`` clears it.
        dropout: fraction of input features dropped while training, one mask per sequence.
        recurrent_dropout: fraction of h dropped before the recurrent product while
            training, one mask per sequence (the cell must support it).
        weight_dropout: fraction of the recurrent matrix ``cell.weight_hh`` dropped while
            training, one mask per call shared by every sequence and step (DropConnect, as
            AWD-LSTM's weight drop; Merity et al., 2018, section 2).  The mask multiplies
            the weight before the engine runs, so every engine applies it and gradients
            reach the Parameter; the Parameter itself is never changed.
        engine: "auto" (the fastest eligible: see ``rnnkit.engines.select``), "loop" (the
            readable time loop), "torch" (torch's kernels) or "rnnkit" (rnnkit's
            whole-sequence kernels).  ``layer.engine_choice`` says which ran and why.

    Precision: fp32, unless ``fit(precision=...)`` or ``torch.autocast(dtype=bfloat16)``
    asks for bf16 products (``rnnkit.precision``); states and outputs stay in the
    parameters' dtype.  ``layer.precision_choice`` says which ran and why.

    Call: ``layer(x, initial_state=None, mask=None, lengths=None)``
        x (B, T, D), or a nesting of (B, T, ...) tensors for custom cells;
        mask (B, T) bool, True at real steps; lengths (B,) ints in [1, T].

    Example:
        >>> layer = RNN(LSTMCell(3, 5), return_sequences=True, return_state=True)
        >>> out, h, c = layer(torch.zeros(2, 7, 3))
        >>> tuple(out.shape), tuple(h.shape), layer.engine_choice.kind
        ((2, 7, 5), (2, 5), 'torch')
    """

    def __init__(self, cell: nn.Module | None = None, *, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, engine: str = "auto",
                 weight_dropout: float = 0.0):
        super().__init__()
        engine = engine_name(engine)
        check_choice("engine", engine, ENGINES)
        if cell is not None and not isinstance(cell, nn.Module):
            raise TypeError(f"cell must be an nn.Module following the cell contract, "
                            f"got {type(cell).__name__}")
        self.cell = cell
        self.return_sequences = check_flag("return_sequences", return_sequences)
        self.return_state = check_flag("return_state", return_state)
        self.go_backwards = check_flag("go_backwards", go_backwards)
        self.stateful, self.engine = check_flag("stateful", stateful), engine
        self.dropout = check_rate("dropout", dropout)
        self.recurrent_dropout = check_rate("recurrent_dropout", recurrent_dropout)
        self.weight_dropout = check_rate("weight_dropout", weight_dropout)
        self._state: Any = None
        self.engine_choice: Choice | None = None     # set by every call
        self.precision_choice: Choice | None = None  # set by every call
        if cell is not None:
            self._check_cell()

    def _check_cell(self) -> None:
        cell = self.cell
        if not hasattr(cell, "initial_state") and not hasattr(cell, "state_size"):
            raise TypeError(f"{type(cell).__name__} does not follow the cell contract: it has "
                            "neither state_size nor initial_state(x_t) (forward(x_t, state) -> "
                            "(y_t, state) must be given one of them)")
        if self.recurrent_dropout and not getattr(self.cell, "supports_recurrent_dropout", False):
            raise ValueError(f"recurrent_dropout needs a cell that supports it; "
                             f"{type(self.cell).__name__} does not")
        if self.weight_dropout and not isinstance(getattr(cell, "weight_hh", None),
                                                  nn.Parameter):
            raise ValueError(f"weight_dropout needs a cell with a recurrent matrix weight_hh "
                             f"(a Parameter); {type(cell).__name__} has none")

    @property
    def built(self) -> bool:
        return self.cell is not None

    def build(self, input_size: int, like: torch.Tensor | None = None) -> None:
        raise ValueError("RNN(cell) needs a cell; SimpleRNN, LSTM and GRU build theirs")

    def reset_states(self, state: Any = None) -> None:
        """Forget the carried state (``stateful=True``), or set it (checked against the
        cell at the next call)."""
        if state is not None and not (tree_leaves(state) and all(
                isinstance(a, torch.Tensor) for a in tree_leaves(state))):
            raise TypeError(f"reset_states takes None or a state of tensors, got "
                            f"{type(state).__name__}")
        self._state = state

    def get_states(self) -> Any:
        """The carried state (``stateful=True``), None before the first call or after a reset."""
        return self._state

    @torch.no_grad()
    def step(self, x_t: torch.Tensor, state: Any = None, *, precision: str = "fp32"):
        """Streaming inference: one time step (B, D) -> (y_t, state), no graph, low latency.

        Built-in cells run torch's single-step kernels (``torch.lstm_cell`` and friends);
        other cells run their ``forward``.  Pass the returned state to the next call.

        ``precision``: "fp32" (the default: fp32, unless an enclosing
        ``torch.autocast(bfloat16)`` or ``rnnkit.precision.inference`` asks for bf16, as for
        a layer call); "bf16" runs the step's products in bfloat16, exactly as under
        ``torch.autocast``; "auto" keeps a lone step in fp32 (it would cast the weights every
        call) and, inside an open bf16 autocast, takes bf16 for H >= ``BF16_STEP_MIN_H``.  The
        output and the state stay in the parameters' dtype either way;
        ``layer.precision_choice`` says which ran.

        Example:
            >>> layer = LSTM(8, input_size=3)
            >>> y, state = layer.step(torch.zeros(1, 3))
            >>> y, state = layer.step(torch.ones(1, 3), state)
            >>> tuple(y.shape), tuple(state.c.shape)
            ((1, 8), (1, 8))
        """
        who = f"{type(self).__name__}.step"
        check_precision(precision)
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2:
            got = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ValueError(f"{who} expects one step x_t of shape (B, D), got {got}")
        # one step is a sequence of one: the same checks as a call (features, dtype, NaN)
        if not x_t.is_floating_point():
            raise TypeError(f"{who} expects floating-point input, got {x_t.dtype} (token "
                            "ids go through an Embedding first)")
        if x_t.shape[0] == 0:
            raise ValueError(f"{who} got an empty batch (B = 0)")
        x_t = _from_autocast(x_t, self.cell)
        if self.cell is None:
            self.build(x_t.shape[-1], like=x_t)
        self._check_tensor_input(x_t, who)
        check_finite(x_t, f"{who} input")
        cell = self.cell
        state = initial_state_of(cell, x_t) if state is None else \
            self._check_step_state(state, x_t, f"{who}'s state")
        device = x_t.device.type
        requested = requested_precision(device) if precision == "fp32" else precision
        if requested == "fp32" and not torch.is_autocast_enabled(device):
            self.__dict__["precision_choice"] = FP32_CHOICE   # the common case, no blocks
            y, state = self._step_kernel(x_t, state)
        else:
            # inside an enclosing block (autocast's, inference's) the weights are cast once
            # for all its steps; a lone step casts them every call
            lone = precision != "fp32" and not block_open(device)
            asked = using_precision(precision) if precision != "fp32" else \
                contextlib.nullcontext()                  # else autocast's or inference's
            with asked:
                choice = choose_precision(requested, getattr(cell, "hidden_size", 0),
                                          next(cell.parameters(), None),
                                          step="lone" if lone else "stream")
            self.__dict__["precision_choice"] = choice
            with _autocast(device, choice.kind == "bf16"):
                y, state = self._step_kernel(x_t, state)
        # the state just returned passes the next step's check by identity: the same
        # tensors (held here, so no other tensor can take their ids), not modified since
        self.__dict__["_last_step"] = (state, _stamp(state))    # not a Module attribute
        return y, state

    def _step_kernel(self, x_t: torch.Tensor, state: Any):
        done = native_step(self.cell, x_t, state)       # torch's one-step kernel, if any
        y, state = done if done is not None else self.cell(x_t, state)
        if torch.is_autocast_enabled(x_t.device.type):  # bf16 products, the state in fp32
            y, state = tree_map(lambda a: a.to(x_t.dtype), (y, state))
        return y, state

    def compute_mask(self, x: Any, mask: torch.Tensor | None = None):
        """The mask for the next layer: unchanged for sequences, none after the last step."""
        return mask if self.return_sequences else None

    def forward(self, x: Any, initial_state: Any = None, *, mask: Any = None,
                lengths: Any = None):
        output, state = self.run(x, initial_state, mask=mask, lengths=lengths)
        return (output, *flatten_state(state)) if self.return_state else output

    def run(self, x: Any, initial_state: Any = None, *, mask: Any = None, lengths: Any = None):
        """Like ``forward`` but always returns ``(output, state)``, state unflattened."""
        who = type(self).__name__
        B, T = check_sequence(x, who)
        x = _from_autocast(x, self.cell)
        if self.cell is None:
            if not isinstance(x, torch.Tensor):
                raise ValueError(f"{who} infers its input size from a tensor (B, T, D)")
            self.build(x.shape[-1], like=x)
        if isinstance(x, torch.Tensor):
            self._check_tensor_input(x, who)
        device = tree_first(x).device
        mask, lengths, right_padded = resolve_mask(mask, lengths, B, T, device)
        if self.go_backwards:
            x, mask = reverse_sequences(x, mask)    # right padding stays right padding
        state = self._initial_state(x, initial_state, B)
        rec_mask = None
        if self.training and self.dropout:
            x = x * self._dropout_mask(x.new_empty(B, 1, x.shape[-1]), self.dropout)
        if self.training and self.recurrent_dropout:
            rec_mask = self._dropout_mask(x.new_empty(B, self.cell.hidden_size),
                                          self.recurrent_dropout)
        blocker = native_blocker(self.cell, x, right_padded, rec_mask is not None)
        requested = requested_precision(device.type)
        plain = requested == "fp32" and not torch.is_autocast_enabled(device.type)
        # a call of one time step (generation, token by token) is a streaming step
        self.precision_choice = FP32_CHOICE if plain else choose_precision(
            requested, getattr(self.cell, "hidden_size", 0), next(self.cell.parameters(), None),
            step="stream" if T == 1 else None)
        bf16 = self.precision_choice.kind == "bf16"
        self.engine_choice = choose_engine(self.engine, self.cell, x, blocker,
                                           self.precision_choice.kind)
        drop = self.weight_dropout if self.training else 0.0
        if plain and not drop:          # the common case, without the two blocks' cost
            outputs, last, state = self._run_engine(x, state, mask, lengths, rec_mask, False)
        else:
            with _weight_dropped(self.cell, drop), _autocast(device.type, bf16):
                outputs, last, state = self._run_engine(x, state, mask, lengths, rec_mask,
                                                        bf16)
        if bf16 and self.engine_choice.kind == "torch":   # oneDNN's bf16 LSTM returns bf16
            outputs, last, state = to_fp32((outputs, last, state))
        if self.stateful:
            self._state = tree_map(lambda s: s.detach(), state)
        return (outputs if self.return_sequences else last), state

    def _run_engine(self, x, state, mask, lengths, rec_mask, bf16: bool):
        """The chosen engine over the whole sequence: (outputs or None, last, state)."""
        kind = self.engine_choice.kind
        if kind == "torch":
            return run_native(self.cell, x, state, lengths)
        if kind == "rnnkit":
            outputs, last, state = run_fused(self.cell, x, state, mask, rec_mask,
                                             torch.bfloat16 if bf16 else None)
            return (outputs if self.return_sequences else None), last, state
        return run_loop(self.cell, x, state, mask, rec_mask, keep_outputs=self.return_sequences)

    @staticmethod
    def _dropout_mask(like: torch.Tensor, rate: float) -> torch.Tensor:
        keep = 1.0 - rate
        return torch.bernoulli(torch.full_like(like, keep)) / keep

    def _check_tensor_input(self, x: torch.Tensor, who: str) -> None:
        expected = getattr(self.cell, "input_size", None)
        if isinstance(expected, int) and x.shape[-1] != expected:
            raise ValueError(f"{who} was built for {expected} input features, "
                             f"got input of shape {tuple(x.shape)}")
        p = getattr(self.cell, "weight_ih", None)
        if not isinstance(p, torch.Tensor):
            p = next(self.cell.parameters(), None)
        if p is not None and p.dtype != x.dtype:
            raise TypeError(f"{who} input dtype {x.dtype} differs from its parameters' "
                            f"{p.dtype}; convert one (x.to({p.dtype}) or model.to({x.dtype}))")

    def _initial_state(self, x: Any, given: Any, B: int) -> Any:
        template = initial_state_of(self.cell, tree_map(lambda a: a[:, 0], x))
        if given is None and self.stateful and self._state is not None:
            given, source = self._state, "the carried state (stateful=True)"
            if tree_first(given).shape[0] != B:
                raise ValueError(f"stateful layer carries a state for batch "
                                 f"{tree_first(given).shape[0]}, got batch {B}; "
                                 "call reset_states() between streams of different batch size")
        else:
            source = "initial_state"
        if given is None:
            return template
        return self._check_state(given, template, source)

    def _check_step_state(self, given: Any, x_t: torch.Tensor, source: str) -> Any:
        """``_check_state`` without building a template for the built-in cells' states
        (a bare (B, H) tensor, or LSTMState of two): a step is a few microseconds.  The
        state this layer's last step returned, unmodified, was checked already."""
        last = getattr(self, "_last_step", None)
        if last is not None and given is last[0] and _stamp(given) == last[1]:
            return given
        cell = self.cell
        d = descriptor_of(cell)                 # a built-in cell: h, or LSTMState(h, c)
        if d is not None:
            parts = tuple(given) if d.paired and isinstance(given, LSTMState) else (given,)
            want = (x_t.shape[0], cell.hidden_size)
            if len(parts) == (2 if d.paired else 1) and all(
                    isinstance(p, torch.Tensor) and p.shape == want and p.dtype == x_t.dtype
                    for p in parts):
                for p in parts:
                    check_finite(p, source)
                return given
        return self._check_state(given, initial_state_of(cell, x_t), source)

    def _check_state(self, given: Any, template: Any, source: str) -> Any:
        """``given`` if it has the template's structure, shapes and dtype and is finite."""
        ok = _same_structure(given, template)
        if ok:
            ok = all(isinstance(g, torch.Tensor) and g.shape == t.shape
                     for g, t in zip(tree_leaves(given), tree_leaves(template)))
        if not ok:
            raise ValueError(f"{source} for {type(self.cell).__name__} must be "
                             f"{describe(template)}, got {describe(given)}")
        for g, t in zip(tree_leaves(given), tree_leaves(template)):
            if g.dtype != t.dtype:
                raise TypeError(f"{source} has dtype {g.dtype}; {type(self.cell).__name__} "
                                f"works in {t.dtype}")
            check_finite(g, source)
        return given

    def get_config(self) -> dict[str, Any]:
        return {"cell": serialize(self.cell), **self._rnn_config()}

    def _rnn_config(self) -> dict[str, Any]:
        return {"return_sequences": self.return_sequences, "return_state": self.return_state,
                "go_backwards": self.go_backwards, "stateful": self.stateful,
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "weight_dropout": self.weight_dropout, "engine": self.engine}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        return cls(deserialize(config.pop("cell")), **config)

    def extra_repr(self) -> str:
        opts = [k for k in ("return_sequences", "return_state", "go_backwards", "stateful")
                if getattr(self, k)]
        return ", ".join(opts + [f"engine={self.engine!r}"])


@contextlib.contextmanager
def _weight_dropped(cell: nn.Module, rate: float):
    """Inside the block ``cell.weight_hh`` is the Parameter times a fresh dropout mask (kept
    entries scaled by 1/(1 - rate)), a plain tensor in the graph, so gradients flow back to
    the Parameter; on exit the Parameter is put back.  ``rate`` 0: nothing changes."""
    if not rate:
        yield
        return
    w = cell._parameters["weight_hh"]
    cell._parameters["weight_hh"] = w * RNN._dropout_mask(w, rate)    # (G·H, H) DropConnect
    try:
        yield
    finally:
        cell._parameters["weight_hh"] = w


def _from_autocast(x: Any, cell: nn.Module | None) -> Any:
    """Under ``torch.autocast`` an earlier layer (Dense) hands over its bf16 output: back
    to the parameters' dtype, in which the state and the gate math run."""
    if not (isinstance(x, torch.Tensor) and x.dtype in (torch.bfloat16, torch.float16)
            and torch.is_autocast_enabled(x.device.type)):
        return x
    p = next(cell.parameters(), None) if cell is not None else None
    return x.to(p.dtype if p is not None else torch.get_default_dtype())


def _autocast(device_type: str, bf16: bool):
    """bf16: products under a bfloat16 autocast (rnnkit's engine picks its own dtypes);
    else any enabled autocast is switched off, so an fp32 layer runs in fp32."""
    if bf16:
        return torch.autocast(device_type, dtype=torch.bfloat16)
    if torch.is_autocast_enabled(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def _stamp(state: Any) -> tuple:
    """Identity and in-place version of every tensor of a state."""
    leaves = (state,) if isinstance(state, torch.Tensor) else \
        tuple(state) if isinstance(state, LSTMState) else tree_leaves(state)
    return tuple((id(t), t._version) for t in leaves)


def initial_state_of(cell: nn.Module, x_t: Any) -> Any:
    """The cell's zero state for the batch of ``x_t``: ``cell.initial_state(x_t)``, or zeros
    shaped by ``cell.state_size`` (an int, a torch.Size, or any nesting of them), which is
    all a Keras-style cell declares."""
    if hasattr(cell, "initial_state"):
        return cell.initial_state(x_t)
    first = tree_leaves(x_t)[0]

    def zeros(size: Any) -> Any:
        if isinstance(size, int):
            return first.new_zeros(first.shape[0], size)
        if isinstance(size, torch.Size):
            return first.new_zeros(first.shape[0], *size)
        if isinstance(size, (tuple, list)):
            return type(size)(zeros(s) for s in size) if not is_namedtuple(size) \
                else type(size)(*(zeros(s) for s in size))
        if isinstance(size, dict):
            return {k: zeros(v) for k, v in size.items()}
        raise TypeError(f"{type(cell).__name__}.state_size must be an int, a torch.Size or a "
                        f"nesting of them, got {size!r}")

    return zeros(cell.state_size)


def _same_structure(a: Any, b: Any) -> bool:
    if is_namedtuple(b) or is_namedtuple(a):
        return type(a) is type(b) and all(_same_structure(x, y) for x, y in zip(a, b))
    try:
        tree_map(lambda *_: None, a, b)
    except ValueError:
        return False
    return True


class _BuiltinRNN(RNN):
    """A layer that owns its built-in cell and builds it on first call if ``input_size`` is None."""

    cell_class: type = None  # set by subclasses

    def __init__(self, units: int, input_size: int | None, cell_kwargs: dict[str, Any],
                 rnn_kwargs: dict[str, Any]):
        super().__init__(None, **rnn_kwargs)
        self.units = check_units("units", units)
        self.cell_kwargs = cell_kwargs
        if input_size is not None:
            self.build(check_units("input_size", input_size))

    def build(self, input_size: int, like: torch.Tensor | None = None) -> None:
        cell = self.cell_class(input_size, self.units, **self.cell_kwargs)
        if like is not None:
            cell = cell.to(device=like.device, dtype=like.dtype)
        self.cell = cell
        self._check_cell()

    @property
    def input_size(self) -> int | None:
        return self.cell.input_size if self.cell is not None else None

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "input_size": self.input_size, **self.cell_kwargs,
                **self._rnn_config()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        return cls(**config)

    def extra_repr(self) -> str:
        return f"{self.units}, input_size={self.input_size}, " + super().extra_repr()


@register_serializable
class SimpleRNN(_BuiltinRNN):
    """Elman RNN layer (``SimpleRNNCell`` over time). See ``RNN`` for the options.

    Example:
        >>> layer = SimpleRNN(3)                     # input size inferred on first call
        >>> tuple(layer(torch.zeros(4, 12, 1)).shape)
        (4, 3)
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: str | Callable = "tanh", use_bias: bool = True,
                 *, input_size: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, engine: str = "auto",
                 weight_dropout: float = 0.0):
        resolve_activation(activation)      # a bad name fails here, not at the first call
        super().__init__(units, input_size, {"activation": activation, "use_bias": use_bias},
                         dict(return_sequences=return_sequences, return_state=return_state,
                              go_backwards=go_backwards, stateful=stateful, dropout=dropout,
                              recurrent_dropout=recurrent_dropout, engine=engine,
                              weight_dropout=weight_dropout))


@register_serializable
class LSTM(_BuiltinRNN):
    """LSTM layer (``LSTMCell`` over time). See ``RNN`` for the options.

    Example:
        >>> out, h, c = LSTM(64, return_state=True)(torch.zeros(2, 5, 64))
        >>> tuple(out.shape), tuple(c.shape)
        ((2, 64), (2, 64))
    """

    cell_class = LSTMCell

    def __init__(self, units: int, use_bias: bool = True, unit_forget_bias: bool = True,
                 *, input_size: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, engine: str = "auto",
                 weight_dropout: float = 0.0):
        super().__init__(units, input_size,
                         {"use_bias": use_bias, "unit_forget_bias": unit_forget_bias},
                         dict(return_sequences=return_sequences, return_state=return_state,
                              go_backwards=go_backwards, stateful=stateful, dropout=dropout,
                              recurrent_dropout=recurrent_dropout, engine=engine,
                              weight_dropout=weight_dropout))


@register_serializable
class GRU(_BuiltinRNN):
    """GRU layer (``GRUCell`` over time), ``reset_after=True`` (torch/cuDNN form) or False (Cho).

    Example:
        >>> layer = GRU(8, reset_after=False)
        >>> tuple(layer(torch.zeros(2, 5, 3)).shape), layer.engine_choice.kind
        ((2, 8), 'rnnkit')
    """

    cell_class = GRUCell

    def __init__(self, units: int, use_bias: bool = True, reset_after: bool = True,
                 *, input_size: int | None = None, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, engine: str = "auto",
                 weight_dropout: float = 0.0):
        super().__init__(units, input_size, {"use_bias": use_bias, "reset_after": reset_after},
                         dict(return_sequences=return_sequences, return_state=return_state,
                              go_backwards=go_backwards, stateful=stateful, dropout=dropout,
                              recurrent_dropout=recurrent_dropout, engine=engine,
                              weight_dropout=weight_dropout))


@register_serializable
class LayerNormLSTM(_BuiltinRNN):
    """LSTM layer with layer normalisation (``LayerNormLSTMCell`` over time); no torch kernel,
    so ``auto`` runs rnnkit's kernels. See ``RNN`` for the options.

    Example:
        >>> layer = LayerNormLSTM(8)
        >>> tuple(layer(torch.zeros(2, 5, 3)).shape), layer.engine_choice.kind
        ((2, 8), 'rnnkit')
    """

    cell_class = LayerNormLSTMCell

    def __init__(self, units: int, use_bias: bool = True, unit_forget_bias: bool = True,
                 eps: float = 1e-5, *, input_size: int | None = None,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, engine: str = "auto",
                 weight_dropout: float = 0.0):
        super().__init__(units, input_size,
                         {"use_bias": use_bias, "unit_forget_bias": unit_forget_bias, "eps": eps},
                         dict(return_sequences=return_sequences, return_state=return_state,
                              go_backwards=go_backwards, stateful=stateful, dropout=dropout,
                              recurrent_dropout=recurrent_dropout, engine=engine,
                              weight_dropout=weight_dropout))
