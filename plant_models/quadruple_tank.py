"""Quadruple-tank process: four interconnected water tanks, two pumps.

Pump ``i`` (voltage ``v_i``) feeds a fraction ``gamma_i`` of its flow to a
lower tank and the rest to the upper tank diagonally opposite; the upper
tanks drain into the lower ones (Torricelli outflow)::

    dh1/dt = -a1/A1 sqrt(2 g h1) + a3/A1 sqrt(2 g h3) + gamma_1 k1/A1 v1
    dh2/dt = -a2/A2 sqrt(2 g h2) + a4/A2 sqrt(2 g h4) + gamma_2 k2/A2 v2
    dh3/dt = -a3/A3 sqrt(2 g h3) + (1 - gamma_2) k2/A3 v2
    dh4/dt = -a4/A4 sqrt(2 g h4) + (1 - gamma_1) k1/A4 v1

Source:

    Johansson, K. H. (2000). The quadruple-tank process: a multivariable
    laboratory process with an adjustable zero. IEEE Transactions on Control
    Systems Technology 8(3), 456-465. Tables 1 and 2.

Parameter sets ``P-`` (minimum phase, default) and ``P+`` (non-minimum
phase), each with its published operating point. Time unit: second.

An empty tank has no outflow. Torricelli's ``a sqrt(2 g h)`` holds for
``h > 0`` only, and its slope is infinite at ``h = 0``; the outflows are
therefore written ``a sqrt(2 g) sqrt_positive(h)``
(:func:`plant_models.smooth.sqrt_positive`): exactly Torricelli's law from
``LEVEL_WIDTH`` = 0.01 cm (0.1 mm, below any level sensor's resolution)
up, exactly 0 for ``h <= 0``, and a C1 cubic between, finite everywhere
with a slope of at most 1.39/sqrt(0.01 cm) [1/sqrt(cm)]. So the published
steady states and time constants are exactly those of the square root, an
empty tank stays empty instead of draining on (the former ``sqrt(2 g |h|)``
let a tank drain below 0 cm), and every solver gets finite values and
derivatives at any trial point. Levels are physically >= 0; the upper
bound of 20 cm is the operating range (the tank's height), not physics.
"""

from __future__ import annotations

import math

from twin.core.model import Model, ParameterSet
from twin.core.variables import manipulated, output, parameter, state

from plant_models.smooth import sqrt_positive

LEVEL_WIDTH = 0.01
"""Level below which the outflow bends smoothly from Torricelli's law to 0 [cm]."""


def rhs(x, u, p, ops):
    """Level balances [cm/s]."""
    root_2g = ops.sqrt(2 * p.g)
    q1 = p.a1 * root_2g * sqrt_positive(x.h1, LEVEL_WIDTH, ops)
    q2 = p.a2 * root_2g * sqrt_positive(x.h2, LEVEL_WIDTH, ops)
    q3 = p.a3 * root_2g * sqrt_positive(x.h3, LEVEL_WIDTH, ops)
    q4 = p.a4 * root_2g * sqrt_positive(x.h4, LEVEL_WIDTH, ops)
    return {
        "h1": (-q1 + q3 + p.gamma_1 * p.k1 * u.v1) / p.A1,
        "h2": (-q2 + q4 + p.gamma_2 * p.k2 * u.v2) / p.A2,
        "h3": (-q3 + (1 - p.gamma_2) * p.k2 * u.v2) / p.A3,
        "h4": (-q4 + (1 - p.gamma_1) * p.k1 * u.v1) / p.A4,
    }


def outputs(x, u, p, ops):
    """Measured level signals of the two lower tanks [V]."""
    return {"y1": p.k_c * x.h1, "y2": p.k_c * x.h2}


_LEVEL = (0.0, 20.0)
_VOLTAGE = (0.0, 10.0)
_EMPTY_OR_MORE = (0.0, math.inf)

MODEL = Model(
    name="quadruple_tank",
    title="Quadruple-tank process (Johansson 2000)",
    source="Johansson (2000), IEEE Trans. Control Syst. Technol. 8(3):456-465, Tables 1-2",
    time_unit="s",
    states=[
        state("h1", "cm", "water level of lower tank 1", 12.4, *_LEVEL, physical=_EMPTY_OR_MORE),
        state("h2", "cm", "water level of lower tank 2", 12.7, *_LEVEL, physical=_EMPTY_OR_MORE),
        state("h3", "cm", "water level of upper tank 3", 1.8, *_LEVEL, physical=_EMPTY_OR_MORE),
        state("h4", "cm", "water level of upper tank 4", 1.4, *_LEVEL, physical=_EMPTY_OR_MORE),
    ],
    inputs=[
        manipulated("v1", "V", "voltage of pump 1", 3.00, *_VOLTAGE),
        manipulated("v2", "V", "voltage of pump 2", 3.00, *_VOLTAGE),
    ],
    parameters=[
        parameter("A1", "cm2", "cross-section of tank 1", 28.0, 0.0),
        parameter("A2", "cm2", "cross-section of tank 2", 32.0, 0.0),
        parameter("A3", "cm2", "cross-section of tank 3", 28.0, 0.0),
        parameter("A4", "cm2", "cross-section of tank 4", 32.0, 0.0),
        parameter("a1", "cm2", "outlet hole of tank 1", 0.071, 0.0),
        parameter("a2", "cm2", "outlet hole of tank 2", 0.057, 0.0),
        parameter("a3", "cm2", "outlet hole of tank 3", 0.071, 0.0),
        parameter("a4", "cm2", "outlet hole of tank 4", 0.057, 0.0),
        parameter("g", "cm/s2", "acceleration of gravity", 981.0, 0.0),
        parameter("k_c", "V/cm", "level sensor gain", 0.50, 0.0),
        parameter("k1", "cm3/(V s)", "gain of pump 1", 3.33, 0.0),
        parameter("k2", "cm3/(V s)", "gain of pump 2", 3.35, 0.0),
        parameter("gamma_1", "-", "fraction of pump 1 flow going to tank 1", 0.70, 0.0, 1.0),
        parameter("gamma_2", "-", "fraction of pump 2 flow going to tank 2", 0.60, 0.0, 1.0),
    ],
    outputs=[
        output("y1", "V", "level signal of tank 1", physical=_EMPTY_OR_MORE),
        output("y2", "V", "level signal of tank 2", physical=_EMPTY_OR_MORE),
    ],
    rhs=rhs,
    output_map=outputs,
    parameter_sets=(
        ParameterSet("P-", "minimum-phase setting (Johansson 2000, Table 2)",
                     {"k1": 3.33, "k2": 3.35, "gamma_1": 0.70, "gamma_2": 0.60,
                      "h1": 12.4, "h2": 12.7, "h3": 1.8, "h4": 1.4, "v1": 3.00, "v2": 3.00}),
        ParameterSet("P+", "non-minimum-phase setting (Johansson 2000, Table 2)",
                     {"k1": 3.14, "k2": 3.29, "gamma_1": 0.43, "gamma_2": 0.34,
                      "h1": 12.6, "h2": 13.0, "h3": 4.8, "h4": 4.9, "v1": 3.15, "v2": 3.15}),
    ),
).with_parameter_set("P-")
