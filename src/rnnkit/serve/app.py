"""The HTTP app: one saved model, loaded once, served by FastAPI.

    POST /predict            the network on tensors given as JSON lists
    POST /forecast           a Forecaster: steps ahead, optionally after new history, and
                             with "quantiles" its bands at those levels
    POST /classify           a SequenceClassifier: texts -> labels and probabilities
    POST /generate           a TextGenerator: tokens streamed as Server-Sent Events
    POST /translate          a Translator: texts, beam width
    POST /sessions           open a stream; POST /sessions/{id}/steps feeds it timesteps,
                             each costing one network step (the state stays here);
                             DELETE /sessions/{id} closes it
    GET  /healthz, /metadata, /docs (OpenAPI), / (a page to try the model)

Errors: every request body is checked by a pydantic model with limits (``Limits``), and a
ValueError or TypeError from rnnkit (its one boundary checks every input) is answered 422
with the field named, in FastAPI's own error shape.  An endpoint that does not fit the
loaded kind answers 409 and says which kind it needs.  A body over ``Limits.max_body``
bytes is refused 413 before it is parsed.  Sessions: unknown or expired id 404, full 429.

Concurrency: endpoints run in FastAPI's thread pool; one lock guards the network (a module
that carries state is not re-entrant), and ``threads`` sets torch's intra-op threads once,
deliberately: small recurrent models answer fastest on one.

Precision: every request runs at the precision the model was loaded for ("fp32", "bf16" or
"auto"; ``load_served``/``create_app``), through ``rnnkit.precision.inference`` (autocast
is per thread, so each request enters it on the thread that runs it); /metadata reports
the choice and its reason.  Answers are float64 JSON either way.
"""

# no `from __future__ import annotations`: FastAPI reads the endpoints' annotations, which
# name request models built per app (their limits come from Limits) in create_app's scope
import asyncio
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Annotated, Any

import numpy as np
import torch
from fastapi import Body, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from ..precision import check_precision, fit_precision
from ..tasks.forecast import check_levels
from .limits import BodyLimit, Limits
from .models import Served, SmoothedForecaster, jsonable, load_served, step_network
from .sessions import SessionsFull, SessionStore, UnknownSession

__all__ = ["create_app", "Limits"]

STATIC = Path(__file__).parent / "static"


def _unprocessable(field: str, message: str) -> HTTPException:
    """422 in FastAPI's validation-error shape, naming the body field."""
    return HTTPException(422, detail=[{"loc": ["body", field], "msg": message,
                                       "type": "value_error"}])


@contextmanager
def _user_errors(field: str) -> Iterator[None]:
    """rnnkit's ValueError/TypeError for bad input -> 422 naming ``field``."""
    try:
        yield
    except (ValueError, TypeError) as err:
        raise _unprocessable(field, str(err).strip() or type(err).__name__) from None


def _interval(f: Any) -> dict[str, Any] | None:
    """The widest central interval a served forecaster gives through /forecast's
    "quantiles" ({"levels": [low, high], "coverage": %, "how"}), or None: a quantile
    Forecaster's outermost trained pair, or 10 % and 90 % from the chosen model's errors."""
    if isinstance(f, SmoothedForecaster):
        if f.intervals is None:
            return None
        try:
            f.intervals.check((0.1, 0.9))
        except ValueError:
            return None
        return {"levels": [0.1, 0.9], "coverage": 80, "how": f.intervals.describe()}
    qs = f.config.quantiles
    if not qs or qs[0] >= 0.5:
        return None
    how = f.interval_how or ("calibrated on the validation part (split conformal)"
                             if f.conformal else "as trained (not calibrated)")
    return {"levels": [qs[0], qs[-1]], "coverage": round(100 * (qs[-1] - qs[0])), "how": how}


def _finite(values: Any, field: str) -> Any:
    array = np.asarray(values, dtype=np.float64)
    if not np.isfinite(array).all():
        raise _unprocessable(field, "the model's output is not finite (NaN or inf) for this "
                             "input: values far outside the training range overflow")
    return values


