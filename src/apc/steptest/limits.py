"""MV limits of a step test: hard limits and rate limits, always held."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.core.errors import InputError


@dataclass(frozen=True)
class MVLimits:
    """Hard and rate limits of one MV.

    Attributes
    ----------
    low, high : float
        Hard limits [MV unit] (``-inf``/``inf``: none).
    max_rate : float
        Largest change per time unit [MV unit / time unit] (``inf``: none).
    """

    low: float = -math.inf
    high: float = math.inf
    max_rate: float = math.inf

    def __post_init__(self) -> None:
        if math.isnan(self.low) or math.isnan(self.high) or math.isnan(self.max_rate):
            raise InputError("MV limits must be numbers, got NaN")
        if self.low > self.high:
            raise InputError(f"MV low limit {self.low:g} is above its high limit {self.high:g}")
        if not self.max_rate > 0:
            raise InputError(f"MV rate limit must be > 0, got {self.max_rate:g}")

    def step(self, previous: float, wanted: float, dt: float) -> float:
        """The value closest to ``wanted`` one sample ``dt`` after ``previous`` within the limits.

        ``previous`` outside the hard limits moves towards them at the rate limit.
        """
        move = self.max_rate * dt
        lo, hi = previous - move, previous + move
        if self.low <= previous <= self.high:
            lo, hi = max(lo, self.low), min(hi, self.high)
        else:
            wanted = min(max(wanted, self.low), self.high)
        return min(max(wanted, lo), hi)

def hold_limits(wanted: np.ndarray, start: np.ndarray, limits: list[MVLimits], dt: float
                ) -> np.ndarray:
    """``wanted`` MV values (samples, MVs) with hard and rate limits held, starting from ``start``.

    Each sample moves at most ``max_rate * dt`` from the previous one (the
    first from ``start``) and stays within ``[low, high]`` (``start`` must be
    within them).
    """
    wanted = np.asarray(wanted, dtype=float)
    start = np.asarray(start, dtype=float)
    if wanted.ndim != 2 or wanted.shape[1] != len(limits) or start.shape != (len(limits),):
        raise InputError(f"MV limits: {len(limits)} MVs, but signals of shape {wanted.shape} "
                         f"and a start of shape {start.shape}")
    for j, lim in enumerate(limits):
        if not lim.low <= start[j] <= lim.high:
            raise InputError(f"MV {j}: base point {start[j]:g} is outside its hard limits "
                             f"[{lim.low:g}, {lim.high:g}]")
    out = np.empty_like(wanted)
    previous = start.copy()
    for k in range(wanted.shape[0]):
        for j, lim in enumerate(limits):
            previous[j] = lim.step(previous[j], wanted[k, j], dt)
        out[k] = previous
    return out
