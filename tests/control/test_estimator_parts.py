"""The parts of the estimators, each checked against numbers worked out by hand.

The model is ``BENT`` (:mod:`linear_models`): one lag ``dx/dt = u - x``
read as ``x`` (2 intervals late, with a bias), ``r = x^2 - 4 x`` (with a
bias, noise-free: its noise scale comes from its nominal value -3),
``d = x - u`` (1 interval late, nominal value 0) and ``y = x + u``
(a noise far below the floor of the covariance). Over one interval of
``T = 0.5`` RK4 with 10 substeps of ``h = 0.05`` turns the lag into
``x+ = phi x + (1 - phi) u`` with ``phi = (1 - h + h^2/2 - h^3/6 + h^4/24)^10``
(RK4 on a linear equation is the Taylor polynomial of ``exp(-h)``).

Augmented state: ``[x, bias of x, bias of r, x 1 and 2 intervals ago,
d 1 interval ago]``.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.bounded import BoundedSolves
from apc.estimation import EKF, MHE, Estimate, StateFeedback, make_estimator, usable
from apc.problem import ControlProblem
from apc.spec import MeasurementSpec, spec_from_dict
from linear_models import BENT, INTEGRATOR
from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.quality import Quality, Reading
from twin.core.variables import disturbance, manipulated, output, parameter, state

T = 0.5
H = T / 10
PHI = (1 - H + H ** 2 / 2 - H ** 3 / 6 + H ** 4 / 24) ** 10
NONE = np.zeros(0)
MEASUREMENTS = [{"name": "x", "noise_std": 0.1, "dead_time": 2 * T},
                {"name": "r"},
                {"name": "d", "dead_time": T, "bias": False},
                {"name": "y", "noise_std": 1e-12, "bias": False}]


def _problem(kind="ekf", measurements=MEASUREMENTS, **estimator):
    spec = spec_from_dict({
        "model": "bent", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": kind, "process_noise": 0.01, "bias_noise": 0.5,
                      "initial_std": 0.2, **estimator},
        "measurements": measurements, "cv": [{"name": "y", "setpoint": 2.0}],
        "mv": [{"name": "u"}]})
    return ControlProblem(BENT, spec)


def test_the_augmented_model_has_the_noise_scales_of_its_specification():
    am = EKF(_problem(), np.array([1.0]), np.array([1.0]), NONE, NONE).model
    assert am.delay == [2, 0, 1, 0] and am.n == 6 and (am.n_x, am.n_d, am.n_z) == (1, 2, 3)
    # signal scales: x 0.1 (its noise), r 1e-3 * |-3|, d 1e-3 * 1e-3 (nominal 0), y 1e-12;
    # bias scales those of x and r; delay states those of x, x, d
    assert np.diag(am.Q) == pytest.approx(
        [0.01 ** 2, (0.5 * 0.1) ** 2, (0.5 * 3e-3) ** 2, 1e-14, 1e-14, 1e-24], rel=1e-12, abs=0)
    # R floors the noise-free y at 1e-9
    assert np.diag(am.R) == pytest.approx([0.01, 9e-6, 1e-12, 1e-18], rel=1e-12, abs=0)
    assert np.diag(am.P0) == pytest.approx(
        [0.2 ** 2, 0.3 ** 2, 9e-3 ** 2, (0.2 * 10 * 0.1) ** 2, (0.2 * 10 * 0.1) ** 2,
         (0.2 * 10 * 1e-6) ** 2], rel=1e-12, abs=0)
    for matrix in (am.Q, am.R, am.P0):
        assert np.count_nonzero(matrix - np.diag(np.diag(matrix))) == 0


def _tank_rhs(x, u, p, ops):
    """A level filled at ``u`` and draining, and a decaying state [-/min]."""
    return {"h": u.u - x.h, "v": -x.v}


def _tank_outputs(x, u, p, ops):
    """An exponential read-out of the level, with an offset [-]."""
    return {"e": ops.exp(x.h / p.scale) + u.f}


TANK = Model(
    name="tank", title="A level up to 5 and a state of unknown size", source="test model",
    time_unit="min",
    states=[state("h", "m", "level", 4.0, 0.0, 5.0), state("v", "-", "no nominal", float("nan"))],
    inputs=[manipulated("u", "m/min", "inflow", 4.0), disturbance("f", "-", "offset", 0.5)],
    parameters=[parameter("scale", "m", "level scale", 4.0)],
    outputs=[output("e", "-", "exp(h / scale) + f")], rhs=_tank_rhs, output_map=_tank_outputs)
"""Nominal magnitudes 4 (h), 1 (v: none known) and e + 0.5 (the read-out at h = 4)."""
W, P = np.array([0.5]), np.array([4.0])


def _tank(kind="ekf", measurements=None, **estimator):
    return ControlProblem(TANK, spec_from_dict({
        "model": "tank", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": kind, "process_noise": 0.01, "bias_noise": 0.5,
                      "initial_std": 0.2, **estimator},
        "measurements": measurements or [{"name": "h", "bias": False},
                                         {"name": "v", "bias": False}, {"name": "e"}],
        "cv": [{"name": "h", "setpoint": 4.0}], "mv": [{"name": "u"}], "dv": [{"name": "f"}]}))


def test_noise_scales_follow_the_nominal_magnitudes():
    ekf = EKF(_tank(), np.array([4.0, 1.0]), np.array([4.0]), W, P)
    am = ekf.model
    e = np.exp(1.0) + 0.5
    assert np.diag(am.Q) == pytest.approx([(0.01 * 4) ** 2, 0.01 ** 2, (0.5 * e * 1e-3) ** 2],
                                          rel=1e-12, abs=0)
    assert np.diag(am.R) == pytest.approx([16e-6, 1e-6, (e * 1e-3) ** 2], rel=1e-12, abs=0)
    assert np.diag(am.P0) == pytest.approx([(0.2 * 4) ** 2, 0.2 ** 2, (3 * e * 1e-3) ** 2],
                                           rel=1e-12, abs=0)
    mhe = MHE(_tank("mhe"), np.array([4.0, 1.0]), np.array([4.0]), W, P)
    assert mhe.s == pytest.approx([4.0, 1.0, 10 * 3 * e * 1e-3], rel=1e-12, abs=0)
    # a reading before any prediction is compared with the read-out at the inputs given
    est = ekf.correct({"e": Reading(3.0)})
    assert est.innovation == {"e": pytest.approx(3.0 - e, rel=1e-12)}


def test_a_bias_scale_too_small_for_a_float_gets_a_unit_scale_in_the_mhe():
    # a noise of 1e-200: the bias's initial variance (3e-200)^2 is 0 in floating point
    mhe = MHE(_tank("mhe", [{"name": "h", "noise_std": 1e-200}]), np.array([4.0, 1.0]),
              np.array([4.0]), W, P)
    assert mhe.model.P0[2, 2] == 0.0
    assert mhe.s == pytest.approx([4.0, 1.0, 10.0], rel=1e-12, abs=0)


def test_the_moving_horizon_estimate_keeps_the_state_bounds():
    # readings of 7 m for a level that cannot exceed 5 m: the MHE keeps h <= 5 (the EKF cannot)
    mhe = MHE(_tank("mhe", [{"name": "h", "noise_std": 0.1, "bias": False}], horizon=2,
                    process_noise=0.5), np.array([4.0, 1.0]), np.array([4.0]), W, P)
    for _ in range(5):
        est = mhe.correct({"h": Reading(7.0)})
        mhe.predict(np.array([4.0]), W, P)
    assert mhe.n_failures == 0
    assert mhe.ekf.xi[0] > 5.5
    assert 4.9 < est.x[0] <= 5.0 + 1e-6


def test_the_augmented_model_starts_with_the_delay_chains_at_the_current_signals():
    ekf = EKF(_problem(), np.array([2.0]), np.array([0.5]), NONE, NONE)
    assert list(ekf.xi) == [2.0, 0.0, 0.0, 2.0, 2.0, 1.5]  # d = 2 - 0.5
    assert ekf.P == pytest.approx(ekf.model.P0, rel=0)
    est = ekf.estimate()
    assert list(est.x) == [2.0] and list(est.bias) == [0.0, 0.0]
    assert est.used == {} and est.innovation == {}


def _hand_A():
    """Jacobian of the augmented transition (constant: the lag and the chains are linear)."""
    return np.array([[PHI, 0, 0, 0, 0, 0],
                     [0, 1, 0, 0, 0, 0],
                     [0, 0, 1, 0, 0, 0],
                     [1, 0, 0, 0, 0, 0],    # x 1 interval ago: x now
                     [0, 0, 0, 1, 0, 0],    # x 2 intervals ago: x 1 interval ago
                     [1, 0, 0, 0, 0, 0]])   # d 1 interval ago: x now - u


def _hand_H(x):
    """Jacobian of the readings ``x`` (late, + bias), ``r`` (+ bias), ``d`` (late), ``y``."""
    return np.array([[0, 1, 0, 0, 1, 0],
                     [2 * x - 4, 0, 1, 0, 0, 0],
                     [0, 0, 0, 0, 0, 1],
                     [1, 0, 0, 0, 0, 0]], dtype=float)


def test_the_augmented_model_moves_the_lag_and_shifts_the_delay_chains():
    am = EKF(_problem(), np.array([1.0]), np.array([1.0]), NONE, NONE).model
    xi = np.array([2.0, 0.1, -0.2, 3.0, 4.0, 5.0])
    u = np.array([0.5])
    nxt = np.array(am.F(xi, u, NONE, NONE)).ravel()
    assert nxt == pytest.approx([PHI * 2.0 + (1 - PHI) * 0.5, 0.1, -0.2, 2.0, 3.0, 1.5],
                                rel=1e-14, abs=1e-15)
    assert np.array(am.A(xi, u, NONE, NONE)) == pytest.approx(_hand_A(), rel=1e-14, abs=0)
    # readings: x 2 intervals ago + bias, r(2) + bias, d 1 interval ago, y = 2 + 0.5
    assert np.array(am.h(xi, u, NONE, NONE)).ravel() == pytest.approx(
        [4.0 + 0.1, -4.0 - 0.2, 5.0, 2.5], rel=1e-15)
    assert np.array(am.H(xi, u, NONE, NONE)) == pytest.approx(_hand_H(2.0), abs=0)


def test_the_ekf_time_update_propagates_the_covariance():
    ekf = EKF(_problem(), np.array([2.0]), np.array([0.5]), NONE, NONE)
    P0 = ekf.P.copy()
    ekf.predict(np.array([1.0]), NONE, NONE)
    assert ekf.xi == pytest.approx([PHI * 2 + (1 - PHI) * 1.0, 0, 0, 2.0, 2.0, 1.0], rel=1e-14)
    assert list(ekf.u) == [1.0]
    A = _hand_A()
    assert ekf.P == pytest.approx(A @ P0 @ A.T + ekf.model.Q, rel=1e-12, abs=1e-30)


def test_the_ekf_measurement_update_uses_only_the_usable_readings():
    ekf = EKF(_problem(), np.array([2.0]), np.array([0.5]), NONE, NONE)
    ekf.predict(np.array([1.0]), NONE, NONE)
    xi, P = ekf.xi.copy(), ekf.P.copy()
    readings = {"x": Reading(2.3), "r": Reading(-3.5, Quality.UNCERTAIN),  # not accepted
                "d": Reading(1.0, fresh=False), "y": Reading(3.1)}
    est = ekf.correct(readings)
    assert est.used == {"x": True, "r": False, "d": False, "y": True}
    # textbook Kalman update with the rows of x and y
    Hu = _hand_H(xi[0])[[0, 3]]
    R = np.diag([0.01, 1e-18])
    e = np.array([2.3 - (xi[4] + xi[1]), 3.1 - (xi[0] + 1.0)])
    K = P @ Hu.T @ np.linalg.inv(Hu @ P @ Hu.T + R)
    assert ekf.xi == pytest.approx(xi + K @ e, rel=1e-9, abs=1e-12)
    assert ekf.P == pytest.approx((np.eye(6) - K @ Hu) @ P, rel=1e-6, abs=1e-12)
    assert est.innovation == {"x": pytest.approx(e[0], rel=1e-12),
                              "y": pytest.approx(e[1], rel=1e-12)}
    assert list(est.x) == [ekf.xi[0]] and list(est.bias) == list(ekf.xi[1:3])
    # y is read almost without noise: the estimate meets it
    assert est.x[0] + 1.0 == pytest.approx(3.1, abs=1e-9)


def test_without_usable_readings_the_ekf_keeps_its_estimate():
    ekf = EKF(_problem(), np.array([2.0]), np.array([0.5]), NONE, NONE)
    xi, P = ekf.xi.copy(), ekf.P.copy()
    est = ekf.correct({"x": Reading(9.0, Quality.BAD), "y": Reading(np.nan)})
    assert est.used == {"x": False, "r": False, "d": False, "y": False}
    assert est.innovation == {}
    assert list(ekf.xi) == list(xi) and np.array_equal(ekf.P, P)


@pytest.mark.parametrize("reading,used", [
    (None, False), (Reading(1.0), True), (Reading(1.0, fresh=False), False),
    (Reading(np.nan), False), (Reading(np.inf), False), (Reading(1.0, Quality.BAD), False)])
def test_a_reading_is_usable_when_there_is_a_fresh_finite_good_value(reading, used):
    assert usable(MeasurementSpec("x", accept_uncertain=True), reading) is used


def test_the_moving_horizon_estimator_keeps_its_window():
    measurements = [MEASUREMENTS[0], {"name": "y", "noise_std": 0.05, "bias": False}]
    mhe = MHE(_problem("mhe", measurements, horizon=2), np.array([2.0]), np.array([0.5]), NONE,
              NONE)
    assert mhe.N == 2 and mhe.model.n == 4
    assert mhe.failure == "" and list(mhe.estimate().x) == [2.0]
    assert mhe.s == pytest.approx([1.0, 3.0, 2.0, 2.0], rel=1e-12)  # nominal x; 10 sqrt(P0)
    for k, u in enumerate([1.0, 2.0, 3.0, 4.0]):
        est = mhe.correct({"x": Reading(2.0), "y": Reading(2.0 + u)})
        assert len(mhe.history) == min(k + 1, 3) and len(mhe.priors) == min(k + 1, 3)
        if k < 2:  # the window is not full: the EKF's estimate
            assert list(mhe.estimate().x) == list(est.x) == list(mhe.ekf.xi[:1])
        assert mhe.failure == "" and mhe.n_failures == 0
        assert est.used == {"x": True, "y": True} and set(est.innovation) == {"x", "y"}
        mhe.predict(np.array([u]), NONE, NONE)
        # the MV in force at the window's first reading (0.5 at the start), then per interval
        assert [float(i[0][0]) for i in mhe.inputs] == [0.5, 1.0, 2.0, 3.0, 4.0][max(0, k - 1):k + 2]
    # the readings and masks of the window: the last three corrections
    assert [list(h[1]) for h in mhe.history] == [[1.0, 1.0]] * 3
    assert [h[0][1] for h in mhe.history] == [4.0, 5.0, 6.0]
    assert list(mhe.estimate().x) == list(mhe.xi[:1])


def test_state_feedback_reports_the_plant_state_without_biases():
    pb = ControlProblem(INTEGRATOR, spec_from_dict({
        "model": "integrator", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": "state_feedback"}, "cv": [{"name": "x", "setpoint": 1.0}],
        "mv": [{"name": "u"}]}))
    sf = make_estimator(pb, [1.0], [0.0], NONE, NONE)
    assert isinstance(sf, StateFeedback)
    assert list(sf.estimate().x) == [1.0]
    sf.set_state([4.0])
    est = sf.correct({"x": Reading(9.0)})
    assert isinstance(est, Estimate) and list(est.x) == [4.0] and est.bias.shape == (0,)
    assert est.used == {} and est.innovation == {}
    est.x[0] = 7.0  # a copy
    sf.predict([1.0], NONE, NONE)
    later = sf.estimate()
    assert list(later.x) == [4.0] and later.bias.shape == (0,)
    assert later.used == {} and later.innovation == {}


@pytest.mark.parametrize("kind,cls", [("ekf", EKF), ("mhe", MHE)])
def test_the_specification_chooses_the_estimator(kind, cls):
    estimator = make_estimator(_problem(kind), [2.0], [0.5], NONE, NONE)
    assert type(estimator) is cls
    assert list(estimator.estimate().x) == [2.0]


def test_a_one_state_model_without_bias_or_delay_keeps_one_state():
    # the level alone: the augmented state is the level, predicted over one interval and more
    pb = ControlProblem(INTEGRATOR, spec_from_dict({
        "model": "integrator", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": "ekf"}, "measurements": [{"name": "x", "bias": False}],
        "cv": [{"name": "x", "setpoint": 1.0}], "mv": [{"name": "u"}]}))
    ekf = EKF(pb, np.array([1.0]), np.array([0.0]), NONE, NONE)
    assert ekf.model.n == 1
    for u in [2.0, -1.0, 4.0]:
        ekf.predict(np.array([u]), NONE, NONE)
        assert ekf.xi.shape == (1,) and ekf.P.shape == (1, 1)
    assert list(ekf.estimate().x) == pytest.approx([1.0 + T * (2.0 - 1.0 + 4.0)], abs=1e-12)


def _run_bent(estimator, n):
    """BENT read by x (late, biased) and y (the MV reaches it), some readings unusable."""
    out = []
    x = 1.0
    for k in range(n):
        u = [0.5, 2.0, -1.0, 3.0][k % 4]
        readings = {"x": Reading(x + 0.3 + 0.01 * (-1) ** k), "y": Reading(x + u - 0.02 * k)}
        if k % 3 == 1:
            del readings["y"]  # no value at all
        if k % 4 == 2:
            readings["x"] = Reading(99.0, Quality.BAD)
        est = estimator.correct(readings)
        out.append((est, estimator.estimate()))
        estimator.predict(np.array([u]), NONE, NONE)
        x = PHI * x + (1 - PHI) * u
    return out


def test_moving_horizon_estimate_equals_the_kalman_filter_with_readings_missing(capfd):
    # a linear augmented model and the EKF's arrival cost: the MHE is the Kalman filter,
    # whichever readings were usable and however the MV moves (y depends on it directly)
    measurements = [MEASUREMENTS[0], {"name": "y", "noise_std": 0.05, "bias": False}]
    ekf = EKF(_problem("ekf", measurements), np.array([1.2]), np.array([0.5]), NONE, NONE)
    mhe = MHE(_problem("mhe", measurements, horizon=2), np.array([1.2]), np.array([0.5]), NONE,
              NONE)
    a, b = _run_bent(ekf, 10), _run_bent(mhe, 10)
    assert mhe.n_failures == 0 and mhe.failure == ""
    for (ea, _), (eb, later) in zip(a[3:], b[3:]):
        assert eb.x == pytest.approx(ea.x, abs=1e-6) and eb.bias == pytest.approx(ea.bias, abs=1e-6)
        assert eb.used == ea.used and eb.innovation == ea.innovation
        assert list(later.x) == list(eb.x) and list(later.bias) == list(eb.bias)
        assert later.used == {} and later.innovation == {}
    assert capfd.readouterr() == ("", "")  # the solves print nothing


def test_a_window_of_one_interval_solves_from_the_second_correction():
    measurements = [{"name": "x", "noise_std": 0.1}]
    mhe = MHE(_problem("mhe", measurements, horizon=1), np.array([1.2]), np.array([0.5]), NONE,
              NONE)
    assert mhe.N == 1
    _run_bent(mhe, 4)
    assert len(mhe.history) == 2 and len(mhe.inputs) == 2 and mhe.n_failures == 0


def test_a_dead_solver_process_gives_the_ekf_estimate_and_says_why():
    measurements = [{"name": "x", "noise_std": 0.1}]
    mhe = MHE(_problem("mhe", measurements, horizon=1), np.array([1.2]), np.array([0.5]), NONE,
              NONE)
    mhe.runner = runner = BoundedSolves([mhe.solver], 30.0)
    try:
        _run_bent(mhe, 3)
        assert mhe.n_failures == 0 and mhe.failure == ""
        child = runner._children[0].process
        child.kill()
        child.wait(10.0)
        est = mhe.correct({"x": Reading(1.5)})
        assert mhe.failure == "the solver process died (killed by SIGKILL)"
        assert mhe.n_failures == 1
        assert list(est.x) == list(mhe.ekf.xi[:1]) and list(est.bias) == list(mhe.ekf.xi[1:2])
        mhe.predict(np.array([0.5]), NONE, NONE)
        runner.budget = 1e-7
        runner.begin_cycle()
        mhe.correct({"x": Reading(1.5)})
        assert mhe.failure == "time budget exceeded" and mhe.n_failures == 2
    finally:
        runner.close()


def _lag_problem(sample_time: float):
    spec = spec_from_dict({
        "model": "bent", "sample_time": sample_time, "prediction_horizon": 3,
        "measurements": [{"name": "y", "noise_std": 0.1, "bias": False}],
        "cv": [{"name": "y", "setpoint": 2.0}], "mv": [{"name": "u"}]})
    return ControlProblem(BENT, spec)


def test_a_sample_time_long_for_the_model_gets_enough_rk4_substeps_to_stay_stable():
    # the lag's eigenvalue is -1: over T = 30, 10 substeps of h = 3 would give
    # x+ = (1 - 3 + 9/2 - 27/6 + 81/24)^10 x = 1.375^10 x (unstable); |lambda| h <= 2 needs 15
    # substeps of h = 2: x+ = (1 - 2 + 2 - 8/6 + 16/24)^15 x = (1/3)^15 x
    ekf = EKF(_lag_problem(30.0), np.array([1.0]), np.array([1.0]), NONE, NONE)
    assert ekf.model.substeps == 15
    a = np.array(ekf.model.A(ekf.xi, np.array([1.0]), NONE, NONE))
    assert a[0, 0] == pytest.approx((1 / 3) ** 15, rel=1e-9)
    # a short sample time keeps the ten substeps the parts above are worked out with
    assert EKF(_lag_problem(T), np.array([1.0]), np.array([1.0]), NONE, NONE).model.substeps == 10


def test_a_model_too_stiff_for_its_sample_time_is_refused_in_one_line():
    with pytest.raises(InputError) as err:
        EKF(_lag_problem(1000.0), np.array([1.0]), np.array([1.0]), NONE, NONE)
    assert str(err.value) == (
        "estimator: the model's fastest mode (1 per time unit, at the first guess or the "
        "model's declared state) needs 500 RK4 substeps per "
        "sample_time of 1000 (at most 400); shorten sample_time or use estimator.kind = "
        "'state_feedback'")
