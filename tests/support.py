"""Numerical helpers shared by the tests (independent of the code under test)."""

from __future__ import annotations

import numpy as np

from twin.core.model import Model
from twin.core.variables import VariableSet


def central_difference(fun, x: np.ndarray) -> np.ndarray:
    """Jacobian of ``fun`` at ``x`` by central differences with relative steps."""
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(fun(x))
    jac = np.empty((f0.size, x.size))
    for j in range(x.size):
        h = 6e-6 * max(abs(x[j]), 1e-3)
        e = np.zeros_like(x)
        e[j] = h
        jac[:, j] = (np.asarray(fun(x + e)) - np.asarray(fun(x - e))) / (2 * h)
    return jac


def central(variables: VariableSet, rng: np.random.Generator, fraction: float = 0.8) -> np.ndarray:
    """Uniform random values in the central ``fraction`` of each variable's bounds.

    Infinite bounds are replaced by the nominal value +-50 % (at least +-1).
    """
    lo, hi = variables.lower(), variables.upper()
    nominal = variables.nominal()
    span = np.maximum(0.5 * np.abs(nominal), 1.0)
    lo = np.where(np.isfinite(lo), lo, nominal - span)
    hi = np.where(np.isfinite(hi), hi, nominal + span)
    margin = 0.5 * (1 - fraction) * (hi - lo)
    return rng.uniform(lo + margin, hi - margin)


def random_points(model: Model, n: int, seed: int = 1):
    """``n`` seeded ``(x, u, p)`` triples with ``p`` nominal."""
    rng = np.random.default_rng(seed)
    return [(central(model.states, rng), central(model.inputs, rng), model.p0()) for _ in range(n)]
