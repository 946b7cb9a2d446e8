"""A plant over OPC UA for a step test: the deployed loop's gateway and watchdog rules.

The test writes the **remote setpoints** of the base layer's loops (the
MVs must be loops of the tag map, in CASCADE) and the APC heartbeat, over
the same secure client as ``twin deploy`` (:class:`~twin.orchestration.opcua.gateway.Gateway`:
Basic256Sha256 SignAndEncrypt, user and password, trusted server
certificate). The deploy watchdog's rules decide when the test may write:

- the gateway answers, and the server heartbeat has moved within
  ``watchdog.heartbeat_timeout`` [s];
- every MV's base loop is in CASCADE with a readable setpoint;
- a CV whose server timestamp lags the heartbeat's by more than
  ``watchdog.stale_after`` [s] is a Bad reading.

When a rule fails the test **sheds**: it writes nothing at all, not even
its heartbeat, so the base layer falls back exactly as for the deployed
loop; it re-enters after ``watchdog.reentry_cycles`` healthy samples, from
the setpoints the loops then hold. Samples are paced on the wall clock:
``sample_time * seconds_per_time_unit`` (from the tag map) apart.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time

from twin.core.errors import InputError
from twin.core.quality import Quality, Reading
from twin.orchestration.opcua.gateway import Gateway, GatewayError, Snapshot

log = logging.getLogger(__name__)


class OpcuaPlant:
    """The plant behind an OPC UA server, as the step-test sampler uses a plant."""

    def __init__(self, tags, gateway_settings, watchdog, tick: float, mvs: list[str],
                 cvs: list[str], time_unit: str = "s"):
        missing = [n for n in cvs if n not in tags.tags]
        if missing:
            raise InputError(f"tag map: no tag for cv {', '.join(missing)}; mapped: "
                             f"{', '.join(tags.tags) or '(none)'}")
        no_loop = [n for n in mvs if n not in tags.loops]
        if no_loop:
            raise InputError(f"tag map: no base loop for mv {', '.join(no_loop)} (a step test "
                             f"writes remote setpoints); loops: {', '.join(tags.loops) or '(none)'}")
        self.tags, self.watchdog, self.tick = tags, watchdog, float(tick)
        self.mvs, self.cvs = list(mvs), list(cvs)
        self.time_unit = time_unit
        self.title = f"OPC UA plant at {gateway_settings.url or tags.url}"
        self.period = self.tick * tags.seconds_per_time_unit
        self.loop = asyncio.new_event_loop()
        self.gateway = Gateway(tags, gateway_settings)
        try:
            self.loop.run_until_complete(self.gateway.connect())
            self._snapshot = self._read()
        except BaseException:
            self.close()
            raise
        if self._snapshot is None:
            self.close()
            raise GatewayError(f"{self.gateway.url}: nothing could be read: "
                               f"{'; '.join(self.problems)}")
        self._deadline = time.monotonic()
        self._heartbeat_value: int | None = None
        self._heartbeat_seen = time.monotonic()
        self._apc_heartbeat = 0
        self._sp: dict[str, float] = {}
        self._time = 0.0
        self._update_health(self._snapshot)

    # -- reading -----------------------------------------------------------------
    def _read(self) -> Snapshot | None:
        self.problems: list[str] = []
        try:
            return self.loop.run_until_complete(self.gateway.read())
        except GatewayError as exc:
            self.problems.append(f"gateway: {exc}")
            return None

    def _update_health(self, snap: Snapshot | None) -> None:
        now = time.monotonic()
        if snap is None:
            return
        if snap.heartbeat is None:
            self.problems.append("server heartbeat unreadable")
        elif snap.heartbeat != self._heartbeat_value:
            self._heartbeat_value, self._heartbeat_seen = snap.heartbeat, now
        if now - self._heartbeat_seen > self.watchdog.heartbeat_timeout:
            self.problems.append(f"server heartbeat still for {now - self._heartbeat_seen:.1f} s")
        for name in self.mvs:
            mode, sp = snap.modes.get(name), snap.setpoints.get(name)
            if mode != "CASCADE":
                self.problems.append(f"base loop {name} is in {mode or 'an unreadable mode'}")
            if sp is None or not sp.good:
                self.problems.append(f"setpoint of base loop {name} unusable")
            else:
                self._sp[name] = sp.value

    def read(self) -> dict[str, Reading]:
        """The CVs now (stale or Bad values have quality BAD)."""
        snap = self._snapshot
        out = {}
        for name in self.cvs:
            s = snap.tags[name] if snap is not None else None
            if s is None:
                out[name] = Reading(math.nan, Quality.BAD, True, self._time)
                continue
            stale = (s.server_time is not None and snap.heartbeat_time is not None
                     and (snap.heartbeat_time - s.server_time).total_seconds()
                     > self.watchdog.stale_after)
            out[name] = Reading(math.nan if stale else s.value,
                                Quality.BAD if stale else s.quality, True, self._time)
        return out

    def health(self) -> tuple[bool, str]:
        """``(True, "")`` when the test may write, else ``(False, why)``."""
        return (not self.problems, "; ".join(self.problems))

    @property
    def reentry_cycles(self) -> int:
        """Healthy samples needed before writing again after a shed."""
        return self.watchdog.reentry_cycles

    def mv_readback(self) -> dict[str, float]:
        """The setpoints the base loops act on [MV units]."""
        return dict(self._sp)

    def inputs(self) -> dict[str, float]:
        """The MVs (the base loops' setpoints)."""
        return dict(self._sp)

    def truth(self) -> dict[str, float]:
        """Nothing is known beyond the readings."""
        return {}

    # -- writing and time --------------------------------------------------------
    def write(self, values: dict[str, float]) -> None:
        """Remote setpoints of the MVs' loops, then the APC heartbeat."""
        self._apc_heartbeat += 1
        try:
            self.loop.run_until_complete(self.gateway.write_setpoints(
                {n: float(v) for n, v in values.items()}))
            self.loop.run_until_complete(self.gateway.write_heartbeat(self._apc_heartbeat))
        except GatewayError as exc:
            log.warning("step test: writing failed: %s", exc)
            self.problems.append(f"gateway: {exc}")

    def step(self) -> None:
        """Wait for the next sample time on the wall clock, then read."""
        self._deadline += self.period
        delay = self._deadline - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            self._deadline = time.monotonic()  # late: the next sample counts from now
        self._time += self.tick
        self._snapshot = self._read()
        self._update_health(self._snapshot)

    @property
    def time(self) -> float:
        """Time since the test started [time unit]."""
        return self._time

    def close(self) -> None:
        """Close the session and its event loop."""
        if not self.loop.is_closed():
            try:
                self.loop.run_until_complete(self.gateway.close())
            finally:
                self.loop.close()
