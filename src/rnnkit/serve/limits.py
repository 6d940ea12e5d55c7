"""What one request may ask for (``Limits``), and the ASGI middleware that refuses a body
over its byte limit before FastAPI parses it (``BodyLimit``).  No FastAPI import here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["Limits", "BodyLimit"]


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; each bounds the memory and time a request can take."""

    max_batch: int = 64            # sequences per /predict, texts per /classify and /translate
    max_steps: int = 2000          # timesteps per sequence (/predict) and per session post
    max_features: int = 4096       # features per timestep
    max_forecast: int = 1000       # steps ahead per /forecast
    max_history: int = 10_000      # rows of new history per /forecast
    max_generate: int = 2000       # tokens per /generate, and max_length of /translate
    max_text: int = 5000           # characters per text or prompt
    max_beam: int = 16             # beam width of /translate
    max_body: int = 4_000_000      # bytes per request body (413 above)
    max_sessions: int = 1000       # live sessions at once (429 above)
    session_ttl: float = 600.0     # seconds a session lives after its last use

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                    not value >= (0 if name == "max_sessions" else 1):
                raise ValueError(f"Limits.{name} must be a positive number, got {value!r}")


class BodyLimit:
    """ASGI middleware: refuse a request body over ``max_bytes`` with 413, by its
    Content-Length before reading, or while reading one sent in chunks."""

    def __init__(self, app: Any, max_bytes: int):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await self._refuse(send, 400, "Content-Length is not a number")
                return
            if declared > self.max_bytes:
                await self._refuse(send, 413, self._message())
                return
        seen, started, refused = 0, False, False

        async def counted() -> dict:
            # past the limit: answer 413 here and tell the app the client left, so it stops
            # reading (FastAPI turns an exception raised while reading into its own 400)
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not started:
                    refused = True
                    await self._refuse(send, 413, self._message())
                    return {"type": "http.disconnect"}
            return message

        async def tracked(message: dict) -> None:
            nonlocal started
            if refused:
                return                          # the 413 is the answer already sent
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except Exception:
            if not refused:
                raise

    def _message(self) -> str:
        return f"the request body is larger than {self.max_bytes:,} bytes, the server's limit"

    @staticmethod
    async def _refuse(send: Any, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