def _request_models(limits: Limits) -> Any:
    """The request bodies, their limits taken from ``limits``."""
    Float = Annotated[float, Field(allow_inf_nan=False)]
    Id = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]
    Step = Annotated[list[Float], Field(min_length=1, max_length=limits.max_features)]
    FloatSeq = Annotated[list[Step], Field(min_length=1, max_length=limits.max_steps)]
    IdSeq = Annotated[list[Id], Field(min_length=1, max_length=limits.max_steps)]
    Text = Annotated[str, Field(min_length=1, max_length=limits.max_text)]
    Texts = Annotated[list[Text], Field(min_length=1, max_length=limits.max_batch)]
    strict = ConfigDict(extra="forbid")

    class PredictRequest(BaseModel):
        """x: (B, T, D) floats, or (B, T) token ids for a network that starts with an
        Embedding; lengths: the real steps of each padded sequence (optional)."""
        model_config = strict
        x: Annotated[list[FloatSeq], Field(min_length=1, max_length=limits.max_batch)] | \
            Annotated[list[IdSeq], Field(min_length=1, max_length=limits.max_batch)]
        lengths: Annotated[list[Annotated[StrictInt, Field(ge=1, le=limits.max_steps)]],
                           Field(min_length=1, max_length=limits.max_batch)] | None = None

    class ForecastRequest(BaseModel):
        """steps: how many steps ahead (default: the horizon); history: new rows to
        forecast after, (N,) or (N, F) (default: the context saved with the model)."""
        model_config = strict
        steps: Annotated[StrictInt, Field(ge=1, le=limits.max_forecast)] | None = None
        history: Annotated[list[Float], Field(min_length=1, max_length=limits.max_history)] | \
            Annotated[list[Step], Field(min_length=1, max_length=limits.max_history)] | None \
            = None
        quantiles: Annotated[list[Float], Field(min_length=1, max_length=99)] | None = None

    class ClassifyRequest(BaseModel):
        model_config = strict
        texts: Texts

    class GenerateRequest(BaseModel):
        """Sampling as ``TextGenerator.generate``: temperature 0 is greedy; top_k keeps
        the k likeliest tokens, top_p the smallest set reaching that probability."""
        model_config = strict
        prompt: Text
        length: Annotated[StrictInt, Field(ge=0, le=limits.max_generate)] = 200
        temperature: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 1.0
        top_k: Annotated[StrictInt, Field(ge=1, le=2**31 - 1)] | None = None
        top_p: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)] | None = None
        seed: Annotated[StrictInt, Field(ge=0, le=2**63 - 1)] | None = None
        stream: bool = True

    class TranslateRequest(BaseModel):
        model_config = strict
        texts: Texts
        beam: Annotated[StrictInt, Field(ge=1, le=limits.max_beam)] = 1
        max_length: Annotated[StrictInt, Field(ge=1, le=limits.max_generate)] | None = None

    class StepsRequest(BaseModel):
        """One or more timesteps of one stream: (T, D) floats, or (T,) token ids."""
        model_config = strict
        steps: Annotated[list[Step], Field(min_length=1, max_length=limits.max_steps)] | \
            Annotated[list[Id], Field(min_length=1, max_length=limits.max_steps)]

    return SimpleNamespace(**{k: v for k, v in locals().items() if k.endswith('Request')})


