"""`--duration T` of `twin control` and `twin whatif`: one run of another length than its file says.

The file's own run length is replaced for that run only; a loop's events
after the end are dropped with one warning line naming them; bad values
and lengths a study cannot take are refused in one line (exit status 2).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from support import run_twin, the_error_line
from twin.orchestration.examples import FOLDER


def test_control_runs_for_the_given_duration_and_names_the_events_it_drops(capsys, tmp_path):
    code, stdout, err = run_twin(capsys, "control", "cstr_apc.toml", "--duration", "0.05",
                                 "--out", str(tmp_path / "run"), "--json")
    assert code == 0, err
    assert json.loads(stdout)["cycles"] == 11  # 0.05 h of 0.005 h samples, both ends (the file: 121)
    assert ("twin: warning: --duration 0.05 ends the run before an event of the loop file "
            "(at time 0.3); it does not happen") in err.splitlines()
    cycles = pd.read_parquet(tmp_path / "run" / "cycles.parquet")
    assert cycles["time"].max() == pytest.approx(0.05)
    assert (cycles["C_b.setpoint"] == 0.6).all()  # the setpoint step to 0.7 at 0.3 h did not happen


@pytest.mark.parametrize("value, message", [
    ("0", "--duration 0: give a positive, finite run time in the model's time unit"),
    ("-1", "--duration -1: give a positive, finite run time in the model's time unit"),
    ("nan", "--duration nan: give a positive, finite run time in the model's time unit"),
    ("inf", "--duration inf: give a positive, finite run time in the model's time unit"),
    ("1e9", "--duration 1e+09: more than 1e+09 plant ticks of 0.0005 (plant.tick)"),
    ("soon", "Invalid value for '--duration': 'soon' is not a valid float."),
], ids=["zero", "negative", "nan", "inf", "too_many_ticks", "not_a_number"])
def test_control_refuses_a_bad_duration_in_one_line_before_writing_anything(value, message, capsys,
                                                                            tmp_path):
    code, stdout, err = run_twin(capsys, "control", "cstr_apc.toml", "--duration", value,
                                 "--out", str(tmp_path / "run"))
    assert code == 2 and stdout == ""
    assert the_error_line(err) == f"twin: error: {message}"
    assert not (tmp_path / "run").exists()


def test_whatif_runs_each_scenario_for_the_given_duration(capsys, tmp_path):
    code, stdout, err = run_twin(capsys, "whatif", "study.toml", "--duration", "0.1",
                                 "--out", str(tmp_path / "short"), "--json")
    assert code == 0, err
    assert json.loads(stdout)["scenarios"] == 9  # the 3 x 3 grid (its nominal scenario is on it)
    series = pd.read_parquet(tmp_path / "short" / "timeseries" / "scenario-000000.parquet")
    assert series["time"].max() == pytest.approx(0.1)  # the file's duration is 0.5 h
    assert len(series) == 21
    assert (series["F"] == 14.19).all()  # the file's step of F at 0.2 h comes after the end


def test_whatif_refuses_a_duration_its_study_cannot_take(capsys, tmp_path):
    code, _, err = run_twin(capsys, "whatif", "study.toml", "--duration", "0.0123",
                            "--out", str(tmp_path / "a"))
    assert code == 2
    assert the_error_line(err) == ("twin: error: --duration 0.0123: duration 0.0123 is not a whole "
                                   "number of base.dt = 0.005 intervals")
    shutil.copy(FOLDER / "cstr_rto_apc.toml", tmp_path)
    study = (FOLDER / "cstr_apc_rto_sobol.toml").read_text().replace("loop_events = false",
                                                                      "loop_events = true")
    (tmp_path / "sobol.toml").write_text(study)
    code, _, err = run_twin(capsys, "whatif", str(tmp_path / "sobol.toml"), "--duration", "0.5",
                            "--out", str(tmp_path / "b"))
    assert code == 2
    assert the_error_line(err) == (
        "twin: error: --duration 0.5: the loop file cstr_rto_apc.toml has an event after it (at "
        "time 1.2); give a longer --duration, or base.loop_events = false in the study to leave "
        "the loop's events out")
    (tmp_path / "f.toml").write_text(
        'title = "f"\n[base]\nkind = "function"\nfunction = "ishigami"\n'
        + "".join(f'[[variable]]\nname = "x{k}"\nlow = -3.0\nhigh = 3.0\n' for k in (1, 2, 3))
        + '[sampling]\nmethod = "lhs"\nn = 8\n')
    code, _, err = run_twin(capsys, "whatif", str(tmp_path / "f.toml"), "--duration", "1",
                            "--out", str(tmp_path / "c"))
    assert code == 2
    assert the_error_line(err) == ("twin: error: --duration: a function study has no run time "
                                   "(base.kind = 'function')")
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c"))
