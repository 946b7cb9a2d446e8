"""Shedding, switching modes and limits in the controller's cycle, with hand-worked numbers.

``LAGS`` (:mod:`linear_models`): three first-order lags with the time
constant ``tau = 1`` min, at rest at ``x = (1, 1, 1)`` with ``u = (1, 0)``;
over an interval ``T = 0.2`` min with constant inputs each state moves to
``ss + (x - ss) exp(-T)`` with the steady states ``x1 = u1 + u2 + w``,
``x2 = u1 - u2``, ``x3 = u1`` (RK4 with 10 substeps is exact to 1e-9).
What the estimator is told after a shed shows in the next cycle's estimate,
when no reading is usable.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from apc.controller import Controller, Mode, VarStatus
from apc.spec import spec_from_dict
from linear_models import INTEGRATOR, LAGS
from test_estimator_solves import Raising
from test_controller_cycle import MV0, X0, _readings, _spec, _step, controller  # noqa: F401
from twin.core.errors import UnknownNameError
from twin.core.quality import Quality, Reading

GOOD, BAD, CLAMPED = VarStatus.GOOD, VarStatus.BAD, VarStatus.CLAMPED
T = 0.2
"""Control interval [min]."""


def _lagged(u1, u2, w, x=X0):
    """The states of LAGS one interval on from ``x`` with the inputs held [-]."""
    ss = np.array([u1 + u2 + w, u1 - u2, u1])
    return ss + (np.asarray(x) - ss) * math.exp(-T)


def _ekf_controller(**changes):
    spec = _spec(estimator={"kind": "ekf"},
                 measurements=[{"name": "x1", "noise_std": 0.01}, {"name": "x2", "noise_std": 0.01}],
                 **changes)
    return Controller(spec, LAGS, x0=X0, u0=[1.0, 0.0, 0.0])


SAFE_MV = [{"name": "u1", "low": -10.0, "high": 10.0, "max_move": 0.5, "safe_value": 20.0},
           {"name": "u2", "low": -10.0, "high": 10.0, "max_move": 0.5, "safe_value": -3.0}]


@pytest.mark.parametrize("safe_state,written,told", [
    ("hold", {}, (2.0, 1.0)),                          # the MVs in place
    ("safe_values", {"u1": 10.0, "u2": -3.0}, (10.0, -3.0))])  # 20 is beyond the high limit
def test_after_a_shed_the_estimator_is_told_the_mvs_the_plant_keeps(safe_state, written, told):
    controller = _ekf_controller(safe_state=safe_state, mv=SAFE_MV)
    controller.set_mode(Mode.ON, MV0)
    readings = {"x1": _readings(x1=Quality.BAD)["x1"]}  # x2 has no value: nothing is usable
    out = controller.step(0.6, readings, np.array([2.0, 1.0]), dv={"w": 0.5})
    assert (out.t, out.solve_status, out.shed, out.mode) == (0.6, "shed", True, Mode.OFF)
    assert out.write is bool(written) and out.mv == written
    assert out.cv_status == {"x1": BAD, "x2": GOOD, "x3": GOOD}
    assert out.mv_status == {"u1": GOOD, "u2": GOOD}
    assert out.solver_message == "" and out.iterations == 0  # no plan: nothing was solved
    assert out.x_estimate == {"x1": 1.0, "x2": 1.0, "x3": 1.0}
    out = controller.step(0.8, {}, np.array(told))  # OFF: the estimate is the prediction
    assert out.t == 0.8
    expected = _lagged(*told, 0.5)
    assert [out.x_estimate[n] for n in ("x1", "x2", "x3")] == pytest.approx(expected, abs=1e-8)
    # each shed is counted
    controller.set_mode(Mode.ON, np.array(told))
    controller.step(1.0, readings, np.array(told))
    assert controller.n_sheds == 2 and controller.mode is Mode.OFF


def test_a_shed_after_failed_solves_reports_the_failed_solve():
    # one failure allowed, and a budget no solve can meet: the first cycle ON sheds
    controller = Controller(_spec(safe_state="safe_values", mv=SAFE_MV,
                                  solver={"time_budget": 30.0, "max_failures": 1}),
                            LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    try:
        controller.runner.budget = 1e-7
        controller.set_mode(Mode.ON, MV0)
        out = _step(controller, 0.4)
        assert (out.t, out.solve_status, out.shed, out.write) == (0.4, "shed", True, True)
        assert out.mv == {"u1": 10.0, "u2": -3.0}
        assert out.cv_status == {"x1": GOOD, "x2": GOOD, "x3": GOOD}
        assert out.solver_message == "Maximum_WallTime_Exceeded"
        assert out.events[-1] == "shed: 1 consecutive solver failures; safe state 'safe_values'"
    finally:
        controller.close()


def test_switching_on_again_forgets_failures_only_when_coming_from_off():
    controller = Controller(_spec(solver={"time_budget": 30.0, "max_failures": 4}), LAGS, x0=X0)
    try:
        runner = controller.runner
        controller.set_mode(Mode.ON, MV0)
        assert _step(controller).solve_status == "ok"
        plan = controller._plan.u.copy()
        runner.budget = 1e-7
        mv = np.array([1.5, 0.5])
        controller.set_mode(Mode.ON)  # already ON: the plan and the count stay
        out = _step(controller, 0.2, mv=mv)
        assert out.consecutive_failures == 1
        assert out.mv == {"u1": pytest.approx(plan[1][0]), "u2": pytest.approx(plan[1][1])}
        controller.set_mode("on")
        out = _step(controller, 0.4, mv=mv)
        assert out.consecutive_failures == 2
        assert out.events[-1] == "applied move 2 of the last feasible plan"
        controller.set_mode(Mode.OFF)
        assert _step(controller, 0.6, mv=mv).consecutive_failures == 2  # OFF solves nothing
        controller.set_mode(Mode.ON, mv)  # from OFF: no plan, no failures
        out = _step(controller, 0.8, mv=mv)
        assert out.consecutive_failures == 1 and out.events[-2:] == [
            "solver timeout (Maximum_WallTime_Exceeded); failure 1 of 4",
            "no feasible plan left: holding the MVs"]
        assert not out.write and out.mode is Mode.ON
    finally:
        controller.close()


def test_warm_starts_each_move_from_the_mvs_the_plant_has():
    controller = Controller(_spec(), LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    controller.set_mode(Mode.WARM)  # the MVs remembered are (1, 0)
    out = _step(controller, mv=np.array([-2.0, 3.0]))
    # x1 (weight 3) is 3 below its setpoint, and x1 follows u1 + u2: from where the plant has
    # them, both MVs rise by their full move of 0.5
    assert out.mv == {"u1": pytest.approx(-1.5, abs=1e-9), "u2": pytest.approx(3.5, abs=1e-9)}
    assert not out.write and list(controller.u_now) == [1.0, 0.0]


def test_a_soft_low_limit_of_the_specification_holds_the_plan_and_its_violation_is_reported():
    cv = [{"name": "x1", "setpoint": 4.0, "weight": 3.0, "low": 1.5},
          {"name": "x2", "setpoint": 2.0}, {"name": "x3", "weight": 0.0}]
    controller = Controller(_spec(cv=cv), LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    # x1 = 1 now, below its low limit 1.5: the plan cannot avoid violating it at first
    assert set(out.soft_violation) == {"x1"} and 0.1 < out.soft_violation["x1"] <= 0.5 + 1e-6


def test_unknown_names_give_the_kind_of_name(controller):
    with pytest.raises(UnknownNameError) as err:
        controller.setpoint("x9")
    assert str(err.value) == "unknown cv 'x9'; valid: x1, x2, x3"
    with pytest.raises(UnknownNameError) as err:
        controller.set_limits("u1", hard_low=1.0)
    assert str(err.value) == "unknown limit 'hard_low' of 'u1'; valid: low, high, max_move"


def test_a_move_cut_by_less_than_1e_9_of_a_large_value_is_not_clamped(controller):
    # clipped to 9.5 by the rate limit: the cut 5e-9 is below 1e-9 x 9.5, rounding only
    clamped, status = controller._clamp(np.array([9.5 + 5e-9, 0.0]), np.array([9.0, 0.0]))
    assert list(clamped) == [9.5, 0.0] and status == {"u1": GOOD, "u2": GOOD}


def test_a_failed_moving_horizon_solve_is_reported_and_the_ekf_estimate_used():
    spec = _spec(estimator={"kind": "mhe", "horizon": 1},
                 measurements=[{"name": "x1", "noise_std": 0.01}, {"name": "x3", "noise_std": 0.01}])
    controller = Controller(spec, LAGS, x0=X0 * 1.1, u0=[1.0, 0.0, 0.0])
    readings = {"x1": Reading(1.0), "x3": Reading(1.0)}
    for k in range(2):  # from the second cycle the MHE solves
        assert controller.step(T * k, readings, MV0).events == []
    controller.estimator.runner = Raising("Error in Function::call for 'mhe'\nnan in the gradient")
    out = controller.step(2 * T, readings, MV0)
    assert out.events == ["estimator: MHE nan in the gradient; using the EKF estimate"]
    # (the MHE keeps the EKF's corrected state; its EKF has since been moved on an interval)
    mhe = controller.estimator
    assert mhe.n_failures == 1 and list(mhe.xi) != list(mhe.ekf.xi)
    assert [out.x_estimate[n] for n in ("x1", "x2", "x3")] == list(mhe.xi[:3])


def test_a_cv_without_a_setpoint_is_not_pulled_anywhere_whatever_its_weight():
    # x3 (= u1 at steady state) has no setpoint: its weight must not pull it to 0, and the
    # first move is the one of the specification where its weight is 0
    cv = [{"name": "x1", "setpoint": 4.0, "weight": 3.0, "critical": True},
          {"name": "x2", "setpoint": 2.0}, {"name": "x3", "weight": 50.0}]
    controller = Controller(_spec(cv=cv), LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    assert out.mv == {"u1": pytest.approx(1.5, abs=1e-9), "u2": pytest.approx(0.5, abs=1e-9)}


def _free_spec(cv):
    """LAGS without rate limits, so that the moves are the plan's own, not clipped."""
    mv = [{"name": "u1", "low": -10.0, "high": 10.0}, {"name": "u2", "low": -10.0, "high": 10.0}]
    return _spec(cv=cv, mv=mv)


