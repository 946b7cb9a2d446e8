"""Skogestad's distillation Column A in the LV configuration.

Binary column, 41 stages counted from the bottom: stage 1 is the reboiler
(an equilibrium stage), stages 2..40 are trays, stage 41 the total
condenser; feed on stage 21. Assumptions: constant relative volatility,
constant molar flows, vapour-liquid equilibrium on every stage, no vapour
holdup, linearised liquid-flow dynamics ``L_i = L0_i + (M_i - M0)/tau_L
+ lambda_V (V_{i-1} - V0_i)``. The condenser and reboiler levels are held
by proportional controllers on ``D`` and ``B`` (the LV configuration), so
the inputs are reflux ``L_T`` and boilup ``V_B``.

Source:

    Skogestad, S. and Morari, M. (1988). Understanding the dynamic behavior
    of distillation columns. Ind. Eng. Chem. Res. 27, 1848-1862.
    Skogestad, S. (1997). Dynamics and control of distillation columns: a
    tutorial introduction. Trans. IChemE 75(A), 539-562 ("Column A";
    the MATLAB files colamod.m and cola_lv.m).

States: liquid mole fractions of the light component ``x_1..x_41`` [-]
and liquid holdups ``M_1..M_41`` [kmol]. Time unit: minute.

Physical limits. The source's linear flows go negative away from the
operating point (a tray below 0.33 kmol would send liquid *up*; the level
controllers would pump product back in), which drives holdups below 0 and
mole fractions out of [0, 1] (e.g. full boilup with little reflux empties
the reboiler). Here, smoothly and exactly equal to the source wherever
every holdup is at least 2 ``HOLDUP_WIDTH`` and every liquid and product
flow of the source at least ``FLOW_WIDTH`` (so at the published operating point):

* liquid and product flows are >= 0 (:func:`plant_models.smooth.positive_part`);
* a stage with no liquid has no outflow: tray liquid, reflux, distillate,
  bottoms and boilup are multiplied by a C1 switch that is 0 at zero
  holdup and 1 from ``HOLDUP_WIDTH`` up (:func:`plant_models.smooth.switch_on`);
  ``L_T`` and ``V_B`` are thus the reflux and boilup asked for, delivered
  while the condenser drum and reboiler hold liquid;
* the composition balances divide by the holdup, but by no less than
  ``HOLDUP_WIDTH`` (an empty stage's composition is undefined; 0 would
  divide by 0).

With all flows >= 0 and zero outflow at zero holdup, holdups stay >= 0
and mole fractions in [0, 1]. The price: the boilup actually delivered
depends on the reboiler holdup ``M_1``, and the vapour passes every stage,
so every equation depends on ``M_1``. That is physics (no vapour holdup),
but it widens the band of the Jacobian the BDF kernel factorises.
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import disturbance, manipulated, output, parameter, state

from plant_models.smooth import positive_part, switch_on

N_STAGES = 41
"""Number of stages, reboiler and total condenser included."""
FEED_STAGE = 21
"""Feed stage, counted from the reboiler (stage 1)."""

_STAGES = range(1, N_STAGES + 1)
_FRACTION = (0.0, 1.0)
_EMPTY_OR_MORE = (0.0, math.inf)

HOLDUP_WIDTH = 1e-3
"""Holdup below which a stage's outflows switch smoothly off [kmol] (0.2 % of nominal)."""
FLOW_WIDTH = 1e-3
"""Flow below which a liquid or product flow bends smoothly to 0 [kmol/min]."""


def _product_flows(x, p, ops):
    """Distillate ``D`` and bottoms ``B`` [kmol/min]: the level controllers' flows.

    The P controllers ``D = D_s + K_cD (M_41 - M_Ds)`` (likewise ``B``) drive
    a valve, which cannot pump backwards and draws nothing from an empty
    drum: limited to >= 0 and to 0 at zero holdup.
    """
    M_D, M_B = x[f"M_{N_STAGES}"], x["M_1"]
    D = (positive_part(p.D_s + (M_D - p.M_Ds) * p.K_cD, FLOW_WIDTH, ops)
         * switch_on(M_D, HOLDUP_WIDTH, ops))
    B = (positive_part(p.B_s + (M_B - p.M_Bs) * p.K_cB, FLOW_WIDTH, ops)
         * switch_on(M_B, HOLDUP_WIDTH, ops))
    return D, B


