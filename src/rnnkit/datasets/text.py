"""A text corpus for character- and word-level language models."""

from __future__ import annotations

from dataclasses import dataclass

from ._options import check_fraction

__all__ = ["Text"]


@dataclass(frozen=True)
class Text:
    name: str
    text: str

    def __len__(self) -> int:
        return len(self.text)

    def split(self, held_out: float = 0.1) -> tuple[Text, Text]:
        """(train, held out): the last ``held_out`` share of the text, cut at a line break,
        so the held-out part is text the model never saw (not a shuffled sample)."""
        held_out = check_fraction("held_out", held_out, self.name)
        cut = int(len(self.text) * (1 - held_out))
        nl = self.text.rfind("\n", 0, cut)
        cut = nl + 1 if nl > 0 else cut
        return (Text(f"{self.name} (train)", self.text[:cut]),
                Text(f"{self.name} (held out)", self.text[cut:]))

    def preview(self) -> list[str]:
        return [f"length:  {len(self.text):,} characters, {len(set(self.text))} distinct, "
                f"{len(self.text.split()):,} words", "", *self.text[:300].splitlines()]
