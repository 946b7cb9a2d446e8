"""The controller's cycle on small linear models, step by step, with the numbers it must give.

``LAGS`` (:mod:`linear_models`): at steady state ``x1 = u1 + u2 + w``,
``x2 = u1 - u2``, ``x3 = u1``; the setpoints ``x1 = 4``, ``x2 = 2`` give the
MV targets ``(3, 1)``. The MVs may move 0.5 per interval, so from
``(1, 0)`` the first move is ``(1.5, 0.5)``. ``INTEGRATOR``: a tank level
``x`` filled at ``u`` (``x+ = x + T u``) for what the estimator is told.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.bounded import BoundedSolves, InProcess
from apc.controller import Controller, Mode, VarStatus
from apc.spec import spec_from_dict
from linear_models import INTEGRATOR, LAGS
from twin.core.errors import InputError, UnknownNameError
from twin.core.quality import Quality, Reading

GOOD, BAD, CLAMPED, DROPPED = VarStatus.GOOD, VarStatus.BAD, VarStatus.CLAMPED, VarStatus.DROPPED
MV0 = np.array([1.0, 0.0])
X0 = np.array([1.0, 1.0, 1.0])  # LAGS at rest with u = (1, 0)


def _spec(**changes):
    spec = {"model": "lags", "sample_time": 0.2, "prediction_horizon": 3,
            "estimator": {"kind": "state_feedback"}, "dv": [{"name": "w"}],
            "measurements": [{"name": "x1"}, {"name": "x2"}],
            "cv": [{"name": "x1", "setpoint": 4.0, "weight": 3.0, "critical": True},
                   {"name": "x2", "setpoint": 2.0}, {"name": "x3", "weight": 0.0}],
            "mv": [{"name": "u1", "low": -10.0, "high": 10.0, "max_move": 0.5},
                   {"name": "u2", "low": -10.0, "high": 10.0, "max_move": 0.5}]}
    spec.update(changes)
    return spec_from_dict(spec)


@pytest.fixture
def controller():
    controller = Controller(_spec(), LAGS, x0=X0, u0=np.array([1.0, 0.0, 0.0]))
    yield controller
    controller.close()


def _readings(x=X0, **quality):
    return {n: Reading(float(v), quality.get(n, Quality.GOOD)) for n, v in zip(("x1", "x2"), x)}


def _step(controller, t=0.0, mv=MV0, readings=None, **kw):
    return controller.step(t, _readings() if readings is None else readings, mv, x_plant=X0, **kw)


def test_a_new_controller_holds_the_specification(controller):
    assert controller.mode is Mode.OFF
    assert controller.setpoint("x1") == 4.0 and np.isnan(controller.setpoint("x3"))
    assert list(controller.u_now) == [1.0, 0.0] and list(controller.w) == [0.0]
    assert list(controller.max_move) == [0.5, 0.5]
    assert list(controller.u_lo) == [-10.0, -10.0] and list(controller.u_hi) == [10.0, 10.0]
    assert list(controller.soft_lo) == [-np.inf] * 3 and list(controller.hard_hi) == [np.inf] * 3
    assert list(controller.p) == [1.0]
    assert isinstance(controller.runner, InProcess)
    # the spec's parameters replace the model's
    other = Controller(_spec(parameters={"tau": 2.0}), LAGS)
    assert list(other.p) == [2.0] and list(other.model.p0()) == [2.0]


def test_limits_and_setpoints_change_at_run_time(controller):
    controller.set_setpoint("x3", 1.5)
    controller.set_setpoint("x1", None)
    assert controller.setpoint("x3") == 1.5 and np.isnan(controller.setpoint("x1"))
    controller.set_limits("u2", low=-2.0, high=3.0, max_move=0.25)
    assert (controller.u_lo[1], controller.u_hi[1], controller.max_move[1]) == (-2.0, 3.0, 0.25)
    controller.set_limits("u2", low=None, high=None, max_move=None)
    assert (controller.u_lo[1], controller.u_hi[1], controller.max_move[1]) == \
        (-np.inf, np.inf, np.inf)
    assert controller.u_lo[0] == -10.0  # the other MV is untouched
    controller.set_limits("x2", low=1.0, high=3.0, hard_low=0.0, hard_high=5.0)
    assert [a[1] for a in (controller.soft_lo, controller.soft_hi, controller.hard_lo,
                           controller.hard_hi)] == [1.0, 3.0, 0.0, 5.0]
    controller.set_limits("x2", low=None, high=None, hard_low=None, hard_high=None)
    assert [a[1] for a in (controller.soft_lo, controller.soft_hi, controller.hard_lo,
                           controller.hard_hi)] == [-np.inf, np.inf, -np.inf, np.inf]


def test_limits_that_cross_or_are_not_numbers_are_refused_and_nothing_changes(controller):
    controller.set_limits("x2", low=1.0, high=3.0)
    with pytest.raises(InputError, match="limits of 'x2': low 4 is above high 3"):
        controller.set_limits("x2", low=4.0)
    with pytest.raises(InputError, match="hard_low 2 is above hard_high 1"):
        controller.set_limits("x2", low=0.5, hard_low=2.0, hard_high=1.0)
    with pytest.raises(InputError, match="limit high of 'u1': nan is not a number"):
        controller.set_limits("u1", low=-1.0, high=float("nan"))
    with pytest.raises(InputError, match="limit max_move of 'u1': 0.0 is not a number > 0"):
        controller.set_limits("u1", max_move=0.0)
    assert (controller.soft_lo[1], controller.soft_hi[1]) == (1.0, 3.0)  # nothing applied
    assert (controller.hard_lo[1], controller.hard_hi[1]) == (-np.inf, np.inf)
    assert (controller.u_lo[0], controller.u_hi[0], controller.max_move[0]) == (-10.0, 10.0, 0.5)
    controller.set_limits("u1", low=2.0, high=2.0)  # equal limits fix the MV
    assert (controller.u_lo[0], controller.u_hi[0]) == (2.0, 2.0)


def test_unknown_names_are_refused_naming_the_valid_ones(controller):
    with pytest.raises(UnknownNameError) as err:
        controller.set_limits("x2", max_move=1.0)
    assert "max_move" in str(err.value) and "hard_high" in str(err.value) and "'x2'" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        controller.set_limits("u1", hard_low=1.0)
    assert "hard_low" in str(err.value) and "max_move" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        controller.set_setpoint("x9", 1.0)
    assert "x9" in str(err.value) and "x1, x2, x3" in str(err.value)
    with pytest.raises(UnknownNameError) as err:
        _step(controller, dv={"u1": 1.0})
    assert "u1" in str(err.value) and "w" in str(err.value)


def test_bad_input_is_refused_with_one_line_errors(controller):
    with pytest.raises(InputError, match=r"^mv_current needs 2 values \(u1, u2\)$"):
        _step(controller, mv=np.array([1.0]))
    with pytest.raises(InputError, match=r"^set_mode: mv_current needs 2 values$"):
        controller.set_mode(Mode.ON, [1.0, 2.0, 3.0])
    assert controller.mode is Mode.OFF
    with pytest.raises(UnknownNameError, match=r"^unknown mode 'auto'; valid: off, warm, on$"):
        controller.set_mode("auto")
    with pytest.raises(InputError, match=r"^disturbance 'w' is not a finite number$"):
        _step(controller, dv={"w": float("nan")})
    with pytest.raises(InputError, match=r"^the state-feedback estimator needs the plant state "
                                         r"\(x_plant\)$"):
        controller.step(0.0, _readings(), MV0)


def _integrator_controller(**estimator):
    spec = spec_from_dict({
        "model": "integrator", "sample_time": 0.5, "prediction_horizon": 3,
        "estimator": {"kind": "ekf", **estimator},
        "measurements": [{"name": "x", "noise_std": 0.01, "bias": False}],
        "cv": [{"name": "x", "setpoint": 3.0}], "mv": [{"name": "u", "low": -4.0, "high": 4.0}]})
    return Controller(spec, INTEGRATOR, x0=[1.0], u0=[0.0])


def test_off_computes_nothing_and_the_estimator_follows_the_mvs_in_place():
    controller = _integrator_controller()
    out = controller.step(0.0, {"x": Reading(1.0)}, np.array([2.0]))
    assert (out.mode, out.write, out.solve_status, out.mv) == (Mode.OFF, False, "off", {})
    assert out.mv_status == {"u": GOOD} and out.cv_status == {"x": GOOD}
    assert out.x_estimate == {"x": pytest.approx(1.0, abs=1e-9)}
    assert out.setpoints == {"x": 3.0} and out.cv_target == {} and out.mv_target == {}
    assert controller.n_solves == 0 and list(controller.u_now) == [2.0]
    # the estimator moved the level on with the MV in place: 1 + 0.5 * 2
    out = controller.step(0.5, {}, np.array([2.0]))
    assert out.x_estimate == {"x": pytest.approx(2.0, abs=1e-9)}


def test_on_the_moves_written_are_what_the_estimator_is_told():
    controller = _integrator_controller()
    controller.set_mode("on", [0.0])
    out = controller.step(0.0, {"x": Reading(1.0)}, np.array([0.0]))
    assert out.write and out.solve_status == "ok" and out.mode is Mode.ON
    u = out.mv["u"]
    assert 0.0 < u <= 4.0 + 1e-9  # the level is to rise from 1 to 3
    assert list(controller.u_now) == [u]
    out = controller.step(0.5, {}, np.array([u]))
    assert out.x_estimate == {"x": pytest.approx(1.0 + 0.5 * u, abs=1e-9)}


def test_warm_tells_the_estimator_the_mvs_in_place_not_the_moves_computed():
    controller = _integrator_controller()
    controller.set_mode(Mode.WARM, [0.0])
    out = controller.step(0.0, {"x": Reading(1.0)}, np.array([-1.0]))
    assert out.solve_status == "ok" and not out.write and out.mv["u"] > 0.0
    out = controller.step(0.5, {}, np.array([-1.0]))
    assert out.x_estimate == {"x": pytest.approx(1.0 - 0.5, abs=1e-9)}


def test_the_bias_estimates_are_reported_by_measurement():
    spec = spec_from_dict({
        "model": "lags", "sample_time": 0.5, "prediction_horizon": 3,
        "estimator": {"kind": "ekf", "initial_std": 1e-6},
        "measurements": [{"name": "x1", "noise_std": 0.1}, {"name": "x2", "noise_std": 0.1}],
        "cv": [{"name": "x1", "setpoint": 3.0}], "mv": [{"name": "u1"}]})
    controller = Controller(spec, LAGS, x0=[1.0, 1.0, 1.0], u0=[1.0, 0.0, 0.0])
    # the states are known (initial_std 1e-6): readings 0.5 high and 0.2 low are sensor biases;
    # each bias has the prior (3 x 0.1)^2 = 0.09 against the noise 0.01: gain 0.9
    out = controller.step(0.0, {"x1": Reading(1.5), "x2": Reading(0.8)}, np.array([1.0]))
    assert out.bias == {"x1": pytest.approx(0.45, abs=1e-6), "x2": pytest.approx(-0.18, abs=1e-6)}
    assert out.x_estimate == {"x1": pytest.approx(1.0, abs=1e-5), "x2": pytest.approx(1.0, abs=1e-5),
                              "x3": pytest.approx(1.0, abs=1e-5)}


def test_biases_on_every_reading_of_an_integrating_level_are_refused():
    # a steady change of the level and equal biases on both readings look the same
    # (Pannocchia & Rawlings 2003): the biases would drift without bound
    spec = spec_from_dict({
        "model": "integrator", "sample_time": 0.5, "prediction_horizon": 3,
        "estimator": {"kind": "ekf", "initial_std": 1e-6},
        "measurements": [{"name": "x", "noise_std": 0.1}, {"name": "plus", "noise_std": 0.1}],
        "cv": [{"name": "x", "setpoint": 3.0}], "mv": [{"name": "u"}]})
    with pytest.raises(InputError) as refused:
        Controller(spec, INTEGRATOR, x0=[1.0], u0=[0.0])
    assert str(refused.value) == (
        "controller for model 'integrator': bias 'x' and bias 'plus' cannot be told apart from "
        "a steady change of x (an integrating mode) by the measurements (x and plus): drop them "
        "or put the disturbance on an input that moves x")


def test_on_the_first_move_is_within_the_rate_limits(controller):
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    assert (out.mode, out.write, out.solve_status, out.shed) == (Mode.ON, True, "ok", False)
    assert out.mv == {"u1": pytest.approx(1.5, abs=1e-9), "u2": pytest.approx(0.5, abs=1e-9)}
    assert list(controller.u_now) == [out.mv["u1"], out.mv["u2"]]
    assert out.cv_target == {"x1": pytest.approx(4.0, abs=1e-6), "x2": pytest.approx(2.0, abs=1e-6)}
    assert out.mv_target == {"u1": pytest.approx(3.0, abs=1e-6), "u2": pytest.approx(1.0, abs=1e-6)}
    assert out.setpoints == {"x1": 4.0, "x2": 2.0}
    assert out.x_estimate == {"x1": 1.0, "x2": 1.0, "x3": 1.0} and out.bias == {}
    assert out.cv_status == {"x1": GOOD, "x2": GOOD, "x3": GOOD}
    assert out.events == [] and out.given_up == [] and out.soft_violation == {}
    assert out.iterations > 0 and out.solve_time > 0 and out.solver_message != ""
    assert controller.n_solves == 1 and controller.n_failures == 0
    # the next move starts from the one written, even where the plant reports other values
    out = _step(controller, 0.2, mv=np.array([1.4, 0.5]))
    assert out.mv == {"u1": pytest.approx(2.0, abs=1e-9), "u2": pytest.approx(1.0, abs=1e-9)}


def test_warm_computes_from_the_plant_mvs_and_writes_nothing(controller):
    controller.set_mode("warm", MV0)
    for t in (0.0, 0.2):
        out = _step(controller, t)
        assert (out.mode, out.write, out.solve_status) == (Mode.WARM, False, "ok")
        # computed from the MVs in place, not from the previous (unwritten) move
        assert out.mv == {"u1": pytest.approx(1.5, abs=1e-9), "u2": pytest.approx(0.5, abs=1e-9)}
        assert list(controller.u_now) == [1.0, 0.0]


def test_a_disturbance_moves_the_mv_targets(controller):
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller, dv={"w": 0.5})
    # x1 = u1 + u2 + 0.5 = 4 and u1 - u2 = 2: u = (2.75, 0.75)
    assert list(controller.w) == [0.5]
    assert out.mv_target == {"u1": pytest.approx(2.75, abs=1e-6), "u2": pytest.approx(0.75, abs=1e-6)}


def test_without_target_calculation_the_setpoints_are_tracked():
    controller = Controller(_spec(target_calculation=False), LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    assert controller.targets is None
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    assert out.cv_target == {"x1": 4.0, "x2": 2.0}
    assert out.mv_target == {} and out.given_up == []
    assert out.mv == {"u1": pytest.approx(1.5, abs=1e-9), "u2": pytest.approx(0.5, abs=1e-9)}


def test_what_the_targets_give_up_and_the_plan_violates_is_reported():
    cv = [{"name": "x1", "setpoint": 4.0, "weight": 3.0, "high": 10.0},
          {"name": "x2", "setpoint": 2.0}, {"name": "x3", "weight": 0.0}]
    controller = Controller(_spec(cv=cv), LAGS, x0=X0, u0=[1.0, 0.0, 0.0])
    controller.set_limits("x1", high=2.0)  # below the setpoint of 4, rank 1
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller)
    # x1 <= 2 comes before the setpoints: u1 + u2 = 2, u1 - u2 = 2 -> u = (2, 0)
    assert out.mv_target == {"u1": pytest.approx(2.0, abs=1e-6), "u2": pytest.approx(0.0, abs=1e-6)}
    assert [(g["cv"], g["kind"], g["rank"]) for g in out.given_up] == [("x1", "setpoint", 0)]
    assert out.given_up[0]["violation"] == pytest.approx(2.0, abs=1e-6)
    assert out.cv_target == {"x1": pytest.approx(2.0, abs=1e-6), "x2": pytest.approx(2.0, abs=1e-6)}
    # x1 starts at 1: the plan stays within 2, nothing is violated
    assert out.soft_violation == {}
    controller.set_limits("x1", high=0.5)  # x1 = 1 now: the plan must violate it at first
    out = _step(controller, 0.2, mv=np.array([out.mv["u1"], out.mv["u2"]]))
    assert set(out.soft_violation) == {"x1"} and out.soft_violation["x1"] > 0.1


@pytest.mark.parametrize("u,u_prev,expected,status", [
    ((1.2, 0.1), (1.0, 0.0), (1.2, 0.1), (GOOD, GOOD)),
    ((2.0, -3.0), (1.0, 0.0), (1.5, -0.5), (CLAMPED, CLAMPED)),      # rate limits
    ((10.0, 0.3), (9.8, 0.0), (10.0, 0.3), (CLAMPED, GOOD)),         # at the high limit
    ((-10.0, 0.3), (-9.8, 0.0), (-10.0, 0.3), (CLAMPED, GOOD)),      # at the low limit
    ((11.0, -11.0), (12.0, -12.0), (10.0, -10.0), (CLAMPED, CLAMPED)),  # from outside the range
    ((1.5 + 1e-10, 0.0), (1.0, 0.0), (1.5, 0.0), (GOOD, GOOD)),      # 1e-9 of the value: noise
    ((1.5 + 2e-9, 0.0), (1.0, 0.0), (1.5, 0.0), (CLAMPED, GOOD)),
    ((0.0, 0.5 + 2e-9), (0.0, 0.0), (0.0, 0.5), (GOOD, CLAMPED)),    # 1e-9 of at least 1
    ((0.0, 0.5 + 5e-10), (0.0, 0.0), (0.0, 0.5), (GOOD, GOOD))])
def test_moves_are_clamped_to_the_hard_and_rate_limits(controller, u, u_prev, expected, status):
    clamped, mv_status = controller._clamp(np.array(u), np.array(u_prev))
    assert clamped == pytest.approx(expected, abs=1e-15)
    assert (mv_status["u1"], mv_status["u2"]) == status


@pytest.mark.parametrize("quality,fresh,status,event", [
    (Quality.GOOD, True, GOOD, None),
    (Quality.BAD, True, DROPPED, "CV 'x2' dropped: measurement bad"),
    (Quality.BAD, False, DROPPED, "CV 'x2' dropped: measurement bad"),  # stale and bad
    (Quality.UNCERTAIN, True, DROPPED, "CV 'x2' dropped: measurement uncertain"),
    (Quality.UNCERTAIN, False, GOOD, None)])  # an old uncertain value: nothing new
def test_a_cv_with_an_unusable_measurement_is_dropped_until_it_is_good(
        controller, quality, fresh, status, event):
    readings = _readings()
    readings["x2"] = Reading(1.0, quality, fresh=fresh)
    out = _step(controller, readings=readings)
    assert out.cv_status == {"x1": GOOD, "x2": status, "x3": GOOD}
    assert out.events == ([event] if event else [])
    assert list(controller.dropped) == [False, status is DROPPED, False]
    out = _step(controller, 0.2, readings=readings)  # still so: no new event
    assert out.cv_status["x2"] is status and out.events == []
    out = _step(controller, 0.4)
    assert out.cv_status["x2"] is GOOD
    assert out.events == (["CV 'x2' back in control"] if event else [])


def test_a_missing_or_non_finite_reading(controller):
    readings = _readings()
    del readings["x2"]
    assert _step(controller, readings=readings).cv_status["x2"] is GOOD  # nothing to judge
    readings["x2"] = Reading(float("nan"))
    out = _step(controller, readings=readings)
    assert out.cv_status["x2"] is DROPPED and out.events == ["CV 'x2' dropped: measurement good"]


def test_a_cv_without_a_measurement_is_never_dropped(controller):
    readings = {**_readings(), "x3": Reading(1.0, Quality.BAD)}
    out = _step(controller, readings=readings)
    assert out.cv_status == {"x1": GOOD, "x2": GOOD, "x3": GOOD} and out.events == []


def test_a_dropped_cv_is_left_out_of_the_targets(controller):
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller, readings=_readings(x2=Quality.BAD))
    assert out.cv_status["x2"] is DROPPED and out.solve_status == "ok"
    # x1 = u1 + u2 = 4 alone: the pull to the MVs in place (1, 0), both of range 20, splits the
    # missing 3 evenly
    assert out.mv_target == {"u1": pytest.approx(2.5, abs=0.05), "u2": pytest.approx(1.5, abs=0.05)}


def test_a_bad_critical_cv_sheds_the_controller_holding_the_mvs(controller):
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller, mv=np.array([1.2, 0.3]), readings=_readings(x1=Quality.BAD))
    assert out.cv_status["x1"] is BAD and out.shed and out.mode is Mode.OFF
    assert (out.write, out.solve_status, out.mv) == (False, "shed", {})
    assert out.events == ["critical CV 'x1' is bad",
                          "shed: critical CV bad; safe state 'hold'"]
    assert controller.mode is Mode.OFF and controller.n_sheds == 1 and controller.n_solves == 0
    assert list(controller.u_now) == [1.2, 0.3]


def test_shedding_to_safe_values_writes_them_within_the_mv_limits():
    mv = [{"name": "u1", "low": -10.0, "high": 10.0, "max_move": 0.5, "safe_value": 20.0},
          {"name": "u2", "low": -10.0, "high": 10.0, "max_move": 0.5, "safe_value": -3.0}]
    controller = Controller(_spec(mv=mv, safe_state="safe_values"), LAGS, x0=X0)
    controller.set_mode(Mode.ON, MV0)
    out = _step(controller, readings=_readings(x1=Quality.BAD))
    assert out.shed and out.write and out.mode is Mode.OFF
    assert out.mv == {"u1": 10.0, "u2": -3.0}  # 20 is beyond the high limit
    assert out.events[-1] == "shed: critical CV bad; safe state 'safe_values'"
    assert list(controller.u_now) == [10.0, -3.0]


def test_failed_solves_apply_the_last_plan_then_hold_then_shed():
    spec = _spec(solver={"time_budget": 30.0, "max_failures": 4})
    controller = Controller(spec, LAGS, x0=X0)
    try:
        runner = controller.runner
        assert isinstance(runner, BoundedSolves)
        assert controller.nmpc.runner is runner and controller.targets.runner is runner
        controller.set_mode(Mode.ON, MV0)
        first = _step(controller)
        assert first.solve_status == "ok"
        plan = controller._plan.u.copy()
        runner.budget = 1e-7  # from now on every solve is abandoned
        mv = np.array([first.mv["u1"], first.mv["u2"]])
        outs = []
        for k in range(1, 5):
            outs.append(_step(controller, 0.2 * k, mv=mv))
            if outs[-1].write:
                mv = np.array([outs[-1].mv["u1"], outs[-1].mv["u2"]])
        assert [o.solve_status for o in outs] == ["timeout", "timeout", "timeout", "shed"]
        assert [o.write for o in outs] == [True, True, False, False]
        assert [o.consecutive_failures for o in outs] == [1, 2, 3, 4]
        assert outs[0].mv == {"u1": pytest.approx(plan[1][0]), "u2": pytest.approx(plan[1][1])}
        assert outs[1].mv == {"u1": pytest.approx(plan[2][0]), "u2": pytest.approx(plan[2][1])}
        assert outs[2].mv == {"u1": mv[0], "u2": mv[1]}  # held
        assert outs[0].events[1:] == ["solver timeout (Maximum_WallTime_Exceeded); failure 1 of 4",
                                      "applied move 1 of the last feasible plan"]
        assert outs[0].events[0] == ("steady-state target failed (time budget exceeded); "
                                     "keeping the last one")
        assert outs[1].events[-1] == "applied move 2 of the last feasible plan"
        assert outs[2].events[-1] == "no feasible plan left: holding the MVs"
        assert outs[3].events[-1] == "shed: 4 consecutive solver failures; safe state 'hold'"
        assert outs[3].shed and outs[3].mode is Mode.OFF and controller.n_sheds == 1
        assert outs[3].solver_message == "Maximum_WallTime_Exceeded"  # the solve that failed
        assert controller.n_failures == 4 and controller.n_solves == 5
        assert outs[0].mv_target == first.mv_target  # the last target is kept
        # switched on again: the failures are forgotten, and a solve in time resets them
        runner.budget = 30.0
        controller.set_mode(Mode.ON, mv)
        again = _step(controller, 1.0, mv=mv)
        assert again.solve_status == "ok" and again.consecutive_failures == 0
    finally:
        controller.close()


def test_with_a_time_budget_the_mhe_solves_in_the_bounded_process_too():
    spec = spec_from_dict({
        "model": "lags", "sample_time": 0.2, "prediction_horizon": 3,
        "estimator": {"kind": "mhe", "horizon": 2}, "solver": {"time_budget": 30.0},
        "measurements": [{"name": "x1", "noise_std": 0.01}, {"name": "x3", "noise_std": 0.01}],
        "cv": [{"name": "x1", "setpoint": 2.0}], "mv": [{"name": "u1"}, {"name": "u2"}]})
    controller = Controller(spec, LAGS, x0=X0 * 1.1, u0=[1.0, 0.0, 0.0])
    runner = controller.runner
    try:
        assert controller.estimator.runner is runner and controller.nmpc.runner is runner
        for k in range(4):  # OFF: the estimator alone; from the third cycle the MHE solves
            out = controller.step(0.2 * k, {"x1": Reading(1.0), "x3": Reading(1.0)}, MV0)
            assert out.events == []
        assert controller.estimator.n_failures == 0
        assert out.x_estimate["x1"] != pytest.approx(controller.estimator.ekf.xi[0], abs=1e-9)
    finally:
        controller.close()
    assert all(child.process.poll() is not None for child in runner._children)
