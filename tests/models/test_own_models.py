"""Bringing your own model: model files by path, entry points, `twin new-model`, checks on load."""

from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import run_twin, the_error_line
from twin.orchestration.new_model import new_model

TWIN = str(Path(sys.executable).with_name("twin"))


@pytest.fixture
def folders(tmp_path, monkeypatch, capsys):
    """``models/`` with the files of `twin new-model reactor`, and ``work/`` (the cwd)."""
    models, work = tmp_path / "models", tmp_path / "work"
    models.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    code, out, err = run_twin(capsys, "new-model", "reactor", "--to", str(models))
    assert code == 0, err
    assert sorted(p.name for p in models.iterdir()) == ["reactor.py", "reactor_loop.toml",
                                                         "reactor_study.toml"]
    return models, work


def test_new_model_files_run_every_command_from_another_folder(folders, capsys):
    models, work = folders
    # No PYTHONPATH and nothing on sys.path: the model file is found by its path alone.
    assert not any(Path(p or ".").resolve() in (models, work) for p in sys.path)
    code, out, err = run_twin(capsys, "steady", "../models/reactor.py", "--u", "T_c=315", "--json")
    assert code == 0, err
    steady = json.loads(out)["states"]
    assert steady["T"] == pytest.approx(338.44, abs=0.02)  # colder coolant, colder reactor
    assert steady["C_A"] == pytest.approx(0.7014, abs=1e-3)  # less conversion

    code, out, err = run_twin(capsys, "simulate", "../models/reactor.py", "--t-end", "10",
                              "--dt", "0.1", "--u", "T_c=315", "--out", "run.csv")
    assert code == 0, err
    run = pd.read_csv(work / "run.csv")
    assert run["T"].iloc[0] == pytest.approx(350.0)  # from the nominal state ...
    assert run["T"].iloc[-1] == pytest.approx(steady["T"], abs=0.05)  # ... to the steady state

    code, out, err = run_twin(capsys, "control", str(models / "reactor_loop.toml"),
                              "--out", "ctl", "--json")
    assert code == 0, err
    control = json.loads(out)
    assert control["cycles"] == 31 and control["kpis"]["failures"] == 0
    log = pd.read_parquet(work / "ctl" / "cycles.parquet")
    assert log["T.setpoint"].iloc[-1] == 345.0
    assert log["T.plant"].iloc[-1] == pytest.approx(345.0, abs=0.5)  # tracks the setpoint step
    before_step = log.loc[log["time"] < 1.5, "T_c"].iloc[-1]
    assert log["T_c"].iloc[-1] < before_step - 1.0  # by cooling harder

    code, out, err = run_twin(capsys, "fmu", "export", "../models/reactor.py", "-o", "reactor.fmu")
    assert code == 0, err
    with zipfile.ZipFile(work / "reactor.fmu") as z:
        assert z.read("documentation/reactor_model.py").decode() == \
            (models / "reactor.py").read_text()

    code, out, err = run_twin(capsys, "whatif", str(models / "reactor_study.toml"),
                              "--out", "study", "--json")
    assert code == 0, err
    assert json.loads(out)["scenarios"] == 11 and json.loads(out)["failed"] == 0
    summary = pd.read_parquet(work / "study" / "summary.parquet").sort_values("UA")
    assert (summary["status"] == "ok").all()
    assert np.all(np.diff(summary["T_max"]) < 0)  # a better jacket, a lower peak temperature
    assert summary["T_max"].iloc[-1] == pytest.approx(361.2, abs=0.5)  # nominal UA

    # The FMU runs without the model file, and agrees with the model.
    shutil.rmtree(models)
    code, out, err = run_twin(capsys, "simulate", "reactor.fmu", "--t-end", "10", "--dt", "0.1",
                              "--u", "T_c=315", "--out", "fmu.csv")
    assert code == 0, err
    fmu = pd.read_csv(work / "fmu.csv")
    assert np.allclose(fmu["T"], run["T"], atol=1e-4)


