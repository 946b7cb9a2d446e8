"""Controller specifications: strict loading and checks against the model."""

from __future__ import annotations


import pytest

import twin
from apc.spec import ControllerSpec, load_spec, spec_from_dict
from twin.core.errors import InputError, UnknownNameError

from twin_benchmarks.apc import SPEC as DOMPC_SPEC

BASE = {"model": "cstr", "sample_time": 0.005, "prediction_horizon": 10,
        "cv": [{"name": "C_b", "setpoint": 0.6}], "mv": [{"name": "F"}, {"name": "Q_dot"}],
        "estimator": {"kind": "state_feedback"}}


def test_example_loads_and_checks():
    spec = load_spec(DOMPC_SPEC)
    spec.check(twin.load_model("cstr"))
    assert spec.robust.parameters["beta"] == (1.0, 1.1, 0.9)
    assert spec.backend() == "do-mpc" and spec.blocks() == (1,) * 20


@pytest.mark.parametrize("patch,message", [
    ({"horizon": 5}, "unknown key 'horizon'; valid keys: model, sample_time, prediction_horizon"),
    ({"cv": [{"name": "C_b", "setpont": 0.6}]}, "cv[0]: unknown key 'setpont'; valid keys: name, setpoint"),
    ({"sample_time": "fast"}, "sample_time: expected a number, got 'fast'"),
    ({"prediction_horizon": 2.5}, "prediction_horizon: expected an integer"),
    ({"estimator": {"kind": "kalman"}}, "'kalman' is not one of 'ekf', 'mhe', 'state_feedback'"),
    ({"mv": [{"name": "F", "max_move": -1.0}]}, "mv[0].max_move: -1.0 is out of range (expected a number > 0)"),
    ({"control_horizon": 3, "move_blocking": [5, 5]}, "either control_horizon or move_blocking"),
    ({"move_blocking": [3, 3]}, "sum to prediction_horizon"),
    ({"cv": [{"name": "C_b", "low": 2.0, "high": 1.0}]}, "low > high"),
    ({"cv": [{"name": "C_b"}, {"name": "C_b"}]}, "cv 'C_b' is listed twice"),
])
def test_bad_keys_and_values_are_one_line_errors(patch, message):
    with pytest.raises(InputError) as err:
        spec_from_dict({**BASE, **patch})
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("patch,message", [
    ({"cv": [{"name": "C_c"}]}, "unknown cv 'C_c'"),
    ({"mv": [{"name": "T_in"}]}, "unknown mv 'T_in'"),
    ({"estimator": {"kind": "ekf"}}, "needs measurements"),
    ({"measurements": [{"name": "C_b", "dead_time": 0.007}], "estimator": {"kind": "ekf"}},
     "dead_time 0.007 is not a multiple of sample_time"),
    ({"robust": {"parameters": {"gamma": [1.0]}}}, "unknown robust parameter 'gamma'"),
])
def test_names_are_checked_against_the_model(patch, message):
    spec = spec_from_dict({**BASE, **patch})
    with pytest.raises(InputError, match=message):
        spec.check(twin.load_model("cstr"))


def test_control_horizon_and_move_blocking_as_blocks():
    spec = spec_from_dict({**BASE, "control_horizon": 3})
    assert spec.blocks() == (1, 1, 8)
    spec = spec_from_dict({**BASE, "move_blocking": [2, 3, 5]})
    assert spec.blocks() == (2, 3, 5)
    assert isinstance(spec, ControllerSpec)


def test_unknown_name_error_type():
    spec = spec_from_dict({**BASE, "cv": [{"name": "Cb"}]})
    with pytest.raises(UnknownNameError, match="did you mean 'C_b'"):
        spec.check(twin.load_model("cstr"))


def test_measured_disturbances_reach_the_controller():
    import numpy as np

    from apc.controller import Controller, Mode
    from linear_models import LAGS

    # x1 settles at u1 + u2 + w: to hold x1 = 1 with u2 = 0, u1 must be 1 - w, at once
    # (a measured w is fed forward: no error is needed to see it)
    spec = spec_from_dict({
        "model": "lags", "sample_time": 0.2, "prediction_horizon": 5,
        "estimator": {"kind": "state_feedback"},
        "cv": [{"name": "x1", "setpoint": 1.0}], "mv": [{"name": "u1"}], "dv": [{"name": "w"}]})
    controller = Controller(spec, LAGS)
    assert [LAGS.inputs.names[i] for i in controller.problem.other_index] == ["u2", "w"]
    controller.set_mode(Mode.ON, np.array([1.0]))
    x = LAGS.x0()  # at rest: x1 = 1 with u1 = 1, w = 0
    moves = {}
    for k, w in enumerate([0.0, 0.3, -0.3]):
        out = controller.step(float(k), {}, np.array([1.0]), {"w": w}, x_plant=x)
        assert out.solve_status == "ok"
        moves[w] = (out.mv["u1"], out.mv_target["u1"])
    print("u1 move and target by w:", moves)
    for w, (move, target) in moves.items():
        assert move == pytest.approx(1.0 - w, abs=1e-6)
        assert target == pytest.approx(1.0 - w, abs=1e-6)
    assert controller._plan.u[:, 0] == pytest.approx([1.3] * 5, abs=1e-6)  # the whole plan
    with pytest.raises(UnknownNameError, match="unknown disturbance 'W'"):
        controller.step(3.0, {}, np.array([1.0]), {"W": 0.5}, x_plant=x)
