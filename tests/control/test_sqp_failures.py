"""SQP and RTI backends: failures give a FAILED plan with one line, the specification refuses
what they cannot do, and the time budget holds with the solves in a child process."""

from __future__ import annotations

import copy
import time

import numpy as np
import pytest

import twin
from apc.controller import Controller, Mode
from apc.spec import spec_from_dict
from twin.core.config import read_toml
from twin.core.errors import InputError
from twin.core.quality import Reading
from twin.orchestration.examples import example as example_path

MV0 = np.array([14.19, -1113.5])
READINGS = {"T_R": Reading(134.14), "T_K": Reading(130.0), "C_b": Reading(0.5)}


def _spec(**solver):
    d = copy.deepcopy(read_toml(example_path("cstr_apc.toml"))["controller"])
    d["solver"] = solver
    for mv in d["mv"]:
        if mv["name"] == "F":
            mv["max_move"] = 3.0
    return d


@pytest.mark.parametrize("backend", ["sqp", "rti"])
def test_infeasible_limits_set_by_an_operator_give_a_failed_plan_in_one_line(backend, capfd):
    controller = Controller(spec_from_dict(_spec(backend=backend)), twin.load_model("cstr"))
    controller.set_mode(Mode.ON, MV0)
    first = controller.step(0.0, READINGS, MV0)
    assert first.solve_status == "ok"
    # F may move 3 per interval; the operator asks for at least 50 from about 14
    controller.set_limits("F", low=50.0)
    out = controller.step(0.005, READINGS, controller.u_now)
    assert out.solve_status == "failed"
    assert out.solver_message == "QP (hpipm) failed: infeasible linearisation or iteration limit"
    assert "\n" not in out.solver_message
    assert out.events[0].startswith("solver failed (QP (hpipm) failed")
    assert "applied move 1 of the last feasible plan" in out.events
    assert capfd.readouterr().out == ""  # nothing printed by the solver


@pytest.mark.parametrize("extra, text", [
    ({"robust": {"n_robust": 1, "parameters": {"alpha": [1.0, 1.05]}}},
     "solver.backend 'sqp' handles nominal problems; robust needs 'do-mpc'"),
    ({"economic": "-C_b * F"},
     "solver.backend 'sqp' takes least-squares costs only; an economic cost needs 'fatrop' or "
     "'do-mpc'"),
])
def test_what_sqp_cannot_do_is_refused_in_one_line(extra, text):
    d = {**_spec(backend="sqp"), **extra}
    with pytest.raises(InputError) as err:
        spec_from_dict(d)
    assert str(err.value) == f"controller: {text}"


def test_a_model_too_large_for_the_symbolic_sensitivities_is_refused_in_one_line():
    spec = spec_from_dict({
        "model": "distillation_a", "sample_time": 1.0, "prediction_horizon": 8,
        "estimator": {"kind": "state_feedback"},
        "cv": [{"name": "x_41", "setpoint": 0.995}], "mv": [{"name": "L_T"}, {"name": "V_B"}],
        "solver": {"backend": "rti"}})
    with pytest.raises(InputError) as err:
        Controller(spec, twin.load_model("distillation_a"))
    assert str(err.value) == (
        "solver.backend 'rti': 82 states x collocation degree 2 is more than 48 collocation "
        "unknowns per interval (their sensitivities are formed symbolically); use 'fatrop'")


@pytest.mark.parametrize("backend", ["sqp", "rti"])
def test_the_solves_run_in_the_child_process_with_a_budget_and_give_the_same_moves(backend):
    model = twin.load_model("cstr")
    plain = Controller(spec_from_dict(_spec(backend=backend)), model)
    bounded = Controller(spec_from_dict(_spec(backend=backend, time_budget=30.0)), model)
    try:
        for c in (plain, bounded):
            c.set_mode(Mode.ON, MV0)
        for k in range(3):
            a = plain.step(0.005 * k, READINGS, MV0)
            b = bounded.step(0.005 * k, READINGS, MV0)
            assert a.solve_status == b.solve_status == "ok"
            assert b.mv == pytest.approx(a.mv, rel=1e-12, abs=1e-12)
        assert bounded.runner.bounded and bounded.nmpc.runner is bounded.runner
    finally:
        bounded.close()


def test_a_budget_too_short_for_one_sqp_iteration_times_out_and_sheds():
    spec = spec_from_dict(_spec(backend="sqp", time_budget=1e-4))
    controller = Controller(spec, twin.load_model("cstr"))
    try:
        controller.set_mode(Mode.ON, MV0)
        outs, seconds = [], []
        for k in range(3):
            t0 = time.perf_counter()
            outs.append(controller.step(0.005 * k, READINGS, MV0))
            seconds.append(time.perf_counter() - t0)
        assert [o.solve_status for o in outs] == ["timeout", "timeout", "shed"]
        assert max(seconds) <= 1.0, seconds
    finally:
        controller.close()
