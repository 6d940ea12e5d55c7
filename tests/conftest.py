"""Strict, seeded test setup (filterwarnings=error is in pyproject)."""

import pytest
import torch

torch.set_num_threads(2)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
