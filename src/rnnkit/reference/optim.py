"""SGD and Adam written out over dicts of NumPy arrays (the update rules, one line each)."""

from __future__ import annotations

import numpy as np

__all__ = ["SGD", "Adam"]


class SGD:
    def __init__(self, lr: float = 0.01):
        self.lr = lr

    def step(self, params: dict, grads: dict) -> None:
        for k, g in grads.items():
            params[k] -= self.lr * g                       # theta <- theta - lr g


class Adam:
    """Kingma & Ba (2015), Algorithm 1, with Keras' eps."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-7):
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.m: dict[str, np.ndarray] = {}
        self.v: dict[str, np.ndarray] = {}
        self.t = 0

    def step(self, params: dict, grads: dict) -> None:
        self.t += 1
        for k, g in grads.items():
            m = self.m[k] = self.beta1 * self.m.get(k, 0.0) + (1 - self.beta1) * g     # 1st moment
            v = self.v[k] = self.beta2 * self.v.get(k, 0.0) + (1 - self.beta2) * g * g  # 2nd
            m_hat = m / (1 - self.beta1 ** self.t)                                     # bias fix
            v_hat = v / (1 - self.beta2 ** self.t)
            params[k] -= self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
