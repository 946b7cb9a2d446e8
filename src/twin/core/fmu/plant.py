"""Any FMU as the plant: :class:`FmuPlant` implements the plant interface.

The FMU replaces the first-principles twin: inputs written by name are
latched at the next tick, each tick is one communication step (``doStep``
of a Co-Simulation FMU, or our integrators over a Model Exchange FMU), and
sensors read its states, outputs and other continuous variables by name.
By default the FMU runs in its own process (:mod:`twin.core.fmu.isolated`)
so that a crashing FMU becomes an error, not the end of the caller.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twin.core.errors import InputError, UnknownNameError
from twin.core.fmu.description import FmuDescription, describe_fmu
from twin.core.fmu.instance import FmuInstance
from twin.core.fmu.isolated import DEFAULT_TIMEOUT, IsolatedFmu
from twin.core.model import Model
from twin.core.quality import Reading
from twin.core.sensors import SensorSpec, Sensors

UNIT_SPELLINGS = {"degc": "degC", "°c": "degC", "deg c": "degC", "kelvin": "K", "1": "-",
                  "hr": "h", "hour": "h", "sec": "s", "minute": "min"}
"""Equivalent spellings of a unit, mapped to ours before two units are compared."""


def same_unit(a: str, b: str) -> bool:
    """True when two unit strings name the same unit (empty means undeclared: no conflict)."""
    if not a or not b:
        return True

    def norm(u: str) -> str:
        u = " ".join(u.strip().split())
        return UNIT_SPELLINGS.get(u.lower(), u).replace(" ", "")

    return norm(a) == norm(b)


def check_units(description: FmuDescription, model: Model, names: Sequence[str] | None = None,
                ) -> None:
    """Raise when a variable both declare has different units in the FMU and in ``model``.

    ``names`` limits the check (default: every name the two have in common).
    Time units are compared too when the FMU declares one.
    """
    d = description
    if d.time_unit and not same_unit(d.time_unit, model.time_unit):
        raise InputError(f"FMU '{d.name}' runs in time unit {d.time_unit} but model "
                         f"'{model.name}' in {model.time_unit}")
    common = [n for n in (names if names is not None else d.variables) if n in d.variables]
    for name in common:
        try:
            ours = model.variable(name).unit
        except UnknownNameError:
            continue
        theirs = d.variables[name].unit
        if not same_unit(theirs, ours):
            raise InputError(f"unit of '{name}': FMU '{d.name}' declares {theirs}, model "
                             f"'{model.name}' {ours}")


@dataclass(frozen=True)
class PlantSnapshot:
    """A saved plant state: :meth:`FmuPlant.snapshot` and :meth:`FmuPlant.restore`."""

    token: int
    time: float
    inputs: dict
    pending: dict
    signals: np.ndarray
    sensors: Sensors
    readings: dict


class FmuPlant:
    """An FMU as the plant, with sensors and latched inputs.

    Parameters
    ----------
    path : path
        The ``.fmu`` file.
    tick : float
        Communication step [FMU time unit].
    sensors : sequence of SensorSpec
        Measurement devices on FMU states, outputs or continuous locals.
    start : mapping, optional
        Start values by name (parameters, inputs, states).
    seed : int
        Noise seed of the sensors.
    steady_start_model : Model, optional
        Start the FMU's states (matched by name) at this model's steady state
        for the FMU's start inputs (for example the controller's model).
    steady_guess : mapping, optional
        Starting point of that steady-state solve, by name.
    steady_hint : str
        End of the message when no steady state is found.
    interface : str
        ``auto`` (Co-Simulation if offered), ``cs`` or ``me``.
    isolate : bool
        Run the FMU in a child process (a crash becomes an :class:`FmuError`).
    me_method, rtol, atol :
        Integrator of a Model Exchange FMU (see :class:`FmuInstance`).
    timeout : float
        Seconds one FMU call may take when isolated [s].
    time_unit : str
        Unit of FMU time when the FMU does not declare it.
    """

    def __init__(self, path, tick: float, sensors: Sequence[SensorSpec] = (),
                 start: Mapping[str, float] | None = None, seed: int = 0,
                 steady_start_model: Model | None = None, interface: str = "auto",
                 isolate: bool = True, me_method: str = "dopri5", rtol: float = 1e-8,
                 atol: float = 1e-10, timeout: float = DEFAULT_TIMEOUT, time_unit: str = "",
                 steady_guess: Mapping[str, float] | None = None,
                 steady_hint: str = "give another guess or other inputs"):
        if not tick > 0:
            raise InputError(f"plant tick {tick} must be positive")
        d = describe_fmu(path, interface)
        self.description = d
        self.tick = float(tick)
        self._time_unit = d.time_unit or time_unit
        start = dict(start or {})
        for name in start:
            d.variable(name, "start value")
        self.input_names = d.inputs
        if steady_start_model is not None:
            start = {**self._steady_start(steady_start_model, start, steady_guess, steady_hint),
                     **start}
        sensor_names = [s.name for s in sensors]
        watch = list(dict.fromkeys(d.states + d.outputs
                                   + [n for n in sensor_names if n in d.variables]))
        self.sensors = Sensors(sensors, d.signals, seed, f"FMU '{d.name}'")
        options = dict(watch=watch, start=start, me_method=me_method, rtol=rtol, atol=atol,
                       time_unit=self._time_unit)
        self.fmu = (IsolatedFmu(d, timeout=timeout, **options) if isolate
                    else FmuInstance(d, **options))
        self.watch = watch
        try:
            self._inputs = dict(zip(self.input_names, map(float, self.fmu.get(self.input_names))))
            self._signals = self.fmu.read()
        except BaseException:
            self.fmu.close()
            raise
        self._time = self.fmu.t
        self._pending: dict[str, float] = {}
        self._changed: dict[str, float] = {}
        self.sensors.prime(self.truth(), self._time)
        self._readings = self.sensors.read(self._time, self.truth())

    def _steady_start(self, model: Model, start: Mapping[str, float], guess, hint
                      ) -> dict[str, float]:
        from twin.core.steady import find_steady_state

        d = self.description
        states = [n for n in model.states.names if n in d.variables]
        if not states:
            raise InputError(f"steady start: no state of model '{model.name}' is a variable of "
                             f"FMU '{d.name}'")
        params = {n: v for n, v in start.items() if n in model.parameters}
        u = {n: (start[n] if n in start else d.variables[n].start)
             for n in model.inputs.names if n in d.variables}
        ss = find_steady_state(model.with_parameters(params) if params else model, u=u,
                               x_guess=guess or None, hint=hint)
        return {n: float(ss.x[model.states.index(n)]) for n in states}

    # ------------------------------------------------------------ PlantIO

    @property
    def time(self) -> float:
        return self._time

    @property
    def time_unit(self) -> str:
        return self._time_unit

    @property
    def title(self) -> str:
        return f"FMU {self.description.name}"

    def read(self) -> dict[str, Reading]:
        """The readings sampled at the last tick."""
        return dict(self._readings)

    def truth(self) -> dict[str, float]:
        """The watched FMU signals (states, outputs, measured variables) now."""
        return dict(zip(self.watch, map(float, self._signals)))

    def inputs(self) -> dict[str, float]:
        return dict(self._inputs)

    def mv_readback(self) -> dict[str, float]:
        """The inputs in force (an FMU plant has no base layer here)."""
        return dict(self._inputs)

    def write_heartbeat(self, value: int) -> None:
        """No base layer watches it."""

    def write(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            if name not in self._inputs:
                raise UnknownNameError("input", name, self.input_names,
                                       f"FMU '{self.description.name}'")
            self._pending[name] = float(value)

    def latch(self) -> None:
        """Apply the inputs written since the last tick."""
        for name, value in self._pending.items():
            if self._inputs[name] != value:
                self._changed[name] = value
            self._inputs[name] = value
        self._pending.clear()

    def step(self) -> None:
        """One tick: latch pending inputs, one communication step."""
        self.latch()
        self._signals = self.fmu.exchange(self._changed, self.tick)
        self._changed = {}
        self._time = self.fmu.t
        self._readings = self.sensors.read(self._time, self.truth())

    def advance(self, duration: float) -> None:
        for _ in range(int(round(duration / self.tick))):
            self.step()

    def check_parameters(self, names) -> None:
        """Raise a one-line error unless every name is a tunable parameter of the FMU."""
        d = self.description
        for name in names:
            v = d.variable(name, "parameter")
            if v.causality != "parameter" or v.variability != "tunable":
                raise InputError(f"FMU '{d.name}': '{name}' is not a tunable parameter "
                                 f"({v.causality}, {v.variability})")

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Change tunable FMU parameters (a disturbance such as fouling)."""
        self.check_parameters(values)
        self.fmu.set(values)

    # ------------------------------------------------------------ save / restore

    def snapshot(self) -> PlantSnapshot:
        """Save the whole plant (FMU state, inputs, sensors) to branch a simulation."""
        return PlantSnapshot(self.fmu.save(), self._time, dict(self._inputs),
                             dict(self._pending), self._signals.copy(),
                             copy.deepcopy(self.sensors), dict(self._readings))

    def restore(self, snap: PlantSnapshot) -> None:
        """Return to a :meth:`snapshot` (which stays valid for further restores)."""
        self.fmu.restore(snap.token)
        self._time = snap.time
        self._inputs = dict(snap.inputs)
        self._pending = dict(snap.pending)
        self._changed = dict(snap.inputs)  # the FMU state carries its inputs; set them anyway
        self._signals = snap.signals.copy()
        self.sensors = copy.deepcopy(snap.sensors)
        self._readings = dict(snap.readings)

    def release(self, snap: PlantSnapshot) -> None:
        """Free the FMU state a snapshot holds (it cannot be restored afterwards)."""
        self.fmu.free(snap.token)

    def close(self) -> None:
        """Free the FMU (and stop its process)."""
        self.fmu.close()

    def __enter__(self) -> "FmuPlant":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
