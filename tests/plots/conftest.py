"""Shared fixtures of the plot tests."""

import pytest


@pytest.fixture
def figures(monkeypatch):
    """The figures the plots draw, kept open to inspect."""
    import matplotlib.pyplot as plt
    kept, close = [], plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: kept.append(fig))
    yield kept
    for fig in kept:
        close(fig)
