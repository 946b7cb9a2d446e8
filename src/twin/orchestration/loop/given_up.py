"""Given-up targets as episodes: a setpoint or limit the controller cannot reach, once.

When the steady-state target calculation cannot meet a CV's setpoint or
soft limit, it gives it up, cycle after cycle, for as long as the cause
lasts. Every cycle's miss is kept in the cycle log as a value (role
``given_up_<kind>``, [CV unit]); the events record one row when an episode
starts and one when the target is met again, and the summaries and the
report show one line per episode: the CV and limit, start and end time,
and the largest miss with its unit.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas (0.5 s to import) only for the frames callers pass in
    import pandas as pd

KINDS = ("setpoint", "low", "high")
ROLE = "given_up_{kind}"
"""Role of a cycle's miss in the cycle log (value [CV unit])."""

_WORDS = {"setpoint": "setpoint", "low": "low limit", "high": "high limit"}
_OLD_EVENT = re.compile(r"^(\S+) (setpoint|low|high) \(rank -?\d+\) by (\S+)$")


def describe_target(cv: str, kind: str) -> str:
    """``"C_b setpoint"``, ``"T_R high limit"``."""
    return f"{cv} {_WORDS.get(kind, kind)}"


class GivenUpWatch:
    """Follows a run's given-up targets cycle by cycle; the events of their episodes.

    ``units`` maps CV names to units, for the event messages.
    """

    def __init__(self, units: Mapping[str, str] | None = None):
        self.units = dict(units or {})
        self.active: dict[tuple[str, str], tuple[float, float]] = {}
        self.episodes = 0
        self.warnings: list[str] = []
        """Warnings not yet taken (:meth:`take_warnings`): one, at the first episode."""

    def observe(self, t: float, given_up: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
        """The events of one cycle: episodes that start and episodes that end at ``t``."""
        now = {(g["cv"], g["kind"]): float(g["violation"]) for g in given_up}
        events = []
        for key, miss in now.items():
            if key in self.active:
                start, largest = self.active[key]
                self.active[key] = (start, max(largest, miss))
                continue
            self.active[key] = (t, miss)
            self.episodes += 1
            what, unit = describe_target(*key), self.units.get(key[0], "")
            events.append(("given_up", f"{what} given up at t = {t:g}: the steady-state target "
                                       f"misses it by {miss:.4g} {unit}".rstrip()))
            if self.episodes == 1:
                self.warnings.append(f"the controller cannot reach the {what}: the steady-state "
                                     f"target misses it by {miss:.4g} {unit} (from t = {t:g}); "
                                     "see the given-up targets in the summary and report")
        for key in [k for k in self.active if k not in now]:
            start, largest = self.active.pop(key)
            unit = self.units.get(key[0], "")
            events.append(("given_up_end", f"{describe_target(*key)} met again at t = {t:g} "
                                           f"(given up since t = {start:g}, by at most "
                                           f"{largest:.4g} {unit})".replace(" )", ")")))
        return events

    def take_warnings(self) -> tuple[str, ...]:
        """The warnings since the last call."""
        out, self.warnings = tuple(self.warnings), []
        return out


@dataclass(frozen=True)
class Episode:
    """A stretch of consecutive cycles in which one target was given up.

    Attributes
    ----------
    cv, kind : str
        The CV and what was given up (``setpoint``, ``low``, ``high``).
    start, end : float
        Times of its first and last cycle [time unit].
    cycles : int
        Cycles it lasted.
    largest : float
        The largest miss [CV unit].
    ongoing : bool
        Still given up in the run's last cycle.
    """

    cv: str
    kind: str
    start: float
    end: float
    cycles: int
    largest: float
    ongoing: bool

    def describe(self, unit: str, time_unit: str) -> str:
        """One line for a terminal or a log."""
        until = " (until the end of the run)" if self.ongoing else ""
        return (f"{describe_target(self.cv, self.kind)} given up from t = {self.start:g} to "
                f"{self.end:g} {time_unit}{until}, {self.cycles} cycle{'s' * (self.cycles != 1)}; "
                f"largest miss "
                f"{self.largest:.4g} {unit}").replace("  ", " ")


def episodes(frame: pd.DataFrame, events: pd.DataFrame | None = None) -> list[Episode]:
    """The given-up episodes of a run, from its cycle table (:meth:`CycleStore.to_frame`).

    Runs logged before misses were kept as values have one ``given_up``
    event per cycle instead; ``events`` (:meth:`CycleStore.events`) reads those.
    """
    if frame.empty:
        return []
    cycles = frame["cycle"].to_numpy(dtype=int)
    times = frame["time"].to_numpy(dtype=float)
    misses: dict[tuple[str, str], np.ndarray] = {}
    for column in frame.columns:
        for kind in KINDS:
            suffix = "." + ROLE.format(kind=kind)
            if isinstance(column, str) and column.endswith(suffix):
                misses[(column[:-len(suffix)], kind)] = frame[column].to_numpy(dtype=float)
    if not misses and events is not None and not events.empty:
        misses = _from_old_events(events, cycles)
    out = []
    for (cv, kind), miss in misses.items():
        given = np.isfinite(miss)
        k = 0
        while k < len(given):
            if not given[k]:
                k += 1
                continue
            j = k
            while j + 1 < len(given) and given[j + 1] and cycles[j + 1] == cycles[j] + 1:
                j += 1
            out.append(Episode(cv, kind, float(times[k]), float(times[j]), j - k + 1,
                               float(np.max(miss[k:j + 1])), j == len(given) - 1))
            k = j + 1
    return sorted(out, key=lambda e: (e.start, e.cv, e.kind))


def _from_old_events(events: pd.DataFrame, cycles: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    index = {c: i for i, c in enumerate(cycles)}
    misses: dict[tuple[str, str], np.ndarray] = {}
    for row in events[events["kind"] == "given_up"].itertuples():
        m = _OLD_EVENT.match(str(row.message))
        if m is None or row.cycle not in index:
            continue
        arr = misses.setdefault((m[1], m[2]), np.full(len(cycles), np.nan))
        arr[index[row.cycle]] = float(m[3])
    return misses


def episode_rows(found: list[Episode], units: Mapping[str, str]) -> list[dict[str, Any]]:
    """The episodes as JSON-friendly rows (with each CV's unit)."""
    return [{"cv": e.cv, "kind": e.kind, "start": e.start, "end": e.end, "cycles": e.cycles,
             "largest": e.largest, "unit": units.get(e.cv, ""), "ongoing": e.ongoing}
            for e in found]


def units_of(model) -> dict[str, str]:
    """Variable name to unit for every state, input and output of a model."""
    return {v.name: v.unit for g in (model.states, model.inputs, model.outputs) for v in g}
