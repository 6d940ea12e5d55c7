"""``rnnkit translate``: train an encoder-decoder on numbers-fr (or a tab-separated pairs
file), report exact match and BLEU on unseen pairs; or translate with a saved model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from .options import (
    DryRun,
    Epochs,
    LogDir,
    Out,
    Precision,
    Quick,
    Quiet,
    Seed,
    Threads,
    log_folder,
    model_folder,
    out_folder,
    plan,
    result,
    verbose_level,
)

EPOCHS = 40
QUICK = dict(train=600, test=100, units=32, epochs=2)    # --quick: seconds on 2 cores


def translate(
    source: Annotated[str | None, typer.Argument(
        metavar="SOURCE", help="With --train: numbers-fr or a pairs file (source TAB target "
        "per line); with --model: the text to translate.")] = None,
    train: Annotated[bool, typer.Option("--train", help="Train on SOURCE.")] = False,
    model: Annotated[Path | None, typer.Option(
        metavar="DIR", help="A saved translator folder.")] = None,
    cell: Annotated[str, typer.Option(metavar="CELL", help="lstm | gru.")] = "gru",
    units: Annotated[int, typer.Option(min=1, metavar="N", help="Hidden units.")] = 128,
    attention: Annotated[bool, typer.Option(
        "--attention/--no-attention", show_default=False,
        help="Dot-product attention over the encoder's outputs (default: on).")] = True,
    bidirectional: Annotated[bool, typer.Option(
        "--bidirectional/--no-bidirectional", show_default=False,
        help="A bidirectional encoder (default: one way).")] = False,
    reverse: Annotated[bool, typer.Option(
        "--reverse/--no-reverse", show_default=False,
        help="Feed the source reversed, the tutorial's trick (default: on).")] = True,
    limit: Annotated[int | None, typer.Option(
        min=1, metavar="N", help="Use the first N pairs of a file.")] = None,
    beam: Annotated[int, typer.Option(min=1, metavar="K", help="Beam width (1 = greedy).")
                    ] = 1,
    epochs: Epochs = None,
    quick: Quick = False,
    dry_run: DryRun = False,
    out: Out = Path("runs/translate"),
    seed: Seed = 0,
    threads: Threads = None,
    precision: Precision = "fp32",
    quiet: Quiet = False,
    logdir: LogDir = None,
) -> None:
    """Translate with an RNN encoder-decoder.

    With --train, train on SOURCE, score exact match and BLEU-4 on a tenth of the pairs
    never seen in training, and write the model and metrics.json to --out; with --model,
    translate the text SOURCE.

    \b
    rnnkit translate numbers-fr --train                      train, score unseen numbers
    rnnkit translate numbers-fr --train --quick              a smoke run in seconds
    rnnkit translate --model runs/translate "three hundred and twelve" --beam 4
    """
    from ..tasks import Translator
    if train and model is not None:
        raise ValueError("give --train SOURCE (to train a translator) or --model DIR and the "
                         "TEXT (to translate with a saved one), not both")
    if cell not in ("lstm", "gru"):
        raise ValueError(f"--cell must be lstm or gru, got {cell!r}")
    if quick and not train:
        raise ValueError("--quick is a smoke run of training: give --train SOURCE")
    if not train:
        if model is None or source is None:
            raise ValueError("give --train SOURCE, or --model DIR and the TEXT to translate")
        tr = Translator.load(model)
        if dry_run:
            tr.translate(source, beam=1)       # refuses words the model never saw, by name
            plan(f"rnnkit translate --model {model}", {
                "model": f"{tr.config.cell.upper()}({tr.config.units}) encoder-decoder"
                         + (", attention" if tr.config.attention else ""),
                "text": repr(source), "beam": beam,
                "writes": "nothing (the translation goes to the terminal)"})
            return
        text = tr.translate(source, beam=beam)
        typer.echo(text or "(the model ended the sentence at once: no words; train it longer)")
        return
    if source is None:
        raise ValueError("--train needs SOURCE: numbers-fr or a pairs file")
    out_folder(out)
    log_folder(logdir)
    model_folder(out, marker="translator.json")
    pairs = _pairs(source, limit)
    train_part, test_part = pairs.split(0.1, seed=seed)
    epochs = epochs or (QUICK["epochs"] if quick else EPOCHS)
    if quick:
        units = QUICK["units"]
        train_part = type(train_part)(train_part.name, train_part.pairs[:QUICK["train"]])
        test_part = type(test_part)(test_part.name, test_part.pairs[:QUICK["test"]])
    tr = Translator(cell=cell, units=units, attention=attention,
                    bidirectional=bidirectional, reverse_source=reverse)
    if dry_run:
        plan(f"rnnkit translate {source} --train" + (" --quick" if quick else ""), {
            "data": f"{pairs.name}: {len(train_part)} training pairs, {len(test_part)} unseen "
                    "test pairs",
            "model": f"{cell.upper()}({units}) encoder-decoder"
                     + (", bidirectional encoder" if bidirectional else "")
                     + (", attention" if attention else "")
                     + (", reversed source" if reverse else ""),
            "epochs": f"at most {epochs} (early stopping on 5 % of the training pairs)",
            "threads": threads or "chosen from the model's size",
            "precision": precision,
            "progress": "none (--quiet)" if quiet else "a bar on a terminal, one line per "
                                                      "epoch elsewhere",
            "logdir": logdir or "none",
            "writes": f"{out}/: the model and metrics.json",
            "scoring": f"exact match and BLEU-4, beam {beam}",
        })
        return
    if quick:
        result(f"{pairs.name}: {len(train_part)} training pairs, {cell.upper()}({units}), "
               f"{epochs} epoch{'s' if epochs != 1 else ''}: a smoke run, not a result", quick)
    tr.fit(train_part, epochs=epochs, seed=seed, verbose=verbose_level(quiet),
           threads=threads, log_dir=logdir, precision=precision)
    m = tr.evaluate(test_part, beam=beam)
    tr.save(out)
    (out / "metrics.json").write_text(json.dumps(
        {**m, "fit_seconds": tr.fit_seconds, "train_pairs": len(train_part),
         "epochs": len(tr.history["loss"]), "quick": quick}, indent=2, ensure_ascii=False))
    result(f"{pairs.name}: {len(train_part)} training pairs, {len(test_part)} "
           f"unseen test pairs; fit {tr.fit_seconds:.0f} s", quick)
    result(f"exact match {m['exact_match']:.4f}, BLEU-4 {m['bleu']:.4f} "
           f"(beam {beam}); wrote {out}", quick)
    if m["unknown_sources"]:
        result(f"{m['unknown_sources']} test sources hold words unseen in "
               "training (read as [UNK])", quick)
    for s, h, t in m["examples_wrong"][:5]:
        result(f"  {s}  ->  {h}   (reference: {t})", quick)


def _pairs(source: str, limit: int | None):
    from .. import datasets
    if source == "numbers-fr":
        return datasets.load("numbers-fr")
    return datasets.read_pairs(source, limit=limit)
