"""Figures of the linear controller's steady-state optimiser: ms per solve, hot-started HiGHS.

Two problems, each a run of cycles in which the prediction moves (so the
LPs are really solved every cycle):

* column A (LV), 2 x 2, the shipped identified model's gains: both product
  specifications as limits and the boilup costly (the economics LP and the
  smallest-move LP each cycle);
* a 40 MV x 80 CV random gain matrix (seeded): ranked soft limits on every
  CV, some of them violated by the disturbance each cycle, and costs on all MVs.

Baselines, in the same run: the same optimiser with the HiGHS model solved
from scratch at every LP (``HighsLP.hot = False``: a slack basis), and the
very LPs of the first cycles solved by CasADi's ``conic`` "highs" plugin
(the LPs alone, summed per cycle: a lower bound of a CasADi-based
optimiser). CasADi's HiGHS runs in a child process, since it crashes in a
process that has loaded ``highspy`` (see ``apc.linear.ss_highs``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from apc.ident.model_file import IdentifiedModel
from apc.linear.steady_state import SteadyStateOptimiser
from apc.spec import spec_from_dict
from twin.orchestration.examples import FOLDER
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

COLUMN_A = FOLDER / "column_a_identified.toml"
SEED = 15


def _column_a() -> tuple[SteadyStateOptimiser, dict, np.ndarray, np.ndarray]:
    model = IdentifiedModel.load(COLUMN_A)
    spec = spec_from_dict({
        "model": "column.toml", "sample_time": 60.0, "prediction_horizon": 30,
        "estimator": {"kind": "state_feedback"},
        "cv": [{"name": "x_D", "low": 0.985}, {"name": "x_B", "high": 0.015}],
        "mv": [{"name": "L_T", "low": 1.0, "high": 5.0},
               {"name": "V_B", "low": 1.0, "high": 5.0, "cost": 1.0}]})
    opt = SteadyStateOptimiser(spec, model.steady_gain(), np.zeros(2, bool), np.full(2, 0.01))
    limits = dict(active=np.ones(2, bool), u_lo=np.full(2, 1.0), u_hi=np.full(2, 5.0),
                  soft_lo=np.array([0.985, -np.inf]), soft_hi=np.array([np.inf, 0.015]),
                  hard_lo=np.full(2, -np.inf), hard_hi=np.full(2, np.inf),
                  setpoints=np.full(2, np.nan))
    return opt, limits, model.y0, model.u0


def _random(n_mv: int = 40, n_cv: int = 80) -> tuple[SteadyStateOptimiser, dict, np.ndarray,
                                                      np.ndarray]:
    rng = np.random.default_rng(SEED)
    gains = rng.normal(size=(n_cv, n_mv))
    ranks = rng.integers(1, 4, size=n_cv)
    width = rng.uniform(0.5, 3.0, size=n_cv)
    spec = spec_from_dict({
        "model": "plant.toml", "sample_time": 1.0, "prediction_horizon": 30,
        "estimator": {"kind": "state_feedback"},
        "cv": [{"name": f"y{i + 1}", "low": -float(width[i]), "high": float(width[i]),
                "rank": int(ranks[i])} for i in range(n_cv)],
        "mv": [{"name": f"u{j + 1}", "low": -1.0, "high": 1.0,
                "cost": float(rng.normal())} for j in range(n_mv)]})
    opt = SteadyStateOptimiser(spec, gains, np.zeros(n_cv, bool), np.ones(n_cv))
    limits = dict(active=np.ones(n_cv, bool), u_lo=np.full(n_mv, -1.0), u_hi=np.full(n_mv, 1.0),
                  soft_lo=-width, soft_hi=width, hard_lo=np.full(n_cv, -np.inf),
                  hard_hi=np.full(n_cv, np.inf), setpoints=np.full(n_cv, np.nan))
    return opt, limits, np.zeros(n_cv), np.zeros(n_mv)


def _cycles(opt, limits, y0, u0, cycles: int, noise: float, hot: bool):
    """ms per solve over ``cycles`` cycles of a slowly varying disturbance; the targets applied."""
    opt._lp.hot = hot
    rng = np.random.default_rng(SEED)
    disturbance = np.zeros_like(y0)
    u = u0.copy()
    times, targets, lps = [], [], 0
    for _ in range(cycles):
        disturbance = 0.9 * disturbance + rng.normal(0.0, noise, size=y0.size)
        cv_free = y0 + disturbance + opt.gains @ (u - u0)
        t0 = time.perf_counter()
        r = opt.solve(cv_free=cv_free, u_now=u, **limits)
        times.append((time.perf_counter() - t0) * 1e3)
        if not r.ok:
            raise RuntimeError(f"steady-state optimiser failed: {r.message}")
        lps += int(r.message.split()[0])
        u = r.u
        targets.append(u.copy())
    return times, np.array(targets), lps / cycles


_CASADI_CHILD = """
import json, sys, time
import casadi as ca, numpy as np, scipy.sparse as sp
data = np.load(sys.argv[1], allow_pickle=True)
lps, n_row, n_var = data["lps"], int(data["n_row"]), int(data["n_var"])
solvers, times = {}, []
for rowwise, start, index, value, c, lba, uba, lbx, ubx in lps:
    shape = (n_row, n_var)
    m = (sp.csr_matrix if rowwise else sp.csc_matrix)((value, index, start), shape=shape).tocsc()
    m.sort_indices()
    key = (m.indptr.tobytes(), m.indices.tobytes())
    a = ca.DM(ca.Sparsity(n_row, n_var, m.indptr.tolist(), m.indices.tolist()), m.data)
    if key not in solvers:
        solvers[key] = ca.conic("lp", "highs", {"a": a.sparsity(), "h": ca.Sparsity(n_var, n_var)},
                                {"highs": {"output_flag": False}, "error_on_fail": False})
    solver = solvers[key]
    t0 = time.perf_counter()
    solver(g=c, a=a, lba=lba, uba=uba, lbx=lbx, ubx=ubx)
    ok = solver.stats()["success"]
    times.append((time.perf_counter() - t0) * 1e3 if ok else float("nan"))
