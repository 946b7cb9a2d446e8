"""Closed-loop run configuration (TOML), validated on load.

A loop file has a ``[plant]`` table (the twin: model, mismatch parameters,
initial state, simulator settings, sensors, tick and MV latching), the
controller (an inline ``[controller]`` table or ``controller_file``), a
``[run]`` table, and ``[[event]]`` entries that change setpoints, limits,
disturbance inputs, plant parameters, the controller mode or sensor quality
at given times. Unknown keys are errors naming the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from apc.spec import ControllerSpec, load_spec, spec_from_dict
from twin.orchestration.loop.rto_handoff import RTOLoopSpec
from twin.core.base_layer import BaseLayerSpec
from twin.core.config import Count, Domain, NonNegative, Positive, build, read_toml, table_or_file
from twin.core.errors import InputError
from twin.core.units import ModelValue, check_texts
from twin.core.model_ref import with_resolved_model

Tolerance = Annotated[float, Domain(gt=0, le=1)]
"""An integration tolerance."""
Seed = Count(0, 2 ** 32 - 1)
"""A random seed."""
MAX_TICKS = 10 ** 9
"""Most plant ticks in one run."""


@dataclass(frozen=True)
class SensorConfig:
    """A plant-side measurement device (see :class:`twin.core.sensors.SensorSpec`)."""

    name: str
    noise_std: NonNegative = 0.0
    sample_interval: NonNegative = 0.0
    dead_time: NonNegative = 0.0


@dataclass(frozen=True)
class PlantConfig:
    """The simulated plant.

    Attributes
    ----------
    tick : float, optional
        Plant step [model time unit]; default: the controller's sample time.
    latch : str
        ``"next_tick"``: MVs written in a cycle take effect at the next tick,
        as on the simulated hardware; ``"immediate"``: at once (the
        idealised loop of textbook MPC).
    sensors : tuple, optional
        Measurement devices; default: one per controller measurement, with
        its noise, sample interval and dead time.
    x0 : dict
        The initial state, by name (missing states: the model's nominal
        values; an FMU: its own start values).
    steady_start : bool
        Start from the plant's steady state at ``u0`` instead of ``x0``
        (for an FMU: the steady state of the controller's model, set on the
        FMU's states by name). ``x0`` and ``steady_start`` are never given
        together: this is what ``x0`` meant before ``guess`` existed.
    guess : dict
        Starting point of the steady-state solver (with ``steady_start``),
        by name over the nominal state.
    model : str
        A model reference (a shipped or registered name, a model file
        ``./reactor.py[:NAME]`` or ``package.module:ATTRIBUTE``), or an FMU
        file (``*.fmu``) that replaces the twin; files are relative to the
        configuration file.
    interface : str
        FMU only: ``auto`` (Co-Simulation if offered), ``cs`` or ``me``
        (integrated by ``method`` with ``rtol``/``atol``).
    isolate : bool
        FMU only: run it in a child process, so a crash is an error.
    timeout : float
        FMU only, isolated: seconds one call may take [s].
    parameters, x0, u0 : dict
        Values by name: numbers in the declared units, or text with a unit
        (``"0.5 mol/L"``, ``"378.05 K"``), converted to the declared unit.
    base_layer : BaseLayerSpec, optional
        Model plants only: base-layer PI loops on some inputs; the APC's MVs
        on those inputs become their remote setpoints (as over OPC UA).
    """

    model: str
    parameter_set: str | None = None
    parameters: dict[str, ModelValue] = field(default_factory=dict)
    x0: dict[str, ModelValue] = field(default_factory=dict)
    u0: dict[str, ModelValue] = field(default_factory=dict)
    steady_start: bool = False
    guess: dict[str, float] = field(default_factory=dict)
    backend: Literal["kernel", "reference"] = "kernel"
    method: Literal["rk4", "dopri5", "bdf"] | None = None
    rtol: Tolerance | None = None
    atol: Tolerance | None = None
    tick: Positive | None = None
    latch: Literal["next_tick", "immediate"] = "next_tick"
    sensors: tuple[SensorConfig, ...] | None = None
    seed: Seed = 0
    interface: Literal["auto", "cs", "me"] = "auto"
    isolate: bool = True
    timeout: Annotated[float, Domain(gt=0, le=86400)] = 600.0
    base_layer: BaseLayerSpec | None = None

    def __post_init__(self) -> None:
        for key in ("parameters", "x0", "u0"):
            check_texts(getattr(self, key), key, model_plant=not self.is_fmu)
        if self.x0 and self.steady_start:
            raise InputError("plant.x0 and plant.steady_start both set the initial state "
                             "(x0 is always the initial state); for the steady-state solver's "
                             "starting point write plant.guess instead of plant.x0")
        if self.guess and not self.steady_start:
            raise InputError("plant.guess is the steady-state solver's starting point and needs "
                             "plant.steady_start = true; the initial state is plant.x0")

    @property
    def is_fmu(self) -> bool:
        """True when the plant is an FMU file."""
        return str(self.model).lower().endswith(".fmu")


@dataclass(frozen=True)
class EventConfig:
    """Something that happens at ``time`` [model time unit]."""

    time: NonNegative
    setpoint: dict[str, float] = field(default_factory=dict)
    setpoint_step: dict[str, float] = field(default_factory=dict)
    limits: dict[str, dict[str, float]] = field(default_factory=dict)
    inputs: dict[str, float] = field(default_factory=dict)
    plant_parameters: dict[str, float] = field(default_factory=dict)
    mode: Literal["off", "warm", "on"] | None = None
    sensor_quality: dict[str, Literal["good", "uncertain", "bad"]] = field(default_factory=dict)


CV_LIMITS = ("low", "high", "hard_low", "hard_high")
MV_LIMITS = ("low", "high", "max_move")


def check_events(events: tuple[EventConfig, ...], spec: ControllerSpec,
                 duration: float | None) -> None:
    """Every event's controller part checked before the run: names of CVs and MVs, limit
    keys, times within the run, setpoints within the CV's hard limits, limits ordered."""
    from twin.core.errors import UnknownNameError

    cvs = {c.name: c for c in spec.cv}
    mvs = {m.name: m for m in spec.mv}
    for k, e in enumerate(events):
        where = f"event[{k}] (time {e.time:g})"
        if duration is not None and e.time > duration:
            raise InputError(f"{where}: after the end of the run (run.duration {duration:g})")
        for key, names in (("setpoint", e.setpoint), ("setpoint_step", e.setpoint_step)):
            for name in names:
                if name not in cvs:
                    raise UnknownNameError("cv", name, cvs, f"{where}.{key}")
        for name, value in e.setpoint.items():
            c = cvs[name]
            if (c.hard_low is not None and value < c.hard_low) or \
                    (c.hard_high is not None and value > c.hard_high):
                raise InputError(f"{where}.setpoint.{name}: {value:g} is outside the hard limits "
                                 f"of cv '{name}' (hard_low {c.hard_low}, hard_high {c.hard_high})")
        for name, limits in e.limits.items():
            if name in cvs:
                valid, item = CV_LIMITS, cvs[name]
            elif name in mvs:
                valid, item = MV_LIMITS, mvs[name]
            else:
                raise UnknownNameError("cv or mv", name, [*cvs, *mvs], f"{where}.limits")
            for key in limits:
                if key not in valid:
                    raise UnknownNameError("limit", key, valid, f"{where}.limits.{name}")
            if "max_move" in limits and not limits["max_move"] > 0:
                raise InputError(f"{where}.limits.{name}.max_move: must be positive")
            for lo, hi in (("low", "high"), ("hard_low", "hard_high")):
                low = limits.get(lo, getattr(item, lo, None))
                high = limits.get(hi, getattr(item, hi, None))
                if low is not None and high is not None and low > high:
                    raise InputError(f"{where}.limits.{name}: {lo} {low:g} is above {hi} {high:g}")


@dataclass(frozen=True)
class RunConfig:
    """Duration [model time unit], the controller mode at the start, and its first estimate.

    ``initial_estimate``: ``"plant"`` starts the estimator at the simulated
    plant's true state (a simulation privilege); ``"steady_state"`` starts it
    as a deployed loop must, from the steady state of the controller's model
    at the current inputs with the measured states read in.
    """

    duration: Positive
    mode: Literal["off", "warm", "on"] = "on"
    initial_estimate: Literal["plant", "steady_state"] = "plant"


@dataclass(frozen=True)
class LoopConfig:
    """A closed-loop scenario: plant, controller, run settings and events."""

    plant: PlantConfig
    controller: ControllerSpec
    run: RunConfig
    event: tuple[EventConfig, ...] = ()
    title: str = ""
    rto: RTOLoopSpec | None = None

    def __post_init__(self) -> None:
        tick = self.tick
        ratio = self.controller.sample_time / tick
        if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
            raise InputError(f"plant.tick {tick} must divide the controller sample time "
                             f"{self.controller.sample_time}")
        check_events(self.event, self.controller, self.run.duration)
        if self.run.duration / tick > MAX_TICKS:
            raise InputError(f"run.duration {self.run.duration:g} is more than {MAX_TICKS:g} plant "
                             f"ticks of {tick:g}")

    @property
    def tick(self) -> float:
        """Plant step [model time unit]."""
        return self.plant.tick if self.plant.tick is not None else self.controller.sample_time

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def loop_from_dict(data: dict[str, Any], base: Path | None = None, where: str = "loop") -> LoopConfig:
    """A checked :class:`LoopConfig` from a parsed TOML table (``base`` resolves ``controller_file``)."""
    data = dict(data)
    for key in ("plant", "controller"):
        if key in data:
            data[key] = with_resolved_model(data[key], base)
    valid = ("plant", "controller", "controller_file", "run", "event", "title", "rto")
    for key in data:
        if key not in valid:
            raise InputError(f"{where}: unknown key '{key}'; valid keys: {', '.join(valid)}")
    controller = table_or_file(data, "controller", base, where, spec_from_dict, load_spec,
                               "controller")
    raw = build(_LoopTables, data, where)
    plant = raw.plant
    if plant.is_fmu and base is not None and not Path(plant.model).is_absolute():
        plant = replace(plant, model=str(base / plant.model))
    return LoopConfig(plant=plant, controller=controller, run=raw.run, event=raw.event,
                      title=raw.title, rto=raw.rto)


@dataclass(frozen=True)
class _LoopTables:
    plant: PlantConfig
    run: RunConfig
    event: tuple[EventConfig, ...] = ()
    title: str = ""
    rto: RTOLoopSpec | None = None


def load_loop(path: str | Path) -> LoopConfig:
    """Read a loop configuration file."""
    path = Path(path)
    return loop_from_dict(read_toml(path), path.parent, path.name)


def refuse_model_only_keys(plant) -> None:
    """Refuse, in one line, plant keys that apply to model plants when the plant is an FMU.

    ``plant`` is a plant table of a loop or a step test (``base_layer``,
    ``parameter_set`` and ``backend`` keys).
    """
    ignored = [key for key, unused in (("base_layer", plant.base_layer is not None),
                                       ("parameter_set", plant.parameter_set is not None),
                                       ("backend", plant.backend != "kernel")) if unused]
    if ignored:
        raise InputError(f"plant.{ignored[0]} applies to model plants, not to FMUs")
