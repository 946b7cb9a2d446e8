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
    # augmented state: C_a, C_b, T_R, T_K | biases of T_R, T_K, C_b | C_b 1 and 2 intervals ago
    xi, P = ekf.xi.copy(), ekf.P.copy()
    est = ekf.correct({"C_b": Reading(0.5, Quality.GOOD, fresh=False),
                       "T_R": Reading(ss.x[2] + 0.5), "T_K": Reading(ss.x[3], Quality.UNCERTAIN)})
    assert est.used == {"T_R": True, "T_K": False, "C_b": False}
    # only T_R is used: one scalar Kalman update with the reading T_R + its bias
    assert ekf.xi == pytest.approx(_scalar_update(xi, P, [2, 4], 0.1, 0.5), rel=1e-12, abs=1e-12)
    assert est.innovation == {"T_R": pytest.approx(0.5, abs=1e-12)}
    assert est.x[1] == ss.x[1]  # the stale C_b of 0.5 did not pull the estimate
    # a fresh analyser value is matched with C_b of 2 intervals ago (the chain's end) + bias
    ekf.predict(ss.u, np.zeros(0), model.p0())
    xi, P = ekf.xi.copy(), ekf.P.copy()
    est = ekf.correct({"C_b": Reading(xi[8] + xi[6] + 0.01)})
    assert est.used == {"T_R": False, "T_K": False, "C_b": True}
    assert ekf.xi == pytest.approx(_scalar_update(xi, P, [8, 6], 0.005, 0.01), rel=1e-12,
                                   abs=1e-12)


def _scalar_update(xi, P, where, noise_std, innovation):
    """Kalman update for one reading of the sum of the augmented states at ``where``."""
    H = np.zeros(len(xi))
    H[where] = 1.0
    K = P @ H / (H @ P @ H + noise_std ** 2)
    return xi + K * innovation


def test_analyser_reports_nothing_before_its_first_value():
    model = twin.load_model("cstr")
    sensors = Sensors([SensorSpec("C_b", 0.0, 0.005, 0.01)], ["C_b"])
    truth = {"C_b": model.x0()[1]}
    first = sensors.read(0.0, truth)["C_b"]
    assert first.quality is Quality.BAD and not first.fresh
    assert sensors.read(0.01, truth)["C_b"].value == model.x0()[1]