print(json.dumps(times))
"""


def _casadi_lps(opt, limits, y0, u0, cycles: int, noise: float) -> tuple[list[float], int]:
    """ms per cycle of the cycles' LPs solved by CasADi's HiGHS in a child, and how many cycles
    had an LP it did not solve (left out)."""
    opt._lp.record, per_cycle = [], []
    rng = np.random.default_rng(SEED)
    disturbance, u = np.zeros_like(y0), u0.copy()
    for _ in range(cycles):
        disturbance = 0.9 * disturbance + rng.normal(0.0, noise, size=y0.size)
        before = len(opt._lp.record)
        u = opt.solve(cv_free=y0 + disturbance + opt.gains @ (u - u0), u_now=u, **limits).u
        per_cycle.append(len(opt._lp.record) - before)
    lps, opt._lp.record = opt._lp.record, None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "lps.npz"
        packed = np.empty(len(lps), dtype=object)
        packed[:] = lps
        np.savez(path, lps=packed, n_row=opt._lp.n_row, n_var=opt._lp.n_var)
        out = subprocess.run([sys.executable, "-c", _CASADI_CHILD, str(path)], check=True,
                             capture_output=True, text=True, timeout=600)
    times = json.loads(out.stdout)
    totals, failed, k = [], 0, 0
    for count in per_cycle:
        part = times[k:k + count]
        k += count
        if any(t != t for t in part):                   # NaN: CasADi's HiGHS did not solve it
            failed += 1
        else:
            totals.append(float(sum(part)))
    return totals, failed


def _figure(make, cycles: int, noise: float, target_ms: float, label: str) -> FigureResult:
    hot_t, hot_u, lps = _cycles(*make(), cycles, noise, hot=True)
    cold_t, cold_u, _ = _cycles(*make(), cycles, noise, hot=False)
    casadi_t, casadi_failed = _casadi_lps(*make(), cycles, noise)
    result = FigureResult(Samples(hot_t, "ms/solve"), {"highs_cold_start": Samples(cold_t, "ms/solve"),
                                                       "casadi_highs_lps_only": Samples(casadi_t, "ms/solve")})
    diff = float(np.max(np.abs(hot_u - cold_u)))
    result.details.update(cycles=cycles, lps_per_cycle=lps, max_target_difference_hot_vs_cold=diff,
                          casadi_highs_cycles_not_solved=casadi_failed,
                          solver="HiGHS dual simplex through highspy, one model kept between "
                                 "solves (hot start)")
    result.target("median", f"{label}: median below {target_ms} ms", result.value.median,
                  result.value.median < target_ms)
    result.target("same_targets", "hot and cold starts give the same targets within 1e-6", diff,
                  diff <= 1e-6)
    return result


@benchmark("ss_column_a", "ms per steady-state LP solve, column A 2 x 2 (boilup costly, both "
           "product specifications), hot-started HiGHS vs cold", quick_budget_s=4)
def ss_column_a(ctx: BenchContext) -> FigureResult:
    return _figure(_column_a, ctx.size(200, 2000), 2e-4, 0.3, "column A 2 x 2")


@benchmark("ss_40x80", "ms per steady-state LP solve, 40 MVs x 80 CVs random gains (seed 15), "
           "ranked limits and costs, hot-started HiGHS vs cold", quick_budget_s=6)
def ss_40x80(ctx: BenchContext) -> FigureResult:
    return _figure(_random, ctx.size(100, 1000), 0.05, 10.0, "40 x 80")
