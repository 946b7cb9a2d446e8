"""``twin fmu export``, ``twin fmu info`` and ``twin simulate plant.fmu`` from the command line."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from support import relative_error, run_twin
from twin.core.fmu.description import describe_fmu


def test_export_with_parameter_overrides(tmp_path, capsys):
    path = tmp_path / "hot.fmu"
    code, out, _ = run_twin(capsys, "fmu", "export", "cstr", "--set", "T_in=104.9", "-o",
                            str(path), "--json")
    assert code == 0 and json.loads(out)["fmu"] == str(path)
    d = describe_fmu(path)
    assert d.variables["T_in"].start == 104.9 and d.variables["beta"].start == 1.0


@pytest.mark.parametrize("args,message", [
    (["fmu", "export", "cstr", "-o", "x.zip"], "use the .fmu suffix"),
    (["fmu", "export", "nope", "-o", "x.fmu"], "unknown model 'nope'"),
    (["fmu", "export", "cstr", "--set", "T_ni=1", "-o", "x.fmu"], "unknown parameter 'T_ni'"),
    (["fmu", "info", "missing.fmu"], "FMU 'missing.fmu' does not exist"),
    (["simulate", "missing.fmu", "--t-end", "1", "--dt", "0.1", "--out", "r.csv"],
     "FMU 'missing.fmu' does not exist"),
])
def test_bad_fmu_commands_are_one_line_errors(args, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_twin(capsys, *args)
    assert code == 2 and err.count("\n") == 1 and message in err


def test_info_lists_variables_with_units(exported, capsys):
    code, out, _ = run_twin(capsys, "fmu", "info", str(exported("cstr")), "--json")
    data = json.loads(out)
    assert code == 0 and data["fmi_version"] == "2.0" and data["time_unit"] == "h"
    assert data["interfaces"] == ["Co-Simulation", "Model Exchange"]
    assert [(v["name"], v["unit"]) for v in data["states"]][2] == ("T_R", "degC")


@pytest.mark.parametrize("interface", ["cs", "me"])
def test_simulate_fmu_matches_simulate_model(exported, tmp_path, capsys, interface):
    schedule = tmp_path / "steps.csv"
    schedule.write_text("time,F\n0.03,18.0\n0.06,15.0\n")
    common = ["--t-end", "0.1", "--dt", "0.005", "--u", "Q_dot=-1500", "--inputs",
              str(schedule)]
    code, _, err = run_twin(capsys, "simulate", str(exported("cstr")), *common, "--interface",
                            interface, "--no-isolate", "--out", str(tmp_path / "fmu.csv"),
                            "--plot", str(tmp_path / "fmu.png"))
    assert code == 0, err
    code, _, err = run_twin(capsys, "simulate", "cstr", *common, "--backend", "reference",
                            "--out", str(tmp_path / "model.csv"))
    assert code == 0, err
    fmu, model = pd.read_csv(tmp_path / "fmu.csv"), pd.read_csv(tmp_path / "model.csv")
    assert list(fmu.columns) == list(model.columns)
    assert relative_error(fmu.to_numpy(), model.to_numpy()) < 1e-6
    assert fmu["F"].iloc[-1] == 15.0 and (tmp_path / "fmu.png").stat().st_size > 10_000
    assert np.ptp(fmu["C_b"]) > 0.05


def test_simulate_fmu_rejects_model_only_options(exported, tmp_path, capsys):
    code, _, err = run_twin(capsys, "simulate", str(exported("cstr")), "--t-end", "0.1", "--dt",
                            "0.01", "--steady-start", "--out", str(tmp_path / "r.csv"))
    assert code == 2 and "apply to models, not to FMUs" in err
    code, _, err = run_twin(capsys, "simulate", str(exported("cstr")), "--t-end", "0.1", "--dt",
                            "0.01", "--x0", "F=1", "--out", str(tmp_path / "r.csv"))
    assert code == 2 and "--x0 F: not a state of FMU 'cstr'" in err
