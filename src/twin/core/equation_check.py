"""Checks of a model's equations that run when the model is loaded.

Equations must build every non-arithmetic function through the ``ops``
namespace they are given (:mod:`twin.core.ops`): ``math.exp`` on a CasADi
symbol silently gives NaN, and on a Pyomo variable it freezes the
variable's current value into a constant. :func:`check_equations` evaluates
``rhs`` and ``output_map`` once at the nominal point with probe numbers
that carry a float but refuse to be turned into a plain float, so a call
to :mod:`math` or :mod:`numpy` on a model variable is caught and named with
the line it is on and what to use instead. It also refuses equations that
return NaN or infinity at the nominal point (naming the state or output).
"""

from __future__ import annotations

import linecache
import math
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.ops import Ops

_NUMPY_TO_OPS = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "absolute": "abs",
                 "fabs": "abs"}
_ARITHMETIC = ("add", "subtract", "multiply", "true_divide", "divide", "power", "negative",
               "positive")
_OPS_NAMES = ("exp", "log", "log10", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan",
              "sinh", "cosh", "tanh", "abs")


class _Escaped(Exception):
    """A model variable left the ``ops`` namespace (``what`` names how)."""

    def __init__(self, what: str):
        super().__init__(what)
        self.what = what


class _Probe:
    """A number that supports arithmetic and ``ops`` but refuses ``float()``."""

    __slots__ = ("value",)
    __array_priority__ = 1000

    def __init__(self, value: Any):
        self.value = np.float64(value)

    def _binary(self, other: Any, fn: Callable[[Any, Any], Any]) -> "_Probe":
        other = other.value if isinstance(other, _Probe) else other
        if not isinstance(other, (int, float, np.floating, np.integer)):
            return NotImplemented
        with np.errstate(all="ignore"):
            return _Probe(fn(self.value, np.float64(other)))

    def __add__(self, o): return self._binary(o, lambda a, b: a + b)
    def __radd__(self, o): return self._binary(o, lambda a, b: b + a)
    def __sub__(self, o): return self._binary(o, lambda a, b: a - b)
    def __rsub__(self, o): return self._binary(o, lambda a, b: b - a)
    def __mul__(self, o): return self._binary(o, lambda a, b: a * b)
    def __rmul__(self, o): return self._binary(o, lambda a, b: b * a)
    def __truediv__(self, o): return self._binary(o, _divide)
    def __rtruediv__(self, o): return self._binary(o, lambda a, b: _divide(b, a))
    def __pow__(self, o): return self._binary(o, lambda a, b: a ** b)
    def __rpow__(self, o): return self._binary(o, lambda a, b: b ** a)
    def __neg__(self): return _Probe(-self.value)
    def __pos__(self): return self
    def __abs__(self): return _Probe(abs(self.value))

    def __float__(self): raise _Escaped("float")
    def __int__(self): raise _Escaped("float")
    def __index__(self): raise _Escaped("float")
    def __complex__(self): raise _Escaped("float")
    def __bool__(self): raise _Escaped("branch")
    def __lt__(self, o): raise _Escaped("branch")
    def __le__(self, o): raise _Escaped("branch")
    def __gt__(self, o): raise _Escaped("branch")
    def __ge__(self, o): raise _Escaped("branch")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # Arithmetic with a NumPy number (``np.float64(2) * x.T``) is arithmetic; any other
        # NumPy function on a model variable is not ops.
        if method == "__call__" and ufunc.__name__ in _ARITHMETIC and not kwargs:
            values = [i.value if isinstance(i, _Probe) else i for i in inputs]
            with np.errstate(all="ignore"):
                return _Probe(ufunc(*values))
        raise _Escaped(f"numpy.{ufunc.__name__}")

    def __array_function__(self, func, types, args, kwargs):
        raise _Escaped(f"numpy.{func.__name__}")

    def __repr__(self) -> str:
        return f"_Probe({self.value!r})"


def _divide(a: np.float64, b: np.float64) -> np.float64:
    with np.errstate(all="ignore"):
        return np.float64(a) / np.float64(b)


def _unary(fn: Callable[[float], float]) -> Callable[[Any], Any]:
    def apply(a: Any) -> Any:
        value = a.value if isinstance(a, _Probe) else np.float64(a)
        with np.errstate(all="ignore"):
            return _Probe(fn(value))

    return apply


