"""Dimension check of a model's equations, with pint units.

The fourth consumer of the equations written once (beside CasADi, Pyomo and
NumPy, see :mod:`twin.core.ops`): :func:`check_model` calls ``rhs`` and the
output map once with every state, input and parameter replaced by its
declared unit (a :class:`Dim`), through the :data:`UNITS` namespace, and
refuses a model

- with a unit pint does not know (naming the variable and the unit);
- whose derivative of a state does not have the state's unit per time unit
  (naming the state and both units), or whose output does not have the
  output's unit;
- whose equations add quantities of different dimensions, or take ``exp``,
  ``log`` or a trigonometric function of a quantity with a dimension
  (naming the state or output whose equation does it, and both units);
- whose equations turn a variable into a plain number (``math.exp`` instead
  of ``ops.exp``).

A derivative of the right dimension but another scale (a rate constant
declared per minute in a model whose time unit is the hour) is a warning:
it is right only if the equation converts it with a number.

Rules for numbers written in the equations (literals): in a product or a
quotient a literal has no unit (a factor); added to or subtracted from a
quantity it takes that quantity's unit (``x.T_R + 273.15`` is a temperature).
``ops.in_unit_of(value, z)`` gives a literal the unit of ``z`` explicitly
(a smoothing width). Temperatures in degC or degF are handled as
differences (``delta_degC``): a temperature state's derivative is in K per
time unit, and ``T + 273.15`` is in the unit of ``T``.

The check depends on the equations and the units only, so it runs once per
model definition (cached on :attr:`Model.structure` and the units): every
parameter variant of a model shares it. A model that passed cleanly is also
remembered on disk, in the cache folder of the compiled kernels, by a hash
of its CasADi equations and its units: a later process loading the same
model skips the check (and the import of pint, about 1 s).
"""

from __future__ import annotations

import linecache
import logging
import math
import re
import sys
from typing import Any

from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.ops import Ops
from twin.core.units import difference_unit, parse_unit, registry

log = logging.getLogger("twin.core.units")

_CHECKED: dict[tuple, None] = {}


class FloatUse(InputError):
    """An equation turned a variable into a plain number (``math.exp`` on a variable)."""


