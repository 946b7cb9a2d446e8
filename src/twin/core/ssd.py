"""Steady-state detection on plant data.

Over a moving window of readings, each monitored variable's linear trend
is estimated by least squares; the drift over the window, ``|slope| x
window length``, is compared with the noise level (the configured sensor
noise, or the scatter about the trend when none is given). The plant is
steady when every variable drifts less than ``threshold`` noise standard
deviations, or less than its engineering ``tolerance`` where one is given
(a plant under closed-loop control never stands perfectly still). The
statistics are kept for the RTO log.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class SteadyWindow:
    """A detected steady state: window means and the test statistics."""

    time: float
    means: dict[str, float]
    stds: dict[str, float]
    drift: dict[str, float]
    samples: int
    sigma: dict[str, float]


class SteadyStateDetector:
    """Windowed drift test.

    Parameters
    ----------
    names : sequence of str
        Variables monitored.
    window : int
        Samples per window.
    threshold : float
        Largest drift over the window, in noise standard deviations.
    noise : mapping, optional
        Known noise standard deviation per variable [its unit].
    tolerance : mapping, optional
        Drift over a window accepted as steady per variable [its unit].
    """

    def __init__(self, names: Sequence[str], window: int = 30, threshold: float = 1.0,
                 noise: Mapping[str, float] | None = None,
                 tolerance: Mapping[str, float] | None = None):
        self.names = list(names)
        self.window, self.threshold = window, threshold
        self.noise = dict(noise or {})
        self.tolerance = dict(tolerance or {})
        self._t: deque = deque(maxlen=window)
        self._data = {n: deque(maxlen=window) for n in self.names}

    def reset(self) -> None:
        """Forget the samples (after the inputs change)."""
        self._t.clear()
        for d in self._data.values():
            d.clear()

    def add(self, t: float, values: Mapping[str, float]) -> SteadyWindow | None:
        """Add one sample; return the window when it is steady, else ``None``."""
        self._t.append(t)
        for n in self.names:
            self._data[n].append(float(values[n]))
        if len(self._t) < self.window:
            return None
        window = self.statistics()
        steady = all(window.drift[n] <= self.threshold
                     or window.drift[n] * window.sigma[n] <= self.tolerance.get(n, 0.0)
                     for n in self.names)
        return window if steady else None

    def statistics(self) -> SteadyWindow:
        """Means, scatter and drift (in noise units) of the current window."""
        t = np.array(self._t)
        tc = t - t.mean()
        span = t[-1] - t[0]
        means, stds, drift, sigmas = {}, {}, {}, {}
        for n in self.names:
            y = np.array(self._data[n])
            slope = float(tc @ (y - y.mean()) / (tc @ tc)) if tc @ tc > 0 else 0.0
            resid = y - y.mean() - slope * tc
            scatter = float(np.sqrt(resid @ resid / max(len(y) - 2, 1)))
            sigma = self.noise.get(n) or max(scatter, 1e-12)
            means[n], stds[n], sigmas[n] = float(y.mean()), scatter, sigma
            drift[n] = abs(slope) * span / sigma
        return SteadyWindow(float(t[-1]), means, stds, drift, len(t), sigmas)

    def scan(self, time: np.ndarray, values: Mapping[str, np.ndarray]) -> np.ndarray:
        """The test of :meth:`add` on every window of a whole record at once.

        Parameters
        ----------
        time : numpy.ndarray
            Sample times, increasing [s or any time unit].
        values : mapping
            Each monitored variable's samples (NaN: missing) [its unit].

        Returns
        -------
        numpy.ndarray of bool
            Element ``i``: the window of ``window`` samples ending at ``i``
            is steady (as :meth:`add` would return it after a :meth:`reset`
            at every missing value); False for the first ``window - 1``.
        """
        time = np.asarray(time, dtype=float)
        steady = np.zeros(time.size, dtype=bool)
        if time.size < self.window:
            return steady
        t = np.lib.stride_tricks.sliding_window_view(time, self.window)
        tc = t - t.mean(axis=1, keepdims=True)
        tt = np.einsum("ij,ij->i", tc, tc)
        span = t[:, -1] - t[:, 0]
        ok = np.ones(t.shape[0], dtype=bool)
        for n in self.names:
            y = np.lib.stride_tricks.sliding_window_view(np.asarray(values[n], dtype=float),
                                                         self.window)
            yc = y - y.mean(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = np.where(tt > 0, np.einsum("ij,ij->i", tc, yc) / tt, 0.0)
            resid = yc - slope[:, None] * tc
            scatter = np.sqrt(np.einsum("ij,ij->i", resid, resid) / max(self.window - 2, 1))
            sigma = np.full(slope.size, self.noise[n]) if self.noise.get(n) \
                else np.maximum(scatter, 1e-12)
            drift = np.abs(slope) * span / sigma
            ok &= (drift <= self.threshold) | (drift * sigma <= self.tolerance.get(n, 0.0))
            ok &= ~np.isnan(y).any(axis=1)
        steady[self.window - 1:] = ok
        return steady
