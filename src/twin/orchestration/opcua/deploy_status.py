"""The live status of a deployed loop, for its progress hook.

After each cycle the deployed loop reports a :class:`ProgressUpdate` whose
``status`` is the cycle just committed: plant time, the loop's state
(waiting, active, shed), the controller mode, each CV's measured value
against its setpoint with its unit, and the last solve time.
"""

from __future__ import annotations

import math
from typing import Any

from twin.orchestration.loop.given_up import units_of
from twin.orchestration.progress import ProgressUpdate


class DeployStatus:
    """Counts sheds and failures over a deployed run; one update per cycle.

    ``loop`` is the :class:`~twin.orchestration.opcua.deploy.DeployedLoop`
    (its ``state``, ``given_up`` watch, controller spec and model units are read).
    """

    def __init__(self, loop: Any):
        self.loop = loop
        self.sheds = 0
        self.failed = 0
        self._state = loop.state
        self._solve_ms: float | None = None
        spec = loop.config.controller
        self.cvs = [c.name for c in spec.cv]
        self.units = units_of(loop.internal)

    def update(self, rec: Any, done: int, total: int | None) -> ProgressUpdate:
        """The update after cycle ``rec`` (a committed ``CycleRecord``)."""
        state = self.loop.state
        self.sheds += state == "shed" and self._state != "shed"
        self._state = state
        info = rec.info or {}
        self.failed += bool(rec.failed) or info.get("solve_status") in ("failed", "timeout")
        solve = info.get("solve_time")
        if solve is not None and math.isfinite(solve) and solve > 0:
            self._solve_ms = 1e3 * solve
        values = {(name, role): value for name, role, value, *_ in rec.values or []}
        cvs = {n: (values.get((n, "meas")), values.get((n, "setpoint")), self.units.get(n, ""))
               for n in self.cvs}
        status = {"t": rec.t, "time_unit": self.loop.internal.time_unit, "state": state,
                  "mode": info.get("mode", state), "solve_ms": self._solve_ms, "cvs": cvs}
        watch = self.loop.given_up
        return ProgressUpdate(done, total, "cycles", self.failed, self.sheds, watch.episodes,
                              watch.take_warnings(), status)
