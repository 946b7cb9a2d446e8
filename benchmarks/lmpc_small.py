"""Figures of the linear MPC: ms per cycle on Column A, and the QP solvers on the same QPs.

``lmpc_column_a``: Skogestad's column A (LV, 82 states) linearised at its
nominal steady state, CVs ``x_D`` and ``x_B``, MVs ``L_T`` and ``V_B``, the
feed flow ``F`` a measured disturbance; Kalman filter with output biases.
The closed loop runs on the linear model itself (the figure is about the
controller's time): setpoint changes of both compositions, then a +20 %
feed-rate step. Timed: ``Controller.step`` (Kalman correction and
prediction, the condensed QP, the controller's semantics), without the
steady-state target calculation; the baseline ``with_targets`` is the full
cycle with the steady-state optimiser (setpoints met exactly: no LP).
Baseline in the same (full) run: the NMPC (fatrop) with the same
specification on the nonlinear column, its first cycle at the steady state
(its build takes 10-40 s and that cycle about 5 s; the following cycles
took minutes each on a loaded 2-core machine, so one is timed, and
``--quick`` leaves it out). The QPs of each cycle are recorded and solved
again by each QP solver of the casadi wheel, warm-started in sequence, for
three sizes: this column (control horizon 10), do-mpc's CSTR linearised
(20 free moves of 2 MVs) and the column with 150 free moves.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from apc.bounded import InProcess
from apc.controller import Controller, Mode
from apc.linear.qp import SOLVERS, CondensedQP
from apc.spec import load_spec, spec_from_dict
from twin.core.quality import Reading
from twin.core.simulator import Simulator
from twin.core.steady import find_steady_state
from twin.orchestration.registry import load_model
from twin_benchmarks import dompc_example
from twin_benchmarks.apc import SPEC as CSTR_SPEC
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

COLUMN = {
    "model": "distillation_a", "type": "linear", "sample_time": 2.0, "prediction_horizon": 40,
    "control_horizon": 10, "target_calculation": False, "dv": [{"name": "F"}],
    "measurements": [{"name": "x_D", "noise_std": 5e-5}, {"name": "x_B", "noise_std": 5e-5}],
    "cv": [{"name": "x_D", "setpoint": 0.99, "weight": 1e4, "hard_low": 0.95},
           {"name": "x_B", "setpoint": 0.01, "weight": 1e4, "hard_high": 0.05}],
    "mv": [{"name": "L_T", "low": 1.0, "high": 5.0, "max_move": 0.2, "move_weight": 1.0},
           {"name": "V_B", "low": 1.0, "high": 5.0, "max_move": 0.2, "move_weight": 1.0}],
}
"""Column A's linear controller (compositions weighted by their 1e-2 magnitude)."""


class _Recorder:
    """Wraps a LinearMPC's QP solve to keep each cycle's arguments."""

    def __init__(self, qp: CondensedQP):
        self.qp, self.calls = qp, []
        self._solve = qp.solve

    def __call__(self, f, *args):
        self.calls.append((f.copy(), *[np.array(a, copy=True) if isinstance(a, np.ndarray) else a
                                       for a in args[:-1]]))
        return self._solve(f, *args)


def _column_loop(table, steps: int, record: bool = False):
    """The linear controller on the linear column: step times [s], the controller and, with
    ``record``, each cycle's QP (recording adds to the step times: time unrecorded runs)."""
    model = load_model("distillation_a")
    spec = spec_from_dict(table)
    controller = Controller(spec, model)
    lin = controller.nmpc.lin
    recorder = _Recorder(controller.nmpc.qp)
    if record:
        controller.nmpc.qp.solve = recorder
    x, u = lin.x_op.copy(), lin.u_op.copy()
    w = lin.w_op.copy()
    controller.set_mode(Mode.ON, u)
    times = []
    clock = time.perf_counter
    for k in range(steps):
        if k == 3:
            controller.set_setpoint("x_D", 0.995)
            controller.set_setpoint("x_B", 0.005)
        if k == steps // 2:
            w[0] = 1.2  # +20 % feed
        y = lin.Cm @ x + lin.Dm_u @ u + lin.Dm_w @ w + lin.c_m
        readings = {"x_D": Reading(float(y[0])), "x_B": Reading(float(y[1]))}
        t0 = clock()
        out = controller.step(k * spec.sample_time, readings, u, dv={"F": float(w[0])})
        times.append(clock() - t0)
        u = np.array([out.mv["L_T"], out.mv["V_B"]])
        x = lin.next_state(x, u, w)
    return np.array(times), controller, recorder.calls


