"""The cycle log: every control cycle in an embedded, crash-safe store.

SQLite in WAL mode with ``synchronous=FULL``; each cycle is one
transaction, committed before the cycle's MVs are written to the plant, so
a crash loses nothing already acted on. The schema serves the simulated
loop and the deployed one alike:

- ``run``: one row per run (kind SIL/HIL/deployed, model, configuration);
- ``cycle``: per cycle the time, its wall-clock start and commit, mode,
  whether MVs were written, solver status, message, iterations and time,
  failure count, shed flag;
- ``value``: per cycle and variable a value with its role (``meas``,
  ``mv``, ``next`` (the planned move, written or not), ``dv``, ``plant``,
  ``estimate``, ``bias``, ``disturbance``, ``prediction_error``, ``target``,
  ``setpoint``, ``low``, ``high``, ``valid_low``, ``valid_high``...), its quality or status,
  and its source and server timestamps;
- ``event``: mode changes, sheds, dropped CVs, given-up limits, failures;
- ``prediction``: per cycle and CV the planned trajectory over the horizon
  (a JSON list, one value per sample from the cycle on), when recorded;
- ``change``: the audit trail of operator and engineer actions. A console
  inserts a request (``pending``, with user, role, wall time, variable,
  field and new value); the loop applies or refuses it at its next cycle
  and records the cycle, the old value and the outcome (``applied`` or
  ``refused`` with its one-line reason), in the same transaction as the
  cycle it took effect in (:mod:`twin.orchestration.loop.changes`).

:meth:`CycleStore.to_frame` pivots it to one row per cycle and one column
per variable (``name`` for measured CVs and MVs, ``name.role`` otherwise,
``name.quality`` where a quality was recorded) for Parquet.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twin.core.errors import InputError, RunStopped

if TYPE_CHECKING:
    import pandas as pd


class StoreError(RunStopped):
    """The cycle store failed during a run (a full disk, a damaged file): the run stops."""


@contextlib.contextmanager
def _writing(path: Path, what: str):
    """SQLite errors while writing as one line naming the store."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"cycle store '{path}': {what} failed: {exc}") from None

SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    id INTEGER PRIMARY KEY, kind TEXT, model TEXT, started TEXT, time_unit TEXT, config TEXT);
CREATE TABLE IF NOT EXISTS cycle (
    run INTEGER, cycle INTEGER, t REAL, wall_time REAL, mode TEXT, write INTEGER,
    solve_status TEXT, solver_message TEXT, iterations INTEGER, solve_time REAL,
    failures INTEGER, shed INTEGER, committed REAL, PRIMARY KEY (run, cycle));
CREATE TABLE IF NOT EXISTS value (
    run INTEGER, cycle INTEGER, name TEXT, role TEXT, value REAL, quality TEXT,
    source_time REAL, server_time REAL);
CREATE INDEX IF NOT EXISTS value_cycle ON value (run, cycle);
CREATE TABLE IF NOT EXISTS event (
    run INTEGER, cycle INTEGER, t REAL, kind TEXT, message TEXT);
CREATE TABLE IF NOT EXISTS prediction (
    run INTEGER, cycle INTEGER, name TEXT, "values" TEXT);
CREATE TABLE IF NOT EXISTS change (
    id INTEGER PRIMARY KEY, run INTEGER, requested REAL, user TEXT, role TEXT,
    name TEXT, field TEXT, old TEXT, new TEXT, status TEXT, reason TEXT, cycle INTEGER,
    decided REAL);
