"""Strict, seeded test setup (filterwarnings=error is in pyproject)."""

import os

import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")    # the interop tests run Keras 3 on torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
