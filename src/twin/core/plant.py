"""Plant I/O: the one interface every plant implements (twin, FMU, OPC UA gateway).

A plant is written to (``write``: input values by name), advanced in time
(``advance``), and read (``read``: readings with quality). The controllers
and optimisers above only ever use this interface (see README.md, Architecture).

:class:`SimulatedPlant` is the twin: the model stepped by the compiled
kernels in fixed ticks, with its sensors sampled at every tick and,
optionally, its regulatory base layer (:mod:`twin.core.base_layer`); inputs
written take effect at the next tick, as on the simulated hardware. With a
base layer, values written for a looped input are remote setpoints. A
reading whose true value has left the variable's physical bounds is Bad
(:func:`twin.core.sensors.physical_limits`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np

from twin.core.base_layer import BaseLayer, BaseLayerSpec
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.quality import Reading
from twin.core.sensors import SensorSpec, Sensors, model_signals, physical_limits
from twin.core.simulator import Simulator
from twin.core.steady import find_steady_state
from twin.core.trips import shutdown_event
from twin.core.variables import PHYSICAL_RTOL


class PlantIO(Protocol):
    """What a plant offers to the layers above it."""

    @property
    def time(self) -> float:
        """Plant time [model time unit]."""

    @property
    def time_unit(self) -> str:
        """Unit of plant time."""

    def read(self) -> dict[str, Reading]:
        """Current readings by name."""

    def write(self, values: Mapping[str, float]) -> None:
        """Input values by name, taking effect at the next tick."""

    def advance(self, duration: float) -> None:
        """Let ``duration`` of plant time pass [model time unit]."""

    def inputs(self) -> dict[str, float]:
        """Inputs in force, by name."""

    def truth(self) -> dict[str, float]:
        """True values of the plant's signals where known (simulated plants), else {}."""

    def mv_readback(self) -> dict[str, float]:
        """The values the APC's MVs stand at: active setpoints of base loops, else the inputs."""

    def write_heartbeat(self, value: int) -> None:
        """The APC heartbeat (watched by a base layer, if any)."""

    def close(self) -> None:
        """Release what the plant holds (an FMU process, a connection)."""


