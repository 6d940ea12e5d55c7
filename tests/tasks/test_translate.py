"""Translator: a tiny task learned to 100 %, beam 1 = greedy, BLEU by hand, saving, CLI."""

import pytest
from typer.testing import CliRunner

from rnnkit import datasets
from rnnkit.cli.main import app
from rnnkit.datasets.numbers_fr import english, french
from rnnkit.tasks import Translator
from rnnkit.tasks.translate import bleu

PAIRS = [(english(n), french(n)) for n in range(0, 100, 3)]     # 34 pairs, 0..99


@pytest.fixture(scope="module")
def trained():
    tr = Translator(cell="gru", units=64, embedding=32, lr=1e-2, attention=True)
    tr.fit(PAIRS, epochs=60, batch_size=16, val=0.0, verbose=0)
    return tr


def test_tiny_task_learned_to_100_percent_and_beam_1_is_greedy(trained):
    m = trained.evaluate(PAIRS)
    assert m["exact_match"] == 1.0 and m["bleu"] == pytest.approx(1.0)
    for src, _ in PAIRS[:8]:
        assert trained.translate(src, beam=1) == trained.translate(src, beam=1)
    greedy = trained.translate([s for s, _ in PAIRS])
    assert trained.translate([s for s, _ in PAIRS], beam=1) == greedy
    assert trained.translate("seventy-two", beam=3) == "soixante-douze"


def test_unknown_words_and_bad_input_are_named(trained, tmp_path):
    with pytest.raises(ValueError, match="not in the vocabulary: \\['million'\\]"):
        trained.translate("three million")
    with pytest.raises(ValueError, match="non-empty"):
        trained.translate("  ")
    with pytest.raises(ValueError, match="pair 1 is not two non-empty strings"):
        Translator().fit([("a", "b"), ("c", "")])
    trained.save(tmp_path / "t")
    back = Translator.load(tmp_path / "t")
    assert back.translate("ninety-nine") == trained.translate("ninety-nine")
    (tmp_path / "t" / "translator.json").write_text("{}")
    with pytest.raises(ValueError, match="not a valid translator file"):
        Translator.load(tmp_path / "t")


def test_bleu_by_hand():
    ref = "the cat is on the mat".split()
    assert bleu([ref], [ref]) == pytest.approx(1.0)
    assert bleu([[]], [ref]) == 0.0
    short = "the cat".split()               # brevity penalty exp(1 - 6/2)
    assert bleu([short], [ref], n=1) == pytest.approx(2.718281828 ** (1 - 3))


def test_cli_translate_quick(tmp_path):
    r = CliRunner().invoke(app, ["translate", "numbers-fr", "--train", "--quick",
                                 "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    assert "exact match" in r.output
    s = CliRunner().invoke(app, ["translate", "--model", str(tmp_path / "m"), "twelve"])
    assert s.exit_code == 0 and s.output.strip()
    assert len(datasets.load("numbers-fr").split(0.1)[1]) == 1000


def test_beam_1_equals_an_independent_greedy_decode(trained):
    import torch
    model, go, eos = trained.model, trained.tgt_vec.id("<go>"), trained.tgt_vec.id("<eos>")
    for src_text, _ in PAIRS[::5]:
        src = trained._source_ids([src_text])
        with torch.no_grad():
            enc, mask, state = model.encode(src)
            tokens = [go]
            for _ in range(20):                       # feed back the argmax, one step at a time
                logits, state = model.decode(torch.tensor([[tokens[-1]]]), enc, mask, state)
                logits[0, -1, :2] = -float("inf")
                tokens.append(int(logits[0, -1].argmax()))
                if tokens[-1] == eos:
                    break
        expected = trained.tgt_vec.decode([t for t in tokens[1:] if t != eos])
        assert trained.translate(src_text, beam=1) == expected


def test_bidirectional_lstm_encoder_learns_too():
    tr = Translator(cell="lstm", units=32, embedding=16, bidirectional=True, lr=1e-2,
                    reverse_source=False)
    tr.fit(PAIRS, epochs=60, batch_size=16, val=0.0, verbose=0)
    assert tr.evaluate(PAIRS)["exact_match"] >= 0.9


def test_evaluation_reads_unseen_source_words_as_unk_and_counts_them(trained):
    m = trained.evaluate([("three million", "trois millions"), ("twelve", "douze")])
    assert m["unknown_sources"] == 1 and m["pairs"] == 2