EDITS = {
    "math.exp": (("ops.exp(-p.E_R", "math.exp(-p.E_R"), "use ops.exp instead of math.exp"),
    "numpy.exp": (("ops.exp(-p.E_R", "numpy.exp(-p.E_R"), "use ops.exp instead of numpy.exp"),
    "float()": (("p.k0 * ops", "float(p.k0 * x.T) / x.T * ops"), "use the functions of ops"),
    "max()": (("p.k0 * ops", "max(p.k0, x.C_A) * ops"), "compares or branches on a model variable"),
    "division by zero": (('"C_A": p.q / p.V', '"C_A": p.q / (p.V - 100.0)'),
                         "the rhs equation of state 'C_A' is inf at the nominal point"),
    "log of a negative": (("rate = p.k0", "rate = ops.log(-x.T) * p.k0"),
                          "the rhs equation of state 'C_A' is nan at the nominal point"),
}


@pytest.mark.parametrize("edit", EDITS)
def test_equations_outside_ops_or_not_finite_are_refused_on_load(folders, capsys, edit):
    models, _ = folders
    (old, new), message = EDITS[edit]
    source = (models / "reactor.py").read_text()
    assert source.count(old) == 1
    bad = models / "bad.py"
    bad.write_text("import math\nimport numpy\n" + source.replace(old, new))
    code, out, err = run_twin(capsys, "steady", str(bad))
    assert code == 2 and out == ""
    line = the_error_line(err)
    assert message in line, line
    if edit in ("math.exp", "numpy.exp", "float()", "max()"):
        assert "(bad.py line 42: rate = " in line  # the equation's line


def test_a_broken_model_file_is_one_line_naming_file_and_line(folders, capsys):
    models, _ = folders
    (models / "broken.py").write_text("from twin.core.model import Model\n\nMODEL = Model(name='x')\n")
    code, _, err = run_twin(capsys, "steady", str(models / "broken.py"))
    assert code == 2
    assert the_error_line(err).startswith(f"twin: error: model file {models / 'broken.py'}, line 3: "
                                          "TypeError: ")
    code, _, err = run_twin(capsys, "steady", str(models / "reactor.py") + ":OTHER")
    assert code == 2
    assert "'OTHER' in" in the_error_line(err) and "is not defined, not a twin Model" in err


def test_unknown_model_error_names_every_form(capsys):
    code, _, err = run_twin(capsys, "steady", "reactor")
    assert code == 2
    line = the_error_line(err)
    assert line.startswith("twin: error: unknown model 'reactor'")
    assert "'./reactor.py' or './reactor.py:MODEL'" in line and "package.module:ATTRIBUTE" in line


def test_model_references_resolve_against_the_file_that_names_them(tmp_path):
    from twin.core.model_ref import resolve_reference, with_resolved_model
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.new_model import new_model

    (tmp_path / "a").mkdir()
    new_model("reactor", tmp_path / "a")
    loop = load_loop(tmp_path / "a" / "reactor_loop.toml")
    assert loop.plant.model == str(tmp_path / "a" / "reactor.py")
    assert loop.controller.model == str(tmp_path / "a" / "reactor.py")
    assert resolve_reference("../m/r.py:OTHER", tmp_path / "a") == f"{tmp_path / 'm' / 'r.py'}:OTHER"
    assert resolve_reference("cstr", tmp_path) == "cstr"
    assert resolve_reference("pkg.mod:MODEL", tmp_path) == "pkg.mod:MODEL"
    assert with_resolved_model({"model": "x.py", "k": 1}, tmp_path) == \
        {"model": str(tmp_path / "x.py"), "k": 1}


def test_installed_packages_register_models_through_an_entry_point(folders, capsys, monkeypatch):
    models, _ = folders
    site = models.parent / "site"
    (site / "my_models").mkdir(parents=True)
    shutil.copy(models / "reactor.py", site / "my_models" / "__init__.py")
    info = site / "my_models-1.2.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-models\nVersion: 1.2\n")
    (info / "entry_points.txt").write_text("[process_twin.models]\nmy_reactor = my_models:MODEL\n")
    monkeypatch.syspath_prepend(str(site))
    code, out, err = run_twin(capsys, "models", "--json")
    assert code == 0, err
    listed = {m["name"]: m["from"] for m in json.loads(out)["models"]}
    assert listed["cstr"] == "shipped"
    assert listed["my_reactor"] == "entry point my_models:MODEL (my-models 1.2)"
    code, out, err = run_twin(capsys, "steady", "my_reactor", "--json")
    assert code == 0, err
    assert json.loads(out)["states"]["T"] == pytest.approx(350.0, abs=0.01)
    code, out, err = run_twin(capsys, "models", "../models/reactor.py")
    assert code == 0, err
    assert f"from: file {models / 'reactor.py'}" in out