class _Server:
    """The loaded model, its lock, the sessions; the endpoints' bodies (no HTTP here but
    the exceptions)."""

    def __init__(self, served: Served, limits: Limits):
        self.served, self.limits = served, limits
        if served.precision_choice is None:          # a Served built by hand
            served.precision_choice = fit_precision(served.network, served.precision)
        self.lock = threading.Lock()
        self.sessions = SessionStore(limits.max_sessions, limits.session_ttl)

    # ------------------------------------------------------------------ helpers
    def require(self, endpoint: str, *kinds: str) -> Any:
        s = self.served
        if s.kind not in kinds:
            from .models import TASK_NAMES
            need = " or ".join(TASK_NAMES[k] for k in kinds)
            raise HTTPException(409, detail=f"{endpoint} needs {need}; this server holds "
                                f"{s.describe()} (see /metadata for its endpoints)")
        return s.task

    def endpoints(self) -> list[str]:
        s = self.served
        out = ["/healthz", "/metadata"]
        if s.reads is not None:
            out.append("/predict")
        out += {"forecaster": ["/forecast"], "generator": ["/generate"],
                "translator": ["/translate"]}.get(s.kind, [])
        if s.kind == "classifier" and s.task.vectorizer is not None:
            out.append("/classify")
        if s.blocker is None and self.limits.max_sessions:
            out.append("/sessions")
        return out

    def tensor(self, x: list, field: str) -> torch.Tensor:
        """A rectangular batch as a tensor of the network's dtype (ids: int64), or 422."""
        s = self.served
        if s.reads is None and s.kind == "forecaster":
            raise HTTPException(409, detail=f"{s.blocker}: send the history to /forecast")
        if s.reads is None:
            raise HTTPException(409, detail=f"{s.describe()} takes texts, not tensors; use "
                                f"/{'translate' if s.kind == 'translator' else 'predict'}")
        is_ids = not isinstance(x[0], list) if field == "steps" else \
            not isinstance(x[0][0], list)
        if s.reads == "ids" and not is_ids:
            shape = "(T,)" if field == "steps" else "(B, T)"
            raise _unprocessable(field, f"this network starts with an Embedding: {field} "
                                 f"must be token ids {shape}, not float vectors")
        if s.reads != "ids" and is_ids:
            shape = "(T, D)" if field == "steps" else "(B, T, D)"
            raise _unprocessable(field, f"this network reads float vectors: {field} must be "
                                 f"{shape} with D = {s.reads}, not token ids")
        if is_ids:
            rows = [x] if field == "steps" else x
            if len({len(r) for r in rows}) > 1:
                raise _unprocessable(field, f"{field} is ragged: every sequence must have "
                                     "the same length (pad with 0 and give lengths)")
            return torch.tensor(x, dtype=torch.long)
        seqs = [x] if field == "steps" else x
        T = len(seqs[0])
        for b, seq in enumerate(seqs):
            if len(seq) != T:
                raise _unprocessable(field, f"{field} is ragged: sequence {b} has {len(seq)} "
                                     f"steps, sequence 0 has {T} (pad, and give lengths)")
            for t, row in enumerate(seq):
                if isinstance(s.reads, int) and len(row) != s.reads:
                    where = f"step {t}" if field == "steps" else f"sequence {b}, step {t}"
                    raise _unprocessable(field, f"{field}: {where} has {len(row)} features; "
                                         f"the network reads {s.reads}")
        return torch.tensor(x, dtype=s.dtype)

    def run_network(self, x: torch.Tensor, lengths: torch.Tensor | None) -> Any:
        """The network on x, with any carried state of a stateful layer cleared before and
        restored after: one request never sees another's state."""
        s = self.served
        with self.lock:
            saved = [(m, m.get_states()) for m in s.stateful_layers]
            try:
                for m, _ in saved:
                    m.reset_states()
                with s.inference(), _user_errors("x"):
                    if lengths is not None:
                        return s.network(x, lengths=lengths)
                    return s.network(x)
            finally:
                for m, state in saved:
                    m.reset_states(state)

    # ------------------------------------------------------------------ endpoints
    def metadata(self) -> dict[str, Any]:
        s, lim = self.served, self.limits
        history = {k: v[-1] for k, v in s.history.items() if isinstance(v, list) and v}
        reads = ({"type": "texts"} if s.reads is None else
                 {"type": "token ids", "shape": "(B, T)"} if s.reads == "ids" else
                 {"type": "floats", "shape": "(B, T, D)", "features": s.reads})
        out = {"kind": s.kind, "model": s.describe(), "folder": s.path.name,
               "config": s.config, "parameters": s.parameters, "dtype": str(s.dtype),
               "engines": s.engines, "summary": s.summary, "reads": reads,
               "training": {"final": history, "history": s.history, "metrics": s.metrics},
               "sessions": {"available": s.blocker is None and lim.max_sessions > 0,
                            "reason": s.blocker, "open": len(self.sessions),
                            "max": lim.max_sessions, "ttl_seconds": lim.session_ttl},
               "limits": asdict(lim), "torch_threads": torch.get_num_threads(),
               "endpoints": self.endpoints(), "precision": {
                   "requested": s.precision, "kind": s.precision_choice.kind,
                   "reason": s.precision_choice.reason}}
        t = s.task
        if s.kind == "forecaster":
            out["task"] = {"columns": list(t.columns),
                           "targets": [t.columns[j] for j in t.target_idx],
                           "window": t.config.window, "horizon": t.config.horizon,
                           "context_rows": len(t.context) if t.context is not None else 0,
                           "interval": _interval(t)}
        elif s.kind == "classifier":
            out["task"] = {"classes": list(t.classes), "reads_text": t.vectorizer is not None}
        elif s.kind == "generator":
            out["task"] = {"mode": t.config.mode, "vocabulary": t.vectorizer.size}
        elif s.kind == "translator":
            out["task"] = {"source_vocabulary": t.src_vec.size,
                           "target_vocabulary": t.tgt_vec.size}
        return jsonable(out)

    def predict(self, x: list, lengths: list[int] | None) -> dict[str, Any]:
        xt = self.tensor(x, "x")
        lt = None
        if lengths is not None:
            if len(lengths) != xt.shape[0]:
                raise _unprocessable("lengths", f"lengths has {len(lengths)} entries for "
                                     f"{xt.shape[0]} sequences in x")
            if max(lengths) > xt.shape[1]:
                raise _unprocessable("lengths", f"lengths holds {max(lengths)}, more than the "
                                     f"{xt.shape[1]} steps of x")
            lt = torch.tensor(lengths)
        y = self.run_network(xt, lt)
        parts = list(y) if isinstance(y, (tuple, list)) else [y]
        values = [p.double().tolist() for p in parts]
        for v in values:
            _finite(v, "x")
        out: dict[str, Any] = {"y": values[0], "shape": list(parts[0].shape)}
        if len(values) > 1:
            out["states"] = values[1:]
        return out

    def forecast(self, steps: int | None, history: list | None,
                 quantiles: list[float] | None = None) -> dict[str, Any]:
        f = self.require("/forecast", "forecaster")
        if quantiles is not None:
            with _user_errors("quantiles"):
                quantiles = list(check_levels(quantiles))       # increasing, each once
        with self.lock, _user_errors("history" if history is not None else "steps"):
            series = None if history is None else np.asarray(history, dtype=np.float64)
            values = f.predict(steps=steps, series=series, precision=self.served.precision)
        _finite(values, "history")
        bands = None
        if quantiles is not None:        # the history and steps passed: what is left is these
            with self.lock, _user_errors("quantiles"):
                bands = (f.bands(values, quantiles) if isinstance(f, SmoothedForecaster)
                         else f.predict(steps=steps, series=series, quantiles=quantiles,
                                        precision=self.served.precision))   # (s, nt, Q)
            _finite(bands, "history")
        past = f.context if history is None else np.asarray(history, dtype=np.float64)
        past = past.reshape(len(past), -1)[-self.limits.max_history:]
        targets = [f.columns[j] for j in f.target_idx]
        out = {"steps": int(values.shape[0]), "targets": targets,
               "history": {c: past[:, j].tolist() for j, c in enumerate(f.columns)},
               "forecast": {c: values[:, i].tolist() for i, c in enumerate(targets)}}
        if bands is not None:
            out["quantiles"] = {c: {f"{q:g}": bands[:, i, k].tolist()
                                    for k, q in enumerate(quantiles)}
                                for i, c in enumerate(targets)}
        return out

    def classify(self, texts: list[str]) -> dict[str, Any]:
        clf = self.require("/classify", "classifier")
        if clf.vectorizer is None:
            raise HTTPException(409, detail="this classifier reads float sequences, not "
                                "texts; send them to /predict")
        with self.lock, _user_errors("texts"):
            probs = clf.predict_proba(list(texts), precision=self.served.precision)
        _finite(probs, "texts")
        classes = list(clf.classes)
        return {"classes": classes, "results": [
            {"label": classes[int(p.argmax())], "probabilities": dict(zip(classes, p.tolist()))}
            for p in probs]}

    def translate(self, texts: list[str], beam: int, max_length: int | None) -> dict:
        tr = self.require("/translate", "translator")
        with self.lock, _user_errors("texts"):
            if beam > tr.tgt_vec.size - 2:
                raise _unprocessable("beam", f"beam must be at most {tr.tgt_vec.size - 2} "
                                     "(the tokens this model can produce)")
            out = tr.translate(list(texts), beam=beam, max_length=max_length,
                               precision=self.served.precision)
        return {"translations": out, "beam": beam}

    # ------------------------------------------------------------------ sessions
    def open_session(self) -> dict[str, Any]:
        s = self.served
        if s.blocker is not None:
            raise HTTPException(409, detail=f"sessions need a network that can run one step "
                                f"at a time: {s.blocker}")
        if not self.limits.max_sessions:
            raise HTTPException(409, detail="sessions are turned off on this server "
                                "(--max-sessions 0)")
        try:
            session = self.sessions.open()
        except SessionsFull as err:
            raise HTTPException(429, detail=str(err)) from None
        return {"id": session.id, "ttl_seconds": self.limits.session_ttl, "steps": 0}

    def session_steps(self, sid: str, steps: list) -> dict[str, Any]:
        x = self.tensor(steps, "steps")
        net = self.served.network
        with self.lock:
            try:
                session = self.sessions.get(sid)
            except UnknownSession:
                raise HTTPException(404, detail="no open session has this id (never opened, "
                                    "closed, or expired)") from None
            states, ys = session.state, []
            with self.served.inference(), _user_errors("steps"):
                for t in range(x.shape[0]):
                    y, states = step_network(net, states, x[t:t + 1])
                    ys.append(y[0].double().tolist())
            _finite(ys, "steps")
            session.state, session.steps = states, session.steps + x.shape[0]   # all or none
            return {"y": ys, "steps": session.steps}

    def close_session(self, sid: str) -> None:
        try:
            self.sessions.close(sid)
        except UnknownSession:
            raise HTTPException(404, detail="no open session has this id") from None


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


