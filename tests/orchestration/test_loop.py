"""The closed-loop runner: quadruple tank P+, the crash-safe cycle log, twin control."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from support import run_twin
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control
from twin.orchestration.run_length import loop_with_duration


def test_quadruple_tank_p_plus_setpoint_steps(tmp_path):
    config = load_loop(example("quadruple_tank_pplus.toml"))
    first_step = config.event[0]
    assert first_step.setpoint_step == {"h1": 1.0, "h2": 1.0}
    second = config.event[1]
    # run to 300 s past the second step (the file runs 4400 s): all that is checked below
    config, _ = loop_with_duration(config, second.time + 300.0)
    result = run_control(config, tmp_path)
    frame = pd.read_parquet(result.parquet)
    at = frame[np.isclose(frame.time, first_step.time + 2000.0)].iloc[0]
    for name in ("h1", "h2"):
        assert abs(at[f"{name}.plant"] - at[f"{name}.setpoint"]) <= 0.02 * 1.0, name
    levels = frame[[f"h{i}.plant" for i in range(1, 5)]].to_numpy()
    assert levels.min() >= 1.0 and levels.max() <= 20.0
    voltages = frame[["v1", "v2"]].to_numpy()
    assert voltages.min() >= 0.0 and voltages.max() <= 10.0
    # the second step (+1/-1 cm, the direction of the right-half-plane zero) shows the inverse
    # response: h1 first falls although its setpoint rose, h2 first rises
    after = frame[(frame.time >= second.time) & (frame.time <= second.time + 300.0)]
    start = frame[np.isclose(frame.time, second.time)].iloc[0]
    assert after["h1.plant"].min() < start["h1.plant"] - 0.1
    assert after["h2.plant"].max() > start["h2.plant"] + 0.1
    report = result.report.read_text()
    assert report.count("data:image/png;base64,") == 2 and "Key performance indicators" in report


def test_cycle_log_is_complete_and_exports_one_row_per_cycle(tmp_path):
    config = load_loop(example("cstr_apc.toml"))
    result = run_control(config, tmp_path, report=False)
    db = sqlite3.connect(result.store)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    cycles = [row[0] for row in db.execute("SELECT cycle FROM cycle ORDER BY cycle")]
    assert cycles == list(range(len(cycles))) and len(cycles) == 121
    frame = pd.read_parquet(result.parquet)
    for column in ("time", "mode", "solve_status", "iterations", "solve_time", "C_b", "C_b.quality",
                   "C_b.setpoint", "C_b.plant", "C_a.estimate", "C_b.bias", "F", "F.quality",
                   "F.low", "F.high"):
        assert column in frame, column
    assert set(frame["C_b.quality"]) <= {"good", "bad"}
    assert result.kpis["cycles"] == 121 and result.kpis["failures"] == 0


def test_a_killed_run_keeps_every_logged_cycle(tmp_path):
    script = ("import sys; from twin.orchestration.loop.control import run_control;"
              "from twin.orchestration.examples import example;"
              "run_control(example('quadruple_tank_pplus.toml'), sys.argv[1], report=False)")
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    store = tmp_path / "cycles.sqlite"
    deadline = time.time() + 120
    count = 0
    while time.time() < deadline and count < 30:
        time.sleep(0.3)
        if store.exists():
            try:
                count = sqlite3.connect(store).execute("SELECT COUNT(*) FROM cycle").fetchone()[0]
            except sqlite3.OperationalError:
                count = 0
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = sqlite3.connect(store)
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    cycles = [r[0] for r in db.execute("SELECT cycle FROM cycle ORDER BY cycle")]
    assert len(cycles) >= 30 and cycles == list(range(len(cycles)))
    # every logged cycle has its values: nothing half-written
    per_cycle = dict(db.execute("SELECT cycle, COUNT(*) FROM value GROUP BY cycle").fetchall())
    assert set(per_cycle) == set(cycles) and len(set(per_cycle.values())) == 1


def test_twin_control_cli(capsys, tmp_path):
    code, out, err = run_twin(capsys, "control", str(example("cstr_apc.toml")), "--out",
                              str(tmp_path / "run"), "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["cycles"] == 121 and data["kpis"]["failures"] == 0
    assert (tmp_path / "run" / "report.html").exists()
    assert abs(data["kpis"]["final_error"]["C_b"]) < 0.01


from twin_benchmarks.apc import SPEC


@pytest.mark.parametrize("content,message", [
    ("[plant]\nmodel='cstr'\n[run]\nduration=1.0\n", "missing the controller"),
    ("controller_file='{spec}'\n[plant]\nmodel='cstr'\nspeed=2\n[run]\nduration=1.0\n",
     "plant: unknown key 'speed'; valid keys: model, parameter_set"),
    ("controller_file='{spec}'\n[plant]\nmodel='cstr'\ntick=0.003\n[run]\nduration=1.0\n",
     "plant.tick 0.003 must divide the controller sample time 0.005"),
    ("controller_file='missing.toml'\n[plant]\nmodel='cstr'\n[run]\nduration=1.0\n",
     "missing.toml' not found"),
    ("title='x'\n[plant\n", "configuration file"),
])
def test_twin_control_bad_config(capsys, tmp_path, content, message):
    path = tmp_path / "loop.toml"
    path.write_text(content.format(spec=SPEC))
    code, _, err = run_twin(capsys, "control", str(path))
    assert code == 2 and message in err and err.count("\n") == 1


def test_twin_control_missing_file(capsys, tmp_path):
    code, _, err = run_twin(capsys, "control", str(tmp_path / "nope.toml"))
    assert code == 2 and "not found" in err


def test_rto_moves_the_apc_setpoints_after_catalyst_deactivation(tmp_path):
    from twin.orchestration.loop.store import CycleStore
    from twin.orchestration.rto_run import optimum

    config = load_loop(example("cstr_rto_apc.toml"))
    result = run_control(config, tmp_path, report=False)
    frame = pd.read_parquet(result.parquet)
    store = CycleStore(result.store)
    store.run_id = 1
    events = store.events()
    store.close()
    estimates = [float(m.split("=")[1]) for m in events[events.kind == "rto"].message
                 if m.startswith("estimated beta")]
    assert len(estimates) >= 4
    assert abs(estimates[0] - 1.0) < 0.02 and abs(estimates[-1] - 0.9) < 0.01
    new = optimum("cstr", parameters={"beta": 0.9})
    sp = frame["C_b.setpoint"].to_numpy()
    assert abs(sp[-1] - new.states["C_b"]) < 0.01  # the RTO moved the operating point
    rto = config.rto
    assert np.max(np.abs(np.diff(sp))) <= rto.max_change["C_b"] + 1e-9
    assert sp.min() >= rto.clamp["C_b"][0] and sp.max() <= rto.clamp["C_b"][1]
    assert result.kpis["failures"] == 0 and result.kpis["sheds"] == 0
