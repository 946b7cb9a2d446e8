"""Estimator numbers checked against hand computation on linear models.

- an analyser 3 intervals late: the augmented model's predicted readings are
  the level of 3 intervals before, summed by hand from the filling rates;
- ``accept_uncertain``: an UNCERTAIN reading moves the estimate by the
  scalar Kalman gain ``P / (P + R)``, or not at all;
- a sensor with a constant bias ``b``: the bias state converges to ``b``;
- on a linear model the moving-horizon estimator with the EKF's arrival
  cost is the Kalman filter (a known identity), so both give one estimate.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.estimation import EKF, MHE
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from linear_models import INTEGRATOR, LAGS, TAU
from twin.core.quality import Quality, Reading
from twin.core.sensors import SensorSpec, Sensors

T = 0.5
"""Control interval of the integrator tests [min]."""
NONE = np.zeros(0)


def _integrator(measurements, **estimator):
    spec = spec_from_dict({
        "model": "integrator", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": "ekf", **estimator}, "measurements": measurements,
        "cv": [{"name": "x", "setpoint": 1.0}], "mv": [{"name": "u"}]})
    return ControlProblem(INTEGRATOR, spec)


def _levels(x0, rates):
    """Level after each interval [cm]: ``x_k+1 = x_k + T u_k`` (exact for an integrator)."""
    levels = [x0]
    for u in rates:
        levels.append(levels[-1] + T * u)
    return levels


RATES = [2.0, 0.0, -1.0, 4.0, 1.0, 0.0, 0.0]
"""Filling rates of the dead-time tests [cm/min]."""


def test_an_analyser_three_intervals_late_reads_the_level_of_three_intervals_before():
    # x: dead time 3 T; twice = 2 x: no dead time; plus = x + 10: dead time 2 T
    pb = _integrator([{"name": "x", "dead_time": 3 * T, "bias": False, "noise_std": 0.01},
                      {"name": "twice", "bias": False, "noise_std": 0.01},
                      {"name": "plus", "dead_time": 2 * T, "bias": False, "noise_std": 0.01}])
    ekf = EKF(pb, np.array([1.0]), np.array([0.0]), NONE, NONE)
    assert ekf.model.delay == [3, 0, 2]
    # by hand: levels 1, 2, 2, 1.5, 3.5, 4, 4, 4; before the first value the chains hold
    # the start level (the plant was at rest)
    expected_x = [1.0, 1.0, 1.0, 2.0, 2.0, 1.5, 3.5]
    expected_twice = [4.0, 4.0, 3.0, 7.0, 8.0, 8.0, 8.0]
    expected_plus = [11.0, 11.0, 12.0, 12.0, 11.5, 13.5, 14.0]
    predicted = []
    for u in RATES:
        ekf.predict(np.array([u]), NONE, NONE)
        predicted.append(np.array(ekf.model.h(ekf.xi, [u], NONE, NONE)).ravel())
    predicted = np.array(predicted)
    assert predicted[:, 0] == pytest.approx(expected_x, abs=1e-12)
    assert predicted[:, 1] == pytest.approx(expected_twice, abs=1e-12)
    assert predicted[:, 2] == pytest.approx(expected_plus, abs=1e-12)
    assert ekf.estimate().x[0] == pytest.approx(4.0, abs=1e-12)  # the current level


def test_the_estimate_tracks_the_current_level_from_an_analyser_three_intervals_late():
    # a ramp of 0.5 cm per interval seen only by an analyser 3 intervals late, the estimator
    # starting 1 cm low: the first value (taken at 0, arriving at 3 T) must correct the level
    # of 3 intervals before, and the estimate must add the 1.5 cm filled since
    pb = _integrator([{"name": "x", "dead_time": 3 * T, "bias": False, "noise_std": 0.01}],
                     initial_std=1.0)
    analyser = Sensors([SensorSpec("x", 0.0, 0.0, 3 * T)], ["x"])
    analyser.prime({"x": 1.0})
    ekf = EKF(pb, np.array([0.0]), np.array([1.0]), NONE, NONE)
    levels = _levels(1.0, [1.0] * 12)
    errors = []
    for k, level in enumerate(levels[:-1]):
        reading = analyser.read(k * T, {"x": level})
        assert reading["x"].value == pytest.approx(levels[max(k - 3, 0)], abs=1e-12)
        est = ekf.correct(reading)
        assert est.used == {"x": k >= 3}  # until 3 T only the primed (stale) value is there
        errors.append(est.x[0] - level)
        ekf.predict(np.array([1.0]), NONE, NONE)
    print("estimate minus level [cm]:", " ".join(f"{e:.4f}" for e in errors))
    assert errors[:3] == pytest.approx([-1.0] * 3, abs=1e-12)  # no value yet: the guess
    assert np.abs(errors[3:]).max() < 1e-3


@pytest.mark.parametrize("quality,accept,used", [
    (Quality.UNCERTAIN, True, True), (Quality.UNCERTAIN, False, False),
    (Quality.GOOD, False, True), (Quality.BAD, True, False)])
def test_accept_uncertain_decides_whether_an_uncertain_reading_moves_the_estimate(
        quality, accept, used):
    # prior level 1 cm with variance (0.1 * 1 cm)^2 = 0.01, reading noise 0.1 cm: R = 0.01,
    # so the gain is 0.01 / (0.01 + 0.01) = 0.5 and a reading of 2 cm moves the level to 1.5
    pb = _integrator([{"name": "x", "bias": False, "noise_std": 0.1, "accept_uncertain": accept}],
                     initial_std=0.1)
    ekf = EKF(pb, np.array([1.0]), np.array([0.0]), NONE, NONE)
    est = ekf.correct({"x": Reading(2.0, quality)})
    assert est.used == {"x": used}
    assert est.x[0] == pytest.approx(1.5 if used else 1.0, abs=1e-12)
    assert ekf.P[0, 0] == pytest.approx(0.005 if used else 0.01, rel=1e-12)
    assert est.innovation == ({"x": pytest.approx(1.0)} if used else {})


def _lags_problem(kind: str):
    spec = spec_from_dict({
        "model": "lags", "sample_time": 0.2, "prediction_horizon": 3,
        "estimator": {"kind": kind, "horizon": 10},
        "measurements": [{"name": "x1", "noise_std": 0.01}, {"name": "x3", "noise_std": 0.01}],
        "cv": [{"name": "x1", "setpoint": 1.0}], "mv": [{"name": "u1"}, {"name": "u2"}]})
    return ControlProblem(LAGS, spec)


def _run_lags(estimator, n: int, sensor_bias: float):
    """The lags plant (exact discretisation) read by noisy sensors, x1's with a bias."""
    dt = estimator.problem.spec.sample_time
    phi = np.exp(-dt / TAU)
    sensors = Sensors([SensorSpec("x1", 0.01, bias=sensor_bias), SensorSpec("x3", 0.01)],
                      LAGS.states.names, seed=4)
    rng = np.random.default_rng(1)
    x, w, p = LAGS.x0(), np.zeros(1), LAGS.p0()
    u = np.array([1.0, 0.0])
    out = []
    for k in range(n):
        est = estimator.correct(sensors.read(k * dt, LAGS.states.to_dict(x)))
        out.append((est.x.copy(), est.bias.copy(), x.copy()))
        if k % 10 == 0:
            u = np.array([1.0, 0.0]) + rng.uniform(-0.5, 0.5, 2)
        estimator.predict(u, w, p)
        x = phi * x + (1 - phi) * np.array([u[0] + u[1] + w[0], u[0] - u[1], u[0]])
    return out


