"""Figures of the RTO layer: re-solving the Williams–Otto economics after a price change."""

from __future__ import annotations

import time

import numpy as np
import pyomo.environ as pyo

from rto.economics import EconomicOptimizer, load_economics, shipped_economics
from twin.orchestration.registry import load_model
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark


@benchmark("rto_resolve_wo", "ms to re-solve the Williams-Otto economics after a price change",
           quick_budget_s=20)
def rto_resolve_wo(ctx: BenchContext) -> FigureResult:
    import pyomo_ripopt  # noqa: F401  (registers the NL-file solver 'ripopt')

    spec = load_economics(shipped_economics("williams_otto"))
    model = load_model(spec.model)
    ours = EconomicOptimizer(model, spec)
    ours.optimize()
    reference = EconomicOptimizer(model, spec)  # the same Pyomo model, for the NL-file solver
    ripopt = pyo.SolverFactory("ripopt")
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
        if k < ctx.size(30, 100):
            for name, value in p.items():
                reference.pyomo.price[name] = value
            t0 = clock()
            result = ripopt.solve(reference.pyomo, options={"tol": 1e-10})
            ref_ms.append((clock() - t0) * 1e3)
            assert result.solver.termination_condition == pyo.TerminationCondition.optimal
            gaps.append(abs(pyo.value(reference.pyomo.profit) - r.profit) / abs(r.profit))
    fig = FigureResult(Samples(ours_ms, "ms/solve"), {"pyomo_nl_file_ripopt": Samples(ref_ms, "ms/solve")})
    fig.details.update(max_rel_profit_difference=float(max(gaps)),
                       what="price change (each price +-5 %), Pyomo parameter update, solve, "
                            "load results; ours: persistent CasADi NLP with IPOPT warm start")
    speed = fig.baselines["pyomo_nl_file_ripopt"].median / fig.value.median
    fig.target("speedup", "median at least 3x faster than NL file + ripopt", speed, speed >= 3)
    return fig
