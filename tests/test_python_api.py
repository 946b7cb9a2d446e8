"""The Python API (`twin.run_loop`, `run_rto`, `run_study`, `export_fmu`) and its README example."""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import twin
from twin.core.errors import InputError
from twin.orchestration.new_model import new_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def reactor(tmp_path, monkeypatch):
    """The files of `twin new-model reactor`, in the working folder."""
    monkeypatch.chdir(tmp_path)
    new_model("reactor", tmp_path)
    return tmp_path


def _toml(path: Path) -> dict:
    with open(path, "rb") as f:
        return tomllib.load(f)


def test_the_api_names_load_on_first_use():
    import twin.api

    for name in ("run_loop", "run_rto", "run_study", "export_fmu", "LoopRun", "StudyRun", "RTORun"):
        assert getattr(twin, name) is getattr(twin.api, name)
        assert name in twin.__all__
    with pytest.raises(AttributeError, match="no attribute 'run_everything'"):
        twin.run_everything  # noqa: B018


def test_a_closed_loop_and_a_study_from_dicts_with_a_model_file(reactor):
    config = _toml(reactor / "reactor_loop.toml")
    config["run"]["duration"] = 0.5
    del config["event"]
    loop = twin.run_loop(config, "loop", report=False)
    log = loop.to_pandas()
    assert loop.cycles == 6 and len(log) == 6
    assert np.allclose(log["time"], np.arange(6) * 0.1)
    assert log["T.setpoint"].eq(350.0).all()
    # The plant (UA 4.8e4, the model's 5e4) starts at its own steady state, hotter than the
    # setpoint, and the controller cools it towards 350 K.
    assert log["T.plant"].iloc[0] == pytest.approx(353.15, abs=0.05)
    assert np.all(np.diff(log["T.plant"]) < 0) and log["T.plant"].iloc[-1] < 350.5
    assert loop.report is None and loop.kpis["failures"] == 0

    study = _toml(reactor / "reactor_study.toml")
    study["sampling"]["n"] = 4
    result = twin.run_study(study, "study", report=False)
    summary = result.to_pandas()
    assert (result.scenarios, result.failed) == (5, 0)
    assert len(summary) == 5 and (summary["status"] == "ok").all()
    nominal = summary[summary["nominal"]]
    assert nominal["UA"].item() == 5.0e4 and nominal["T_max"].item() == pytest.approx(361.2, abs=0.5)


def test_an_rto_run_returns_its_iterations_as_a_frame():
    rto = twin.run_rto("williams_otto", iterations=1)
    frame = rto.to_pandas()
    assert list(frame["k"]) == [0]
    assert {"plant_profit", "inputs.F_B", "inputs.T_R", "next_inputs.F_B"} <= set(frame.columns)
    assert frame["inputs.F_B"].item() == pytest.approx(4.0)  # the shipped start
    assert 0.5 < rto.fraction_of_optimum <= 1.0
    assert rto.plant_optimum_profit > rto.plant_profit_at_final_inputs > 0


def test_bad_input_is_a_one_line_error(reactor):
    with pytest.raises(InputError, match="give a plant with a shipped RTO set-up, or a config"):
        twin.run_rto()
    config = _toml(reactor / "reactor_loop.toml")
    config["plant"]["model"] = "./missing.py"
    with pytest.raises(InputError, match=f"no model file {re.escape(str(reactor))}/missing.py"):
        twin.run_loop(config, "loop")


def _readme_python_block() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    code = re.findall(r"^python - <<'EOF'\n(.*?)^EOF$", blocks[0], re.S | re.M)
    assert len(code) == 1
    return code[0]


@pytest.mark.slow
def test_the_readme_python_example_runs(reactor, capsys):
    """The whole example (the README runner runs it too; this one checks its results)."""
    names: dict = {}
    exec(compile(_readme_python_block(), "README.md", "exec"), names)  # noqa: S102
    assert names["loop"].cycles == 21
    assert names["loop"].to_pandas()["T.plant"].iloc[-1] == pytest.approx(345.0, abs=1.0)
    assert 0.9 < names["rto"].fraction_of_optimum <= 1.0
    assert len(names["study"].to_pandas()) == 11
    with zipfile.ZipFile(reactor / "reactor.fmu") as z:
        assert "modelDescription.xml" in z.namelist()
    assert "21 cycles" in capsys.readouterr().out


def test_the_readme_python_example_is_extracted():
    """The short form of the test above: the example is found and compiles."""
    code = _readme_python_block()
    compile(code, "README.md", "exec")
    for call in ("twin.run_loop(", "twin.run_rto(", "twin.run_study(", "twin.export_fmu(",
                 ".to_pandas()"):
        assert call in code


def test_the_plant_data_path_from_python(tmp_path, monkeypatch):
    """Step test, plant data, identification and calibration from Python give what the
    commands give: the step test's CSV export reads back as its own data, the identified gains
    are the twin's linearisation's, the model file loads by path, and the calibrated catalyst
    activity's interval holds the truth the shipped data were made with."""
    from identified_support import operating_point

    from twin.orchestration.examples import file_or_example
    from twin.orchestration.synthetic_data import CSTR_TRUTH

    monkeypatch.chdir(tmp_path)
    test = twin.run_step_test("qt_steptest.toml", tmp_path / "test")
    read = twin.load_plant_data(tmp_path / "test" / "steptest.csv", rules=False)
    assert any(line.startswith("quality:") for line in
               twin.load_plant_data(tmp_path / "test" / "steptest.csv").reports)
    made = test.to_plant_data()
    assert read.names == made.names and read.time.size == made.time.size > 500
    np.testing.assert_allclose(read.values(read.names), made.values(made.names), rtol=1e-8)  # CSV text

    found = twin.identify(file_or_example("quadruple_tank_steptest.csv"), ["v1", "v2"],
                          ["h1", "h2"], out="qt_id.toml")
    model, ss = operating_point()
    lin = twin.casadi_form(model).linearize(ss.x, ss.u, model.p0())
    states = [model.states.index("h1"), model.states.index("h2")]
    linear_gains = (-np.linalg.solve(np.asarray(lin.A), np.asarray(lin.B)))[states]
    np.testing.assert_allclose(found.gains.gain, linear_gains, rtol=0.05)
    assert list(twin.load_model("./qt_id.toml").outputs.names) == ["h1", "h2"]

    fit = twin.calibrate("cstr", file_or_example("cstr_plant_data.csv"), ["alpha", "beta"],
                         x0_free=["C_a"], out="fit.toml")
    for name in ("alpha", "beta"):
        k = fit.stats.names.index(name)
        assert fit.stats.low[k] <= CSTR_TRUTH[name] <= fit.stats.high[k], (name, fit.stats)
    calibrated = twin.load_model("cstr", parameter_set="fit.toml")
    assert calibrated.p0()[calibrated.parameters.index("beta")] == pytest.approx(
        fit.parameters["beta"], rel=1e-12)
