"""The session store alone: unguessable ids, TTL from the last use, the cap, close."""

import pytest

from rnnkit.serve.sessions import SessionsFull, SessionStore, UnknownSession


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_session_expires_ttl_seconds_after_its_last_use():
    clock = Clock()
    store = SessionStore(max_sessions=3, ttl=10, clock=clock)
    a, b = store.open(), store.open()
    clock.now = 8
    store.get(a.id)                         # used: its clock restarts
    clock.now = 12
    assert store.get(a.id) is a
    with pytest.raises(UnknownSession):
        store.get(b.id)                     # 12 s unused
    assert len(store) == 1


def test_the_cap_counts_live_sessions_only():
    clock = Clock()
    store = SessionStore(max_sessions=2, ttl=5, clock=clock)
    first = store.open()
    store.open()
    with pytest.raises(SessionsFull, match="2 sessions"):
        store.open()
    store.close(first.id)
    store.open()
    clock.now = 6                           # both expire: room again
    store.open()
    store.open()


def test_ids_are_long_random_and_distinct():
    store = SessionStore(max_sessions=200)
    ids = {store.open().id for _ in range(200)}
    assert len(ids) == 200 and min(len(i) for i in ids) >= 32


def test_closing_twice_or_an_unknown_id_raises():
    store = SessionStore()
    s = store.open()
    store.close(s.id)
    with pytest.raises(UnknownSession):
        store.close(s.id)


@pytest.mark.parametrize("kwargs", [{"max_sessions": -1}, {"max_sessions": True},
                                    {"ttl": 0}, {"ttl": "10"}])
def test_bad_settings_are_refused(kwargs):
    with pytest.raises(ValueError):
        SessionStore(**kwargs)
