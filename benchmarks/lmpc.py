"""Figure of the linear MPC at plant scale: lmpc_large, the 40 MV x 80 CV example.

Per control cycle a linear MPC of the DMC class solves the steady-state LPs
and the dynamic QP. The figure's value is the real controller's cycle,
``Controller.step`` on the shipped example (``pairs_40x80_controller.toml``)
in a closed loop (:func:`_controller_cycles`) [ms]. The baselines time the
CasADi conic solvers on one cycle's problems as plain matrices
(:mod:`twin_benchmarks.lmpc_qp`), and what comes before: loading the model
file, its step coefficients, the QP's matrices; "LP + DMC-form QP" is the
steady-state LP (HiGHS) plus the DMC-form QP by the fastest solver of the
run. Each timed baseline cycle solves the next of two cycles' problems
(the same matrices, another disturbance), warm-started from the previous
cycle's solution and multipliers; cold starts are in the details. Every
solver's objective and its largest difference from daqp's solution are in
the details, so all solve the same QP.
qpOASES (dense active set) and HPIPM (the condensed QP as one stage of
its OCP form) take seconds on the soft-range form: timed once, in the full
run only; the quick run times the soft-range form once per solver.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np

from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

QP_SOLVERS = {
    "daqp": {},
    "osqp": {"osqp": {"verbose": False, "eps_abs": 1e-7, "eps_rel": 1e-7, "max_iter": 200_000,
                      "polish": True}},
    "proxqp": {"proxqp": {"eps_abs": 1e-7}},
    "qpoases": {"printLevel": "none"},
    "hpipm": {"hpipm": {"iter_max": 200}},
}
"""The CasADi conic solvers compared, with the options that make them silent and accurate.
(CasADi's "highs" plugin is left out: it crashes a process that has loaded ``highspy``, which
the steady-state optimiser uses; see :mod:`apc.linear.ss_highs`.)"""

SLOW = {"soft_ranges": ("qpoases", "hpipm"), "targets": ("hpipm",)}
"""Solvers that take seconds on a form: timed once, in the full run only."""

FORMS = ("targets", "soft_ranges")
"""The QP forms of :func:`twin_benchmarks.lmpc_qp.cycle_problems`; the first one is the figure's."""


@contextlib.contextmanager
def _quiet_stdout():
    """Send what C code prints (qpOASES's banner) to /dev/null: the report is on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _conic(name: str, problem, opts: dict):
    """A CasADi conic solver of ``problem``'s sparsity and its inputs (as DM, converted once)."""
    import casadi as ca

    n = problem.A.shape[1]
    h = ca.sparsify(ca.DM(problem.H)) if problem.H.size else ca.DM(n, n)
    a = ca.sparsify(ca.DM(problem.A))
    if name == "hpipm":   # the condensed QP as the single stage of an OCP
        opts = {**opts, "N": 0, "nx": [n], "nu": [0], "ng": [problem.A.shape[0]]}
    solver = ca.conic(f"lmpc_{name}", name, {"h": h.sparsity(), "a": a.sparsity()},
                      {"error_on_fail": False, **opts})
    args = {"h": h, "g": ca.DM(problem.g), "a": a, "lba": ca.DM(problem.lba),
            "uba": ca.DM(problem.uba), "lbx": ca.DM(problem.lbx), "ubx": ca.DM(problem.ubx)}
    return solver, args


def _solve(name: str, problems: list, samples: int, ctx: BenchContext) -> dict:
    """Solve ``problems[0]`` once (the solution), then time ``samples`` cycles [ms].

    A cycle solves the next of ``problems`` (the same matrices, another
    cycle's vectors: the next disturbance), cold and warm-started from the
    previous cycle's solution and multipliers (``times``: warm, ``cold``).
    """
    import casadi as ca

    with _quiet_stdout():
        solver, first_args = _conic(name, problems[0], QP_SOLVERS[name])
        t0 = time.perf_counter()
        result = solver(**first_args)
        first = (time.perf_counter() - t0) * 1e3
    stats = solver.stats()
    found = {"x": np.array(result["x"]).ravel(), "cost": float(result["cost"]),
             "success": bool(stats.get("success")), "status": str(stats.get("return_status")),
             "times": [first], "cold": [first]}
    if samples <= 1:
        return found
    cycles = [dict(first_args, g=ca.DM(p.g), lba=ca.DM(p.lba), uba=ca.DM(p.uba),
                   lbx=ca.DM(p.lbx), ubx=ca.DM(p.ubx)) for p in problems]
    state = {"k": 0, "last": result}

    def cold() -> None:
        state["k"] += 1
        solver(**cycles[state["k"] % len(cycles)])

    def warm() -> None:
        state["k"] += 1
        last = state["last"]
        state["last"] = solver(**cycles[state["k"] % len(cycles)], x0=last["x"],
                               lam_x0=last["lam_x"], lam_a0=last["lam_a"])

    found["cold"] = ctx.time_calls(cold, samples=samples, scale=1e3, warmup=0)
    found["times"] = ctx.time_calls(warm, samples=samples, scale=1e3, warmup=1)
    return found