@pytest.mark.parametrize("kind", [EKF, MHE])
def test_a_constant_sensor_bias_is_recovered(kind):
    b = 0.5
    pb = _lags_problem(kind.__name__.lower())
    estimator = kind(pb, LAGS.x0() * 1.1, np.array([1.0, 0.0]), np.zeros(1), LAGS.p0())
    out = _run_lags(estimator, 80, b)
    bias = np.array([o[1] for o in out])
    settled = bias[40:]  # after 8 time constants
    print(f"{kind.__name__}: bias of x1 {settled[:, 0].mean():.4f} (true {b}), "
          f"of x3 {settled[:, 1].mean():.4f} (true 0); largest error "
          f"{np.abs(settled - [b, 0.0]).max():.4f}")
    assert settled[:, 0].mean() == pytest.approx(b, abs=0.005)
    assert settled[:, 1].mean() == pytest.approx(0.0, abs=0.005)
    assert np.abs(settled - [b, 0.0]).max() < 0.03  # 3 sensor noise standard deviations
    x_error = np.array([o[0] - o[2] for o in out[40:]])
    assert np.abs(x_error).max() < 0.03  # the state is not dragged by the bias


def test_moving_horizon_estimate_equals_the_kalman_filter_on_a_linear_model():
    ekf = EKF(_lags_problem("ekf"), LAGS.x0() * 1.1, np.array([1.0, 0.0]), np.zeros(1),
              LAGS.p0())
    mhe = MHE(_lags_problem("mhe"), LAGS.x0() * 1.1, np.array([1.0, 0.0]), np.zeros(1),
              LAGS.p0())
    a = _run_lags(ekf, 30, 0.5)
    b = _run_lags(mhe, 30, 0.5)
    assert mhe.n_failures == 0
    for (xa, da, _), (xb, db, _) in zip(a[11:], b[11:]):  # once the window (10) is full
        assert xb == pytest.approx(xa, abs=1e-6)
        assert db == pytest.approx(da, abs=1e-6)
