"""Figures of the stepping kernels: rk4_cstr, step_cstr, ensemble_cstr, stiff_column."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from twin.core.kernels import cache, integrators, reference
from twin.core.kernels.functions import PythonFunctions, model_functions
from twin.core.simulation import ReferenceIntegrator
from twin.core.simulator import Simulator
from twin.orchestration.registry import load_model
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

HAND_C = Path(__file__).parent / "c" / "cstr_rk4.c"
RK4_H = 1e-4
"""RK4 step of the CSTR benchmarks [h]."""


def hand_written_rk4():
    """The hand-written C RK4 of the CSTR, compiled -O2, as a ctypes function."""
    source = HAND_C.read_text()
    lib = ctypes.CDLL(str(cache.compile_shared(source, "bench_cstr_rk4",
                                               ("-O2", "-fPIC", "-shared"))))
    order = ctypes.c_char_p.in_dll(lib, "cstr_parameter_order").value.decode().split(",")
    model = load_model("cstr")
    if order != model.parameters.names:
        raise RuntimeError(f"{HAND_C.name}: parameter order {order} differs from the model's")
    fn = lib.cstr_rk4
    fn.restype = None
    fn.argtypes = [ctypes.POINTER(ctypes.c_double)] * 3 + [ctypes.c_double, ctypes.c_long]
    fn._lib = lib  # keep the library loaded
    return fn


def _ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_double))


@benchmark("rk4_cstr", "ns per fixed RK4 step of the CSTR, 10^6 steps per call", quick_budget_s=20)
def rk4_cstr(ctx: BenchContext) -> FigureResult:
    model = load_model("cstr")
    f = model_functions(model)
    x0, u, p = model.x0(), model.u0(), model.p0()
    n = 1_000_000
    samples = ctx.size(10, 100)
    ours = ctx.time_calls(lambda: integrators.rk4(f, x0, u, p, RK4_H, n), samples, scale=1e9 / n)
    hand = hand_written_rk4()
    x_hand = x0.copy()
    hand_samples = ctx.time_calls(lambda: hand(_ptr(x_hand.copy()), _ptr(u), _ptr(p), RK4_H, n),
                                  samples, scale=1e9 / n)
    n_py = ctx.size(2000, 20000)
    python = PythonFunctions(model)
    py_samples = ctx.time_calls(lambda: reference.rk4(python, x0, u, p, RK4_H, n_py),
                                ctx.size(3, 5), scale=1e9 / n_py)
    x_ours = integrators.rk4(f, x0, u, p, RK4_H, 10_000)
    x_c = x0.copy()
    hand(_ptr(x_c), _ptr(u), _ptr(p), RK4_H, 10_000)
    result = FigureResult(Samples(ours, "ns/step"),
                          {"hand_written_c_O2": Samples(hand_samples, "ns/step"),
                           "pure_python": Samples(py_samples, "ns/step")})
    result.details.update(
        steps_per_call=n, step_h=RK4_H, threads=1,
        max_rel_difference_to_hand_c_after_1e4_steps=float(np.max(np.abs(x_ours - x_c) / np.abs(x_c))),
    )
    ratio = result.value.median / result.baselines["hand_written_c_O2"].median
    result.target("within_1.2x_of_hand_c", "median <= 1.2 x hand-written C", ratio, ratio <= 1.2)
    return result


def _input_sequence(model, n: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u0 = model.u0()
    steps = u0 * (1 + 0.1 * rng.uniform(-1, 1, (n // 20 + 1, u0.size)))
    return np.clip(np.repeat(steps, 20, axis=0)[:n], model.inputs.lower(), model.inputs.upper())


@benchmark("step_cstr", "us per Simulator.step() of the CSTR, dt = 0.005 h, 1e-6 accurate",
           quick_budget_s=10)
def step_cstr(ctx: BenchContext) -> FigureResult:
    import casadi as ca
    from scipy.integrate import solve_ivp

    from twin.core.symbolic import casadi_form

    model = load_model("cstr")
    dt, rtol, atol = 0.005, 1e-8, 1e-10
    n = ctx.size(2000, 20000)
    us = _input_sequence(model, n)
    exact = _trajectory(ReferenceIntegrator(model, 1e-13, 1e-14), model, us, dt)

    sim = Simulator(model, dt, rtol=rtol, atol=atol)
    ours, xs = _timed_steps(sim.step, us)
    # the same intervals in one compiled call: what step() costs without Python
    functions = model_functions(model)
    inner = ctx.time_calls(lambda: integrators.integrate_batch(
        functions, sim.method, model.x0()[None, :], us[None, :, :], model.p0()[None, :], dt,
        rtol, atol, threads=1), ctx.size(3, 10), scale=1e6 / n)
    form = casadi_form(model)
    p = model.p0()
    cvodes = ca.integrator("cvodes_step", "cvodes", {"x": form.x, "p": ca.vertcat(form.u, form.p),
                                                     "ode": form.xdot}, 0.0, dt,
                           {"reltol": rtol, "abstol": atol})
    state = {"x": model.x0()}

    def cvodes_step(u):
        state["x"] = np.array(cvodes(x0=state["x"], p=np.concatenate([u, p]))["xf"]).ravel()
        return state["x"]

    n_base = ctx.size(300, 2000)
    cv_times, cv_xs = _timed_steps(cvodes_step, us[:n_base])
    fun = form.f
    ivp_state = {"x": model.x0()}

    def ivp_step(u):
        sol = solve_ivp(lambda t, x: np.asarray(fun(x, u, p)).ravel(), (0.0, dt), ivp_state["x"],
                        rtol=rtol, atol=atol)
        ivp_state["x"] = sol.y[:, -1]
        return ivp_state["x"]

    n_ivp = ctx.size(100, 500)
    ivp_times, ivp_xs = _timed_steps(ivp_step, us[:n_ivp])

    def accuracy(xs_run):
        ref = exact[: len(xs_run)]
        return float(np.max(np.abs(np.array(xs_run) - ref) / np.abs(ref)))

    result = FigureResult(Samples(ours, "us/call"),
                          {"casadi_cvodes_per_interval": Samples(cv_times, "us/call"),
                           "scipy_solve_ivp_per_interval": Samples(ivp_times, "us/call")})
    acc = accuracy(xs)
    result.details.update(
        intervals=n, dt_h=dt, method=sim.method, rtol=rtol, atol=atol,
        max_rel_error_vs_reference=acc,
        baseline_max_rel_error={"casadi_cvodes_per_interval": accuracy(cv_xs),
                                "scipy_solve_ivp_per_interval": accuracy(ivp_xs)},
        integration_stats=sim.stats,
        integration_only_us_per_interval=float(np.median(inner)),
        step_overhead_us=float(np.median(ours) - np.median(inner)),
    )
    med = result.value.median
    result.target("accuracy", "max relative error <= 1e-6", acc, acc <= 1e-6)
    result.target("median_us", "median <= 5 us per call", med, med <= 5.0)
    cv = result.baselines["casadi_cvodes_per_interval"].median / med
    iv = result.baselines["scipy_solve_ivp_per_interval"].median / med
    result.target("vs_cvodes", ">= 50x faster than CasADi cvodes per call", cv, cv >= 50)
    result.target("vs_solve_ivp", ">= 100x faster than solve_ivp per call", iv, iv >= 100)
    return result


def _trajectory(integrator, model, us, dt):
    x, out = model.x0(), []
    for u in us:
        x = integrator.advance(x, u, dt)
        out.append(x)
    return np.array(out)


def _timed_steps(step, us) -> tuple[list[float], list[np.ndarray]]:
    import time

    clock = time.perf_counter_ns
    times, xs = [], []
    for u in us:
        t0 = clock()
        x = step(u)
        times.append((clock() - t0) * 1e-3)
        xs.append(x)
    return times, xs


@benchmark("ensemble_cstr", "CSTR ensemble, different kinetics, 1 h each: instance-steps per s",
           quick_budget_s=35)
def ensemble_cstr(ctx: BenchContext) -> FigureResult:
    model = load_model("cstr")
    f = model_functions(model)
    n = ctx.size(500, 10000)
    dt, n_sub, intervals = 0.005, 50, 200  # RK4 h = 1e-4 h, as in rk4_cstr
    rng = np.random.default_rng(2)
    P = np.tile(model.p0(), (n, 1))
    P[:, model.parameters.index("beta")] = rng.uniform(0.8, 1.2, n)
    P[:, model.parameters.index("alpha")] = rng.uniform(0.95, 1.05, n)
    X0 = np.tile(model.x0(), (n, 1))
    U = np.broadcast_to(model.u0(), (n, intervals, model.n_u)).copy()
    steps = n * intervals * n_sub
    cores = integrators.default_threads()

    def run(threads):
        return integrators.integrate_batch(f, "rk4", X0, U, P, dt, n_sub=n_sub, threads=threads)

    samples = ctx.size(3, 10)
    one = ctx.time_calls(lambda: run(1), samples, scale=1.0)
    every = ctx.time_calls(lambda: run(cores), samples, scale=1.0)
    single = ctx.time_calls(lambda: integrators.rk4(f, model.x0(), model.u0(), model.p0(), RK4_H,
                                                    1_000_000), samples, scale=1e9 / 1_000_000)
    assert np.all(run(cores).ok)
    result = FigureResult(Samples([steps / t for t in every], "instance-steps/s"),
                          {"one_thread": Samples([steps / t for t in one], "instance-steps/s")})
    per_instance_ns = 1e9 * float(np.median(one)) / steps
    result.details.update(
        instances=n, simulated_h=dt * intervals, steps_per_instance=intervals * n_sub, cores=cores,
        ns_per_instance_step_one_thread=per_instance_ns,
        ns_per_step_single_instance_rk4=float(np.median(single)),
        note="ratio_to_baseline is throughput: above 1 means faster on all cores",
    )
    ratio = per_instance_ns / float(np.median(single))
    speedup = float(np.median(one)) / float(np.median(every))
    result.target("per_instance_cost", "within 1.3x of single-instance RK4", ratio, ratio <= 1.3)
    if cores >= 2:
        result.target("parallel_speedup", f">= 1.6x of one thread with {cores} cores", speedup,
                      speedup >= 1.6)
    return result


@benchmark("stiff_column", "ms to simulate Column A 1000 min after a 1 % L_T step, rtol 1e-6",
           quick_budget_s=15)
def stiff_column(ctx: BenchContext) -> FigureResult:
    import casadi as ca
    from scipy.integrate import solve_ivp

    from twin.core.steady import find_steady_state
    from twin.core.symbolic import casadi_form

    model = load_model("distillation_a")
    ss = find_steady_state(model)
    u = ss.u.copy()
    u[model.inputs.index("L_T")] *= 1.01
    T, rtol, atol = 1000.0, 1e-6, 1e-8
    f = model_functions(model)
    ours = ctx.time_calls(lambda: integrators.bdf(f, ss.x, u, ss.p, T, rtol, atol),
                          ctx.size(100, 300), scale=1e3)
    x_ours, stats = integrators.bdf(f, ss.x, u, ss.p, T, rtol, atol)

    form = casadi_form(model)
    cvodes = ca.integrator("column_cvodes", "cvodes", {"x": form.x, "p": ca.vertcat(form.u, form.p),
                                                       "ode": form.xdot}, 0.0, T,
                           {"reltol": rtol, "abstol": atol})
    pu = np.concatenate([u, ss.p])
    cv = ctx.time_calls(lambda: cvodes(x0=ss.x, p=pu), ctx.size(30, 100), scale=1e3)
    x_cv = np.array(cvodes(x0=ss.x, p=pu)["xf"]).ravel()

    fun, jac = form.f, form.jac_x

    def ivp():
        return solve_ivp(lambda t, x: np.asarray(fun(x, u, ss.p)).ravel(), (0.0, T), ss.x,
                         method="BDF", rtol=rtol, atol=atol,
                         jac=lambda t, x: np.asarray(jac(x, u, ss.p)))

    iv = ctx.time_calls(ivp, ctx.size(3, 10), scale=1e3)
    x_iv = ivp().y[:, -1]
    exact = ReferenceIntegrator(model, 1e-12, 1e-14).advance(ss.x, u, T)
    result = FigureResult(Samples(ours, "ms/run"),
                          {"casadi_cvodes": Samples(cv, "ms/run"),
                           "scipy_solve_ivp_bdf": Samples(iv, "ms/run")})
    diff = {"ours": float(np.max(np.abs(x_ours - exact))),
            "casadi_cvodes": float(np.max(np.abs(x_cv - exact))),
            "scipy_solve_ivp_bdf": float(np.max(np.abs(x_iv - exact)))}
    result.details.update(method="bdf", rtol=rtol, atol=atol, simulated_min=T,
                          steps=stats.steps, rhs_evals=stats.rhs_evals, jac_evals=stats.jac_evals,
                          lu_decomps=stats.lu_decomps, band=(f.structure.kl, f.structure.ku),
                          max_abs_error_vs_reference=diff,
                          max_abs_difference_ours_vs_cvodes=float(np.max(np.abs(x_ours - x_cv))))
    med = result.value.median
    vs_ivp = result.baselines["scipy_solve_ivp_bdf"].median / med
    vs_cv = result.baselines["casadi_cvodes"].median / med
    result.target("vs_solve_ivp", ">= 10x faster than solve_ivp BDF", vs_ivp, vs_ivp >= 10)
    result.target("vs_cvodes", ">= 1x CasADi cvodes (stretch 2x)", vs_cv, vs_cv >= 1)
    same = max(diff.values()) <= 1e-5 and float(np.max(np.abs(x_ours - x_cv))) <= 1e-5
    result.target("same_answer", "all within 1e-5 of each other and of the reference",
                  max(diff.values()), same)
    return result
