"""The closed loop in one process (SIL): the twin, its sensors, and the APC.

Time advances in plant ticks. Every ``sample_time / tick`` ticks the
controller reads the sensors, decides, and the cycle is logged (committed)
before its MVs reach the plant. MVs written in a cycle are latched at the
next tick, exactly as the simulated hardware over OPC UA does, so SIL and
HIL runs of the same scenario follow the same trajectories; ``latch =
"immediate"`` gives the idealised loop instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


import numpy as np

from apc.controller import Controller, Mode, Output
from twin.core.errors import InputError, RunStopped, TwinError
from twin.core.model import Model
from twin.core.plant import SimulatedPlant
from twin.core.quality import Quality, Reading
from twin.core.sensors import SensorSpec
from twin.core.time_unit import in_time_unit
from twin.core.units import check_values, to_declared_values
from twin.orchestration.loop.changes import ChangeDesk
from twin.orchestration.loop.config import LoopConfig, refuse_model_only_keys
from twin.orchestration.loop.given_up import ROLE, GivenUpWatch, units_of
from twin.orchestration.loop.store import CycleStore
from twin.orchestration.out_folder import make_folder
from twin.orchestration.progress import Progress, ProgressUpdate
from twin.orchestration.registry import load_model


def sensor_specs(pc, measurements) -> list[SensorSpec]:
    """The plant's measurement devices: ``plant.sensors``, else one per controller measurement."""
    devices = pc.sensors if pc.sensors is not None else measurements
    return [SensorSpec(d.name, d.noise_std, d.sample_interval, d.dead_time) for d in devices]


STEADY_HINT = "plant.steady_start: give plant.guess (a starting point) or other plant.u0"
"""What a loop file can change when the plant's steady start is not found."""


def make_plant(pc, tick: float, sensors, internal: Model):
    """The plant of a loop: the twin of a model, or an FMU (``plant.model`` ending in .fmu).

    An FMU is mapped to the controller's model by name; units both declare
    must agree, and every MV and DV must be an FMU input. The loop runs in
    the time unit of the controller's model: a plant model counting time in
    another unit is rescaled to it (:func:`twin.core.time_unit.in_time_unit`).
    """
    if pc.is_fmu:
        from twin.core.fmu.plant import FmuPlant, check_units

        refuse_model_only_keys(pc)

        plant = FmuPlant(pc.model, tick, sensors, start={**pc.parameters, **pc.x0, **pc.u0},
                         seed=pc.seed, steady_start_model=internal if pc.steady_start else None,
                         steady_guess=pc.guess, steady_hint=STEADY_HINT,
                         interface=pc.interface, isolate=pc.isolate,
                         me_method=pc.method or "dopri5", rtol=pc.rtol or 1e-8,
                         atol=pc.atol or 1e-10, timeout=pc.timeout, time_unit=internal.time_unit)
        try:
            check_units(plant.description, internal)
        except BaseException:
            plant.close()
            raise
        return plant
    model = load_model(pc.model, pc.parameters, pc.parameter_set)
    for variables, values, key in ((model.states, pc.x0, "plant.x0"),
                                   (model.inputs, pc.u0, "plant.u0")):
        check_values(variables, to_declared_values(variables, values, key), key)
    model = in_time_unit(model, internal.time_unit)
    return SimulatedPlant(model, tick, sensors, x0=pc.x0, u0=pc.u0, steady_start=pc.steady_start,
                          guess=pc.guess, steady_hint=STEADY_HINT, seed=pc.seed, base_layer=pc.base_layer, backend=pc.backend,
                          method=pc.method, rtol=pc.rtol, atol=pc.atol)


@dataclass
class LoopResult:
    """Where a run's records are, and its KPIs."""

    folder: Path
    store: Path
    parquet: Path | None = None
    report: Path | None = None
    kpis: dict[str, Any] = field(default_factory=dict)
    cycles: int = 0
    units: dict[str, str] = field(default_factory=dict)
    """Unit of every variable of the controller's model."""
    time_unit: str = ""
    shutdown: str = ""
    """The plant's shutdown event when a limit of its model tripped and ended the run, else ''."""


