"""Sentence pairs for translation: ``Pairs`` and a reader for tab-separated files (the
Anki/Tatoeba format: source TAB target [TAB attribution]) that names every bad line."""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..io import MAX_TEXT_BYTES, open_checked
from ._options import check_fraction, check_int, check_seed

__all__ = ["Pairs", "read_pairs"]


@dataclass(frozen=True)
class Pairs:
    name: str
    pairs: tuple[tuple[str, str], ...]

    def __len__(self) -> int:
        return len(self.pairs)

    def split(self, test: float = 0.1, seed: int = 0) -> tuple[Pairs, Pairs]:
        """(train, test) by a seeded shuffle: test pairs are never seen in training."""
        test = check_fraction("test", test, self.name)
        if len(self.pairs) < 2:
            raise ValueError(f"{self.name}: {len(self.pairs)} pair(s) cannot be split")
        order = np.random.default_rng(check_seed(seed, self.name)).permutation(len(self.pairs))
        cut = len(order) - max(1, int(round(len(order) * test)))
        pick = lambda idx, part: Pairs(f"{self.name} ({part})",  # noqa: E731
                                       tuple(self.pairs[i] for i in idx))
        return pick(order[:cut], "train"), pick(order[cut:], "test")

    def preview(self) -> list[str]:
        return [f"pairs:   {len(self.pairs)}"] + [f"  {a}  ->  {b}" for a, b in self.pairs[:5]]


def _capped(lines: Iterable[str], path: Path) -> Iterator[str]:
    """The lines, refusing more than MAX_TEXT_BYTES of text (a file that grew after its
    size was checked) and bytes that are not UTF-8."""
    total = 0
    try:
        for line in lines:
            total += len(line)
            if total > MAX_TEXT_BYTES:
                raise ValueError(f"{path}: sentence pairs are over the {MAX_TEXT_BYTES:,}-"
                                 "character limit for such files")
            yield line
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: expected UTF-8 text, found a byte that is not ({err})") \
            from None


def read_pairs(path: str | Path, limit: int | None = None, max_bad: int = 0) -> Pairs:
    """Read ``source<TAB>target[<TAB>anything]`` lines (UTF-8).

    A line without a tab, or with an empty side, is bad: up to ``max_bad`` of them are
    skipped and counted in the error-free result's name; more raise a ValueError listing
    their line numbers.  Nothing is dropped silently.
    """
    if limit is not None:
        limit = check_int("limit", limit, 1, dataset="read_pairs")
    max_bad = check_int("max_bad", max_bad, 0, dataset="read_pairs")
    if not isinstance(path, (str, os.PathLike)) or path == "":
        raise TypeError(f"path must be a file name (str or Path), got {path!r:.80}")
    path = Path(path)
    pairs, bad = [], []
    with open_checked(path, "sentence pairs as UTF-8 text", MAX_TEXT_BYTES) as raw, \
            io.TextIOWrapper(raw, encoding="utf-8-sig") as f:     # -sig: drop a BOM
        for no, line in enumerate(_capped(f, path), 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                continue
            parts = line.split("\t")
            if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
                bad.append(no)
                continue
            pairs.append((parts[0].strip(), parts[1].strip()))
            if limit is not None and len(pairs) >= limit:
                break
    if len(bad) > max_bad:
        shown = ", ".join(map(str, bad[:10])) + (" ..." if len(bad) > 10 else "")
        raise ValueError(f"{path}: {len(bad)} malformed line(s) (need source<TAB>target): "
                         f"lines {shown}; pass max_bad={len(bad)} to skip them")
    if not pairs:
        raise ValueError(f"{path}: no sentence pairs found")
    note = f", {len(bad)} malformed line(s) skipped" if bad else ""
    return Pairs(f"{path.name}{note}", tuple(pairs))
