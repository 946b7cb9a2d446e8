"""Steady-state targets computed by hand on three first-order lags.

At steady state ``x1 = u1 + u2 + w``, ``x2 = u1 - u2``, ``x3 = u1``, every
CV magnitude is 1, so the target calculation's objective is a quadratic in
the MVs whose minimum is found by setting its derivative to zero:

- setpoints ``x1 = 4`` (weight 3) and ``x2 = 2`` (weight 1) alone give
  ``u = (3, 1)``; a hard limit on ``x3 = u1`` moves ``u1`` onto the limit,
  and ``u2`` then minimises ``3 (u1 + u2 - 4)^2 + (u1 - u2 - 2)^2``;
- soft limits of one rank that cannot all hold share the violation: the
  cost ``sum(s + s^2)`` over the violations ``s`` is least where its
  derivative is zero;
- a CV out of control (``active`` false) has its limits ignored.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from apc.targets import TargetCalculator
from linear_models import LAGS

INF = np.inf
NAN = np.nan


def _calculator(cv, mv=("u1", "u2")):
    spec = spec_from_dict({"model": "lags", "sample_time": 0.2, "prediction_horizon": 3,
                           "estimator": {"kind": "state_feedback"}, "cv": cv,
                           "mv": [{"name": n} for n in mv]})
    pb = ControlProblem(LAGS, spec)
    return pb, TargetCalculator(pb)


def _solve(pb, calc, active=None, soft_lo=None, soft_hi=None, hard_lo=None, hard_hi=None,
           sp=None):
    n = pb.n_cv

    def vec(values, default):
        return np.full(n, default) if values is None else np.array(values, dtype=float)

    u_now = LAGS.u0()[pb.mv_index]
    w = LAGS.u0()[pb.other_index]  # (u2 = 0 when it is not an MV), w = 0
    return calc.solve(LAGS.x0(), u_now, w, LAGS.p0(), np.zeros(0),
                      np.ones(n, bool) if active is None else np.array(active), *pb.mv_bounds(),
                      vec(soft_lo, -INF), vec(soft_hi, INF), vec(hard_lo, -INF),
                      vec(hard_hi, INF), vec(sp, NAN))


def _given_up(result):
    return [(g.cv, g.kind, g.rank, pytest.approx(g.violation, abs=1e-6)) for g in result.given_up]


SETPOINTS = [{"name": "x1", "setpoint": 4.0, "weight": 3.0},
             {"name": "x2", "setpoint": 2.0, "weight": 1.0}]


@pytest.mark.parametrize("limit,u", [
    # u1 = 2.5: 3 (u2 - 1.5) = (0.5 - u2)  ->  u2 = 1.25
    ({"hard_high": 2.5}, (2.5, 1.25)),
    # u1 = 3.5: 3 (u2 - 0.5) = (1.5 - u2)  ->  u2 = 0.75
    ({"hard_low": 3.5}, (3.5, 0.75)),
])
def test_an_active_hard_limit_moves_the_target_onto_it(limit, u):
    pb, calc = _calculator(SETPOINTS + [{"name": "x3", "weight": 0.0, **limit}])
    lo, hi = limit.get("hard_low", -INF), limit.get("hard_high", INF)
    result = _solve(pb, calc, hard_lo=[-INF, -INF, lo], hard_hi=[INF, INF, hi],
                    sp=[4.0, 2.0, NAN])
    u1, u2 = u
    cv = (u1 + u2, u1 - u2, u1)
    assert result.ok
    assert result.u == pytest.approx([u1, u2], abs=1e-6)
    assert result.cv == pytest.approx(cv, abs=1e-6)
    assert result.x == pytest.approx(cv, abs=1e-6)  # the states are the CVs
    assert _given_up(result) == [("x1", "setpoint", 0, abs(cv[0] - 4.0)),
                                 ("x2", "setpoint", 0, abs(cv[1] - 2.0))]
    # without the limit both setpoints are met: u = (3, 1)
    free = _solve(pb, calc, sp=[4.0, 2.0, NAN])
    assert free.u == pytest.approx([3.0, 1.0], abs=1e-6) and free.given_up == []


@pytest.mark.parametrize("limit", [{"hard_high": 2.5}, {"hard_low": 3.5}])
def test_the_limit_of_a_dropped_cv_is_ignored(limit):
    pb, calc = _calculator(SETPOINTS + [{"name": "x3", "weight": 0.0, **limit}])
    lo, hi = limit.get("hard_low", -INF), limit.get("hard_high", INF)
    result = _solve(pb, calc, active=[True, True, False], hard_lo=[-INF, -INF, lo],
                    hard_hi=[INF, INF, hi], sp=[4.0, 2.0, NAN])
    assert result.ok and result.given_up == []
    assert result.u == pytest.approx([3.0, 1.0], abs=1e-6)
    assert result.cv == pytest.approx([4.0, 2.0, 3.0], abs=1e-6)  # x3 = 3: > 2.5, < 3.5


SOFT = [{"name": "x3", "weight": 0.0, "low": 3.0}, {"name": "x2", "weight": 0.0, "high": 1.0},
        {"name": "x1", "weight": 0.0, "high": 1.5}]
"""One MV u1 = x1 = x2 = x3 at steady state: x3 >= 3 and x2, x1 <= 1, 1.5 conflict."""


def test_soft_limits_of_one_rank_share_the_violation():
    # s = (3 - u, u - 1, u - 1.5): d/du sum(s + s^2) = 6 u - 10 = 0  ->  u = 5/3
    pb, calc = _calculator(SOFT, mv=("u1",))
    result = _solve(pb, calc, soft_lo=[3.0, -INF, -INF], soft_hi=[INF, 1.0, 1.5])
    u = 5.0 / 3.0
    assert result.ok
    assert result.u == pytest.approx([u], abs=1e-6)
    assert _given_up(result) == [("x3", "low", 1, 3.0 - u), ("x2", "high", 1, u - 1.0),
                                 ("x1", "high", 1, u - 1.5)]


def test_soft_limits_of_a_dropped_cv_are_ignored():
    # x2 dropped: s = (3 - u, u - 1.5): 4 u - 9 = 0  ->  u = 2.25, 0.75 each
    pb, calc = _calculator(SOFT, mv=("u1",))
    result = _solve(pb, calc, active=[True, False, True], soft_lo=[3.0, -INF, -INF],
                    soft_hi=[INF, 1.0, 1.5])
    assert result.u == pytest.approx([2.25], abs=1e-6)
    assert _given_up(result) == [("x3", "low", 1, 0.75), ("x1", "high", 1, 0.75)]
