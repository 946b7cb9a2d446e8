"""Declarations of model variables: name, unit, description, nominal, bounds.

A :class:`Variable` is plain data. A model holds tuples of them for its
states, inputs, parameters and outputs; the position in the tuple is the
index into the numeric vectors that cross the compiled boundary, and users
only ever see the names (names at the boundary).

Two kinds of bounds
-------------------
``lower``/``upper`` are the bounds the layers above work with: the
operating range of a state or output (MPC constraints, steady-state search
boxes, target calculation) and the limits of an input (the simulator
rejects inputs outside them). They may be physical (a level is >= 0) or
just an operating choice (a tank is operated below 20 cm).

``physical`` is what no real plant can leave, whatever it is operated at:
a level >= 0, a mole fraction in [0, 1], an absolute temperature > 0 K. It
is declared on a state's or output's declaration and only there, as
``physical=(low, high)`` (``-inf``/``inf`` for a side without a limit);
finite ``lower``/``upper`` must lie within it. Undeclared, a variable has no physical
bounds (``(-inf, inf)``): the operating bounds are deliberately *not* taken
as physical by default, because a simulated sensor marks a value outside
its physical bounds Bad (:mod:`twin.core.sensors`), and an operating range
left during a transient must not make a controller lose its measurement.

States that are fractions of one whole (the mass fractions of a reactor's
contents) also name that whole, ``fraction_of="..."``: in any physical
state the fractions of one whole sum to 1.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from twin.core.errors import InputError, UnknownNameError
from twin.core.ranges import range_text

Role = Literal["manipulated", "disturbance"]

PHYSICAL_RTOL = 1e-6
"""Default tolerance on physical bounds, relative to the variable's scale [-]."""