class _Cancelled(Exception):
    """The client went away: stop generating."""


class _Generation:
    """``TextGenerator.generate`` on a worker thread, its tokens passed to the event loop
    as they are made.  The generator samples on its own copy of the network (``generate``
    builds one per call), so it holds no lock; a client that leaves stops it."""

    def __init__(self, gen: Any, req: Any, precision: str = "fp32"):
        self.gen, self.req, self.precision = gen, req, precision
        self.cancelled = threading.Event()
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        self.worker = self.loop.run_in_executor(None, self._work)

    def _put(self, item: tuple[str, dict]) -> None:
        self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def _on_token(self, token: str) -> None:
        if self.cancelled.is_set():
            raise _Cancelled()
        self._put(("token", {"token": token}))

    def _work(self) -> None:
        r = self.req
        try:
            text = self.gen.generate(r.prompt, r.length, temperature=r.temperature,
                                     top_k=r.top_k, top_p=r.top_p, seed=r.seed,
                                     on_token=self._on_token, precision=self.precision)
            self._put(("done", {"text": text, "tokens": r.length}))
        except _Cancelled:
            pass
        except (ValueError, TypeError) as err:
            self._put(("error", {"detail": str(err)}))

    async def first(self) -> tuple[str, dict]:
        """The first event: a refused prompt shows here, before any byte is sent."""
        return await self.queue.get()

    async def events(self, first: tuple[str, dict]) -> Any:
        """Server-Sent Events: ``token`` per token, then ``done`` (or ``error``)."""
        try:
            event, data = first
            while True:
                yield _sse(event, data)
                if event != "token":
                    break
                event, data = await self.queue.get()
        finally:
            self.cancelled.set()
            await asyncio.wait([self.worker], timeout=5)


