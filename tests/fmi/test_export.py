"""Exported FMUs of every plant model: valid, runnable by fmpy, state-complete, rebuildable."""

from __future__ import annotations

import shutil
import subprocess
import zipfile

import fmpy
import numpy as np
import pytest
from fmpy.fmi2 import FMU2Slave
from fmpy.validation import validate_fmu

import twin
from fmu_builders import run_twin
from support import HORIZON, random_points, relative_error
from twin.core import ops
from twin.core.fmu.description import describe_fmu
from twin.core.fmu.instance import FmuInstance


def test_model_description_is_valid(model_fmu):
    model, path = model_fmu
    assert validate_fmu(str(path)) == []
    d = describe_fmu(path)
    assert d.fmi_version == 2 and d.time_unit == model.time_unit
    assert d.states == model.states.names
    assert d.inputs == model.inputs.names and d.outputs == model.outputs.names
    for group in (model.states, model.inputs, model.parameters, model.outputs):
        for v in group:
            assert d.variables[v.name].unit == v.unit
    md = d.model_description
    assert md.coSimulation.canGetAndSetFMUstate and md.coSimulation.canSerializeFMUstate
    assert md.modelExchange.canGetAndSetFMUstate and md.numberOfEventIndicators == 0
    for unknowns in (md.outputs, md.derivatives, md.initialUnknowns):  # the schema's index order
        indices = [md.modelVariables.index(u.variable) for u in unknowns]
        assert indices == sorted(indices)


@pytest.mark.parametrize("fmi_type", ["ModelExchange", "CoSimulation"])
def test_fmpy_simulates_both_interfaces_like_the_reference_backend(model_fmu, fmi_type):
    """Every state at 51 output times, against CVODES at tight tolerances from the same start."""
    model, path = model_fmu
    t_end = HORIZON[model.name]
    result = fmpy.simulate_fmu(str(path), stop_time=t_end, output_interval=t_end / 50,
                               fmi_type=fmi_type, output=model.states.names,
                               relative_tolerance=1e-10)
    reference = twin.simulate(model, t_end, t_end / 50, backend="reference", rtol=1e-12,
                              atol=1e-12)
    assert result["time"] == pytest.approx(reference.t, abs=1e-12 * t_end)
    got = np.column_stack([result[n] for n in model.states.names])
    error = relative_error(got, reference.x)
    print(f"{model.name} {fmi_type}: largest relative difference to CVODES {error:.1e}")
    assert error < 1e-6
    assert relative_error(reference.x[-1], reference.x[0]) > 100 * 1e-6  # they moved, far more


def _slave(path, unzipped):
    md = fmpy.read_model_description(str(path))
    fmu = FMU2Slave(guid=md.guid, unzipDirectory=unzipped,
                    modelIdentifier=md.coSimulation.modelIdentifier, instanceName="rt")
    fmu.instantiate()
    fmu.setupExperiment(startTime=0.0)
    fmu.enterInitializationMode()
    fmu.exitInitializationMode()
    vrs = [v.valueReference for v in md.modelVariables if v.causality == "local"
           and v.derivative is None and v.variability == "continuous"]
    return fmu, vrs


def test_state_round_trip_continues_identically(model_fmu, tmp_path):
    """get/set and serialise/deserialise through fmpy's raw FMI 2 calls (Co-Simulation)."""
    model, path = model_fmu
    unzipped = fmpy.extract(str(path), str(tmp_path / "u"))
    fmu, vrs = _slave(path, unzipped)
    h = HORIZON[model.name] / 40

    def run(t0, n):
        out = []
        for k in range(n):
            fmu.doStep(t0 + k * h, h)
            out.append(fmu.getReal(vrs))
        return np.array(out)

    run(0.0, 5)
    state = fmu.getFMUstate()
    blob = fmu.serializeFMUstate(state)
    first = run(5 * h, 10)
    fmu.setFMUstate(state)
    second = run(5 * h, 10)
    fmu.setFMUstate(fmu.deSerializeFMUstate(blob))
    third = run(5 * h, 10)
    assert np.array_equal(first, second) and np.array_equal(first, third)
    assert not np.array_equal(first[0], first[-1])
    fmu.freeFMUstate(state)
    fmu.terminate()
    fmu.freeInstance()


def test_derivatives_equal_the_model_rhs(model_fmu):
    """fmi2GetDerivatives at random points, against the model's equations in plain Python."""
    model, path = model_fmu
    d = describe_fmu(path, "me")
    with FmuInstance(d, watch=d.states) as fmu:
        for x, u, p in random_points(model, 5, seed=11):
            fmu.set(model.inputs.to_dict(u))
            got = fmu.derivatives(x)
            want = np.array(model.evaluate_rhs(list(x), list(u), list(p), ops.MATH), dtype=float)
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.max(np.abs(want)))


def test_rebuild_from_sources_gives_identical_results(model_fmu, tmp_path):
    model, path = model_fmu
    if shutil.which("sh") is None:
        pytest.skip("no POSIX shell")
    src = tmp_path / "fmu"
    with zipfile.ZipFile(path) as z:
        z.extractall(src)
    done = subprocess.run(["sh", str(src / "sources" / "build.sh")], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    identifier = describe_fmu(path).identifier
    binary = src / "sources" / f"{identifier}.so"
    assert binary.is_file() and binary.read_bytes() != b""
    rebuilt = tmp_path / f"{identifier}.fmu"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(rebuilt, "w") as zout:
        for item in zin.infolist():
            data = binary.read_bytes() if item.filename.endswith(f"linux64/{identifier}.so") \
                else zin.read(item.filename)
            zout.writestr(item, data)
    t_end = HORIZON[model.name]
    runs = [fmpy.simulate_fmu(str(p), stop_time=t_end, output_interval=t_end / 20,
                              fmi_type="CoSimulation", output=model.states.names)
            for p in (path, rebuilt)]
    for name in model.states.names:
        assert np.array_equal(runs[0][name], runs[1][name])


def test_reset_restores_every_start_value_and_solver_setting(exported, tmp_path):
    path = exported("cstr")
    fmu, _ = _slave(path, fmpy.extract(str(path), str(tmp_path / "u")))
    md = fmpy.read_model_description(str(path))
    vr = {v.name: v.valueReference for v in md.modelVariables}
    method, substeps = vr["solver_method"], vr["solver_substeps"]
    before = fmu.getInteger([method, substeps]) + fmu.getReal([vr["solver_rtol"], vr["T_in"]])
    fmu.setInteger([method, substeps], [0, 1])
    fmu.setReal([vr["solver_rtol"], vr["T_in"]], [1e-3, 104.9])
    fmu.doStep(0.0, 0.01)
    fmu.reset()
    after = fmu.getInteger([method, substeps]) + fmu.getReal([vr["solver_rtol"], vr["T_in"]])
    assert after == before == [1, 10, 1e-8, 130.0]
    fmu.freeInstance()


def test_guid_changes_with_what_is_compiled_in(exported, tmp_path):
    hot = tmp_path / "hot.fmu"
    assert run_twin("fmu", "export", "cstr", "--set", "T_in=104.9", "-o", str(hot)).returncode == 0
    assert describe_fmu(hot).guid != describe_fmu(exported("cstr")).guid
