"""Text to token ids and back: ``TextVectorizer`` (characters or words), with ``[PAD]`` = 0
and ``[UNK]`` = 1, padding to a batch, masks for the layers, and a JSON file for saving.

    v = TextVectorizer(mode="word", max_tokens=20000).adapt(train_texts)
    ids = v.encode(texts)                 # (N, L) int64, right-padded with 0
    mask = v.mask(ids)                    # (N, L) bool, False at padding
    v.decode(ids[0])                      # the text back (unknown tokens as [UNK])
    v.save("runs/m/vocab.json"); TextVectorizer.load("runs/m/vocab.json")
"""

from __future__ import annotations

import numbers
import re
import string
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..io import read_json, write_json
from .batching import as_path

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
        if not isinstance(mode, str) or mode not in ("char", "word"):
            raise ValueError(f"mode must be 'char' or 'word', got {mode!r}")
        if isinstance(standardize, str) and standardize == "default":
            standardize = "lower_and_strip_punctuation" if mode == "word" else None
        if not callable(standardize) and not (standardize is None or (
                isinstance(standardize, str) and standardize in STANDARDIZE)):
            raise ValueError(f"standardize must be one of {STANDARDIZE} or a callable, got "
                             f"{standardize!r}")
        max_tokens = _positive_int("max_tokens", max_tokens)
        output_sequence_length = _positive_int("output_sequence_length",
                                               output_sequence_length)
        self.specials = _check_tokens("specials", specials)
        if len(set(self.specials)) != len(self.specials) or {PAD, UNK} & set(self.specials):
            raise ValueError(f"specials must be distinct and not [PAD]/[UNK], got {specials!r}")
        if max_tokens is not None and max_tokens < 3 + len(self.specials):
            raise ValueError(f"max_tokens={max_tokens} leaves no room for a token beside "
                             f"{[PAD, UNK, *self.specials]}")
        if split is None:
            split = "whitespace"
        if not callable(split) and not (isinstance(split, str) and split in SPLITS):
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
            if not isinstance(text, str):
                raise TypeError(f"the standardize callable must return a str, it returned "
                                f"{type(text).__name__} {text!r:.60}")
        elif s is not None:
            if "lower" in s:
                text = text.lower()
            if "strip_punctuation" in s:
                text = _PUNCT.sub("", text)
        if self.mode == "char":
            return list(text)
        if not callable(self.split):
            return SPLITS[self.split](text)
        toks = self.split(text)
        if not isinstance(toks, (list, tuple)) or not all(isinstance(t, str) for t in toks):
            what = (f"the str {toks!r:.60} (a str would be split into characters)"
                    if isinstance(toks, str) else f"{type(toks).__name__} {toks!r:.60}")
            raise TypeError(f"the split callable must return a list of str (the tokens), it "
                            f"returned {what}")
        return list(toks)

    def adapt(self, texts: Iterable[str]) -> TextVectorizer:
        """Learn the vocabulary from ``texts``; returns self."""
        texts = _texts(texts)
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
        if not isinstance(unknown, str) or unknown not in ("unk", "error"):
            raise ValueError(f"unknown must be 'unk' or 'error', got {unknown!r}")
        length = _positive_int("length", length)
        texts = _texts(texts)
        rows = []
        for text in texts:
            toks = self.tokens(text)
            ids = [self._index.get(t, 1) for t in toks]
            if unknown == "error" and 1 in ids:
                missing = sorted({t for t in toks if t not in self._index})
                raise ValueError(f"{len(missing)} token(s) not in the vocabulary: "
                                 f"{missing[:10]} in {text[:60]!r}")
            rows.append(ids)
        L = length if length is not None else (
            self.output_sequence_length or max((len(r) for r in rows), default=0))
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
        skip = set(_check_tokens("skip", skip))
        toks = []
        for i in _ids(ids):
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
        """The vectorizer ``get_config`` wrote; every field is checked, and a bad one is a
        ValueError naming it."""
        if not isinstance(config, dict) or config.get("format") != "rnnkit-vectorizer":
            raise ValueError("not an rnnkit vectorizer (format != 'rnnkit-vectorizer')")
        missing = [k for k in ("mode", "max_tokens", "standardize", "output_sequence_length",
                               "vocabulary") if k not in config]
        if missing:
            raise ValueError(f"the field(s) {', '.join(map(repr, missing))} are missing")
        version = config.get("version", 1)
        if version != 1 or isinstance(version, bool):
            raise ValueError(f"field 'version': this rnnkit reads version 1, got {version!r}")
        if callable(config["standardize"]) or callable(config.get("split")):
            raise ValueError("fields 'standardize' and 'split' must be names, not callables")
        try:
            v = cls(config["mode"], config["max_tokens"], config["standardize"],
                    split=config.get("split", "whitespace"),
                    output_sequence_length=config["output_sequence_length"],
                    specials=config.get("specials", ()))
        except (TypeError, ValueError) as err:      # the message starts with the field
            field = next((k for k in ("mode", "max_tokens", "standardize", "split",
                                      "output_sequence_length", "specials")
                          if str(err).startswith(k)), None)
            raise ValueError(f"field {field!r}: {err}" if field else str(err)) from None
        vocab = config["vocabulary"]
        if not isinstance(vocab, list):
            raise ValueError(f"field 'vocabulary' must be a list of str, got "
                             f"{type(vocab).__name__}")
        for k, t in enumerate(vocab):
            if not isinstance(t, str):
                raise ValueError(f"field 'vocabulary': entry {k} is {t!r:.40} "
                                 f"({type(t).__name__}); every token must be a str")
        reserved = [PAD, UNK, *v.specials]
        if vocab[:len(reserved)] != reserved:
            raise ValueError(f"field 'vocabulary' must start with {reserved} ([PAD], [UNK] "
                             f"and the specials, in order), got {vocab[:len(reserved)]}")
        seen: set[str] = set()
        for k, t in enumerate(vocab):
            if t in seen:
                raise ValueError(f"field 'vocabulary': the token {t!r} appears twice (again "
                                 f"at entry {k})")
            seen.add(t)
        if v.max_tokens is not None and len(vocab) > v.max_tokens:
            raise ValueError(f"field 'vocabulary' holds {len(vocab)} tokens, more than "
                             f"max_tokens={v.max_tokens}")
        v.vocabulary, v._index = vocab, {t: i for i, t in enumerate(vocab)}
        return v

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON, atomically."""
        path = as_path(path)
        self.get_config()                      # a callable split: refused before mkdir
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json(path, self.get_config())

    @classmethod
    def load(cls, path: str | Path) -> TextVectorizer:
        path = as_path(path)
        try:
            config = read_json(path, "a vectorizer vocabulary (JSON)")
        except ValueError as err:
            raise ValueError(f"not a readable vectorizer file: {err}") from None
        try:
            return cls.from_config(config)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def _check_adapted(self) -> None:
        if not self.vocabulary:
            raise ValueError("the vectorizer has no vocabulary yet: call adapt(texts) first")

    def __repr__(self) -> str:
        size = len(self.vocabulary) if self.vocabulary else "not adapted"
        return f"TextVectorizer(mode={self.mode!r}, vocabulary={size})"


def _positive_int(name: str, value: Any) -> int | None:
    """None, or a positive int (NumPy ints too; bools and floats are not)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral) \
            or value < 1:
        raise ValueError(f"{name} must be a positive int or None, got {value!r}")
    return int(value)


