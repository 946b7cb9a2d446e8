"""SQP and RTI backends against fatrop on do-mpc's CSTR: the same plans in closed loop.

The converged SQP solves the same optimal-control problem as fatrop (one is
multiple shooting with the collocation condensed per interval, the other the
lifted collocation), so their plans agree to solver tolerance. Differences
are measured per MV in units of its ``scale`` (the move of ``Q_dot`` is
weighted so lightly that near 0 only an absolute measure means anything).
"""

from __future__ import annotations

import dataclasses

import casadi as ca
import numpy as np
import pytest

import twin
from apc.controller import Controller, Mode
from apc.nmpc import StructuredNMPC
from apc.problem import ControlProblem
from apc.spec import load_spec, spec_from_dict
from apc.sqp import SqpNMPC
from loop_support import DOMPC_SPEC
from twin.core.simulator import Simulator
from twin_benchmarks.dompc_example import X0

STEPS = 20


def _dompc(backend: str, tol: float):
    spec = load_spec(DOMPC_SPEC)
    solver = dataclasses.replace(spec.solver, backend=backend, tol=tol)
    return dataclasses.replace(spec, solver=solver, robust=None)


def _limited(backend: str, tol: float):
    """Rate limits and a soft limit on T_R (below its start) that bind during the run."""
    return spec_from_dict({
        "model": "cstr", "sample_time": 0.005, "prediction_horizon": 12,
        "scaling": {"T_R": 100.0, "T_K": 100.0}, "estimator": {"kind": "state_feedback"},
        "solver": {"backend": backend, "tol": tol},
        "cv": [{"name": "C_b", "setpoint": 0.9},
               {"name": "T_R", "weight": 0.0, "high": 134.0, "penalty": 10.0,
                "hard_low": 50.0}],
        "mv": [{"name": "F", "low": 5.0, "high": 100.0, "max_move": 3.0, "move_weight": 0.1,
                "scale": 100.0},
               {"name": "Q_dot", "low": -8500.0, "high": 0.0, "max_move": 400.0,
                "move_weight": 1e-3, "scale": 2000.0}]})


def _closed_loop(spec, steps: int = STEPS, reference: bool = False, compare=None):
    mv0 = np.zeros(2) if spec.mv[0].max_move is None else np.array([14.19, -1113.5])
    """Plans, plant states and (with ``reference``) a converged SQP plan of every cycle's data."""
    model = twin.load_model("cstr")
    controller = Controller(spec, model, x0=X0, u0=np.zeros(model.n_u))
    plans, refs = [], []
    solve = controller.nmpc.solve
    converged = SqpNMPC(controller.problem, "sqp") if reference else None

    def both(data):
        if converged is not None:
            refs.append(converged.solve(data))
        plan = solve(data)
        if compare is not None:
            compare(plan, data)
        return plan
    controller.nmpc.solve = both
    controller.set_mode(Mode.ON, mv0)
    plant = Simulator(model, spec.sample_time, x0=X0, rtol=1e-10, atol=1e-10)
    states = []
    for k in range(steps):
        out = controller.step(k * spec.sample_time, {}, controller.u_now, x_plant=plant.x)
        assert out.solve_status == "ok", (out.solver_message, out.events)
        plans.append(controller._plan)
        states.append(plant.step(np.array([out.mv["F"], out.mv["Q_dot"]])))
    return plans, np.array(states), refs, controller


def _scaled_difference(a, b, spec) -> float:
    scale = np.array([m.scale for m in spec.mv])
    return max(float(np.max(np.abs(p.u - q.u) / scale)) for p, q in zip(a, b))


def test_converged_sqp_plans_equal_fatrop_plans_in_closed_loop():
    fatrop, x_fatrop, _, _ = _closed_loop(_dompc("fatrop", 1e-13))
    sqp, x_sqp, _, controller = _closed_loop(_dompc("sqp", 1e-14))
    diff = _scaled_difference(sqp, fatrop, controller.spec)
    state_diff = float(np.max(np.abs(x_sqp - x_fatrop) / np.abs(x_fatrop)))
    print(f"largest plan difference {diff:.2e} (MV scale), state difference {state_diff:.2e}")
    assert diff <= 1e-6
    assert state_diff <= 1e-6
    assert all(p.iterations <= 6 for p in sqp[1:])  # warm-started: a few SQP iterations


def test_with_binding_rate_and_soft_limits_sqp_solves_the_same_problem():
    """Each cycle's data solved by SQP, by IPOPT on the lifted transcription at 1e-14 without its
    relaxation of the limits, and by fatrop at 1e-12 (it stops at a tiny step when asked for
    more on this problem). The interior-point solvers relax limits by about 1e-8 of their
    size: on the soft limit of 134 degC with its penalty 10 that moves fatrop's plan."""
    spec = _limited("sqp", 1e-14)
    pb = ControlProblem(twin.load_model("cstr"), spec)
    ipopt = StructuredNMPC(ControlProblem(pb.model, _limited("fatrop", 1e-14)), "ipopt")
    ipopt._cold = ipopt._warm = ca.nlpsol("exact_ipopt", "ipopt", ipopt.ocp.nlp, {
        "ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False, "ipopt.tol": 1e-14,
        "ipopt.bound_relax_factor": 0.0, "ipopt.constr_viol_tol": 1e-12})
    others = {"ipopt": ipopt,
              "fatrop": StructuredNMPC(ControlProblem(pb.model, _limited("fatrop", 1e-12)))}
    diffs = {name: [] for name in others}

    def compare(plan, data):
        for name, nmpc in others.items():
            other = nmpc.solve(data)
            diffs[name].append(float(np.max(np.abs(other.u - plan.u) / pb.u_scale)))
    sqp, _, _, _ = _closed_loop(spec, compare=compare)
    print({name: f"{max(d):.2e}" for name, d in diffs.items()}, "(largest, MV scale)")
    assert max(diffs["ipopt"]) <= 5e-6  # hpipm's accuracy on the flat Q_dot direction
    assert max(diffs["fatrop"]) <= 2e-4  # its relaxed limits
    moves = np.abs(np.diff(np.array([p.u[0] for p in sqp]), axis=0))
    assert np.max(moves[:, 0]) == pytest.approx(3.0, abs=1e-6)  # the rate limit binds
    assert max(p.slack[1, 1] for p in sqp) > 0.1  # and the soft limit is violated


def test_rti_follows_the_converged_solution():
    rti, _, refs, controller = _closed_loop(_dompc("rti", 1e-10), reference=True)
    scale = controller.problem.u_scale
    deviation = max(float(np.max(np.abs(p.u[0] - r.u[0]) / scale)) for p, r in zip(rti, refs))
    print(f"largest deviation of the RTI move from the converged move: {deviation:.2e} (MV scale)")
    assert [p.message for p in rti[1:]] == ["real-time iteration"] * (STEPS - 1)
    assert deviation <= 1e-4
