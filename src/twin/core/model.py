"""The model definition: variables plus equations, written once.

A :class:`Model` is plain data (describe, then build): its
states, inputs, parameters and outputs as :class:`~twin.core.variables.Variable`
declarations, and its equations as Python functions over an ``ops``
namespace (:mod:`twin.core.ops`)::

    def rhs(x, u, p, ops):
        k1 = p.k0 * ops.exp(-p.E / (x.T + 273.15))
        return {"C": u.F * (p.C0 - x.C) - k1 * x.C, ...}

The same functions give CasADi expressions (:mod:`twin.core.symbolic`),
Pyomo expressions (:mod:`twin.core.pyomo_form`) and plain numbers.
Models are immutable: :meth:`Model.with_parameters` and
:meth:`Model.with_parameter_set` return new models.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from twin.core.errors import InputError, UnknownNameError
from twin.core.ops import Ops
from twin.core.trips import Trip
from twin.core.variables import Variable, VariableSet

MODIFIED = " (modified)"
"""Suffix of :attr:`Model.parameter_set` once parameters were overridden."""

EquationFn = Callable[["NamedValues", "NamedValues", "NamedValues", Ops], Mapping[str, Any]]


class NamedValues:
    """Read-only access by name (``x.C_a``, ``x["C_a"]``) or position to one vector.

    The elements may be floats, CasADi symbols or Pyomo components; this
    class never looks at them.
    """

    __slots__ = ("_set", "_values")

    def __init__(self, variables: VariableSet, values: Sequence[Any]):
        if len(values) != len(variables):
            raise InputError(
                f"{variables.kind} vector has {len(values)} entries, expected {len(variables)}"
            )
        self._set = variables
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._values[self._set.index(name)]

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, str):
            return self._values[self._set.index(key)]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._set)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values[i] for i in range(len(self._set)))


@dataclass(frozen=True)
class ParameterSet:
    """A named, published set of values (named sets are module constants).

    ``values`` maps parameter names to values, and may also give nominal
    values of states and inputs (the operating point that goes with the set).
    """

    name: str
    description: str
    values: Mapping[str, float]


@dataclass(frozen=True, eq=False)
class Model:
    """A dynamic plant model ``dx/dt = rhs(x, u, p)``, ``y = outputs(x, u, p)``.

    Attributes
    ----------
    name : str
        The model's name, e.g. ``"cstr"``: a letter, then letters, digits or
        ``_`` (it names generated code and FMUs).
    title : str
        Human-readable title.
    source : str
        Literature citation the equations and values come from.
    time_unit : str
        Unit of time of the derivatives, e.g. ``"h"``, ``"min"``, ``"s"``.
    states, inputs, parameters, outputs : VariableSet
        The declarations; any sequence of :class:`Variable` is accepted.
    rhs : callable
        ``rhs(x, u, p, ops) -> {state name: time derivative}`` [state unit per
        time unit]. Called with numbers, CasADi symbols and Pyomo variables:
        arithmetic and the functions of ``ops`` only (``ops.exp``, never
        ``math.exp``); checked when the model is loaded
        (:mod:`twin.core.equation_check`).
    output_map : callable or None
        ``output_map(x, u, p, ops) -> {output name: value}``, written as ``rhs``.
    parameter_sets : tuple of ParameterSet
        Published alternatives, the first being the defaults.
    parameter_set : str
        Name of the set the current values come from (``""`` when overridden).
    stiff : bool
        True when explicit methods need tiny steps: the simulator then
        defaults to the implicit (BDF) method.
    trips : tuple of Trip
        Shutdown limits on outputs (:mod:`twin.core.trips`): a run stops
        where the plant's interlocks would stop it.
    """

    name: str
    title: str
    source: str
    time_unit: str
    states: VariableSet
    inputs: VariableSet
    parameters: VariableSet
    rhs: EquationFn
    outputs: VariableSet = field(default_factory=tuple)  # type: ignore[assignment]
    output_map: EquationFn | None = None
    parameter_sets: tuple[ParameterSet, ...] = ()
    parameter_set: str = ""
    stiff: bool = False
    trips: tuple[Trip, ...] = ()

    def __post_init__(self) -> None:
        where = f"model '{self.name}'"
        for attr, kind in (("states", "state"), ("inputs", "input"),
                           ("parameters", "parameter"), ("outputs", "output")):
            value = getattr(self, attr)
            if not isinstance(value, VariableSet):
                object.__setattr__(self, attr, VariableSet(kind, value, where))
        all_names = [n for s in (self.states, self.inputs, self.parameters, self.outputs)
                     for n in s.names]
        duplicates = sorted({n for n in all_names if all_names.count(n) > 1})
        if duplicates:
            raise InputError(f"{where}: names used twice: {', '.join(duplicates)}")
        for v in self.inputs:
            if v.role not in ("manipulated", "disturbance"):
                raise InputError(f"{where}: input '{v.name}' needs role manipulated or disturbance")
        if bool(self.outputs) != (self.output_map is not None):
            raise InputError(f"{where}: outputs and output_map must be given together")
        for ps in self.parameter_sets:
            self._check_set_names(ps.values, f"parameter set '{ps.name}'")
        for trip in self.trips:
            if trip.output not in self.outputs:
                raise UnknownNameError("output", trip.output, self.outputs.names, f"{where}: trip")

    # -- names and vectors -------------------------------------------------
    @property
    def n_x(self) -> int:
        """Number of states."""
        return len(self.states)

    @property
    def n_u(self) -> int:
        """Number of inputs (manipulated and disturbances)."""
        return len(self.inputs)

    @property
    def n_p(self) -> int:
        """Number of parameters."""
        return len(self.parameters)

    @property
    def n_y(self) -> int:
        """Number of outputs."""
        return len(self.outputs)

    @property
    def manipulated(self) -> list[Variable]:
        """The manipulated inputs (MVs)."""
        return [v for v in self.inputs if v.role == "manipulated"]

    @property
    def disturbances(self) -> list[Variable]:
        """The disturbance inputs (DVs)."""
        return [v for v in self.inputs if v.role == "disturbance"]

    def x0(self, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """Nominal state vector, with overrides by name."""
        return self.states.vector(overrides)

    def u0(self, overrides: Mapping[str, float] | None = None) -> np.ndarray:
        """Nominal input vector, with overrides by name."""
        return self.inputs.vector(overrides)

    def p0(self) -> np.ndarray:
        """Current parameter vector."""
        return self.parameters.nominal()

    def variable(self, name: str) -> Variable:
        """Look any variable up by name, whatever its kind."""
        for group in (self.states, self.inputs, self.parameters, self.outputs):
            if name in group:
                return group[name]
        raise UnknownNameError("variable", name, self.all_names(), f"model '{self.name}'")

    def all_names(self) -> list[str]:
        """Every declared name: states, inputs, parameters, outputs."""
        return (self.states.names + self.inputs.names + self.parameters.names
                + self.outputs.names)

    # -- equations ---------------------------------------------------------
    def evaluate_rhs(self, x: Sequence[Any], u: Sequence[Any], p: Sequence[Any],
                     ops: Ops) -> list[Any]:
        """Time derivatives in state order, for operands of any kind ``ops`` serves."""
        values = self.rhs(NamedValues(self.states, x), NamedValues(self.inputs, u),
                          NamedValues(self.parameters, p), ops)
        return self._ordered(values, self.states, "rhs")

    def evaluate_outputs(self, x: Sequence[Any], u: Sequence[Any], p: Sequence[Any],
                         ops: Ops) -> list[Any]:
        """Outputs in declaration order (empty when the model has none)."""
        if self.output_map is None:
            return []
        values = self.output_map(NamedValues(self.states, x), NamedValues(self.inputs, u),
                                 NamedValues(self.parameters, p), ops)
        return self._ordered(values, self.outputs, "output_map")

    def _ordered(self, values: Mapping[str, Any], variables: VariableSet, what: str) -> list[Any]:
        if len(values) != len(variables) or any(n not in values for n in variables.names):
            missing = [n for n in variables.names if n not in values]
            extra = [n for n in values if n not in variables]
            raise InputError(
                f"model '{self.name}': {what} must return exactly its {variables.kind}s;"
                f" missing {missing or 'none'}, unexpected {extra or 'none'}"
            )
        return [values[n] for n in variables.names]

    # -- variants ----------------------------------------------------------
    def with_parameters(self, values: Mapping[str, float] | None = None, **kw: float) -> "Model":
        """A model with some parameter values replaced, by name.

        >>> cstr.with_parameters(T_in=104.9)     # doctest: +SKIP
        Unknown names raise :class:`UnknownNameError` listing the valid ones.
        """
        merged = {**(values or {}), **kw}
        new = self.parameters.vector(merged)  # validates names and numbers
        params = VariableSet("parameter", [v.with_nominal(x) for v, x in zip(self.parameters, new)],
                             self.parameters.owner)
        label = self.parameter_set
        if merged and not label.endswith(MODIFIED):
            label = f"{label}{MODIFIED}" if label else MODIFIED.strip(" ()")
        return replace(self, parameters=params, parameter_set=label)

    def with_nominal(self, values: Mapping[str, float]) -> "Model":
        """A model with other nominal values of states and inputs (an operating point)."""
        states, inputs = dict(), dict()
        for name, value in values.items():
            if name in self.states:
                states[name] = value
            elif name in self.inputs:
                inputs[name] = value
            else:
                raise UnknownNameError("state or input", name,
                                       self.states.names + self.inputs.names, f"model '{self.name}'")
        xs = self.states.vector(states)
        us = self.inputs.vector(inputs)
        return replace(
            self,
            states=VariableSet("state", [v.with_nominal(x) for v, x in zip(self.states, xs)],
                               self.states.owner),
            inputs=VariableSet("input", [v.with_nominal(x) for v, x in zip(self.inputs, us)],
                               self.inputs.owner),
        )

    def with_parameter_set(self, name: str) -> "Model":
        """The model with a published parameter set applied (see :attr:`parameter_sets`)."""
        sets = {ps.name: ps for ps in self.parameter_sets}
        if name not in sets:
            raise UnknownNameError("parameter set", name, list(sets), f"model '{self.name}'")
        values = sets[name].values
        params = {k: v for k, v in values.items() if k in self.parameters}
        nominal = {k: v for k, v in values.items() if k not in self.parameters}
        return replace(self.with_parameters(params).with_nominal(nominal), parameter_set=name)

    def _check_set_names(self, values: Mapping[str, float], what: str) -> None:
        valid = self.parameters.names + self.states.names + self.inputs.names
        for key in values:
            if key not in valid:
                raise UnknownNameError("name", key, valid, f"{what} of model '{self.name}'")

    @property
    def structure(self) -> tuple:
        """What the equations' symbolic form depends on (not the values)."""
        return (self.rhs, self.output_map, tuple(self.states.names), tuple(self.inputs.names),
                tuple(self.parameters.names), tuple(self.outputs.names))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly description of the model and its variables."""
        return {
            "name": self.name,
            "title": self.title,
            "source": self.source,
            "time_unit": self.time_unit,
            "parameter_set": self.parameter_set,
            "parameter_sets": [{"name": s.name, "description": s.description}
                               for s in self.parameter_sets],
            "states": [v.as_dict() for v in self.states],
            "inputs": [v.as_dict() for v in self.inputs],
            "parameters": [v.as_dict() for v in self.parameters],
            "outputs": [v.as_dict() for v in self.outputs],
        }

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, n_x={self.n_x}, n_u={self.n_u}, n_p={self.n_p}, n_y={self.n_y},"
                f" parameter_set={self.parameter_set!r})")
