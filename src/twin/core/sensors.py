"""Measurement devices of the simulated plant: noisy sensors and sampling analysers.

A :class:`SensorSpec` describes one device on a state or output of the
model: Gaussian noise, and for analysers a sample interval and a dead time
(a sample taken at ``t`` is reported from ``t + dead_time`` until the next
one arrives). :class:`Sensors` turns the plant's true state into
:class:`~twin.core.quality.Reading` values, reproducibly from a seed.

A value whose *true* value lies outside the variable's physical bounds
(:attr:`twin.core.variables.Variable.physical`) by more than a tolerance
is read with :attr:`Quality.BAD`: the simulation has left what a real
plant can do, and neither a controller nor an operator may trust it. The
SIL loop and the OPC UA simulated hardware both publish these qualities.
Noise and bias do not count: a real level sensor may well read -0.1 cm.
A true value that is not a number (NaN) is Bad too.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twin.core import ops
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.quality import Quality, Reading
from twin.core.variables import PHYSICAL_RTOL

_EPS = 1e-9


@dataclass(frozen=True)
class SensorSpec:
    """One measurement device.

    Attributes
    ----------
    name : str
        State or output measured.
    noise_std : float
        Standard deviation of additive Gaussian noise [unit of the variable].
    sample_interval : float
        Time between samples; 0 measures at every read [model time unit].
    dead_time : float
        Delay from sampling to reporting [model time unit].
    bias : float
        Constant error added to every value (a gross error) [unit of the variable].
    """

    name: str
    noise_std: float = 0.0
    sample_interval: float = 0.0
    dead_time: float = 0.0
    bias: float = 0.0

    def __post_init__(self) -> None:
        if self.noise_std < 0 or self.sample_interval < 0 or self.dead_time < 0:
            raise InputError(f"sensor '{self.name}': noise, interval and dead time must be >= 0")


class Sensors:
    """All measurement devices of a plant, read at the control instants.

    Parameters
    ----------
    specs : sequence of SensorSpec
    available : sequence of str
        Names of the plant signals (states, outputs, ...) the devices may measure.
    seed : int
        Seed of the noise.
    limits : mapping, optional
        ``{name: (low, high)}``: true values outside are read Bad (tolerance
        included; see :func:`physical_limits`). Signals not named have none.
    """

    def __init__(self, specs: Sequence[SensorSpec], available: Sequence[str], seed: int = 0,
                 where: str = "plant", limits: Mapping[str, tuple[float, float]] | None = None):
        available = list(available)
        for s in specs:
            if s.name not in available:
                raise UnknownNameError("sensor", s.name, available, where)
        self.specs = list(specs)
        limits = limits or {}
        self._limits = [limits.get(s.name, (-math.inf, math.inf)) for s in self.specs]
        self.rng = np.random.default_rng(seed)
        # per device: (available_at, taken_at, value, quality) of samples on their way
        self._pending: list[deque] = [deque() for _ in self.specs]
        self._current: list[Reading | None] = [None] * len(self.specs)
        self._next_sample = [0.0] * len(self.specs)

    def read(self, t: float, truth: Mapping[str, float]) -> dict[str, Reading]:
        """Readings at time ``t`` from the plant's true signal values."""
        out: dict[str, Reading] = {}
        for i, s in enumerate(self.specs):
            noisy = truth[s.name] + s.bias + (self.rng.normal(0.0, s.noise_std) if s.noise_std
                                              else 0.0)
            quality = self._quality(i, truth[s.name])
            if s.sample_interval == 0 and s.dead_time == 0:
                out[s.name] = Reading(noisy, quality, True, t)
                continue
            if t + _EPS >= self._next_sample[i]:
                self._pending[i].append((t + s.dead_time, t, noisy, quality))
                step = s.sample_interval if s.sample_interval > 0 else 0.0
                self._next_sample[i] = t + step if step else t
            fresh = False
            while self._pending[i] and self._pending[i][0][0] <= t + _EPS:
                _, taken, value, sampled_quality = self._pending[i].popleft()
                self._current[i] = Reading(value, sampled_quality, True, taken)
                fresh = True
            current = self._current[i]
            if current is None:  # nothing has arrived yet: the analyser has no value
                out[s.name] = Reading(float("nan"), Quality.BAD, False, float("nan"))
            else:
                out[s.name] = Reading(current.value, current.quality, fresh, current.timestamp)
        return out

    def prime(self, truth: Mapping[str, float], t: float = 0.0) -> None:
        """Fill analysers as if the plant had been at these values for a long time before ``t``."""
        for i, s in enumerate(self.specs):
            if s.dead_time > 0 or s.sample_interval > 0:
                self._current[i] = Reading(truth[s.name], self._quality(i, truth[s.name]), True,
                                           t - s.dead_time)

    def _quality(self, i: int, true_value: float) -> Quality:
        low, high = self._limits[i]
        return Quality.GOOD if low <= true_value <= high else Quality.BAD


def physical_limits(model: Model, rtol: float = PHYSICAL_RTOL) -> dict[str, tuple[float, float]]:
    """Physical bounds of the states and outputs of ``model``, widened by a tolerance.

    See :meth:`twin.core.variables.VariableSet.physical_limits`; variables
    without declared physical bounds are left out.
    """
    return {**model.states.physical_limits(rtol), **model.outputs.physical_limits(rtol)}


def model_signals(model: Model, x, u) -> dict[str, float]:
    """True values of every state and output of ``model`` at ``x``, ``u``."""
    y = model.evaluate_outputs(list(x), list(u), list(model.p0()), ops.MATH) if model.n_y else []
    return {**model.states.to_dict(x), **dict(zip(model.outputs.names, map(float, y)))}
