"""Williams–Otto reactor: a CSTR with three reactions and mass holdup.

Reactions (mass basis) with Arrhenius rates ``k_i = k0_i exp(-Ta_i/(T_R + 273.15))``::

    A + B -> C          rate k1 X_A X_B W
    B + C -> P + E      rate k2 X_B X_C W
    C + P -> G          rate k3 X_C X_P W

Dynamic mass balances ``W dX_i/dt = F_in,i - F X_i + W r_i`` with total
outflow ``F = F_A + F_B``; the stoichiometric (mass) coefficients conserve
mass, so at steady state the mass fractions sum to one.

Sources:

    Williams, T. J. and Otto, R. E. (1960). A generalized chemical processing
    model for the investigation of computer control. AIEE Transactions 79,
    458-473.

    Marchetti, A., Chachuat, B. and Bonvin, D. (2009). Modifier-adaptation
    methodology for real-time optimization. Ind. Eng. Chem. Res. 48,
    6022-6033 (kinetic values and the RTO benchmark set-up used here).

Time unit: second.

Physical bounds: each mass fraction in [0, 1], and the fractions of the
reactor contents sum to 1 (declared with ``fraction_of``). The balances
keep them there from any physical state: a fraction at 0 has only
non-negative sources, and the sum relaxes to 1 (it stays 1 from a start
summing to 1).
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import manipulated, output, parameter, state


def rates(x, u, p, ops):
    """Reaction rates per unit mass [1/s]: (r1, r2, r3) = k_i times the fractions."""
    T_abs = u.T_R + 273.15
    k1 = p.k0_1 * ops.exp(-p.Ta_1 / T_abs)
    k2 = p.k0_2 * ops.exp(-p.Ta_2 / T_abs)
    k3 = p.k0_3 * ops.exp(-p.Ta_3 / T_abs)
    return k1 * x.X_A * x.X_B, k2 * x.X_B * x.X_C, k3 * x.X_C * x.X_P


def rhs(x, u, p, ops):
    """Mass-fraction balances [1/s]."""
    r1, r2, r3 = rates(x, u, p, ops)
    F = p.F_A + u.F_B
    return {
        "X_A": (p.F_A - F * x.X_A) / p.W - r1,
        "X_B": (u.F_B - F * x.X_B) / p.W - r1 - r2,
        "X_C": -F * x.X_C / p.W + 2 * r1 - 2 * r2 - r3,
        "X_E": -F * x.X_E / p.W + 2 * r2,
        "X_G": -F * x.X_G / p.W + 1.5 * r3,
        "X_P": -F * x.X_P / p.W + r2 - 0.5 * r3,
    }


def outputs(x, u, p, ops):
    """Total outflow and the mass-fraction sum (1 at any steady state)."""
    return {
        "F": p.F_A + u.F_B,
        "X_sum": x.X_A + x.X_B + x.X_C + x.X_E + x.X_G + x.X_P,
    }


FRACTION = (0.0, 1.0)
"""Operating and physical bounds of a mass fraction [-]."""
WHOLE = "reactor contents"
"""The whole the states' mass fractions are parts of (they sum to 1)."""


def mass_fraction(name: str, description: str, nominal: float):
    """Declare a state that is a mass fraction of the reactor contents [-]."""
    return state(name, "-", description, nominal, *FRACTION, physical=FRACTION, fraction_of=WHOLE)


INPUTS = [
    manipulated("F_B", "kg/s", "feed flow of pure B", 4.787, 0.0, 10.0),
    manipulated("T_R", "degC", "reactor temperature", 89.70, 50.0, 120.0),
]
"""The reactor's inputs (also those of the approximate model)."""
FEED_AND_HOLDUP = [
    parameter("F_A", "kg/s", "feed flow of pure A", 1.8275, 0.0),
    parameter("W", "kg", "reactor mass holdup", 2105.0, 0.0),
]
OUTPUTS = [
    output("F", "kg/s", "total outflow F_A + F_B", physical=(0.0, math.inf)),
    output("X_sum", "-", "sum of the mass fractions"),
]

MODEL = Model(
    name="williams_otto",
    title="Williams–Otto reactor (Williams & Otto 1960)",
    source="Williams & Otto (1960), AIEE Trans. 79:458-473; values of Marchetti et al. (2009)",
    time_unit="s",
    states=[
        mass_fraction("X_A", "mass fraction of A (feed)", 0.0875),
        mass_fraction("X_B", "mass fraction of B (feed)", 0.3896),
        mass_fraction("X_C", "mass fraction of C (intermediate)", 0.0153),
        mass_fraction("X_E", "mass fraction of E (by-product)", 0.2906),
        mass_fraction("X_G", "mass fraction of G (waste)", 0.1075),
        mass_fraction("X_P", "mass fraction of P (main product)", 0.1095),
    ],
    inputs=INPUTS,
    parameters=[
        *FEED_AND_HOLDUP,
        parameter("k0_1", "1/s", "pre-exponential factor of A + B -> C", 1.6599e6, 0.0),
        parameter("k0_2", "1/s", "pre-exponential factor of B + C -> P + E", 7.2117e8, 0.0),
        parameter("k0_3", "1/s", "pre-exponential factor of C + P -> G", 2.6745e12, 0.0),
        parameter("Ta_1", "K", "activation temperature of A + B -> C", 6666.7),
        parameter("Ta_2", "K", "activation temperature of B + C -> P + E", 8333.3),
        parameter("Ta_3", "K", "activation temperature of C + P -> G", 11111.0),
    ],
    outputs=OUTPUTS,
    rhs=rhs,
    output_map=outputs,
)
