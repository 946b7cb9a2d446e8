"""Operator and engineer changes to a running loop: asked for by a console, applied by the loop.

A change is one row of the cycle store's ``change`` table, its audit trail.
The console checks the user's role and the value's form and inserts the
request (:func:`request_change`); a request the role does not allow is
recorded as ``refused`` at once and never reaches the loop. At its next
cycle the loop applies every pending request through the controller's own
methods, in the order asked, and records in the cycle's transaction the old
value and the outcome: ``applied``, or ``refused`` with a one-line reason (a
limit outside its validity range, a low above its high, an unknown
variable) (:class:`ChangeDesk`).

What a change sets (``field``), and the least role that may:

==========================  ========  ==============================================
field                       role      value
==========================  ========  ==============================================
``mode``                    operator  ``off``, ``warm`` or ``on`` (``name``: the controller)
``setpoint``                operator  a number within the validity range, or ``none``
``low``, ``high``           operator  a CV's soft limits or an MV's limits, within the
                                      validity range, or ``none`` (CV only)
``service``                 operator  ``in`` or ``out``
``ack``                     operator  the event number acknowledged (``name``: ``event``;
                                      recorded as applied at once: the loop has no part)
``max_move``                engineer  an MV's rate limit per sample (> 0)
``weight``                  engineer  a CV's setpoint weight (>= 0)
``valid_low``, ``valid_high``  engineer  the range operators' entries must lie in
``horizon``                 engineer  refused: horizons fix the solver's problem; edit the
                                      loop file and restart
==========================  ========  ==============================================

Validity ranges start at a CV's hard limits and an MV's limits of the
loop file (unbounded where none is given).
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import time
from dataclasses import dataclass

import numpy as np

from apc.controller import Controller, Mode
from twin.core.errors import InputError, TwinError

ROLE_RANK = {"viewer": 0, "apc": 0, "operator": 1, "engineer": 2}
"""Roles by what they may change: viewers and the APC's own account change nothing here."""
FIELD_ROLE = {"mode": "operator", "setpoint": "operator", "low": "operator", "high": "operator",
              "service": "operator", "ack": "operator", "max_move": "engineer",
              "weight": "engineer", "valid_low": "engineer", "valid_high": "engineer",
              "horizon": "engineer"}
"""The least role that may set each field."""
WORDS = {"mode": ("off", "warm", "on"), "service": ("in", "out")}
NONE = "none"
MAX_TEXT = 64
"""Longest value or name a request may carry [characters]."""
MAX_AGE = 60.0
"""A request the loop first sees more than this long after it was made is refused as expired
(the loop was not cycling: a lost server, a run between its cycles) [s]."""
VALUE_LIMIT = 1e12
"""Numbers beyond this magnitude are refused as entries (a typed 1e300) [variable units]."""


def allowed(role: str, field: str) -> bool:
    """Whether ``role`` may set ``field``."""
    need = FIELD_ROLE.get(field)
    return need is not None and ROLE_RANK.get(role, -1) >= ROLE_RANK[need]


def _quoted(text: str) -> str:
    """A value as an error message shows it: quoted, escaped, at most 40 characters."""
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def parse_value(field: str, text: object) -> float | str | None:
    """A request's value in its field's domain (one-line InputError otherwise)."""
    if field not in FIELD_ROLE:
        raise InputError(f"unknown field {_quoted(str(field))}; one of "
                         f"{', '.join(FIELD_ROLE)}")
    if not isinstance(text, (str, int, float)) or isinstance(text, bool):
        raise InputError(f"{field}: give a value")
    raw = str(text).strip().lower()
    if len(raw) > MAX_TEXT:
        raise InputError(f"{field}: value longer than {MAX_TEXT} characters")
    shown = _quoted(raw)
    if field in WORDS:
        if raw not in WORDS[field]:
            raise InputError(f"{field}: {shown} is not one of {', '.join(WORDS[field])}")
        return raw
    if raw == NONE and field in ("setpoint", "low", "high", "valid_low", "valid_high"):
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{field}: {shown} is not a number") from None
    if not math.isfinite(value) or abs(value) > VALUE_LIMIT:
        raise InputError(f"{field}: {shown} is not a finite number of magnitude below "
                         f"{VALUE_LIMIT:g}")
    if field == "max_move" and value <= 0:
        raise InputError(f"max_move: {value:g} must be above 0")
    if field == "weight" and value < 0:
        raise InputError(f"weight: {value:g} must be 0 or above")
    return value


def request_status(field: str, reason: str) -> str:
    """A just-recorded request's status: refused (a reason), applied (an acknowledgement:
    nothing for the loop to do) or pending (the loop applies it at its next cycle)."""
    return "refused" if reason else ("applied" if field == "ack" else "pending")


