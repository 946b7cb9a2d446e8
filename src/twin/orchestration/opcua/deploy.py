"""The control loop deployed against an OPC UA gateway (``twin deploy``).

Each cycle, in stages: **read** every tag with status in one request
(every value through the gateway's quality gate) and judge health
(connection, server heartbeat, per-tag staleness on the server's clock,
base-loop modes and setpoints); run the **controller** (estimate, targets,
solve) and the RTO above it; **commit** the cycle to the store; then
**write** remote setpoints only to base loops in CASCADE, clamped again to
hard and rate limits, and the APC heartbeat; **read back** the setpoints
and compare. Nothing is written that was not committed first.

No exception leaves a cycle unlogged: an exception in any stage is
committed as an ``error`` event naming the stage, the loop sheds (writes
nothing, so the base layer takes over), a controller that failed is rebuilt
from fresh readings, and the loop recovers as from any shed. A cycle the
store cannot commit writes nothing and its events are kept for the next
commit. After ``watchdog.max_errors`` failed cycles since the loop was last
in control, it stops with a one-line reason (exit status 1).

What a bad value means (Bad or Uncertain status, null, wrong type, not
finite, or stale):

- a measured CV: dropped from control while bad, or a shed if critical;
- a measured disturbance: its last good value is held (feedforward frozen);
- a base loop's mode or setpoint: a shed, since the loop's state is
  unknown; the estimator uses the last good setpoint;
- a remote setpoint read in the snapshot: an event; read back after a write,
  a shed;
- the server heartbeat: a shed; the tick counter: the cycle is timed on
  the wall clock.

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
import contextlib
import logging
import time
from pathlib import Path

import numpy as np

from apc.controller import Controller, Mode
from twin.core.errors import InputError, RunStopped, TwinError
from twin.core.quality import Quality, Reading
from twin.orchestration.loop.runner import LoopResult, apply_controller_event, cycle_info, \
    cycle_record, initial_estimate
from twin.orchestration.loop.changes import ChangeDesk
from twin.orchestration.loop.given_up import GivenUpWatch, units_of
from twin.orchestration.loop.store import CycleStore
from twin.orchestration.opcua.cycle import BEFORE_COMMIT, CycleRecord, Decision, Health, \
    StageFailed, blind_info, clamp_moves, tag_readings
from twin.orchestration.opcua.deploy_config import DeployConfig
from twin.orchestration.opcua.deploy_status import DeployStatus
from twin.orchestration.opcua.gateway import Gateway, GatewayError, Snapshot
from twin.orchestration.out_folder import make_folder
from twin.orchestration.progress import Progress
from twin.orchestration.registry import load_model

log = logging.getLogger(__name__)


class DeployedLoop:
    """A :class:`DeployConfig` run against its gateway; :meth:`run` returns a :class:`LoopResult`."""

    def __init__(self, config: DeployConfig, folder: str | Path, fresh: bool = False,
                 predictions: bool = False):
        self.config, self.predictions = config, predictions
        self.folder = Path(folder)
        spec = config.controller
        self.internal = load_model(spec.model, parameter_set=spec.parameter_set)
        self.mv_names = [m.name for m in spec.mv]
        self.dv_names = [d.name for d in spec.dv]
        needed = [m.name for m in spec.measurements] + self.dv_names
        config.tags.check_model(self.internal, needed, self.mv_names, "deploy tag map")
        self.controller: Controller | None = None
        self.desk: ChangeDesk | None = None      # console changes, applied each cycle
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
        self._last_modes: dict[str, str | None] = {}
        self._last_sp: dict[str, float] = {}    # last good setpoint of each base loop
        self._last_dv: dict[str, float] = {}    # last good value of each measured disturbance
        self._held_dv: set[str] = set()
        self._bad_rsp: list[str] = []
        self._unlogged: list[tuple[str, str]] = []  # events of cycles the store refused
        self.errors = 0                          # failed cycles since last in control
        self._last_failure: StageFailed | None = None
        self._applied_events: list = []
        self.rto = None
        if config.rto is not None:
            from rto.economics_spec import economics_for

            self._rto_spec = (config.rto, economics_for(config.rto.economics))
        make_folder(self.folder, fresh)  # after the checks: a refused file leaves none
        self.store = CycleStore(self.folder / "cycles.sqlite")
        self.store.start_run("deployed", config.url, self.internal.time_unit, config.as_dict())
        self.cycle_seconds: list[float] = []
        self.given_up = GivenUpWatch(units_of(self.internal))

    # ------------------------------------------------------------ running

    async def run(self, progress: Progress | None = None,
                  stop: asyncio.Event | None = None) -> LoopResult:
        cfg = self.config
        spec = cfg.controller
        await self.gateway.connect()
        missing = await self.gateway.missing_nodes()
        if missing:
            raise InputError(f"tag map: the server at {self.gateway.url} has no node for "
                             f"{', '.join(missing)}")
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
        cycle, status = 0, DeployStatus(self)
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
                while events and events[0].time <= elapsed + 1e-9 * spec.sample_time:
                    self._apply_event(events.pop(0))
                began = time.monotonic()
                rec = await self._cycle(cycle, t_offset + elapsed, late)
                work = time.monotonic() - began
                self.cycle_seconds.append(work)
                self._check_overrun(work, spec.sample_time * cfg.tags.seconds_per_time_unit)
                cycle += 1
                if progress is not None:
                    progress(status.update(rec, cycle, n_cycles))
        finally:
            with contextlib.suppress(Exception):  # every cycle committed itself already
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

    async def _cycle(self, cycle: int, t: float, late: int) -> CycleRecord:
        """Read, decide, commit, then write and check; an exception in any stage is
        committed as an event and sheds (nothing written), then the loop recovers or stops."""
        rec = CycleRecord(cycle, t, time.time())
        if late:
            rec.events.append(("late", f"cycle read the plant {late} tick(s) late"))
        try:
            await self._stages(rec)
        finally:
            self._stop_if_failing()
        return rec

    async def _stages(self, rec: CycleRecord) -> None:
        decision = None
        try:
            with rec.stage("read"):
                snap = await self._read(rec)
            if snap is not None:
                decision = await self._decide(rec, snap)
        except StageFailed as failed:
            decision = None
            self._error(rec, failed)
        if not self._commit(rec):
            return
        if decision is not None and decision.active and self.state == "active":
            try:
                await self._write(rec, decision)
            except StageFailed as failed:
                self._error(rec, failed)
            self._commit_events(rec)
        if self.state == "active" and not rec.failed:
            self.errors = 0

    async def _read(self, rec: CycleRecord) -> Snapshot | None:
        """The snapshot and the health checks; ``None`` when the gateway gave nothing."""
        health = rec.health
        snap = None
        try:
            snap = await self.gateway.read()
        except GatewayError as exc:
            health.problems.append(f"gateway: {exc}")
        if snap is not None:
            self._watch_restart(snap, rec.events)
            self._watch_heartbeat(snap, health)
            rec.events += self._mode_events(snap)
            self._gate_loops(snap, health, rec.events)
        await self._maybe_rebuild(rec.events)
        if self.overruns >= self.config.watchdog.max_overruns:
            health.problems.append(f"{self.overruns} cycles in a row overran the sample time")
        if snap is None:
            if self.state == "active":
                self._shed(rec.events, "; ".join(health.problems))
            rec.events.append(("unreadable", "; ".join(health.problems) or "no data"))
            rec.info = blind_info(rec, self.state, "no data")
        return snap

    def _gate_loops(self, snap: Snapshot, health: Health, events) -> None:
        """Base-loop values through the gate: an unreadable mode or setpoint is unhealthy
        (shed); the last good setpoint stands in for the estimator."""
        for name in self.mv_names:
            mode, sp = snap.modes.get(name), snap.setpoints.get(name)
            if mode is None:
                health.problems.append(f"mode of base loop {name} unreadable")
            if sp is None or not sp.good:
                why = sp.status if sp is not None else "not read"
                health.problems.append(f"setpoint of base loop {name} unusable ({why})")
            else:
                self._last_sp[name] = sp.value
        bad_rsp = sorted(n for n, r in snap.remote_setpoints.items() if not r.good)
        for name in bad_rsp:
            if name not in self._bad_rsp:
                events.append(("bad_value", f"remote setpoint of {name} is "
                                            f"{snap.remote_setpoints[name].status}"))
        self._bad_rsp = bad_rsp

    async def _decide(self, rec: CycleRecord, snap: Snapshot) -> Decision | None:
        """Readings, the state machine, RTO and controller: what this cycle will write."""
        health, events = rec.health, rec.events
        readings = self._readings(snap)
        events += self._pending_events
        self._pending_events = []
        if any(n not in self._last_sp for n in self.mv_names):
            events.append(("waiting", "no good setpoint read yet from every base loop: "
                                      + "; ".join(health.problems)))
            rec.info = blind_info(rec, self.state, "no data")
            return None
        mv_now = np.array([self._last_sp[n] for n in self.mv_names])
        dv = self._disturbances(readings, events)
        with rec.stage("controller"):
            if self.controller is None:
                self.controller = self._make_controller(readings, mv_now, dv)
        c = self.controller
        decided, change_events = self.desk.take(mv_now)
        rec.changes, events[:0] = [d.row() for d in decided], change_events
        if self.state == "active":
            loops_out = [f"{n} in {m}" for n, m in snap.modes.items()
                         if m is not None and m != "CASCADE"]
            if not health.ok:
                self._shed(events, "; ".join(health.problems))
            elif loops_out:
                self._shed(events, "operator has loop " + ", ".join(loops_out), operator=True)
        elif self._may_enter(snap, health):
            c.set_mode(self.desk.operator_mode, mv_now)
            events.append(("reentry" if self.state == "shed" else "engaged",
                           f"in control from setpoints {self._fmt(mv_now)}"))
            self.state = "active"
        rto_events = []
        if self.rto is not None and self.state == "active":
            with rec.stage("rto"):
                rto_events = self.rto.observe(rec.t, readings, dict(zip(self.mv_names, mv_now)))
        with rec.stage("controller"):
            out = c.step(rec.t, readings, mv_now, dv)
        events[:0] = list(rto_events)
        if self.state == "active" and out.shed:
            why = "; ".join(out.events[-1:]).removeprefix("shed: ")
            self._shed(events, "controller shed: " + why, operator=True)
        written = self._setpoints(out, mv_now, snap, events) if self.state == "active" else {}
        values, more = cycle_record(c, rec.t, readings, out, mv_now, dv, {}, self.given_up)
        values, rec.predictions = values + self.desk.values(rec.t), out.cv_predicted
        if written:
            values = [v for v in values if v[1] != "mv"] + [
                (n, "mv", written[n], out.mv_status[n].value, rec.t, rec.t)
                for n in self.mv_names]
        values += [(n, "loop_sp", v.value, snap.modes.get(n), rec.t, rec.t)
                   for n, v in snap.setpoints.items()]
        events += [e for e in more if e[0] != "shed"]  # a shed is logged once, by _shed
        info = cycle_info(out, rec.wall)
        info.update(mode=self.state if self.state != "active" else out.mode.value,
                    write=bool(written), shed=self.state == "shed" and out.shed)
        rec.values, rec.info = values, info
        return Decision(written, self.state == "active")

    def _disturbances(self, readings: dict[str, Reading], events) -> dict[str, float]:
        """Measured disturbances; a bad one holds its last good value (feedforward frozen)."""
        dv = {}
        for name in self.dv_names:
            r = readings[name]
            if r.quality is Quality.BAD or not np.isfinite(r.value):
                if name not in self._held_dv:
                    events.append(("bad_value", f"disturbance {name} is bad: holding its last "
                                                "good value"))
                    self._held_dv.add(name)
                if name in self._last_dv:
                    dv[name] = self._last_dv[name]
                continue
            if name in self._held_dv:
                events.append(("bad_value", f"disturbance {name} is good again"))
                self._held_dv.discard(name)
            dv[name] = self._last_dv[name] = r.value
        return dv

    def _setpoints(self, out, mv_now: np.ndarray, snap: Snapshot, events) -> dict[str, float]:
        """The setpoints to write: clamped again to hard and rate limits, loops in CASCADE only."""
        if not out.write:
            return {}
        c = self.controller
        wanted = np.array([out.mv[n] for n in self.mv_names])
        safe = clamp_moves(wanted, mv_now, c.u_lo, c.u_hi, np.asarray(c.max_move, float))
        if not np.allclose(safe, wanted, rtol=0, atol=1e-12):
            events.append(("clamped", f"setpoints {self._fmt(wanted)} clamped to "
                                      f"{self._fmt(safe)}"))
        return {n: float(v) for n, v in zip(self.mv_names, safe)
                if snap.modes.get(n) == "CASCADE"}

    def _commit(self, rec: CycleRecord) -> bool:
        """Commit the cycle (with any events a failed commit kept) before anything is written.

        A failed commit writes nothing (a shed: the base layer takes over by
        itself) and keeps the cycle's events for the next commit."""
        events = self._unlogged + rec.events
        try:
            with rec.stage("commit"):
                self.store.log_cycle(rec.cycle, rec.t, rec.info or blind_info(rec, self.state, ""),
                                     rec.values, events, rec.predictions, rec.changes)
        except StageFailed as failed:
            if self.state == "active":
                self._shed(events, f"cycle store failed: {failed.reason}")
            self.errors += 1
            self._unlogged = events + [("error", f"{failed.describe()}; cycle {rec.cycle} "
                                                 "not recorded, nothing written")]
            log.error("cycle %d not recorded, nothing written: %s", rec.cycle, failed.reason)
            self._last_failure = failed
            return False
        self._unlogged = []
        rec.events = []
        return True

    def _commit_events(self, rec: CycleRecord) -> None:
        """Events of the write and read-back stages, committed after them."""
        if not rec.events:
            return
        try:
            with rec.stage("commit"):
                for kind, message in rec.events:
                    self.store.log_event(rec.cycle, rec.t, kind, message)
        except StageFailed as failed:
            self._unlogged += rec.events
            self.errors += 1
            self._last_failure = failed
        rec.events = []

    def _error(self, rec: CycleRecord, failed: StageFailed) -> None:
        """An exception in a stage: recorded, shed (nothing written), controller rebuilt."""
        rec.failed = True
        self.errors += 1
        rec.events.append(("error", failed.describe()))
        log.error("cycle %d: %s", rec.cycle, failed.describe())
        if failed.stage in ("controller", "rto"):
            self.controller, self.rto = None, None  # rebuilt from fresh readings
        if self.state == "active":
            self._shed(rec.events, f"{failed.stage} failed: {failed.reason}")
        if failed.stage in BEFORE_COMMIT:
            rec.info = blind_info(rec, self.state, "error")
            rec.values = []
        self._last_failure = failed

    def _stop_if_failing(self) -> None:
        """Stop with one line once ``watchdog.max_errors`` cycles failed since the loop was
        last in control (after the cycle's commit; events a failed commit kept go first)."""
        limit = self.config.watchdog.max_errors
        if self.errors < limit:
            return
        reason = (f"deployed loop stopped after {self.errors} failed cycles "
                  f"(watchdog.max_errors = {limit}); last: {self._last_failure.describe()}; "
                  "nothing written since, the base layer has control")
        try:
            for kind, message in self._unlogged + [("stopped", reason)]:
                self.store.log_event(None, None, kind, message)
            self._unlogged = []
        except Exception:  # noqa: BLE001 - the store itself is what failed
            log.error("events not recorded: %s", self._unlogged)
        raise RunStopped(reason)

    def _make_controller(self, readings, mv_now, dv) -> Controller:
        """A controller from the current readings, with every event so far applied (OFF)."""
        spec = self.config.controller
        u = {**dict(zip(self.mv_names, mv_now)), **dv}
        x0 = initial_estimate(self.internal, readings, u)
        controller = Controller(spec, self.internal, x0=x0, u0=self.internal.u0(u))
        for event in self._applied_events:
            apply_controller_event(controller, event)
        controller.record_predictions = self.predictions
        self.desk = ChangeDesk(self.store.db, self.store.run_id, controller, self.desk, mv_now,
                               in_control=lambda: self.state == "active")
        if self.config.rto is not None:
            from twin.orchestration.loop.rto_handoff import RTOSupervisor

            self.rto = RTOSupervisor(self._rto_spec[0], controller, self._rto_spec[1])
        return controller

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
        """Tag samples as readings (:func:`tag_readings`); an event where one goes stale."""
        stale_after = self.config.watchdog.stale_after
        out, stale = tag_readings(snap, stale_after)
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
            if mode is not None and mode != "CASCADE":
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

    async def _write(self, rec: CycleRecord, decision: Decision) -> None:
        """The committed setpoints, the APC heartbeat, then the read-back check."""
        written = decision.written
        try:
            with rec.stage("write"):
                await self.gateway.write_setpoints(written)
                self.heartbeat += 1
                await self.gateway.write_heartbeat(self.heartbeat)
            with rec.stage("read-back"):
                back = await self.gateway.read_back(list(written))
        except StageFailed as failed:
            if not isinstance(failed.cause, GatewayError):
                raise
            rec.failed = True
            self._shed(rec.events, f"gateway: {failed.cause}")
            return
        tol = self.config.watchdog.readback_tolerance
        wrong = [f"{n} (wrote {v:.6g}, server holds {back[n].value:.6g})" if back[n].good
                 else f"{n} (wrote {v:.6g}, read back {back[n].status})"
                 for n, v in written.items()
                 if not back[n].good or abs(back[n].value - v) > tol * max(1.0, abs(v))]
        if wrong:
            rec.failed = True
            self._shed(rec.events, "read-back differs for " + ", ".join(wrong))

    def _apply_event(self, event) -> None:
        """A scheduled change: applied now, and again to a controller built later."""
        self._applied_events.append(event)
        if self.controller is not None:
            apply_controller_event(self.controller, event)

    def _fmt(self, values) -> str:
        return ", ".join(f"{n}={v:.6g}" for n, v in zip(self.mv_names, values))

    async def close(self) -> None:
        await self.gateway.close()
        if self.desk is not None:
            self.desk.finish()
        self.store.close()


def run_deploy(config: DeployConfig, folder: str | Path, progress: Progress | None = None,
               fresh: bool = False, predictions: bool = False) -> LoopResult:
    """Run a deployed loop to its duration (or Ctrl-C); records in ``folder`` (``fresh``:
    replacing an earlier run's cycle log there; ``predictions``: record CV predictions)."""

    async def main() -> LoopResult:
        loop = DeployedLoop(config, folder, fresh, predictions)
        try:
            return await loop.run(progress)
        finally:
            await loop.close()

    return asyncio.run(main())
