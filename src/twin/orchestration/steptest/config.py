"""Step-test configuration (TOML), checked on load.

A step-test file has a ``[plant]`` table (a model of the twin, or an FMU),
a ``[test]`` table (signal, sample time, duration or rough settling time,
seed), one ``[[mv]]`` per manipulated variable (base point, amplitude, hard
and rate limits), one ``[[cv]]`` per controlled variable (measurement
noise, safety limits and margin, allowed excursion, prior gains) and,
optionally, a ``[pretest]`` (one step per MV to estimate gains and
settling time first). All times
are in the plant's time unit. Unknown keys are one-line errors naming the
valid ones. See docs/step-tests.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

from twin.core.base_layer import BaseLayerSpec
from twin.core.config import Count, Domain, NonNegative, Positive, build, check_domains, read_toml
from twin.core.errors import InputError
from twin.core.model_ref import with_resolved_model
from twin.core.units import ModelValue, check_texts
from twin.orchestration.opcua.deploy_config import GatewaySettings, WatchdogSettings

Seed = Count(0, 2 ** 32 - 1)
"""A random seed."""
MAX_SAMPLES = 10 ** 7
"""Most samples in one step test."""
Signal = Literal["gbn", "prbs", "staircase", "rotated"]


@dataclass(frozen=True)
class StepPlantConfig:
    """The plant the test runs on: a model of the twin, or an FMU (``model`` ending in ``.fmu``).

    ``tick`` [time unit] is the simulation step (default: the test's sample
    time, which it must divide). ``base_layer`` (model plants): base-layer PI
    loops whose remote setpoints the test moves, as in CASCADE over OPC UA.
    ``time_unit``: FMU only, when the FMU does not declare its time unit.
    ``steady_start``: a model plant starts at its steady state for ``u0``
    unless it is ``false`` (then at ``x0``); an FMU starts from its start
    values (``test.lead_in`` lets it settle).
    """

    model: str
    parameter_set: str | None = None
    parameters: dict[str, ModelValue] = field(default_factory=dict)
    x0: dict[str, ModelValue] = field(default_factory=dict)
    u0: dict[str, ModelValue] = field(default_factory=dict)
    steady_start: bool | None = None
    backend: Literal["kernel", "reference"] = "kernel"
    method: Literal["rk4", "dopri5", "bdf"] | None = None
    tick: Positive | None = None
    interface: Literal["auto", "cs", "me"] = "auto"
    isolate: bool = True
    timeout: Annotated[float, Domain(gt=0, le=86400)] = 600.0
    time_unit: str = "s"
    base_layer: BaseLayerSpec | None = None

    def __post_init__(self) -> None:
        check_domains(self)
        for key in ("parameters", "x0", "u0"):
            check_texts(getattr(self, key), key, model_plant=not self.is_fmu)
        if self.x0 and self.steady_start is not False and not self.is_fmu:
            raise InputError("plant.x0 is the initial state, but plant.steady_start (the default "
                             "for models) starts at the steady state; set steady_start = false "
                             "to use x0")

    @property
    def is_fmu(self) -> bool:
        """True when the plant is an FMU file."""
        return str(self.model).lower().endswith(".fmu")


@dataclass(frozen=True)
class TestConfig:
    """How the test moves the MVs.

    Attributes
    ----------
    signal : str
        ``gbn`` (generalized binary noise), ``prbs``, ``staircase`` or
        ``rotated`` (GBN along the singular directions of the prior gains,
        for ill-conditioned plants; needs ``gains`` on every CV).
    sample_time : float
        Time between MV moves and CV samples [time unit].
    settling_time : float
        Rough settling time of the slowest response [time unit]; gives the
        switching time (settling time / 3) and the default duration (10
        settling times). With a ``[pretest]``, the pre-test's estimate
        replaces it.
    duration : float, optional
        Test length [time unit]; default 10 settling times.
    switch_time : float, optional
        Mean switching time (GBN, rotated), twice the clock (PRBS), or the
        hold of each level (staircase: default one settling time) [time unit].
    prbs_bits : int, optional
        PRBS register length (default: a period covering the test).
    lead_in : float
        Time at the base point before the signal starts [time unit].
    seed : int
        Seed of the GBN signals and of the measurement noise.
    """

    sample_time: Positive
    settling_time: Positive | None = None
    signal: Signal = "gbn"
    duration: Positive | None = None
    switch_time: Positive | None = None
    prbs_bits: Count(2, 24) | None = None
    lead_in: NonNegative = 0.0
    seed: Seed = 0

    def __post_init__(self) -> None:
        check_domains(self)


class _Limits:
    """``lower``/``upper`` of optional ``low``/``high`` limits: the MV's hard limits, the CV's
    safety limits [variable unit]."""

    low: float | None
    high: float | None

    @property
    def lower(self) -> float:
        """Low limit (``-inf``: none) [variable unit]."""
        return -math.inf if self.low is None else self.low

    @property
    def upper(self) -> float:
        """High limit (``inf``: none) [variable unit]."""
        return math.inf if self.high is None else self.high


@dataclass(frozen=True)
class MVConfig(_Limits):
    """One manipulated variable of the test.

    ``base`` [MV unit]: the base point (default: the plant's value at the
    start). ``amplitude`` [MV unit]: the move around it (default: from the
    CVs' prior gains and excursions; for a ``rotated`` test, the room the MV
    may move, default: up to its nearer hard limit). ``low``/``high``: hard
    limits [MV unit], within the declared bounds of a model's input (which
    apply when none is given); ``max_rate``: rate limit [MV unit / time
    unit]. The MVs written always respect all of them, and an amplitude
    is cut to the room the limits leave around the base point (a given one
    with a warning; see docs/step-tests.md).
    """

    name: str
    base: float | None = None
    amplitude: Positive | None = None
    low: float | None = None
    high: float | None = None
    max_rate: Positive | None = None

    def __post_init__(self) -> None:
        check_domains(self)
        if self.lower > self.upper:
            raise InputError(f"mv '{self.name}': low {self.lower:g} is above high {self.upper:g}")
        if self.base is not None and not self.lower <= self.base <= self.upper:
            raise InputError(f"mv '{self.name}': base {self.base:g} is outside its hard limits "
                             f"[{self.lower:g}, {self.upper:g}]")

    @property
    def rate(self) -> float:
        """Rate limit (``inf``: none) [MV unit / time unit]."""
        return math.inf if self.max_rate is None else self.max_rate


@dataclass(frozen=True)
class CVConfig(_Limits):
    """One controlled (measured) variable of the test.

    ``noise_std`` [CV unit]: measurement noise of the simulated sensor.
    ``low``/``high`` [CV unit]: safety limits; within ``margin`` of one, the
    test pauses and returns the MVs to their base point until the CV is
    back inside by 1.5 margins; the margin must cover how far the CV goes
    on after the MVs are back. ``excursion`` [CV unit]: how far the
    test may move the CV (with ``gains``, sets the amplitudes). ``gains``:
    rough steady-state gains by MV name [CV unit / MV unit].
    """

    name: str
    noise_std: NonNegative = 0.0
    low: float | None = None
    high: float | None = None
    margin: NonNegative = 0.0
    excursion: Positive | None = None
    gains: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_domains(self)
        if self.lower + 1.5 * self.margin >= self.upper - 1.5 * self.margin:
            raise InputError(f"cv '{self.name}': safety limits low {self.lower:g} and high "
                             f"{self.upper:g} are not more than three times the margin "
                             f"({self.margin:g}) apart")


@dataclass(frozen=True)
class OpcuaPlantConfig:
    """A plant behind an OPC UA server (``twin serve-opcua`` or a plant's gateway).

    ``tags_file``: the tag map (``twin serve-opcua`` writes ``tags.toml``);
    the MVs must be base loops in it, the CVs tags. ``gateway`` and
    ``watchdog``: as in a deploy file (``twin deploy``). ``time_unit``: the
    unit of the test's times (the tag map's ``seconds_per_time_unit`` paces
    the samples). Relative paths are relative to the step-test file.
    """

    tags_file: str
    gateway: GatewaySettings = GatewaySettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    time_unit: str = "s"


@dataclass(frozen=True)
class PretestConfig:
    """A short pre-test before the test: one step per MV, in turn, to estimate gains and settling.

    Each MV steps by ``steps[name]`` (default: its amplitude) [MV unit] for
    ``hold`` [time unit] and returns to its base point for ``hold``; a first
    order plus dead time fit of each CV's response gives the gains and the
    settling time the test is then designed from (gains a CV gives in the
    file are kept).
    """

    hold: Positive
    steps: dict[str, Annotated[float, Domain(gt=0)]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_domains(self)


@dataclass(frozen=True)
class StepTestSpec:
    """A whole step test: the plant (``plant`` or ``opcua``), test settings, MVs and CVs."""

    test: TestConfig
    mv: tuple[MVConfig, ...]
    cv: tuple[CVConfig, ...]
    plant: StepPlantConfig | None = None
    opcua: OpcuaPlantConfig | None = None
    title: str = ""
    pretest: PretestConfig | None = None

    def __post_init__(self) -> None:
        check_domains(self)
        if (self.plant is None) == (self.opcua is None):
            raise InputError("step test: give the plant as either a [plant] table (a model or an "
                             "FMU) or an [opcua] table (a server), not both or neither")
        if not self.mv:
            raise InputError("step test: give at least one [[mv]]")
        if not self.cv:
            raise InputError("step test: give at least one [[cv]]")
        for kind, items in (("mv", self.mv), ("cv", self.cv)):
            names = [i.name for i in items]
            for name in names:
                if names.count(name) > 1:
                    raise InputError(f"step test: {kind} '{name}' is given twice")
        mvs = [m.name for m in self.mv]
        for c in self.cv:
            for name in c.gains:
                if name not in mvs:
                    raise InputError(f"cv '{c.name}'.gains: '{name}' is not an mv of the test "
                                     f"({', '.join(mvs)})")
        t = self.test
        if self.plant is not None and self.plant.tick is not None:
            ratio = t.sample_time / self.plant.tick
            if abs(ratio - round(ratio)) > 1e-9 or round(ratio) < 1:
                raise InputError(f"plant.tick {self.plant.tick:g} must divide test.sample_time "
                                 f"{t.sample_time:g}")
        self._check_prior(mvs)
        if self.pretest is not None:
            for name in self.pretest.steps:
                if name not in mvs:
                    raise InputError(f"pretest.steps: '{name}' is not an mv of the test "
                                     f"({', '.join(mvs)})")
            if self.pretest.hold / t.sample_time * 2 * len(mvs) > MAX_SAMPLES:
                raise InputError(f"pretest.hold {self.pretest.hold:g}: the pre-test would be "
                                 f"more than {MAX_SAMPLES:g} samples of test.sample_time "
                                 f"{t.sample_time:g}")
        if self.duration is None:
            return
        what = "test.duration" if t.duration is not None else \
            "test.duration (10 times test.settling_time)"
        if (self.duration + t.lead_in) / t.sample_time > MAX_SAMPLES:
            raise InputError(f"{what} {self.duration:g} plus test.lead_in {t.lead_in:g} is more "
                             f"than {MAX_SAMPLES:g} samples of test.sample_time {t.sample_time:g}")
        if self.duration < t.sample_time:
            raise InputError(f"{what} {self.duration:g} is shorter than one sample "
                             f"(test.sample_time {t.sample_time:g})")
        if t.switch_time is not None and t.switch_time > self.duration:
            raise InputError(f"test.switch_time {t.switch_time:g} is longer than the test "
                             f"({what} {self.duration:g})")

    def _check_prior(self, mvs: list[str]) -> None:
        """What the design needs is given, or comes from the pre-test."""
        t, pre = self.test, self.pretest is not None
        if t.settling_time is None and not pre:
            raise InputError("test.settling_time: give a rough settling time of the plant, or a "
                             "[pretest] to estimate it")
        if t.signal == "rotated":
            missing = [c.name for c in self.cv
                       if (set(c.gains) != set(mvs) and not pre) or c.excursion is None]
            if missing:
                raise InputError(f"test.signal 'rotated' needs gains for every mv (or a "
                                 f"[pretest]) and an excursion on every cv; missing on cv "
                                 f"{', '.join(missing)}")
        unset = [m.name for m in self.mv if m.amplitude is None and t.signal != "rotated"
                 and not any((c.gains.get(m.name) or pre) and c.excursion is not None
                             for c in self.cv)]
        if unset:
            raise InputError(f"mv '{unset[0]}': give its amplitude, or gains (or a [pretest]) "
                             "and an excursion on a cv to derive it from")
        if pre:
            no_step = [m.name for m in self.mv
                       if m.amplitude is None and m.name not in self.pretest.steps]
            if no_step:
                raise InputError(f"pretest: give the step of mv '{no_step[0]}' in pretest.steps "
                                 "(or its amplitude)")

    @property
    def duration(self) -> float | None:
        """Length of the excitation [time unit] (given, or 10 settling times; None until a
        pre-test has estimated the settling time)."""
        from apc.steptest.design import duration_from_prior

        t = self.test
        if t.duration is not None:
            return t.duration
        return duration_from_prior(t.settling_time) if t.settling_time is not None else None

    @property
    def tick(self) -> float:
        """Simulation step [time unit]."""
        if self.plant is not None and self.plant.tick is not None:
            return self.plant.tick
        return self.test.sample_time

    @property
    def plant_name(self) -> str:
        """The model, FMU or server the test runs on."""
        if self.plant is not None:
            return self.plant.model
        return self.opcua.gateway.url or self.opcua.tags_file


def spec_from_dict(data: dict, base: Path | None = None, where: str = "step test") -> StepTestSpec:
    """A checked :class:`StepTestSpec` from a parsed TOML table (FMU paths relative to ``base``)."""
    data = dict(data)
    if "plant" in data:
        data["plant"] = with_resolved_model(data["plant"], base)
    spec = build(StepTestSpec, data, where)
    p = spec.plant
    if p is not None and p.is_fmu and base is not None and not Path(p.model).is_absolute():
        spec = replace(spec, plant=replace(p, model=str(base / p.model)))
    if spec.opcua is not None and base is not None:
        o, g = spec.opcua, spec.opcua.gateway
        gateway = replace(g, config_dir=str(_resolve(base, g.config_dir)),
                          password_file=str(_resolve(base, g.password_file))
                          if g.password_file else None)
        spec = replace(spec, opcua=replace(o, tags_file=str(_resolve(base, o.tags_file)),
                                           gateway=gateway))
    return spec


def _resolve(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path


def load_steptest(path: str | Path) -> StepTestSpec:
    """Read a step-test file."""
    path = Path(path)
    return spec_from_dict(read_toml(path), path.parent, path.name)
