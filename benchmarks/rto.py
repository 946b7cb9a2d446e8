"""Figures of the RTO layer: re-solving the Williams–Otto economics after a price change."""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo

from rto.economics import EconomicOptimizer, load_economics, shipped_economics
from twin.orchestration.registry import load_model
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

RIPOPT_MODULE = "pyomo_ripopt"
"""The baseline's package (test extra only)."""
BASELINE = "pyomo_nl_file_ripopt"


@benchmark("rto_resolve_wo", "ms to re-solve the Williams-Otto economics after a price change",
           quick_budget_s=12)
def rto_resolve_wo(ctx: BenchContext) -> FigureResult:
    """Ours against Pyomo's NL-file route with ripopt (skipped when pyomo_ripopt is missing)."""
    # importing pyomo_ripopt registers the NL-file solver 'ripopt'
    has_ripopt = ctx.optional_module(RIPOPT_MODULE, BASELINE) is not None
    spec = load_economics(shipped_economics("williams_otto"))
    model = load_model(spec.model)
    ours = EconomicOptimizer(model, spec)
    ours.optimize()
    reference = EconomicOptimizer(model, spec)  # the same Pyomo model, for the NL-file solver
    ripopt = pyo.SolverFactory("ripopt") if has_ripopt else None
    rng = np.random.default_rng(0)
    clock = time.perf_counter
    base = dict(spec.prices)

    def prices():
        return {k: v * (1 + 0.05 * rng.uniform(-1, 1)) for k, v in base.items()}

    ours_ms, ref_ms, gaps = [], [], []
    for k in range(ctx.size(150, 400)):
        p = prices()
        t0 = clock()
        r = ours.optimize(prices=p)
        ours_ms.append((clock() - t0) * 1e3)
        if ripopt is not None and k < ctx.size(30, 100):
            for name, value in p.items():
                reference.pyomo.price[name] = value
            t0 = clock()
            result = ripopt.solve(reference.pyomo, options={"tol": 1e-10})
            ref_ms.append((clock() - t0) * 1e3)
            if result.solver.termination_condition != pyo.TerminationCondition.optimal:
                raise RuntimeError(f"ripopt ended with {result.solver.termination_condition} "
                                   f"at prices {p}")
            gaps.append(abs(pyo.value(reference.pyomo.profit) - r.profit) / abs(r.profit))
    fig = FigureResult(Samples(ours_ms, "ms/solve"))
    fig.details["what"] = ("price change (each price +-5 %), Pyomo parameter update, solve, "
                           "load results; ours: persistent CasADi NLP with IPOPT warm start")
    target = "median at least 3x faster than NL file + ripopt"
    if ripopt is None:
        fig.target("speedup", target, None, None)
        return fig
    fig.baselines[BASELINE] = Samples(ref_ms, "ms/solve")
    fig.details["max_rel_profit_difference"] = float(max(gaps))
    speed = fig.baselines[BASELINE].median / fig.value.median
    fig.target("speedup", target, speed, speed >= 3)
    return fig