def request_change(db: sqlite3.Connection, run: int, user: str, role: str, name: str,
                   field: str, value: object, loop_running: bool = True) -> tuple[int, str]:
    """Record a change request; ``(id, "")`` when it goes to the loop, ``(id, reason)`` when
    refused at once (role, form of the value, no loop running to apply it). Commits."""
    name = str(name)[:MAX_TEXT]
    shown = str(value)[:MAX_TEXT] if value is not None else ""
    reason = ""
    if not allowed(role, field):
        need = FIELD_ROLE.get(field)
        reason = (f"role {role} may not change {field}" if need else
                  f"unknown field {_quoted(str(field))}")
    else:
        try:
            parse_value(field, value)
        except InputError as exc:
            reason = str(exc)
        if not reason and field != "ack" and not loop_running:
            reason = "the loop is not running"
    status = request_status(field, reason)
    with db:
        cur = db.execute("INSERT INTO change (run, requested, user, role, name, field, new, "
                         "status, reason, decided) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                         (run, time.time(), user, role, name, str(field)[:MAX_TEXT], shown,
                          status, reason, time.time() if status != "pending" else None))
    return int(cur.lastrowid), reason


@dataclass
class Decided:
    """What the loop made of one request (a row update of the ``change`` table)."""

    id: int
    old: str
    status: str
    reason: str
    decided: float

    def row(self) -> tuple:
        return (self.id, self.old, self.status, self.reason, self.decided)


def _shown(value: float | None) -> str:
    return NONE if value is None or not np.isfinite(value) else f"{value:.12g}"


