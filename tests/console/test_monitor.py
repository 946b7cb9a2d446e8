"""Performance monitoring from a cycle store: model-quality flags, service factor, constraints.

The run is the CSTR example with an injected plant change: at t = 0.3 h the
catalyst loses 40 % of its activity (``beta`` 1.1 -> 0.66), the controller
is switched OFF for 0.05 h, and T_R's high limit (132 degC) binds.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from support import run_twin
from twin.core.config import read_toml
from twin.orchestration.examples import example
from twin.orchestration.loop.config import loop_from_dict
from twin.orchestration.loop.control import run_control
from twin.orchestration.loop.monitor import AT_LIMIT, Window, monitor
from twin.orchestration.loop.store import CycleStore

CHANGE = 0.3


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    data = read_toml(example("cstr_apc.toml"))
    data["event"] = [{"time": CHANGE, "plant_parameters": {"beta": 0.66}},
                     {"time": 0.1, "mode": "off"}, {"time": 0.15, "mode": "on"}]
    for cv in data["controller"]["cv"]:
        if cv["name"] == "T_R":
            cv["high"] = 132.0
    folder = tmp_path_factory.mktemp("monitor")
    run_control(loop_from_dict(data, example("cstr_apc.toml").parent, "catalyst.toml"), folder,
                report=False)
    return folder


def test_prediction_error_flag_rises_after_the_catalyst_change_and_not_before(run_folder):
    store = CycleStore.read_only(run_folder / "cycles.sqlite")
    try:
        figures = monitor(store, reference=Window(0.02, 0.1), blocks=12)
    finally:
        store.close()
    c_b = figures["prediction"]["C_b"]
    blocks = c_b["blocks"]
    before = [b for b in blocks if b["end"] <= CHANGE + 1e-9]
    after = [b for b in blocks if b["start"] >= CHANGE - 1e-9]
    assert before and after
    assert not any(b["flag"] for b in before), [round(b["ratio"], 2) for b in blocks]
    assert after[0]["flag"], [round(b["ratio"], 2) for b in blocks]
    assert c_b["first_flag"] == pytest.approx(CHANGE, abs=1e-9)


def _hand(db, sql, *args):
    return db.execute(sql, args).fetchone()[0]


def test_service_factor_and_constraint_times_equal_hand_counts(run_folder):
    path = run_folder / "cycles.sqlite"
    store = CycleStore.read_only(path)
    try:
        figures = monitor(store)
    finally:
        store.close()
    db = sqlite3.connect(path)
    n = _hand(db, "SELECT COUNT(*) FROM cycle")
    on = _hand(db, "SELECT COUNT(*) FROM cycle WHERE mode = 'on' AND shed = 0")
    assert 0 < on < n
    assert figures["service_factor"] == on / n

    def at_limit(name, value_role, side, beyond):
        return _hand(db, f"""
            SELECT COUNT(*) FROM value v JOIN value l ON v.cycle = l.cycle AND v.name = l.name
            WHERE v.name = ? AND v.role = ? AND l.role = ?
              AND (ABS(v.value - l.value) <= ? * MAX(1.0, ABS(l.value)) OR v.value {beyond} l.value)
            """, name, value_role, side, AT_LIMIT)

    t_r = figures["constraints"]["T_R"]
    # this NMPC has no steady-state targets: a CV's time at a limit is its measurement's
    assert _hand(db, "SELECT COUNT(*) FROM value WHERE name = 'T_R' AND role = 'target'") == 0
    hand_high = at_limit("T_R", "meas", "high", ">")
    assert hand_high >= 3                            # the soft limit is reached at times
    assert t_r["high"] == hand_high / n
    for mv in ("F", "Q_dot"):
        c = figures["constraints"][mv]
        assert c["low"] == at_limit(mv, "mv", "low", "<") / n
        assert c["high"] == at_limit(mv, "mv", "high", ">") / n
        values = [r[0] for r in db.execute("SELECT value FROM value WHERE name = ? AND "
                                           "role = 'mv' ORDER BY cycle", (mv,))]
        assert c["travel"] == pytest.approx(sum(abs(b - a) for a, b in zip(values, values[1:])),
                                            rel=1e-12)
    solves = dict(db.execute("SELECT solve_status, COUNT(*) FROM cycle WHERE solve_status != "
                             "'off' GROUP BY solve_status").fetchall())
    assert figures["solver"]["by_status"] == solves
    db.close()


def test_twin_monitor_prints_and_writes_json(run_folder, capsys):
    code, out, err = run_twin(capsys, "monitor", str(run_folder), "--reference", "0.02:0.1",
                              "--blocks", "12")
    assert code == 0, err
    assert "service factor" in out and "C_b: prediction error RMS" in out
    assert "DEGRADED from 0.3" in out
    code, out, err = run_twin(capsys, "monitor", str(run_folder), "--json", "--window", "0.3:")
    data = json.loads(out)
    assert data["run"]["window"][0] == pytest.approx(0.3) and data["run"]["cycles"] == 61
    code, out, err = run_twin(capsys, "monitor", str(run_folder), "--window", "5:1")
    assert code == 2 and err.count("\n") == 1 and "START must be below END" in err