PROBE = Ops("probe", *(_unary(f) for f in (np.exp, np.log, np.log10, np.sqrt, np.sin, np.cos,
                                           np.tan, np.arcsin, np.arccos, np.arctan, np.sinh,
                                           np.cosh, np.tanh, np.abs)))
"""The ``ops`` namespace of the check: probe numbers in, probe numbers out."""


def check_equations(model: Model) -> None:
    """Refuse ``model`` (one-line :class:`InputError`) when an equation leaves ``ops`` or is
    not finite at the nominal point (states, inputs and parameters at their nominal values)."""
    x = [_Probe(v) for v in model.x0()]
    u = [_Probe(v) for v in model.u0()]
    p = [_Probe(v) for v in model.p0()]
    where = f"model '{model.name}'"
    for what, fn, evaluate, kind in (
            ("rhs", model.rhs, model.evaluate_rhs, "state"),
            ("output_map", model.output_map, model.evaluate_outputs, "output")):
        if fn is None:
            continue
        try:
            values = evaluate(x, u, p, PROBE)
        except _Escaped as exc:
            raise InputError(_escape_message(where, what, fn, exc.what, sys.exc_info()[2])) from None
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the user's equations: any error is theirs to fix
            at = _location(fn, sys.exc_info()[2])
            raise InputError(f"{where}: {what}{at} fails at the nominal point: "
                             f"{type(exc).__name__}: {exc}") from None
        names = model.states.names if kind == "state" else model.outputs.names
        for name, value in zip(names, values):
            number = value.value if isinstance(value, _Probe) else value
            if not isinstance(number, (int, float, np.floating, np.integer)):
                raise InputError(f"{where}: {what} gives {type(value).__name__} for {kind} "
                                 f"'{name}', not a number or an expression of the variables")
            if not math.isfinite(float(number)):
                raise InputError(
                    f"{where}: the {what} equation of {kind} '{name}' is {float(number)} at the "
                    "nominal point (states, inputs and parameters at their nominal values): check "
                    "divisions by zero, logarithms and roots of negative numbers, and overflowing "
                    "exponentials there")


def _escape_message(where: str, what: str, fn: Callable, how: str,
                    tb: TracebackType | None) -> str:
    at = _location(fn, tb)
    if how == "branch":
        return (f"{where}: {what}{at} compares or branches on a model variable (if, min, max, "
                "<, >): equations are evaluated symbolically; write smooth expressions with "
                "ops instead")
    if how.startswith("numpy."):
        called = how
        name = how.split(".", 1)[1]
    else:
        match = re.search(r"\b((?:math|np|numpy|cmath)\.\w+|float|int)\s*\(", at)
        called = match.group(1) if match else "a function outside ops (float(), math.*)"
        name = called.rsplit(".", 1)[-1]
    name = _NUMPY_TO_OPS.get(name, name)
    instead = (f"use ops.{name} instead of {called}" if name in _OPS_NAMES
               else f"use the functions of ops ({', '.join(_OPS_NAMES)}) instead of {called}")
    effect = ("numpy functions fail on the Pyomo variables of the RTO" if called.startswith("numpy.")
              else "on a CasADi symbol that is a silent NaN, on a Pyomo variable a constant")
    return f"{where}: {what}{at} calls {called} on a model variable ({effect}): {instead}"


def _location(fn: Callable, tb: TracebackType | None) -> str:
    """`` (file.py line N: the line)`` of the deepest traceback line in ``fn``'s file, or ""."""
    line_no, text = _user_line(fn, tb)
    code = getattr(fn, "__code__", None)
    file = f"{Path(code.co_filename).name} " if code is not None else ""
    return f" ({file}line {line_no}: {text})" if text else ""


def _user_line(fn: Callable, tb: TracebackType | None) -> tuple[int | None, str]:
    """The deepest traceback line in the file of ``fn`` (the user's equation)."""
    code = getattr(fn, "__code__", None)
    filename = code.co_filename if code is not None else None
    found: tuple[int | None, str] = (None, "")
    while tb is not None:
        frame_file = tb.tb_frame.f_code.co_filename
        if filename is None or frame_file == filename:
            found = (tb.tb_lineno, linecache.getline(frame_file, tb.tb_lineno).strip())
        tb = tb.tb_next
    return found
