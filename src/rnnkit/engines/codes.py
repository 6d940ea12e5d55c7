"""The integer codes Python passes to the C++ kernels: one table, read by both sides.

The C++ sources never spell these numbers: ``cpp_constants()`` turns this table into
``constexpr`` lines that ``engines/_ext.py`` puts in front of the sources when it builds
them (and the build's cache key covers them), so adding an activation or a layer kind is
one line here plus its math in ``csrc/gates.h``.
"""

from __future__ import annotations

__all__ = ["ACTIVATIONS", "SOFTMAX", "LAYER_KINDS", "LOSSES", "cpp_constants"]

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
    return "\n".join(lines) + "\n"