X1 = {"name": "x1", "setpoint": 4.0, "weight": 3.0}


def test_a_cv_out_of_control_weighs_on_the_moves_like_a_cv_the_specification_leaves_out():
    # x2 dropped (a bad reading) and x3 without a setpoint but with a weight: the moves are
    # those of a controller of x1 alone
    full = Controller(_free_spec([X1, {"name": "x2", "setpoint": 2.0},
                                  {"name": "x3", "weight": 50.0}]), LAGS, x0=X0)
    alone = Controller(_free_spec([X1]), LAGS, x0=X0)
    outs = []
    for controller in (full, alone):
        controller.set_mode(Mode.ON, MV0)
        outs.append(_step(controller, 0.4, readings=_readings(x2=Quality.BAD)))
    assert outs[0].cv_status["x2"] is VarStatus.DROPPED
    assert outs[0].mv == pytest.approx(outs[1].mv, abs=1e-6)
    # the move written is the plan's first, well inside the MV limits
    assert [outs[0].mv["u1"], outs[0].mv["u2"]] == list(full._plan.u[0])
    assert abs(full._plan.u[1][0] - full._plan.u[0][0]) > 1e-3
    assert outs[0].t == 0.4 and outs[0].mv_status == {"u1": GOOD, "u2": GOOD}


