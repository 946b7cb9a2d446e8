"""The moving-horizon estimator's solves: where each starts, and what a failed one reports.

The model is ``INTEGRATOR`` (:mod:`linear_models`): a level ``x`` filled at
``u``, read as ``twice = 2 x`` (with a bias) and ``plus = x + 10``; over an
interval ``T`` the level moves by ``T u`` exactly. The MHE's solver is
called through its runner; the runners here call the real solver (and
record what it was given and gave back), except one that raises the
evaluation error a solver can raise, which cannot be produced on demand.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.bounded import InProcess
from apc.estimation import EKF, MHE, StateFeedback
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from linear_models import INTEGRATOR, LAGS
from test_estimator_parts import P, W, _tank
from twin.core.quality import Reading

T = 0.5
"""Control interval [min]."""
NONE = np.zeros(0)
RATES = [2.0, -1.0, 4.0, 0.5, 1.0, -2.0]
"""Filling rates, one per interval [cm/min]."""


def _mhe(horizon=2):
    spec = spec_from_dict({
        "model": "integrator", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": "mhe", "horizon": horizon, "process_noise": 0.05},
        "measurements": [{"name": "twice", "noise_std": 0.1},
                         {"name": "plus", "noise_std": 0.2, "bias": False}],
        "cv": [{"name": "x", "setpoint": 1.0}], "mv": [{"name": "u"}]})
    return MHE(ControlProblem(INTEGRATOR, spec), np.array([1.0]), np.array([0.0]), NONE, NONE)


def _run(mhe, n):
    """``n`` corrections of readings a little off the true level, each followed by a prediction."""
    x, out = 1.0, []
    for k in range(n):
        noise = 0.05 * (-1) ** k
        out.append(mhe.correct({"twice": Reading(2 * x + 0.3 + noise),
                                "plus": Reading(x + 10.0 - noise)}))
        u = RATES[k % len(RATES)]
        mhe.predict(np.array([u]), NONE, NONE)
        x += T * u
    return out


class Recording:
    """The real solver in this process, with what each solve was given and gave back."""

    def __init__(self):
        self.solves = []
        self.inner = InProcess()

    def __call__(self, fn, **args):
        result, stats = self.inner(fn, **args)
        self.solves.append((args, np.array(result["x"]).ravel(), stats))
        return result, stats


def test_each_solve_starts_from_the_last_solution_moved_one_interval():
    mhe = _mhe(horizon=3)  # (with 2 noise columns kept, their order shows)
    mhe.runner = rec = Recording()
    _run(mhe, 7)
    n, N = mhe.model.n, mhe.N
    assert (n, N) == (2, 3) and len(rec.solves) == 4 and mhe.n_failures == 0
    first_args = rec.solves[0][0]
    # the first solve starts with the EKF's estimate at every point of the window
    # and no process noise (in scaled variables: xi / s)
    Z0 = first_args["x0"][: n * (N + 1)].reshape(n, N + 1, order="F")
    assert np.all(first_args["x0"][n * (N + 1):] == 0.0)
    assert np.all(Z0 == Z0[:, :1]) and np.any(Z0 != 0.0)
    for (_, before, _), (args, _, _) in zip(rec.solves, rec.solves[1:]):
        traj = before[: n * (N + 1)].reshape(n, N + 1, order="F")
        noise = before[n * (N + 1):].reshape(n, N, order="F")
        Z = args["x0"][: n * (N + 1)].reshape(n, N + 1, order="F")
        E = args["x0"][n * (N + 1):].reshape(n, N, order="F")
        assert np.array_equal(Z[:, :N], traj[:, 1:]) and np.array_equal(Z[:, N], traj[:, N])
        assert np.array_equal(E[:, : N - 1], noise[:, 1:]) and np.all(E[:, N - 1] == 0.0)
        assert np.any(noise[:, 1:] != 0.0)  # (so that the shift shows)
        assert np.array_equal(args["lbx"], mhe.lbx) and np.array_equal(args["ubx"], mhe.ubx)
    # the estimate is the last state of the last solution, unscaled
    last = rec.solves[-1][1][: n * (N + 1)].reshape(n, N + 1, order="F")[:, -1] * mhe.s
    assert list(mhe.xi) == list(last)


class Raising:
    """A solver that stops with an evaluation error (what CasADi raises as RuntimeError)."""

    def __init__(self, message):
        self.message = message

    def __call__(self, fn, **args):
        raise RuntimeError(self.message)


@pytest.mark.parametrize("message,failure", [
    ("Error in Function::call for 'mhe'\n  at line 1\n" + "x" * 130, "x" * 120),
    ("first line\nlast line  \n\n", "last line"),
    ("", "RuntimeError"),
])
def test_an_evaluation_error_gives_the_ekf_estimate_and_its_last_line(message, failure):
    mhe = _mhe()
    _run(mhe, 3)
    assert mhe.n_failures == 0 and mhe.failure == ""
    mhe.runner = Raising(message)
    est = mhe.correct({"twice": Reading(2.5), "plus": Reading(11.0)})
    assert mhe.failure == failure and mhe.n_failures == 1
    assert list(est.x) == list(mhe.ekf.xi[:1]) and list(est.bias) == list(mhe.ekf.xi[1:2])
    # the next successful solve starts again from the EKF's estimate, and clears the failure
    mhe.runner = rec = Recording()
    mhe.predict(np.array([1.0]), NONE, NONE)
    mhe.correct({"twice": Reading(4.5), "plus": Reading(12.0)})
    assert mhe.failure == "" and mhe.n_failures == 1
    guess = rec.solves[0][0]["x0"]
    n, N = mhe.model.n, mhe.N
    Z = guess[: n * (N + 1)].reshape(n, N + 1, order="F")
    assert np.all(Z == (mhe.ekf.xi / mhe.s)[:, None]) and np.all(guess[n * (N + 1):] == 0.0)


def test_the_state_fed_back_is_a_float_array_whatever_numbers_it_is_given():
    pb = ControlProblem(INTEGRATOR, spec_from_dict({
        "model": "integrator", "sample_time": T, "prediction_horizon": 3,
        "estimator": {"kind": "state_feedback"}, "cv": [{"name": "x", "setpoint": 1.0}],
        "mv": [{"name": "u"}]}))
    sf = StateFeedback(pb, [1], [0], NONE, NONE)
    assert sf.estimate().x.dtype == np.float64
    sf.set_state([3])
    est = sf.estimate()
    assert est.x.dtype == np.float64
    est.x += 0.25  # a caller may move it by a fraction
    assert list(est.x) == [3.25] and list(sf.estimate().x) == [3.0]


def test_the_moving_horizon_estimate_keeps_the_lower_state_bounds():
    # readings of -2 m for a level that cannot go below 0: the MHE keeps h >= 0 (the EKF cannot)
    mhe = MHE(_tank("mhe", [{"name": "h", "noise_std": 0.1, "bias": False}], horizon=2,
                    process_noise=0.5), np.array([1.0, 1.0]), np.array([0.0]), W, P)
    for _ in range(5):
        est = mhe.correct({"h": Reading(-2.0)})
        mhe.predict(np.array([0.0]), W, P)
    assert mhe.n_failures == 0
    assert mhe.ekf.xi[0] < -0.5
    assert -1e-6 <= est.x[0] < 0.1



def test_moving_horizon_estimate_equals_the_kalman_filter_with_a_changing_disturbance():
    # LAGS (linear): x1 follows u1 + u2 + w; the measured disturbance w changes every interval,
    # so each interval of the window must be predicted with its own w
    def run(kind):
        spec = spec_from_dict({
            "model": "lags", "sample_time": 0.2, "prediction_horizon": 3,
            "estimator": {"kind": kind, "horizon": 3},
            "measurements": [{"name": "x1", "noise_std": 0.01}, {"name": "x3", "noise_std": 0.01}],
            "cv": [{"name": "x1", "setpoint": 1.0}], "mv": [{"name": "u1"}, {"name": "u2"}],
            "dv": [{"name": "w"}]})
        est = (EKF if kind == "ekf" else MHE)(ControlProblem(LAGS, spec), LAGS.x0() * 1.1,
                                              np.array([1.0, 0.0]), np.zeros(1), LAGS.p0())
        out = []
        for k in range(8):
            out.append(est.correct({"x1": Reading(1.0 + 0.1 * k), "x3": Reading(1.0)}).x)
            est.predict(np.array([1.0, 0.0]), np.array([[0.0, 2.0, -1.5, 0.5][k % 4]]), LAGS.p0())
        return np.array(out), est

    (a, _), (b, mhe) = run("ekf"), run("mhe")
    assert mhe.n_failures == 0
    assert b[4:] == pytest.approx(a[4:], abs=1e-6)
    assert np.abs(a[5:] - a[4:-1]).max() > 0.05  # (the estimates move)


def test_a_prior_variance_of_exactly_zero_still_gives_an_estimate():
    # a noise of 1e-200: the bias's variance is 0 in floating point, so the prior covariance of
    # the window is singular; it is inverted with 1e-14 added, not raised as an error
    mhe = MHE(_tank("mhe", [{"name": "h", "noise_std": 1e-200}], horizon=1),
              np.array([4.0, 1.0]), np.array([4.0]), W, P)
    for _ in range(3):
        est = mhe.correct({"h": Reading(4.1)})
        mhe.predict(np.array([4.0]), W, P)
    assert mhe.ekf.P[2, 2] == 0.0 and len(mhe.history) == 2
    assert np.all(np.isfinite(est.x)) and np.all(np.isfinite(est.bias))


def test_a_reading_the_disturbance_reaches_directly_is_predicted_with_the_one_given_first():
    # the read-out e = exp(h / 4) + f sees the DV f itself: the window's first reading is
    # predicted with the f given when the estimator was made
    mhe = MHE(_tank("mhe", [{"name": "e", "noise_std": 0.01}], horizon=1),
              np.array([4.0, 1.0]), np.array([4.0]), W, P)
    for _ in range(3):
        est = mhe.correct({"e": Reading(np.exp(1.0) + 0.5 + 0.02)})
        mhe.predict(np.array([4.0]), W, P)
    assert mhe.n_failures == 0 and mhe.failure == ""
    assert np.all(np.isfinite(est.x)) and np.all(np.isfinite(est.bias))
