"""Functions as base cases, for checking the study machinery against known answers."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable

from twin.core.errors import InputError, UnknownNameError


def ishigami(x1: float, x2: float, x3: float, a: float = 7.0, b: float = 0.1) -> dict[str, float]:
    """Ishigami & Homma (1990): y = sin x1 + a sin^2 x2 + b x3^4 sin x1, x_i in [-pi, pi].

    Analytical Sobol indices for a = 7, b = 0.1 (:data:`ISHIGAMI_INDICES`).
    """
    return {"y": math.sin(x1) + a * math.sin(x2) ** 2 + b * x3 ** 4 * math.sin(x1)}


def _ishigami_indices(a: float = 7.0, b: float = 0.1) -> dict[str, dict[str, float]]:
    pi = math.pi
    v1 = 0.5 * (1 + b * pi ** 4 / 5) ** 2
    v2 = a ** 2 / 8
    v13 = b ** 2 * pi ** 8 * (1 / 18 - 1 / 50)
    var = v1 + v2 + v13
    return {"S1": {"x1": v1 / var, "x2": v2 / var, "x3": 0.0},
            "ST": {"x1": (v1 + v13) / var, "x2": v2 / var, "x3": v13 / var}}


ISHIGAMI_INDICES = _ishigami_indices()
"""First-order (S1) and total (ST) Sobol indices of :func:`ishigami` (a = 7, b = 0.1)."""

BUILT_IN = {"ishigami": ishigami}


def resolve_function(name: str) -> Callable[..., object]:
    """A built-in function by name, or ``module:function``."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    if ":" not in name:
        raise UnknownNameError("function", name, list(BUILT_IN) + ["module:function"])
    module, attr = name.split(":", 1)
    try:
        fn = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise InputError(f"function '{name}': {exc}") from None
    if not callable(fn):
        raise InputError(f"function '{name}' is not callable")
    return fn
