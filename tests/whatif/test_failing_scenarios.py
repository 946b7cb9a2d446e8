"""Failing scenarios are rows with their errors; the study always finishes."""

from __future__ import annotations

import pandas as pd

from twin.orchestration.registry import load_model
from twin.orchestration.whatif import load_study, run_study
from twin_fmus.export import export_fmu


def test_integration_failure_and_nan_are_recorded(write_study, tmp_path):
    study = load_study(write_study("""
seed = 1
duration = 0.1
[base]
kind = "open_loop"
model = "cstr"
u = { F = 14.19, Q_dot = -1113.5 }
dt = 0.01
[[variable]]
name = "E_ab"
[[variable]]
name = "C_b"
kind = "initial_state"
[sampling]
method = "list"
scenarios = [ { E_ab = 9758.3, C_b = 0.5 }, { E_ab = -1.0e5, C_b = 0.5 },
              { E_ab = 9758.3, C_b = 0.6 } ]
[[kpi]]
name = "log_C_b"
kind = "expression"
expression = "log(C_b - 0.55)"
of = "min"
"""))
    result = run_study(study, tmp_path / "out")
    summary = pd.read_parquet(result.summary).set_index("scenario")
    assert list(summary.status) == ["failed", "failed", "ok"]
    assert summary.error[1].startswith("integration failed")
    assert summary.error[0] == "KPI log_C_b is not finite"  # log of a negative number
    assert summary.error[2] == "" and summary.log_C_b[2] == summary.log_C_b[2]
    assert result.failed == 2 and result.report.is_file()


def test_failing_fmu_and_nan_function(write_study, tmp_path):
    fmu = export_fmu(load_model("cstr"), tmp_path / "cstr.fmu")
    study = load_study(write_study(f"""
seed = 1
duration = 0.05
[base]
kind = "open_loop"
model = "{fmu}"
u = {{ F = 14.19, Q_dot = -1113.5 }}
dt = 0.01
[[variable]]
name = "E_ab"
[sampling]
method = "list"
scenarios = [ {{ E_ab = 9758.3 }}, {{ E_ab = -1.0e5 }} ]
[[kpi]]
name = "C_b_final"
variable = "C_b"
"""))
    summary = pd.read_parquet(run_study(study, tmp_path / "fmu").summary)
    assert list(summary.status) == ["ok", "failed"]
    assert "fmi2DoStep returned error" in summary.error[1]
    function = load_study(write_study("""
[base]
kind = "function"
function = "study_functions:sometimes_nan"
[[variable]]
name = "x"
[sampling]
method = "list"
scenarios = [ { x = 0.2 }, { x = 0.9 } ]
""", "function.toml"))
    summary = pd.read_parquet(run_study(function, tmp_path / "function").summary)
    assert list(summary.status) == ["ok", "failed"]
    assert summary.error[1] == "NaN or infinity in output y" and summary.y[0] == 0.2


def test_a_scenario_that_kills_its_worker_is_recorded(write_study, tmp_path):
    study = load_study(write_study("""
[base]
kind = "function"
function = "study_functions:crash_above"
[[variable]]
name = "x"
[sampling]
method = "list"
scenarios = [ { x = 0.1 }, { x = 0.9 }, { x = 0.2 }, { x = 0.3 } ]
"""))
    summary = pd.read_parquet(run_study(study, tmp_path / "out", workers=2, chunk_size=2).summary)
    assert list(summary.status) == ["ok", "failed", "ok", "ok"]
    assert summary.error[1].startswith("its worker process died")
    assert list(summary.y[[0, 2, 3]]) == [0.1, 0.2, 0.3]
