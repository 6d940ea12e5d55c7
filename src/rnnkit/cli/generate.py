"""``rnnkit generate``: train a character-level generator on Shakespeare (or any text
file), or sample from a saved one, streaming the text as it is made."""

from __future__ import annotations

import sys
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

SIZES = {
    "small": dict(units=512, embedding=64, seq_len=100, batch_size=64),    # 15 min on 2 cores
    "tutorial": dict(units=1024, embedding=256, seq_len=100, batch_size=64),  # TF's tutorial
}
SIZES["quick"] = SIZES["small"]              # the preset's former name, still accepted
EPOCHS = 20
QUICK = dict(chars=20000, units=32, embedding=16, seq_len=50, batch_size=16, epochs=2,
             length=200)                     # --quick: a few seconds on 2 cores


def generate(
    source: Annotated[str | None, typer.Argument(
        metavar="SOURCE", help="shakespeare, or a UTF-8 text file to train on (with "
        "--train).")] = None,
    train: Annotated[bool, typer.Option("--train", help="Train on SOURCE first.")] = False,
    model: Annotated[Path | None, typer.Option(
        metavar="DIR", help="A saved generator folder to sample from.")] = None,
    cell: Annotated[str, typer.Option(
        metavar="CELL", help="simple | lstm | gru | lnlstm.")] = "gru",
    size: Annotated[str, typer.Option(
        metavar="SIZE", help="small (Embedding 64 + GRU 512) | tutorial (Embedding 256 + GRU "
        "1024, as the TensorFlow tutorial).")] = "small",
    minutes: Annotated[float | None, typer.Option(
        metavar="M", help="Stop after the epoch that crosses this many minutes.")] = None,
    prompt: Annotated[str, typer.Option(metavar="TEXT", help="The text to continue.")
                      ] = "ROMEO:",
    length: Annotated[int, typer.Option(min=0, metavar="N", help="Characters to generate.")
                      ] = 500,
    temperature: Annotated[float, typer.Option(
        min=0.0, metavar="T", help="0 = always the likeliest.")] = 0.8,
    top_k: Annotated[int | None, typer.Option(
        min=1, metavar="K", help="Sample among the K likeliest.")] = None,
    top_p: Annotated[float | None, typer.Option(
        metavar="P", help="Sample within this probability mass.")] = None,
    epochs: Epochs = None,
    quick: Quick = False,
    dry_run: DryRun = False,
    out: Out = Path("runs/generate"),
    seed: Seed = None,
    threads: Threads = None,
    precision: Precision = "fp32",
    quiet: Quiet = False,
    logdir: LogDir = None,
) -> None:
    """Generate text one character at a time.

    With --train, train on SOURCE and write the model, metrics.json, training.png and
    sample.txt to --out, then sample; with --model, sample from a saved generator. Without
    --seed, training uses seed 0 and sampling differs from run to run. --precision applies
    to training and to the sample streamed at the end (bf16: the network's products in
    bfloat16).

    \b
    rnnkit generate shakespeare --train --minutes 15      train, report, sample
    rnnkit generate shakespeare --train --quick           a smoke run in seconds
    rnnkit generate --model runs/generate --prompt "ROMEO:" --length 500
    """
    from ..tasks import TextGenerator
    # every option is checked before any text is read or any training starts
    if train and model is not None:
        raise ValueError("give --train SOURCE (to train a generator) or --model DIR (to sample "
                         "from a saved one), not both")
    if not train and model is None:
        raise ValueError("give --train SOURCE, or --model DIR to sample from")
    if train and source is None:
        raise ValueError("--train needs SOURCE: shakespeare or a text file")
    if quick and not train:
        raise ValueError("--quick is a smoke run of training: give --train SOURCE")
    if size not in SIZES:
        raise ValueError(f"--size must be small or tutorial, got {size!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {top_p:g}")
    if minutes is not None and not minutes > 0:
        raise ValueError(f"--minutes must be a positive number, got {minutes:g}")
    if not prompt:
        raise ValueError("--prompt must hold at least one character")
    if not train:
        _sample(model, prompt, length, temperature, top_k, top_p, seed, dry_run, precision)
        return
    out_folder(out)
    model_folder(out)
    log_folder(logdir)
    text = _load_text(source)
    shape = dict(SIZES[size])
    epochs = epochs or (QUICK["epochs"] if quick else EPOCHS)
    if quick:
        text = text[:QUICK["chars"]]
        shape = {k: QUICK[k] for k in ("units", "embedding", "seq_len", "batch_size")}
        length = min(length, QUICK["length"])
    unseen = sorted(set(prompt) - set(text))
    if unseen:
        raise ValueError(f"--prompt {prompt!r} has characters that never occur in "
                         f"{source}: {''.join(unseen)!r}; the generator could not read them")
    gen = TextGenerator(cell=cell, **shape)
    if dry_run:
        held = int(len(text) * 0.1)
        plan(f"rnnkit generate {source} --train" + (" --quick" if quick else ""), {
            "text": f"{len(text):,} characters, {len(set(text))} distinct; the last "
                    f"{held:,} held out",
            "model": f"Embedding({shape['embedding']}) + {cell.upper()}({shape['units']}) "
                     "+ Dense over the characters",
            "training": f"{shape['batch_size']} streams, {shape['seq_len']} characters per "
                        "step (truncated BPTT)",
            "epochs": f"at most {epochs}" + (f", stopping after {minutes:g} min"
                                             if minutes else ""),
            "threads": threads or "chosen from the model's size",
            "precision": precision,
            "progress": "none (--quiet)" if quiet else "a bar on a terminal, one line per "
                                                      "epoch elsewhere",
            "logdir": logdir or "none",
            "writes": f"{out}/: the model, metrics.json, training.png, sample.txt",
            "then": f"{length} characters after {prompt!r} at temperature {temperature:g}, "
                    f"precision {precision}",
        })
        return
    if quick:
        result(f"{len(text):,} characters, Embedding({shape['embedding']}) + "
               f"{cell.upper()}({shape['units']}), {_epochs(epochs)}: a smoke run, not a result",
               quick)
    gen.fit(text, epochs=epochs, held_out=0.1, seed=seed or 0, verbose=verbose_level(quiet),
            max_minutes=minutes, threads=threads, log_dir=logdir, precision=precision)
    gen.save(out)
    metrics = gen.report(out, prompt=prompt, length=min(length, 200), seed=seed or 0)
    loss = metrics.get("held_out_loss")
    if loss is not None:
        result(f"held-out loss {loss:.3f} nats/char "
               f"({metrics['held_out_bits_per_token']:.3f} bits), "
               f"fit {gen.fit_seconds:.0f} s; wrote {out}", quick)
    if quick:
        result(f"sample after {_epochs(len(gen.history.get('loss', [])))}:", quick)
    _stream(gen, prompt, length, temperature, top_k, top_p, seed, precision)


