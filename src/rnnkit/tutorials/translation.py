"""Encoder-decoder translation as in the classic seq2seq tutorials: the encoder's final
states initialise the decoder, which is fed <go> and stops at <eos>; the source sentence is
fed reversed.  On numbers-fr (English number words to French, 0-9,999, split by number so
the 1,000 test numbers are unseen), scored by exact match and BLEU-4."""

from __future__ import annotations

from pathlib import Path

from . import Report, Row, conclude, epochs, fit_options, verdict

NAME = "translation"
TITLE = "English number words to French: unseen numbers"
PUBLISHED: dict[str, float] = {}


def run(seeds: list[int], quick: bool = False, out: str | Path | None = None) -> Report:
    from .. import datasets
    from ..tasks import Translator
    pairs = datasets.load("numbers-fr")
    report = Report(f"{TITLE} (seeds {','.join(map(str, seeds))}; medians [min-max])",
                    ["exact match", "BLEU-4"])
    keep = None
    for system, kw in [("rnnkit, tutorial's model", dict(cell="lstm", attention=False)),
                       ("rnnkit, recommended", dict(cell="gru", attention=True))]:
        runs = []
        for s in seeds:
            train, test = pairs.split(0.1, seed=s)
            if quick:
                train = type(train)(train.name, train.pairs[:500])
                test = type(test)(test.name, test.pairs[:100])
            tr = Translator(units=128, reverse_source=True, **kw)
            tr.fit(train, epochs=epochs(2 if quick else 40), seed=s,
                   **fit_options(f"{kw['cell']}-seed{s}"))
            m = tr.evaluate(test)
            runs.append((tr.fit_seconds, m["exact_match"], m["bleu"]))
            keep = (tr, test) if system == "rnnkit, recommended" else keep
        report.rows.append(Row(system, f"{kw['cell'].upper()}(128), reversed source, "
                               f"{'attention' if kw['attention'] else 'no attention'}",
                               [r[0] for r in runs], {"exact match": [r[1] for r in runs],
                                                      "BLEU-4": [r[2] for r in runs]}))
    report.quick = quick
    report.notes += conclude(report, conclusions(report))
    if out is not None and keep is not None:
        tr, _ = keep
        tr.save(Path(out) / "model")
        report.notes.append(f"wrote {out}/model/")
    return report


def conclusions(report: Report) -> list[str]:
    """The recommended model (attention) against the tutorial's, on exact match and on
    BLEU-4; when exact match ties, BLEU-4 decides."""
    rec, tut = report.row("rnnkit, recommended"), report.row("rnnkit, tutorial's model")
    lines, said = [], {}
    for metric in ("exact match", "BLEU-4"):
        best, base = rec.median(metric), tut.median(metric)
        said[metric] = verdict(best, base, lower_is_better=False)
        lines.append(f"{metric[0].upper()}{metric[1:]}: the recommended model ({best:.4f}) "
                     f"{said[metric]} the tutorial's ({base:.4f}).")
    if said["exact match"] == "ties with" and said["BLEU-4"] != "ties with":
        lines.append(f"Exact match ties, so BLEU-4 decides: the recommended model "
                     f"{said['BLEU-4']} the tutorial's.")
    return lines
