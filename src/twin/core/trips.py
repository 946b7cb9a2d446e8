"""Shutdown limits of a plant model: where the real plant's interlocks would stop it.

A :class:`Trip` names an output of the model, a side (``high`` or ``low``)
and a limit in the output's unit. A run whose output passes a trip's limit
ends there, as the plant would: :func:`twin.core.simulation.simulate` keeps
the data up to the time the limit is first passed (found between output
times by bisection), or its start when the initial state is already past
one, and says which limit tripped
(:attr:`twin.core.results.SimulationResult.event`). The simulated hardware
(:class:`twin.core.plant.Plant`) checks the limits at each of its ticks, as
a control system scans its interlocks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from twin.core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover - the model module imports this one
    from twin.core.model import Model

SIDES = ("high", "low")


@dataclass(frozen=True)
class Trip:
    """Shutdown when output ``output`` goes above (``high``) or below (``low``) ``limit`` [its unit].

    ``what`` says what is measured, for the event line (``"reactor pressure"``).
    """

    output: str
    side: str
    limit: float
    what: str

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise InputError(f"trip on '{self.output}': side '{self.side}' is not high or low")
        if not math.isfinite(self.limit):
            raise InputError(f"trip on '{self.output}': limit {self.limit} is not a finite number")

    def tripped(self, value: float) -> bool:
        """True when ``value`` is past the limit (a NaN trips: the plant's state is lost)."""
        if value != value:
            return True
        return value > self.limit if self.side == "high" else value < self.limit

    def event(self, value: float, unit: str, t: float, time_unit: str) -> str:
        """One line: when, which limit, the value and the limit."""
        if value != value:
            return (f"shutdown at t = {t:.6g} {time_unit}: {self.output} is not a number "
                    "(the model has left the range its equations hold in)")
        sign = ">" if self.side == "high" else "<"
        shown = f"{value:.6g}"
        if shown == f"{self.limit:g}":  # just past the limit: enough digits to show it
            shown = f"{value:.12g}"
        return (f"shutdown at t = {t:.6g} {time_unit}: {self.side} {self.what} "
                f"({self.output} = {shown} {unit} {sign} {self.limit:g} {unit})")


def first_trip(trips: Sequence[Trip], names: Sequence[str], y: Sequence[float]) -> Trip | None:
    """The first of ``trips`` past its limit at the outputs ``y`` (named ``names``), or None."""
    for trip in trips:
        if trip.tripped(float(y[names.index(trip.output)])):
            return trip
    return None


def shutdown_event(model: "Model", y: Sequence[float], t: float) -> str:
    """The event line of the first of ``model.trips`` its outputs ``y`` (in declaration order)
    pass at time ``t`` [model time unit], or '' when none does."""
    names = model.outputs.names
    trip = first_trip(model.trips, names, y)
    if trip is None:
        return ""
    value = float(y[names.index(trip.output)])
    return trip.event(value, model.outputs[trip.output].unit, t, model.time_unit)
