"""The C++ kernels read every integer code from one Python table (engines/codes.py)."""

import re
from importlib import resources

from rnnkit.engines import codes
from rnnkit.training import cpp_step
from rnnkit.training.losses import BinaryCrossentropy, SparseCategoricalCrossentropy


def _csrc() -> str:
    root = resources.files("rnnkit.engines").joinpath("csrc")
    return "\n".join(root.joinpath(n).read_text() for n in ("gates.h", "kernels.cpp",
                                                              "train.cpp"))


def test_every_code_the_cpp_names_is_generated_from_the_table():
    generated = set(re.findall(r"constexpr int (\w+) =", codes.cpp_constants()))
    used = set(re.findall(r"\b((?:ACT|KIND|LOSS)_[A-Z_]+)\b", _csrc()))
    assert used and used <= generated, used - generated


def test_no_case_label_is_a_bare_number():
    assert not re.search(r"case\s+\d+\s*:", _csrc())


def test_python_sides_use_the_same_table():
    assert cpp_step.ACTS is codes.ACTIVATIONS
    assert cpp_step.DENSE == codes.LAYER_KINDS["dense"]
    assert cpp_step._loss_kind(SparseCategoricalCrossentropy(from_logits=True)) == \
        codes.LOSSES[("sparse_categorical_crossentropy", True)]
    assert cpp_step._loss_kind(BinaryCrossentropy()) == \
        codes.LOSSES[("binary_crossentropy", False)]