class Dim:
    """The unit of one value of an equation (a pint unit), or the first problem met.

    ``literal`` marks a number written in the equation: its unit is decided
    by what it meets (see the module docstring). ``problem`` is the first
    unit error met on the way to this value, with the units involved; it
    spreads to every value computed from this one. ``note`` likewise holds
    the first sum of terms of one dimension but different scales (1/h and
    1/min): a warning, not an error.
    """

    __slots__ = ("unit", "literal", "value", "problem", "note")
    __array_ufunc__ = None  # NumPy operands defer to these methods

    def __init__(self, unit: Any, literal: bool = False, value: float = math.nan,
                 problem: str = "", note: str = ""):
        self.unit = unit
        self.literal = literal
        self.value = value
        self.problem = problem
        self.note = note

    # -- construction ------------------------------------------------------
    @staticmethod
    def of(operand: Any) -> "Dim":
        """An operand as a :class:`Dim`: numbers become literals."""
        if isinstance(operand, Dim):
            return operand
        if isinstance(operand, (int, float)) or hasattr(operand, "__float__"):
            return Dim(registry().dimensionless, literal=True, value=float(operand))
        raise TypeError(f"unsupported operand in an equation: {type(operand).__name__}")

    def _bad(self, problem: str) -> "Dim":
        return Dim(self.unit, problem=problem, note=self.note)

    # -- sums --------------------------------------------------------------
    def _sum(self, other: Any, verb: str, sign: float, reverse: bool = False) -> "Dim":
        a, b = (Dim.of(other), self) if reverse else (self, Dim.of(other))
        if a.problem or b.problem:
            return a if a.problem else b
        if a.literal and b.literal:
            return Dim(a.unit, literal=True, value=a.value + sign * b.value)
        note = a.note or b.note
        if a.literal or b.literal:
            return Dim(b.unit if a.literal else a.unit, note=note)
        if a.unit.dimensionality != b.unit.dimensionality:
            return Dim(a.unit, problem=f"{verb} {_show(a.unit)} and {_show(b.unit)}")
        factor = float(registry().Quantity(1.0, b.unit).to(a.unit).magnitude)
        if not note and not math.isclose(factor, 1.0, rel_tol=1e-9):
            note = f"{verb} {_show(a.unit)} and {_show(b.unit)} (a factor {factor:.6g})"
        return Dim(a.unit, note=note)

    def __add__(self, other: Any) -> "Dim":
        return self._sum(other, "adds", 1.0)

    def __radd__(self, other: Any) -> "Dim":
        return self._sum(other, "adds", 1.0, reverse=True)

    def __sub__(self, other: Any) -> "Dim":
        return self._sum(other, "subtracts", -1.0)

    def __rsub__(self, other: Any) -> "Dim":
        return self._sum(other, "subtracts", -1.0, reverse=True)

    # -- products ----------------------------------------------------------
    def _product(self, other: Any, divide: bool, reverse: bool = False) -> "Dim":
        a, b = (Dim.of(other), self) if reverse else (self, Dim.of(other))
        if a.problem or b.problem:
            return a if a.problem else b
        unit = a.unit / b.unit if divide else a.unit * b.unit
        if a.literal and b.literal:
            value = (a.value / b.value if b.value else math.nan) if divide else a.value * b.value
            return Dim(unit, literal=True, value=value)
        return Dim(unit, note=a.note or b.note)

    def __mul__(self, other: Any) -> "Dim":
        return self._product(other, divide=False)

    def __rmul__(self, other: Any) -> "Dim":
        return self._product(other, divide=False, reverse=True)

    def __truediv__(self, other: Any) -> "Dim":
        return self._product(other, divide=True)

    def __rtruediv__(self, other: Any) -> "Dim":
        return self._product(other, divide=True, reverse=True)

    def _power(self, exponent: Any, reverse: bool = False) -> "Dim":
        base, power = (Dim.of(exponent), self) if reverse else (self, Dim.of(exponent))
        if base.problem or power.problem:
            return base if base.problem else power
        if not power.unit.dimensionless:
            return base._bad(f"raises to a power in {_show(power.unit)}")
        if base.literal and power.literal:
            try:
                value = float(base.value ** power.value)
            except (OverflowError, ZeroDivisionError, TypeError):
                value = math.nan
            return Dim(base.unit, literal=True, value=value)
        note = base.note or power.note
        if base.unit.dimensionless:
            return Dim(base.unit, note=note)
        if not power.literal or not math.isfinite(power.value):
            return base._bad(f"raises {_show(base.unit)} to a variable power")
        return Dim(base.unit ** power.value, note=note)

    def __pow__(self, exponent: Any) -> "Dim":
        return self._power(exponent)

    def __rpow__(self, base: Any) -> "Dim":
        return self._power(base, reverse=True)

    def __neg__(self) -> "Dim":
        return Dim(self.unit, self.literal, -self.value, self.problem, self.note)

    def __pos__(self) -> "Dim":
        return self

    def __abs__(self) -> "Dim":
        return Dim(self.unit, self.literal, abs(self.value), self.problem, self.note)

    # -- what no equation may do -------------------------------------------
    def __float__(self) -> float:
        if self.literal:
            return self.value
        raise FloatUse(_float_use_hint())

    __int__ = __float__  # type: ignore[assignment]
    __index__ = __float__  # type: ignore[assignment]

    def __bool__(self) -> bool:
        raise FloatUse("an equation branches on a variable (if/min/max/comparison); equations "
                       "must be one formula for CasADi, Pyomo and NumPy: use ops.abs or the "
                       "smooth functions of plant_models.smooth")

    def __repr__(self) -> str:
        return f"Dim({self.unit}{', literal' if self.literal else ''}" \
               f"{', ' + self.problem if self.problem else ''})"


