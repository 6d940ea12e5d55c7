"""``rnnkit generate``: train a character-level generator on Shakespeare (or any text
file), or sample from a saved one, streaming the text as it is made."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

QUICK = dict(units=512, embedding=64, seq_len=100, batch_size=64)   # 15 minutes on 2 cores
TUTORIAL = dict(units=1024, embedding=256, seq_len=100, batch_size=64)   # the tutorial's shape


def generate(
    source: str = typer.Argument(None, help="shakespeare, or a UTF-8 text file to train on "
                                 "(with --train)"),
    train: bool = typer.Option(False, "--train", help="train on SOURCE first"),
    model: Path = typer.Option(None, help="a saved generator folder to sample from"),
    out: Path = typer.Option(Path("runs/generate"), help="where --train writes the model, "
                             "metrics.json, training.png and sample.txt"),
    cell: str = typer.Option("gru", help="simple | lstm | gru | lnlstm"),
    size: str = typer.Option("quick", help="quick (Embedding 64 + GRU 512) | tutorial (Embedding "
                             "256 + GRU 1024, as the TensorFlow tutorial)"),
    epochs: int = typer.Option(20, min=1, help="at most this many passes over the text"),
    minutes: float = typer.Option(None, help="stop after the epoch that crosses this time"),
    prompt: str = typer.Option("ROMEO:", help="the text to continue"),
    length: int = typer.Option(500, min=0, help="tokens to generate"),
    temperature: float = typer.Option(0.8, min=0.0, help="0 = always the likeliest"),
    top_k: int = typer.Option(None, min=1, help="sample among the k likeliest"),
    top_p: float = typer.Option(None, help="sample within this probability mass"),
    seed: int = typer.Option(None, help="fix the sampling (and training) randomness"),
    dry_run: bool = typer.Option(False, "--dry-run", help="train on 20,000 characters, "
                                 "one epoch, GRU 32; then sample"),
) -> None:
    """Generate text one character at a time.

    rnnkit generate shakespeare --train --minutes 15      train, report, sample
    rnnkit generate --model runs/generate --prompt "ROMEO:" --length 500
    """
    from ..tasks import TextGenerator
    from .options import out_folder
    # every option is checked before any text is read or any training starts
    if train and model is not None:
        raise ValueError("give --train SOURCE (to train a generator) or --model DIR (to sample "
                         "from a saved one), not both")
    if not train and model is None:
        raise ValueError("give --train SOURCE, or --model DIR to sample from")
    if train and source is None:
        raise ValueError("--train needs SOURCE: shakespeare or a text file")
    if size not in ("quick", "tutorial"):
        raise ValueError(f"--size must be quick or tutorial, got {size!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"--top-p must be in (0, 1], got {top_p:g}")
    if minutes is not None and not minutes > 0:
        raise ValueError(f"--minutes must be a positive number, got {minutes:g}")
    if seed is not None and seed < 0:
        raise ValueError(f"--seed must be >= 0, got {seed}")
    if not prompt:
        raise ValueError("--prompt must hold at least one character")
    if train:
        out_folder(out)
        text = _load_text(source)
        shape = dict(QUICK if size == "quick" else TUTORIAL)
        if dry_run:
            text, shape = text[:20000], dict(units=32, embedding=16, seq_len=50,
                                             batch_size=16)
        unseen = sorted(set(prompt) - set(text))
        if unseen:
            raise ValueError(f"--prompt {prompt!r} has characters that never occur in "
                             f"{source}: {''.join(unseen)!r}; the generator could not read them")
        gen = TextGenerator(cell=cell, **shape)
        gen.fit(text, epochs=1 if dry_run else epochs, held_out=0.1,
                seed=seed or 0, verbose=1, max_minutes=minutes)
        gen.save(out)
        metrics = gen.report(out, prompt=prompt, length=min(length, 200), seed=seed or 0)
        loss = metrics.get("held_out_loss")
        if loss is not None:
            typer.echo(f"held-out loss {loss:.3f} nats/char "
                       f"({metrics['held_out_bits_per_token']:.3f} bits), "
                       f"fit {gen.fit_seconds:.0f} s; wrote {out}")
    else:
        if not model.is_dir():
            raise ValueError(f"--model {model} is not a folder (a saved generator: "
                             "generator.json, vocab.json, weights)")
        gen = TextGenerator.load(model)
    gen.vectorizer.encode(prompt, unknown="error")        # refuse before printing
    typer.echo(prompt, nl=False)
    gen.generate(prompt, length, temperature=temperature, top_k=top_k, top_p=top_p,
                 seed=seed, on_token=lambda t: (sys.stdout.write(t), sys.stdout.flush()))
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
