"""The control loop deployed against an OPC UA gateway (``twin deploy``).

Each cycle: read every tag with status in one request; judge health
(connection, server heartbeat, per-tag staleness on the server's clock);
run the controller; write remote setpoints only to base loops in CASCADE,
clamped again to hard and rate limits, then the APC heartbeat; read the
setpoints back and compare. Every cycle is committed to the store before
the next, whatever happened.

States: ``waiting`` (not yet in control), ``active``, ``shed``. The
watchdog sheds on gateway loss, a stalled server heartbeat, repeated
overruns, a failed read-back (communication sheds), and on a loop taken out
of CASCADE or a controller shed: critical CV bad, repeated solver failures
(operator sheds). Shed, the loop writes nothing at all, so the base layer's
heartbeat watch takes over by itself; the estimator keeps tracking. It
re-enters, bumplessly from the setpoints the loops hold, after
``reentry_cycles`` healthy cycles with every loop in CASCADE; after an
operator shed, only once the operator has handed the loops back (a loop
seen out of CASCADE, then all in CASCADE again).

Timing: aligned to the server's tick counter when the tag map has one
(simulated hardware: the cycle reads the plant at exactly the tick a SIL
run would), else on the wall clock.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from apc.controller import Controller, Mode
from twin.core.errors import TwinError
from twin.core.quality import Quality, Reading
from twin.orchestration.loop.runner import LoopResult, apply_controller_event, cycle_info, \
    cycle_record, initial_estimate
from twin.orchestration.loop.store import CycleStore
from twin.orchestration.opcua.deploy_config import DeployConfig
from twin.orchestration.opcua.gateway import Gateway, GatewayError, Snapshot
from twin.orchestration.registry import load_model

log = logging.getLogger(__name__)


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


class DeployedLoop:
    """A :class:`DeployConfig` run against its gateway; :meth:`run` returns a :class:`LoopResult`."""

    def __init__(self, config: DeployConfig, folder: str | Path):
        self.config = config
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        spec = config.controller
        self.internal = load_model(spec.model, parameter_set=spec.parameter_set)
        self.mv_names = [m.name for m in spec.mv]
        self.dv_names = [d.name for d in spec.dv]
        needed = [m.name for m in spec.measurements] + self.dv_names
        config.tags.check_model(self.internal, needed, self.mv_names, "deploy tag map")
        self.controller: Controller | None = None
        self.gateway = Gateway(config.tags, config.gateway, config.url)
        self.state = "waiting"
        self.needs_operator = False
        self.seen_out_of_cascade = False
        self._stale: set[str] = set()
        self._server_start = None
        self._pending_events: list[tuple[str, str]] = []
        self.healthy_cycles = 0
        self.overruns = 0
        self.heartbeat = 0
        self._last_server_hb: int | None = None
        self._last_hb_change = time.monotonic()
        self._last_modes: dict[str, str] = {}
        self.rto = None
        if config.rto is not None:
            from twin.orchestration.rto_run import economics_for

            self._rto_spec = (config.rto, economics_for(config.rto.economics))
        self.store = CycleStore(self.folder / "cycles.sqlite")
        self.store.start_run("deployed", config.url, self.internal.time_unit, config.as_dict())
        self.cycle_seconds: list[float] = []

    # ------------------------------------------------------------ running

    async def run(self, progress: Callable[[float], None] | None = None,
                  stop: asyncio.Event | None = None) -> LoopResult:
        cfg = self.config
        spec = cfg.controller
        await self.gateway.connect()
        per_cycle = None
        if cfg.uses_ticks:
            ratio = spec.sample_time / cfg.tags.tick_period
            per_cycle = int(round(ratio))
            if abs(ratio - per_cycle) > 1e-9 or per_cycle < 1:
                raise TwinError(f"the sample time {spec.sample_time} is not a whole number of "
                                f"server ticks of {cfg.tags.tick_period}")
            self.tick0 = await self.gateway.read_tick()
            self._last_tick = self.tick0
            self._wall_start = time.monotonic()
            t_offset = self.tick0 * cfg.tags.tick_period
        else:
            start = time.monotonic()
            period = spec.sample_time * cfg.tags.seconds_per_time_unit
            t_offset = 0.0
        duration = cfg.run.duration
        n_cycles = None if duration is None else int(round(duration / spec.sample_time)) + 1
        events = sorted(cfg.event, key=lambda e: e.time)
        cycle = 0
        try:
            while n_cycles is None or cycle < n_cycles:
                if stop is not None and stop.is_set():
                    break
                elapsed = cycle * spec.sample_time  # run time: events are scheduled on it
                if per_cycle is not None:
                    late = await self._wait_for_tick(cycle, per_cycle)
                else:
                    await asyncio.sleep(max(0.0, start + cycle * period - time.monotonic()))
                    late = 0
                t = t_offset + elapsed
                while events and events[0].time <= elapsed + 1e-9 * spec.sample_time:
                    self._apply_event(events.pop(0))
                began = time.monotonic()
                await self._cycle(cycle, t, late)
                work = time.monotonic() - began
                self.cycle_seconds.append(work)
                self._check_overrun(work, spec.sample_time * cfg.tags.seconds_per_time_unit)
                cycle += 1
                if progress is not None and n_cycles:
                    progress(cycle / n_cycles)
        finally:
            self.store.db.commit()
        return LoopResult(self.folder, self.store.path, cycles=cycle)

    async def _wait_for_tick(self, cycle: int, per_cycle: int) -> int:
        """Poll the server's tick counter until the cycle's tick; returns how late we are.

        A counter that went backwards (a restarted server): the schedule
        is re-aligned on its count. Without a counter (server unreachable)
        the cycle waits for its time on the wall clock instead.
        """
        tags = self.config.tags
        poll = max(tags.tick_period * tags.seconds_per_time_unit / 10, 0.0005)
        period = per_cycle * tags.tick_period * tags.seconds_per_time_unit
        while True:
            try:
                tick = await self.gateway.read_tick()
            except GatewayError:  # the cycle itself will find and log the gateway failure
                wait = self._wall_start + cycle * period - time.monotonic()
                await asyncio.sleep(max(wait, 0.0))
                self._wall_start = time.monotonic() - cycle * period
                return 0
            if tick < self._last_tick:
                self.tick0 = tick - cycle * per_cycle
                self._pending_events.append(("resync", f"server tick counter went back to {tick}: "
                                                       "schedule re-aligned"))
            self._last_tick = tick
            target = self.tick0 + cycle * per_cycle
            if tick >= target + per_cycle:  # a whole cycle behind (the server or we stalled)
                self.tick0 = tick - cycle * per_cycle
                self._pending_events.append(("resync", f"{tick - target} ticks behind the "
                                                       "server: schedule re-aligned"))
                target = tick
            if tick >= target:
                self._wall_start = time.monotonic() - cycle * period
                return tick - target
            await asyncio.sleep(poll)

    def _check_overrun(self, work: float, period: float) -> None:
        self.overruns = self.overruns + 1 if work > period else 0

    # ------------------------------------------------------------ one cycle

    async def _cycle(self, cycle: int, t: float, late: int) -> None:
        wall = time.time()
        health = Health()
        events: list[tuple[str, str]] = []
        if late:
            events.append(("late", f"cycle read the plant {late} tick(s) late"))
        snap = None
        try:
            snap = await self.gateway.read()
        except GatewayError as exc:
            health.problems.append(f"gateway: {exc}")
        if snap is not None:
            self._watch_restart(snap, events)
            self._watch_heartbeat(snap, health)
            events += self._mode_events(snap)
        elif self.gateway.client is not None and not self.gateway.connected:
            pass  # asyncua is reconnecting
        await self._maybe_rebuild(events)
        if self.overruns >= self.config.watchdog.max_overruns:
            health.problems.append(f"{self.overruns} cycles in a row overran the sample time")
        if snap is None:
            self._log_blind(cycle, t, wall, health, events)
            return
        readings = self._readings(snap)
        events += self._pending_events
        self._pending_events = []
        mv_now = np.array([snap.setpoints[n] for n in self.mv_names])
        dv = {n: readings[n].value for n in self.dv_names}
        if self.controller is None:
            self.controller = self._make_controller(readings, mv_now, dv)
        c = self.controller
        if self.state == "active":
            loops_out = [f"{n} in {m}" for n, m in snap.modes.items() if m != "CASCADE"]
            if not health.ok:
                self._shed(events, "; ".join(health.problems))
            elif loops_out:
                self._shed(events, "operator has loop " + ", ".join(loops_out), operator=True)
        elif self._may_enter(snap, health):
            c.set_mode(Mode.ON, mv_now)
            events.append(("reentry" if self.state == "shed" else "engaged",
                           f"in control from setpoints {self._fmt(mv_now)}"))
            self.state = "active"
        rto_events = []
        if self.rto is not None and self.state == "active":
            rto_events = self.rto.observe(t, readings, dict(zip(self.mv_names, mv_now)))
        out = c.step(t, readings, mv_now, dv)
        events = list(rto_events) + events
        if self.state == "active" and out.shed:
            why = "; ".join(out.events[-1:]).removeprefix("shed: ")
            self._shed(events, "controller shed: " + why, operator=True)
        written = {}
        if self.state == "active":
            written = await self._write(out, mv_now, snap, events)
        values, more = cycle_record(c, t, readings, out, mv_now, dv, {})
        if written:
            values = [v for v in values if v[1] != "mv"] + [
                (n, "mv", written[n], out.mv_status[n].value, t, t) for n in self.mv_names]
        values += [(n, "loop_sp", v, snap.modes[n], t, t) for n, v in snap.setpoints.items()]
        events += [e for e in more if e[0] != "shed"]  # a shed is logged once, by _shed
        info = cycle_info(out, wall)
        info.update(mode=self.state if self.state != "active" else out.mode.value,
                    write=bool(written), shed=self.state == "shed" and out.shed)
        self.store.log_cycle(cycle, t, info, values, events)

    def _make_controller(self, readings, mv_now, dv) -> Controller:
        spec = self.config.controller
        u = {**dict(zip(self.mv_names, mv_now)), **dv}
        x0 = initial_estimate(self.internal, readings, u)
        if self.config.rto is not None:
            from twin.orchestration.loop.rto_handoff import RTOSupervisor

            controller = Controller(spec, self.internal, x0=x0, u0=self.internal.u0(u))
            self.rto = RTOSupervisor(self._rto_spec[0], controller, self._rto_spec[1])
            return controller
        return Controller(spec, self.internal, x0=x0, u0=self.internal.u0(u))

    def _watch_restart(self, snap: Snapshot, events) -> None:
        """A new ServerStatus.StartTime: the server restarted (its state may be new)."""
        if snap.server_start is None:
            return
        if self._server_start is not None and snap.server_start != self._server_start:
            events.append(("restart", f"server restarted at {snap.server_start.isoformat()}"))
        self._server_start = snap.server_start

    def _watch_heartbeat(self, snap: Snapshot, health: Health) -> None:
        now = time.monotonic()
        if snap.heartbeat is None:
            health.problems.append("server heartbeat unreadable")
            return
        if snap.heartbeat != self._last_server_hb:
            self._last_server_hb = snap.heartbeat
            self._last_hb_change = now
        elif now - self._last_hb_change > self.config.watchdog.heartbeat_timeout:
            health.problems.append(f"server heartbeat stalled for {now - self._last_hb_change:.1f} s")

    async def _maybe_rebuild(self, events) -> None:
        """Connected but no heartbeat change for ``rebuild_after``: replace the session."""
        quiet = time.monotonic() - self._last_hb_change
        if quiet > self.config.watchdog.rebuild_after and self.gateway.client is not None:
            try:
                await self.gateway.rebuild()
                events.append(("rebuild", f"no fresh data for {quiet:.1f} s: session rebuilt"))
            except GatewayError as exc:
                events.append(("rebuild", f"session rebuild failed: {exc}"))
            self._last_hb_change = time.monotonic()
        elif self.gateway.client is None:
            try:
                await self.gateway.connect()
                events.append(("rebuild", "reconnected with a new session"))
            except GatewayError:
                pass

    def _readings(self, snap: Snapshot) -> dict[str, Reading]:
        """Tag samples as readings: Bad unusable, Uncertain as configured, stale as Bad."""
        stale_after = self.config.watchdog.stale_after
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
        for name in sorted(stale - self._stale):
            self._pending_events.append(("stale", f"{name}: no update for more than "
                                                  f"{stale_after:g} s (server timestamps)"))
        for name in sorted(self._stale - stale):
            self._pending_events.append(("stale", f"{name}: updating again"))
        self._stale = stale
        return out

    def _mode_events(self, snap: Snapshot) -> list[tuple[str, str]]:
        events = []
        for name, mode in snap.modes.items():
            if mode != "CASCADE":
                self.seen_out_of_cascade = True
            if self._last_modes.get(name, mode) != mode:
                events.append(("base_layer", f"{name}: {self._last_modes[name]} -> {mode}"))
        self._last_modes = dict(snap.modes)
        return events

    def _may_enter(self, snap: Snapshot, health: Health) -> bool:
        all_cascade = all(m == "CASCADE" for m in snap.modes.values())
        armed = not self.needs_operator or self.seen_out_of_cascade
        if health.ok and all_cascade and armed:
            self.healthy_cycles += 1
        else:
            self.healthy_cycles = 0
        needed = 1 if self.state == "waiting" else self.config.watchdog.reentry_cycles
        return self.healthy_cycles >= needed

    def _shed(self, events, reason: str, operator: bool = False) -> None:
        self.state = "shed"
        self.needs_operator = operator
        self.seen_out_of_cascade = False
        self.healthy_cycles = 0
        if self.controller is not None:
            self.controller.set_mode(Mode.OFF)
        events.append(("shed", f"shed to the base layer: {reason}"))
        log.warning("shed to the base layer: %s", reason)

    async def _write(self, out, mv_now: np.ndarray, snap: Snapshot, events) -> dict[str, float]:
        """Clamped setpoints to loops in CASCADE, the heartbeat, then the read-back check."""
        c = self.controller
        written: dict[str, float] = {}
        try:
            if out.write:
                wanted = np.array([out.mv[n] for n in self.mv_names])
                safe = clamp_moves(wanted, mv_now, c.u_lo, c.u_hi, np.asarray(c.max_move, float))
                if not np.allclose(safe, wanted, rtol=0, atol=1e-12):
                    events.append(("clamped", f"setpoints {self._fmt(wanted)} clamped to "
                                              f"{self._fmt(safe)}"))
                written = {n: float(v) for n, v in zip(self.mv_names, safe)
                           if snap.modes.get(n) == "CASCADE"}
                await self.gateway.write_setpoints(written)
            self.heartbeat += 1
            await self.gateway.write_heartbeat(self.heartbeat)
            if written:
                back = await self.gateway.read_back(list(written))
                tol = self.config.watchdog.readback_tolerance
                wrong = [n for n, v in written.items() if abs(back[n] - v) > tol * max(1.0, abs(v))]
                if wrong:
                    self._shed(events, "read-back differs for " + ", ".join(
                        f"{n} (wrote {written[n]:.6g}, server holds {back[n]:.6g})" for n in wrong))
        except GatewayError as exc:
            self._shed(events, f"gateway: {exc}")
        return written

    def _log_blind(self, cycle: int, t: float, wall: float, health: Health, events) -> None:
        """A cycle that could not read: recorded, with its reason; nothing written."""
        if self.state == "active":
            self._shed(events, "; ".join(health.problems))
        events.append(("unreadable", "; ".join(health.problems) or "no data"))
        self.store.log_cycle(cycle, t, {"wall_time": wall, "mode": self.state, "write": False,
                                        "solve_status": "no data", "shed": False}, [], events)

    def _apply_event(self, event) -> None:
        if self.controller is not None:
            apply_controller_event(self.controller, event)

    def _fmt(self, values) -> str:
        return ", ".join(f"{n}={v:.6g}" for n, v in zip(self.mv_names, values))

    async def close(self) -> None:
        await self.gateway.close()
        self.store.close()


def run_deploy(config: DeployConfig, folder: str | Path,
               progress: Callable[[float], None] | None = None) -> LoopResult:
    """Run a deployed loop to its duration (or Ctrl-C); records in ``folder``."""

    async def main() -> LoopResult:
        loop = DeployedLoop(config, folder)
        try:
            return await loop.run(progress)
        finally:
            await loop.close()

    return asyncio.run(main())