@dataclass(frozen=True)
class Variable:
    """One named quantity of a model.

    Attributes
    ----------
    name : str
        Identifier used in equations, files and on the command line.
    unit : str
        Unit in the usual engineering spelling, e.g. ``"kmol/min"``, ``"degC"``, ``"-"``.
    description : str
        One line saying what the quantity is.
    nominal : float
        Nominal value: default initial state, default input, parameter value.
        Outputs, being computed, have ``nan`` unless a design value is known.
    lower, upper : float
        Operating bounds, physical or not [same unit]; ``-inf``/``inf`` when none.
    role : str
        For inputs only: ``"manipulated"`` (an MV a controller may move) or
        ``"disturbance"`` (a DV set by the environment). Empty otherwise.
    physical : tuple of float or None
        ``(low, high)``: the physical bounds [same unit], containing the
        finite ones of ``lower`` and ``upper``; ``None`` when none are declared (see the module
        docstring).
    fraction_of : str
        For states that are fractions of one whole: the name of the whole
        (the fractions of one whole sum to 1). Empty otherwise.
    """

    name: str
    unit: str
    description: str
    nominal: float = math.nan
    lower: float = -math.inf
    upper: float = math.inf
    role: str = ""
    physical: tuple[float, float] | None = None
    fraction_of: str = ""

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise InputError(f"variable name '{self.name}' is not a Python identifier")
        if self.lower > self.upper:
            raise InputError(
                f"variable '{self.name}': lower bound {self.lower} exceeds upper bound {self.upper}"
            )
        if self.physical is not None:
            self._check_physical()

    def _check_physical(self) -> None:
        where = f"variable '{self.name}'"
        try:
            low, high = (float(b) for b in self.physical)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise InputError(f"{where}: physical bounds must be two numbers (low, high), "
                             f"got {self.physical!r}") from None
        if math.isnan(low) or math.isnan(high) or low > high:
            raise InputError(f"{where}: physical bounds ({low:g}, {high:g}) are not low <= high")
        if (math.isfinite(self.lower) and self.lower < low) or \
                (math.isfinite(self.upper) and self.upper > high):
            raise InputError(f"{where}: bounds [{self.lower:g}, {self.upper:g}] reach outside "
                             f"the physical bounds [{low:g}, {high:g}]")
        if math.isfinite(self.nominal) and not low <= self.nominal <= high:
            raise InputError(f"{where}: nominal value {self.nominal:g} is outside the physical "
                             f"bounds [{low:g}, {high:g}]")
        object.__setattr__(self, "physical", (low, high))

    @property
    def physical_bounds(self) -> tuple[float, float]:
        """``(low, high)`` physical bounds [unit of the variable]; ``(-inf, inf)`` if undeclared."""
        return self.physical if self.physical is not None else (-math.inf, math.inf)

    def with_nominal(self, value: float) -> "Variable":
        """A copy with another nominal value."""
        return replace(self, nominal=float(value))

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly description (infinite bounds become ``None``)."""

        def num(v: float) -> float | None:
            return None if not math.isfinite(v) else v

        out = {
            "name": self.name,
            "unit": self.unit,
            "description": self.description,
            "nominal": num(self.nominal),
            "lower": num(self.lower),
            "upper": num(self.upper),
        }
        if self.role:
            out["role"] = self.role
        if self.physical is not None:
            out["physical"] = [num(self.physical[0]), num(self.physical[1])]
        if self.fraction_of:
            out["fraction_of"] = self.fraction_of
        return out


def state(name: str, unit: str, description: str, nominal: float,
          lower: float = -math.inf, upper: float = math.inf, *,
          physical: tuple[float, float] | None = None, fraction_of: str = "") -> Variable:
    """Declare a differential state, with its physical bounds where it has any.

    Parameters
    ----------
    name : str
        Identifier used in the equations (``x.name``), files and on the command line.
    unit : str
        Unit, e.g. ``"mol/L"``, ``"degC"``, ``"-"``; the model's ``rhs`` returns its
        derivative in this unit per time unit of the model.
    description : str
        One line saying what the state is.
    nominal : float
        Default initial state and steady-state guess [unit].
    lower, upper : float
        Operating range [unit]: MPC constraints and the steady-state search box
        (``-inf``/``inf``: none).
    physical : (float, float), optional
        What no real plant can leave [unit] (a level >= 0); a simulated sensor
        reads Bad outside it. Must contain the finite operating bounds.
    fraction_of : str
        For fractions of one whole (mass fractions): the whole's name; the
        fractions of one whole sum to 1.

    Example: ``state("T", "K", "reactor temperature", 350.0, 300.0, 400.0,
    physical=(0.0, math.inf))``.
    """
    return Variable(name, unit, description, nominal, lower, upper, physical=physical,
                    fraction_of=fraction_of)


def parameter(name: str, unit: str, description: str, value: float,
              lower: float = -math.inf, upper: float = math.inf) -> Variable:
    """Declare a parameter with its default value.

    ``name`` is read as ``p.name`` in the equations; ``value`` is in ``unit``
    and is overridden by ``--set name=VALUE``, ``parameters = {...}`` in files
    and :meth:`Model.with_parameters`; ``lower``/``upper`` [unit] bound what
    may be set (and estimated). Example: ``parameter("UA", "J/(min K)",
    "jacket heat-transfer coefficient times area", 5.0e4, 0.0)``.
    """
    return Variable(name, unit, description, value, lower, upper)


def manipulated(name: str, unit: str, description: str, nominal: float,
                lower: float = -math.inf, upper: float = math.inf) -> Variable:
    """Declare a manipulated input (MV): one a controller may move.

    ``nominal`` [unit] is the default input; ``lower``/``upper`` [unit] its
    limits (the simulator refuses inputs outside them, and they are the MV's
    default hard limits). Read as ``u.name`` in the equations. Example:
    ``manipulated("T_c", "K", "coolant temperature", 320.0, 290.0, 340.0)``.
    """
    return Variable(name, unit, description, nominal, lower, upper, role="manipulated")


def disturbance(name: str, unit: str, description: str, nominal: float,
                lower: float = -math.inf, upper: float = math.inf) -> Variable:
    """Declare a disturbance input (DV): one the environment sets (feed temperature).

    Same fields as :func:`manipulated`; a controller may measure it but never
    moves it. Example: ``disturbance("T_f", "K", "feed temperature", 350.0, 330.0, 370.0)``.
    """
    return Variable(name, unit, description, nominal, lower, upper, role="disturbance")


def output(name: str, unit: str, description: str,
           lower: float = -math.inf, upper: float = math.inf, *,
           physical: tuple[float, float] | None = None) -> Variable:
    """Declare an output: an algebraic function of states, inputs and parameters.

    The model's ``output_map`` returns its value [unit]; it has no nominal
    value. ``lower``/``upper`` [unit] are its operating range (CV limits),
    ``physical`` what no plant can leave. Example:
    ``output("conversion", "-", "fraction of the fed A converted")``.
    """
    return Variable(name, unit, description, math.nan, lower, upper, physical=physical)


class VariableSet(Sequence[Variable]):
    """An ordered, name-indexed tuple of variables of one kind."""

    def __init__(self, kind: str, variables: Sequence[Variable], owner: str = ""):
        self.kind = kind
        self.owner = owner
        self._vars = tuple(variables)
        self._index = {v.name: i for i, v in enumerate(self._vars)}
        if len(self._index) != len(self._vars):
            seen: set[str] = set()
            dup = next(v.name for v in self._vars if v.name in seen or seen.add(v.name))
            raise InputError(f"{kind} '{dup}' declared twice in {owner or 'model'}")

    def __len__(self) -> int:
        return len(self._vars)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return self._vars[self.index(key)]
        return self._vars[key]

    def __iter__(self) -> Iterator[Variable]:
        return iter(self._vars)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __repr__(self) -> str:
        return f"VariableSet({self.kind}: {', '.join(self.names)})"

    @property
    def names(self) -> list[str]:
        """Names in vector order."""
        return [v.name for v in self._vars]

    def index(self, name: str) -> int:  # type: ignore[override]
        """Position of ``name`` in the vector; unknown names list the valid ones."""
        try:
            return self._index[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names, self.owner) from None

    def nominal(self) -> np.ndarray:
        """Vector of nominal values [units as declared]."""
        return np.array([v.nominal for v in self._vars], dtype=float)

    def lower(self) -> np.ndarray:
        """Vector of lower bounds."""
        return np.array([v.lower for v in self._vars], dtype=float)

    def upper(self) -> np.ndarray:
        """Vector of upper bounds."""
        return np.array([v.upper for v in self._vars], dtype=float)

    def physical_lower(self) -> np.ndarray:
        """Vector of physical lower bounds (``-inf`` where none is declared)."""
        return np.array([v.physical_bounds[0] for v in self._vars], dtype=float)

    def physical_upper(self) -> np.ndarray:
        """Vector of physical upper bounds (``inf`` where none is declared)."""
        return np.array([v.physical_bounds[1] for v in self._vars], dtype=float)

    def physical_limits(self, rtol: float = PHYSICAL_RTOL) -> dict[str, tuple[float, float]]:
        """``{name: (low, high)}``: declared physical bounds widened by a tolerance.

        The tolerance is ``rtol`` times the variable's scale: the largest of 1,
        its finite physical and operating bounds and its nominal value, in
        magnitude [unit of the variable]. It absorbs integration error: a
        level that settles at 0 cm within the integrator's tolerance is
        physical. Variables without declared physical bounds are left out.
        """
        limits = {}
        for v in self._vars:
            if v.physical is None:
                continue
            scale = max([1.0] + [abs(b) for b in (*v.physical, v.lower, v.upper, v.nominal)
                                 if math.isfinite(b)])
            limits[v.name] = (v.physical[0] - rtol * scale, v.physical[1] + rtol * scale)
        return limits

    def fraction_groups(self) -> dict[str, list[int]]:
        """Positions of the fractions of each declared whole, by the whole's name."""
        groups: dict[str, list[int]] = {}
        for i, v in enumerate(self._vars):
            if v.fraction_of:
                groups.setdefault(v.fraction_of, []).append(i)
        return groups

    def vector(self, values: Mapping[str, float] | Sequence[float] | np.ndarray | None = None,
               base: np.ndarray | None = None) -> np.ndarray:
        """A numeric vector from names, a full sequence, or ``None`` (nominal).

        A mapping overrides entries of ``base`` (nominal when omitted) by
        name; unknown names raise :class:`UnknownNameError`; non-finite or
        non-numeric values raise :class:`InputError`. A value in a mapping
        may be text with a unit (``"0.5 mol/L"``), converted to the declared
        unit (:func:`twin.core.units.to_declared`).
        """
        out = (self.nominal() if base is None else np.array(base, dtype=float)).copy()
        if values is None:
            return out
        if isinstance(values, Mapping):
            for name, value in values.items():
                i = self.index(name)
                out[i] = _number(value, f"{self.kind} '{name}'", self._vars[i].unit)
            return out
        arr = np.asarray(values, dtype=float).ravel()
        if arr.size != len(self):
            raise InputError(
                f"expected {len(self)} {self.kind} values ({', '.join(self.names)}), got {arr.size}"
            )
        return arr.copy()

    def check_bounds(self, vector: Sequence[float], what: str) -> None:
        """Raise :class:`InputError` naming the first entry outside its bounds."""
        for v, x in zip(self._vars, vector):
            if not v.lower <= x <= v.upper:
                raise InputError(
                    f"{what}: {self.kind} '{v.name}' = {x:g} {v.unit} is outside its bounds"
                    f" {range_text(v.lower, v.upper)}"
                )

    def to_dict(self, vector: Sequence[float]) -> dict[str, float]:
        """Map a numeric vector back to names."""
        values = np.asarray(vector, dtype=float).ravel().tolist()   # one conversion, not n
        return dict(zip(self._index, values))


def _number(value: Any, what: str, unit: str = "-") -> float:
    """A finite number in ``unit`` (text may carry a unit of its own)."""
    from twin.core.units import to_declared

    return to_declared(value, unit, what)
