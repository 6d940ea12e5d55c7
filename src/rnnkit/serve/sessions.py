"""Streaming sessions: a stream's recurrent state kept on the server between requests, so a
new timestep costs one step of the network, whatever the length of the history.

Each session owns its state (a dict of per-layer states made by its own steps; no tensor is
shared with another session), is named by an unguessable id (``secrets.token_urlsafe``:
knowing one id tells nothing about another), expires ``ttl`` seconds after its last use,
and the store holds at most ``max_sessions`` of them.  The store knows nothing about HTTP or
torch; the app maps its errors to status codes (unknown id 404, full 429).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Session", "SessionStore", "SessionsFull", "UnknownSession"]


class SessionsFull(Exception):
    """The store holds ``max_sessions`` live sessions already."""


class UnknownSession(KeyError):
    """No live session has this id (never opened, closed, or expired)."""


@dataclass
class Session:
    id: str
    created: float
    touched: float
    state: dict[int, Any] = field(default_factory=dict)   # layer index -> that layer's state
    steps: int = 0                                         # timesteps consumed so far


class SessionStore:
    """Open, find, update and close sessions; expired ones are dropped on every access."""

    def __init__(self, max_sessions: int = 1000, ttl: float = 600.0,
                 clock: Callable[[], float] = time.monotonic):
        if isinstance(max_sessions, bool) or not isinstance(max_sessions, int) \
                or max_sessions < 0:
            raise ValueError(f"max_sessions must be an int >= 0 (0 turns sessions off), got "
                             f"{max_sessions!r}")
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl > 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        self.max_sessions, self.ttl, self.clock = max_sessions, float(ttl), clock
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            self._purge(self.clock())
            return len(self._sessions)

    def _purge(self, now: float) -> None:
        for sid in [s.id for s in self._sessions.values() if now - s.touched > self.ttl]:
            del self._sessions[sid]

    def open(self) -> Session:
        with self._lock:
            now = self.clock()
            self._purge(now)
            if len(self._sessions) >= self.max_sessions:
                raise SessionsFull(f"the server holds {self.max_sessions} sessions, its "
                                   "limit; close one (DELETE /sessions/{id}) or wait for one "
                                   f"to expire ({self.ttl:g} s after its last use)")
            sid = secrets.token_urlsafe(24)          # 192 random bits
            session = self._sessions[sid] = Session(sid, now, now)
            return session

    def get(self, sid: str) -> Session:
        """The live session ``sid``, its clock restarted; UnknownSession otherwise."""
        with self._lock:
            now = self.clock()
            self._purge(now)
            session = self._sessions.get(sid)
            if session is None:
                raise UnknownSession(sid)
            session.touched = now
            return session

    def close(self, sid: str) -> None:
        with self._lock:
            self._purge(self.clock())
            if self._sessions.pop(sid, None) is None:
                raise UnknownSession(sid)
