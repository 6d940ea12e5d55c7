"""Shakespeare one character at a time (TensorFlow's "Text generation with an RNN"):
Embedding(66 -> 256) + GRU(1024) + Dense(66) trained on ~1 MB of Shakespeare, then sampled
from the logits.  That model is too large for a CPU budget of minutes; rnnkit's quick
variant is Embedding 64 + GRU 512.  Scored as held-out loss (nats per character) on the
last 10 % of the text, which the model never sees."""

from __future__ import annotations

from pathlib import Path

from . import Report, Row, epochs, fit_options

NAME = "shakespeare"
TITLE = "Shakespeare, character by character: held-out loss and a sample"
PUBLISHED: dict[str, float] = {}


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    from .. import datasets
    from ..tasks import TextGenerator
    text = datasets.load("shakespeare").text
    if quick:
        text = text[:60000]
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max])",
                    ["held-out nats/char", "bits/char"])
    runs, gen = [], None
    for s in seeds:
        gen = TextGenerator(cell="gru", units=64 if quick else 512, embedding=64)
        gen.fit(text, epochs=epochs(1 if quick else 100), max_minutes=None if quick else 14,
                seed=s, **fit_options(f"seed{s}"))
        best = min(gen.history["val_loss"])
        runs.append((gen.fit_seconds, best, best / 0.6931471805599453))
    report.rows.append(Row("rnnkit, quick variant", "Embedding 64 + GRU 512, 14 min budget"
                           if not quick else "Embedding 64 + GRU 64, 60k chars, 1 epoch",
                           [r[0] for r in runs], {"held-out nats/char": [r[1] for r in runs],
                                                  "bits/char": [r[2] for r in runs]}))
    report.quick = quick
    sample = gen.generate("ROMEO:", 300, temperature=0.8, top_k=20, seed=seeds[0])
    report.notes += ["sample (temperature 0.8, top-k 20):", *sample.splitlines()]
    if out is not None:
        gen.report(out, seed=seeds[0])
        gen.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/metrics.json, training.png, sample.txt, model/")
    return report
