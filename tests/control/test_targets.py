"""Steady-state targets: ranked soft limits are given up lowest rank first, and reported."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import brentq

import twin
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from apc.targets import TargetCalculator


def _calculator(rank_tk: int, rank_tr: int, setpoint=None):
    spec = spec_from_dict({
        "model": "cstr", "sample_time": 0.005, "prediction_horizon": 5,
        "estimator": {"kind": "state_feedback"},
        "cv": [{"name": "T_K", "weight": 0.0, "low": 135.0, "rank": rank_tk},
               {"name": "T_R", "weight": 0.0, "high": 132.0, "rank": rank_tr},
               {"name": "C_b", "setpoint": setpoint, "weight": 1.0}],
        "mv": [{"name": "F", "low": 5.0, "high": 100.0}, {"name": "Q_dot", "low": -8500.0,
                                                            "high": 0.0}]})
    pb = ControlProblem(twin.load_model("cstr"), spec)
    return pb, TargetCalculator(pb)


def _solve(pb, calc, setpoint=np.nan):
    model = pb.model
    n = pb.n_cv
    soft_lo = np.array([135.0, -np.inf, -np.inf])
    soft_hi = np.array([np.inf, 132.0, np.inf])
    return calc.solve(model.x0(), model.u0()[pb.mv_index], np.zeros(0), model.p0(), np.zeros(0),
                      np.ones(n, bool), *pb.mv_bounds(), soft_lo, soft_hi,
                      np.full(n, -np.inf), np.full(n, np.inf), np.array([np.nan, np.nan, setpoint]))


@pytest.mark.parametrize("rank_tk,rank_tr,kept,given", [(1, 2, "T_K", "T_R"), (2, 1, "T_R", "T_K")])
def test_lower_ranked_limit_is_given_up(rank_tk, rank_tr, kept, given):
    # With cooling only (Q_dot <= 0) the jacket is never warmer than the reactor at steady
    # state, so T_K >= 135 and T_R <= 132 cannot both hold; each alone can.
    pb, calc = _calculator(rank_tk, rank_tr)
    result = _solve(pb, calc)
    assert result.ok
    cv = dict(zip(["T_K", "T_R", "C_b"], result.cv))
    assert cv["T_K"] <= cv["T_R"] + 1e-6
    if kept == "T_K":
        assert cv["T_K"] >= 135.0 - 1e-6
    else:
        assert cv["T_R"] <= 132.0 + 1e-6
    assert [(g.cv, g.kind) for g in result.given_up] == [(given, "high" if given == "T_R" else "low")]
    assert result.given_up[0].rank == 2 and result.given_up[0].violation > 1.0
    if given == "T_R":  # given up no more than it must be
        _, coolest, _, _ = _coolest_reactor_with_the_jacket_at_135(pb.model)
        assert result.given_up[0].violation == pytest.approx(coolest - 132.0, abs=1e-5)
    f = np.array(pb.f(result.x, result.u, np.zeros(0), pb.model.p0())).ravel()
    assert np.max(np.abs(f / np.maximum(np.abs(result.x), 1))) < 1e-8  # a true steady state


def test_limits_that_can_be_met_give_nothing_up_and_setpoint_is_reached():
    spec_setpoint = 0.9
    pb, calc = _calculator(1, 2, setpoint=spec_setpoint)
    model = pb.model
    n = pb.n_cv
    result = calc.solve(model.x0(), model.u0()[pb.mv_index], np.zeros(0), model.p0(), np.zeros(0),
                        np.ones(n, bool), *pb.mv_bounds(), np.full(n, -np.inf), np.full(n, np.inf),
                        np.full(n, -np.inf), np.full(n, np.inf), np.array([np.nan, np.nan, 0.9]))
    assert result.ok and result.given_up == []
    assert result.cv[2] == pytest.approx(0.9, abs=1e-6)


def _steady(p, F, T_R):
    """CSTR steady state at dilution rate ``F`` and reactor temperature ``T_R``, in closed form.

    The balances of A (a quadratic in C_a) and B give the concentrations; the
    reactor's energy balance gives the jacket temperature, the jacket's the duty.
    """
    T = T_R + 273.15
    k1 = p["beta"] * p["k0_ab"] * math.exp(-p["E_ab"] / T)
    k2 = p["k0_bc"] * math.exp(-p["E_bc"] / T)
    k3 = p["k0_ad"] * math.exp(-p["alpha"] * p["E_ad"] / T)
    C_a = (-(F + k1) + math.sqrt((F + k1) ** 2 + 4 * k3 * F * p["C_A0"])) / (2 * k3)
    C_b = k1 * C_a / (F + k2)
    heat = k1 * C_a * p["H_ab"] + k2 * C_b * p["H_bc"] + k3 * C_a ** 2 * p["H_ad"]
    rho_cp, kA = p["rho"] * p["c_p"], p["k_w"] * p["A_R"]
    T_K = T_R - rho_cp * p["V_R"] / kA * (heat / -rho_cp + F * (p["T_in"] - T_R))
    return C_a, C_b, T_K, kA * (T_K - T_R)


def _coolest_reactor_with_the_jacket_at_135(model):
    """F, T_R, C_b, Q_dot of the coolest CSTR steady state with T_K >= 135 degC.

    Computed independently of the target calculation: the coolest reactor has
    the jacket at 135 (T_K rises with T_R); for each F that is a root in T_R;
    over F the least is taken on a grid (it lies at F = 5, the lowest rate).
    """
    p = dict(zip(model.parameters.names, model.p0()))
    rates = np.linspace(5.0, 100.0, 96)
    coolest = [brentq(lambda t: _steady(p, F, t)[2] - 135.0, 135.0, 180.0, xtol=1e-12)
               for F in rates]
    best = int(np.argmin(coolest))
    F, T_R = rates[best], coolest[best]
    _, C_b, _, Q_dot = _steady(p, F, T_R)
    return F, T_R, C_b, Q_dot


def test_unreachable_setpoint_is_reported_as_given_up():
    pb, calc = _calculator(1, 2, setpoint=3.0)  # C_b cannot reach 3 mol/L from C_A0 = 5.1
    result = _solve(pb, calc, setpoint=3.0)
    assert result.ok
    # rank 1 keeps T_K >= 135, rank 2 then wants the coolest reactor: one steady state, so
    # the setpoint gets what C_b is there
    F, T_R, C_b, Q_dot = _coolest_reactor_with_the_jacket_at_135(pb.model)
    print(f"coolest reactor with T_K >= 135 degC: F = {F} 1/h, T_R = {T_R:.5f} degC, "
          f"C_b = {C_b:.6f} mol/L, Q_dot = {Q_dot:.2f} kJ/h; target: F = {result.u[0]:.5f}, "
          f"T_R = {result.cv[1]:.5f}, C_b = {result.cv[2]:.6f}")
    assert result.u == pytest.approx([F, Q_dot], rel=2e-5)  # within the frozen rank tolerances
    assert result.cv == pytest.approx([135.0, T_R, C_b], abs=1e-5)
    assert [(g.cv, g.kind, g.rank) for g in result.given_up] == [("T_R", "high", 2),
                                                                  ("C_b", "setpoint", 0)]
    assert result.given_up[0].violation == pytest.approx(T_R - 132.0, abs=1e-5)
    assert result.given_up[1].violation == pytest.approx(3.0 - C_b, abs=1e-5)
