"""Figures of the what-if studies: whatif_open_loop_cstr and whatif_closed_loop_apc."""

from __future__ import annotations

import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

STUDY_HEADER = "title = \"{title}\"\nseed = 7\nduration = {duration}\n"


def _timed_study(study, folder: Path, **options) -> float:
    from twin.orchestration.whatif import run_study

    t0 = time.perf_counter()
    result = run_study(study, folder, report=False, **options)
    seconds = time.perf_counter() - t0
    if result.failed:
        raise RuntimeError(f"{result.failed} scenarios failed in the benchmark study")
    return seconds


@benchmark("whatif_open_loop_cstr", "us per scenario of the open-loop CSTR kinetics study "
           "(1 h, 200 intervals, 5 KPIs; 10,000 scenarios, quick 2,000) on 1 worker vs 2 workers, "
           "the batch kernel called directly, and Simulator.step per scenario",
           quick_budget_s=24)
def whatif_open_loop_cstr(ctx: BenchContext) -> FigureResult:
    from twin.core.kernels.integrators import integrate_batch
    from twin.core.simulator import Simulator
    from twin.orchestration.whatif import load_study
    from twin.orchestration.whatif.sampling import scenario_table
    from twin.orchestration.whatif.scenarios import _case, _split

    n = ctx.size(2000, 10000)
    study = load_study("cstr_kinetics_ensemble.toml")
    study = replace(study, sampling=replace(study.sampling, n=n),
                    output=replace(study.output, timeseries=False))
    count = n + 1
    with tempfile.TemporaryDirectory(prefix="twin-bench-whatif-") as tmp:
        one = _timed_study(study, Path(tmp) / "one", workers=1)
        two = _timed_study(study, Path(tmp) / "two", workers=2)
    # the same scenarios without the study machinery
    case = _case(study)
    rows = scenario_table(study).to_dict("records")
    splits = [_split(study, r) for r in rows]
    X0 = np.array([case._x0(s) for s in splits])
    U = np.array([case._inputs(s) for s in splits])
    P = np.array([case._parameters(s) for s in splits])
    t0 = time.perf_counter()
    integrate_batch(case.functions, case.method, X0, U, P, study.base.dt, case.rtol, case.atol,
                    threads=1)
    direct = time.perf_counter() - t0
    m = ctx.size(100, 500)
    t0 = time.perf_counter()
    for i in range(m):
        sim = Simulator(case.model.with_parameters(dict(zip(case.model.parameters.names, P[i]))),
                        study.base.dt, x0=X0[i], method=case.method)
        for k in range(U.shape[1]):
            sim.step(U[i, k])
    per_simulator = (time.perf_counter() - t0) / m
    per = lambda seconds: [seconds / count * 1e6]  # noqa: E731 - one run, per scenario
    result = FigureResult(Samples(per(one), "us/scenario"),
                          {"two_workers": Samples(per(two), "us/scenario"),
                           "direct_batch_kernel": Samples(per(direct), "us/scenario"),
                           "simulator_step_per_scenario": Samples([per_simulator * 1e6],
                                                                  "us/scenario")})
    result.details.update(scenarios=count, scenarios_per_s_1_worker=count / one,
                          scenarios_per_s_2_workers=count / two,
                          machinery_overhead_us_per_scenario=(one - direct) / count * 1e6,
                          simulator_sample=m)
    result.target("machinery_overhead", "study run <= 3x the bare batch kernel on one worker",
                  one / direct, one / direct <= 3.0)
    return result


@benchmark("whatif_closed_loop_apc", "s per scenario of a closed-loop CSTR APC study (0.3 h, "
           "60 NMPC moves, plant mismatch sampled; 20 scenarios, quick 2) vs running the same "
           "closed loop directly, and the study's wall time per scenario on 2 workers", quick_budget_s=30)
def whatif_closed_loop_apc(ctx: BenchContext) -> FigureResult:
    from twin.orchestration.examples import FOLDER
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.runner import ClosedLoop
    from twin.orchestration.whatif import load_study

    n = ctx.size(2, 20)
    text = (STUDY_HEADER.format(title="closed-loop benchmark", duration=0.3)
            + f'[base]\nkind = "closed_loop"\nloop_file = "{FOLDER / "cstr_apc.toml"}"\n'
            "loop_events = false\n[[variable]]\nname = \"beta\"\nlow = 0.95\nhigh = 1.15\n"
            "[[variable]]\nname = \"alpha\"\nlow = 1.0\nhigh = 1.08\n[sampling]\nmethod = "
            f"\"lhs\"\nn = {n}\n[[kpi]]\nname = \"C_b_iae\"\nkind = \"iae\"\nvariable = \"C_b\"\n")
    with tempfile.TemporaryDirectory(prefix="twin-bench-whatif-") as tmp:
        path = Path(tmp) / "study.toml"
        path.write_text(text)
        study = load_study(path)
        wall = _timed_study(study, Path(tmp) / "study", workers=1)
        per_scenario = pd.read_parquet(Path(tmp) / "study" / "timing.parquet").seconds.tolist()
        wall_two = _timed_study(study, Path(tmp) / "two", workers=2)
        loop = load_loop(FOLDER / "cstr_apc.toml")
        loop = replace(loop, run=replace(loop.run, duration=0.3), event=())
        direct = []
        for k in range(ctx.size(1, 3)):
            t0 = time.perf_counter()
            closed = ClosedLoop(loop, Path(tmp) / f"direct{k}")
            try:
                closed.run()
                closed.store.to_frame()
            finally:
                closed.close()
            direct.append(time.perf_counter() - t0)
    count = len(per_scenario)
    result = FigureResult(Samples(per_scenario, "s/scenario"),
                          {"closed_loop_directly": Samples(direct, "s/scenario"),
                           "study_wall_two_workers": Samples([wall_two / count], "s/scenario")})
    result.details.update(scenarios=count, study_wall_s=wall, study_wall_two_workers_s=wall_two,
                          study_wall_per_scenario_s=wall / count,
                          speedup_two_workers=wall / wall_two)
    overhead = (wall / len(per_scenario)) / float(np.median(direct))
    result.target("machinery_overhead", "study wall time per scenario <= 1.2x a direct run",
                  overhead, overhead <= 1.2)
    return result
