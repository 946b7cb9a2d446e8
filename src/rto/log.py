"""The record of an RTO run: one entry per iteration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RTOIteration:
    """One RTO iteration.

    Attributes
    ----------
    inputs : dict
        Inputs at which the plant was measured.
    measured : dict
        Steady-state means of the measurements.
    plant_profit : float
        Profit computed from the measurements [profit unit].
    next_inputs : dict
        Inputs applied for the next iteration.
    steady_state : dict
        Detection statistics: time, samples, drift per variable (noise units).
    parameters : dict
        Parameter estimates (two-step).
    modifiers : dict
        Gradient modifiers (modifier adaptation).
    accepted : bool
        False when the data (of the steady state, or of a probe of modifier
        adaptation) failed the consistency check (gross error), or when no
        parameters could be estimated from them; the inputs then stay.
    """

    k: int
    inputs: dict[str, float]
    measured: dict[str, float]
    plant_profit: float
    next_inputs: dict[str, float]
    steady_state: dict[str, Any]
    parameters: dict[str, float] = field(default_factory=dict)
    modifiers: dict[str, float] = field(default_factory=dict)
    plant_gradient: dict[str, float] = field(default_factory=dict)
    accepted: bool = True
    note: str = ""


@dataclass
class RTOResult:
    """An RTO run: iterations, final inputs, the profit there."""

    scheme: str
    iterations: list[RTOIteration]
    final_inputs: dict[str, float]
    final_profit_measured: float
    unit: str
    plant_time: float

    def as_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "final_inputs": self.final_inputs,
                "final_profit_measured": self.final_profit_measured, "unit": self.unit,
                "plant_time": self.plant_time,
                "iterations": [it.__dict__ for it in self.iterations]}