class ChangeDesk:
    """Applies a run's pending change requests to its controller, once per cycle.

    Parameters
    ----------
    db : sqlite3.Connection
        The loop's own connection to its cycle store.
    run : int
    controller : Controller
    before : ChangeDesk, optional
        The desk of the controller this one replaces (a deployed loop rebuilds its
        controller): its validity ranges and what was changed are carried over, each
        change applied again (one that no longer applies is an event, never a failure).
    mv_now : array, optional
        The MVs now, for changes applied again (an MV held out of service).
    in_control : callable, optional
        For a loop with states of its own (a deployed loop): whether it is in control now.
        A mode asked for is then kept as :attr:`operator_mode`, given to the controller
        only while in control, and the loop re-enters control in it.
    """

    def __init__(self, db: sqlite3.Connection, run: int, controller: Controller,
                 before: "ChangeDesk | None" = None, mv_now: np.ndarray | None = None,
                 in_control=None):
        self.db, self.run = db, run
        self.controller = controller
        self.in_control = in_control
        self.operator_mode = before.operator_mode if before is not None else Mode.ON
        self.taken: set[int] = set()
        """Requests decided (kept: a cycle whose commit failed must not apply them twice)."""
        self.pending_events: list[tuple[str, str]] = []
        spec = controller.spec
        self.valid: dict[str, list[float]] = {}
        self.applied: list[tuple[str, str, object]] = []
        """Changes applied so far ``(name, field, value)``, replayed on a rebuilt controller."""
        for c in spec.cv:
            self.valid[c.name] = [-math.inf if c.hard_low is None else c.hard_low,
                                  math.inf if c.hard_high is None else c.hard_high]
        for j, m in enumerate(spec.mv):
            self.valid[m.name] = [float(controller.u_lo[j]), float(controller.u_hi[j])]
        if before is not None:
            self.valid, self.taken = before.valid, before.taken
            mv = np.asarray(mv_now if mv_now is not None else controller.u_now, dtype=float)
            for name, field, value in before.applied:
                if field == "mode":  # (the loop keeps the mode; the controller starts OFF)
                    continue
                try:
                    self._apply(name, field, value, mv, check=False)
                    self.applied.append((name, field, value))
                except (InputError, TwinError) as exc:
                    self.pending_events.append(("change", f"{name} {field} {value} not applied "
                                                          f"to the rebuilt controller: {exc}"))

    def take(self, mv_now: np.ndarray) -> tuple[list[Decided], list[tuple[str, str]]]:
        """Apply the pending requests: their outcomes and one event per request."""
        try:
            rows = self.db.execute("SELECT id, user, role, name, field, new, requested FROM "
                                   "change WHERE run = ? AND status = 'pending' ORDER BY id",
                                   (self.run,)).fetchall()
        except sqlite3.Error:
            return [], []  # (a busy store: the requests wait for the next cycle)
        decided, events = [], self.pending_events
        self.pending_events = []
        for i, user, role, name, field, new, requested in rows:
            if i in self.taken:
                continue
            self.taken.add(i)
            old = ""
            try:
                if not allowed(role, field):
                    raise InputError(f"role {role} may not change {field}")
                age = time.time() - float(requested or 0.0)
                if age > MAX_AGE:
                    raise InputError(f"expired: asked {age:.0f} s ago, while the loop was not "
                                     "cycling")
                value = parse_value(field, new)
                old = self._apply(name, field, value, mv_now)
            except (InputError, TwinError) as exc:
                reason = " ".join(str(exc).split())
                decided.append(Decided(i, old, "refused", reason, time.time()))
                events.append(("change", f"{user} ({role}): {name} {field} {new} refused: "
                                         f"{reason}"))
                continue
            decided.append(Decided(i, old, "applied", "", time.time()))
            self.applied.append((name, field, value))
            events.append(("change", f"{user} ({role}): {name} {field} {old} -> {new}"))
        return decided, events

    def values(self, t: float) -> list[tuple]:
        """The validity ranges, CV weights and MV rate limits as cycle values (roles
        ``valid_low``, ``valid_high``, ``weight``, ``max_move``)."""
        rows = []
        for name, (lo, hi) in self.valid.items():
            if math.isfinite(lo):
                rows.append((name, "valid_low", lo, None, t, t))
            if math.isfinite(hi):
                rows.append((name, "valid_high", hi, None, t, t))
        for c in self.controller.spec.cv:
            rows.append((c.name, "weight", self.controller.cv_weight(c.name), None, t, t))
        for m in self.controller.spec.mv:
            rows.append((m.name, "max_move", self.controller.limit(m.name, "max_move"), None, t, t))
        return rows

    # ------------------------------------------------------------------ applying

    def finish(self) -> None:
        """Refuse what is still pending when the run ends (nothing will apply it)."""
        with contextlib.suppress(sqlite3.Error), self.db:
            self.db.execute("UPDATE change SET status = 'refused', reason = 'the run ended', "
                            "decided = ? WHERE run = ? AND status = 'pending'",
                            (time.time(), self.run))

    def _apply(self, name: str, field: str, value, mv_now: np.ndarray,
               check: bool = True) -> str:
        """Apply one change (``check``: against the validity ranges); its old value as text."""
        ctl = self.controller
        if field == "mode":
            if self.in_control is not None:
                old, self.operator_mode = self.operator_mode.value, Mode(value)
                if self.in_control():
                    ctl.set_mode(self.operator_mode, mv_now)
                return old
            old = ctl.mode.value
            ctl.set_mode(Mode(value), mv_now)
            return old
        if field == "horizon":
            raise InputError("horizons fix the solver's problem: edit the loop file and restart")
        if name not in self.valid:
            raise InputError(f"no CV or MV '{name}'; one of {', '.join(self.valid)}")
        mvs = [m.name for m in ctl.spec.mv]
        is_mv = name in mvs
        if field == "service":
            old = "in" if ctl.in_service(name) else "out"
            j = mvs.index(name) if is_mv else None
            ctl.set_service(name, value == "in", float(mv_now[j]) if is_mv else None)
            return old
        if field in ("valid_low", "valid_high"):
            k = 0 if field == "valid_low" else 1
            old = self.valid[name][k]
            new = (-math.inf if k == 0 else math.inf) if value is None else value
            lo, hi = (new, self.valid[name][1]) if k == 0 else (self.valid[name][0], new)
            if lo > hi:
                raise InputError(f"validity range of '{name}': low {lo:g} above high {hi:g}")
            self.valid[name][k] = new
            return _shown(old)
        if field == "weight":
            if is_mv:
                raise InputError(f"'{name}' is an MV: weight is a CV's")
            old = ctl.cv_weight(name)
            ctl.set_cv_weight(name, value)
            return _shown(old)
        if field == "setpoint":
            if is_mv:
                raise InputError(f"'{name}' is an MV: setpoints are a CV's")
            if check:
                self._check_valid(name, field, value)
            old = ctl.setpoint(name)
            ctl.set_setpoint(name, value)
            return _shown(old)
        if field in ("low", "high") or field == "max_move":
            if field != "max_move" and check:
                self._check_valid(name, field, value)
            if is_mv and value is None:
                raise InputError(f"MV '{name}' needs a {field} limit")
            if is_mv and mvs.index(name) in ctl.mv_out_of_service:
                raise InputError(f"MV '{name}' is out of service: return it first")
            old = ctl.limit(name, field)
            ctl.set_limits(name, **{field: value})
            return _shown(old)
        raise InputError(f"unknown field {field!r}")

    def _check_valid(self, name: str, field: str, value: float | None) -> None:
        lo, hi = self.valid[name]
        if value is None:
            return
        if not lo <= value <= hi:
            raise InputError(f"{name} {field} {value:g} is outside its validity range "
                             f"[{lo:g}, {hi:g}]")
