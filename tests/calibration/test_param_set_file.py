"""A parameter-set file is accepted wherever a published set's name is: --param-set FILE, loop files."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from support import CSTR_LOOP, run_twin, the_error_line
from twin.core.param_file import read_param_file, write_param_file
from twin.orchestration.registry import load_model

FILE = """
[parameter_set]
model = "cstr"
base = "literature"
description = "hand-written: the literature set with the plant's kinetics"

[parameters]
beta = 0.9

[parameters.alpha]
value = 1.05
unit = "-"
low95 = 1.04
high95 = 1.06

[parameters.T_in]
value = 378.05
unit = "K"
"""


@pytest.fixture
def param_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plant.toml").write_text(FILE)
    return "plant.toml"


def test_steady_with_a_file_equals_the_set_with_the_values(capsys, param_file):
    code, out, err = run_twin(capsys, "steady", "cstr", "--param-set", param_file, "--json")
    assert code == 0, err
    by_file = json.loads(out)
    code, out, _ = run_twin(capsys, "steady", "cstr", "--param-set", "literature", "--set",
                            "beta=0.9", "--set", "alpha=1.05", "--set", "T_in=104.9", "--json")
    by_name = json.loads(out)
    for name, value in by_name["states"].items():
        assert by_file["states"][name] == pytest.approx(value, rel=1e-9)
    # beta < 1 slows A -> B: less B than Klatt & Engell's 1.09 mol/L
    assert 0.9 < by_file["states"]["C_b"] < 1.08
    assert by_file["parameter_set"] == "file plant"


def test_simulate_uses_the_file(capsys, param_file, tmp_path):
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.2", "--dt", "0.05",
                            "--param-set", param_file, "--out", "run.csv")
    assert code == 0, err
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.2", "--dt", "0.05",
                            "--out", "nominal.csv")
    file_run, nominal = pd.read_csv("run.csv"), pd.read_csv("nominal.csv")
    c_b = [c for c in file_run.columns if c.startswith("C_b")][0]
    # the literature feed temperature (104.9 degC, given in K) makes a different trajectory
    assert np.max(np.abs(file_run[c_b] - nominal[c_b])) > 0.05


def test_control_loop_file_names_the_file_relative_to_itself(capsys, param_file, tmp_path):
    loop = CSTR_LOOP.format(plant=f'parameter_set = "{param_file}"\n'
                            'u0 = {{ F = 14.19, Q_dot = -1113.5 }}\nsteady_start = true'
                            .replace("{{", "{").replace("}}", "}"))
    loop = loop.replace('model = "cstr"\nsample_time',
                        f'model = "cstr"\nparameter_set = "{param_file}"\nsample_time')
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "loop.toml").write_text(loop)
    (tmp_path / param_file).rename(folder / param_file)  # beside the loop file, not here
    code, out, err = run_twin(capsys, "control", "configs/loop.toml", "--out", "run", "--json")
    assert code == 0, err
    assert json.loads(out)["cycles"] == 3
    first = pd.read_parquet(tmp_path / "run" / "cycles.parquet").iloc[0]
    code, out, _ = run_twin(capsys, "steady", "cstr", "--param-set", f"configs/{param_file}",
                            "--json")
    steady = json.loads(out)["states"]
    # the plant started at the file's steady state (C_a 3.04 mol/L, not do-mpc's)
    for name in ("C_a", "T_R"):
        assert first[f"{name}.plant"] == pytest.approx(steady[name], rel=1e-6)
    assert steady["C_a"] == pytest.approx(3.04, abs=0.01)


def test_wrong_model_and_unknown_names_are_one_line_errors(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "qt.toml").write_text(FILE)
    code, _, err = run_twin(capsys, "steady", "quadruple_tank", "--param-set", "qt.toml")
    assert code == 2
    assert "is for model 'cstr', not 'quadruple_tank'" in the_error_line(err)
    (tmp_path / "bad.toml").write_text(FILE.replace("beta = 0.9", "gamma = 0.9"))
    code, _, err = run_twin(capsys, "steady", "cstr", "--param-set", "bad.toml")
    assert code == 2 and "unknown parameter 'gamma'" in the_error_line(err)
    (tmp_path / "unit.toml").write_text(FILE.replace('unit = "K"', 'unit = "kg"'))
    code, _, err = run_twin(capsys, "steady", "cstr", "--param-set", "unit.toml")
    assert code == 2 and "cannot be converted" in the_error_line(err)


def test_written_file_reads_back_with_units_and_intervals(tmp_path):
    path = write_param_file(tmp_path / "w.toml", "cstr", {"beta": 0.91, "T_in": 104.9},
                            {"beta": "-", "T_in": "degC"}, base="do-mpc",
                            intervals={"beta": {"std": 0.01, "low95": 0.89, "high95": 0.93}},
                            provenance={"data": "x.csv", "skip": None})
    content = read_param_file(path)
    assert content.model == "cstr" and content.base == "do-mpc"
    assert content.intervals["beta"] == {"std": 0.01, "low95": 0.89, "high95": 0.93}
    model = load_model("cstr", parameter_set=str(path))
    assert model.parameters["beta"].nominal == 0.91
    assert model.parameters["T_in"].nominal == pytest.approx(104.9)


def test_fmu_export_starts_from_the_file_values(capsys, param_file, tmp_path):
    import re
    import zipfile

    code, _, err = run_twin(capsys, "fmu", "export", "cstr", "--param-set", param_file,
                            "-o", "plant.fmu")
    assert code == 0, err
    xml = zipfile.ZipFile(tmp_path / "plant.fmu").read("modelDescription.xml").decode()

    def start(name):
        block = re.search(rf'name="{name}".*?start="([^"]+)"', xml, re.S)
        return float(block.group(1))

    assert start("beta") == 0.9 and start("alpha") == 1.05
    assert start("T_in") == pytest.approx(104.9)  # given as 378.05 K


@pytest.mark.parametrize("text, expected", [
    ('[parameter_set]\nmodel = "cstr"\n[parameters.beta]\nvalue = 0.9\nstd = "x"\n',
     "parameters.beta.std must be a number"),
    ('[parameter_set]\nmodel = "cstr"\n[parameters.beta]\nvalue = 0.9\nunit = 5\n',
     "parameters.beta.unit must be text"),
    ('[parameter_set]\nmodel = "cstr"\n[parameters.beta]\nvalue = true\n', "beta"),
    ('[parameter_set]\nmodel = "cstr"\n[parameters]\nbeta = [1, 2]\n', "beta"),
    ('[parameter_set]\nmodel = "cstr"\n[parameters.beta]\nunit = "-"\n', "parameters.beta has no 'value'"),
    ('[parameter_set]\nmodel = "cstr"\nbase = "nope"\n[parameters]\nbeta = 0.9\n',
     "unknown parameter set 'nope'"),
    ('parameter_set = 3\n[parameters]\nbeta = 0.9\n', "needs a [parameter_set] table"),
    ('[parameter_set]\nmodel = 3\n[parameters]\nbeta = 0.9\n', "parameter_set.model must be"),
    ("[parameter_set\n", "plant.toml"),
])
def test_hostile_parameter_set_files_are_one_line_errors(capsys, tmp_path, monkeypatch, text,
                                                          expected):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plant.toml").write_text(text)
    code, out, err = run_twin(capsys, "steady", "cstr", "--param-set", "plant.toml")
    assert code == 2 and out == ""
    assert expected in the_error_line(err)