"""
LOCK_SUFFIX = ".lock"
"""A loop writing to ``cycles.sqlite`` holds an exclusive lock on ``cycles.sqlite.lock`` for
as long as it runs (released by the system when its process ends, however it ends):
:func:`loop_running` tells a reader whether the run is still going."""
BUSY_TIMEOUT = 5.0
"""How long a writer waits for another one (a console inserting a change request) [s]."""

SPARSE_ROLES = ("prediction_error", "next")
"""Roles recorded only in some cycles by meaning: a prediction error where a reading was due,
the planned move where the controller planned one (not OFF, not shed)."""
PLAIN_ROLES = ("meas", "mv")
"""Roles whose columns carry the bare variable name in the pivoted frame."""


class CycleStore:
    """Append-only, crash-safe log of control cycles."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.is_dir():
            raise InputError(f"cycle store '{self.path}' is a folder")
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT)
        except sqlite3.Error as exc:
            raise InputError(f"cycle store '{self.path}' cannot be opened: {exc}") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(cycle)")}
            if "committed" not in columns:  # (a log written before cycles had it)
                self.db.execute("ALTER TABLE cycle ADD COLUMN committed REAL")
            self.db.commit()
        except sqlite3.Error as exc:
            self.db.close()
            raise InputError(f"cycle store '{self.path}' is not a usable SQLite database "
                             f"({exc}); give another --out folder") from None
        self.run_id: int | None = None

    @classmethod
    def read_only(cls, path: str | Path) -> "CycleStore":
        """Open an existing store to read what is committed, also while a run writes to it.

        Positioned on the last run; a file that is not a cycle log is one line.
        """
        path = Path(path)
        if not path.is_file():
            raise InputError(f"no cycle log '{path}'")
        store = cls.__new__(cls)
        store.path = path
        try:
            store.db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
            row = store.db.execute("SELECT MAX(id) FROM run").fetchone()
        except sqlite3.Error as exc:
            with contextlib.suppress(Exception):
                store.db.close()
            raise InputError(f"'{path}' is not a readable cycle log ({exc})") from None
        if row is None or row[0] is None:
            store.db.close()
            raise InputError(f"cycle log '{path}' has no run yet")
        store.run_id = int(row[0])
        return store

    def run_info(self, run: int | None = None) -> dict[str, Any]:
        """The run row: ``kind``, ``model``, ``started``, ``time_unit`` and ``config`` (a dict)."""
        row = self.db.execute("SELECT kind, model, started, time_unit, config FROM run "
                              "WHERE id = ?", (run or self.run_id,)).fetchone()
        if row is None:
            raise InputError(f"cycle log '{self.path}' has no run {run or self.run_id}")
        kind, model, started, time_unit, config = row
        return {"kind": kind, "model": model, "started": started, "time_unit": time_unit,
                "config": json.loads(config) if config else {}}

    def start_run(self, kind: str, model: str, time_unit: str, config: dict[str, Any]) -> int:
        with _writing(self.path, "starting a run"):
            return self._start_run(kind, model, time_unit, config)

    def _hold_lock(self) -> None:
        """Take the running loop's lock (see :data:`LOCK_SUFFIX`); a store another live
        process holds keeps its holder."""
        import fcntl

        if getattr(self, "_lock", None) is not None:
            return
        lock = open(f"{self.path}{LOCK_SUFFIX}", "a")
        for _ in range(50):  # (a reader asking whether the loop runs holds it for a moment)
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._lock = lock
                return
            except OSError:
                time.sleep(0.02)
        lock.close()

    def _start_run(self, kind: str, model: str, time_unit: str, config: dict[str, Any]) -> int:
        cur = self.db.execute(
            "INSERT INTO run (kind, model, started, time_unit, config) VALUES (?, ?, ?, ?, ?)",
            (kind, model, dt.datetime.now(dt.timezone.utc).isoformat(), time_unit,
             json.dumps(config, default=str)))
        self.db.commit()
        self.run_id = int(cur.lastrowid)
        self._hold_lock()
        return self.run_id

    def log_cycle(self, cycle: int, t: float, cycle_info: dict[str, Any],
                  values: Iterable[tuple], events: Iterable[tuple[str, str]] = (),
                  predictions: dict[str, list[float]] | None = None,
                  changes: Iterable[tuple] = ()) -> None:
        """Record one cycle and commit.

        ``values`` are ``(name, role, value, quality, source_time, server_time)``;
        ``events`` are ``(kind, message)``; ``predictions`` each CV's planned
        trajectory; ``changes`` the decided change requests ``(id, old, status,
        reason, decided)`` (:mod:`~twin.orchestration.loop.changes`).
        """
        run = self.run_id
        c = cycle_info
        with _writing(self.path, f"recording cycle {cycle}"), self.db:
            self.db.execute(
                "INSERT INTO cycle (run, cycle, t, wall_time, mode, write, solve_status, "
                "solver_message, iterations, solve_time, failures, shed, committed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run, cycle, t, c.get("wall_time"), c.get("mode"), int(bool(c.get("write"))),
                 c.get("solve_status"), c.get("solver_message"), c.get("iterations"),
                 c.get("solve_time"), c.get("failures"), int(bool(c.get("shed"))), time.time()))
            self.db.executemany(
                "INSERT INTO value VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(run, cycle, *v) for v in values])
            self.db.executemany("INSERT INTO event VALUES (?, ?, ?, ?, ?)",
                                [(run, cycle, t, k, m) for k, m in events])
            if predictions:
                self.db.executemany("INSERT INTO prediction VALUES (?, ?, ?, ?)",
                                    [(run, cycle, n, json.dumps(v)) for n, v in predictions.items()])
            self.db.executemany("UPDATE change SET old = ?, status = ?, reason = ?, decided = ?, "
                                "cycle = ? WHERE id = ?",
                                [(old, status, reason, decided, cycle, i)
                                 for i, old, status, reason, decided in changes])

    def log_event(self, cycle: int, t: float, kind: str, message: str) -> None:
        """Record one event outside a cycle (a plant failure that ends the run) and commit."""
        with _writing(self.path, "recording an event"), self.db:
            self.db.execute("INSERT INTO event VALUES (?, ?, ?, ?, ?)",
                            (self.run_id, cycle, t, kind, message))

    def close(self) -> None:
        self.db.close()
        lock = getattr(self, "_lock", None)
        if lock is not None:
            lock.close()  # (releases the lock)
            self._lock = None

    # -- reading back ---------------------------------------------------------
    def cycles(self, run: int | None = None) -> "pd.DataFrame":
        import pandas as pd

        return pd.read_sql_query("SELECT * FROM cycle WHERE run = ? ORDER BY cycle", self.db,
                                 params=(run or self.run_id,))

    def events(self, run: int | None = None) -> "pd.DataFrame":
        import pandas as pd

        return pd.read_sql_query("SELECT cycle, t, kind, message FROM event WHERE run = ? "
                                 "ORDER BY rowid", self.db, params=(run or self.run_id,))

    def to_frame(self, run: int | None = None) -> "pd.DataFrame":
        """One row per cycle, one column per variable and role (see module doc)."""
        import pandas as pd

        run = run or self.run_id
        cycles = self.cycles(run).drop(columns=["run"])
        values = pd.read_sql_query("SELECT cycle, name, role, value, quality FROM value "
                                   "WHERE run = ?", self.db, params=(run,))
        if values.empty:
            return cycles.rename(columns={"t": "time"})
        values["column"] = [n if r in PLAIN_ROLES else f"{n}.{r}"
                            for n, r in zip(values["name"], values["role"])]
        wide = values.pivot_table(index="cycle", columns="column", values="value", aggfunc="last")
        quality = values.dropna(subset=["quality"])
        if not quality.empty:
            q = quality.pivot_table(index="cycle", columns="column", values="quality",
                                    aggfunc="last")
            q.columns = [f"{c}.quality" for c in q.columns]
            # outer: a cycle whose values are all missing (Bad readings) keeps its qualities
            wide = wide.join(q, how="outer")
        frame = cycles.set_index("cycle").join(wide).reset_index()
        return frame.rename(columns={"t": "time"})

    def export_parquet(self, path: str | Path, run: int | None = None) -> Path:
        path = Path(path)
        self.to_frame(run).to_parquet(path, index=False)
        return path


def loop_running(store_path: str | Path) -> bool:
    """Whether a loop is writing to the cycle log at ``store_path`` now (its lock is held)."""
    import fcntl

    try:
        lock = open(f"{store_path}{LOCK_SUFFIX}")
    except OSError:
        return False
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False
