"""Williams–Otto reactor, two-reaction approximate model (structural mismatch).

The model an RTO typically has of the Williams–Otto plant
(:mod:`plant_models.williams_otto`): the intermediate C is not known, and
two lumped reactions replace the three true ones::

    A + 2B -> P + E      rate k1 X_A X_B^2 W
    A + B + P -> G       rate k2 X_A X_B X_P W

with ``k_i = k0_i exp(-Ta_i/(T_R + 273.15))``; the stoichiometric (mass)
coefficients conserve mass. Sources:

    Forbes, J. F., Marlin, T. E. and MacGregor, J. F. (1994). Model adequacy
    requirements for optimizing plant operations. Comput. Chem. Eng. 18(6),
    497-510.

    Marchetti, A., Chachuat, B. and Bonvin, D. (2009). Modifier-adaptation
    methodology for real-time optimization. Ind. Eng. Chem. Res. 48,
    6022-6033 (values used here).

Time unit: second. Physical bounds as in :mod:`plant_models.williams_otto`.
"""

from __future__ import annotations

from twin.core.model import Model
from plant_models.williams_otto import FEED_AND_HOLDUP, INPUTS, OUTPUTS, mass_fraction
from twin.core.variables import parameter


def rhs(x, u, p, ops):
    """Mass-fraction balances [1/s]."""
    T_abs = u.T_R + 273.15
    r1 = p.k0_1 * ops.exp(-p.Ta_1 / T_abs) * x.X_A * x.X_B ** 2
    r2 = p.k0_2 * ops.exp(-p.Ta_2 / T_abs) * x.X_A * x.X_B * x.X_P
    F = p.F_A + u.F_B
    return {
        "X_A": (p.F_A - F * x.X_A) / p.W - r1 - r2,
        "X_B": (u.F_B - F * x.X_B) / p.W - 2 * r1 - r2,
        "X_E": -F * x.X_E / p.W + 2 * r1,
        "X_G": -F * x.X_G / p.W + 3 * r2,
        "X_P": -F * x.X_P / p.W + r1 - r2,
    }


def outputs(x, u, p, ops):
    """Total outflow and the mass-fraction sum (1 at any steady state)."""
    return {"F": p.F_A + u.F_B, "X_sum": x.X_A + x.X_B + x.X_E + x.X_G + x.X_P}



MODEL = Model(
    name="williams_otto_approx",
    title="Williams–Otto reactor, two-reaction approximate model",
    source="Forbes, Marlin & MacGregor (1994), Comput. Chem. Eng. 18:497; values of "
           "Marchetti, Chachuat & Bonvin (2009), Ind. Eng. Chem. Res. 48:6022",
    time_unit="s",
    states=[
        mass_fraction("X_A", "mass fraction of A (feed)", 0.09),
        mass_fraction("X_B", "mass fraction of B (feed)", 0.38),
        mass_fraction("X_E", "mass fraction of E (by-product)", 0.30),
        mass_fraction("X_G", "mass fraction of G (waste)", 0.11),
        mass_fraction("X_P", "mass fraction of P (main product)", 0.12),
    ],
    inputs=INPUTS,
    parameters=[
        *FEED_AND_HOLDUP,
        parameter("k0_1", "1/s", "pre-exponential factor of A + 2B -> P + E", 1.655e8, 0.0),
        parameter("k0_2", "1/s", "pre-exponential factor of A + B + P -> G", 2.611e13, 0.0),
        parameter("Ta_1", "K", "activation temperature of A + 2B -> P + E", 8077.6),
        parameter("Ta_2", "K", "activation temperature of A + B + P -> G", 12438.5),
    ],
    outputs=OUTPUTS,
    rhs=rhs,
    output_map=outputs,
)
