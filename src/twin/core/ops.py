"""Math namespaces for model equations written once.

Model equations are plain functions ``rhs(x, u, p, ops)``. Called with
CasADi symbols and :data:`CASADI` they build CasADi expressions; with Pyomo
components and :data:`PYOMO` they build Pyomo expressions; with floats and
:data:`MATH` (scalars) or :data:`NUMPY` (arrays) they evaluate numerically.
Arithmetic (``+ - * / **``) works on all of them natively; everything else
an equation needs comes from ``ops``. A fourth namespace,
:data:`twin.core.dimensions.UNITS`, evaluates the equations on units to
check their dimensions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

Fn = Callable[..., object]


@dataclass(frozen=True)
class Ops:
    """The functions an equation may call, for one kind of operand."""

    name: str
    exp: Fn
    log: Fn
    log10: Fn
    sqrt: Fn
    sin: Fn
    cos: Fn
    tan: Fn
    asin: Fn
    acos: Fn
    atan: Fn
    sinh: Fn
    cosh: Fn
    tanh: Fn
    abs: Fn
    in_unit_of: Fn = lambda value, reference: value  # noqa: E731
    """``in_unit_of(value, z)``: a number written in an equation, in the unit of ``z``.

    Numerically just ``value``; for the dimension check it says that
    ``value`` is in the unit of ``z`` (a smoothing width in cm for a level
    in cm), where a bare number would be a plain factor.
    """


def _casadi_ops() -> Ops:
    import casadi as ca

    return Ops("casadi", ca.exp, ca.log, ca.log10, ca.sqrt, ca.sin, ca.cos, ca.tan,
               ca.asin, ca.acos, ca.atan, ca.sinh, ca.cosh, ca.tanh, ca.fabs)


def _pyomo_ops() -> Ops:
    import pyomo.environ as pyo

    return Ops("pyomo", pyo.exp, pyo.log, pyo.log10, pyo.sqrt, pyo.sin, pyo.cos, pyo.tan,
               pyo.asin, pyo.acos, pyo.atan, pyo.sinh, pyo.cosh, pyo.tanh, abs)


MATH = Ops("math", math.exp, math.log, math.log10, math.sqrt, math.sin, math.cos, math.tan,
           math.asin, math.acos, math.atan, math.sinh, math.cosh, math.tanh, abs)
"""Scalar floats, through the :mod:`math` module (the fastest for one point)."""

NUMPY = Ops("numpy", np.exp, np.log, np.log10, np.sqrt, np.sin, np.cos, np.tan,
            np.arcsin, np.arccos, np.arctan, np.sinh, np.cosh, np.tanh, np.abs)
"""NumPy arrays: one equation evaluation for many points at once."""


def __getattr__(name: str) -> Ops:
    # CasADi and Pyomo namespaces are built on first use, so importing this
    # module does not import Pyomo.
    if name == "CASADI":
        value = _casadi_ops()
    elif name == "PYOMO":
        value = _pyomo_ops()
    else:
        raise AttributeError(name)
    globals()[name] = value
    return value
