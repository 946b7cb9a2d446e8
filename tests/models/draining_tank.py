"""A user model that leaves its physical bounds: a tank drained at a fixed rate.

Its equation lets the pump go on drawing from an empty tank (a modelling
error a user can make), so its level goes below 0 cm. Importable as
``draining_tank:MODEL`` when this folder is on the path (the OPC UA test
serves it from a ``twin serve-opcua`` process).
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import manipulated, output, parameter, state

START_LEVEL = 1.0
"""Initial level [cm]."""


def rhs(x, u, p, ops):
    """Level balance [cm/s]: the pump draws ``drain`` whatever the level."""
    return {"level": -u.drain}


def outputs(x, u, p, ops):
    """Contents of the tank [cm3]."""
    return {"volume": p.area * x.level}


MODEL = Model(
    name="draining_tank",
    title="Tank drained at a fixed rate",
    source="test model",
    time_unit="s",
    states=[state("level", "cm", "water level", START_LEVEL, 0.0, 20.0,
                  physical=(0.0, math.inf))],
    inputs=[manipulated("drain", "cm/s", "level drop the pump causes", 1.0, 0.0, 5.0)],
    parameters=[parameter("area", "cm2", "cross-section of the tank", 2.0, 0.0)],
    outputs=[output("volume", "cm3", "contents of the tank", physical=(0.0, math.inf))],
    rhs=rhs,
    output_map=outputs,
)
