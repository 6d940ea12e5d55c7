"""Text to token ids and back: ``TextVectorizer`` (characters or words), with ``[PAD]`` = 0
and ``[UNK]`` = 1, padding to a batch, masks for the layers, and a JSON file for saving.

    v = TextVectorizer(mode="word", max_tokens=20000).adapt(train_texts)
    ids = v.encode(texts)                 # (N, L) int64, right-padded with 0
    mask = v.mask(ids)                    # (N, L) bool, False at padding
    v.decode(ids[0])                      # the text back (unknown tokens as [UNK])
    v.save("runs/m/vocab.json"); TextVectorizer.load("runs/m/vocab.json")
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import read_json, write_json

__all__ = ["TextVectorizer", "PAD", "UNK"]

PAD, UNK = "[PAD]", "[UNK]"
STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", None)
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")
SPLITS: dict[str, Callable[[str], list[str]]] = {
    "whitespace": str.split,
    "words_and_punct": lambda t: re.findall(r"[\w'’-]+|[^\w\s]", t),
}


class TextVectorizer:
    """Characters or words to ids; the vocabulary is learned by ``adapt``.

    Args:
        mode: "char" (every character a token) or "word" (split on whitespace, or ``split``).
        max_tokens: vocabulary size cap, ``[PAD]`` and ``[UNK]`` included (most frequent
            tokens kept; ties by first appearance order, so it is deterministic).
        standardize: "lower_and_strip_punctuation" (word mode's default), "lower",
            "strip_punctuation", None (char mode's default) or a callable on each text.
        split: word mode: "whitespace" (default), "words_and_punct" (punctuation marks
            become tokens of their own; hyphenated words stay whole) or a callable.
        output_sequence_length: pad or cut every encoded text to this length.
        specials: extra reserved tokens after [PAD] and [UNK], e.g. ("<go>", "<eos>").

    Example:
        >>> v = TextVectorizer(mode="word").adapt(["the cat sat", "the dog"])
        >>> v.encode(["the dog ran"]).tolist()
        [[2, 5, 1]]
        >>> v.decode([2, 5, 1, 0])
        'the dog [UNK]'
    """

    def __init__(self, mode: str = "char", max_tokens: int | None = None,
                 standardize: str | Callable[[str], str] | None | object = "default",
                 split: str | Callable[[str], list[str]] | None = "whitespace",
                 output_sequence_length: int | None = None, specials: Sequence[str] = ()):
        if mode not in ("char", "word"):
            raise ValueError(f"mode must be 'char' or 'word', got {mode!r}")
        if standardize == "default":
            standardize = "lower_and_strip_punctuation" if mode == "word" else None
        if not callable(standardize) and standardize not in STANDARDIZE:
            raise ValueError(f"standardize must be one of {STANDARDIZE} or a callable, got "
                             f"{standardize!r}")
        for name, v in (("max_tokens", max_tokens),
                        ("output_sequence_length", output_sequence_length)):
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive int or None, got {v!r}")
        self.specials = tuple(specials)
        if max_tokens is not None and max_tokens < 3 + len(self.specials):
            raise ValueError(f"max_tokens={max_tokens} leaves no room for a token beside "
                             f"{[PAD, UNK, *self.specials]}")
        if len(set(self.specials)) != len(self.specials) or {PAD, UNK} & set(self.specials):
            raise ValueError(f"specials must be distinct and not [PAD]/[UNK], got {specials!r}")
        if split is None:
            split = "whitespace"
        if not callable(split) and split not in SPLITS:
            raise ValueError(f"split must be one of {tuple(SPLITS)} or a callable, got {split!r}")
        self.mode, self.max_tokens, self.standardize = mode, max_tokens, standardize
        self.split, self.output_sequence_length = split, output_sequence_length
        self.vocabulary: list[str] = []
        self._index: dict[str, int] = {}

    # ------------------------------------------------------------------ vocabulary
    def tokens(self, text: str) -> list[str]:
        """The tokens of one text, after standardisation."""
        if not isinstance(text, str):
            raise TypeError(f"texts must be str, got {type(text).__name__}")
        s = self.standardize
        if callable(s):
            text = s(text)
        elif s is not None:
            if "lower" in s:
                text = text.lower()
            if "strip_punctuation" in s:
                text = _PUNCT.sub("", text)
        if self.mode == "char":
            return list(text)
        return self.split(text) if callable(self.split) else SPLITS[self.split](text)

    def adapt(self, texts: Iterable[str]) -> TextVectorizer:
        """Learn the vocabulary from ``texts``; returns self."""
        if isinstance(texts, str):
            texts = [texts]
        counts: Counter[str] = Counter()
        n = 0
        for text in texts:
            counts.update(self.tokens(text))
            n += 1
        if n == 0 or not counts:
            raise ValueError("adapt() got no tokens: the texts are empty")
        reserved = [PAD, UNK, *self.specials]
        for r in reserved:
            counts.pop(r, None)
        room = None if self.max_tokens is None else self.max_tokens - len(reserved)
        self.vocabulary = reserved + [t for t, _ in counts.most_common(room)]
        self._index = {t: i for i, t in enumerate(self.vocabulary)}
        return self

    @property
    def size(self) -> int:
        """V, the number of ids (the Embedding's input_dim)."""
        self._check_adapted()
        return len(self.vocabulary)

    def id(self, token: str) -> int:
        return self._index.get(token, 1)

    # ------------------------------------------------------------------ encode / decode
    def encode(self, texts: str | Sequence[str], *, length: int | None = None,
               unknown: str = "unk") -> np.ndarray:
        """(N, L) int64 ids, right-padded with 0 to the longest text (or to ``length`` /
        ``output_sequence_length``, cutting longer ones).  ``unknown="error"`` raises on a
        token outside the vocabulary instead of mapping it to [UNK]."""
        self._check_adapted()
        if unknown not in ("unk", "error"):
            raise ValueError(f"unknown must be 'unk' or 'error', got {unknown!r}")
        if isinstance(texts, str):
            texts = [texts]
        rows = []
        for text in texts:
            toks = self.tokens(text)
            ids = [self._index.get(t, 1) for t in toks]
            if unknown == "error" and 1 in ids:
                missing = sorted({t for t in toks if t not in self._index})
                raise ValueError(f"{len(missing)} token(s) not in the vocabulary: "
                                 f"{missing[:10]} in {text[:60]!r}")
            rows.append(ids)
        L = length or self.output_sequence_length or max((len(r) for r in rows), default=0)
        out = np.zeros((len(rows), L), dtype=np.int64)
        for i, r in enumerate(rows):
            r = r[:L]
            out[i, :len(r)] = r
        return out

    def __call__(self, texts: str | Sequence[str], **kw: Any) -> torch.Tensor:
        return torch.from_numpy(self.encode(texts, **kw))

    @staticmethod
    def mask(ids: np.ndarray | torch.Tensor):
        """True at real tokens, False at [PAD]."""
        return ids != 0

    def decode(self, ids: Sequence[int] | np.ndarray | torch.Tensor,
               skip: Sequence[str] = (PAD,)) -> str:
        """Tokens joined back ('' between characters, ' ' between words)."""
        self._check_adapted()
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        toks = []
        for i in np.asarray(ids).ravel().tolist():
            if not 0 <= i < len(self.vocabulary):
                raise ValueError(f"id {i} is outside the vocabulary (size {len(self.vocabulary)})")
            if self.vocabulary[i] not in skip:
                toks.append(self.vocabulary[i])
        if self.mode == "char":
            return "".join(toks)
        text = " ".join(toks)
        if self.split == "words_and_punct":            # "bonjour !" stays; "yes ." -> "yes."
            text = re.sub(r" ([.,;:?!)\]}])(?= |$)", r"\1", text)
        return text

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        if callable(self.standardize) or callable(self.split):
            raise ValueError("a vectorizer with a custom standardize or split callable cannot "
                             "be saved as JSON")
        return {"format": "rnnkit-vectorizer", "version": 1, "mode": self.mode,
                "max_tokens": self.max_tokens, "standardize": self.standardize,
                "split": self.split,
                "output_sequence_length": self.output_sequence_length,
                "specials": list(self.specials), "vocabulary": self.vocabulary}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> TextVectorizer:
        if not isinstance(config, dict) or config.get("format") != "rnnkit-vectorizer":
            raise ValueError("not an rnnkit vectorizer (format != 'rnnkit-vectorizer')")
        v = cls(config["mode"], config["max_tokens"], config["standardize"],
                split=config.get("split", "whitespace"),
                output_sequence_length=config["output_sequence_length"],
                specials=config.get("specials", ()))
        vocab = config["vocabulary"]
        if not isinstance(vocab, list) or vocab[:2] != [PAD, UNK] or len(set(vocab)) != len(vocab):
            raise ValueError("vectorizer vocabulary must start with [PAD], [UNK] and hold "
                             "distinct tokens")
        v.vocabulary, v._index = vocab, {t: i for i, t in enumerate(vocab)}
        return v

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON, atomically."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.get_config())

    @classmethod
    def load(cls, path: str | Path) -> TextVectorizer:
        path = Path(path)
        try:
            config = read_json(path, "a vectorizer vocabulary (JSON)")
        except ValueError as err:
            raise ValueError(f"not a readable vectorizer file: {err}") from None
        try:
            return cls.from_config(config)
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: vectorizer file is missing {err}") from None
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def _check_adapted(self) -> None:
        if not self.vocabulary:
            raise ValueError("the vectorizer has no vocabulary yet: call adapt(texts) first")

    def __repr__(self) -> str:
        size = len(self.vocabulary) if self.vocabulary else "not adapted"
        return f"TextVectorizer(mode={self.mode!r}, vocabulary={size})"
