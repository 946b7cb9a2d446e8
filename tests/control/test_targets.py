"""Steady-state targets: ranked soft limits are given up lowest rank first, and reported."""

from __future__ import annotations

import numpy as np
import pytest

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


def test_unreachable_setpoint_is_reported_as_given_up():
    pb, calc = _calculator(1, 2, setpoint=3.0)  # C_b cannot reach 3 mol/L from C_A0 = 5.1
    result = _solve(pb, calc, setpoint=3.0)
    assert result.ok
    kinds = {(g.cv, g.kind) for g in result.given_up}
    assert ("C_b", "setpoint") in kinds
