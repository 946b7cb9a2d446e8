"""The linear controller inside :class:`apc.controller.Controller`: refusals, failures, feedback.

``LAGS`` (:mod:`linear_models`): three unit-gain lags with time constant
``tau`` (``x1 -> u1 + u2 + w``, ``x2 -> u1 - u2``, ``x3 -> u1``). The plant
below is the same model with ``tau`` doubled (a model error) and a constant
offset of +0.3 on the reading of ``x1`` (a sensor error): with output-bias
feedback (Kalman filter or DMC) both CVs must still settle at their setpoints.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.controller import Controller
from apc.linear.model import linearise
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from linear_models import LAGS
from support import run_twin
from twin.core.errors import InputError
from twin.core.quality import Reading

X0 = np.ones(3)
U0 = np.array([1.0, 0.0, 0.0])


def _table(**changes):
    table = {"model": "lags", "type": "linear", "sample_time": 0.2, "prediction_horizon": 10,
             "dv": [{"name": "w"}],
             "measurements": [{"name": "x1", "noise_std": 0.01}, {"name": "x2", "noise_std": 0.01}],
             "cv": [{"name": "x1", "setpoint": 2.0}, {"name": "x2", "setpoint": 0.5}],
             "mv": [{"name": "u1", "move_weight": 0.1, "low": -5.0, "high": 5.0},
                    {"name": "u2", "move_weight": 0.1, "low": -5.0, "high": 5.0}]}
    table.update(changes)
    return table


def _controller(**changes):
    return Controller(spec_from_dict(_table(**changes)), LAGS, x0=X0, u0=U0)


@pytest.mark.parametrize("changes, message", [
    ({"estimator": {"kind": "mhe"}}, r"estimator 'mhe' needs the nonlinear controller"),
    ({"linear": {"form": "step_response"}, "estimator": {"kind": "state_feedback"}},
     r"linear.form 'step_response' corrects with measured outputs"),
    ({"linear": {"form": "step_response"},
      "disturbances": [{"kind": "input", "name": "w", "noise": 0.1}]},
     r"disturbance 'w': input disturbances need linear.form 'state_space'"),
    ({"measurements": [{"name": "x1", "noise_std": 0.01, "dead_time": 0.4}]},
     r"measurement 'x1': dead_time needs the nonlinear controller's estimator"),
    ({"linear": {"qp_solver": "hpipm"}, "solver": {"time_budget": 1.0}},
     r"linear.qp_solver 'hpipm' cannot run under solver.time_budget"),
    ({"linear": {"qp_solver": "hpipm"}, "mv": [{"name": "u1", "high": 3.0}, {"name": "u2"}]},
     r"^mv 'u1': linear.qp_solver 'hpipm' needs finite low and high limits on every MV"),
    ({"measurements": [{"name": "x1", "noise_std": 0.01}],
      "disturbances": [{"kind": "input", "name": "u1", "noise": 0.1},
                       {"kind": "input", "name": "u2", "noise": 0.1}]},
     r"the disturbance model is not detectable from the measurements"),
])
def test_what_the_linear_controller_cannot_do_is_refused_in_one_line(changes, message):
    with pytest.raises(InputError, match=message) as info:
        _controller(**changes)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("key, value, message", [
    ("form", "fir", r"form"), ("qp_solver", "gurobi", r"qp_solver"),
    ("settling_intervals", 0, r"settling_intervals"),
    ("operating_point", "here", r"operating_point"), ("cv_limits", "sometimes", r"cv_limits"),
])
def test_linear_keys_are_checked_in_one_line(key, value, message):
    with pytest.raises(InputError, match=message) as info:
        spec_from_dict(_table(linear={key: value}))
    assert "\n" not in str(info.value)


def test_a_qp_failure_is_a_failed_plan_with_a_one_line_message_and_the_fallback_applies():
    c = _controller(cv=[{"name": "x1", "setpoint": 2.0}, {"name": "x2", "setpoint": 0.5},
                        {"name": "x3", "weight": 0.0, "hard_low": -10.0, "hard_high": 10.0}])
    c.set_mode("on", U0[:2])
    readings = {"x1": Reading(1.0), "x2": Reading(1.0)}
    first = c.step(0.0, readings, U0[:2])
    assert first.solve_status == "ok" and first.solver_message == "daqp: optimal"
    c.set_limits("x3", hard_low=-5.0, hard_high=-4.0)  # x3 = u1 lag: -4 needs u1 < -5
    c.set_limits("u1", low=-1.0)
    out = c.step(0.2, readings, np.array([first.mv["u1"], first.mv["u2"]]))
    assert out.solve_status == "failed"
    assert out.solver_message == "daqp: infeasible"
    assert "applied move 1 of the last feasible plan" in out.events


def test_hard_limits_set_at_run_time_reach_the_qp():
    c = _controller(cv=[{"name": "x1", "setpoint": 2.0}, {"name": "x2", "setpoint": 0.5},
                        {"name": "x3", "weight": 0.0, "hard_high": 10.0}])
    c.set_mode("on", U0[:2])
    c.set_limits("x3", hard_high=1.1)
    u = U0[:2]
    for k in range(40):
        out = c.step(0.2 * k, {"x1": Reading(1.0), "x2": Reading(1.0)}, u)
        plan = c._plan
        u = np.array([out.mv["u1"], out.mv["u2"]])
    assert np.max(plan.x[1:-1, 2]) <= 1.1 + 1e-9


@pytest.mark.parametrize("form", ["state_space", "step_response"])
def test_output_feedback_removes_model_and_sensor_errors(form):
    table = _table(linear={"form": form}, target_calculation=False)
    c = Controller(spec_from_dict(table), LAGS, x0=X0, u0=U0)
    plant = ControlProblem(LAGS.with_parameters({"tau": 2.0}), c.spec)
    true = linearise(plant, X0, U0[:2], np.zeros(1))
    c.set_mode("on", U0[:2])
    x, u = X0.copy(), U0[:2].copy()
    for k in range(150):
        readings = {"x1": Reading(x[0] + 0.3), "x2": Reading(x[1])}
        out = c.step(0.2 * k, readings, u)
        assert out.solve_status == "ok"
        u = np.array([out.mv["u1"], out.mv["u2"]])
        x = true.next_state(x, u, np.zeros(1))
    # the reading of x1 (what the controller sees) settles at the setpoint
    assert x[0] + 0.3 == pytest.approx(2.0, abs=1e-4)
    assert x[1] == pytest.approx(0.5, abs=1e-4)
    if form == "state_space":  # at steady state the model is right: the bias is the sensor's
        assert out.bias["x1"] == pytest.approx(0.3, abs=1e-3)


def test_time_budget_runs_the_qp_in_the_solver_process_with_the_same_moves():
    moves = []
    for budget in (None, 5.0):
        c = _controller(solver={"time_budget": budget} if budget else {})
        c.set_mode("on", U0[:2])
        out = c.step(0.0, {"x1": Reading(1.0), "x2": Reading(1.0)}, U0[:2])
        moves.append([out.mv["u1"], out.mv["u2"]])
        c.close()
    assert moves[0] == pytest.approx(moves[1], abs=1e-12)


def test_plan_states_follow_the_linear_model_with_the_estimated_input_disturbance():
    c = _controller(disturbances=[{"kind": "input", "name": "u1", "noise": 0.1}],
                    measurements=[{"name": "x1", "noise_std": 0.01},
                                  {"name": "x2", "noise_std": 0.01},
                                  {"name": "x3", "noise_std": 0.01, "bias": False}])
    c.set_mode("on", U0[:2])
    for k in range(3):  # x3 (= the u1 lag) reads low: u1 acts less than the model says
        c.step(0.2 * k, {"x1": Reading(1.1), "x2": Reading(1.0), "x3": Reading(0.9)}, U0[:2])
    d = c.estimator.input_disturbance
    assert d[0] < -0.05
    lin, plan = c.nmpc.lin, c._plan
    x = plan.x[0]
    for k in range(len(plan.u)):
        x = lin.next_state(x, plan.u[k] + np.array([d[0], 0.0]), c.w)
        assert plan.x[k + 1] == pytest.approx(x, abs=1e-12)


@pytest.mark.parametrize("extra, message", [
    ('[controller.estimator]\nkind = "mhe"\n',
     "estimator 'mhe' needs the nonlinear controller; the linear controller uses kind 'ekf' "
     "(its Kalman filter) or 'state_feedback'"),
    ('[controller.linear]\nqp_solver = "gurobi"\n',
     "loop.toml.controller.linear.qp_solver: 'gurobi' is not one of 'auto', 'daqp', "
     "'qpoases', 'hpipm', 'osqp'"),
])
def test_the_cli_refuses_a_linear_controller_it_cannot_run_in_one_line(tmp_path, capsys, extra,
                                                                       message):
    path = tmp_path / "loop.toml"
    path.write_text('[plant]\nmodel = "quadruple_tank"\n[run]\nduration = 20.0\n[controller]\n'
                    'model = "quadruple_tank"\ntype = "linear"\nsample_time = 10.0\n'
                    'prediction_horizon = 5\n[[controller.measurements]]\nname = "h1"\n'
                    '[[controller.cv]]\nname = "h1"\nsetpoint = 12.0\n'
                    '[[controller.mv]]\nname = "v1"\n' + extra)
    code, _, err = run_twin(capsys, "control", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and err == f"twin: error: {message}\n"


def test_targets_come_from_the_linear_model_with_what_an_optimiser_needs():
    """At steady state ``x1 = u1 + u2`` and ``x2 = u1 - u2``: with ``u1 <= 1.5`` and
    ``u2 >= -0.5``, ``x2 <= 2``, so its setpoint 3 is given up and ``u1`` targets its limit."""
    c = _controller(cv=[{"name": "x1", "setpoint": 2.0}, {"name": "x2", "setpoint": 3.0}],
                    mv=[{"name": "u1", "move_weight": 0.1, "low": -5.0, "high": 1.5},
                        {"name": "u2", "move_weight": 0.1, "low": -0.5, "high": 5.0}])
    targets = c.targets
    assert targets.gain == pytest.approx(np.array([[1, 1], [1, -1]]), abs=1e-12)
    assert not targets.ramp.any()
    assert targets.cv_free_ss(np.array([1.0, 0.0]), np.zeros(1)) == pytest.approx([1.0, 1.0])
    assert targets.cv_free_ss(np.array([2.0, 0.5]), np.zeros(1)) == pytest.approx([2.5, 1.5])
    c.set_mode("on", U0[:2])
    out = c.step(0.0, {"x1": Reading(1.0), "x2": Reading(1.0)}, U0[:2])
    assert out.mv_target["u1"] == pytest.approx(1.5, abs=1e-5)
    assert [g["cv"] for g in out.given_up if g["kind"] == "setpoint"]


def test_the_four_qp_solvers_plan_the_same_moves_in_a_closed_loop():
    """The same loop (setpoint steps, a rate limit, an MV limit) with each solver
    (daqp with its workspace kept between cycles, qpOASES and OSQP through casadi's buffer
    interface, hpipm through ordinary arguments)."""
    moves = {}
    for solver in ("daqp", "qpoases", "hpipm", "osqp"):
        c = _controller(linear={"qp_solver": solver}, target_calculation=False,
                        mv=[{"name": "u1", "move_weight": 0.1, "max_move": 0.3, "low": -5.0,
                             "high": 2.2},
                            {"name": "u2", "move_weight": 0.1, "low": -5.0, "high": 5.0}])
        c.set_mode("on", U0[:2])
        x, u, lin, out_u = X0.copy(), U0[:2].copy(), c.nmpc.lin, []
        for k in range(25):
            if k == 12:
                c.set_setpoint("x1", 3.0)
            out = c.step(0.2 * k, {"x1": Reading(x[0]), "x2": Reading(x[1])}, u)
            assert out.solve_status == "ok", (solver, out.solver_message)
            u = np.array([out.mv["u1"], out.mv["u2"]])
            out_u.append(u)
            x = lin.next_state(x, u, np.zeros(1))
        moves[solver] = np.array(out_u)
    assert moves["daqp"][:, 0].max() == pytest.approx(2.2)  # the limit was reached
    for solver, tol in (("qpoases", 1e-10), ("hpipm", 1e-6), ("osqp", 1e-4)):
        assert np.abs(moves[solver] - moves["daqp"]).max() < tol, solver


def test_qpoases_prints_nothing(capsys):
    """qpOASES announces itself when first used; stdout may carry a JSON result."""
    c = _controller(linear={"qp_solver": "qpoases"})
    c.set_mode("on", U0[:2])
    out = c.step(0.0, {"x1": Reading(1.0), "x2": Reading(1.0)}, U0[:2])
    assert out.solve_status == "ok"
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("where, stages", [("every_stage", list(range(10))),
                                           ("block_ends", [1, 3, 9])])
def test_cv_limits_are_held_where_linear_cv_limits_says(where, stages):
    """Soft limits (a slack each) and hard limits at every stage, or at the ends of the move
    blocks (1, 2 and 7 intervals long: ends 1, 3 and the last stage 9); the plan holds the
    soft limit x2 <= 0.6 at those stages while the setpoint 0.9 pulls beyond it."""
    c = _controller(move_blocking=[1, 2, 7], linear={"cv_limits": where},
                    cv=[{"name": "x1", "setpoint": 2.0},
                        {"name": "x2", "setpoint": 0.9, "high": 0.6, "penalty": 1e4,
                         "hard_high": 5.0}])
    qp = c.nmpc.qp
    assert list(qp.stages) == stages and qp.cv_limits == where
    # a slack per stage, or one for all the block ends (its largest violation penalised)
    assert qp.n_slack == (len(stages) if where == "every_stage" else 1)
    assert set(qp._hard_idx // 2) <= set(stages)
    c.set_mode("on", U0[:2])
    x = X0.copy()
    for k in range(6):
        out = c.step(0.2 * k, {"x1": Reading(x[0]), "x2": Reading(x[1])},
                     np.array([c.u_now[0], c.u_now[1]]))
        assert out.solve_status == "ok"
        x = c.nmpc.lin.next_state(x, c.u_now, np.zeros(1))
    x2 = c._plan.x[:, 1]  # the last plan's prediction of x2 at the stages 0..N
    assert np.all(x2[stages] <= 0.6 + 1e-6) and x2[stages].max() > 0.6 - 1e-3, x2