def _solve_lp(problems: list, samples: int, ctx: BenchContext) -> dict:
    """The steady-state LP by HiGHS (``highspy``): ``problems[0]`` solved once, then ``samples``
    cycles of the next problem's vectors, each from the previous basis [ms]."""
    import highspy

    lp = problems[0]
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    inf = highspy.kHighsInf
    clip = lambda v: np.clip(np.asarray(v, float), -inf, inf)  # noqa: E731
    n_row, n_var = lp.A.shape
    h.addVars(n_var, clip(lp.lbx), clip(lp.ubx))
    csr = [np.flatnonzero(lp.A[r]) for r in range(n_row)]
    starts = np.cumsum([0] + [len(c) for c in csr[:-1]]).astype(np.int32)
    index = np.concatenate(csr).astype(np.int32)
    value = np.concatenate([lp.A[r, c] for r, c in enumerate(csr)]).astype(float)
    h.addRows(n_row, clip(lp.lba), clip(lp.uba), len(index), starts, index, value)
    cols = np.arange(n_var, dtype=np.int32)
    rows = np.arange(n_row, dtype=np.int32)

    def run(problem) -> None:
        h.changeColsCost(n_var, cols, np.asarray(problem.g, float))
        h.changeColsBounds(n_var, cols, clip(problem.lbx), clip(problem.ubx))
        h.changeRowsBounds(n_row, rows, clip(problem.lba), clip(problem.uba))
        h.run()

    t0 = time.perf_counter()
    run(lp)
    first = (time.perf_counter() - t0) * 1e3
    found = {"x": np.array(h.getSolution().col_value),
             "cost": float(h.getInfo().objective_function_value),
             "success": h.getModelStatus() == highspy.HighsModelStatus.kOptimal,
             "times": [first]}
    if samples > 1:
        state = {"k": 0}

        def cycle() -> None:
            state["k"] += 1
            run(problems[state["k"] % len(problems)])

        found["times"] = ctx.time_calls(cycle, samples=samples, scale=1e3, warmup=1)
    return found


@benchmark("lmpc_large", "ms per Controller.step of the 40 MV x 80 CV linear MPC example in a "
           "closed loop (steady-state LPs plus the dynamic QP of 400 variables); baselines: "
           "a DMC-form QP (240 moves) plus the LP by the fastest CasADi conic solver, each "
           "solver on that QP and on one with soft CV ranges (400 variables, 1,200 rows); "
           "model load and step coefficients", quick_budget_s=15)
def lmpc_large(ctx: BenchContext) -> FigureResult:
    from apc.ident.model_file import IdentifiedModel
    from apc.spec import load_spec
    from twin.orchestration.examples import example
    from twin_benchmarks.lmpc_qp import cycle_problems

    path = example("pairs_40x80.toml")
    spec = load_spec(example("pairs_40x80_controller.toml"))
    samples = ctx.size(3, 20)
    load = ctx.time_calls(lambda: IdentifiedModel.load(path), samples=samples, scale=1e3)
    tf = IdentifiedModel.load(path)
    t0 = time.perf_counter()
    n_states = tf.to_model().n_x
    to_model_ms = (time.perf_counter() - t0) * 1e3
    steps = ctx.time_calls(lambda: tf.step_coefficients(spec.sample_time, spec.prediction_horizon),
                           samples=samples, scale=1e3)
    details: dict = {"model": {"file_bytes": path.stat().st_size, "pairs": len(tf.pairs),
                               "states": n_states, "load_ms_median": _median(load),
                               "to_model_ms": to_model_ms,
                               "step_coefficients_ms_median": _median(steps)}}
    baselines, lp_times, fastest = {}, None, {}
    for form in FORMS:
        build = ctx.time_calls(lambda: cycle_problems(tf, spec, form=form), samples=ctx.size(1, 5),
                               scale=1e3)
        lp, qp = cycle_problems(tf, spec, form=form)
        lp_next, qp_next = cycle_problems(tf, spec, seed=2, form=form)
        if lp_times is None:
            lp_run = _solve_lp([lp, lp_next], samples, ctx)
            lp_times = lp_run["times"]
            details["lp"] = {"variables": lp.size[0], "rows": lp.size[1], "cost": lp_run["cost"],
                             "success": lp_run["success"], "highs_ms_median": _median(lp_times)}
        found, reference = {}, None
        for name in QP_SOLVERS:
            slow = name in SLOW[form]
            if slow and ctx.quick:
                continue
            once = slow or (ctx.quick and form != FORMS[0])   # quick: the soft form solved once
            run = _solve(name, [qp, qp_next], 1 if once else samples, ctx)
            reference = run["x"] if reference is None else reference   # daqp: exact active set
            run["max_abs_diff_from_daqp"] = float(np.max(np.abs(run["x"] - reference)))
            found[name] = run
            baselines[f"{form} QP, {name}"] = Samples(run["times"], "ms/solve")
        ok = {n: f for n, f in found.items() if f["success"] and n not in SLOW[form]}
        fastest[form] = min(ok, key=lambda n: _median(ok[n]["times"]))
        details[f"qp_{form}"] = {
            "variables": qp.size[0], "rows": qp.size[1],
            "hessian_nonzeros": int(np.count_nonzero(qp.H)),
            "constraint_nonzeros": int(np.count_nonzero(qp.A)), "build_ms_median": _median(build),
            "fastest": fastest[form],
            "solvers": {n: {"ms_median": _median(f["times"]), "cold_ms_median": _median(f["cold"]),
                            "cost": f["cost"],
                            "success": f["success"], "status": f["status"],
                            "max_abs_diff_from_daqp": f["max_abs_diff_from_daqp"]}
                        for n, f in found.items()}}
    best = baselines[f"{FORMS[0]} QP, {fastest[FORMS[0]]}"].values
    baselines["LP + DMC-form QP, fastest solver"] = Samples(
        [a + b for a, b in zip(lp_times, best)], "ms/cycle")
    cycles = _controller_cycles(spec, ctx.size(30, 120))
    per_cycle = cycles.pop("times")
    details["controller"] = cycles
    result = FigureResult(Samples(per_cycle, "ms/cycle"), baselines, details)
    median = float(np.median(per_cycle))
    result.target("per_cycle_below_10ms", "the controller's cycle (steady-state LPs + dynamic "
                  "QP + its semantics) median below 10 ms", median, median < 10.0)
    return result


