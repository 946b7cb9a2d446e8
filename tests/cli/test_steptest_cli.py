"""`twin steptest` from the command line: a run, and one-line refusals of bad input."""

from __future__ import annotations

import json

import pytest

from support import run_twin, the_error_line
from twin.orchestration.examples import FOLDER

EXAMPLE = (FOLDER / "qt_steptest.toml").read_text()


def test_shipped_example_runs_by_name_and_reports_where_its_data_is(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_twin(capsys, "steptest", "qt_steptest.toml", "--duration", "120",
                              "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["samples"] == 120 and data["pauses"] == 0 and data["signal"] == "gbn"
    assert data["amplitudes"] == {"v1": 0.5, "v2": 0.5}
    assert data["switch_time"] == pytest.approx(400 / 3)
    assert (tmp_path / "steptest-qt_steptest" / "steptest.csv").is_file()
    code, _, err = run_twin(capsys, "steptest", "qt_steptest.toml", "--duration", "120")
    assert code == 2
    assert "already holds files" in the_error_line(err)


@pytest.mark.parametrize("change, message", [
    (("seed = 1", "seed = 1\nspeed = 2"),
     "qt_steptest.toml.test: unknown key 'speed'; valid keys: sample_time, settling_time, signal"),
    (('name = "v2"', 'name = "v9"'),
     "unknown mv (a plant input) 'v9'"),
    (('name = "h2"', 'name = "h7"'),
     "unknown cv 'h7'"),
    (('signal = "gbn"', 'signal = "rotated"'),
     "test.signal 'rotated' needs gains for every mv (or a [pretest]) and an excursion on every cv"),
    (("amplitude = 0.5   # [V]", "amplitude = -0.5"),
     "qt_steptest.toml.mv[0].amplitude: -0.5 is out of range (expected a number > 0)"),
    (("sample_time = 1.0", "sample_time = 1.0\nswitch_time = nan"),
     "qt_steptest.toml.test.switch_time: expected a finite number"),
    (("high = 19.0\nmargin = 1.0\n\n[[cv]]\nname = \"h2\"", "high = 4.0\nmargin = 1.0\n\n[[cv]]\nname = \"h2\""),
     "cv 'h1': safety limits low 2 and high 4 are not more than three times the margin (1) "
     "apart"),
    (("low = 0.0\nhigh = 10.0\nmax_rate = 0.5    # [V/s]", "low = 5.0\nhigh = 10.0\nmax_rate = 0.5"),
     "mv 'v1': base 3 is outside its hard limits [5, 10]"),
    (('model = "quadruple_tank"', 'model = "quadruple_tank"\nsteady_start = true\nx0 = {h1 = 3}'),
     "plant.x0 is the initial state, but plant.steady_start"),
    (('model = "quadruple_tank"\nparameter_set = "P-"', 'model = "pump.fmu"'), "pump.fmu"),
    (('model = "quadruple_tank"', 'model = "quadruple_tank.fmu"'),
     "plant.parameter_set applies to model plants, not to FMUs"),
    (("[plant]", '[opcua]\ntags_file = "tags.toml"\n\n[plant]'),
     "give the plant as either a [plant] table (a model or an FMU) or an [opcua] table"),
    (("duration = 600.0        # [s]", "duration = 0.5"),
     "test.duration 0.5 is shorter than one sample (test.sample_time 1)"),
])
def test_bad_step_test_files_are_refused_in_one_line(capsys, tmp_path, change, message):
    text = EXAMPLE.replace(*change)
    assert text != EXAMPLE
    path = tmp_path / "qt_steptest.toml"
    path.write_text(text)
    code, _, err = run_twin(capsys, "steptest", str(path), "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert message in the_error_line(err)
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # a refused test writes nothing


def test_a_base_point_within_a_safety_margin_is_refused_and_writes_nothing(capsys, tmp_path):
    # h1 starts near 12.3 cm: a high limit of 13 cm with a margin of 1 cm would pause at once
    path = tmp_path / "qt_steptest.toml"
    path.write_text(EXAMPLE.replace("high = 19.0", "high = 13.0", 1))
    code, _, err = run_twin(capsys, "steptest", str(path), "--out", str(tmp_path / "out"))
    assert code == 2, err
    line = the_error_line(err)
    assert "at the start cv 'h1' = 12." in line and "within 1 of its high safety limit 13" in line
    assert not (tmp_path / "out").exists()


def test_a_test_whose_mvs_never_move_exits_1_with_its_data_written(capsys, tmp_path):
    # base 5 V (the plant starts at 3 V): h1 rises into its margin during the 200 s lead-in
    text = EXAMPLE.replace('amplitude = 0.5   # [V]', 'amplitude = 0.5\nbase = 5.0')
    text = text.replace('amplitude = 0.5\nlow', 'amplitude = 0.5\nbase = 5.0\nlow')
    text = text.replace("high = 19.0", "high = 15.5", 1).replace("margin = 1.0", "margin = 1.5", 1)
    text = text.replace("seed = 1", "seed = 1\nlead_in = 200.0")
    assert text.count("base = 5.0") == 2
    path = tmp_path / "qt_steptest.toml"
    path.write_text(text)
    code, out, err = run_twin(capsys, "steptest", str(path), "--out", str(tmp_path / "out"),
                              "--duration", "60")
    assert code == 1, err
    assert "the MVs never moved (260 of 260 samples paused or shed)" in the_error_line(err)
    assert len(err.strip().splitlines()) == 1
    assert (tmp_path / "out" / "steptest.csv").is_file() and "data written to" in out


def test_an_amplitude_beyond_the_hard_limits_runs_with_one_warning_line(capsys, tmp_path):
    text = EXAMPLE.replace("amplitude = 0.5   # [V]", "amplitude = 50.0")
    path = tmp_path / "qt_steptest.toml"
    path.write_text(text)
    code, out, err = run_twin(capsys, "steptest", str(path), "--out", str(tmp_path / "out"),
                              "--duration", "20")
    assert code == 0, err
    assert err.strip().splitlines() == [
        "twin: warning: mv 'v1': amplitude 50 cut to 3, the room to its nearer hard limit (base 3 "
        "in [0, 10]: 3 of room below it, 7 above); the moves stay symmetric around the base"]


def test_a_missing_file_and_a_bad_duration_are_refused(capsys, tmp_path):
    code, _, err = run_twin(capsys, "steptest", str(tmp_path / "none.toml"))
    assert code == 2 and "not found" in the_error_line(err)
    code, _, err = run_twin(capsys, "steptest", "qt_steptest.toml", "--duration", "-5",
                            "--out", str(tmp_path / "o"))
    assert code == 2 and "--duration -5: expected a number > 0" in the_error_line(err)


def test_an_opcua_plant_without_a_trusted_server_is_refused_in_one_line(capsys, tmp_path):
    """Secure by default: no server certificate trusted yet, no connection (and no fallback)."""
    (tmp_path / "tags.toml").write_text(
        'url = "opc.tcp://127.0.0.1:9/twin"\nserver_heartbeat = "ns=2;s=D.H"\n'
        'apc_heartbeat = "ns=2;s=A.H"\n[tags.h1]\nnode = "ns=2;s=P.h1"\n'
        '[tags.h2]\nnode = "ns=2;s=P.h2"\n'
        '[loops.v1]\nmode = "ns=2;s=v1.M"\nrsp = "ns=2;s=v1.R"\nsp = "ns=2;s=v1.S"\n'
        '[loops.v2]\nmode = "ns=2;s=v2.M"\nrsp = "ns=2;s=v2.R"\nsp = "ns=2;s=v2.S"\n')
    (tmp_path / "pw").write_text("secret\n")
    text = EXAMPLE.split("[plant]")[0] + (
        '[opcua]\ntags_file = "tags.toml"\n[opcua.gateway]\npassword_file = "pw"\n'
        'config_dir = "client"\ntimeout = 5.0\n\n[test]') + EXAMPLE.split("[test]")[1]
    text = text.replace("noise_std = 0.05  # [cm]\n", "").replace("noise_std = 0.05\n", "")
    path = tmp_path / "st.toml"
    path.write_text(text)
    code, _, err = run_twin(capsys, "steptest", str(path), "--out", str(tmp_path / "out"))
    assert code == 2, err
    assert "no trusted server certificate in" in the_error_line(err)
    assert "twin trust" in the_error_line(err)
    assert not (tmp_path / "out").exists()
