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


def test_the_step_records_cross_in_their_field_order():
    """LayerSpec and StepConfig: the generated C++ struct has the tuple's fields, and its
    unpack reads each from the position the tuple puts it in."""
    cpp = codes.cpp_constants()
    for record in (codes.LayerSpec, codes.StepConfig):
        body = cpp.split(f"struct {record.__name__} {{")[1].split("\n};")[0]
        declared = re.findall(r"^  (?:double|int|bool) (\w+);$", body, flags=re.M)
        read = re.findall(r"r\.(\w+) = .*v\[(\d+)\]", body)
        assert declared == list(record._fields)
        assert read == [(name, str(k)) for k, name in enumerate(record._fields)]
        assert f"size = {len(record._fields)};" in body


def test_train_cpp_spells_no_position_of_a_record():
    """The C++ step reads the spec and the config only through the generated unpack."""
    train = resources.files("rnnkit.engines").joinpath("csrc", "train.cpp").read_text()
    assert not re.search(r"\b(?:spec|config|values|hyper)\[", train)
    assert "unpack(" in train