def _integrator(cv, **changes):
    spec = spec_from_dict({
        **changes, "model": "integrator", "sample_time": 0.5, "prediction_horizon": 3,
        "estimator": {"kind": "state_feedback"}, "measurements": [{"name": "twice"}],
        "cv": cv, "mv": [{"name": "u", "low": -10.0, "high": 10.0}]})
    return Controller(spec, INTEGRATOR, x0=[1.0], u0=[0.0])


def test_the_limits_of_a_cv_out_of_control_are_released():
    # twice = 2 x, limited to [2.1, 2.3] (x within [1.05, 1.15]) by soft and hard limits, is
    # dropped: the level is driven to its setpoint 3 as by a controller of the level alone
    twice = {"name": "twice", "low": 2.1, "high": 2.3, "hard_low": 2.0, "hard_high": 2.4}
    level = {"name": "x", "setpoint": 3.0}
    outs = []
    for cv in ([level, twice], [level]):
        controller = _integrator(cv)
        controller.set_mode(Mode.ON, [0.0])
        outs.append(controller.step(0.0, {"twice": Reading(2.0, Quality.BAD)}, np.array([0.0]),
                                    x_plant=np.array([1.0])))
    assert outs[0].cv_status["twice"] is VarStatus.DROPPED and outs[0].solve_status == "ok"
    assert outs[1].mv["u"] > 1.0  # far beyond what the limits of twice would allow
    assert outs[0].mv == pytest.approx(outs[1].mv, abs=1e-6)


