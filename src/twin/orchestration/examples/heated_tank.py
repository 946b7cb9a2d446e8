"""A heated, stirred buffer tank: a model file of your own, to copy and change.

Level ``h`` [m] and temperature ``T`` [degC] of a tank of cross-section
``A`` [m2], filled with ``F_in`` [m3/h] at ``T_in`` [degC], drained through a
linear valve (``k_v h`` [m3/h]) and heated with ``Q`` [kW]::

    dh/dt = (F_in - k_v h) / A                                  [m/h]
    dT/dt = F_in (T_in - T) / (A h) + 3600 Q / (rho c_p A h)    [K/h]

The equations use ``ops`` (not ``math``), so the same functions give the
simulation, the MPC and the steady-state economics. Use it with
``twin steady heated_tank:MODEL`` (the folder holding this file on
``PYTHONPATH``), or name ``heated_tank:MODEL`` as a loop file's model.
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import manipulated, output, parameter, state


def rhs(x, u, p, ops):
    """Volume and energy balances [m/h], [K/h]."""
    holdup = p.A * x.h
    return {
        "h": (u.F_in - p.k_v * x.h) / p.A,
        "T": u.F_in * (p.T_in - x.T) / holdup + 3600.0 * u.Q / (p.rho * p.c_p * holdup),
    }


def outputs(x, u, p, ops):
    """Outflow [m3/h]."""
    return {"F_out": p.k_v * x.h}


MODEL = Model(
    name="heated_tank",
    title="Heated buffer tank (example model file)",
    source="textbook mass and energy balances",
    time_unit="h",
    states=[
        state("h", "m", "liquid level", 1.0, 0.2, 2.0, physical=(0.0, math.inf)),
        state("T", "degC", "liquid temperature", 45.0, 10.0, 90.0),
    ],
    inputs=[
        manipulated("F_in", "m3/h", "feed flow", 2.0, 0.0, 5.0),
        manipulated("Q", "kW", "heating power", 50.0, 0.0, 200.0),
    ],
    parameters=[
        parameter("A", "m2", "cross-section of the tank", 1.5, 0.0),
        parameter("k_v", "m2/h", "valve coefficient: outflow per metre of level", 2.0, 0.0),
        parameter("T_in", "degC", "feed temperature", 20.0),
        parameter("rho", "kg/m3", "liquid density", 1000.0, 0.0),
        parameter("c_p", "kJ/(kg K)", "liquid heat capacity", 4.18, 0.0),
    ],
    outputs=[output("F_out", "m3/h", "outflow", physical=(0.0, math.inf))],
    rhs=rhs,
    output_map=outputs,
)