_ASCII = {"\u0394\u00b0C": "delta_degC", "\u0394\u00b0F": "delta_degF", "\u00b0C": "degC",
          "\u00b0F": "degF", "\u0394": "delta_", "\u00b5": "u", "\u00b7": " "}


def _show(unit: Any) -> str:
    """A unit in short, plain-ASCII spelling, e.g. ``mol/h/l``, ``delta_degC``; ``-`` for none."""
    if unit.dimensionless and not unit._units:  # noqa: SLF001
        return "-"
    text = f"{unit:~C}"
    for symbol, plain in _ASCII.items():
        text = text.replace(symbol, plain)
    return text or "-"


def _float_use_hint() -> str:
    """Which line of a model turned a variable into a plain number, and what to use instead."""
    frame = sys._getframe(2)  # noqa: SLF001 - the caller of __float__
    line = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    match = re.search(r"\b(math|np|numpy)\.(\w+)", line)
    where = f" ({frame.f_code.co_filename.rsplit('/', 1)[-1]}:{frame.f_lineno}: {line})" if line \
        else ""
    if match:
        return (f"an equation calls {match.group(1)}.{match.group(2)} on a variable{where}; "
                f"use ops.{match.group(2)}, which serves CasADi, Pyomo and NumPy alike")
    return (f"an equation turns a variable into a plain number{where}; use the functions of "
            "ops (ops.exp, ops.log, ops.sqrt, ...), which serve CasADi, Pyomo and NumPy alike")


def _function(name: str, fn: Any) -> Any:
    def apply(z: Any) -> Dim:
        d = Dim.of(z)
        if d.problem:
            return d
        if not d.unit.dimensionless:
            return d._bad(f"takes {name} of a quantity in {_show(d.unit)} (it needs a "
                          "dimensionless argument)")
        if d.literal:
            try:
                return Dim(d.unit, literal=True, value=float(fn(d.value)))
            except (ValueError, OverflowError):
                return Dim(d.unit, literal=True)
        return Dim(registry().dimensionless, note=d.note)

    return apply


def _sqrt(z: Any) -> Dim:
    d = Dim.of(z)
    if d.problem:
        return d
    if d.literal:
        return Dim(d.unit, literal=True, value=math.sqrt(d.value) if d.value >= 0 else math.nan)
    return Dim(d.unit ** 0.5, note=d.note)


def _abs(z: Any) -> Dim:
    return abs(Dim.of(z))


def _in_unit_of(value: Any, reference: Any) -> Any:
    ref = Dim.of(reference)
    d = Dim.of(value)
    if d.problem or not d.literal or ref.literal:
        return d
    return Dim(ref.unit, note=d.note or ref.note)


def _units_ops() -> Ops:
    f = _function
    return Ops("units", f("exp", math.exp), f("log", math.log), f("log10", math.log10), _sqrt,
               f("sin", math.sin), f("cos", math.cos), f("tan", math.tan), f("asin", math.asin),
               f("acos", math.acos), f("atan", math.atan), f("sinh", math.sinh),
               f("cosh", math.cosh), f("tanh", math.tanh), _abs, in_unit_of=_in_unit_of)


UNITS = _units_ops()
"""The ops namespace of units: equations evaluated on :class:`Dim` operands."""


def _declared(model: Model) -> tuple[list[Dim], list[Dim], list[Dim], Any]:
    owner = f"model '{model.name}'"
    time = parse_unit(model.time_unit, f"{owner}: time unit")
    if time.dimensionality != registry().second.dimensionality:
        raise InputError(f"{owner}: time unit '{model.time_unit}' is not a unit of time")
    groups = []
    for variables in (model.states, model.inputs, model.parameters, model.outputs):
        groups.append([Dim(difference_unit(parse_unit(v.unit, f"{owner}: {variables.kind} "
                                                               f"'{v.name}'")))
                       for v in variables])
    xs, us, ps, _ = groups
    return xs, us, ps, time


