"""One cycle of the deployed loop: what it records, and the guard around each stage.

A stage runs inside :meth:`CycleRecord.stage`: any exception leaves it as a
:class:`StageFailed` naming the stage, which the loop's one handler turns
into an ``error`` event and a shed (see :mod:`.deploy`).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import numpy as np

from twin.core.errors import TwinError
from twin.core.quality import Quality, Reading


@dataclass
class Health:
    """Why the loop may not act this cycle (empty: healthy)."""

    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def clamp_moves(values: np.ndarray, previous: np.ndarray, low: np.ndarray, high: np.ndarray,
                max_move: np.ndarray) -> np.ndarray:
    """Setpoints within hard limits and within ``max_move`` of the previous ones."""
    out = np.minimum(np.maximum(values, low), high)
    limited = np.isfinite(max_move)
    out[limited] = np.minimum(np.maximum(out[limited], previous[limited] - max_move[limited]),
                              previous[limited] + max_move[limited])
    return np.minimum(np.maximum(out, low), high)


BEFORE_COMMIT = ("read", "controller", "rto")
"""Stages of a cycle before its commit (an error there leaves only the error to record)."""


class StageFailed(Exception):
    """An exception in one stage of a cycle, carried to the loop's one handler."""

    def __init__(self, stage: str, cause: BaseException):
        super().__init__(stage)
        self.stage, self.cause = stage, cause
        text = " ".join(str(cause).split())
        self.reason = text if isinstance(cause, TwinError) else \
            f"{type(cause).__name__}: {text or 'no message'}"

    def describe(self) -> str:
        return f"{self.stage} failed: {self.reason}"[:500]


@dataclass
class CycleRecord:
    """What one cycle has to commit: events, values, the cycle row."""

    cycle: int
    t: float
    wall: float
    events: list[tuple[str, str]] = field(default_factory=list)
    values: list[tuple] = field(default_factory=list)
    info: dict | None = None
    predictions: dict = field(default_factory=dict)
    changes: list[tuple] = field(default_factory=list)
    health: Health = field(default_factory=Health)
    failed: bool = False

    @contextlib.contextmanager
    def stage(self, name: str):
        """Run a stage: any exception leaves it as :class:`StageFailed` naming the stage."""
        try:
            yield
        except StageFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - the loop's rule: no exception goes unlogged
            raise StageFailed(name, exc) from exc


@dataclass(frozen=True)
class Decision:
    """Setpoints to write this cycle [model units], and whether the loop is in control."""

    written: dict[str, float]
    active: bool


def blind_info(rec: CycleRecord, state: str, status: str) -> dict:
    """The cycle row of a cycle that decided nothing."""
    return {"wall_time": rec.wall, "mode": state, "write": False, "solve_status": status,
            "shed": False}


def tag_readings(snap, stale_after: float) -> tuple[dict[str, Reading], set[str]]:
    """A snapshot's tag samples as readings, and the names gone stale.

    Bad stays Bad, Uncertain is kept (the controller's spec decides), and a
    sample older than ``stale_after`` [s] on the server's clock (against its
    heartbeat's timestamp) is Bad.
    """
    out = {}
    for name, s in snap.tags.items():
        quality = s.quality
        if quality is not Quality.BAD and snap.heartbeat_time is not None \
                and s.server_time is not None:
            age = (snap.heartbeat_time - s.server_time).total_seconds()
            if age > stale_after:
                quality = Quality.BAD
        stamp = s.server_time.timestamp() if s.server_time is not None else float("nan")
        out[name] = Reading(s.value, quality, True, stamp)
    stale = {n for n, s in snap.tags.items() if s.quality is not Quality.BAD
             and out[n].quality is Quality.BAD}
    return out, stale
