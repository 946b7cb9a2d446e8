"""Failing FMUs: every fault becomes a clear error naming the FMU and the time, with its log."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from support import run_twin
from twin.core.fmu.log import FmuError
from twin.core.fmu.plant import FmuPlant


def _error_line(stderr: str) -> str:
    """The one error line (progress labels may precede it on stderr)."""
    errors = [line for line in stderr.splitlines() if line.startswith("twin: error:")]
    assert len(errors) == 1 and stderr.rstrip().endswith(errors[0])
    return errors[0]


def _fail(path, tick, start, **options) -> FmuError:
    with pytest.raises(FmuError) as caught:
        with FmuPlant(path, tick, start=start, time_unit="h", **options) as plant:
            plant.advance(10 * tick)
    return caught.value


@pytest.mark.parametrize("isolate", [False, True])
def test_do_step_error_names_fmu_time_and_log(pythonfmu_cstr, isolate):
    err = _fail(pythonfmu_cstr, 0.005, {"fail_after": 0.02}, isolate=isolate)
    text = str(err)
    assert text.startswith("FMU 'CstrPy' failed at t = 0.015 h: fmi2DoStep returned discard")
    assert "FMU log: [error] logStatusError: injected failure in do_step at t = 0.015" in text
    assert err.fmu == "CstrPy" and err.time == pytest.approx(0.015) and "\n" not in text


def test_nan_outputs_are_an_error_not_a_result(pythonfmu_cstr):
    err = _fail(pythonfmu_cstr, 0.005, {"nan_after": 0.02}, isolate=False)
    assert str(err).startswith("FMU 'CstrPy' failed at t = 0.02 h: non-finite value of C_a, "
                               "C_b, T_R, T_K")


@pytest.mark.parametrize("interface,fault,message", [
    ("cs", 1, "fmi3DoStep returned error; FMU log: [error] logStatusError: injected failure in "
              "fmi3DoStep at t = 0.02"),
    ("me", 1, "fmi3GetContinuousStateDerivatives returned error; FMU log: [error] "
              "logStatusError: injected failure in the derivatives"),
    ("cs", 2, "non-finite value of C_a, C_b, T_R, T_K"),
    ("me", 2, "integration over [0.02, 0.03] failed"),
])
def test_fmi3_faults(fmi3_cstr, interface, fault, message):
    err = _fail(fmi3_cstr, 0.01, {"fault": fault, "fault_time": 0.02}, interface=interface,
                isolate=False)
    assert str(err).startswith("FMU 'cstr3' failed at t = 0.0")
    assert message in str(err)


def test_exported_fmu_integration_failure(exported):
    err = _fail(exported("cstr"), 0.01, {"E_ab": -1e5}, isolate=False)
    assert "fmi2DoStep returned error" in str(err)
    assert "integration failed between t = 0 and 0.01" in str(err)


def test_a_crash_in_do_step_is_an_error_when_isolated(fmi3_cstr):
    err = _fail(fmi3_cstr, 0.01, {"fault": 3, "fault_time": 0.03}, isolate=True)
    assert str(err).startswith("FMU 'cstr3' failed at t = 0.02 h: the step to t = 0.03 crashed "
                               "the FMU (killed by SIGSEGV)")


def test_a_hung_fmu_is_stopped_after_the_timeout(fmi3_cstr):
    err = _fail(fmi3_cstr, 0.01, {"fault": 4, "fault_time": 0.02}, isolate=True, timeout=2.0)
    assert str(err).startswith("FMU 'cstr3' failed at t = 0.02 h: the step to t = 0.03 did not "
                               "return within 2 s (the FMU hangs)")


def test_control_run_on_a_failing_fmu_keeps_its_records(pythonfmu_cstr, tmp_path, capsys):
    from twin.orchestration.examples import example

    text = example("cstr_apc.toml").read_text()
    text = text.replace('model = "cstr"\nparameters = { alpha = 1.05, beta = 1.1 }\n'
                        'x0 = { C_a = 0.8, C_b = 0.5, T_R = 134.14, T_K = 130.0 }',
                        f'model = "{pythonfmu_cstr}"\n'
                        'parameters = { alpha = 1.05, beta = 1.1, fail_after = 0.05 }', 1)
    assert str(pythonfmu_cstr) in text
    config = tmp_path / "loop.toml"
    config.write_text(text)
    code, _, err = run_twin(capsys, "control", str(config), "--out", str(tmp_path / "run"))
    assert code == 2
    assert _error_line(err).startswith("twin: error: FMU 'CstrPy' failed at t = 0.0495 h: fmi2DoStep "
                          "returned discard")
    db = sqlite3.connect(tmp_path / "run" / "cycles.sqlite")
    cycles = db.execute("SELECT COUNT(*), MAX(t) FROM cycle").fetchone()
    event = db.execute("SELECT kind, message FROM event WHERE kind = 'plant_failure'").fetchone()
    assert cycles == (10, pytest.approx(0.045))
    assert event[0] == "plant_failure" and "injected failure" in event[1]


def test_cli_simulate_of_a_failing_fmu_is_one_line(pythonfmu_cstr, tmp_path, capsys):
    code, _, err = run_twin(capsys, "simulate", str(pythonfmu_cstr), "--t-end", "0.1", "--dt",
                            "0.01", "--set", "nan_after=0.05", "--out", str(tmp_path / "r.csv"))
    assert code == 2
    assert _error_line(err).startswith("twin: error: FMU 'CstrPy' failed at t = 0.05: non-finite value")
    assert not (tmp_path / "r.csv").exists()


def _with_guid(path, tmp_path, guid: str):
    """A copy of an FMU whose modelDescription.xml claims another GUID."""
    import re
    import zipfile

    copy = tmp_path / f"wrong_guid_{path.name}"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(copy, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "modelDescription.xml":
                data = re.sub(rb'guid="[^"]+"', f'guid="{guid}"'.encode(), data, count=1)
            zout.writestr(item, data)
    return copy


@pytest.mark.parametrize("isolate", [False, True])
def test_an_fmu_refusing_to_instantiate_is_one_clear_error(exported, tmp_path, isolate):
    path = _with_guid(exported("cstr"), tmp_path, "{00000000-0000-0000-0000-000000000000}")
    with pytest.raises(FmuError) as caught:
        FmuPlant(path, 0.01, isolate=isolate)
    text = str(caught.value)
    assert text.startswith(f"FMU '{path.stem}' failed at t = 0 h: fmi2Instantiate failed")
    assert "GUID" in text and "\n" not in text


def test_cli_error_on_a_broken_fmu_is_the_only_stderr_line(exported, tmp_path, capsys):
    path = _with_guid(exported("cstr"), tmp_path, "{00000000-0000-0000-0000-000000000000}")
    code, _, err = run_twin(capsys, "simulate", str(path), "--t-end", "0.1", "--dt", "0.01",
                            "--out", str(tmp_path / "r.csv"))
    assert code == 2 and err.count("\n") == 1 and "fmi2Instantiate failed" in err


def test_restart_from_a_saved_state_after_an_error(exported):
    with FmuPlant(exported("cstr"), 0.01, isolate=False, time_unit="h") as plant:
        plant.advance(0.02)
        snap = plant.snapshot()
        plant.set_parameters({"E_ab": -1e5})
        with pytest.raises(FmuError, match="integration failed"):
            plant.advance(0.02)
        plant.restore(snap)  # the saved state holds the parameters of its time
        plant.advance(0.02)
        assert plant.time == pytest.approx(0.04) and np.isfinite(plant.truth()["C_b"])


def test_fmu_without_a_binary_for_this_platform_is_refused(exported, tmp_path, capsys):
    import zipfile

    path = tmp_path / "sources_only.fmu"
    with zipfile.ZipFile(exported("cstr")) as zin, zipfile.ZipFile(path, "w") as zout:
        for item in zin.infolist():
            if not item.filename.startswith("binaries/"):
                zout.writestr(item, zin.read(item.filename))
    code, _, err = run_twin(capsys, "simulate", str(path), "--t-end", "0.1", "--dt", "0.01",
                            "--out", str(tmp_path / "r.csv"))
    assert code == 2 and err.count("\n") == 1
    assert "has no binary for this platform (binaries/linux64/cstr.so); it has: no binaries" in err
