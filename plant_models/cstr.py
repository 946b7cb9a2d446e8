"""Van de Vusse CSTR with a cooling jacket.

Reactions A -> B -> C and 2 A -> D in a continuously stirred tank reactor
whose jacket removes heat ``Q_dot``. Equations and values from

    Klatt, K.-U. and Engell, S. (1998). Gain-scheduling trajectory control
    of a continuous stirred tank reactor. Computers & Chemical Engineering
    22(4-5), 491-502.

with the parameterisation of do-mpc's CSTR example (Lucia et al.,
``examples/CSTR/template_model.py``): activation energies are given as
activation temperatures ``E/R`` [K]; ``beta`` multiplies the pre-exponential
factor of the first reaction and ``alpha`` the activation temperature of
the third, both 1 nominally (the example's uncertain parameters).

Parameter sets: ``do-mpc`` (default; feed temperature 130 degC and the
example's initial state as nominal state) and ``literature`` (feed
temperature 104.9 degC and Klatt & Engell's operating point
C_a = 2.14, C_b = 1.09 mol/L, T_R = 114.2, T_K = 112.9 degC at
F = 14.19 1/h, Q_dot = -1113.5 kJ/h).

Time unit: hour.

Physical bounds: concentrations >= 0 (the upper bound C_A0 is an operating
range: a reactor may start fuller than its feed), temperatures above
absolute zero (their bounds 50..180 degC are operating ranges). The
balances keep concentrations >= 0 by themselves: at C_a = 0 only feed
enters, at C_b = 0 only production from A.
"""

from __future__ import annotations

import math

from twin.core.model import Model, ParameterSet
from twin.core.variables import manipulated, output, parameter, state

C_A0 = 5.1
"""Feed concentration of A [mol/L]: the midpoint of do-mpc's range 4.5..5.7."""

_NONNEGATIVE = (0.0, math.inf)
_ABOVE_ABSOLUTE_ZERO = (-273.15, math.inf)


def rhs(x, u, p, ops):
    """Component and energy balances [mol/(L h)], [K/h]."""
    T_abs = x.T_R + 273.15
    K_1 = p.beta * p.k0_ab * ops.exp(-p.E_ab / T_abs)
    K_2 = p.k0_bc * ops.exp(-p.E_bc / T_abs)
    K_3 = p.k0_ad * ops.exp(-p.alpha * p.E_ad / T_abs)
    heat_of_reaction = (K_1 * x.C_a * p.H_ab + K_2 * x.C_b * p.H_bc
                        + K_3 * x.C_a ** 2 * p.H_ad)
    return {
        "C_a": u.F * (p.C_A0 - x.C_a) - K_1 * x.C_a - K_3 * x.C_a ** 2,
        "C_b": -u.F * x.C_b + K_1 * x.C_a - K_2 * x.C_b,
        "T_R": (heat_of_reaction / (-p.rho * p.c_p) + u.F * (p.T_in - x.T_R)
                + p.k_w * p.A_R * (x.T_K - x.T_R) / (p.rho * p.c_p * p.V_R)),
        "T_K": (u.Q_dot + p.k_w * p.A_R * (x.T_R - x.T_K)) / (p.m_k * p.c_pk),
    }


def outputs(x, u, p, ops):
    """Derived quantities of interest."""
    return {
        "T_dif": x.T_R - x.T_K,
        "conversion": (p.C_A0 - x.C_a) / p.C_A0,
        "yield_B": x.C_b / p.C_A0,
    }


MODEL = Model(
    name="cstr",
    title="Van de Vusse CSTR (Klatt & Engell 1998)",
    source="Klatt & Engell (1998), Comput. Chem. Eng. 22:491-502; do-mpc CSTR example",
    time_unit="h",
    states=[
        state("C_a", "mol/L", "concentration of A in the reactor", 0.8, 0.0, C_A0,
              physical=_NONNEGATIVE),
        state("C_b", "mol/L", "concentration of B (the product) in the reactor", 0.5, 0.0, C_A0,
              physical=_NONNEGATIVE),
        state("T_R", "degC", "reactor temperature", 134.14, 50.0, 180.0,
              physical=_ABOVE_ABSOLUTE_ZERO),
        state("T_K", "degC", "jacket (coolant) temperature", 130.0, 50.0, 180.0,
              physical=_ABOVE_ABSOLUTE_ZERO),
    ],
    inputs=[
        manipulated("F", "1/h", "dilution rate: feed flow divided by reactor volume", 14.19,
                    5.0, 100.0),
        manipulated("Q_dot", "kJ/h", "heat added through the jacket (negative: cooling)",
                    -1113.5, -8500.0, 0.0),
    ],
    parameters=[
        parameter("k0_ab", "1/h", "pre-exponential factor of A -> B", 1.287e12),
        parameter("k0_bc", "1/h", "pre-exponential factor of B -> C", 1.287e12),
        parameter("k0_ad", "L/(mol h)", "pre-exponential factor of 2A -> D", 9.043e9),
        parameter("E_ab", "K", "activation temperature E/R of A -> B", 9758.3),
        parameter("E_bc", "K", "activation temperature E/R of B -> C", 9758.3),
        parameter("E_ad", "K", "activation temperature E/R of 2A -> D", 8560.0),
        parameter("H_ab", "kJ/mol", "reaction enthalpy of A -> B (per mol A)", 4.2),
        parameter("H_bc", "kJ/mol", "reaction enthalpy of B -> C (per mol B)", -11.0),
        parameter("H_ad", "kJ/mol", "reaction enthalpy of 2A -> D (per mol A)", -41.85),
        parameter("rho", "kg/L", "density of the reacting mixture", 0.9342),
        parameter("c_p", "kJ/(kg K)", "heat capacity of the reacting mixture", 3.01),
        parameter("c_pk", "kJ/(kg K)", "heat capacity of the coolant", 2.0),
        parameter("A_R", "m2", "heat-transfer area of the jacket", 0.215),
        parameter("V_R", "L", "reactor volume", 10.01),
        parameter("m_k", "kg", "coolant mass in the jacket", 5.0),
        parameter("k_w", "kJ/(h m2 K)", "heat-transfer coefficient of the jacket", 4032.0),
        parameter("T_in", "degC", "feed temperature", 130.0),
        parameter("C_A0", "mol/L", "feed concentration of A", C_A0, 0.0),
        parameter("alpha", "-", "uncertainty factor on the activation temperature of 2A -> D",
                  1.0, 0.0),
        parameter("beta", "-", "uncertainty factor (catalyst activity) on the rate of A -> B",
                  1.0, 0.0),
    ],
    outputs=[
        output("T_dif", "K", "reactor minus jacket temperature"),
        output("conversion", "-", "fraction of the fed A converted", physical=(-math.inf, 1.0)),
        output("yield_B", "-", "B in the outflow per A fed", physical=_NONNEGATIVE),
    ],
    rhs=rhs,
    output_map=outputs,
    parameter_sets=(
        ParameterSet("do-mpc", "do-mpc CSTR example: T_in = 130 degC, example start state",
                     {"T_in": 130.0, "C_a": 0.8, "C_b": 0.5, "T_R": 134.14, "T_K": 130.0}),
        ParameterSet("literature", "Klatt & Engell (1998): T_in = 104.9 degC, their operating point",
                     {"T_in": 104.9, "C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9,
                      "F": 14.19, "Q_dot": -1113.5}),
    ),
).with_parameter_set("do-mpc")
