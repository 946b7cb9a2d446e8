"""Measurement devices of the simulated plant: noisy sensors and sampling analysers.

A :class:`SensorSpec` describes one device on a state or output of the
model: Gaussian noise, and for analysers a sample interval and a dead time
(a sample taken at ``t`` is reported from ``t + dead_time`` until the next
one arrives). :class:`Sensors` turns the plant's true state into
:class:`~twin.core.quality.Reading` values, reproducibly from a seed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twin.core import ops
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.quality import Quality, Reading

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
    """

    def __init__(self, specs: Sequence[SensorSpec], available: Sequence[str], seed: int = 0,
                 where: str = "plant"):
        available = list(available)
        for s in specs:
            if s.name not in available:
                raise UnknownNameError("sensor", s.name, available, where)
        self.specs = list(specs)
        self.rng = np.random.default_rng(seed)
        self._pending: list[deque] = [deque() for _ in self.specs]  # (available_at, taken_at, value)
        self._current: list[Reading | None] = [None] * len(self.specs)
        self._next_sample = [0.0] * len(self.specs)

    def read(self, t: float, truth: Mapping[str, float]) -> dict[str, Reading]:
        """Readings at time ``t`` from the plant's true signal values."""
        out: dict[str, Reading] = {}
        for i, s in enumerate(self.specs):
            noisy = truth[s.name] + s.bias + (self.rng.normal(0.0, s.noise_std) if s.noise_std
                                              else 0.0)
            if s.sample_interval == 0 and s.dead_time == 0:
                out[s.name] = Reading(noisy, Quality.GOOD, True, t)
                continue
            if t + _EPS >= self._next_sample[i]:
                self._pending[i].append((t + s.dead_time, t, noisy))
                step = s.sample_interval if s.sample_interval > 0 else 0.0
                self._next_sample[i] = t + step if step else t
            fresh = False
            while self._pending[i] and self._pending[i][0][0] <= t + _EPS:
                _, taken, value = self._pending[i].popleft()
                self._current[i] = Reading(value, Quality.GOOD, True, taken)
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
                self._current[i] = Reading(truth[s.name], Quality.GOOD, True, t - s.dead_time)


def model_signals(model: Model, x, u) -> dict[str, float]:
    """True values of every state and output of ``model`` at ``x``, ``u``."""
    y = model.evaluate_outputs(list(x), list(u), list(model.p0()), ops.MATH) if model.n_y else []
    return {**model.states.to_dict(x), **dict(zip(model.outputs.names, map(float, y)))}
