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
"""

from __future__ import annotations

from twin.core.model import Model
from twin.core.variables import disturbance, manipulated, output, parameter, state

N_STAGES = 41
"""Number of stages, reboiler and total condenser included."""
FEED_STAGE = 21
"""Feed stage, counted from the reboiler (stage 1)."""

_STAGES = range(1, N_STAGES + 1)


def rhs(x, u, p, ops):
    """Total and light-component material balances [kmol/min], as d(x_i)/dt and d(M_i)/dt."""
    n, nf = N_STAGES, FEED_STAGE
    xs = [None] + [x[f"x_{i}"] for i in _STAGES]  # 1-based, as in the source
    M = [None] + [x[f"M_{i}"] for i in _STAGES]
    y = [None] + [p.alpha * xs[i] / (1 + (p.alpha - 1) * xs[i]) for i in range(1, n)]
    V = [None] + [u.V_B if i < nf else u.V_B + (1 - p.q_F) * u.F for i in range(1, n)]
    L0 = p.L_T0
    L0b = p.L_T0 + p.q_F0 * p.F0
    V0 = p.V_B0
    V0t = p.V_B0 + (1 - p.q_F0) * p.F0
    L = [None, None]
    for i in range(2, n):
        below_feed = i <= nf
        L.append((L0b if below_feed else L0) + (M[i] - p.M0) / p.tau_L
                 + p.lambda_V * (V[i - 1] - (V0 if below_feed else V0t)))
    L.append(u.L_T)
    D = p.D_s + (M[n] - p.M_Ds) * p.K_cD
    B = p.B_s + (M[1] - p.M_Bs) * p.K_cB

    dM = [None] * (n + 1)
    dMx = [None] * (n + 1)
    dM[1] = L[2] - V[1] - B
    dMx[1] = L[2] * xs[2] - V[1] * y[1] - B * xs[1]
    for i in range(2, n):
        dM[i] = L[i + 1] - L[i] + V[i - 1] - V[i]
        dMx[i] = L[i + 1] * xs[i + 1] - L[i] * xs[i] + V[i - 1] * y[i - 1] - V[i] * y[i]
    dM[nf] = dM[nf] + u.F
    dMx[nf] = dMx[nf] + u.F * u.z_F
    dM[n] = V[n - 1] - u.L_T - D
    dMx[n] = V[n - 1] * y[n - 1] - u.L_T * xs[n] - D * xs[n]

    out = {f"x_{i}": (dMx[i] - xs[i] * dM[i]) / M[i] for i in _STAGES}
    out.update({f"M_{i}": dM[i] for i in _STAGES})
    return out


def outputs(x, u, p, ops):
    """Product compositions and flows."""
    return {
        "x_D": x[f"x_{N_STAGES}"],
        "x_B": x["x_1"],
        "D": p.D_s + (x[f"M_{N_STAGES}"] - p.M_Ds) * p.K_cD,
        "B": p.B_s + (x["M_1"] - p.M_Bs) * p.K_cB,
    }


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
               _nominal_composition(i), 0.0, 1.0) for i in _STAGES]
        + [state(f"M_{i}", "kmol", f"liquid holdup, {_stage_name(i)}", 0.5, 0.0, 5.0)
           for i in _STAGES]
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
        output("x_D", "-", "distillate (top) composition", 0.0, 1.0),
        output("x_B", "-", "bottoms composition", 0.0, 1.0),
        output("D", "kmol/min", "distillate flow"),
        output("B", "kmol/min", "bottoms flow"),
    ],
    rhs=rhs,
    output_map=outputs,
    stiff=True,  # tau_L = 0.063 min against a 194 min dominant mode
)