def create_app(model: str | Path | Served, *, limits: Limits | None = None,
               threads: int | None = None, precision: str | None = None) -> FastAPI:
    """The FastAPI app serving the saved model at ``model`` (a folder; see
    ``rnnkit.serve.models`` for the kinds), loaded once, here.

    ``threads`` sets torch's intra-op threads for the process (None leaves them as they
    are); ``limits`` bounds every request (``Limits``); ``precision`` ("fp32", "bf16" or
    "auto"; None: fp32 for a folder, the one it was loaded for when ``model`` is a
    ``Served``) is that of every request."""
    limits = limits or Limits()
    if precision is not None:
        check_precision(precision)
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive int, got {threads!r}")
        torch.set_num_threads(threads)
    if isinstance(model, Served):
        if precision is not None and precision != model.precision:
            raise ValueError(f"precision={precision!r} differs from the {model.precision!r} "
                             "this Served model was loaded for: pass precision to "
                             "load_served, or leave it out here")
        served = model
    else:
        served = load_served(model, precision or "fp32")
    server = _Server(served, limits)
    M = _request_models(limits)
    app = FastAPI(title=f"rnnkit serve: {served.describe()} ({served.path.name})",
                  description="A saved rnnkit model over HTTP. Endpoints that do not fit the "
                  "loaded kind answer 409; /metadata lists the ones that do.",
                  version="1")
    app.state.server = server
    app.add_middleware(BodyLimit, max_bytes=limits.max_body)
    errors = {409: {"description": "the endpoint does not fit the loaded model's kind"},
              413: {"description": "the request body is too large"},
              422: {"description": "bad input; the field is named"}}

    @app.get("/healthz", summary="Liveness: the model is loaded.")
    def healthz() -> dict[str, Any]:
        return {"status": "ok", "kind": served.kind}

    @app.get("/metadata", summary="Kind, config, parameter count, engines, training metrics.")
    def metadata() -> dict[str, Any]:
        return server.metadata()

    @app.post("/predict", responses=errors, summary="Run the network on (B, T, D) floats "
              "or (B, T) token ids.", description="The raw network: for a task, its inputs "
              "as the task feeds them (a Forecaster's are scaled) and its outputs before "
              "any task step (logits, scaled values).")
    def predict(req: M.PredictRequest) -> dict[str, Any]:
        return server.predict(req.x, req.lengths)

    @app.post("/forecast", responses=errors, summary="Forecast steps ahead (Forecaster).")
    def forecast(req: Annotated[M.ForecastRequest, Body()] = None) -> dict[str, Any]:
        req = req or M.ForecastRequest()
        return server.forecast(req.steps, req.history, req.quantiles)

    @app.post("/classify", responses=errors, summary="Label texts (SequenceClassifier).")
    def classify(req: M.ClassifyRequest) -> dict[str, Any]:
        return server.classify(req.texts)

    @app.post("/generate", responses={**errors, 200: {
        "description": "text/event-stream: `token` events, then `done` (or `error`); "
        "with stream=false, JSON {text}", "content": {"text/event-stream": {}}}},
        summary="Generate text, streamed token by token (TextGenerator).")
    async def generate(req: M.GenerateRequest) -> Any:
        gen = server.require("/generate", "generator")
        generation = _Generation(gen, req, served.precision)
        first = await generation.first()
        if first[0] == "error":                      # nothing sent yet: a plain 422
            raise _unprocessable("prompt", first[1]["detail"])
        if not req.stream:
            event = first
            while event[0] == "token":
                event = await generation.queue.get()
            if event[0] == "error":
                raise _unprocessable("prompt", event[1]["detail"])
            return {"text": event[1]["text"]}
        return StreamingResponse(generation.events(first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})

    @app.post("/translate", responses=errors, summary="Translate texts (Translator).")
    def translate(req: M.TranslateRequest) -> dict[str, Any]:
        return server.translate(req.texts, req.beam, req.max_length)

    @app.post("/sessions", status_code=201, responses={**errors, 429: {
        "description": "the server holds its maximum number of sessions"}},
        summary="Open a streaming session; returns its id.")
    def open_session() -> dict[str, Any]:
        return server.open_session()

    @app.post("/sessions/{session_id}/steps", responses={**errors, 404: {
        "description": "no open session has this id"}},
        summary="Feed one or more timesteps; outputs come from the carried state.")
    def session_steps(session_id: str, req: M.StepsRequest) -> dict[str, Any]:
        return server.session_steps(session_id, req.steps)

    @app.delete("/sessions/{session_id}", status_code=204, responses={404: {
        "description": "no open session has this id"}}, summary="Close a session.")
    def close_session(session_id: str) -> Response:
        server.close_session(session_id)
        return Response(status_code=204)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer echoes each bad input back: a NaN there cannot be written as
        # JSON (a 500), and a large array would be sent back whole; say where and what only
        detail = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")),
                   "type": str(e.get("type", ""))} for e in err.errors()]
        return JSONResponse({"detail": jsonable(detail)}, status_code=422)

    return app
