"""The integer codes Python passes to the C++ kernels: one table, read by both sides.

The C++ sources never spell these numbers: ``cpp_constants()`` turns this table into
``constexpr`` lines that ``engines/_ext.py`` puts in front of the sources when it builds
them (and the build's cache key covers them), so adding an activation or a layer kind is
one line here plus its math in ``csrc/gates.h``.

The training step's two records, ``LayerSpec`` and ``StepConfig``, cross the line the same
way: Python passes each as its flat tuple of numbers, and ``cpp_constants()`` writes the C++
struct of the same name, with the same fields in the same order and an ``unpack`` that reads
them, so neither side spells a field's position.
"""

from __future__ import annotations

from typing import NamedTuple, get_type_hints

__all__ = ["ACTIVATIONS", "SOFTMAX", "LAYER_KINDS", "LOSSES", "PROB_EPS", "LayerSpec",
           "StepConfig", "cpp_constants"]

# element-wise activations: SimpleRNN's and Dense's (csrc/gates.h: act, act_grad)
ACTIVATIONS = {"tanh": 0, "relu": 1, "sigmoid": 2, "linear": 3}
SOFTMAX = 4                                  # Dense only: over the row, in the training step
# the training step's layer kinds (csrc/train.cpp: 5 codes a layer)
LAYER_KINDS = {"simple": 0, "lstm": 1, "gru": 2, "dense": 3}
# the training step's losses: (name, from_logits) -> code
LOSSES = {("mse", False): 0, ("mae", False): 1,
          ("binary_crossentropy", True): 2, ("binary_crossentropy", False): 3,
          ("sparse_categorical_crossentropy", True): 4,
          ("sparse_categorical_crossentropy", False): 5}
# Keras' epsilon: the losses on probabilities clip them to [PROB_EPS, 1 - PROB_EPS], in
# training/losses.py and in the C++ training step alike
PROB_EPS = 1e-7



# NamedTuples, not dataclasses: the record is itself the flat sequence pybind11 passes, and
# building one costs a third of a microsecond per step less than a frozen dataclass (the
# sunspots recipe's whole C++ step is about 8 us).
class LayerSpec(NamedTuple):
    """One layer of the training step's model (``csrc/train.cpp``): ints, in this order."""
    kind: int              # a LAYER_KINDS code
    inputs: int            # input features
    units: int             # H for a recurrent layer, outputs for a Dense one
    activation: int        # an ACTIVATIONS code, or SOFTMAX (Dense only)
    bias: bool             # use_bias


class StepConfig(NamedTuple):
    """The training step's settings (``csrc/train.cpp``): doubles, in this order."""
    lr: float              # learning rate
    beta1: float           # Adam's decay of the mean (unused by SGD)
    beta2: float           # Adam's decay of the squared mean
    eps: float             # Adam's denominator term
    weight_decay: float    # L2 coefficient, added to the gradient inside the update
    clip_value: float      # clip each gradient entry to [-clip_value, clip_value]; 0: never
    clip_norm: float       # rescale the gradients to global norm <= clip_norm; 0: never
    adam: bool             # Adam, else plain SGD
    loss: int              # a LOSSES code
    grads_only: bool       # stop once the gradients are in p.grad: a distributed step
                           # all-reduces them, then calls apply_update


_CPP_TYPES = {"float": "double", "int": "int", "bool": "bool"}


def _cpp_record(record: type, element: str) -> str:
    """``struct <record>`` with its fields, ``size`` and ``unpack(const element* v)``."""
    fields = {name: kind.__name__ for name, kind in get_type_hints(record).items()}
    lines = [f"struct {record.__name__} {{"]
    lines += [f"  {_CPP_TYPES[kind]} {name};" for name, kind in fields.items()]
    lines.append(f"  static constexpr size_t size = {len(fields)};")
    lines.append(f"  static {record.__name__} unpack(const {element}* v) {{")
    lines.append(f"    {record.__name__} r;")
    for k, (name, kind) in enumerate(fields.items()):
        value = f"v[{k}] != 0" if kind == "bool" else f"static_cast<{_CPP_TYPES[kind]}>(v[{k}])"
        lines.append(f"    r.{name} = {value};")
    lines += ["    return r;", "  }", "};"]
    return "\n".join(lines)


def cpp_constants() -> str:
    """``constexpr int`` lines for every code above (ACT_TANH, KIND_LSTM, LOSS_MAE, ...)."""
    lines = ["// generated from rnnkit/engines/codes.py: do not edit here"]
    for name, code in ACTIVATIONS.items():
        lines.append(f"constexpr int ACT_{name.upper()} = {code};")
    lines.append(f"constexpr int ACT_SOFTMAX = {SOFTMAX};")
    lines.append(f"constexpr int ACT_MAX = {max(ACTIVATIONS.values())};   // element-wise")
    for name, code in LAYER_KINDS.items():
        lines.append(f"constexpr int KIND_{name.upper()} = {code};")
    lines.append(f"constexpr int KIND_MAX = {max(LAYER_KINDS.values())};")
    short = {"mse": "MSE", "mae": "MAE", "binary_crossentropy": "BCE",
             "sparse_categorical_crossentropy": "SCE"}
    for (name, logits), code in LOSSES.items():
        suffix = "_LOGITS" if logits else ("_PROBS" if name.endswith("crossentropy") else "")
        lines.append(f"constexpr int LOSS_{short[name]}{suffix} = {code};")
    lines.append(f"constexpr int LOSS_MAX = {max(LOSSES.values())};")
    lines.append(f"constexpr double PROB_EPS = {PROB_EPS!r};")
    lines.append("#include <cstddef>")
    lines.append("#include <cstdint>")
    lines.append(_cpp_record(LayerSpec, "int64_t"))
    lines.append(_cpp_record(StepConfig, "double"))
    return "\n".join(lines) + "\n"
