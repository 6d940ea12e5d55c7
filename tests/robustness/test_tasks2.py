"""Bad input to the SequenceClassifier, the TextGenerator and the Translator (red-team
campaign 2, rows T11-T84 and C8, C12-C14): every case is a ValueError or TypeError whose
message names the argument, the field or the file -- never an error from deep inside
torch or NumPy, never a silent wrong answer."""

import json
import math
import shutil

import numpy as np
import pytest
import torch

from rnnkit.tasks import SequenceClassifier, TextGenerator, Translator
from rnnkit.tasks.classify import ClassifierConfig
from rnnkit.tasks.generate import GeneratorConfig, sample_next
from rnnkit.tasks.translate import TranslatorConfig

TEXTS = ["good movie", "bad film", "great acting", "awful plot"] * 4
LABELS = [1, 0, 1, 0] * 4
STREAM = "hello world, the quick brown fox. " * 20
PAIRS = [("one", "un"), ("two", "deux"), ("three", "trois"), ("four", "quatre")] * 5


@pytest.fixture(scope="module")
def clf():
    c = SequenceClassifier(ClassifierConfig(cell="gru", units=4, embedding=4))
    c.fit(TEXTS, LABELS, epochs=1, verbose=0)
    return c


@pytest.fixture(scope="module")
def gen():
    g = TextGenerator(GeneratorConfig(units=4, embedding=4, seq_len=10, batch_size=4))
    g.fit(STREAM, epochs=1, verbose=0)
    return g


@pytest.fixture(scope="module")
def tr():
    t = Translator(TranslatorConfig(cell="gru", units=4, embedding=4))
    t.fit(PAIRS, epochs=1, verbose=0, val=0.2)
    return t


@pytest.fixture(scope="module")
def folders(tmp_path_factory, clf, gen, tr):
    root = tmp_path_factory.mktemp("saved")
    clf.save(root / "clf")
    gen.save(root / "gen")
    tr.save(root / "tr")
    return root


# ---------------------------------------------------------------- configurations

