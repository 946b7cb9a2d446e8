"""Figure of the Tennessee Eastman plant: te_base_layer_48h."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from twin.core.simulation import simulate
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

HOURS = 48.0
"""Plant time of one run [h]."""
REPORT = 0.01
"""Output interval of our runs and communication step of the FMU [h]."""
CONTROL_INTERVAL = 0.0005
"""The oracle's control interval [h] (Ricker's 1.8 s sample)."""


def _oracle_run(tep, control, hours: float) -> float:
    """Seconds for ``hours`` of the oracle's closed loop (C simulator, its Python controller)."""
    plant = tep.TennesseeEastmanProcess(ms_flag=0x0F | 0x10)
    run = control.ClosedLoopSimulation(simulator=plant,
                                       controller=control.RickerMultiLoopController(enable_overrides=True),
                                       control_interval=CONTROL_INTERVAL, horizon=hours)
    t0 = time.perf_counter()
    result = run.run(record_every=1000)
    elapsed = time.perf_counter() - t0
    if result.terminated:
        raise RuntimeError(f"the oracle's closed loop shut down at {result.final_time:.2f} h")
    return elapsed


def _oracle_simulator_only(tep, steps: int) -> float:
    """Seconds per hour of the C simulator alone: ``advance`` at 1.8 s with the base-case valves."""
    plant = tep.TennesseeEastmanProcess(ms_flag=0x0F | 0x10)
    plant.reset()
    valves = plant.state[38:50].copy()
    t0 = time.perf_counter()
    for _ in range(steps):
        plant.advance(valves, control_interval=CONTROL_INTERVAL)
    return (time.perf_counter() - t0) / (steps * CONTROL_INTERVAL)


def _fmu_run(model, hours: float) -> tuple[float, float]:
    """(seconds of an fmpy co-simulation over ``hours``, export seconds) of the exported FMU."""
    import fmpy

    from twin_benchmarks.fmi import fmpy_slave
    from twin_fmus.export import export_fmu

    with tempfile.TemporaryDirectory(prefix="twin-bench-te-") as tmp:
        t0 = time.perf_counter()
        path = export_fmu(model, Path(tmp) / "te.fmu")
        exported = time.perf_counter() - t0
        fmu, _ = fmpy_slave(path, fmpy.extract(str(path), str(Path(tmp) / "u")))
        t0 = time.perf_counter()
        for k in range(int(round(hours / REPORT))):
            fmu.doStep(k * REPORT, REPORT)
        elapsed = time.perf_counter() - t0
        fmu.terminate()
        fmu.freeInstance()
    return elapsed, exported


@benchmark("te_base_layer_48h", "s per 48 h of the Tennessee Eastman plant under Ricker's decentralized "
           "control (the closed-loop model, compiled kernel, BDF, outputs every 0.01 h) vs tep-studio's C "
           "simulator under its implementation of the same control (1.8 s samples), and vs the C "
           "simulator alone; the exported FMU through fmpy (full run only)", quick_budget_s=20)
def te_base_layer_48h(ctx: BenchContext) -> FigureResult:
    from plant_models.tennessee_eastman_ricker import MODEL

    hours = ctx.size(8.0, HOURS)
    scale = HOURS / hours  # figures are per 48 h of plant time
    t0 = time.perf_counter()
    first = simulate(MODEL, hours, REPORT)  # builds (or loads) the compiled kernel
    build = time.perf_counter() - t0
    if first.event:
        raise RuntimeError(first.event)
    ours = []
    for _ in range(ctx.size(3, 5)):
        t0 = time.perf_counter()
        simulate(MODEL, hours, REPORT)
        ours.append((time.perf_counter() - t0) * scale)
    result = FigureResult(Samples(ours, "s/48h"), {})
    result.details.update(hours_per_run=hours, first_run_with_kernel_build_s=round(build, 3),
                          mean_cost_usd_per_h=float(np.mean(first.y[:, MODEL.outputs.index(
                              "operating_cost")])))
    tep = ctx.optional_module("tep_studio", "tep_studio_closed_loop")
    control = ctx.optional_module("tep_studio.control", "tep_studio_closed_loop") if tep else None
    if tep is not None and control is not None:
        runs = [_oracle_run(tep, control, hours) * scale for _ in range(ctx.size(1, 2))]
        result.baselines["tep_studio_closed_loop"] = Samples(runs, "s/48h")
        alone = _oracle_simulator_only(tep, ctx.size(2000, 8000)) * HOURS
        result.baselines["tep_studio_simulator_alone"] = Samples([alone], "s/48h")
        ratio = result.value.median / result.baselines["tep_studio_closed_loop"].median
        result.target("no_slower_than_c", "ours <= tep-studio's C simulator under the same control",
                      ratio, ratio <= 1.0)
    if not ctx.quick:
        fmu_time, exported = _fmu_run(MODEL, HOURS)
        result.baselines["fmu_fmpy_cs"] = Samples([fmu_time], "s/48h")
        result.details["fmu_export_s"] = round(exported, 3)
    return result
