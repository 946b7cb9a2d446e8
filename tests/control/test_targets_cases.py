"""Steady-state targets in the cases the plain hand-computed ones leave out.

Each expected value follows by hand from the steady state of a small model
(:mod:`linear_models`): measurement biases, CV magnitudes and scaling, a CV
the MV reaches directly, two steady states with the same CV value, a state
bound, a soft limit alone in its rank, the faint pull towards the current
MVs that picks one of many equally good targets, the tolerance under which
a missed setpoint counts as met, and what a failed solve returns.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.bounded import BoundedSolves
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from apc.targets import TargetCalculator
from linear_models import BENT, LAGS

INF = np.inf
NAN = np.nan


def _calculator(model, cv, mv, **spec):
    spec = spec_from_dict({"model": model.name, "sample_time": 0.2, "prediction_horizon": 3,
                           "estimator": {"kind": "state_feedback"}, "cv": cv, "mv": mv, **spec})
    pb = ControlProblem(model, spec)
    return pb, TargetCalculator(pb)


def _solve(pb, calc, x, u, sp, bias=(), u_lo=None, u_hi=None, active=None, soft_lo=None,
           soft_hi=None, hard_lo=None, hard_hi=None):
    n = pb.n_cv

    def vec(values, default):
        return np.full(n, default) if values is None else np.array(values, dtype=float)

    lo, hi = pb.mv_bounds()
    w = pb.model.u0()[pb.other_index]
    return calc.solve(np.array(x, float), np.array(u, float), w, pb.model.p0(),
                      np.array(bias, float), np.ones(n, bool) if active is None else np.array(active),
                      lo if u_lo is None else np.array(u_lo, float),
                      hi if u_hi is None else np.array(u_hi, float),
                      vec(soft_lo, -INF), vec(soft_hi, INF), vec(hard_lo, -INF), vec(hard_hi, INF),
                      np.array(sp, float))


def _given_up(result):
    return [(g.cv, g.kind, g.rank, pytest.approx(g.violation, abs=1e-6)) for g in result.given_up]


def test_a_measurement_bias_moves_the_model_state_not_the_measured_target():
    # x1 is read 0.5 high: the measured x1 = model x1 + 0.5 = u1 + u2 + 0.5 is to be 4 and
    # x2 = u1 - u2 is to be 2, so u1 + u2 = 3.5 and u = (2.75, 0.75)
    spec = {"estimator": {"kind": "ekf"},
            "measurements": [{"name": "x1", "noise_std": 0.01},
                             {"name": "x2", "noise_std": 0.01, "bias": False}]}
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0}, {"name": "x2", "setpoint": 2.0}],
                           [{"name": "u1"}, {"name": "u2"}], **spec)
    assert pb.bias_names == ["x1"]
    result = _solve(pb, calc, LAGS.x0(), [1.0, 0.0], [4.0, 2.0], bias=[0.5])
    assert result.ok and result.message == "Solve_Succeeded"
    assert result.u == pytest.approx([2.75, 0.75], abs=1e-6)
    assert result.x == pytest.approx([3.5, 2.0, 2.75], abs=1e-6)
    assert result.cv == pytest.approx([4.0, 2.0], abs=1e-6)  # as measured, with the bias
    assert result.given_up == []


ONE_MV = [{"name": "u1", "scale": 4.0}]
"""u1 alone (u2 = 0 is held): x1 = x2 = x3 = u1 at steady state."""


@pytest.mark.parametrize("u_hi,u1", [(None, 2.4), ([2.0], 2.0)])
def test_setpoint_errors_are_weighed_relative_to_the_cv_magnitudes(u_hi, u1):
    # magnitudes 2 (scaling) and 1: minimise ((u - 4) / 2)^2 + (u - 2)^2: (u - 4) / 4 + u - 2 = 0
    # -> u = 2.4; an MV high limit of 2 (MV scale 4) holds it at 2
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0}, {"name": "x3", "setpoint": 2.0}],
                           ONE_MV, scaling={"x1": 2.0})
    assert list(pb.x_scale) == [2.0, 1.0, 1.0] and list(calc.mag) == [2.0, 1.0]
    result = _solve(pb, calc, LAGS.x0(), [1.0], [4.0, 2.0], u_hi=u_hi)
    assert result.ok
    assert result.u == pytest.approx([u1], abs=1e-6)
    assert result.x == pytest.approx([u1] * 3, abs=1e-6)
    expected = [("x1", "setpoint", 0, 4.0 - u1), ("x3", "setpoint", 0, u1 - 2.0)]
    assert _given_up(result) == expected[:1 if u1 == 2.0 else 2]  # x3 = 2 met at the MV limit


def test_a_cv_the_mv_reaches_directly_is_computed_with_the_mv():
    # y = x + u with x = u at steady state: y = 4 at u = 2
    pb, calc = _calculator(BENT, [{"name": "y", "setpoint": 4.0}], [{"name": "u"}])
    result = _solve(pb, calc, [1.0], [1.0], [4.0])
    assert result.ok and result.given_up == []
    assert result.u == pytest.approx([2.0], abs=1e-6)
    assert result.x == pytest.approx([2.0], abs=1e-6)
    assert result.cv == pytest.approx([4.0], abs=1e-6)


@pytest.mark.parametrize("cv,start,expected", [
    ("r", (1.2, 2.8), 1.0), ("r", (2.8, 1.2), 3.0),   # r = x^2 - 4 x: the state's start decides
    ("q", (2.8, 1.2), 1.0), ("q", (1.2, 2.8), 3.0)])  # q = u^2 - 4 u: the MV's start decides
def test_of_two_steady_states_the_one_nearest_the_plant_is_found(cv, start, expected):
    # r = -3 (or q = -3) at x = u = 1 and at x = u = 3; the vertex at 2 separates them.
    # Scaled (x by 2, u by 2) the search must still start from where the plant is.
    pb, calc = _calculator(BENT, [{"name": cv, "setpoint": -3.0}], [{"name": "u", "scale": 2.0}],
                           scaling={"x": 2.0})
    x, u = start
    result = _solve(pb, calc, [x], [u], [-3.0])
    assert result.ok and result.given_up == []
    assert result.x == pytest.approx([expected], abs=1e-5)
    assert result.u == pytest.approx([expected], abs=1e-5)


def test_a_state_bound_holds_in_scaled_variables():
    # x <= 4 (model bound), scaled by 2: a setpoint of 5 stops at 4
    pb, calc = _calculator(BENT, [{"name": "x", "setpoint": 5.0}], [{"name": "u"}],
                           scaling={"x": 2.0})
    result = _solve(pb, calc, [1.0], [1.0], [5.0])
    assert result.ok
    assert result.x == pytest.approx([4.0], abs=1e-6)
    assert _given_up(result) == [("x", "setpoint", 0, 1.0)]


def test_a_soft_limit_alone_in_its_rank_is_kept_before_a_setpoint():
    # x3 >= 2 (rank 2, no other limit of that rank) comes before x1's setpoint of 1: u1 = 2
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 1.0},
                                  {"name": "x3", "low": 2.0, "rank": 2, "weight": 0.0}], ONE_MV)
    result = _solve(pb, calc, LAGS.x0(), [1.0], [1.0, NAN], soft_lo=[-INF, 2.0])
    assert result.ok
    assert result.u == pytest.approx([2.0], abs=1e-6)
    assert _given_up(result) == [("x1", "setpoint", 0, 1.0)]


@pytest.mark.parametrize("u_now,u", [((1.0, 0.0), (3.4, 0.6)), ((0.0, 3.0), (0.8, 3.2))])
def test_of_many_equally_good_targets_the_nearest_to_the_mvs_in_their_ranges_is_taken(u_now, u):
    # x1 = u1 + u2 = 4 is met on a whole line; the faint pull to the current MVs, each measured
    # in its range (20 and 10), picks the point where the moves are as r^2: 0.8 and 0.2 of the
    # missing sum (3, then 1). The pull is faint (1e-8): IPOPT resolves it to about 0.05.
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0}],
                           [{"name": "u1", "low": -10.0, "high": 10.0},
                            {"name": "u2", "low": -5.0, "high": 5.0}])
    result = _solve(pb, calc, LAGS.x0(), u_now, [4.0])
    assert result.ok and result.given_up == []
    assert result.u == pytest.approx(u, abs=0.05)
    assert result.cv == pytest.approx([4.0], abs=1e-6)


@pytest.mark.parametrize("scale,miss,reported", [
    (10.0, 5e-4, False), (10.0, 2e-3, True),   # within / beyond 1e-4 of the magnitude 10
    (0.01, 1e-7, False), (0.01, 1e-5, True)])  # within / beyond 1e-4 of the magnitude 0.01
def test_a_setpoint_missed_by_less_than_1e_4_of_the_cv_magnitude_counts_as_met(
        scale, miss, reported):
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0, "hard_high": 4.0 - miss}],
                           ONE_MV, scaling={"x1": scale})
    result = _solve(pb, calc, LAGS.x0(), [1.0], [4.0], hard_hi=[4.0 - miss])
    assert result.ok
    assert result.cv == pytest.approx([4.0 - miss], abs=miss)  # at the limit (IPOPT's tolerance)
    assert _given_up(result) == ([("x1", "setpoint", 0, miss)] if reported else [])


def test_a_failed_solve_returns_the_plant_where_it_is_and_no_cv_target():
    pb, calc = _calculator(BENT, [{"name": "r", "setpoint": -3.0}], [{"name": "u"}])
    result = _solve(pb, calc, [1.5], [1.2], [-3.0], hard_hi=[-5.0])  # r >= -4 everywhere
    assert result.ok is False
    assert result.message == "Infeasible_Problem_Detected"
    assert list(result.x) == [1.5] and list(result.u) == [1.2]
    assert np.isnan(result.cv).all() and result.cv.shape == (1,)
    assert result.given_up == []


@pytest.mark.parametrize("limits,message", [
    ({"u_lo": [5.0], "u_hi": [4.0]},
     "Ill-posed problem detected: LBX[1] <= UBX[1] was violated. Got LBX[1]=5 and UBX[1] = 4."),
    # y's magnitude is 4 (its setpoint): the limits 5 and 4 are 1.25 and 1 scaled
    ({"hard_lo": [5.0], "hard_hi": [4.0]},
     "Ill-posed problem detected: LBG[3] <= UBG[3] was violated. Got LBG[3] = 1.25 and "
     "UBG[3] = 1.")])
def test_inconsistent_limits_give_no_target_and_casadis_one_line_reason(limits, message):
    pb, calc = _calculator(BENT, [{"name": "y", "setpoint": 4.0}], [{"name": "u"}])
    result = _solve(pb, calc, [1.0], [1.0], [4.0], **limits)
    assert result.ok is False
    assert result.message == message
    assert list(result.x) == [1.0] and list(result.u) == [1.0] and np.isnan(result.cv).all()


def test_a_solve_past_the_time_budget_gives_no_target():
    pb, calc = _calculator(BENT, [{"name": "y", "setpoint": 4.0}], [{"name": "u"}])
    calc.runner = runner = BoundedSolves([calc.solver], 1e-7)
    try:
        runner.begin_cycle()
        result = _solve(pb, calc, [1.0], [1.0], [4.0])
    finally:
        runner.close()
    assert result.ok is False
    assert result.message == "time budget exceeded"
    assert list(result.x) == [1.0] and list(result.u) == [1.0] and np.isnan(result.cv).all()


def test_a_solve_prints_nothing(capfd):
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0, "low": 5.0}], ONE_MV)
    result = _solve(pb, calc, LAGS.x0(), [1.0], [4.0], soft_lo=[5.0])
    assert result.ok and result.u == pytest.approx([5.0], abs=1e-6)
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize("rank", [1, 3])
def test_a_soft_limit_set_at_run_time_is_kept_like_one_of_the_specification(rank):
    # the spec gives x1 no soft limit; an operator sets x1 <= 2 (x1's rank): it comes before
    # the setpoints, as a limit of the spec would: u1 = 2
    pb, calc = _calculator(LAGS, [{"name": "x1", "setpoint": 4.0, "rank": rank},
                                  {"name": "x3", "setpoint": 4.0}], ONE_MV)
    result = _solve(pb, calc, LAGS.x0(), [1.0], [4.0, 4.0], soft_hi=[2.0, INF])
    assert result.ok
    assert result.u == pytest.approx([2.0], abs=1e-6)
    assert _given_up(result) == [("x1", "setpoint", 0, 2.0), ("x3", "setpoint", 0, 2.0)]