class ClosedLoop:
    """A SIL run of a :class:`LoopConfig`; ``run()`` returns a :class:`LoopResult`."""

    def __init__(self, config: LoopConfig, folder: str | Path, fresh: bool = False,
                 pace: float | None = None, predictions: bool = False):
        """``folder`` is created once the plant and controller are set up (a refused
        configuration leaves no folder); ``fresh``: replace an earlier run's cycle log there;
        ``pace``: wall-clock seconds per control cycle (default: as fast as it computes);
        ``predictions``: record each cycle's CV predictions over the horizon."""
        self.config = config
        self.folder = Path(folder)
        self._fresh = fresh
        self.pace = pace
        self._predictions = predictions
        pc, spec = config.plant, config.controller
        internal = load_model(spec.model, parameter_set=spec.parameter_set)
        self.plant = make_plant(pc, config.tick, sensor_specs(pc, spec.measurements), internal)
        self.internal = internal
        try:
            self._start(config, internal)
        except BaseException:
            self.plant.close()
            raise

    def _start(self, config: LoopConfig, internal) -> None:
        pc, spec = config.plant, config.controller
        missing = [n for n in [m.name for m in spec.mv] + [d.name for d in spec.dv]
                   if n not in self.plant.inputs()]
        if missing:
            raise InputError(f"plant '{pc.model}' has no input {', '.join(missing)} for the "
                             f"controller; its inputs: {', '.join(self.plant.inputs())}")
        self._check_plant_events(config)
        inputs = {n: v for n, v in {**self.plant.inputs(), **self.plant.mv_readback()}.items()
                  if n in internal.inputs}
        if config.run.initial_estimate == "steady_state":
            x0 = initial_estimate(internal, self.plant.read(), inputs)
        else:
            truth = self.plant.truth()
            x0 = internal.x0({n: truth[n] for n in internal.states.names if n in truth})
        u0 = internal.u0(inputs)
        self.controller = Controller(spec, internal, x0=x0, u0=u0)
        self.controller.record_predictions = self._predictions
        self.mv_names = [m.name for m in spec.mv]
        self.quality_override: dict[str, Quality] = {}
        self.controller.set_mode(config.run.mode, self._mvs())
        self.rto = None
        if config.rto is not None:
            from twin.orchestration.loop.rto_handoff import RTOSupervisor
            from rto.economics_spec import economics_for

            self.rto = RTOSupervisor(config.rto, self.controller, economics_for(config.rto.economics))
        self.given_up = GivenUpWatch(units_of(internal))
        self.failures = self.sheds = 0
        make_folder(self.folder, self._fresh)
        self.store = CycleStore(self.folder / "cycles.sqlite")
        self.store.start_run("SIL", pc.model, self.plant.time_unit, config.as_dict())
        self.desk = ChangeDesk(self.store.db, self.store.run_id, self.controller)

    def _check_plant_events(self, config: LoopConfig) -> None:
        """The plant's part of every event, checked before the run: inputs, parameters, sensors."""
        from twin.core.errors import UnknownNameError

        inputs, sensors = list(self.plant.inputs()), list(self.plant.read())
        for k, e in enumerate(config.event):
            where = f"event[{k}] (time {e.time:g})"
            for name in e.inputs:
                if name not in inputs:
                    raise UnknownNameError("plant input", name, inputs, f"{where}.inputs")
            for name in e.sensor_quality:
                if name not in sensors:
                    raise UnknownNameError("sensor", name, sensors, f"{where}.sensor_quality")
            self.plant.check_parameters(e.plant_parameters)

    def run(self, progress: Progress | None = None) -> LoopResult:
        cfg = self.config
        tick = cfg.tick
        per_cycle = round(cfg.controller.sample_time / tick)
        n_ticks = int(round(cfg.run.duration / tick))
        n_cycles = n_ticks // per_cycle + 1
        events = sorted(cfg.event, key=lambda e: e.time)
        next_event = 0
        cycle = 0
        plant = self.plant
        start = time.monotonic()
        shutdown = ""
        for j in range(n_ticks + 1):
            t = j * tick
            while next_event < len(events) and events[next_event].time <= t + 1e-9 * tick:
                self._apply_event(events[next_event])
                next_event += 1
            plant.latch()  # writes of the previous cycle take effect at this tick
            if j % per_cycle == 0:
                if self.pace:
                    time.sleep(max(0.0, start + cycle * self.pace - time.monotonic()))
                out = self._guarded_cycle(cycle, t)
                cycle += 1
                if not out.shed and out.mode is not Mode.OFF:
                    plant.write_heartbeat(cycle)
                if out.write:
                    plant.write(out.mv)
                    if cfg.plant.latch == "immediate":
                        plant.latch()
                if progress is not None:
                    progress(ProgressUpdate(cycle, n_cycles, "cycles", self.failures, self.sheds,
                                            self.given_up.episodes,
                                            self.given_up.take_warnings()))
            if j == n_ticks:
                break
            try:
                plant.step()
            except TwinError as exc:
                self.store.log_event(cycle - 1, t, "plant_failure", str(exc))
                raise
            shutdown = getattr(plant, "shutdown", "")  # an FMU plant has no interlocks
            if shutdown:  # the plant's interlocks ended the run
                self.store.log_event(cycle - 1, plant.time, "plant_shutdown", shutdown)
                break
        self.store.db.commit()
        return LoopResult(self.folder, self.store.path, cycles=cycle,
                          units=units_of(self.internal), time_unit=plant.time_unit,
                          shutdown=shutdown)

    def _guarded_cycle(self, cycle: int, t: float) -> Output:
        """A cycle; an exception in it is recorded as an event and stops the run with one line
        (in simulation there is no base layer to shed to that would make going on useful)."""
        try:
            return self._cycle(cycle, t)
        except TwinError as exc:
            self.store.log_event(cycle, t, "error", f"cycle {cycle} at t = {t:g} failed: {exc}")
            raise
        except Exception as exc:  # noqa: BLE001 - recorded, then one line for the user
            reason = f"cycle {cycle} at t = {t:g} failed: {type(exc).__name__}: " \
                     f"{' '.join(str(exc).split())}"[:500]
            self.store.log_event(cycle, t, "error", reason)
            raise RunStopped(reason) from exc

    def _mvs(self) -> np.ndarray:
        values = self.plant.mv_readback()
        return np.array([values[n] for n in self.mv_names])

    def _readings(self, t: float) -> dict[str, Reading]:
        readings = self.plant.read()
        for name, quality in self.quality_override.items():
            if name in readings:
                r = readings[name]
                readings[name] = Reading(r.value, quality, r.fresh, r.timestamp)
        return readings

    def _cycle(self, cycle: int, t: float) -> Output:
        spec = self.controller.spec
        readings = self._readings(t)
        inputs = self.plant.inputs()
        mv_now = self._mvs()
        dv = {d.name: float(inputs[d.name]) for d in spec.dv}
        truth = self.plant.truth()
        x_plant = (np.array([truth[n] for n in self.internal.states.names])
                   if all(n in truth for n in self.internal.states.names) else None)
        wall = time.time()
        decided, change_events = self.desk.take(mv_now)
        rto_events = (self.rto.observe(t, readings, dict(zip(self.mv_names, mv_now)))
                      if self.rto is not None else [])
        out = self.controller.step(t, readings, mv_now, dv, x_plant=x_plant)
        base = getattr(self.plant, "base", None)
        values, events = cycle_record(self.controller, t, readings, out, mv_now, dv, truth,
                                      self.given_up)
        self.failures += out.solve_status in ("failed", "timeout")
        self.sheds += bool(out.shed)
        events = change_events + list(rto_events) + events
        events += [("base_layer", e) for e in (base.take_events() if base is not None else [])]
        self.store.log_cycle(cycle, t, cycle_info(out, wall), values + self.desk.values(t), events,
                             out.cv_predicted, [d.row() for d in decided])
        return out

    def _apply_event(self, event) -> None:
        apply_controller_event(self.controller, event)
        if event.inputs:
            self.plant.write(event.inputs)
            self.plant.latch()
        if event.plant_parameters:
            self.plant.set_parameters(event.plant_parameters)
        if event.mode is not None:
            self.controller.set_mode(Mode(event.mode), self._mvs())
        for name, quality in event.sensor_quality.items():
            if quality == "good":
                self.quality_override.pop(name, None)
            else:
                self.quality_override[name] = Quality(quality)

    def close(self) -> None:
        if getattr(self, "desk", None) is not None:
            self.desk.finish()
        self.store.close()
        self.plant.close()


