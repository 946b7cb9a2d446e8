"""Exothermic A -> B CSTR with jacket cooling, at its open-loop unstable operating point.

The textbook jacketed reactor of process control: a first-order
irreversible exothermic reaction A -> B in a continuously stirred tank of
constant volume, cooled through a jacket whose coolant temperature ``T_c``
is manipulated (the jacket dynamics neglected)::

    dC_A/dt = q/V (C_Af - C_A) - k0 exp(-E_R/T) C_A
    dT/dt   = q/V (T_f - T) + (-dH)/(rho C_p) k0 exp(-E_R/T) C_A
              + UA/(V rho C_p) (T_c - T)

Equations and parameter values from

    Seborg, D. E., Edgar, T. F., Mellichamp, D. A. and Doyle, F. J.,
    Process Dynamics and Control, Wiley (the CSTR example of the nonlinear
    models chapter);
    Henson, M. A. and Seborg, D. E. (eds.) (1997). Nonlinear Process
    Control, Prentice Hall (the same reactor as a benchmark).

q = 100 L/min, V = 100 L, C_Af = 1 mol/L, T_f = 350 K, rho = 1000 g/L,
C_p = 0.239 J/(g K), dH = -5e4 J/mol, E/R = 8750 K, k0 = 7.2e10 1/min,
UA = 5e4 J/(min K). With T_c = 300 K the published steady state is
C_A = 0.5 mol/L, T = 350 K: there k = 1.0 1/min, the reaction removes half
of the feed's A, and the heat of reaction (104.6 K/min) equals the heat
removed by the jacket. That steady state is open-loop unstable (a saddle:
the Jacobian's eigenvalues are +2.83 and -0.45 1/min): a little more
heat speeds the reaction, which releases more heat. A controller must
hold it there.

Time unit: minute. Concentrations are physically >= 0, temperatures
above absolute zero; the bounds of states and inputs are operating ranges.
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import disturbance, manipulated, parameter, state

_NONNEGATIVE = (0.0, math.inf)


def rhs(x, u, p, ops):
    """Mass balance of A [mol/(L min)] and energy balance [K/min]."""
    rate = p.k0 * ops.exp(-p.E_R / x.T) * x.C_A
    return {
        "C_A": u.q / p.V * (u.C_Af - x.C_A) - rate,
        "T": (u.q / p.V * (u.T_f - x.T) - p.dH / (p.rho * p.C_p) * rate
              + p.UA / (p.V * p.rho * p.C_p) * (u.T_c - x.T)),
    }


MODEL = Model(
    name="cstr_exothermic",
    title="Exothermic A -> B CSTR with jacket cooling (Seborg et al.; Henson & Seborg)",
    source="Seborg, Edgar, Mellichamp & Doyle, Process Dynamics and Control (CSTR example); "
           "Henson & Seborg (1997), Nonlinear Process Control",
    time_unit="min",
    states=[
        state("C_A", "mol/L", "concentration of A in the reactor", 0.5, 0.0, 1.0,
              physical=_NONNEGATIVE),
        state("T", "K", "reactor temperature", 350.0, 300.0, 450.0, physical=(0.0, math.inf)),
    ],
    inputs=[
        manipulated("q", "L/min", "feed flow", 100.0, 50.0, 150.0),
        manipulated("T_c", "K", "coolant temperature", 300.0, 250.0, 350.0),
        disturbance("C_Af", "mol/L", "concentration of A in the feed", 1.0, 0.0, 2.0),
        disturbance("T_f", "K", "feed temperature", 350.0, 300.0, 400.0),
    ],
    parameters=[
        parameter("V", "L", "reactor volume", 100.0, 0.0),
        parameter("rho", "g/L", "density of the reacting mixture", 1000.0, 0.0),
        parameter("C_p", "J/(g K)", "heat capacity of the reacting mixture", 0.239, 0.0),
        parameter("dH", "J/mol", "reaction enthalpy of A -> B (negative: exothermic)", -5.0e4),
        parameter("E_R", "K", "activation temperature E/R", 8750.0, 0.0),
        parameter("k0", "1/min", "pre-exponential factor", 7.2e10, 0.0),
        parameter("UA", "J/(min K)", "heat-transfer coefficient times area of the jacket",
                  5.0e4, 0.0),
    ],
    rhs=rhs,
)
