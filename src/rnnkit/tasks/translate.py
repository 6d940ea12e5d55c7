"""Encoder-decoder translation (Sutskever et al. 2014; Cho et al. 2014), optionally with
dot-product attention (Luong et al. 2015).

    tr = Translator(cell="lstm", units=128, reverse_source=True)
    tr.fit(rk.datasets.load("numbers-fr").split(0.1)[0], epochs=30)
    tr.translate("three hundred and twelve")            # greedy
    tr.translate("three hundred and twelve", beam=4)    # beam search
    tr.evaluate(test_pairs)                             # exact match and BLEU-4

The encoder reads the source (reversed, as in the tutorial, when ``reverse_source``) and
its final state initialises the decoder.  The decoder is trained with teacher forcing:
it reads ``<go> y_1 ... y_n`` and predicts ``y_1 ... y_n <eos>``; padding is masked out of
the loss.  At inference it starts from ``<go>`` and feeds back its own tokens until
``<eos>`` (or a length limit).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import layers as L
from ..data.text import TextVectorizer
from ..precision import check_precision, inference
from ..types import LSTMState
from ._args import (
    check_share,
    choice_field,
    decoding_args,
    flag_field,
    int_field,
    number_field,
    units_field,
)

__all__ = ["Translator", "TranslatorConfig", "bleu"]

GO, EOS = "<go>", "<eos>"


@dataclass(frozen=True)
class TranslatorConfig:
    cell: str = "lstm"                 # lstm | gru
    units: int = 128
    embedding: int = 64
    bidirectional: bool = False        # encoder reads both ways (decoder has 2 x units)
    reverse_source: bool = True        # feed the source backwards (Sutskever et al.)
    attention: bool = False            # dot-product attention over the encoder outputs
    max_tokens: int | None = 20000
    lr: float = 2e-3
    clip_norm: float = 1.0

    def __post_init__(self) -> None:
        fields = {
            "cell": choice_field("cell", self.cell, ("lstm", "gru")),
            "units": units_field("units", self.units),
            "embedding": units_field("embedding", self.embedding),
            "bidirectional": flag_field("bidirectional", self.bidirectional),
            "reverse_source": flag_field("reverse_source", self.reverse_source),
            "attention": flag_field("attention", self.attention),
            # [PAD], [UNK], <go>, <eos> and one word at least
            "max_tokens": int_field("max_tokens", self.max_tokens, minimum=5, none=True),
            "lr": number_field("lr", self.lr),
            "clip_norm": number_field("clip_norm", self.clip_norm, none=True),
        }
        for name, value in fields.items():       # NumPy scalars become Python ones
            object.__setattr__(self, name, value)


class _Seq2Seq(nn.Module):
    """forward((source ids, decoder input ids)) -> logits (B, T_target, V_target)."""

    def __init__(self, c: TranslatorConfig, v_src: int, v_tgt: int):
        super().__init__()
        make = L.LSTM if c.cell == "lstm" else L.GRU
        self.c = c
        self.src_emb = L.Embedding(v_src, c.embedding, mask_zero=True)
        enc = make(c.units, input_size=c.embedding, return_sequences=True, return_state=True)
        self.encoder = L.Bidirectional(enc, merge_mode="concat") if c.bidirectional else enc
        self.dec_units = c.units * (2 if c.bidirectional else 1)
        self.tgt_emb = L.Embedding(v_tgt, c.embedding, mask_zero=True)
        self.decoder = make(self.dec_units, input_size=c.embedding, return_sequences=True,
                            return_state=True)
        width = self.dec_units * (2 if c.attention else 1)
        self.combine = L.Dense(self.dec_units, activation="tanh", input_size=width) \
            if c.attention else None
        self.out = L.Dense(v_tgt, input_size=self.dec_units)

    def encode(self, src: torch.Tensor):
        """Encoder outputs (B, S, U), the source mask, and the decoder's initial state."""
        mask = src != 0
        out, *states = self.encoder(self.src_emb(src), mask=mask)
        lstm = self.c.cell == "lstm"
        if self.c.bidirectional:     # Bidirectional returns forward states, then backward
            half = len(states) // 2
            f, b = states[:half], states[half:]
            states = [torch.cat([x, y], -1) for x, y in zip(f, b)]
        state = LSTMState(states[0], states[1]) if lstm else states[0]
        return out, mask, state

    def decode(self, tgt_in: torch.Tensor, enc_out, src_mask, state):
        """Logits (B, T, V) and the decoder's final state, for given decoder inputs."""
        y, *s = self.decoder(self.tgt_emb(tgt_in), initial_state=state, mask=tgt_in != 0)
        if self.combine is not None:
            scores = y @ enc_out.transpose(1, 2)                       # (B, T, S)
            scores = scores.masked_fill(~src_mask[:, None, :], -1e9)
            context = torch.softmax(scores, -1) @ enc_out              # (B, T, U)
            y = self.combine(torch.cat([y, context], -1))
        new_state = LSTMState(s[0], s[1]) if self.c.cell == "lstm" else s[0]
        return self.out(y), new_state

    def forward(self, batch):
        src, tgt_in = batch
        enc_out, mask, state = self.encode(src)
        return self.decode(tgt_in, enc_out, mask, state)[0]


