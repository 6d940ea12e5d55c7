"""TextVectorizer: round trips, [UNK], padding, masks, saving, bad input."""

import json

import numpy as np
import pytest

from rnnkit.data import PAD, UNK, TextVectorizer


def test_char_round_trip_and_padding():
    v = TextVectorizer(mode="char").adapt(["hello world", "howdy"])
    ids = v.encode(["hello", "how", ""])
    assert ids.shape == (3, 5) and ids[1, 3:].tolist() == [0, 0] and ids[2].sum() == 0
    assert v.decode(ids[0]) == "hello" and v.decode(ids[1]) == "how"
    assert v.mask(ids).sum(1).tolist() == [5, 3, 0]
    assert v.vocabulary[:2] == [PAD, UNK] and v.size == len(set("hello worldhowdy")) + 2


def test_word_mode_standardizes_caps_and_maps_unknowns():
    v = TextVectorizer(mode="word", max_tokens=5).adapt(["The cat, the CAT!", "a dog", "the"])
    assert v.vocabulary == [PAD, UNK, "the", "cat", "a"]             # capped, by frequency
    assert v.decode(v.encode("The dog")[0]) == f"the {UNK}"
    with pytest.raises(ValueError, match="not in the vocabulary: \\['dog'\\]"):
        v.encode("the dog", unknown="error")
    assert v.encode(["a cat the cat"], length=2).tolist() == [[4, 3]]


def test_specials_and_json_round_trip(tmp_path):
    v = TextVectorizer(mode="word", specials=("<go>", "<eos>"),
                       output_sequence_length=6).adapt(["un deux trois"])
    assert v.vocabulary[:4] == [PAD, UNK, "<go>", "<eos>"]
    v.save(tmp_path / "vocab.json")
    w = TextVectorizer.load(tmp_path / "vocab.json")
    assert w.vocabulary == v.vocabulary and w.encode("deux un").shape == (1, 6)
    np.testing.assert_array_equal(w.encode("trois"), v.encode("trois"))


def test_bad_input_is_named(tmp_path):
    with pytest.raises(ValueError, match="the texts are empty"):
        TextVectorizer().adapt(["", ""])
    with pytest.raises(ValueError, match="call adapt"):
        TextVectorizer().encode("x")
    with pytest.raises(ValueError, match="mode must be"):
        TextVectorizer(mode="byte")
    with pytest.raises(ValueError, match="outside the vocabulary"):
        TextVectorizer().adapt(["ab"]).decode([7])
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="not an rnnkit vectorizer"):
        TextVectorizer.load(tmp_path / "bad.json")
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(ValueError, match="not a readable vectorizer file"):
        TextVectorizer.load(tmp_path / "broken.json")
