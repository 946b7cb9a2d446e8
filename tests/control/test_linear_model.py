"""The linear controller's model and feedback, with numbers that follow from the models.

- an identified model (a linear model file) linearised at its operating point
  and sampled at the file's own sample time gives back the file's matrices;
- ``LAGS`` (:mod:`linear_models`) has the steady-state gains ``x1 = u1 + u2 + w``,
  ``x2 = u1 - u2``, ``x3 = u1``; the ``INTEGRATOR`` (``dx/dt = u``) a rate gain of 1;
- DMC's prediction vector, shifted and updated with the moves, predicts what the
  state-space model predicts from its state;
- the Kalman filter uses only the readings :func:`apc.estimation.usable` accepts and
  removes a constant output offset (its bias state takes it).
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.linear.model import linearise
from apc.linear.predictors import KalmanPredictor, StepResponsePredictor
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from identified_support import linearised_model
from linear_models import INTEGRATOR, LAGS
from twin.core.errors import InputError
from twin.core.quality import Quality, Reading


def _lags_spec(**changes):
    table = {"model": "lags", "type": "linear", "sample_time": 0.2, "prediction_horizon": 8,
             "dv": [{"name": "w"}],
             "measurements": [{"name": "x1", "noise_std": 0.01}, {"name": "x2", "noise_std": 0.01},
                              {"name": "x3", "noise_std": 0.01}],
             "cv": [{"name": "x1", "setpoint": 2.0}, {"name": "x2"}, {"name": "x3"}],
             "mv": [{"name": "u1"}, {"name": "u2"}]}
    table.update(changes)
    return spec_from_dict(table)


def test_identified_model_sampled_at_its_own_interval_gives_back_its_matrices():
    ident = linearised_model()
    model = ident.to_model()
    spec = spec_from_dict({"model": "./quad_lin.toml", "sample_time": ident.dt,
                           "prediction_horizon": 5, "estimator": {"kind": "state_feedback"},
                           "cv": [{"name": "h1"}, {"name": "h2"}],
                           "mv": [{"name": "v1"}, {"name": "v2"}]})
    pb = ControlProblem(model, spec)
    lin = linearise(pb, np.zeros(ident.n_states), ident.u0, np.zeros(0))
    assert np.abs(lin.A - ident.A).max() < 1e-8
    assert np.abs(lin.Bu - ident.B).max() < 1e-8
    assert np.abs(lin.Ccv - ident.C).max() < 1e-8
    assert np.abs(lin.Dcv_u - ident.D).max() < 1e-8
    # deviation variables: at x = 0 and u = u0 the outputs are y0 and the state rests
    assert lin.cv_values(np.zeros(ident.n_states), ident.u0, np.zeros(0)) == \
        pytest.approx(ident.y0, abs=1e-9)
    assert np.abs(lin.next_state(np.zeros(ident.n_states), ident.u0, np.zeros(0))).max() < 1e-9


def test_steady_state_gains_of_the_lags_and_the_rate_gain_of_an_integrator():
    pb = ControlProblem(LAGS, _lags_spec())
    lin = linearise(pb, np.ones(3), np.array([1.0, 0.0]), np.zeros(1))
    g_u, g_w = lin.gains(np.zeros(3, bool), ["x1", "x2", "x3"])
    assert g_u == pytest.approx(np.array([[1, 1], [1, -1], [1, 0]]), abs=1e-12)
    assert g_w == pytest.approx(np.array([[1], [0], [0]]), abs=1e-12)
    spec = spec_from_dict({"model": "integrator", "type": "linear", "sample_time": 0.5,
                           "prediction_horizon": 4, "estimator": {"kind": "state_feedback"},
                           "cv": [{"name": "x", "ramp": True}, {"name": "twice", "ramp": True}],
                           "mv": [{"name": "u"}]})
    pi = ControlProblem(INTEGRATOR, spec)
    li = linearise(pi, np.ones(1), np.zeros(1), np.zeros(0))
    g_u, _ = li.gains(np.ones(2, bool), ["x", "twice"])
    assert g_u == pytest.approx(np.array([[1.0], [2.0]]), abs=1e-9)  # [cm/min per cm/min]
    with pytest.raises(InputError, match=r"^cv 'x' integrates .*mark it ramp = true$"):
        li.gains(np.zeros(2, bool), ["x", "twice"])


def test_dmc_prediction_vector_predicts_what_the_state_space_model_predicts():
    spec = _lags_spec(linear={"form": "step_response", "settling_intervals": 200})
    pb = ControlProblem(LAGS, spec)
    u, w = np.array([1.0, 0.0]), np.zeros(1)
    lin = linearise(pb, np.ones(3), u, w)
    dmc = StepResponsePredictor(pb, lin, np.ones(3), u, w, 200)
    rng = np.random.default_rng(3)
    x = np.ones(3)
    for _ in range(15):
        u = u + rng.normal(0, 0.3, 2)
        w = w + rng.normal(0, 0.2, 1)
        dmc.predict(u, w, None)
        x = lin.next_state(x, u, w)
    w_new = w + 0.5  # a measured disturbance change not yet in the prediction vector
    kalman = KalmanPredictor(pb, lin, x, u, w)
    expected = kalman.free_response(x, w_new, np.zeros(pb.n_bias))
    got = dmc.free_response(x, w_new, np.zeros(pb.n_bias))
    assert np.abs(got - expected).max() < 1e-9


def test_kalman_filter_uses_usable_readings_and_takes_a_constant_offset_into_its_bias():
    pb = ControlProblem(LAGS, _lags_spec())
    u, w = np.array([1.0, 0.0]), np.zeros(1)
    lin = linearise(pb, np.ones(3), u, w)
    kf = KalmanPredictor(pb, lin, np.ones(3), u, w)
    good = {n: Reading(v) for n, v in (("x1", 1.3), ("x2", 1.0), ("x3", 1.0))}
    est = kf.correct({**good, "x2": Reading(5.0, Quality.BAD)})
    assert est.used == {"x1": True, "x2": False, "x3": True}
    assert set(est.innovation) == {"x1", "x3"}
    for _ in range(300):  # x1 reads 0.3 high for ever: the bias takes it, the state stays
        kf.predict(u, w, None)
        est = kf.correct(good)
    assert est.bias[0] == pytest.approx(0.3, abs=1e-6)
    assert est.x == pytest.approx(np.ones(3), abs=1e-6)
