"""Figure of the FMI layer: fmu_step_cstr."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from twin.core.fmu.plant import FmuPlant
from twin.core.simulator import Simulator
from twin.orchestration.registry import load_model
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark
from twin_benchmarks.kernels import _input_sequence
from twin_fmus.export import export_fmu

DT = 0.005
"""Communication step [h]."""


def fmpy_slave(path: Path, unzipped: str):
    """The FMU at ``path`` (extracted in ``unzipped``) as an initialised fmpy co-simulation
    slave, and its value references by variable name."""
    import fmpy
    from fmpy.fmi2 import FMU2Slave

    md = fmpy.read_model_description(str(path))
    fmu = FMU2Slave(guid=md.guid, unzipDirectory=unzipped,
                    modelIdentifier=md.coSimulation.modelIdentifier, instanceName="bench")
    fmu.instantiate()
    fmu.setupExperiment(startTime=0.0)
    fmu.enterInitializationMode()
    fmu.exitInitializationMode()
    vr = {v.name: v.valueReference for v in md.modelVariables}
    return fmu, vr


@benchmark("fmu_step_cstr", "us per communication step of the exported CSTR FMU (CS, fmpy "
           "doStep with inputs set and states read) vs native Simulator.step(), dt = 0.005 h",
           quick_budget_s=10)
def fmu_step_cstr(ctx: BenchContext) -> FigureResult:
    import fmpy

    model = load_model("cstr")
    n = ctx.size(2000, 20000)
    us = _input_sequence(model, n)
    clock = time.perf_counter_ns
    with tempfile.TemporaryDirectory(prefix="twin-bench-fmu-") as tmp:
        path = export_fmu(model, Path(tmp) / "cstr.fmu")
        fmu, vr = fmpy_slave(path, fmpy.extract(str(path), str(Path(tmp) / "unzipped")))
        u_refs = [vr[name] for name in model.inputs.names]
        x_refs = [vr[name] for name in model.states.names]
        fmu_times, fmu_x, step_only = [], [], []
        for k, u in enumerate(us):
            t0 = clock()
            fmu.setReal(u_refs, list(u))
            t1 = clock()
            fmu.doStep(k * DT, DT)
            t2 = clock()
            x = fmu.getReal(x_refs)
            t3 = clock()
            fmu_times.append((t3 - t0) * 1e-3)
            step_only.append((t2 - t1) * 1e-3)
            fmu_x.append(x)
        fmu.terminate()
        fmu.freeInstance()

        sim = Simulator(model, DT)
        native_times, native_x = [], []
        for u in us:
            t0 = clock()
            x = sim.step(u)
            native_times.append((clock() - t0) * 1e-3)
            native_x.append(x)

        plant_samples = {}
        n_plant = ctx.size(300, 2000)
        for label, isolate in (("fmu_plant_in_process", False), ("fmu_plant_isolated", True)):
            with FmuPlant(path, DT, isolate=isolate) as plant:
                times = []
                for u in us[:n_plant]:
                    t0 = clock()
                    plant.write(model.inputs.to_dict(u))
                    plant.step()
                    times.append((clock() - t0) * 1e-3)
                plant_samples[label] = Samples(times, "us/call")

    result = FigureResult(Samples(fmu_times, "us/call"),
                          {"native_simulator_step": Samples(native_times, "us/call"),
                           **plant_samples})
    difference = float(np.max(np.abs(np.array(fmu_x) - np.array(native_x))
                              / np.abs(np.array(native_x))))
    result.details.update(
        steps=n, dt_h=DT, method=sim.method, fmu_do_step_only_us=float(np.median(step_only)),
        max_rel_difference_fmu_vs_native=difference,
        plant_steps=n_plant)
    overhead = result.value.median / result.baselines["native_simulator_step"].median
    result.target("same_numbers", "FMU and native step agree to 1e-12 (same integrator)",
                  difference, difference <= 1e-12)
    result.target("fmu_overhead", "fmpy doStep exchange <= 20x native step()", overhead,
                  overhead <= 20)
    return result
