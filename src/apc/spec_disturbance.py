"""Disturbance models of the estimator beyond output biases (plain data).

Offset-free control needs integrating (random-walk) disturbance states that
absorb the plant-model mismatch. The classic choice, a bias on each
measurement (``measurements.bias``), blames every mismatch on the sensors;
when the mismatch sits in an input (a fouled jacket, a mis-calibrated
coolant temperature) or a parameter (a heat-transfer coefficient), a
disturbance state on that input or parameter explains it where it is, so
the state estimates stay right as well as the controlled variables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from twin.core.config import Domain, check_domains


@dataclass(frozen=True)
class DisturbanceSpec:
    """One integrating disturbance state of the estimator.

    Attributes
    ----------
    kind : str
        ``"input"``: an offset added to a model input (an MV, a DV or an input
        held constant): the plant sees ``u + d``. ``"parameter"``: a model
        parameter estimated as a random walk (nonlinear models only).
    name : str
        The input or parameter.
    noise : float
        Standard deviation of the random walk per control interval [unit of
        the input or parameter].
    """

    kind: Literal["input", "parameter"]
    name: str
    noise: Annotated[float, Domain(gt=0, le=1e12)]

    def __post_init__(self) -> None:
        check_domains(self)
