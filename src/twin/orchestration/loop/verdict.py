"""The verdict of a closed-loop run: each CV's setpoint against what the plant achieved.

For every CV with a setpoint, the achieved value is the mean of the plant's
true value (SIL; the measurement where the run has no true value) over the
last :data:`FINAL_FRACTION` of the run's cycles, counted only while the
setpoint held its final value. The CV is on target when that mean is within
the tolerance of the setpoint: :data:`RELATIVE_TOLERANCE` of the setpoint's
magnitude, or of the CV's limit span when the setpoint is 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from apc.spec import ControllerSpec

FINAL_FRACTION = 0.25
"""Part of the run (by cycles, from its end) over which the achieved value is averaged [-]."""

RELATIVE_TOLERANCE = 0.02
"""A CV is on target within this fraction of its setpoint's magnitude [-]."""


@dataclass(frozen=True)
class CVVerdict:
    """One CV's setpoint, achieved mean, and whether it is within tolerance [CV unit]."""

    name: str
    setpoint: float
    achieved: float
    tolerance: float
    cycles: int
    """Cycles averaged."""

    @property
    def error(self) -> float:
        """Achieved minus setpoint [CV unit]."""
        return self.achieved - self.setpoint

    @property
    def on_target(self) -> bool:
        """True when the achieved mean is within the tolerance of the setpoint."""
        return bool(np.isfinite(self.achieved) and abs(self.error) <= self.tolerance)


def _values(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    for col in (f"{name}.plant", name):
        if col in frame:
            return frame[col].to_numpy(dtype=float)
    return None


def _tolerance(setpoint: float, cv) -> float:
    if setpoint != 0:
        return RELATIVE_TOLERANCE * abs(setpoint)
    bounds = [b for b in (cv.low, cv.high, cv.hard_low, cv.hard_high) if b is not None]
    span = max(bounds) - min(bounds) if len(bounds) > 1 else 1.0
    return RELATIVE_TOLERANCE * (span or 1.0)


def verdict(frame: pd.DataFrame, spec: ControllerSpec,
            fraction: float = FINAL_FRACTION) -> list[CVVerdict]:
    """The verdict of every CV with a setpoint, from a run's cycle table."""
    out = []
    n = len(frame)
    for cv in spec.cv:
        values = _values(frame, cv.name)
        col = f"{cv.name}.setpoint"
        if values is None or col not in frame or n == 0:
            continue
        sp = frame[col].to_numpy(dtype=float)
        if not np.isfinite(sp).any():
            continue
        final = float(sp[np.isfinite(sp)][-1])
        start = n - max(1, int(round(fraction * n)))
        window = np.arange(n) >= start
        held = window & np.isclose(sp, final, rtol=1e-12, atol=0.0)
        if not held.any():
            held = window
        picked = values[held]
        picked = picked[np.isfinite(picked)]
        achieved = float(picked.mean()) if picked.size else float("nan")
        out.append(CVVerdict(cv.name, final, achieved, _tolerance(final, cv), int(picked.size)))
    return out
