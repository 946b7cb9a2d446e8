"""What the console shows of a run folder, read from its cycle store while the loop writes.

Every read opens its own read-only connection (SQLite in WAL mode: readers
never block the loop's commits). Change requests are the one thing the
console writes: a row of the ``change`` table (:mod:`~twin.orchestration.loop.changes`).
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import threading
from pathlib import Path
from typing import Any

from twin.core.errors import InputError
from twin.orchestration.loop.changes import allowed, request_change, request_status
from twin.orchestration.loop.store import BUSY_TIMEOUT, loop_running

ALARM_KINDS = ("shed", "error", "plant_failure", "given_up", "watchdog", "security")
"""Event kinds shown as alarms (to be acknowledged)."""
TREND_ROLES = ("meas", "mv", "setpoint", "low", "high", "target")
REPORTS = ("report.html", "whatif-report.html", "whatif.html")


def _finite(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def json_safe(value: Any) -> Any:
    """NaN and infinities as null (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


class RunFolder:
    """One run folder (``cycles.sqlite`` and its reports) served by the console."""

    def __init__(self, folder: str | Path, key: str):
        self.folder = Path(folder)
        self.key = key
        self.store = self.folder / "cycles.sqlite"
        if not self.store.is_file():
            raise InputError(f"run folder '{self.folder}' has no cycles.sqlite (give the --out "
                             "folder of twin control or twin deploy)")
        with self._read() as db:
            if db.execute("SELECT MAX(id) FROM run").fetchone()[0] is None:
                raise InputError(f"cycle log '{self.store}' has no run yet")
        self._counts = (-1, -1, 0, 0, 0)
        """(run, last cycle counted, cycles, cycles ON and not shed, shed cycles)"""
        self._counting = threading.Lock()

    @contextlib.contextmanager
    def _read(self, mode: str = "ro"):
        """A connection of its own to the store: read-only, or ``mode="rw"`` to write."""
        try:
            db = sqlite3.connect(f"{self.store.resolve().as_uri()}?mode={mode}", uri=True,
                                 timeout=BUSY_TIMEOUT)
        except sqlite3.Error as exc:
            raise InputError(f"cycle log '{self.store}' cannot be "
                             f"{'read' if mode == 'ro' else 'written'}: {exc}") from None
        try:
            yield db
        finally:
            db.close()

    def _run(self, db) -> int:
        return int(db.execute("SELECT MAX(id) FROM run").fetchone()[0])

    # ------------------------------------------------------------------ reading

    def info(self) -> dict[str, Any]:
        """Run kind, model, start, time unit, and the controller's variables."""
        import json

        with self._read() as db:
            run = self._run(db)
            kind, model, started, unit, config = db.execute(
                "SELECT kind, model, started, time_unit, config FROM run WHERE id = ?",
                (run,)).fetchone()
        spec = json.loads(config or "{}").get("controller", {})
        return {"key": self.key, "folder": str(self.folder), "run": run, "kind": kind,
                "model": model, "started": started, "time_unit": unit,
                "title": json.loads(config or "{}").get("title") or self.folder.name,
                "sample_time": spec.get("sample_time"),
                "cv": [c["name"] for c in spec.get("cv", [])],
                "mv": [m["name"] for m in spec.get("mv", [])],
                "dv": [d["name"] for d in spec.get("dv", [])],
                "reports": [r for r in REPORTS if (self.folder / r).is_file()]}

    def position(self) -> tuple[int, int]:
        """The run's number and its last committed cycle (-1 before the first)."""
        with self._read() as db:
            run = self._run(db)
            row = db.execute("SELECT MAX(cycle) FROM cycle WHERE run = ?", (run,)).fetchone()
        return run, -1 if row[0] is None else int(row[0])

    def snapshot(self) -> dict[str, Any]:
        """The faceplate: the last cycle, every variable's values by role, banners."""
        with self._read() as db:
            run = self._run(db)
            rows = db.execute("SELECT cycle, t, wall_time, mode, write, solve_status, "
                              "solver_message, solve_time, failures, shed, committed FROM cycle "
                              "WHERE run = ? ORDER BY cycle DESC LIMIT 2", (run,)).fetchall()
            if not rows:
                return {"cycle": None}
            last = rows[0]
            values = db.execute("SELECT name, role, value, quality FROM value WHERE run = ? "
                                "AND cycle = ?", (run, last[0])).fetchall()
            pred = db.execute('SELECT name, "values" FROM prediction WHERE run = ? AND '
                              "cycle = ?", (run, last[0])).fetchall()
            n_cycles, n_on, sheds = self._count(db, run)
        variables: dict[str, dict[str, Any]] = {}
        for name, role, value, quality in values:
            v = variables.setdefault(name, {})
            v[role] = _finite(value)
            if quality is not None:
                v[f"{role}_quality"] = quality
        import json

        for name, text in pred:
            trajectory = json.loads(text)
            variables.setdefault(name, {})["prediction_end"] = _finite(trajectory[-1]) \
                if trajectory else None
        cycle, t, wall, mode, write, status, message, solve_time, failures, shed, committed = last
        live = loop_running(self.store)
        return {"cycle": cycle, "t": t, "wall_time": wall, "committed": committed,
                "mode": mode, "write": bool(write),
                "solve_status": status, "solver_message": message,
                "solve_time_ms": None if solve_time is None else 1e3 * solve_time,
                "failures": failures, "shed": bool(shed), "live": live,
                "service_factor": (n_on or 0) / n_cycles if n_cycles else None,
                "sheds": sheds, "variables": variables, "alarms": self.alarms(unacked_only=True)}

    def _count(self, db, run: int) -> tuple[int, int, int]:
        """Cycles, cycles ON and not shed, and shed cycles so far (only new cycles are read)."""
        with self._counting:
            last_run, last, n, on, shed = self._counts
            if last_run != run:
                last, n, on, shed = -1, 0, 0, 0
            row = db.execute("SELECT MAX(cycle), COUNT(*), SUM(mode = 'on' AND shed = 0), "
                             "SUM(shed = 1) FROM cycle WHERE run = ? AND cycle > ?",
                             (run, last)).fetchone()
            if row[0] is not None:
                last, n, on, shed = row[0], n + row[1], on + (row[2] or 0), shed + (row[3] or 0)
            self._counts = (run, last, n, on, shed)
            return n, on, shed

    def history(self, after: int = -1, last: int | None = None) -> dict[str, Any]:
        """Trend data of the cycles after ``after`` (or the ``last`` ones): time and one
        series per ``name.role`` of :data:`TREND_ROLES`, plus the latest cycle's predictions."""
        import json

        with self._read() as db:
            run = self._run(db)
            if last is not None:
                top = db.execute("SELECT MAX(cycle) FROM cycle WHERE run = ?", (run,)).fetchone()[0]
                after = max(after, (top or 0) - int(last))
            cycles = db.execute("SELECT cycle, t, wall_time FROM cycle WHERE run = ? AND "
                                "cycle > ? ORDER BY cycle", (run, after)).fetchall()
            top = cycles[-1][0] if cycles else after
            marks = ",".join("?" * len(TREND_ROLES))
            values = db.execute(f"SELECT cycle, name, role, value FROM value WHERE run = ? AND "
                                f"cycle > ? AND cycle <= ? AND role IN ({marks})",
                                (run, after, top, *TREND_ROLES)).fetchall()
            pred = db.execute('SELECT name, "values" FROM prediction WHERE run = ? AND '
                              "cycle = ?", (run, cycles[-1][0] if cycles else -1)).fetchall()
        index = {c[0]: i for i, c in enumerate(cycles)}
        series: dict[str, list] = {}
        for cycle, name, role, value in values:
            key = name if role in ("meas", "mv") else f"{name}.{role}"
            column = series.setdefault(key, [None] * len(cycles))
            column[index[cycle]] = _finite(value)
        return {"cycles": [c[0] for c in cycles], "time": [c[1] for c in cycles],
                "wall_time": [c[2] for c in cycles], "series": series,
                "prediction": {n: json.loads(v) for n, v in pred}}

    def events(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._read() as db:
            rows = db.execute("SELECT rowid, cycle, t, kind, message FROM event WHERE run = ? "
                              "ORDER BY rowid DESC LIMIT ?", (self._run(db), limit)).fetchall()
        return [{"id": r[0], "cycle": r[1], "t": r[2], "kind": r[3], "message": r[4]}
                for r in rows]

    def alarms(self, unacked_only: bool = False, limit: int = 100) -> list[dict[str, Any]]:
        """Alarm events, newest first, each with whether and by whom it was acknowledged."""
        marks = ",".join("?" * len(ALARM_KINDS))
        with self._read() as db:
            run = self._run(db)
            rows = db.execute(f"SELECT rowid, cycle, t, kind, message FROM event WHERE run = ? "
                              f"AND kind IN ({marks}) ORDER BY rowid DESC LIMIT ?",
                              (run, *ALARM_KINDS, limit)).fetchall()
            acks = dict(db.execute("SELECT new, user FROM change WHERE run = ? AND field = 'ack' "
                                   "AND status = 'applied'", (run,)).fetchall())
        out = [{"id": r[0], "cycle": r[1], "t": r[2], "kind": r[3], "message": r[4],
                "acknowledged_by": acks.get(str(r[0]))} for r in rows]
        return [a for a in out if a["acknowledged_by"] is None] if unacked_only else out

    def changes(self, limit: int = 200) -> list[dict[str, Any]]:
        """The audit trail, newest first."""
        with self._read() as db:
            rows = db.execute("SELECT id, requested, user, role, name, field, old, new, status, "
                              "reason, cycle, decided FROM change WHERE run = ? ORDER BY id DESC "
                              "LIMIT ?", (self._run(db), limit)).fetchall()
        keys = ("id", "requested", "user", "role", "name", "field", "old", "new", "status",
                "reason", "cycle", "decided")
        return [dict(zip(keys, r)) for r in rows]

    # ------------------------------------------------------------------ writing

    def request(self, user: str, role: str, name: str, field: str, value: object
                ) -> dict[str, Any]:
        """Ask the loop for a change (see :func:`request_change`); refused at once when the
        role may not, the value is malformed, or the loop is not running."""
        if field == "ack":
            value = self._alarm_id(value)
        with self._read("rw") as db:
            try:
                change_id, reason = request_change(db, self._run(db), user, role, name, field,
                                                   value, loop_running(self.store))
            except sqlite3.Error as exc:
                raise InputError(f"cycle log '{self.store}': the request was not recorded "
                                 f"({exc}); try again") from None
        return {"id": change_id, "status": request_status(field, reason), "reason": reason,
                "forbidden": not allowed(role, field)}

    def _alarm_id(self, value: object) -> str:
        """An acknowledged alarm's event number, as the alarm list names it (one-line refusal
        for anything else)."""
        try:
            number = int(str(value).strip())
        except ValueError:
            raise InputError(f"ack: {str(value)[:40]!r} is not an alarm's number") from None
        if not any(a["id"] == number for a in self.alarms(limit=10_000)):
            raise InputError(f"ack: no alarm {number} in this run")
        return str(number)

    def change(self, change_id: int) -> dict[str, Any] | None:
        return next((c for c in self.changes(10_000) if c["id"] == change_id), None)