def cycle_info(out: Output, wall: float, **extra) -> dict[str, Any]:
    """The cycle row of the store for a controller output."""
    return {"wall_time": wall, "mode": out.mode.value, "write": out.write,
            "solve_status": out.solve_status, "solver_message": out.solver_message,
            "iterations": out.iterations, "solve_time": out.solve_time,
            "failures": out.consecutive_failures, "shed": out.shed, **extra}


def cycle_record(controller: Controller, t: float, readings: dict[str, Reading], out: Output,
                 mv_now: np.ndarray, dv: dict[str, float], truth: dict[str, float],
                 given_up: GivenUpWatch | None = None) -> tuple[list[tuple], list[tuple[str, str]]]:
    """The values and events of one cycle, in the store's schema (SIL, HIL and deployed alike).

    Each given-up target's miss is a value (role ``given_up_<kind>``); ``given_up``
    turns them into one event where an episode starts and one where it ends."""
    spec = controller.spec
    values: list[tuple] = []
    for name, r in readings.items():
        values.append((name, "meas", r.value, r.quality.value, r.timestamp, t))
    for name, value in truth.items():
        values.append((name, "plant", value, None, t, t))
    for j, m in enumerate(spec.mv):
        value = out.mv[m.name] if out.write else float(mv_now[j])
        values.append((m.name, "mv", value, out.mv_status[m.name].value, t, t))
        if m.name in out.mv:  # the planned move, also when not written (WARM)
            values.append((m.name, "next", out.mv[m.name], None, t, t))
        values.append((m.name, "low", float(controller.u_lo[j]), None, t, t))
        values.append((m.name, "high", float(controller.u_hi[j]), None, t, t))
        if out.mv_target:
            values.append((m.name, "target", out.mv_target[m.name], None, t, t))
    for i, c in enumerate(spec.cv):
        values.append((c.name, "status", float("nan"), out.cv_status[c.name].value, t, t))
        for role, arr in (("low", controller.soft_lo), ("high", controller.soft_hi),
                          ("hard_low", controller.hard_lo), ("hard_high", controller.hard_hi)):
            if np.isfinite(arr[i]):
                values.append((c.name, role, float(arr[i]), None, t, t))
        if c.name in out.setpoints:
            values.append((c.name, "setpoint", out.setpoints[c.name], None, t, t))
        if c.name in out.cv_target:
            values.append((c.name, "target", out.cv_target[c.name], None, t, t))
        if c.name in out.soft_violation:
            values.append((c.name, "soft_violation", out.soft_violation[c.name], None, t, t))
    for name, value in out.x_estimate.items():
        values.append((name, "estimate", value, None, t, t))
    for name, value in out.bias.items():
        values.append((name, "bias", value, None, t, t))
    for name, value in out.prediction_error.items():
        if np.isfinite(value):  # (none for a reading not yet due)
            values.append((name, "prediction_error", value, None, t, t))
    for name, value in out.disturbance.items():
        values.append((name, "disturbance", value, None, t, t))
    for name, value in dv.items():
        values.append((name, "dv", value, None, t, t))
    for g in out.given_up:
        values.append((g["cv"], ROLE.format(kind=g["kind"]), g["violation"], None, t, t))
    events = [("event", e) for e in out.events]
    if given_up is not None:
        events += given_up.observe(t, out.given_up)
    if out.shed:
        events.append(("shed", "controller shed"))
    return values, events


def apply_controller_event(controller: Controller, event) -> None:
    """The controller's part of an ``[[event]]``: setpoints, setpoint steps, limits."""
    for name, value in event.setpoint.items():
        controller.set_setpoint(name, value)
    for name, change in event.setpoint_step.items():
        controller.set_setpoint(name, controller.setpoint(name) + change)
    for name, limits in event.limits.items():
        controller.set_limits(name, **limits)


def initial_estimate(model: Model, readings: dict[str, Reading], inputs: dict[str, float]
                     ) -> np.ndarray:
    """A first state estimate from what a deployed loop knows.

    The steady state of ``model`` at ``inputs`` (the nominal state if none is
    found), with every state that is measured with usable quality replaced by
    its reading.
    """
    from twin.core.errors import SteadyStateError
    from twin.core.steady import find_steady_state

    u = model.u0(inputs)
    try:
        x = find_steady_state(model, u=u).x.copy()
    except SteadyStateError:
        x = model.x0()
    for i, name in enumerate(model.states.names):
        r = readings.get(name)
        if r is not None and r.quality is not Quality.BAD and np.isfinite(r.value):
            x[i] = r.value
    return x
