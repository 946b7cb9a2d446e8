"""Estimators: the unmeasured state converges, analyser delay and sampling are honoured."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from apc.estimation import EKF, MHE
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from twin.core.quality import Quality, Reading
from twin.core.sensors import SensorSpec, Sensors


def _problem(dead_time=0.005, interval=0.005):
    spec = spec_from_dict({
        "model": "cstr", "sample_time": 0.005, "prediction_horizon": 5,
        "estimator": {"kind": "ekf", "horizon": 8},
        "measurements": [{"name": "T_R", "noise_std": 0.1}, {"name": "T_K", "noise_std": 0.1},
                         {"name": "C_b", "noise_std": 0.005, "dead_time": dead_time,
                          "sample_interval": interval}],
        "cv": [{"name": "C_b", "setpoint": 0.6}], "mv": [{"name": "F"}, {"name": "Q_dot"}]})
    return ControlProblem(twin.load_model("cstr"), spec)


@pytest.mark.parametrize("kind", [EKF, MHE])
def test_unmeasured_state_converges_from_a_wrong_guess(kind):
    pb = _problem()
    model = pb.model
    ss = twin.find_steady_state(model)
    plant = twin.Simulator(model, 0.005, x0=ss.x)
    sensors = Sensors([SensorSpec(m.name, m.noise_std, m.sample_interval, m.dead_time)
                       for m in pb.spec.measurements], model.states.names, seed=3)
    sensors.prime(model.states.to_dict(ss.x))
    estimator = kind(pb, ss.x * np.array([1.2, 0.8, 1.0, 1.0]), ss.u, np.zeros(0), model.p0())
    rng = np.random.default_rng(0)
    u = ss.u.copy()
    for k in range(150):
        est = estimator.correct(sensors.read(0.005 * k, model.states.to_dict(plant.x)))
        if k % 10 == 0:
            u = ss.u * (1 + 0.05 * rng.uniform(-1, 1, 2))
        estimator.predict(u, np.zeros(0), model.p0())
        x_true = plant.x
        plant.step(u)
    assert abs(est.x[0] - x_true[0]) / x_true[0] < 0.01  # C_a is not measured
    assert abs(est.x[1] - x_true[1]) / x_true[1] < 0.01
    assert np.all(np.abs(est.bias) < [0.3, 0.3, 0.01])  # no mismatch: biases stay small


def test_analyser_readings_are_used_only_when_fresh():
    pb = _problem(dead_time=0.01, interval=0.015)
    model = pb.model
    ss = twin.find_steady_state(model)
    ekf = EKF(pb, ss.x, ss.u, np.zeros(0), model.p0())
    assert ekf.model.delay == [0, 0, 2] and ekf.model.n == 4 + 3 + 2
    sensors = Sensors([SensorSpec("C_b", 0.0, 0.015, 0.01)], ["C_b"], seed=0)
    fresh = [sensors.read(0.005 * k, {"C_b": ss.x[1]})["C_b"].fresh for k in range(9)]
    # sampled at 0, 0.015, 0.03: each value arrives 0.01 h later
    assert fresh == [False, False, True, False, False, True, False, False, True]
    used = ekf.correct({"C_b": Reading(0.5, Quality.GOOD, fresh=False),
                        "T_R": Reading(ss.x[2]), "T_K": Reading(ss.x[3], Quality.UNCERTAIN)}).used
    assert used == {"T_R": True, "T_K": False, "C_b": False}


def test_analyser_reports_nothing_before_its_first_value():
    model = twin.load_model("cstr")
    sensors = Sensors([SensorSpec("C_b", 0.0, 0.005, 0.01)], ["C_b"])
    truth = {"C_b": model.x0()[1]}
    first = sensors.read(0.0, truth)["C_b"]
    assert first.quality is Quality.BAD and not first.fresh
    assert sensors.read(0.01, truth)["C_b"].value == model.x0()[1]