CLOSED_LOOP = {"disturbance": ("P17", 0.3), "setpoint": ("A25", 1.01)}
"""The controller figure's loop: an unmeasured +0.3 bar on P17 from the first cycle, the
setpoint of A25 up 1 % half-way."""


def _controller_cycles(spec, cycles: int) -> dict:
    """The real controller on the example in a closed loop [ms per ``Controller.step``].

    The plant is the controller's own model (its step-response prediction of
    the applied moves) plus :data:`CLOSED_LOOP`'s unmeasured disturbance; the
    setpoint step comes half-way through ``cycles``. Each cycle is what runs
    in operation: the DMC bias update, the steady-state LPs, the dynamic QP
    (warm from the last cycle), the controller's semantics. The first cycle
    (the solver's setup) is reported apart.
    """
    from apc.controller import Controller
    from twin.core.quality import Reading
    from twin.orchestration.registry import load_model

    model = load_model(spec.model)
    t0 = time.perf_counter()
    controller = Controller(spec, model)
    build_s = time.perf_counter() - t0
    u = np.array([model.inputs[m.name].nominal for m in spec.mv])
    controller.set_mode("on", u)
    predictor = controller.estimator
    names = [c.name for c in spec.cv]
    offset = np.zeros(len(names))
    where, size = CLOSED_LOOP["disturbance"]
    offset[names.index(where)] = size
    times, status, iterations, qp_ms = [], [], [], []
    for k in range(cycles + 1):
        if k == cycles // 2 + 1:
            name, factor = CLOSED_LOOP["setpoint"]
            controller.set_setpoint(name, factor * spec.cv[names.index(name)].setpoint)
        plant = predictor.Y[0] + offset            # the model's output for the moves applied
        readings = {m.name: Reading(float(plant[names.index(m.name)])) for m in spec.measurements}
        t0 = time.perf_counter()
        out = controller.step(spec.sample_time * k, readings, u)
        times.append((time.perf_counter() - t0) * 1e3)
        status.append(out.solve_status)
        iterations.append(out.iterations)
        qp_ms.append(out.solve_time * 1e3)
        if out.mv:
            u = np.array([out.mv[m.name] for m in spec.mv])
    qp = controller.nmpc.qp
    last = predictor.Y[0] + offset
    errors = {c.name: float(last[i] - controller.setpoints[i]) for i, c in enumerate(spec.cv)
              if np.isfinite(controller.setpoints[i])}
    return {"build_s": build_s, "cycles": cycles, "first_cycle_ms": times[0],
            "times": times[1:], "step_ms_median": _median(times[1:]),
            "step_ms_p99": float(np.percentile(times[1:], 99)), "statuses": sorted(set(status)),
            "qp_solver": qp.solver_name, "cv_limits": qp.cv_limits, "qp_variables": qp.n_var,
            "qp_rows": qp.n_con, "qp_iterations_median": _median(iterations[1:]),
            "qp_ms_median": _median(qp_ms[1:]), "qp_ms_p99": float(np.percentile(qp_ms[1:], 99)),
            "largest_setpoint_error_at_end": max(errors.values(), key=abs)}


def _median(values) -> float:
    return float(np.median(values))