def check_model(model: Model, disk: bool = True) -> None:
    """Refuse a model with unknown units or equations whose units do not agree.

    Raises :class:`InputError` naming the variable (unknown unit), or the
    state or output and both units (see the module docstring). Runs once per
    model definition; later calls with a model of the same equations and
    units return at once (``disk``: also in later processes).
    """
    key = (model.structure, model.time_unit,
           tuple(v.unit for g in (model.states, model.inputs, model.parameters, model.outputs)
                 for v in g))
    if key in _CHECKED:
        return
    marker = _marker(model) if disk else None
    if marker is not None and marker.exists():
        _CHECKED[key] = None
        return
    warned = _check(model)
    _CHECKED[key] = None
    if marker is not None and not warned:
        try:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.touch()
        except OSError:  # a read-only cache only costs the check next time
            pass


CHECK_VERSION = "1"
"""Changes when the rules of the check change (the markers on disk then no longer apply)."""


def _marker(model: Model):
    """The file that says this model (equations and units) passed, or ``None`` (no cache)."""
    import hashlib

    from twin.core.kernels.cache import cache_dir
    from twin.core.symbolic import casadi_form

    try:
        form = casadi_form(model)
        units = [f"{g.kind} {v.name} [{v.unit}]"
                 for g in (model.states, model.inputs, model.parameters, model.outputs) for v in g]
        text = "\n".join([CHECK_VERSION, model.time_unit, str(form.xdot), str(form.y), *units])
        folder = cache_dir() / "units-checked"
    except Exception:  # noqa: BLE001 - no CasADi form or no cache folder: check every time
        return None
    return folder / hashlib.sha256(text.encode()).hexdigest()


def _check(model: Model) -> bool:
    """The check itself; True when it logged a warning."""
    owner = f"model '{model.name}'"
    xs, us, ps, time = _declared(model)
    try:
        derivatives = model.evaluate_rhs(xs, us, ps, UNITS)
        outputs = model.evaluate_outputs(xs, us, ps, UNITS)
    except FloatUse as exc:
        raise InputError(f"{owner}: {exc}") from None
    except (TypeError, AttributeError, ArithmeticError) as exc:
        raise InputError(f"{owner}: its equations cannot be evaluated with units ({exc}); write "
                         "them with arithmetic and ops functions only") from None
    warned = False
    for v, x, d in zip(model.states, xs, derivatives):
        warned |= _expect(owner, f"the derivative of state '{v.name}'", d, x.unit / time,
                          f"{v.unit} per {model.time_unit}")
    for v, d in zip(model.outputs, outputs):
        declared = difference_unit(parse_unit(v.unit, f"{owner}: output '{v.name}'"))
        warned |= _expect(owner, f"output '{v.name}'", d, declared, v.unit)
    return warned


def _expect(owner: str, what: str, value: Any, unit: Any, spelled: str) -> bool:
    """Check one derivative or output; True when it logged a warning."""
    d = Dim.of(value)
    if d.problem:
        raise InputError(f"{owner}: {what} {d.problem}; it must be in {spelled}")
    if d.note:
        log.warning("%s: %s %s: right if the equation converts it with a number, else a unit "
                    "is declared wrong", owner, what, d.note)
        return True
    if d.literal:
        return False
    if d.unit.dimensionality != unit.dimensionality:
        raise InputError(f"{owner}: {what} is in {_show(d.unit)} ({d.unit.dimensionality}) "
                         f"but must be in {spelled} ({unit.dimensionality})")
    factor = float(registry().Quantity(1.0, d.unit).to(unit).magnitude)
    if not math.isclose(factor, 1.0, rel_tol=1e-9):
        log.warning("%s: %s is in %s, which is %.6g %s: right if the equation converts it with "
                    "a number, else a unit is declared wrong", owner, what, _show(d.unit),
                    factor, spelled)
        return True
    return False
