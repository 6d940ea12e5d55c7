"""Character- (or word-) level text generation: an Embedding, recurrent layers and a Dense
over the vocabulary, trained by truncated BPTT over one long stream, sampled one token at a
time with temperature, top-k and top-p.

    gen = TextGenerator(cell="gru", units=512)
    gen.fit(rk.datasets.load("shakespeare"), epochs=10)     # held-out loss, bits per char
    gen.generate("ROMEO:", length=500, temperature=0.8, top_k=20, seed=0)
    gen.save("runs/shakespeare"); TextGenerator.load("runs/shakespeare")

Training (as the char-RNN tutorials): the training text is cut into B parallel streams,
one row each; every step reads the next ``seq_len`` tokens of all rows and predicts each
following token; the recurrent state is carried from chunk to chunk (detached), so the
model sees dependencies beyond one chunk while gradients stop at its edge.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import layers as L
from ..data.text import TextVectorizer
from ..model import Sequential
from ..precision import check_precision, inference, to_fp32
from ..training.callbacks import Callback
from ..training.losses import SparseCategoricalCrossentropy
from ._args import (
    check_share,
    check_structure,
    choice_field,
    decoding_args,
    int_field,
    number_field,
    units_field,
)

__all__ = ["TextGenerator", "GeneratorConfig", "sample_next"]


@dataclass(frozen=True)
class GeneratorConfig:
    cell: str = "gru"
    units: int = 512
    embedding: int = 64
    layers: int = 1
    mode: str = "char"
    max_tokens: int | None = None     # word mode: vocabulary cap
    seq_len: int = 100                # TBPTT chunk length
    batch_size: int = 64              # parallel streams
    lr: float = 2e-3
    clip_norm: float = 5.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        fields = {
            "cell": choice_field("cell", self.cell, ("simple", "lstm", "gru", "lnlstm")),
            "units": units_field("units", self.units),
            "embedding": units_field("embedding", self.embedding),
            "layers": int_field("layers", self.layers),
            "mode": choice_field("mode", self.mode, ("char", "word")),
            "max_tokens": int_field("max_tokens", self.max_tokens, minimum=3, none=True),
            "seq_len": int_field("seq_len", self.seq_len),
            "batch_size": int_field("batch_size", self.batch_size),
            "lr": number_field("lr", self.lr),
            "clip_norm": number_field("clip_norm", self.clip_norm, none=True),
            "dropout": number_field("dropout", self.dropout, low_open=False, high=1.0),
        }
        for name, value in fields.items():       # NumPy scalars become Python ones
            object.__setattr__(self, name, value)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, generator: torch.Generator | None = None) -> int:
    """One token id from (V,) logits.  temperature 0 = the most likely token (greedy);
    top_k keeps the k likeliest, top_p the smallest set whose probability reaches p.
    Logits of -inf mark tokens that may not be drawn; NaN or +inf logits are refused."""
    args = decoding_args(temperature=temperature, top_k=top_k, top_p=top_p)
    temperature, top_k, top_p = args["temperature"], args["top_k"], args["top_p"]
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f"logits must be a torch.Tensor of shape (V,), got "
                        f"{type(logits).__name__}")
    if not (logits.is_floating_point() and logits.numel() > 0):
        raise ValueError(f"logits must be a non-empty float tensor, got dtype {logits.dtype}, "
                         f"shape {tuple(logits.shape)}")
    logits = logits.detach().double().reshape(-1)
    if bool(torch.isnan(logits).any()) or bool((logits == math.inf).any()):
        raise ValueError("logits contain NaN or +inf (the model's weights or input are not "
                         "finite); cannot sample from them")
    if bool((logits == -math.inf).all()):
        raise ValueError("every logit is -inf: no token may be drawn")
    if temperature == 0:
        return int(logits.argmax())
    logits = (logits - logits.max()) / temperature    # <= 0: a tiny temperature cannot overflow
    if top_k is not None and top_k < logits.numel():
        kth = logits.topk(top_k).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, 0)
    if top_p is not None and top_p < 1:
        sorted_p, order = probs.sort(descending=True)
        keep = sorted_p.cumsum(0) - sorted_p < top_p             # always keeps the first
        probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=generator))


class TextGenerator:
    """Train on a text, measure held-out loss, generate."""

    def __init__(self, config: GeneratorConfig | None = None, **options: Any):
        self.config = config or GeneratorConfig(**options)
        self.vectorizer: TextVectorizer | None = None
        self.model: Sequential | None = None
        self.history: dict[str, list[float]] = {}
        self.fit_seconds, self.trained_tokens = 0.0, 0

    # ------------------------------------------------------------------ model
    def _build(self, stateful: bool) -> Sequential:
        c = self.config
        make = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU,
                "lnlstm": L.LayerNormLSTM}[c.cell]
        stack: list[torch.nn.Module] = [L.Embedding(self.vectorizer.size, c.embedding)]
        size = c.embedding
        for _ in range(c.layers):
            stack.append(make(c.units, input_size=size, return_sequences=True,
                              stateful=stateful, dropout=c.dropout))
            size = c.units
        stack.append(L.Dense(self.vectorizer.size, input_size=size))
        return Sequential(stack)

    def _streams(self, ids: np.ndarray, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(rows, n) inputs and the (rows, n) next tokens: the stream cut into rows."""
        n = (len(ids) - 1) // rows
        if n < 2:
            raise ValueError(f"the text is too short: {len(ids)} tokens cannot fill {rows} "
                             "streams of 2 or more")
        x = torch.from_numpy(ids[:rows * n].reshape(rows, n))
        y = torch.from_numpy(ids[1:rows * n + 1].reshape(rows, n))
        return x, y

    def _ids(self, text: str) -> np.ndarray:
        return self.vectorizer.encode(text)[0]

    # ------------------------------------------------------------------ training
    def fit(self, text: Any, *, epochs: int = 10, held_out: float = 0.1, seed: int = 0,
            verbose: int = 1, max_minutes: float | None = None,
            patience: int | None = 2, log_dir: str | Path | None = None,
            threads: int | None = None, precision: str = "fp32") -> dict[str, list[float]]:
        """Train on ``text`` (a str or a ``datasets.Text``); the last ``held_out`` share is
        never trained on and gives ``val_loss`` (nats per token) after every epoch; after
        ``patience`` epochs without improvement training stops and the best weights are
        kept.  ``max_minutes`` stops after the epoch that crosses that wall time.
        ``log_dir`` and ``threads`` go to ``Trainer.fit``."""
        import rnnkit as rk
        raw = getattr(text, "text", text)
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("fit() needs a non-empty text")
        held_out = check_share("held_out", held_out)
        number_field("max_minutes", max_minutes, none=True)
        cut = len(raw) - int(len(raw) * held_out) if held_out else len(raw)
        train_text, held_text = raw[:cut], raw[cut:]
        c = self.config
        rk.set_seed(seed)
        standardize = "lower_and_strip_punctuation" if c.mode == "word" else None
        self.vectorizer = TextVectorizer(mode=c.mode, max_tokens=c.max_tokens,
                                         standardize=standardize).adapt(train_text)
        # on N processes (torchrun, --nproc) batch_size streams each: the text is cut into
        # N * batch_size streams, and each rank trains a contiguous block of them
        streams = c.batch_size * rk.training.distributed.world()
        x, y = self._streams(self._ids(train_text), streams)
        self.model = self._build(stateful=False)
        val = None
        if held_out:
            rows = max(1, min(streams, len(held_text) // (4 * c.seq_len)))
            val = self._streams(self._ids(held_text), rows)
        callbacks: list[Callback] = [_TimeLimit(max_minutes)] if max_minutes else []
        if patience and val is not None:
            callbacks.append(rk.EarlyStopping(patience=patience))
        t0 = time.perf_counter()
        hist = self.model.fit(x, y, epochs=epochs, batch_size=c.batch_size, shuffle=False,
                              tbptt=c.seq_len, clip_norm=c.clip_norm, lr=c.lr,
                              loss=SparseCategoricalCrossentropy(from_logits=True),
                              validation_data=val, callbacks=callbacks, seed=seed,
                              verbose=verbose, log_dir=log_dir, threads=threads,
                              precision=precision)
        self.fit_seconds = time.perf_counter() - t0
        self.history = hist.history
        self.trained_tokens = int(x.numel())
        return self.history

    def _require(self) -> Sequential:
        if self.model is None or self.vectorizer is None:
            raise ValueError("the generator is not trained: call fit() or load()")
        return self.model

    def evaluate(self, text: str) -> dict[str, float]:
        """Loss in nats per token on ``text``, bits per token and perplexity over its
        ``tokens`` predicted tokens (all but the first).  Tokens of the text never seen in
        training (the first one included) are read as [UNK] and counted
        (``unknown_tokens``), as ``Translator.evaluate`` does with source words."""
        model = self._require()
        text = getattr(text, "text", text)
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        ids = torch.from_numpy(self._ids(text))[None]
        if ids.shape[1] < 2:
            raise ValueError("evaluate() needs a text of 2 or more tokens")
        unknown = int((ids == 1).sum())
        model.eval()
        with torch.no_grad():
            logits = model(ids[:, :-1])
            loss = float(torch.nn.functional.cross_entropy(logits[0], ids[0, 1:]))
        return {"loss": loss, "bits_per_token": loss / math.log(2),
                "perplexity": math.exp(loss), "tokens": int(ids.shape[1] - 1),
                "unknown_tokens": unknown}

    # ------------------------------------------------------------------ generation
    def generate(self, prompt: str, length: int = 200, *, temperature: float = 1.0,
                 top_k: int | None = None, top_p: float | None = None, seed: int | None = None,
                 on_token: Callable[[str], None] | None = None, precision: str = "fp32"
                 ) -> str:
        """``prompt`` followed by ``length`` sampled tokens.  Characters the model never saw
        are refused (they have no embedding); ``on_token`` receives each new token as it is
        made, to stream it.  ``precision`` ("fp32", "bf16" or "auto", as in ``fit``) is
        that of the network's products; the logits are sampled in float64 either way."""
        check_precision(precision)
        model = self._require()
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}: {prompt!r}")
        args = decoding_args(length=length, temperature=temperature, top_k=top_k,
                             top_p=top_p, seed=seed, on_token=on_token)
        length, seed = args["length"], args["seed"]
        if not prompt:
            raise ValueError("generate() needs a prompt of at least one token")
        ids = self.vectorizer.encode(prompt, unknown="error")[0]
        if len(ids) == 0:
            raise ValueError("the prompt is empty after standardisation")
        if self.trained_tokens and len(ids) > self.trained_tokens // self.config.batch_size:
            longest = self.trained_tokens // self.config.batch_size
            raise ValueError(f"the prompt has {len(ids)} tokens, longer than any stream the "
                             f"model was trained on ({longest})")
        g = torch.Generator().manual_seed(seed) if seed is not None else None
        stream = self._build(stateful=True)
        stream.load_state_dict(model.state_dict())
        stream.eval()
        out = []
        sep = "" if self.config.mode == "char" else " "
        with inference(stream, precision):
            logits = to_fp32(stream(torch.from_numpy(ids)[None]))[0, -1]
            for _ in range(length):
                logits[:2] = -math.inf                  # never [PAD] or [UNK]
                nxt = sample_next(logits, temperature, top_k, top_p, g)
                token = self.vectorizer.vocabulary[nxt]
                out.append(token)
                if on_token is not None:
                    on_token(token if self.config.mode == "char" else sep + token)
                logits = to_fp32(stream(torch.tensor([[nxt]])))[0, -1]
        return prompt + (sep if out and sep else "") + sep.join(out)

    # ------------------------------------------------------------------ save / report
    def save(self, path: str | Path) -> None:
        from ..saving import save
        meta = {"config": asdict(self.config), "history": self.history,
                "fit_seconds": self.fit_seconds, "trained_tokens": self.trained_tokens}
        save(self._require(), path, extra={"generator": meta,
                                           "vocab": self.vectorizer.get_config()})

    @classmethod
    def load(cls, path: str | Path) -> TextGenerator:
        from ..saving import load
        path = Path(path)
        meta_path = path / "generator.json"
        if not meta_path.is_file():
            raise ValueError(f"{path} is not a saved TextGenerator: generator.json is missing")
        try:
            from ..io import read_json
            meta = read_json(meta_path, "generator settings (JSON)")
            gen = cls(GeneratorConfig(**meta["config"]))
            gen.history = meta["history"]
            if not isinstance(gen.history, dict):
                raise ValueError(f"history must be an object, got {gen.history!r}")
            gen.fit_seconds = number_field("fit_seconds", meta["fit_seconds"],
                                           low_open=False)
            gen.trained_tokens = int_field("trained_tokens", meta["trained_tokens"],
                                           minimum=0)
        except (KeyError, TypeError, ValueError) as err:
            raise ValueError(f"{meta_path} is not a valid generator file ({err})") from None
        gen.vectorizer = TextVectorizer.load(path / "vocab.json")
        gen.model = load(path)
        gen._check_loaded(path)
        return gen

    def _check_loaded(self, path: Path) -> None:
        """generator.json, vocab.json and the saved model must describe one generator."""
        vocab, weights = path / "vocab.json", path / "weights.safetensors"
        v = self.vectorizer
        if v.mode != self.config.mode:
            raise ValueError(f"{vocab} is a {v.mode}-level vocabulary but "
                             f"{path / 'generator.json'} says mode={self.config.mode!r}")
        if v.size < 3:
            raise ValueError(f"{vocab} holds no token beyond [PAD] and [UNK]: nothing to "
                             "generate")
        model = self._require()
        first = model.layers[0] if isinstance(model, Sequential) and len(model.layers) \
            else None
        if not isinstance(first, L.Embedding):
            raise ValueError(f"{weights} does not hold a text generator (its model does not "
                             "start with an Embedding)")
        if first.input_dim != v.size:
            raise ValueError(f"{vocab} holds {v.size} tokens but the Embedding in {weights} "
                             f"has {first.input_dim} rows; the files come from different "
                             "models")
        check_structure(self._build(stateful=False), model, str(path / "generator.json"),
                        str(weights))

    def report(self, out_dir: str | Path, held_text: str | None = None,
               prompt: str = "ROMEO:", length: int = 500, seed: int = 0) -> dict[str, Any]:
        """metrics.json (held-out nats and bits per token), training.png, sample.txt."""
        from ..plots.classify import plot_curves
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        metrics: dict[str, Any] = {"config": asdict(self.config),
                                   "fit_seconds": self.fit_seconds,
                                   "epochs": len(self.history.get("loss", []))}
        if "val_loss" in self.history:
            best = min(self.history["val_loss"])
            metrics.update(held_out_loss=best, held_out_bits_per_token=best / math.log(2))
        if held_text:
            metrics["held_out"] = self.evaluate(held_text)
        sample = self.generate(prompt, length, temperature=0.8, top_k=20, seed=seed)
        (out / "sample.txt").write_text(sample + "\n")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        if self.history:
            plot_curves(self.history, out / "training.png")
        return metrics


class _TimeLimit(Callback):
    """Stop after the epoch that crosses ``minutes`` of wall time."""

    def __init__(self, minutes: float):
        self.limit = minutes * 60

    def on_train_begin(self, trainer) -> None:
        self.t0 = time.perf_counter()

    def on_epoch_end(self, trainer, epoch, logs) -> None:
        if time.perf_counter() - self.t0 > self.limit:
            trainer.stop_training = True