def test_a_changed_model_file_changes_the_study_fingerprint(folders):
    from twin.orchestration.whatif import scenarios
    from twin.orchestration.whatif.study import load_study

    models, _ = folders
    study = load_study(models / "reactor_study.toml")
    scenarios.prepare(study)
    before = study.fingerprint(scenarios.digest(study))
    with open(models / "reactor.py", "a") as f:
        f.write("# a comment changes no equation, but the file is what the results came from\n")
    scenarios.prepare(study)
    assert study.fingerprint(scenarios.digest(study)) != before


def test_new_model_never_overwrites(folders, capsys):
    models, _ = folders
    code, _, err = run_twin(capsys, "new-model", "reactor", "--to", str(models))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: {models / 'reactor.py'} exists; remove it or "
                                   "choose another NAME or --to folder")
    code, _, err = run_twin(capsys, "new-model", "my reactor")
    assert code == 2 and "model name 'my reactor'" in err


def test_rto_and_serve_files_resolve_model_files_against_their_folder(tmp_path):
    from rto.spec import load_rto
    from twin.orchestration.opcua.serve_config import load_serve_config

    (tmp_path / "cfg").mkdir()
    rto = tmp_path / "cfg" / "rto.toml"
    rto.write_text('plant = "../m/plant.py"\nmodel = "../m/model.py:APPROX"\n'
                   'economics = "williams_otto"\nmeasurements = { X_A = 0.01 }\n')
    spec = load_rto(rto)
    assert spec.plant == str(tmp_path / "m" / "plant.py")
    assert spec.model == f"{tmp_path / 'm' / 'model.py'}:APPROX"
    serve = tmp_path / "cfg" / "serve.toml"
    serve.write_text('[plant]\nmodel = "cstr"\ntick = 0.001\n')
    assert load_serve_config(serve).plant.model == "cstr"
    new_model("reactor", tmp_path / "cfg")
    serve.write_text('[plant]\nmodel = "reactor.py"\ntick = 0.1\n')
    config = load_serve_config(serve, model=str(tmp_path / "cfg" / "reactor.py"))
    assert config.plant.model == str(tmp_path / "cfg" / "reactor.py")


def test_a_controller_file_resolves_its_model_file_against_its_own_folder(tmp_path):
    from apc.spec import load_spec
    from twin.orchestration.loop.config import load_loop

    new_model("reactor", tmp_path)
    loop_text = (tmp_path / "reactor_loop.toml").read_text()
    head, controller = loop_text.split("[controller]\n")
    (tmp_path / "apc").mkdir()
    (tmp_path / "apc" / "controller.toml").write_text(
        controller.replace('model = "./reactor.py"', 'model = "../reactor.py"')
        .replace("[controller.", "["))
    assert load_spec(tmp_path / "apc" / "controller.toml").model == str(tmp_path / "reactor.py")
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "loop.toml").write_text(
        'controller_file = "../apc/controller.toml"\n'
        + head.replace('model = "./reactor.py"', 'model = "../reactor.py"'))
    loop = load_loop(tmp_path / "runs" / "loop.toml")
    assert loop.plant.model == loop.controller.model == str(tmp_path / "reactor.py")


def test_numpy_numbers_as_constants_are_arithmetic_not_refused(folders, capsys):
    models, _ = folders
    source = (models / "reactor.py").read_text()
    (models / "np_constants.py").write_text("import numpy as np\n" + source.replace(
        '"C_A": p.q / p.V', '"C_A": np.float64(1.0) * p.q / p.V * np.ones(2)[0]'))
    code, out, err = run_twin(capsys, "steady", str(models / "np_constants.py"), "--json")
    assert code == 0, err
    assert json.loads(out)["states"]["T"] == pytest.approx(349.997, abs=1e-3)


def test_an_equation_that_raises_is_one_line_naming_it(folders, capsys):
    models, _ = folders
    source = (models / "reactor.py").read_text()
    (models / "raises.py").write_text(source.replace('"T_rise": x.T - u.T_f', '"T_rise": x.T - "K"'))
    code, _, err = run_twin(capsys, "steady", str(models / "raises.py"))
    assert code == 2 and "Traceback" not in err
    assert the_error_line(err).startswith(
        "twin: error: model 'reactor': output_map (raises.py line 53: \"T_rise\": x.T - \"K\",) fails at the "
        "nominal point: TypeError: unsupported operand")
