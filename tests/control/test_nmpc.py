"""The two NMPC formulations: same solutions, hard rate limits, move blocking, soft limits."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from apc.nmpc import Data, DoMpcNMPC, SolveStatus, StructuredNMPC
from apc.problem import ControlProblem
from apc.spec import spec_from_dict

X0 = np.array([0.8, 0.5, 134.14, 130.0])
U_PREV = np.array([14.19, -1113.5])


def _spec(**extra):
    base = {"model": "cstr", "sample_time": 0.005, "prediction_horizon": 12,
            "scaling": {"T_R": 100.0, "T_K": 100.0}, "estimator": {"kind": "state_feedback"},
            "solver": {"tol": 1e-10},
            "cv": [{"name": "C_b", "setpoint": 0.9}, {"name": "T_R", "weight": 0.0, "high": 135.0,
                                                       "penalty": 10.0}],
            "mv": [{"name": "F", "low": 5.0, "high": 100.0, "max_move": 3.0, "move_weight": 0.1,
                    "scale": 100.0},
                   {"name": "Q_dot", "low": -8500.0, "high": 0.0, "max_move": 400.0,
                    "move_weight": 1e-3, "scale": 2000.0}]}
    base.update(extra)
    return spec_from_dict(base)


def _data(pb: ControlProblem) -> Data:
    spec = pb.spec
    arr = lambda key, default: np.array([default if getattr(c, key) is None else getattr(c, key)  # noqa: E731
                                         for c in spec.cv], dtype=float)
    lo, hi = pb.mv_bounds()
    return Data(x0=X0, u_prev=U_PREV, w=np.zeros(pb.n_w), p=pb.model.p0(), bias=np.zeros(pb.n_bias),
                cv_target=np.nan_to_num(arr("setpoint", np.nan)), u_target=np.zeros(pb.n_u),
                cv_weight=np.array([c.weight for c in spec.cv]), u_weight=np.zeros(pb.n_u),
                u_lo=lo, u_hi=hi, max_move=pb.max_moves(), soft_lo=arr("low", -np.inf),
                soft_hi=arr("high", np.inf), hard_lo=arr("hard_low", -np.inf),
                hard_hi=arr("hard_high", np.inf))


def _plans(spec):
    pb = ControlProblem(twin.load_model("cstr"), spec)
    data = _data(pb)
    return {name: make(pb).solve(data) for name, make in (
        ("fatrop", lambda pb: StructuredNMPC(pb, "fatrop")),
        ("ipopt", lambda pb: StructuredNMPC(pb, "ipopt")),
        ("do-mpc", DoMpcNMPC))}


@pytest.mark.parametrize("extra", [{}, {"control_horizon": 4}, {"move_blocking": [1, 2, 3, 6]}])
def test_formulations_agree(extra):
    plans = _plans(_spec(**extra))
    for name, plan in plans.items():
        assert plan.status is SolveStatus.OK, (name, plan.message)
    ref = plans["do-mpc"]
    for name in ("fatrop", "ipopt"):
        assert np.allclose(plans[name].u, ref.u, rtol=1e-5, atol=1e-4 * np.array([100, 2000])), name
        assert np.allclose(plans[name].x, ref.x, rtol=1e-6, atol=1e-8), name


def test_rate_limits_are_hard_constraints():
    for name, plan in _plans(_spec()).items():
        moves = np.abs(np.diff(np.vstack([U_PREV, plan.u]), axis=0))
        assert np.all(moves[:, 0] <= 3.0 + 1e-6), name
        assert np.all(moves[:, 1] <= 400.0 + 1e-4), name
        assert moves[0, 0] == pytest.approx(3.0, abs=1e-5)  # the limit is active: C_b far from 0.9


def test_move_blocking_holds_moves_within_blocks():
    for name, plan in _plans(_spec(move_blocking=[1, 2, 3, 6])).items():
        for start, length in ((1, 2), (3, 3), (6, 6)):
            block = plan.u[start:start + length]
            assert np.allclose(block, block[0], atol=1e-6), (name, start)


def test_soft_limit_violation_is_reported():
    # T_R starts at 134.14, above its soft high limit of 134: the first node must violate it
    cv = [{"name": "C_b", "setpoint": 0.9}, {"name": "T_R", "weight": 0.0, "high": 134.0,
                                              "penalty": 10.0}]
    plans = _plans(_spec(cv=cv))
    for name, plan in plans.items():
        assert plan.slack[0].max() == 0.0  # C_b has no soft limits
        assert plan.slack[1, 1] >= 0.14 - 1e-5, name
    assert plans["fatrop"].slack[1, 1] == pytest.approx(plans["do-mpc"].slack[1, 1], rel=1e-4)


def test_economic_stage_cost_is_minimised():
    spec = _spec(economic="-0.01 * C_b * F", cv=[{"name": "C_b", "weight": 0.0,
                                                  "hard_low": 0.1, "hard_high": 2.0}])
    plans = _plans(spec)
    for name in ("fatrop", "ipopt"):
        assert np.allclose(plans[name].u[0], plans["do-mpc"].u[0], rtol=1e-4, atol=1e-2), name
    assert plans["fatrop"].u[0, 0] > U_PREV[0]  # more throughput pays
