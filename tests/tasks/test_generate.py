"""TextGenerator: learns a stream, sampling is seeded, temperature 0 is greedy, bad input."""

import math

import pytest
import torch
from typer.testing import CliRunner

from rnnkit.cli.main import app
from rnnkit.tasks import TextGenerator
from rnnkit.tasks.generate import sample_next

TEXT = "the cat sat on the mat. " * 150


@pytest.fixture(scope="module")
def trained():
    gen = TextGenerator(cell="gru", units=32, embedding=8, seq_len=20, batch_size=8, lr=1e-2)
    gen.fit(TEXT, epochs=12, verbose=0)
    return gen


def test_learns_the_stream_and_continues_it(trained):
    assert trained.history["val_loss"][-1] < 0.2 < trained.history["val_loss"][0]
    assert trained.generate("the c", 18, temperature=0) == "the cat sat on the mat."
    m = trained.evaluate("the cat sat on the mat.")
    assert m["perplexity"] == pytest.approx(math.exp(m["loss"]))
    assert m["bits_per_token"] == pytest.approx(m["loss"] / math.log(2))


def test_sampling_is_seeded_and_streams(trained):
    a = trained.generate("the", 60, temperature=1.5, seed=3)
    b = trained.generate("the", 60, temperature=1.5, seed=3)
    seen = []
    c = trained.generate("the", 60, temperature=1.5, seed=3, on_token=seen.append)
    assert a == b == c and "".join(seen) == a[3:] and "[PAD]" not in a


def test_sample_next_rules():
    logits = torch.tensor([0.0, 1.0, 3.0, 2.0])
    assert sample_next(logits, temperature=0) == 2                      # greedy
    g = torch.Generator().manual_seed(0)
    assert {sample_next(logits, 1.0, top_k=1, generator=g) for _ in range(20)} == {2}
    picks = {sample_next(logits, 1.0, top_p=0.8, generator=g) for _ in range(200)}
    assert picks <= {2, 3} and picks == {2, 3}                  # 0.67 + 0.24 reaches 0.8
    with pytest.raises(ValueError, match="temperature"):
        sample_next(logits, -1.0)


def test_bad_input_is_named(trained, tmp_path):
    with pytest.raises(ValueError, match="not in the vocabulary"):
        trained.generate("the dog", 5)
    with pytest.raises(ValueError, match="needs a prompt"):
        trained.generate("", 5)
    with pytest.raises(ValueError, match="non-empty text"):
        TextGenerator().fit("   ")
    with pytest.raises(ValueError, match="not trained"):
        TextGenerator().generate("a", 1)
    long = "the cat sat on the mat. " * 40
    with pytest.raises(ValueError, match="longer than any stream"):
        trained.generate(long, 1)
    trained.save(tmp_path / "g")
    back = TextGenerator.load(tmp_path / "g")
    assert back.generate("the c", 10, temperature=0) == trained.generate("the c", 10,
                                                                         temperature=0)


def test_cli_train_quick_then_sample(tmp_path):
    r = CliRunner().invoke(app, ["generate", "shakespeare", "--train", "--quick", "--out",
                                 str(tmp_path / "g"), "--length", "30", "--seed", "0"])
    assert r.exit_code == 0, r.output
    assert "held-out loss" in r.output and (tmp_path / "g" / "sample.txt").is_file()
    s = CliRunner().invoke(app, ["generate", "--model", str(tmp_path / "g"), "--prompt",
                                 "FIRST", "--length", "20", "--seed", "1"])
    assert s.exit_code == 0 and s.output.startswith("FIRST")
    bad = CliRunner().invoke(app, ["generate", "--model", str(tmp_path / "g"), "--prompt",
                                   "\u00e9\u00e9", "--length", "5"])
    assert bad.exit_code != 0 and "not in the vocabulary" in bad.output


def test_word_level_generator():
    gen = TextGenerator(cell="lstm", units=32, embedding=8, mode="word", seq_len=5,
                        batch_size=4, lr=1e-2)
    gen.fit("the cat sat on the mat . " * 60, epochs=15, verbose=0)
    out = gen.generate("the cat", 4, temperature=0)
    assert out == "the cat sat on the mat"