def _check_tokens(name: str, tokens: Any) -> tuple[str, ...]:
    """A list (or tuple) of str: a bare str is refused, not split into characters."""
    if isinstance(tokens, str):
        raise TypeError(f"{name} must be a list of str, got the str {tokens!r}; write "
                        f"[{tokens!r}] for one token")
    if tokens is None or isinstance(tokens, (bytes, dict)) or not isinstance(tokens, Iterable):
        raise TypeError(f"{name} must be a list of str, got {type(tokens).__name__}")
    out = tuple(tokens)
    for t in out:
        if not isinstance(t, str) or not t:
            raise TypeError(f"{name} must be a list of non-empty str, got {t!r} "
                            f"({type(t).__name__}) in {list(out)!r:.80}")
    return out


def _texts(texts: Any) -> list[str]:
    """One str, or an iterable of str (each checked when it is tokenized)."""
    if isinstance(texts, str):
        return [texts]
    if texts is None or isinstance(texts, (bytes, dict)) or not isinstance(texts, Iterable):
        raise TypeError(f"texts must be a str or a list of str, got {type(texts).__name__}")
    return list(texts)


def _ids(ids: Any) -> list[int]:
    """Token ids (a list, array or tensor of ints, any shape) flattened, or a ValueError
    naming ``ids``."""
    if isinstance(ids, torch.Tensor):
        ids = ids.detach().cpu().numpy()
    if ids is None or isinstance(ids, (str, bytes)):
        raise TypeError(f"ids must be token ids (ints), got {type(ids).__name__}")
    try:
        arr = np.asarray(ids)
    except (TypeError, ValueError):
        raise ValueError("ids must be a regular array of token ids (ints); got a ragged "
                         "nesting: decode one sequence at a time") from None
    if arr.dtype == object or arr.dtype.kind not in "iuf":
        what = "a ragged nesting" if arr.dtype == object else f"values of dtype {arr.dtype}"
        raise ValueError(f"ids must be token ids (ints), got {what}"
                         + (f", e.g. {arr.ravel()[0].item()!r}" if arr.size and
                            arr.dtype != object else ""))
    flat = arr.ravel()
    if arr.dtype.kind == "f":
        frac = ~np.isfinite(flat) | (flat != np.round(flat))
        if frac.any():
            raise ValueError(f"ids must be token ids (ints), got {flat[frac][0].item()!r}")
    return [int(i) for i in flat.tolist()]