def _epochs(n: int) -> str:
    return f"{n} epoch" + ("" if n == 1 else "s")


def _sample(model: Path, prompt: str, length: int, temperature: float, top_k: int | None,
            top_p: float | None, seed: int | None, dry_run: bool, precision: str) -> None:
    from ..precision import fit_precision
    from ..tasks import TextGenerator
    if not model.is_dir():
        raise ValueError(f"--model {model} is not a folder (a saved generator: "
                         "generator.json, vocab.json, weights)")
    gen = TextGenerator.load(model)
    gen.vectorizer.encode(prompt, unknown="error")        # refuse before printing
    choice = fit_precision(gen.model, precision)          # a bf16 that cannot run, too
    if dry_run:
        c = gen.config
        plan(f"rnnkit generate --model {model}", {
            "model": f"Embedding({c.embedding}) + {c.cell.upper()}({c.units}) + Dense over "
                     f"{gen.vectorizer.size} tokens",
            "sample": f"{length} characters after {prompt!r} at temperature {temperature:g}"
                      + (f", top-k {top_k}" if top_k else "")
                      + (f", top-p {top_p:g}" if top_p else "")
                      + (f", seed {seed}" if seed is not None else ""),
            "precision": f"{choice.kind} ({choice.reason})",
            "writes": "nothing (the sample goes to the terminal)",
        })
        return
    _stream(gen, prompt, length, temperature, top_k, top_p, seed, precision)


def _stream(gen, prompt: str, length: int, temperature: float, top_k: int | None,
            top_p: float | None, seed: int | None, precision: str) -> None:
    typer.echo(prompt, nl=False)
    gen.generate(prompt, length, temperature=temperature, top_k=top_k, top_p=top_p,
                 seed=seed, on_token=lambda t: (sys.stdout.write(t), sys.stdout.flush()),
                 precision=precision)
    typer.echo("")


def _load_text(source: str) -> str:
    from .. import datasets
    if source == "shakespeare":
        return datasets.load("shakespeare").text
    from ..io import MAX_TEXT_BYTES, read_text
    path = Path(source)
    if not path.exists():
        raise ValueError(f"{source!r} is neither 'shakespeare' nor a text file")
    text = read_text(path, "a UTF-8 training text", MAX_TEXT_BYTES)
    if not text.strip():
        raise ValueError(f"{path} is empty")
    return text
