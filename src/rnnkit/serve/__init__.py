"""``rnnkit serve``: a saved model over HTTP (FastAPI + uvicorn), with streaming sessions
and a page to try it.  Needs the serve extra: ``pip install 'rnnkit[serve]'``.

    from rnnkit.serve import create_app
    app = create_app("runs/sunspots/model")      # then: uvicorn.run(app, host="127.0.0.1")
"""

from .limits import Limits
from .models import Served, load_served
from .sessions import SessionStore

__all__ = ["create_app", "Limits", "load_served", "Served", "SessionStore", "SERVE_HINT"]

SERVE_HINT = "rnnkit serve needs FastAPI and uvicorn: pip install 'rnnkit[serve]'"


def __getattr__(name: str):
    # the app imports FastAPI: only when asked for, so a missing extra fails with the hint
    if name == "create_app":
        try:
            from . import app
        except ModuleNotFoundError as err:
            raise ModuleNotFoundError(f"{SERVE_HINT} ({err})") from None
        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