class SimulatedPlant:
    """The twin as a plant: :class:`Simulator` in ticks, :class:`Sensors`, latched inputs.

    Parameters
    ----------
    model : Model
        The plant model (with the plant's parameter values).
    tick : float
        Plant step [model time unit].
    sensors : sequence of SensorSpec
        Measurement devices (readings of other states and outputs are not available).
    x0, u0 : mapping, optional
        Initial state and inputs by name over the nominal ones.
    steady_start : bool
        Start at the steady state for ``u0`` instead of ``x0`` (give one of the two).
    guess : mapping, optional
        Starting point of the steady-state solver (with ``steady_start``), by
        name over the nominal state.
    seed : int
        Noise seed of the sensors.
    base_layer : BaseLayerSpec, optional
        Base-layer loops on some inputs (their values written become remote setpoints).
    """

    def __init__(self, model: Model, tick: float, sensors: Sequence[SensorSpec],
                 x0: Mapping[str, float] | np.ndarray | None = None,
                 u0: Mapping[str, float] | np.ndarray | None = None, steady_start: bool = False,
                 seed: int = 0, base_layer: BaseLayerSpec | None = None,
                 guess: Mapping[str, float] | np.ndarray | None = None,
                 steady_hint: str = "give another guess or other inputs", **simulator_options):
        self.model = model
        self.u = model.inputs.vector(u0)
        if steady_start and x0 is not None and len(x0):
            raise InputError("x0 and steady_start both set the initial state; the steady-state "
                             "solver's starting point is 'guess'")
        if guess is not None and len(guess) and not steady_start:
            raise InputError("a steady-state guess is used only with steady_start")
        x = model.states.vector(x0)
        if steady_start:
            x = find_steady_state(model, u=self.u, x_guess=guess, hint=steady_hint).x
        self.simulator = Simulator(model, tick, x0=x, **simulator_options)
        self.tick = tick
        self.base = BaseLayer(base_layer, model, self.u) if base_layer is not None else None
        # Integration error is not a physical violation: the tolerance on the
        # physical bounds grows with the integrator's.
        limits = physical_limits(model, max(PHYSICAL_RTOL, 10 * self.simulator.rtol))
        self.sensors = Sensors(sensors, model.states.names + model.outputs.names, seed,
                               f"plant '{model.name}'", limits)
        self.sensors.prime(model_signals(model, x, self.u))
        self._readings = self.sensors.read(self.time, self.truth())
        self.shutdown = ""
        """Empty while the plant runs; the shutdown event once a limit of ``model.trips`` tripped."""
        self._pending: dict[int, float] = {}
        self._pending_rsp: dict[str, float] = {}
        self._pending_heartbeat: int | None = None

    @property
    def time(self) -> float:
        return self.simulator.t

    @property
    def x(self) -> np.ndarray:
        """The true state (simulation only)."""
        return self.simulator.x

    @property
    def time_unit(self) -> str:
        return self.model.time_unit

    @property
    def title(self) -> str:
        return self.model.title

    def read(self) -> dict[str, Reading]:
        """The readings sampled at the last tick."""
        return dict(self._readings)

    def truth(self) -> dict[str, float]:
        """True values of every state and output (simulation only)."""
        return model_signals(self.model, self.simulator.x, self.u)

    def write(self, values: Mapping[str, float]) -> None:
        for name, value in values.items():
            if name not in self.model.inputs:
                raise UnknownNameError("input", name, self.model.inputs.names,
                                       f"plant '{self.model.name}'")
            if self.base is not None and name in self.base.loops:
                self._pending_rsp[name] = float(value)
            else:
                self._pending[self.model.inputs.index(name)] = float(value)

    def write_heartbeat(self, value: int) -> None:
        self._pending_heartbeat = value

    def latch(self) -> None:
        """Apply the inputs written since the last tick (called at each tick boundary)."""
        for i, value in self._pending.items():
            self.u[i] = value
        self._pending.clear()
        if self.base is not None:
            self.base.write_rsp(self._pending_rsp)
            if self._pending_heartbeat is not None:
                self.base.write_heartbeat(self._pending_heartbeat)
        self._pending_rsp.clear()
        self._pending_heartbeat = None

    def step(self) -> None:
        """One tick: latch pending writes, base layer, integrate, sample the sensors.

        Once an output passes a shutdown limit of the model (``model.trips``)
        the plant is shut down, as its interlocks would leave it: ``shutdown``
        says which limit tripped and when, and further ticks do nothing.
        """
        if self.shutdown:
            return
        self.latch()
        if self.base is not None:
            self.base.apply(self.u)
        self.simulator.step(self.u)
        if self.base is not None:
            self.base.step(self.tick)
        truth = self.truth()
        if self.model.trips:
            self.shutdown = shutdown_event(self.model, [truth[n] for n in self.model.outputs.names],
                                           self.time)
        self._readings = self.sensors.read(self.time, truth)

    def advance(self, duration: float) -> None:
        for _ in range(int(round(duration / self.tick))):
            self.step()

    def check_parameters(self, names) -> None:
        """Raise a one-line error unless every name is a parameter of the plant's model."""
        for name in names:
            if name not in self.model.parameters:
                raise UnknownNameError("parameter", name, self.model.parameters.names,
                                       f"plant '{self.model.name}'")

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Change plant parameters (a disturbance such as catalyst decay)."""
        self.simulator.set_parameters(values)
        self.model = self.simulator.model

    def inputs(self) -> dict[str, float]:
        """Inputs in force now, by name."""
        return self.model.inputs.to_dict(self.u)

    def mv_readback(self) -> dict[str, float]:
        """Inputs in force, with the active setpoint of each base loop in place of its input."""
        values = self.inputs()
        if self.base is not None:
            values.update({name: lp.sp for name, lp in self.base.loops.items()})
        return values

    def close(self) -> None:
        """Nothing to release (the interface of plants that hold resources)."""
