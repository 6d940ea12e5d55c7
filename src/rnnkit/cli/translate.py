"""``rnnkit translate``: train an encoder-decoder on numbers-fr (or a tab-separated pairs
file), report exact match and BLEU on unseen pairs; or translate with a saved model."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .options import out_folder


def translate(
    source: str = typer.Argument(None, help="with --train: numbers-fr or a pairs file "
                                 "(source<TAB>target per line); with --model: the text"),
    train: bool = typer.Option(False, "--train", help="train on SOURCE"),
    model: Path = typer.Option(None, help="a saved translator folder"),
    out: Path = typer.Option(Path("runs/translate"), help="where --train writes the model "
                             "and metrics.json"),
    cell: str = typer.Option("gru", help="lstm | gru"),
    units: int = typer.Option(128, min=1),
    attention: bool = typer.Option(True, "--attention/--no-attention"),
    bidirectional: bool = typer.Option(False, "--bidirectional/--one-way",
                                       help="bidirectional encoder"),
    reverse: bool = typer.Option(True, "--reverse/--no-reverse",
                                 help="feed the source reversed (the tutorial's trick)"),
    epochs: int = typer.Option(40, min=1),
    limit: int = typer.Option(None, min=1, help="use the first N pairs of a file"),
    beam: int = typer.Option(1, min=1, help="beam width (1 = greedy)"),
    seed: int = typer.Option(0),
    dry_run: bool = typer.Option(False, "--dry-run", help="300 pairs, two epochs"),
) -> None:
    """Translate with an RNN encoder-decoder.

    rnnkit translate numbers-fr --train                      train, score unseen numbers
    rnnkit translate --model runs/translate "three hundred and twelve" --beam 4
    """
    from ..tasks import Translator
    if train and model is not None:
        raise ValueError("give --train SOURCE (to train a translator) or --model DIR and the "
                         "TEXT (to translate with a saved one), not both")
    if cell not in ("lstm", "gru"):
        raise ValueError(f"--cell must be lstm or gru, got {cell!r}")
    if seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if train:
        if source is None:
            raise ValueError("--train needs SOURCE: numbers-fr or a pairs file")
        out_folder(out)
        pairs = _pairs(source, limit)
        if dry_run:
            pairs = type(pairs)(pairs.name, pairs.pairs[:300])
        train_part, test_part = pairs.split(0.1, seed=seed)
        tr = Translator(cell=cell, units=units, attention=attention,
                        bidirectional=bidirectional, reverse_source=reverse)
        tr.fit(train_part, epochs=2 if dry_run else epochs, seed=seed, verbose=1)
        m = tr.evaluate(test_part, beam=beam)
        tr.save(out)
        (out / "metrics.json").write_text(json.dumps(
            {**m, "fit_seconds": tr.fit_seconds, "train_pairs": len(train_part),
             "epochs": len(tr.history["loss"])}, indent=2, ensure_ascii=False))
        typer.echo(f"{pairs.name}: {len(train_part)} training pairs, {len(test_part)} "
                   f"unseen test pairs; fit {tr.fit_seconds:.0f} s")
        typer.echo(f"exact match {m['exact_match']:.4f}, BLEU-4 {m['bleu']:.4f} "
                   f"(beam {beam}); wrote {out}")
        if m["unknown_sources"]:
            typer.echo(f"{m['unknown_sources']} test sources hold words unseen in "
                       "training (read as [UNK])")
        for s, h, t in m["examples_wrong"][:5]:
            typer.echo(f"  {s}  ->  {h}   (reference: {t})")
        return
    if model is None or source is None:
        raise ValueError("give --train SOURCE, or --model DIR and the TEXT to translate")
    tr = Translator.load(model)
    text = tr.translate(source, beam=beam)
    typer.echo(text or "(the model ended the sentence at once: no words; train it longer)")


def _pairs(source: str, limit: int | None):
    from .. import datasets
    if source == "numbers-fr":
        return datasets.load("numbers-fr")
    return datasets.read_pairs(source, limit=limit)
