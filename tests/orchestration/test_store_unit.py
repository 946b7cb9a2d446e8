"""The cycle store on its own: what each call writes, what reading it back gives, its errors.

Every expected value is written out here from the rows logged; the store is
a real SQLite file, read back through a second connection where it matters
that the data were committed.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import sqlite3
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from twin.core.errors import InputError
from twin.orchestration.loop.store import CycleStore, StoreError

FULL = {"wall_time": 12.5, "mode": "auto", "write": True, "solve_status": "optimal",
        "solver_message": "Solve_Succeeded", "iterations": 7, "solve_time": 0.031,
        "failures": 2, "shed": True}
"""Every field of a cycle's information."""


@pytest.fixture
def store(tmp_path):
    store = CycleStore(tmp_path / "cycles.sqlite")
    yield store
    store.close()


def _other(store: CycleStore) -> sqlite3.Connection:
    """A second connection: it sees only what the store committed."""
    return sqlite3.connect(store.path)


def _open_files(path: Path) -> list[str]:
    """The descriptors of this process open on ``path``."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        with_target = os.path.realpath(fd) if fd.is_symlink() else ""
        if with_target == os.path.realpath(path):
            found.append(fd.name)
    return found


def test_a_new_store_is_crash_safe_and_has_its_six_tables(tmp_path):
    store = CycleStore(str(tmp_path / "cycles.sqlite"))
    assert store.path == tmp_path / "cycles.sqlite" and isinstance(store.path, Path)
    assert store.run_id is None
    assert store.db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert store.db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"run", "cycle", "value", "event", "prediction", "change"}
    store.close()
    with _other(store) as db:  # the schema was committed
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert {r[1] for r in db.execute("PRAGMA table_info(cycle)")} >= {"solve_status", "shed"}


def test_start_run_records_the_run_and_numbers_runs_from_one(store):
    before = dt.datetime.now(dt.timezone.utc)
    first = store.start_run("SIL", "cstr", "h", {"dt": 0.005, "out": Path("/x/y")})
    after = dt.datetime.now(dt.timezone.utc)
    assert first == 1 and store.run_id == 1
    assert store.start_run("HIL", "column", "min", {}) == 2 and store.run_id == 2
    with _other(store) as db:
        rows = db.execute("SELECT id, kind, model, started, time_unit, config FROM run "
                          "ORDER BY id").fetchall()
    assert [r[:3] + (r[4],) for r in rows] == [(1, "SIL", "cstr", "h"), (2, "HIL", "column", "min")]
    assert json.loads(rows[0][5]) == {"dt": 0.005, "out": "/x/y"}  # what JSON cannot hold: str
    assert json.loads(rows[1][5]) == {}
    started = dt.datetime.fromisoformat(rows[0][3])
    assert started.utcoffset() == dt.timedelta(0) and before <= started <= after


def test_log_cycle_writes_the_cycle_its_values_and_events_and_commits(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(3, 0.015, FULL,
                    [("C_b", "meas", 0.91, "good", 1.5, 1.75), ("F", "mv", 14.2, None, None, None)],
                    [("mode", "auto -> manual"), ("shed", "C_b bad")])
    with _other(store) as db:
        (row,) = db.execute("SELECT * FROM cycle").fetchall()
        assert row[:-1] == (1, 3, 0.015, 12.5, "auto", 1, "optimal", "Solve_Succeeded", 7, 0.031,
                            2, 1)
        assert abs(row[-1] - time.time()) < 60.0                   # its commit time
        assert db.execute("SELECT * FROM value ORDER BY rowid").fetchall() == [
            (1, 3, "C_b", "meas", 0.91, "good", 1.5, 1.75),
            (1, 3, "F", "mv", 14.2, None, None, None)]
        assert db.execute("SELECT * FROM event ORDER BY rowid").fetchall() == [
            (1, 3, 0.015, "mode", "auto -> manual"), (1, 3, 0.015, "shed", "C_b bad")]


def test_a_cycle_without_information_stores_nulls_and_false_flags(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {}, [])
    store.log_cycle(1, 0.5, {"write": "yes", "shed": 0}, [])
    with _other(store) as db:
        rows = db.execute("SELECT * FROM cycle ORDER BY cycle").fetchall()
        assert [r[:-1] for r in rows] == [
            (1, 0, 0.0, None, None, 0, None, None, None, None, None, 0),
            (1, 1, 0.5, None, None, 1, None, None, None, None, None, 0)]
        assert all(abs(r[-1] - time.time()) < 60.0 for r in rows)  # their commit times
        assert db.execute("SELECT COUNT(*) FROM value").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM event").fetchone() == (0,)


def test_log_event_records_one_event_of_the_run_and_commits(store):
    store.start_run("SIL", "cstr", "h", {})
    store.start_run("SIL", "cstr", "h", {})
    store.log_event(4, 0.02, "error", "plant failed")
    with _other(store) as db:
        assert db.execute("SELECT * FROM event").fetchall() == [
            (2, 4, 0.02, "error", "plant failed")]


def _two_runs(store: CycleStore) -> None:
    """Run 1: cycles 0 and 1; run 2: cycles logged out of order (2, 0, 1), with events."""
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {"mode": "auto"}, [("C_b", "meas", 0.5, "good", 0.0, 0.0)])
    store.log_cycle(1, 0.1, {"mode": "auto"}, [("C_b", "meas", 0.6, "good", 0.1, 0.1)])
    store.start_run("SIL", "cstr", "h", {})
    for k in (2, 0, 1):
        store.log_cycle(k, 0.1 * k, {"mode": "manual", "iterations": k},
                        [("C_b", "meas", 1.0 + k, None, None, None)],
                        [("z-last", f"cycle {k}")] if k == 2 else [("a-first", f"cycle {k}")])
    store.log_event(9, 0.9, "error", "end")


def test_cycles_reads_one_run_in_cycle_order(store):
    _two_runs(store)
    current = store.cycles()
    assert list(current.columns) == ["run", "cycle", "t", "wall_time", "mode", "write",
                                     "solve_status", "solver_message", "iterations", "solve_time",
                                     "failures", "shed", "committed"]
    assert list(current["cycle"]) == [0, 1, 2] and list(current["run"]) == [2, 2, 2]
    assert list(current["iterations"]) == [0, 1, 2] and list(current["t"]) == [0.0, 0.1, 0.2]
    first = store.cycles(1)  # an earlier run, while run 2 is the current one
    assert list(first["run"]) == [1, 1] and list(first["mode"]) == ["auto", "auto"]


def test_events_reads_one_run_in_the_order_recorded(store):
    _two_runs(store)
    events = store.events()
    assert list(events.columns) == ["cycle", "t", "kind", "message"]
    assert events.values.tolist() == [[2, 0.2, "z-last", "cycle 2"], [0, 0.0, "a-first", "cycle 0"],
                                      [1, 0.1, "a-first", "cycle 1"], [9, 0.9, "error", "end"]]
    assert store.events(1).empty


def test_to_frame_pivots_values_to_columns_with_their_quality(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {"mode": "auto", "write": True},
                    [("C_b", "meas", 0.5, "good", 0.0, 0.0), ("F", "mv", 14.0, None, None, None),
                     ("C_b", "estimate", 0.52, None, None, None),
                     ("C_b", "setpoint", 0.9, None, None, None),
                     ("T_K", "dv", 120.0, "uncertain", 0.0, 0.0)])
    store.log_cycle(1, 0.005, {"mode": "auto", "write": False},
                    [("C_b", "meas", 0.55, "bad", 0.0, 0.0), ("F", "mv", 15.0, None, None, None),
                     ("F", "mv", 16.0, None, None, None)])  # two values: the last one counts
    frame = store.to_frame()
    assert list(frame.columns) == ["cycle", "time", "wall_time", "mode", "write", "solve_status",
                                   "solver_message", "iterations", "solve_time", "failures",
                                   "shed", "committed", "C_b", "C_b.estimate", "C_b.setpoint", "F", "T_K.dv",
                                   "C_b.quality", "T_K.dv.quality"]
    assert list(frame["cycle"]) == [0, 1] and list(frame["time"]) == [0.0, 0.005]
    assert list(frame["write"]) == [1, 0]
    assert list(frame["C_b"]) == [0.5, 0.55] and list(frame["F"]) == [14.0, 16.0]
    assert frame["C_b.estimate"][0] == 0.52 and math.isnan(frame["C_b.estimate"][1])
    assert frame["C_b.setpoint"][0] == 0.9 and frame["T_K.dv"][0] == 120.0
    assert list(frame["C_b.quality"]) == ["good", "bad"]
    assert frame["T_K.dv.quality"][0] == "uncertain" and pd.isna(frame["T_K.dv.quality"][1])


def test_to_frame_without_any_quality_has_no_quality_column(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {}, [("F", "mv", 14.0, None, None, None),
                                 ("C_b", "bias", 0.01, None, None, None)])
    frame = store.to_frame()
    assert list(frame.columns)[-2:] == ["C_b.bias", "F"]
    assert not [c for c in frame.columns if c.endswith(".quality")]
    assert frame["F"][0] == 14.0 and frame["C_b.bias"][0] == 0.01


def test_to_frame_of_cycles_without_values_is_the_cycle_table(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.25, FULL, [])
    frame = store.to_frame()
    assert frame.drop(columns="committed").values.tolist() == [
        [0, 0.25, 12.5, "auto", 1, "optimal", "Solve_Succeeded", 7, 0.031, 2, 1]]
    assert abs(frame["committed"].iloc[0] - time.time()) < 60.0  # when it was committed
    assert list(frame.columns) == ["cycle", "time", "wall_time", "mode", "write", "solve_status",
                                   "solver_message", "iterations", "solve_time", "failures",
                                   "shed", "committed"]


def test_to_frame_and_export_of_an_earlier_run(store, tmp_path):
    _two_runs(store)
    frame = store.to_frame(1)
    assert frame[["cycle", "time", "C_b", "C_b.quality"]].values.tolist() == [
        [0, 0.0, 0.5, "good"], [1, 0.1, 0.6, "good"]]
    path = store.export_parquet(str(tmp_path / "run1.parquet"), 1)
    assert path == tmp_path / "run1.parquet" and isinstance(path, Path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame)
    assert pq.read_schema(path).names == list(frame.columns)  # no index column for other readers
    current = pd.read_parquet(store.export_parquet(tmp_path / "run2.parquet"))
    assert current[["cycle", "C_b"]].values.tolist() == [[0, 1.0], [1, 2.0], [2, 3.0]]
    assert "C_b.quality" not in current


def test_a_folder_is_refused_in_one_line(tmp_path):
    with pytest.raises(InputError) as caught:
        CycleStore(tmp_path)
    assert str(caught.value) == f"cycle store '{tmp_path}' is a folder"


def test_a_store_in_a_missing_folder_cannot_be_opened(tmp_path):
    path = tmp_path / "missing" / "cycles.sqlite"
    with pytest.raises(InputError) as caught:
        CycleStore(path)
    assert str(caught.value) == (f"cycle store '{path}' cannot be opened: unable to open "
                                 "database file")
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_file_that_is_no_database_is_refused_and_left_closed(tmp_path):
    path = tmp_path / "cycles.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(InputError) as caught:
        CycleStore(path)
    assert str(caught.value) == (f"cycle store '{path}' is not a usable SQLite database (file is "
                                 "not a database); give another --out folder")
    assert caught.value.__suppress_context__
    assert _open_files(path) == []  # the connection was closed
    assert path.read_bytes() == b"this is not a database" * 100  # and the file left as it was


@pytest.mark.parametrize("call, what", [
    (lambda s: s.start_run("SIL", "cstr", "h", {}), "starting a run failed: no such table: run"),
    (lambda s: s.log_event(1, 0.1, "error", "x"), "recording an event failed: no such table: "
                                                  "event"),
    (lambda s: s.log_cycle(5, 0.1, {}, []), "recording cycle 5 failed: no such table: cycle"),
])
def test_a_failing_store_stops_the_run_in_one_line(store, call, what):
    for table in ("run", "cycle", "event"):
        store.db.execute(f"DROP TABLE {table}")
    with pytest.raises(StoreError) as caught:
        call(store)
    assert str(caught.value) == f"cycle store '{store.path}': {what}"
    assert caught.value.exit_code == 1 and caught.value.__suppress_context__


def test_a_cycle_that_fails_halfway_leaves_nothing_of_it(store):
    store.start_run("SIL", "cstr", "h", {})
    store.db.execute("DROP TABLE event")
    with pytest.raises(StoreError):
        store.log_cycle(0, 0.0, {}, [("C_b", "meas", 0.5, "good", 0.0, 0.0)], [("mode", "x")])
    with _other(store) as db:  # the cycle and its values were rolled back with the event
        assert db.execute("SELECT COUNT(*) FROM cycle").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM value").fetchone() == (0,)


def test_a_reading_without_a_value_keeps_its_quality_in_the_frame(store):
    store.start_run("SIL", "cstr", "h", {})
    store.log_cycle(0, 0.0, {}, [("C_b", "meas", 0.5, "good", 0.0, 0.0),
                                 ("C_b", "status", math.nan, "good", 0.0, 0.0)])
    store.log_cycle(1, 0.1, {}, [("C_b", "meas", math.nan, "bad", 0.1, 0.1),  # NaN: NULL
                                 ("C_b", "status", math.nan, "dropped", 0.1, 0.1)])
    frame = store.to_frame()
    assert frame["C_b"][0] == 0.5 and math.isnan(frame["C_b"][1])
    assert list(frame["C_b.quality"]) == ["good", "bad"]  # the bad cycle says why it has no value
    # a role recorded for its status alone (no value) has its quality column only
    assert list(frame["C_b.status.quality"]) == ["good", "dropped"] and "C_b.status" not in frame
