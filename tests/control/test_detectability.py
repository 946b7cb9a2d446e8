"""Detectability of the disturbance model: the linear-algebra check and where the controller uses it."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from apc.controller import Controller
from apc.detectability import check_disturbance_model
from apc.spec import CVSpec, MeasurementSpec
from apc.spec_disturbance import DisturbanceSpec
from loop_support import replace
from support import run_twin, the_error_line
from twin.core.config import read_toml
from twin.core.errors import InputError
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.registry import load_model

U0 = {"q": 100.0, "T_c": 300.0, "C_Af": 1.0, "T_f": 350.0}
T_ONLY = MeasurementSpec("T", noise_std=0.02, bias=False)
C_A = MeasurementSpec("C_A", noise_std=0.001, bias=False)


def _check(A, B_d, C, C_d, disturbances, measurements=("y",), states=("x",), controlled=0):
    return check_disturbance_model(np.array(A, float), np.array(B_d, float), np.array(C, float),
                                   np.array(C_d, float), disturbances, measurements, states,
                                   controlled)


def test_an_output_bias_on_a_stable_plant_is_detectable():
    report = _check([[0.5]], [[0.0]], [[1.0]], [[1.0]], ["bias 'y'"])
    # [[I - A, -B_d], [C, C_d]] = [[0.5, 0], [1, 1]]: singular values 1.4604 and 0.3423
    assert report.smallest_singular_value == pytest.approx(0.3423 / 1.4604, abs=1e-4)
    assert report.warnings == ()


def test_an_output_bias_on_an_integrating_plant_is_refused():
    # x+ = x: a steady change of x and a bias look the same to y = x + d
    with pytest.raises(InputError) as refused:
        _check([[1.0]], [[0.0]], [[1.0]], [[1.0]], ["bias 'y'"])
    assert str(refused.value) == ("disturbance model: bias 'y' cannot be told apart from a "
                                  "steady change of x (an integrating mode) by the measurements "
                                  "(y): drop it or put the disturbance on an input that moves x")
    # an input disturbance moves the integrating state: detectable
    assert _check([[1.0]], [[0.2]], [[1.0]], [[0.0]], ["input 'u'"]).smallest_singular_value > 0.1


def test_a_disturbance_that_moves_no_measurement_is_refused():
    # the input moves x2, which no measurement sees and which returns to rest
    with pytest.raises(InputError, match=r"^disturbance model: input 'u' moves none of the "
                                         r"measurements \(y\) at steady state: drop it"):
        _check(np.diag([0.5, 0.5]), [[0.0], [0.5]], [[1.0, 0.0]], [[0.0]], ["input 'u'"],
               states=("x1", "x2"))


def test_more_disturbances_than_measurements_are_refused_by_count():
    with pytest.raises(InputError, match=r"^disturbance model: 2 integrating disturbances "
                                         r"\(bias 'y', input 'u'\) but only 1 measurement\(s\) "
                                         r"\(y\): at most 1 can be estimated; drop 1"):
        _check([[0.5]], [[0.0, 0.5]], [[1.0]], [[1.0, 0.0]], ["bias 'y'", "input 'u'"])


def test_an_unstable_mode_no_measurement_sees_is_refused_naming_its_state():
    with pytest.raises(InputError, match=r"do not see the unstable mode of x1: measure one"):
        _check(np.diag([1.1, 0.5]), np.zeros((2, 0)), [[0.0, 1.0]], np.zeros((1, 0)), [],
               states=("x1", "x2"))


def test_fewer_disturbances_than_controlled_cvs_is_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="apc.detectability"):
        report = _check(np.diag([0.5, 0.5]), [[0.5], [0.0]], np.eye(2), np.zeros((2, 1)),
                        ["input 'u'"], ("y1", "y2"), ("x1", "x2"), controlled=2)
    assert report.warnings == ("2 CVs at setpoints but 1 integrating disturbance(s) "
                               "(input 'u'): offset can be removed in at most 1 of them",)
    assert report.warnings[0] in caplog.text


# -- the controller builds its augmented model and checks it --------------------------------

@pytest.fixture(scope="module")
def exothermic():
    return load_loop(example("cstr_exothermic_apc.toml")).controller, load_model("cstr_exothermic")


def _refusal(exothermic, **changes) -> str:
    spec, model = exothermic
    with pytest.raises(InputError) as refused:
        Controller(replace(spec, **changes), model, u0=U0)
    assert "\n" not in str(refused.value)
    return str(refused.value)


def test_disturbances_alike_at_steady_state_are_named(exothermic):
    # UA and T_c enter only as UA (T_c - T): the same steady effect on both balances
    message = _refusal(exothermic, measurements=(T_ONLY, C_A),
                       disturbances=(DisturbanceSpec("input", "T_c", 0.1),
                                     DisturbanceSpec("parameter", "UA", 100.0)))
    assert message == ("controller for model 'cstr_exothermic': input 'T_c' and parameter 'UA' "
                       "cannot be told apart from the measurements (T and C_A): keep only one "
                       "of them (drop the other disturbances, or set bias = false on the "
                       "measurements named), or measure a signal that sees them differently")
    # the feed temperature acts on the energy balance as the coolant does
    message = _refusal(exothermic, measurements=(T_ONLY, C_A),
                       disturbances=(DisturbanceSpec("input", "T_c", 0.1),
                                     DisturbanceSpec("input", "T_f", 0.1)))
    assert "input 'T_c' and input 'T_f' cannot be told apart" in message


def test_a_bias_beside_an_input_disturbance_needs_a_second_measurement(exothermic):
    message = _refusal(exothermic, measurements=(replace(T_ONLY, bias=True),))
    assert message.startswith("controller for model 'cstr_exothermic': 2 integrating disturbances "
                              "(bias 'T', input 'T_c') but only 1 measurement(s) (T)")
    spec, model = exothermic
    both = Controller(replace(spec, measurements=(replace(T_ONLY, bias=True), C_A)), model, u0=U0)
    assert both.detectability.disturbances == ("bias 'T'", "input 'T_c'")
    assert both.detectability.smallest_singular_value > 1e-2


def test_a_cv_left_without_a_disturbance_is_an_event_of_the_first_cycle(exothermic):
    spec, model = exothermic
    spec = replace(spec, measurements=(T_ONLY, C_A), cv=spec.cv + (CVSpec("C_A", setpoint=0.5),))
    controller = Controller(spec, model, u0=U0)
    warning = ("estimator: 2 CVs at setpoints but 1 integrating disturbance(s) (input 'T_c'): "
               "offset can be removed in at most 1 of them")
    from twin.core.quality import Quality, Reading

    readings = {n: Reading(v, Quality.GOOD) for n, v in (("T", 350.0), ("C_A", 0.5))}
    first = controller.step(0.0, readings, np.array([300.0]))
    second = controller.step(0.1, readings, np.array([300.0]))
    assert warning in first.events and warning not in second.events


def test_the_cli_refuses_an_undetectable_choice_with_one_line(capsys, tmp_path):
    text = example("cstr_exothermic_apc.toml").read_text()
    assert read_toml(example("cstr_exothermic_apc.toml"))["controller"]["measurements"][0]["bias"] is False
    loop = tmp_path / "loop.toml"
    loop.write_text(text.replace("bias = false", "bias = true"))
    code, _, err = run_twin(capsys, "control", str(loop), "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err).startswith(
        "twin: error: controller for model 'cstr_exothermic': 2 integrating disturbances "
        "(bias 'T', input 'T_c') but only 1 measurement(s) (T): at most 1 can be estimated")
    assert "Traceback" not in err


def test_disturbances_need_an_estimator_and_may_not_be_robust_scenarios(exothermic):
    spec, _ = exothermic
    with pytest.raises(InputError, match=r"^disturbances are estimated states: they need "
                                         r"estimator.kind 'ekf' or 'mhe', not 'state_feedback'$"):
        replace(spec, estimator=replace(spec.estimator, kind="state_feedback"))
    from apc.spec import RobustSpec

    with pytest.raises(InputError, match=r"^parameter 'UA' is both a robust scenario parameter "
                                         r"and an estimated disturbance: choose one$"):
        replace(spec, robust=RobustSpec({"UA": (50000.0, 47500.0)}),
                solver=replace(spec.solver, backend="do-mpc"),
                disturbances=(DisturbanceSpec("parameter", "UA", 100.0),))


def test_a_mode_much_faster_than_the_interval_does_not_spoil_the_check():
    # a 0.01 min lag feeding a 1 min lag, sampled every 1 min: the estimator's RK4 steps
    # (0.1 min) are unstable for the fast mode, its exact sampling is not (as Column A's
    # hydraulics at a 1 min interval); a bias on the slow state is detectable
    from twin.core.model import Model
    from twin.core.variables import manipulated, state

    stiff = Model(name="stiff", title="fast lag into slow lag", source="test model",
                  time_unit="min",
                  states=[state("fast", "-", "fast lag", 1.0), state("slow", "-", "slow lag", 1.0)],
                  inputs=[manipulated("u", "-", "input", 1.0, -10.0, 10.0)], parameters=[],
                  rhs=lambda x, u, p, ops: {"fast": (u.u - x.fast) / 0.01,
                                            "slow": x.fast - x.slow})
    from apc.spec import spec_from_dict

    spec = spec_from_dict({"model": "stiff", "sample_time": 1.0, "prediction_horizon": 3,
                           "measurements": [{"name": "slow", "noise_std": 0.01}],
                           "cv": [{"name": "slow", "setpoint": 1.0}], "mv": [{"name": "u"}]})
    report = Controller(spec, stiff, x0=[1.0, 1.0], u0=[1.0]).detectability
    # exact: x+ = A x with A = diag(~0, e^-1) (+ coupling), so I - A is well conditioned
    assert report.smallest_singular_value > 0.1
