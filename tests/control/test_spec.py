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

    from apc.controller import Controller

    model = twin.load_model("distillation_a")
    spec = spec_from_dict({
        "model": "distillation_a", "sample_time": 1.0, "prediction_horizon": 5,
        "estimator": {"kind": "state_feedback"}, "target_calculation": False,
        "cv": [{"name": "x_D", "setpoint": 0.99}], "mv": [{"name": "L_T"}, {"name": "V_B"}],
        "dv": [{"name": "z_F"}]})
    controller = Controller(spec, model)
    index = [model.inputs.names[i] for i in controller.problem.other_index]
    assert index == ["F", "z_F"]
    controller.step(0.0, {}, np.array([2.70629, 3.20629]), {"z_F": 0.55}, x_plant=model.x0())
    assert controller.w[index.index("z_F")] == 0.55
    with pytest.raises(UnknownNameError, match="unknown disturbance 'zF'"):
        controller.step(1.0, {}, np.array([2.70629, 3.20629]), {"zF": 0.5}, x_plant=model.x0())
