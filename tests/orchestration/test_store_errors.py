"""A cycle store that cannot be used is one line, never a traceback; inputs refused at load."""

from __future__ import annotations

import sqlite3

import pytest

from support import run_twin, the_error_line
from twin.core.errors import InputError
from twin.orchestration.examples import example
from twin.orchestration.loop.store import CycleStore, StoreError


def test_garbage_where_the_store_should_be_is_one_line(tmp_path, capsys):
    from twin.orchestration.loop.control import run_control

    out = tmp_path / "run"
    out.mkdir()
    (out / "cycles.sqlite").write_bytes(b"this is not a database" * 100)
    # the command refuses the folder (it holds files); the library names the bad store
    code, _, err = run_twin(capsys, "control", str(example("cstr_apc.toml")), "--out", str(out))
    assert code == 2 and "already holds files" in the_error_line(err)
    with pytest.raises(InputError) as caught:
        run_control(example("cstr_apc.toml"), out)
    assert "cycles.sqlite' is not a usable SQLite database" in str(caught.value)


def test_a_folder_where_the_store_should_be_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    (out / "cycles.sqlite").mkdir(parents=True)
    code, _, err = run_twin(capsys, "control", str(example("cstr_apc.toml")), "--out", str(out),
                            "--force")
    assert code == 2 and "cycles.sqlite' is a folder" in the_error_line(err)
    assert (out / "cycles.sqlite").is_dir()  # --force never removes a folder it did not write


def test_a_store_failing_during_the_run_stops_it_with_one_line(tmp_path):
    store = CycleStore(tmp_path / "cycles.sqlite")
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {"mode": "on"}, [("C_b", "meas", 0.5, "good", 0.0, 0.0)])
    store.db.execute("DROP TABLE value")  # the file is damaged under the running loop
    with pytest.raises(StoreError) as caught:
        store.log_cycle(1, 0.1, {"mode": "on"}, [("C_b", "meas", 0.5, "good", 0.1, 0.1)])
    assert "recording cycle 1 failed" in str(caught.value) and caught.value.exit_code == 1
    assert isinstance(caught.value.__context__, sqlite3.Error) or caught.value.__cause__ is None


def test_an_infinite_weight_is_refused_when_the_loop_file_is_loaded(tmp_path, capsys):
    text = example("cstr_apc.toml").read_text().replace("weight = 1.0", "weight = inf", 1)
    path = tmp_path / "loop.toml"
    path.write_text(text)
    code, _, err = run_twin(capsys, "control", str(path), "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err).endswith("loop.toml.controller.cv[0].weight: expected a finite "
                                        "number, got inf")


@pytest.mark.parametrize("event,message", [
    ('[[event]]\ntime = 0.1\nsetpoint = { C_c = 1.0 }\n', "unknown cv 'C_c'"),
    ('[[event]]\ntime = 5.0\nsetpoint = { C_b = 0.6 }\n', "after the end of the run"),
    ('[[event]]\ntime = 0.1\nlimits = { F = { hard_low = 1.0 } }\n', "unknown limit 'hard_low'"),
    ('[[event]]\ntime = 0.1\nlimits = { T_R = { low = 150.0 } }\n', "low 150 is above high 140"),
    ('[[event]]\ntime = 0.1\nsetpoint = { T_K = 200.0 }\n',
     "setpoint.T_K: 200 is outside the hard limits of cv 'T_K' (hard_low 50.0, hard_high 140.0)"),
    ('[[event]]\ntime = 0.1\ninputs = { Q = 1.0 }\n', "unknown plant input 'Q'"),
    ('[[event]]\ntime = 0.1\nplant_parameters = { gamma = 1.0 }\n', "unknown parameter 'gamma'"),
    ('[[event]]\ntime = 0.1\nsensor_quality = { C_a = "bad" }\n', "unknown sensor 'C_a'"),
])
def test_every_event_is_checked_before_the_run(tmp_path, capsys, event, message):
    path = tmp_path / "loop.toml"
    path.write_text(example("cstr_apc.toml").read_text() + "\n" + event)
    code, _, err = run_twin(capsys, "control", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and message in the_error_line(err)
    assert not (tmp_path / "run" / "cycles.sqlite").exists() or \
        sqlite3.connect(tmp_path / "run" / "cycles.sqlite").execute(
            "SELECT COUNT(*) FROM cycle").fetchone()[0] == 0


def test_a_setpoint_outside_the_hard_limits_of_its_cv_is_refused(tmp_path):
    from twin.orchestration.loop.config import load_loop

    path = tmp_path / "loop.toml"
    path.write_text(example("cstr_apc.toml").read_text()
                    + '\n[[event]]\ntime = 0.1\nlimits = { T_K = { hard_low = 60.0 } }\n'
                    + '\n[[event]]\ntime = 0.2\nsetpoint = { C_b = 0.8 }\n')
    load_loop(path)  # in range: accepted
    path.write_text(path.read_text().replace("hard_low = 50.0\nhigh = 140.0",
                                             "hard_low = 50.0\nhard_high = 130.0\nhigh = 125.0"))
    bad = path.read_text() + '\n[[event]]\ntime = 0.3\nsetpoint = { T_R = 135.0 }\n'
    path.write_text(bad)
    with pytest.raises(InputError, match=r"event\[3\] \(time 0.3\).setpoint.T_R: 135 is outside the hard limits"):
        load_loop(path)


def test_an_exception_in_a_sil_cycle_is_recorded_and_ends_the_run_with_one_line(tmp_path, capsys,
                                                                                 monkeypatch):
    from apc.nmpc import StructuredNMPC

    calls = {"n": 0}
    original = StructuredNMPC.solve

    def solve(self, data):  # a defect inside the solver wrapper, on the fourth cycle
        calls["n"] += 1
        if calls["n"] == 4:
            raise ZeroDivisionError("float division by zero")
        return original(self, data)

    monkeypatch.setattr(StructuredNMPC, "solve", solve)
    out = tmp_path / "run"
    code, _, err = run_twin(capsys, "control", str(example("cstr_apc.toml")), "--out", str(out))
    assert code == 1
    assert the_error_line(err).endswith("cycle 3 at t = 0.015 failed: ZeroDivisionError: float "
                                        "division by zero")
    db = sqlite3.connect(out / "cycles.sqlite")
    assert db.execute("SELECT COUNT(*) FROM cycle").fetchone()[0] == 3
    assert db.execute("SELECT cycle, kind FROM event WHERE kind = 'error'").fetchall() == \
        [(3, "error")]