def _masked_ce(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over real target tokens only ([PAD] = 0 is ignored)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1).long(),
                           ignore_index=0)


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]],
         n: int = 4) -> float:
    """Corpus BLEU-n (Papineni et al. 2002) with add-one smoothing of the higher orders,
    in [0, 1], on token lists."""
    matches, totals = [0] * n, [0] * n
    hyp_len = ref_len = 0
    for h, r in zip(hypotheses, references):
        hyp_len, ref_len = hyp_len + len(h), ref_len + len(r)
        for k in range(1, n + 1):
            hc = Counter(tuple(h[i:i + k]) for i in range(len(h) - k + 1))
            rc = Counter(tuple(r[i:i + k]) for i in range(len(r) - k + 1))
            matches[k - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            totals[k - 1] += max(0, len(h) - k + 1)
    if hyp_len == 0:
        return 0.0
    logp = 0.0
    for k in range(n):
        m, t = (matches[k], totals[k]) if k == 0 else (matches[k] + 1, totals[k] + 1)
        if m == 0 or t == 0:
            return 0.0
        logp += math.log(m / t) / n
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    return bp * math.exp(logp)


class Translator:
    """Fit on sentence pairs, translate (greedy or beam), evaluate, save and load."""

    def __init__(self, config: TranslatorConfig | None = None, **options: Any):
        self.config = config or TranslatorConfig(**options)
        self.src_vec: TextVectorizer | None = None
        self.tgt_vec: TextVectorizer | None = None
        self.model: _Seq2Seq | None = None
        self.history: dict[str, list[float]] = {}
        self.fit_seconds, self.max_source = 0.0, 0

    # ------------------------------------------------------------------ data
    @staticmethod
    def _pairs(pairs: Any) -> list[tuple[str, str]]:
        pairs = getattr(pairs, "pairs", pairs)
        if pairs is None or isinstance(pairs, (str, bytes, dict)) or \
                not hasattr(pairs, "__iter__"):
            raise TypeError(f"pairs must be a list of (source, target) string pairs, got "
                            f"{type(pairs).__name__}")
        pairs = list(pairs)
        if not pairs:
            raise ValueError("no sentence pairs given")
        for k, p in enumerate(pairs):
            if not (isinstance(p, (tuple, list)) and len(p) == 2 and all(
                    isinstance(s, str) and s.strip() for s in p)):
                raise ValueError(f"pair {k} is not two non-empty strings: {p!r}")
        return pairs

    def _source_ids(self, texts: Sequence[str], unknown: str = "unk") -> torch.Tensor:
        ids = self.src_vec.encode(list(texts), unknown=unknown)
        if ids.shape[1] == 0:
            raise ValueError("every source text is empty after standardisation")
        if self.config.reverse_source:          # reverse the real tokens, padding stays right
            lengths = (ids != 0).sum(1)
            for i, n in enumerate(lengths):
                ids[i, :n] = ids[i, :n][::-1]
        return torch.from_numpy(ids)

    def _target_ids(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        go, eos = self.tgt_vec.id(GO), self.tgt_vec.id(EOS)
        rows = [self.tgt_vec.encode(t)[0].tolist() for t in texts]
        T = max(len(r) for r in rows) + 1
        tin, tout = np.zeros((len(rows), T), np.int64), np.zeros((len(rows), T), np.int64)
        for i, r in enumerate(rows):
            tin[i, :len(r) + 1] = [go, *r]
            tout[i, :len(r) + 1] = [*r, eos]
        return torch.from_numpy(tin), torch.from_numpy(tout)

    # ------------------------------------------------------------------ training
    def fit(self, pairs: Any, *, epochs: int = 30, batch_size: int = 64, val: float = 0.05,
            patience: int | None = 5, seed: int = 0, verbose: int = 1,
            log_dir: str | Path | None = None, threads: int | None = None,
            precision: str = "fp32") -> dict[str, list]:
        """Train on (source, target) pairs; ``val`` of them drive early stopping.
        ``log_dir``, ``threads`` and ``precision`` go to ``Trainer.fit``."""
        import rnnkit as rk
        pairs = self._pairs(pairs)
        check_share("val", val, len(pairs))
        rk.set_seed(seed)
        c = self.config
        kw = dict(mode="word", standardize="lower", split="words_and_punct",
                  max_tokens=c.max_tokens)
        self.src_vec = TextVectorizer(**kw).adapt([s for s, _ in pairs])
        self.tgt_vec = TextVectorizer(specials=(GO, EOS), **kw).adapt([t for _, t in pairs])
        src = self._source_ids([s for s, _ in pairs])
        tin, tout = self._target_ids([t for _, t in pairs])
        self.max_source = int(src.shape[1])
        self.model = _Seq2Seq(c, self.src_vec.size, self.tgt_vec.size)
        order = np.random.default_rng(seed).permutation(len(pairs))
        n_val = int(round(len(pairs) * val)) if val else 0
        tr, va = torch.from_numpy(order[n_val:]), torch.from_numpy(order[:n_val])
        trainer = rk.Trainer(self.model, loss=_masked_ce, optimizer="adam", lr=c.lr)
        callbacks = [rk.EarlyStopping(patience=patience)] if (patience and n_val) else []
        t0 = time.perf_counter()
        hist = trainer.fit((src[tr], tin[tr]), tout[tr], epochs=epochs, batch_size=batch_size,
                           validation_data=((src[va], tin[va]), tout[va]) if n_val else None,
                           clip_norm=c.clip_norm, callbacks=callbacks, seed=seed,
                           verbose=verbose, log_dir=log_dir, threads=threads,
                           precision=precision)
        self.fit_seconds = time.perf_counter() - t0
        self.history = hist.history
        return self.history

    def _require(self) -> _Seq2Seq:
        if self.model is None:
            raise ValueError("the translator is not trained: call fit() or load()")
        return self.model

    # ------------------------------------------------------------------ decoding
    def _step(self, token: torch.Tensor, enc_out, mask, state):
        logits, state = self.model.decode(token[:, None], enc_out, mask, state)
        return torch.log_softmax(logits[:, -1].double(), -1), state

    def _limit(self, n_src: int) -> int:
        return 2 * n_src + 10

    def translate(self, text: str | Sequence[str], beam: int = 1, *,
                  max_length: int | None = None, unknown: str = "error",
                  precision: str = "fp32") -> str | list[str]:
        """Greedy (``beam=1``) or beam-search translation of one text or a list (the most
        probable sequence among ``beam`` kept at each step, no length penalty).  Words the
        model never saw are refused with their names (``unknown="unk"`` reads them as
        [UNK] instead).  ``precision`` ("fp32", "bf16" or "auto", as in ``fit``) is that of
        the network's products; beams are scored in float64 either way."""
        check_precision(precision)
        model = self._require()
        args = decoding_args(self.tgt_vec.size - 2, beam=beam, max_length=max_length)
        beam, max_length = args["beam"], args["max_length"]
        single = isinstance(text, str)
        if not single and not isinstance(text, (list, tuple)):
            raise TypeError(f"text must be a str or a list of str, got "
                            f"{type(text).__name__}")
        texts = [text] if single else list(text)
        if not texts:
            raise ValueError("translate() needs non-empty texts: got an empty list")
        for k, t in enumerate(texts):
            if not isinstance(t, str):
                raise TypeError(f"text {k} must be a str, got {type(t).__name__}: {t!r}")
            if not t.strip():
                raise ValueError(f"translate() needs non-empty texts: text {k} is {t!r}")
        model.eval()
        out = []
        with inference(model, precision):
            for t in texts:
                src = self._source_ids([t], unknown=unknown)
                limit = max_length or self._limit(int((src != 0).sum()))
                toks = self._beam(src, beam, limit)
                out.append(self.tgt_vec.decode(toks, skip=("[PAD]", GO, EOS)))
        return out[0] if single else out

    def _beam(self, src: torch.Tensor, width: int, limit: int) -> list[int]:
        enc_out, mask, state = self.model.encode(src)
        go, eos = self.tgt_vec.id(GO), self.tgt_vec.id(EOS)
        beams = [(0.0, [go], state)]                 # (log p, tokens, state)
        done: list[tuple[float, list[int]]] = []
        for _ in range(limit):
            candidates = []
            for score, toks, st in beams:
                logp, new_state = self._step(torch.tensor([toks[-1]]), enc_out, mask, st)
                logp[0, :2] = -math.inf             # never [PAD] or [UNK]
                top = logp[0].topk(width)
                for lp, idx in zip(top.values.tolist(), top.indices.tolist()):
                    candidates.append((score + lp, toks + [idx], new_state))
            candidates.sort(key=lambda c: -c[0])
            beams = []
            for score, toks, st in candidates:
                if toks[-1] == eos:
                    done.append((score, toks))
                else:
                    beams.append((score, toks, st))
                    if len(beams) == width:
                        break
            # log-probabilities only fall as a sequence grows: once a finished hypothesis
            # beats every open one, none of them can overtake it
            if not beams or (done and max(d[0] for d in done) >= beams[0][0]):
                break
        if not done:                                 # hit the limit: take the best open one
            done = [(s, t) for s, t, _ in beams]
        best = max(done, key=lambda d: d[0])[1]
        return [i for i in best[1:] if i != eos]

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, pairs: Any, beam: int = 1, limit: int | None = None) -> dict[str, Any]:
        """Exact match (token for token) and corpus BLEU-4 on held-out pairs.  Source words
        never seen in training are read as [UNK] and counted (``unknown_sources``)."""
        self._require()
        limit = decoding_args(limit=limit)["limit"]
        pairs = self._pairs(pairs)[:limit]
        hyps = self.translate([s for s, _ in pairs], beam=beam, unknown="unk")
        src_tok = self.src_vec.tokens
        unknown = sum(any(self.src_vec.id(w) == 1 for w in src_tok(s)) for s, _ in pairs)
        tok = self.tgt_vec.tokens
        h_tok, r_tok = [tok(h) for h in hyps], [tok(t) for _, t in pairs]
        exact = float(np.mean([h == r for h, r in zip(h_tok, r_tok)]))
        wrong = [(s, h, t) for (s, t), h, ht, rt in zip(pairs, hyps, h_tok, r_tok) if ht != rt]
        return {"exact_match": exact, "bleu": bleu(h_tok, r_tok), "pairs": len(pairs),
                "beam": beam, "unknown_sources": int(unknown), "examples_wrong": wrong[:10]}

    # ------------------------------------------------------------------ saving
    def save(self, path: str | Path, overwrite: bool = False) -> None:
        """Write the folder; a file there, or a non-empty folder that is not a saved
        Translator, is refused unless ``overwrite`` (see ``rnnkit.saving.save``)."""
        from ..io import write_json
        from ..saving import check_target, write_tensors
        model = self._require()
        path = Path(path)
        check_target(path, (path / "translator.json").is_file(), "a saved Translator",
                     overwrite)
        path.mkdir(parents=True, exist_ok=True)
        meta = {"format": "rnnkit-translator", "version": 1, "config": asdict(self.config),
                "history": self.history, "fit_seconds": self.fit_seconds,
                "max_source": self.max_source}
        self.src_vec.save(path / "source_vocab.json")
        self.tgt_vec.save(path / "target_vocab.json")
        write_tensors(path / "weights.safetensors",
                      {k: v.detach().contiguous() for k, v in model.state_dict().items()})
        write_json(path / "translator.json", meta)     # last: the folder is whole again

    @classmethod
    def load(cls, path: str | Path) -> Translator:
        from ..saving import load_state_checked, read_tensors
        path = Path(path)
        meta_path = path / "translator.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved Translator: translator.json is missing")
        try:
            from ..io import read_json
            meta = read_json(meta_path, "translator settings (JSON)")
            if not isinstance(meta, dict) or meta.get("format") != "rnnkit-translator":
                raise ValueError("format is not rnnkit-translator")
            tr = cls(TranslatorConfig(**meta["config"]))
            tr.history = meta["history"]
            if not isinstance(tr.history, dict):
                raise ValueError(f"history must be an object, got {tr.history!r}")
            tr.fit_seconds = number_field("fit_seconds", meta["fit_seconds"], low_open=False)
            tr.max_source = int_field("max_source", meta["max_source"])
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{meta_path} is not a valid translator file ({err})") from None
        tr.src_vec = TextVectorizer.load(path / "source_vocab.json")
        tr.tgt_vec = TextVectorizer.load(path / "target_vocab.json")
        tensors, _ = read_tensors(path / "weights.safetensors")
        tr._check_vocabularies(path, tensors)
        tr.model = _Seq2Seq(tr.config, tr.src_vec.size, tr.tgt_vec.size)
        load_state_checked(tr.model, tensors, f"{path / 'weights.safetensors'} (with the "
                                              f"config in {meta_path})")
        tr.model.eval()
        return tr

    def _check_vocabularies(self, path: Path, tensors: dict[str, torch.Tensor]) -> None:
        """source_vocab.json and target_vocab.json must be the ones the weights were trained
        with: the target one holds <go> and <eos>, and both sizes match the Embeddings."""
        src, tgt = path / "source_vocab.json", path / "target_vocab.json"
        weights = path / "weights.safetensors"
        if self.src_vec.size < 3:
            raise ValueError(f"{src} holds no word beyond [PAD] and [UNK]")
        missing = [t for t in (GO, EOS) if t not in self.tgt_vec.vocabulary]
        if missing:
            raise ValueError(f"{tgt} lacks {' and '.join(missing)}: it is not a translator's "
                             "target vocabulary (decoding starts at <go> and stops at <eos>)")
        if self.tgt_vec.size < 5:
            raise ValueError(f"{tgt} holds no word beside [PAD], [UNK], <go> and <eos>")
        for key, vec, file in (("src_emb.weight", self.src_vec, src),
                               ("tgt_emb.weight", self.tgt_vec, tgt),
                               ("out.weight", self.tgt_vec, tgt)):
            if key in tensors and tensors[key].dim() >= 1 and \
                    tensors[key].shape[0] != vec.size:
                raise ValueError(f"{file} holds {vec.size} tokens but {key} in {weights} "
                                 f"has {tensors[key].shape[0]} rows; the files come from "
                                 "different models")