def _cstr_qps(steps: int):
    """do-mpc's CSTR under the linear controller on the twin: the recorded QPs."""
    spec = load_spec(CSTR_SPEC)
    spec = dataclasses.replace(spec, robust=None, type="linear",
                               solver=dataclasses.replace(spec.solver, backend="auto"))
    model = load_model("cstr")
    x0, u0 = dompc_example.X0, np.array([18.0, -4500.0])
    linear = dataclasses.replace(spec.linear, operating_point="initial")
    controller = Controller(dataclasses.replace(spec, linear=linear), model, x0=x0, u0=u0)
    recorder = _Recorder(controller.nmpc.qp)
    controller.nmpc.qp.solve = recorder
    controller.set_mode(Mode.ON, u0)
    plant = Simulator(model, spec.sample_time, x0=x0, rtol=1e-8, atol=1e-8)
    u = u0
    for k in range(steps):
        out = controller.step(k * spec.sample_time, {}, u, x_plant=plant.x)
        u = np.array([out.mv["F"], out.mv["Q_dot"]])
        plant.step(u)
    return controller, recorder.calls


def _solver_times(controller, calls) -> dict:
    """Each QP solver on the recorded QPs, warm-started in sequence: median and max [ms]
    and the largest move difference from daqp [MV scale]."""
    out, reference = {}, None
    pb = controller.problem
    G = controller.nmpc.qp.G
    for name in SOLVERS:
        qp = CondensedQP(pb, G, name)
        runner = InProcess()
        times, moves, ok = [], [], 0
        for args in calls:
            t0 = time.perf_counter()
            z, _, stats = qp.solve(*args, runner)
            times.append(time.perf_counter() - t0)
            ok += bool(stats["success"])
            moves.append(qp.moves(z)[0] / pb.u_scale)
        moves = np.array(moves)
        if reference is None:
            reference = moves
        out[name] = {"median_ms": float(np.median(times) * 1e3),
                     "max_ms": float(np.max(times) * 1e3), "solved": ok, "qps": len(calls),
                     "max_move_difference_vs_daqp": float(np.nanmax(np.abs(moves - reference)))}
    q = controller.nmpc.qp
    return {"variables": q.n_var, "constraints": q.n_con, "solvers": out,
            "auto_choice": q.solver_name}


@benchmark("lmpc_column_a", "ms per linear-MPC cycle on Column A (82 states, 2 x 2, Kalman "
           "filter, condensed QP) vs the NMPC on the same spec; QP solvers on the same QPs",
           quick_budget_s=8)
def lmpc_column_a(ctx: BenchContext) -> FigureResult:
    steps = 400  # 0.1 s of cycles: fewer are timed while the caches are cold from the build
    times, _, _ = _column_loop(COLUMN, steps)
    _, controller, calls = _column_loop(COLUMN, ctx.size(60, steps), record=True)
    baselines = {}
    if ctx.quick:  # building the NMPC of 82 states takes 10-40 s
        ctx.skipped["nmpc_fatrop"] = "full run only (the NMPC of 82 states takes 10-40 s to build)"
    else:
        nmpc_times = _nmpc_times({**COLUMN, "type": "nonlinear"}, 1)
        baselines["nmpc_fatrop"] = Samples(list(nmpc_times * 1e3), "ms/cycle")
    full_times, _, _ = _column_loop({**COLUMN, "target_calculation": True}, steps)
    baselines["with_targets"] = Samples(list(full_times * 1e3), "ms/cycle")
    result = FigureResult(Samples(list(times * 1e3), "ms/cycle"), baselines)
    qp_tables = {"column_a_N40_ch10": _solver_times(controller, calls)}
    cstr_controller, cstr_calls = _cstr_qps(ctx.size(20, 100))
    qp_tables["cstr_N20"] = _solver_times(cstr_controller, cstr_calls)
    big = {**COLUMN, "prediction_horizon": 150, "control_horizon": None}
    _, big_controller, big_calls = _column_loop(big, ctx.size(8, 40), record=True)
    qp_tables["column_a_N150"] = _solver_times(big_controller, big_calls)
    result.details.update(steps=steps, qp_solver=controller.nmpc.qp.solver_name,
                          qp_size={"variables": controller.nmpc.qp.n_var,
                                   "constraints": controller.nmpc.qp.n_con},
                          qp_solvers_on_the_same_qps=qp_tables,
                          what_is_timed="Controller.step without target calculation")
    median = result.value.median
    result.target("cycle", "median below 0.3 ms per cycle (QP + Python)", median, median < 0.3)
    full = baselines["with_targets"].median
    result.target("cycle_with_targets", "median below 0.3 ms per cycle with the steady-state "
                  "optimiser (targets + QP + Python)", full, full < 0.3)
    return result


def _nmpc_times(table, steps: int) -> np.ndarray:
    """The NMPC with the same spec, from the column's steady state: step times [s]."""
    model = load_model("distillation_a")
    ss = find_steady_state(model, model.u0())
    controller = Controller(spec_from_dict(table), model, x0=ss.x, u0=ss.u)
    u = ss.u[:2]
    controller.set_mode(Mode.ON, u)
    readings = {"x_D": Reading(float(ss.y[0])), "x_B": Reading(float(ss.y[1]))}
    times = []
    for k in range(steps):  # at rest
        t0 = time.perf_counter()
        out = controller.step(k * table["sample_time"], readings, u, dv={"F": 1.0})
        times.append(time.perf_counter() - t0)
        u = np.array([out.mv["L_T"], out.mv["V_B"]])
    return np.array(times)