def test_an_mv_the_plan_holds_at_its_limit_is_reported_clamped():
    controller = Controller(_free_spec([X1]), LAGS, x0=X0)
    controller.set_limits("u1", high=1.2)
    controller.set_limits("u2", high=0.1)  # x1 = u1 + u2 wants 4: both go to their limits
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    assert out.mv == {"u1": pytest.approx(1.2, abs=1e-6), "u2": pytest.approx(0.1, abs=1e-6)}
    assert out.mv_status == {"u1": CLAMPED, "u2": CLAMPED}


def test_on_the_estimator_is_told_the_moves_written_with_the_disturbance_in_force():
    controller = _ekf_controller()
    controller.set_mode(Mode.ON, MV0)
    out = controller.step(0.0, {}, MV0, dv={"w": 0.5})  # nothing usable: the estimate is x0
    assert out.write and out.x_estimate == {"x1": 1.0, "x2": 1.0, "x3": 1.0}
    u = (out.mv["u1"], out.mv["u2"])
    controller.set_mode(Mode.OFF)
    out = controller.step(T, {}, np.array(u))
    expected = _lagged(*u, 0.5)
    assert [out.x_estimate[n] for n in ("x1", "x2", "x3")] == pytest.approx(expected, abs=1e-8)


@pytest.mark.parametrize("setpoint,limit,u", [(3.0, {"hard_high": 2.4}, 0.4),
                                               (-1.0, {"hard_low": 1.6}, -0.4)])
def test_a_hard_limit_of_an_output_in_control_holds_the_move(setpoint, limit, u):
    # twice = 2 x within its limit while the level (1 now, x+ = x + 0.5 u) is driven to the
    # setpoint beyond it: x+ = 1.2 (or 0.8), u = 0.4 (or -0.4)
    # (without targets, which would aim at the limit themselves)
    controller = _integrator([{"name": "x", "setpoint": setpoint}, {"name": "twice", **limit}],
                             target_calculation=False)
    controller.set_mode(Mode.ON, [0.0])
    out = controller.step(0.0, {"twice": Reading(2.0)}, np.array([0.0]), x_plant=np.array([1.0]))
    assert out.solve_status == "ok" and out.mv == {"u": pytest.approx(u, abs=2e-4)}


def test_a_new_controller_starts_from_the_inputs_given_with_the_limits_of_its_specification():
    cv = [{"name": "x1", "setpoint": 4.0, "low": 0.5, "high": 6.0, "hard_low": 0.0},
          {"name": "x2", "setpoint": 2.0, "hard_high": 9.0}, {"name": "x3", "weight": 0.0}]
    controller = Controller(_spec(cv=cv), LAGS, x0=X0, u0=[2.0, 0.5, 0.25])
    assert list(controller.u_now) == [2.0, 0.5] and list(controller.w) == [0.25]
    assert list(controller.soft_lo) == [0.5, -np.inf, -np.inf]
    assert list(controller.soft_hi) == [6.0, np.inf, np.inf]
    assert list(controller.hard_lo) == [0.0, -np.inf, -np.inf]
    assert list(controller.hard_hi) == [np.inf, 9.0, np.inf]
    out = _step(controller, mv=np.array([2.0, 0.5]))  # OFF
    assert out.consecutive_failures == 0 and controller.failures == 0


def test_an_unknown_disturbance_is_named_as_one(controller):
    with pytest.raises(UnknownNameError) as err:
        _step(controller, dv={"u1": 1.0})
    assert str(err.value) == "unknown disturbance 'u1'; valid: w"
