"""Steady periods of plant data, found with the steady-state detector of the RTO.

:class:`~twin.core.ssd.SteadyStateDetector` runs over the table over every
window of the table (a window with a missing value is not steady); every
window it finds steady is marked, and overlapping steady windows make one
period.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from twin.core.data.table import PlantData
from twin.core.errors import InputError
from twin.core.ssd import SteadyStateDetector

STEADY_WINDOW = 30
"""Samples in the detector's window [-]."""
STEADY_THRESHOLD = 2.0
"""Largest drift over a window, in noise standard deviations [-]."""


@dataclass(frozen=True)
class SteadyPeriod:
    """A stretch of the data in which every variable checked is steady.

    Attributes
    ----------
    start, end : float
        First and last sample time of the period [s].
    means : dict
        Mean of each variable checked over the period [its unit].
    """

    start: float
    end: float
    means: dict[str, float]

    @property
    def length(self) -> float:
        """Length of the period [s]."""
        return self.end - self.start


def steady_periods(data: PlantData, names: Sequence[str] | None = None,
                   window: int = STEADY_WINDOW, threshold: float = STEADY_THRESHOLD,
                   noise: Mapping[str, float] | None = None) -> list[SteadyPeriod]:
    """The periods in which ``names`` (default: every column) are steady together.

    Parameters
    ----------
    window : int
        Samples per detector window (at least 3).
    threshold : float
        Largest drift over a window, in noise standard deviations.
    noise : mapping, optional
        Known noise standard deviation of a variable [its unit] (default:
        the scatter about the window's trend).
    """
    names = list(data.names if names is None else names)
    if not isinstance(window, int) or isinstance(window, bool) or window < 3:
        raise InputError(f"steady window {window!r}: expected a whole number of samples >= 3")
    if not threshold > 0:
        raise InputError(f"steady threshold {threshold}: expected a number > 0")
    values = data.values(names)
    time = data.time
    detector = SteadyStateDetector(names, window, threshold, noise)
    ends = detector.scan(time, {n: values[:, k] for k, n in enumerate(names)})
    # a sample is steady when a steady window (ending at i, starting at i - window + 1) holds it
    ends_before = np.concatenate([[0], np.cumsum(ends)])
    last = np.minimum(np.arange(time.size) + window, time.size)
    steady = ends_before[last] - ends_before[:time.size] > 0
    periods = []
    edges = np.flatnonzero(np.diff(np.concatenate([[0], steady.astype(int), [0]])))
    for first, stop in zip(edges[::2], edges[1::2]):
        means = {n: float(np.mean(values[first:stop, k])) for k, n in enumerate(names)}
        periods.append(SteadyPeriod(float(time[first]), float(time[stop - 1]), means))
    return periods


def report_steady(data: PlantData, names: Sequence[str] | None = None,
                  window: int = STEADY_WINDOW, threshold: float = STEADY_THRESHOLD,
                  noise: Mapping[str, float] | None = None,
                  periods: list[SteadyPeriod] | None = None) -> PlantData:
    """The data with a report line on its steady periods (:func:`steady_periods`, or
    ``periods`` when they were found already)."""
    if periods is None:
        periods = steady_periods(data, names, window, threshold, noise)
    span = float(data.time[-1] - data.time[0]) if len(data.time) > 1 else 0.0
    total = sum(p.length for p in periods)
    line = (f"steady: {len(periods)} periods, {total:.4g} of {span:.4g} s "
            f"({100 * total / span if span else 0:.3g} %), windows of {window} samples, drift "
            f"below {threshold:g} noise standard deviations")
    return data.with_reports(line)
