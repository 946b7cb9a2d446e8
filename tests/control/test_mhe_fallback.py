"""The moving-horizon estimator falls back to its EKF when its solve fails.

Two real failures: the cycle's time budget passes before the solve answers
(the solve is abandoned), and IPOPT diverges on a gross-error reading
(a GOOD reading of 1e50 mol/L). Either way the estimate is the EKF's, the
failure is counted, and the controller says so.
"""

from __future__ import annotations

import numpy as np
import pytest

import twin
from apc.controller import Controller
from apc.estimation import EKF, MHE
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from twin.core.quality import Reading

HORIZON = 3
SPEC = {
    "model": "cstr", "sample_time": 0.005, "prediction_horizon": 5, "target_calculation": False,
    "estimator": {"kind": "mhe", "horizon": HORIZON},
    "measurements": [{"name": "T_R", "noise_std": 0.1}, {"name": "T_K", "noise_std": 0.1},
                     {"name": "C_b", "noise_std": 0.005}],
    "cv": [{"name": "C_b", "setpoint": 0.6}], "mv": [{"name": "F"}, {"name": "Q_dot"}]}
NONE = np.zeros(0)


@pytest.fixture(scope="module")
def plant():
    """The CSTR at its steady state, the readings there, and a wrong initial guess."""
    model = twin.load_model("cstr")
    ss = twin.find_steady_state(model)
    readings = {"T_R": Reading(ss.x[2]), "T_K": Reading(ss.x[3]), "C_b": Reading(ss.x[1])}
    return model, ss, readings, ss.x * np.array([1.2, 0.8, 1.0, 1.0])


def _ekf_estimates(model, ss, readings, guess, n):
    ekf = EKF(ControlProblem(model, spec_from_dict(SPEC)), guess, ss.u, NONE, model.p0())
    out = []
    for _ in range(n):
        out.append(ekf.correct(readings).x)
        ekf.predict(ss.u, NONE, model.p0())
    return np.array(out)


def test_a_timed_out_solve_gives_the_ekf_estimate(plant):
    model, ss, readings, guess = plant
    n = 7
    ekf = _ekf_estimates(model, ss, readings, guess, n)
    mhe = MHE(ControlProblem(model, spec_from_dict(SPEC)), guess, ss.u, NONE, model.p0())
    solved = []
    for _ in range(n):
        solved.append(mhe.correct(readings).x)
        mhe.predict(ss.u, NONE, model.p0())
    assert mhe.n_failures == 0
    # with its window full (from the 4th correction) the MHE differs from the EKF
    assert abs(solved[HORIZON][2] - ekf[HORIZON][2]) > 1e-3  # T_R [K]
    spec = spec_from_dict({**SPEC, "solver": {"time_budget": 1e-7}})
    controller = Controller(spec, model, x0=guess, u0=ss.u)
    try:
        for k in range(n):
            out = controller.step(0.005 * k, readings, ss.u)  # OFF: only the estimator runs
            estimate = np.array([out.x_estimate[v] for v in model.states.names])
            assert estimate == pytest.approx(ekf[k], rel=1e-12, abs=1e-12)
            failed = k >= HORIZON
            assert controller.estimator.n_failures == max(0, k - HORIZON + 1)
            assert any("estimator: MHE" in e for e in out.events) == failed, out.events
        print("last cycle's events:", out.events)
    finally:
        controller.close()


def test_a_diverging_solve_gives_the_ekf_estimate(plant):
    model, ss, readings, guess = plant
    mhe = MHE(ControlProblem(model, spec_from_dict(SPEC)), guess, ss.u, NONE, model.p0())
    for _ in range(HORIZON + 1):
        est = mhe.correct(readings)
        ekf_x = mhe.ekf.xi[:4].copy()
        mhe.predict(ss.u, NONE, model.p0())
    assert mhe.n_failures == 0 and mhe.solver.stats()["success"] and mhe.failure == ""
    assert abs(est.x[2] - ekf_x[2]) > 1e-3  # a solved estimate is the MHE's own [K]
    est = mhe.correct({**readings, "C_b": Reading(1e50)})
    status = mhe.solver.stats()["return_status"]
    print(f"IPOPT on a reading of 1e50 mol/L: {status}")
    assert not mhe.solver.stats()["success"]
    assert mhe.n_failures == 1 and mhe.failure == status
    assert np.array_equal(est.x, mhe.ekf.xi[:4]) and np.array_equal(est.bias, mhe.ekf.xi[4:7])
    assert np.array_equal(mhe.estimate().x, est.x)
