"""The estimated input offsets and parameters reach the NMPC backends and the target calculation.

An MV offset ``e`` means the model sees ``u + e``. Shifting the previous MV,
the MV target and the MV limits by ``-e`` and giving the offset ``e`` is
then the same problem in other coordinates: the planned moves must be the
ones without offset shifted by ``-e``, the predicted states identical. A
parameter estimate must change the prediction exactly as the same
parameter set in the model does.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.nmpc import Data, DoMpcNMPC, StructuredNMPC
from apc.problem import ControlProblem
from apc.spec_disturbance import DisturbanceSpec
from apc.sqp import SqpNMPC
from apc.targets import TargetCalculator
from loop_support import replace
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.registry import load_model

OFFSET = 2.6
"""Offset on the coolant temperature T_c [K] (what a 5 % low UA is worth at 350 K)."""


@pytest.fixture(scope="module")
def problem():
    spec = load_loop(example("cstr_exothermic_apc.toml")).controller
    spec = replace(spec, prediction_horizon=10)
    return ControlProblem(load_model("cstr_exothermic"), spec)


def _data(pb: ControlProblem, shift: float, p=None) -> Data:
    lo, hi = pb.mv_bounds()
    n_cv = pb.n_cv
    x0 = np.array([0.49, 351.0])
    w = np.array([100.0, 1.0, 350.0])  # q, C_Af, T_f
    return Data(x0=x0, u_prev=np.array([300.0]) - shift, w=w,
                p=pb.model.p0() if p is None else p, bias=np.zeros(pb.n_bias),
                cv_target=np.array([350.0]), u_target=np.array([297.4]) - shift,
                cv_weight=np.ones(n_cv), u_weight=np.array([0.01]), u_lo=lo - shift,
                u_hi=hi - shift, max_move=pb.max_moves(), soft_lo=np.full(n_cv, -np.inf),
                soft_hi=np.full(n_cv, np.inf), hard_lo=np.array([300.0]),
                hard_hi=np.array([400.0]), u_offset=np.array([shift]))


@pytest.mark.parametrize("backend", [StructuredNMPC, DoMpcNMPC, SqpNMPC])
def test_an_mv_offset_shifts_the_plan_and_leaves_the_prediction(problem, backend):
    nmpc = backend(problem)
    plain = nmpc.solve(_data(problem, 0.0))
    nmpc.reset()
    offset = nmpc.solve(_data(problem, OFFSET))
    assert plain.status.value == offset.status.value == "ok"
    assert np.max(np.abs(offset.u - (plain.u - OFFSET))) < 1e-5
    assert np.max(np.abs(offset.x - plain.x)) < 1e-5
    assert np.max(np.abs(plain.u[1:] - plain.u[0])) > 0.1  # the plan moves: a real test
    print(f"{backend.__name__}: first move {plain.u[0, 0]:.4f} K without offset, "
          f"{offset.u[0, 0]:.4f} K with +{OFFSET} K")


def test_an_estimated_parameter_predicts_as_the_model_with_that_parameter(problem):
    nmpc = StructuredNMPC(problem)
    p_low = problem.model.p0().copy()
    p_low[problem.model.parameters.index("UA")] = 47500.0
    nominal = nmpc.solve(_data(problem, 0.0))
    nmpc.reset()
    low = nmpc.solve(_data(problem, 0.0, p_low))
    # with less heat removal the plan cools harder: T_c lower by about 2.6 K at the end
    assert low.u[-1, 0] - nominal.u[-1, 0] == pytest.approx(-2.6, abs=0.3)
    lowered = replace(problem.spec, parameters={"UA": 47500.0})
    same = StructuredNMPC(ControlProblem(problem.model.with_parameters({"UA": 47500.0}), lowered))
    reference = same.solve(_data(same.problem, 0.0))
    assert np.max(np.abs(low.u - reference.u)) < 1e-6


def test_the_targets_see_the_offset_and_the_parameters(problem):
    targets = TargetCalculator(problem)
    lo, hi = problem.mv_bounds()
    n_cv = problem.n_cv
    w = np.array([100.0, 1.0, 350.0])

    def solve(shift, p):
        return targets.solve(np.array([0.5, 350.0]), np.array([300.0]) - shift, w, p,
                             np.zeros(0), np.ones(n_cv, bool), lo - shift, hi - shift,
                             np.full(n_cv, -np.inf), np.full(n_cv, np.inf), np.array([300.0]),
                             np.array([400.0]), np.array([350.0]), np.array([shift]))

    p0 = problem.model.p0()
    plain, shifted = solve(0.0, p0), solve(OFFSET, p0)
    assert plain.ok and shifted.ok
    assert shifted.u[0] == pytest.approx(plain.u[0] - OFFSET, abs=1e-6)
    assert shifted.x == pytest.approx(plain.x, abs=1e-6)
    p_low = p0.copy()
    p_low[problem.model.parameters.index("UA")] = 47500.0
    low = solve(0.0, p_low)
    # UA (T_c - T) held: 0.95 (T_c' - 350) = 300 - 350 -> T_c' = 297.37 K
    assert plain.u[0] == pytest.approx(300.0, abs=0.02)
    assert low.u[0] == pytest.approx(350.0 - 50.0 / 0.95, abs=0.02)


def test_the_estimators_model_adds_the_disturbance_states_where_they_act(problem):
    from apc.estimation import EKF

    spec = replace(problem.spec, disturbances=(
        DisturbanceSpec("input", "T_c", 0.1), DisturbanceSpec("input", "T_f", 0.1),
        DisturbanceSpec("parameter", "UA", 100.0)))
    pb = ControlProblem(problem.model, spec)
    u, w, p = np.array([300.0]), np.array([100.0, 1.0, 350.0]), pb.model.p0()
    ekf = EKF(pb, np.array([0.49, 351.0]), u, w, p)
    am = ekf.model
    assert (am.n_x, am.n_d, am.n_e, am.n) == (2, 0, 3, 5)
    xi = np.array([0.49, 351.0, 1.5, -2.0, -2500.0])
    p_low = p.copy()
    p_low[pb.model.parameters.index("UA")] -= 2500.0
    moved = np.array(am.F(xi, u, w, p)).ravel()
    direct = np.array(am.F(np.r_[xi[:2], 0.0, 0.0, 0.0], u + 1.5, w + [0.0, 0.0, -2.0],
                           p_low)).ravel()
    assert np.max(np.abs(moved[:2] - direct[:2])) < 1e-12
    assert list(moved[2:]) == [1.5, -2.0, -2500.0]  # random walks: unchanged by the prediction
    ekf.xi = xi
    estimate = ekf.estimate()
    assert list(estimate.u_offset) == [0.0, 1.5, 0.0, -2.0]  # model inputs q, T_c, C_Af, T_f
    assert estimate.p[pb.model.parameters.index("UA")] == 47500.0
    assert estimate.disturbance == {"T_c": 1.5, "T_f": -2.0, "UA": 47500.0}