def rhs(x, u, p, ops):
    """Total and light-component material balances [kmol/min], as d(x_i)/dt and d(M_i)/dt."""
    n, nf = N_STAGES, FEED_STAGE
    xs = [None] + [x[f"x_{i}"] for i in _STAGES]  # 1-based, as in the source
    M = [None] + [x[f"M_{i}"] for i in _STAGES]
    has_liquid = [None] + [switch_on(M[i], HOLDUP_WIDTH, ops) for i in _STAGES]
    y = [None] + [p.alpha * xs[i] / (1 + (p.alpha - 1) * xs[i]) for i in range(1, n)]
    boilup = u.V_B * has_liquid[1]  # a dry reboiler boils nothing
    V = [None] + [boilup if i < nf else boilup + (1 - p.q_F) * u.F for i in range(1, n)]
    L0 = p.L_T0
    L0b = p.L_T0 + p.q_F0 * p.F0
    V0 = p.V_B0
    V0t = p.V_B0 + (1 - p.q_F0) * p.F0
    L = [None, None]
    for i in range(2, n):
        below_feed = i <= nf
        weir = ((L0b if below_feed else L0) + (M[i] - p.M0) / p.tau_L
                + p.lambda_V * (V[i - 1] - (V0 if below_feed else V0t)))
        L.append(positive_part(weir, FLOW_WIDTH, ops) * has_liquid[i])
    L.append(u.L_T * has_liquid[n])  # reflux, as far as the condenser drum holds liquid
    D, B = _product_flows(x, p, ops)

    dM = [None] * (n + 1)
    dMx = [None] * (n + 1)
    dM[1] = L[2] - V[1] - B
    dMx[1] = L[2] * xs[2] - V[1] * y[1] - B * xs[1]
    for i in range(2, n):
        dM[i] = L[i + 1] - L[i] + V[i - 1] - V[i]
        dMx[i] = L[i + 1] * xs[i + 1] - L[i] * xs[i] + V[i - 1] * y[i - 1] - V[i] * y[i]
    dM[nf] = dM[nf] + u.F
    dMx[nf] = dMx[nf] + u.F * u.z_F
    dM[n] = V[n - 1] - L[n] - D
    dMx[n] = V[n - 1] * y[n - 1] - L[n] * xs[n] - D * xs[n]

    # The holdup a composition changes with, never below HOLDUP_WIDTH (M itself from 2 widths up).
    M_mix = [None] + [HOLDUP_WIDTH + positive_part(M[i] - HOLDUP_WIDTH, HOLDUP_WIDTH, ops)
                      for i in _STAGES]
    out = {f"x_{i}": (dMx[i] - xs[i] * dM[i]) / M_mix[i] for i in _STAGES}
    out.update({f"M_{i}": dM[i] for i in _STAGES})
    return out


def outputs(x, u, p, ops):
    """Product compositions and flows."""
    D, B = _product_flows(x, p, ops)
    return {"x_D": x[f"x_{N_STAGES}"], "x_B": x["x_1"], "D": D, "B": B}


def _nominal_composition(i: int) -> float:
    # A smooth guess between bottom (0.01) and top (0.99) purity; the exact
    # profile comes from the steady-state solver.
    return 0.01 + 0.98 * (i - 1) / (N_STAGES - 1)


def _stage_name(i: int) -> str:
    if i == 1:
        return "reboiler"
    if i == N_STAGES:
        return "condenser"
    return f"stage {i}" + (" (feed)" if i == FEED_STAGE else "")


MODEL = Model(
    name="distillation_a",
    title="Distillation Column A, LV configuration (Skogestad 1997)",
    source="Skogestad & Morari (1988), Ind. Eng. Chem. Res. 27:1848; Skogestad (1997), "
           "Trans. IChemE 75A:539 (colamod.m, cola_lv.m)",
    time_unit="min",
    states=(
        [state(f"x_{i}", "-", f"liquid mole fraction of light component, {_stage_name(i)}",
               _nominal_composition(i), 0.0, 1.0, physical=_FRACTION) for i in _STAGES]
        + [state(f"M_{i}", "kmol", f"liquid holdup, {_stage_name(i)}", 0.5, 0.0, 5.0,
                 physical=_EMPTY_OR_MORE) for i in _STAGES]
    ),
    inputs=[
        manipulated("L_T", "kmol/min", "reflux flow", 2.70629, 0.0, 10.0),
        manipulated("V_B", "kmol/min", "boilup flow", 3.20629, 0.0, 10.0),
        disturbance("F", "kmol/min", "feed flow", 1.0, 0.0, 2.0),
        disturbance("z_F", "-", "feed mole fraction of light component", 0.5, 0.0, 1.0),
    ],
    parameters=[
        parameter("alpha", "-", "relative volatility", 1.5, 1.0),
        parameter("tau_L", "min", "time constant of the liquid flow dynamics", 0.063, 0.0),
        parameter("lambda_V", "-", "effect of vapour flow on liquid flow (K2 effect)", 0.0),
        parameter("M0", "kmol", "nominal liquid holdup on every stage", 0.5, 0.0),
        parameter("q_F", "-", "liquid fraction of the feed", 1.0, 0.0, 1.0),
        parameter("q_F0", "-", "nominal liquid fraction of the feed", 1.0, 0.0, 1.0),
        parameter("F0", "kmol/min", "nominal feed flow", 1.0, 0.0),
        parameter("L_T0", "kmol/min", "nominal reflux flow", 2.70629, 0.0),
        parameter("V_B0", "kmol/min", "nominal boilup flow", 3.20629, 0.0),
        parameter("K_cD", "1/min", "gain of the condenser level controller (on D)", 10.0),
        parameter("K_cB", "1/min", "gain of the reboiler level controller (on B)", 10.0),
        parameter("M_Ds", "kmol", "condenser holdup setpoint", 0.5, 0.0),
        parameter("M_Bs", "kmol", "reboiler holdup setpoint", 0.5, 0.0),
        parameter("D_s", "kmol/min", "nominal distillate flow", 0.5, 0.0),
        parameter("B_s", "kmol/min", "nominal bottoms flow", 0.5, 0.0),
    ],
    outputs=[
        output("x_D", "-", "distillate (top) composition", 0.0, 1.0, physical=_FRACTION),
        output("x_B", "-", "bottoms composition", 0.0, 1.0, physical=_FRACTION),
        output("D", "kmol/min", "distillate flow", physical=_EMPTY_OR_MORE),
        output("B", "kmol/min", "bottoms flow", physical=_EMPTY_OR_MORE),
    ],
    rhs=rhs,
    output_map=outputs,
    stiff=True,  # tau_L = 0.063 min against a 194 min dominant mode
)