@pytest.mark.parametrize("make, kwargs, error, needle", [
    (GeneratorConfig, {"lr": -1}, ValueError, r"lr must be a positive finite number, got -1"),
    (GeneratorConfig, {"clip_norm": math.nan}, ValueError, r"clip_norm must be .*got nan"),
    (GeneratorConfig, {"dropout": 2.0}, ValueError, r"dropout must be .*\[0, 1\), got 2.0"),
    (GeneratorConfig, {"mode": "bytes"}, ValueError, r"mode must be one of 'char', 'word'"),
    (GeneratorConfig, {"units": "8"}, TypeError, r"units must be a positive int.*got '8'"),
    (GeneratorConfig, {"layers": 2.5}, TypeError, r"layers must be a positive int, got 2.5"),
    (GeneratorConfig, {"seq_len": None}, TypeError, r"seq_len must be a positive int"),
    (GeneratorConfig, {"max_tokens": 2}, ValueError, r"max_tokens must be an int >= 3"),
    (TranslatorConfig, {"lr": math.nan}, ValueError, r"lr must be a positive finite number"),
    (TranslatorConfig, {"max_tokens": 0}, ValueError, r"max_tokens must be an int >= 5"),
    (TranslatorConfig, {"clip_norm": math.inf}, ValueError, r"clip_norm must be"),
    (TranslatorConfig, {"attention": "yes"}, TypeError, r"attention must be True or False"),
    (TranslatorConfig, {"cell": "simple"}, ValueError, r"cell must be one of 'lstm', 'gru'"),
    (ClassifierConfig, {"max_length": -1}, ValueError, r"max_length must be a positive int"),
    (ClassifierConfig, {"mode": "bytes"}, ValueError, r"mode must be one of"),
    (ClassifierConfig, {"recurrent_dropout": 1.0}, ValueError, r"recurrent_dropout must be"),
    (ClassifierConfig, {"lr": 0}, ValueError, r"lr must be a positive finite number, got 0"),
    (ClassifierConfig, {"lr": "0.1"}, TypeError, r"lr must be .*got '0.1'"),
    (ClassifierConfig, {"units": True}, TypeError, r"units must be a positive int.*got True"),
    (ClassifierConfig, {"pooling": "median"}, ValueError, r"pooling must be one of"),
    (ClassifierConfig, {"bidirectional": None}, TypeError, r"bidirectional must be True"),
    (ClassifierConfig, {"dropout": math.nan}, ValueError, r"dropout must be .*got nan"),
    (ClassifierConfig, {"units": 10 ** 9}, ValueError, r"units must be a positive int no "),
])
def test_bad_config_is_refused_at_construction(make, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        make(**kwargs)


def test_numpy_scalars_are_accepted_and_become_python_numbers():
    c = GeneratorConfig(units=np.int64(4), lr=np.float32(0.01), dropout=np.float64(0.1))
    assert type(c.units) is int and type(c.lr) is float and c.units == 4
    t = TranslatorConfig(units=np.int32(4), bidirectional=np.bool_(True))
    assert t.bidirectional is True and type(t.units) is int
    json.dumps(ClassifierConfig(units=np.int16(3), max_length=np.int64(9)).__dict__)


# ---------------------------------------------------------------- sampling

LOGITS = torch.tensor([0.0, 1.0, 3.0, 2.0])


@pytest.mark.parametrize("logits, kwargs, error, needle", [
    (LOGITS, {"temperature": math.nan}, ValueError, r"temperature must be a finite number"),
    (LOGITS, {"temperature": math.inf}, ValueError, r"temperature must be a finite number"),
    (LOGITS, {"temperature": "0.5"}, TypeError, r"temperature must be .*got '0.5'"),
    (LOGITS, {"top_k": 2.5}, TypeError, r"top_k must be a positive int or None, got 2.5"),
    (LOGITS, {"top_p": 0}, ValueError, r"top_p must be a finite number in \(0, 1\]"),
    (torch.tensor([0.0, math.nan]), {}, ValueError, r"logits contain NaN"),
    (torch.full((3,), -math.inf), {}, ValueError, r"every logit is -inf"),
    ([0.0, 1.0], {}, TypeError, r"logits must be a torch.Tensor"),
])
def test_bad_sampling_arguments(logits, kwargs, error, needle):
    with pytest.raises(error, match=needle):
        sample_next(logits, **kwargs)


def test_a_tiny_temperature_is_greedy_not_nan():
    assert sample_next(LOGITS, temperature=1e-300) == 2


@pytest.mark.parametrize("args, kwargs, error, needle", [
    (("he", 5), {"temperature": math.nan}, ValueError, r"temperature"),
    (("he", 5), {"top_k": 2.5}, TypeError, r"top_k"),
    (("he", 5), {"seed": -1}, ValueError, r"seed must be a non-negative int"),
    (("he", 5), {"seed": 1.5}, TypeError, r"seed must be a non-negative int"),
    (("he", 5), {"on_token": "print"}, TypeError, r"on_token must be a callable"),
    (("he", True), {}, TypeError, r"length must be a non-negative int, got True"),
    (("he", -2), {}, ValueError, r"length must be a non-negative int, got -2"),
    ((123, 5), {}, TypeError, r"prompt must be a str, got int"),
    ((None, 5), {}, TypeError, r"prompt must be a str, got NoneType"),
])
def test_bad_generate_arguments(gen, args, kwargs, error, needle):
    streamed = []
    with pytest.raises(error, match=needle):
        gen.generate(*args, **kwargs, **({} if "on_token" in kwargs else
                                         {"on_token": streamed.append}))
    assert streamed == []                     # refused before the first token


def test_generate_accepts_numpy_ints(gen):
    out = gen.generate("he", np.int64(3), top_k=np.int32(2), seed=np.uint8(1))
    assert out.startswith("he") and len(out) == 5


def test_generator_evaluate_counts_unseen_characters(gen):
    m = gen.evaluate("zzZ")
    assert m["unknown_tokens"] == 3 and m["tokens"] == 2
    assert gen.evaluate("hello world")["unknown_tokens"] == 0
    with pytest.raises(TypeError, match="text must be a str"):
        gen.evaluate(["hello"])


# ---------------------------------------------------------------- translation

@pytest.mark.parametrize("call, error, needle", [
    (lambda t: t.translate("one", max_length=0), ValueError, r"max_length must be a positive"),
    (lambda t: t.translate("one", max_length=-1), ValueError, r"max_length must be a positive"),
    (lambda t: t.translate("one", beam=100000), ValueError,
     r"beam=100000 is larger than the target vocabulary, which has 6 tokens"),
    (lambda t: t.translate("one", beam=2.0), TypeError, r"beam must be a positive int"),
    (lambda t: t.translate(123), TypeError, r"text must be a str or a list of str, got int"),
    (lambda t: t.translate(["one", None]), TypeError, r"text 1 must be a str, got NoneType"),
    (lambda t: t.translate(["one", " "]), ValueError, r"text 1 is ' '"),
    (lambda t: t.evaluate(PAIRS, limit=0), ValueError, r"limit must be a positive int"),
    (lambda t: t.evaluate(PAIRS, limit=-1), ValueError, r"limit must be a positive int"),
    (lambda t: t.evaluate(PAIRS, limit=2.5), TypeError, r"limit must be a positive int"),
    (lambda t: Translator(units=4).fit(None, verbose=0), TypeError, r"pairs must be a list"),
    (lambda t: Translator(units=4).fit(PAIRS, val=1.0, verbose=0), ValueError,
     r"val must be a finite number in \[0, 1\)"),
])
def test_bad_translate_arguments(tr, call, error, needle):
    with pytest.raises(error, match=needle):
        call(tr)


def test_translate_accepts_numpy_ints(tr):
    assert isinstance(tr.translate("one", beam=np.int64(2), max_length=np.int32(3)), str)


# ---------------------------------------------------------------- classification

@pytest.mark.parametrize("call, error, needle", [
    (lambda c: SequenceClassifier(units=4).fit(TEXTS[:4], [1, None, 0, 1], verbose=0),
     ValueError, r"labels\[1\] is None"),
    (lambda c: SequenceClassifier(units=4).fit(TEXTS[:4], [1.0, 0.0, math.nan, 1.0],
                                               verbose=0), ValueError, r"labels\[2\] is nan"),
    (lambda c: SequenceClassifier(units=4).fit(TEXTS[:4], [], verbose=0), ValueError,
     r"labels are empty"),
    (lambda c: SequenceClassifier(units=4).fit(TEXTS[:4], [0, 1, 0, 1], val=0.9, verbose=0),
     ValueError, r"val=0.9 leaves no sample of 4"),
    (lambda c: c.evaluate(TEXTS[:4], LABELS[:3]), ValueError, r"4 samples but 3 labels"),
    (lambda c: c.predict([]), ValueError, r"x holds no samples"),
    (lambda c: SequenceClassifier(units=4).fit([[1, "a"]] * 4, [0, 1, 0, 1], verbose=0),
     ValueError, r"x must be texts .* or float sequences"),
])
def test_bad_classifier_input(clf, call, error, needle):
    with pytest.raises(error, match=needle):
        call(clf)


def test_classifier_accepts_an_array_of_texts(clf):
    np.testing.assert_array_equal(clf.predict(np.array(TEXTS[:4])), clf.predict(TEXTS[:4]))


# ---------------------------------------------------------------- loaded folders

def _edit(name, change):
    """A function that edits the JSON file ``name`` of a folder with ``change(obj)``."""
    def edit(folder):
        path = folder / name
        obj = json.loads(path.read_text())
        change(obj)
        path.write_text(json.dumps(obj))
    return edit


def _set(key, value):
    return lambda obj: obj.__setitem__(key, value)


def _grow(obj):
    obj["vocabulary"] = obj["vocabulary"] + [f"x{i}" for i in range(30)]


def _cut(obj):
    obj["vocabulary"] = obj["vocabulary"][:5]


def _drop_go_eos(obj):
    obj["specials"] = []
    obj["vocabulary"] = [t for t in obj["vocabulary"] if t not in ("<go>", "<eos>")] + ["p", "q"]


def _remove(name):
    return lambda folder: (folder / name).unlink()


LOADERS = {"clf": SequenceClassifier.load, "gen": TextGenerator.load, "tr": Translator.load}


@pytest.mark.parametrize("kind, corrupt, needle", [
    ("clf", _edit("classifier.json", _set("classes", [0])),
     r"classifier.json is not a valid classifier file \(classes must be a list of 2"),
    ("clf", _edit("classifier.json", _set("classes", ["a", "b", "c"])),
     r"classifier.json lists 3 classes .* has 1 outputs"),
    ("clf", _remove("vocab.json"), r"vocab.json is missing: the saved model reads texts"),
    ("clf", _edit("vocab.json", _grow),
     r"vocab.json holds 40 tokens but the Embedding in .*weights.safetensors has 10 rows"),
    ("clf", _edit("classifier.json", lambda m: m["config"].__setitem__("units", 5)),
     r"classifier.json and .*weights.safetensors disagree"),
    ("clf", _edit("classifier.json", lambda m: m["config"].__setitem__("max_length", 0)),
     r"classifier.json is not a valid classifier file \(max_length"),
    ("gen", _edit("vocab.json", _grow), r"vocab.json holds \d+ tokens but the Embedding in "),
    ("gen", _edit("vocab.json", _cut), r"vocab.json holds 5 tokens but the Embedding in "),
    ("gen", _edit("generator.json", _set("trained_tokens", -5)),
     r"generator.json is not a valid generator file \(trained_tokens must be a non-negative"),
    ("gen", _edit("generator.json", lambda m: m["config"].__setitem__("mode", "word")),
     r"vocab.json is a char-level vocabulary but .*generator.json says mode='word'"),
    ("gen", _edit("generator.json", lambda m: m["config"].__setitem__("units", 6)),
     r"generator.json and .*weights.safetensors disagree"),
    ("gen", _edit("generator.json", lambda m: m["config"].__setitem__("lr", "fast")),
     r"generator.json is not a valid generator file \(lr must be"),
    ("tr", _edit("translator.json", _set("max_source", -1)),
     r"translator.json is not a valid translator file \(max_source must be a positive int"),
    ("tr", _edit("target_vocab.json", _drop_go_eos), r"target_vocab.json lacks <go> and <eos>"),
    ("tr", _edit("source_vocab.json", _grow),
     r"source_vocab.json holds \d+ tokens but src_emb.weight in .*weights.safetensors"),
    ("tr", _edit("target_vocab.json", _grow),
     r"target_vocab.json holds \d+ tokens but tgt_emb.weight"),
    ("tr", _edit("translator.json", _set("fit_seconds", "x")),
     r"translator.json is not a valid translator file \(fit_seconds"),
    ("tr", _edit("translator.json", lambda m: m["config"].__setitem__("units", 6)),
     r"weights.safetensors \(with the config in .*translator.json\)"),
])
def test_inconsistent_saved_folder_is_refused_at_load(folders, tmp_path, kind, corrupt, needle):
    folder = tmp_path / kind
    shutil.copytree(folders / kind, folder)
    LOADERS[kind](folder)                     # whole, it loads
    corrupt(folder)
    with pytest.raises(ValueError, match=needle):
        LOADERS[kind](folder)
