"""Axis ranges scaled to the data, and which limits are close enough to be drawn.

A trend of a CV that moves between 0.5 and 0.7 mol/L must not be squashed
to a line by a hard limit at 50: a limit is drawn when it lies within
:data:`NEAR` data spans of the data; a farther one is left out of the axis
and only named (with its value) in the legend.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from twin.orchestration.numbers import format_number

NEAR = 1.0
"""A limit within this many data spans of the data's range is drawn [-]."""

MARGIN = 0.08
"""Free space above and below the drawn values, as a fraction of their span [-]."""


@dataclass(frozen=True)
class AxisRange:
    """The y-range of one panel, and the limits drawn in it or only named in its legend."""

    low: float
    high: float
    drawn: tuple[str, ...]
    named: tuple[str, ...]


def _finite(values: Iterable[float]) -> np.ndarray:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values, dtype=float)
    return arr[np.isfinite(arr)]


def axis_range(data: Iterable[float], limits: Mapping[str, Iterable[float]] | None = None,
               near: float = NEAR, margin: float = MARGIN) -> AxisRange:
    """The y-range for ``data`` with the ``limits`` (name -> values over time) near it.

    The data span sets the scale (at least 1 % of the data's magnitude,
    or 1 when the data are all zero, so a flat line is not magnified into
    noise). A limit whose values all lie within ``near`` spans of the data
    is drawn and the range extends to it; any other limit is named only.
    Non-finite values (no limit at that time, unbounded limits) are ignored.
    """
    values = _finite(data)
    if values.size == 0:
        lo, hi = 0.0, 1.0
    else:
        lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, 0.01 * max(abs(lo), abs(hi)), 1e-12 if values.size and (lo or hi) else 1.0)
    drawn, named = [], []
    top, bottom = hi, lo
    for name, series in (limits or {}).items():
        v = _finite(series)
        if v.size == 0:
            continue
        if v.min() >= lo - near * span and v.max() <= hi + near * span:
            drawn.append(name)
            bottom, top = min(bottom, float(v.min())), max(top, float(v.max()))
        else:
            named.append(name)
    pad = margin * max(top - bottom, span)
    return AxisRange(bottom - pad, top + pad, tuple(drawn), tuple(named))


def describe_limit(values: Iterable[float]) -> str:
    """A limit's value for a legend: one number, or its range when it moved."""
    v = _finite(values)
    if v.size == 0:
        return "none"
    lo, hi = float(v.min()), float(v.max())
    if math.isclose(lo, hi, rel_tol=1e-12, abs_tol=0.0):
        return format_number(lo)
    return f"{format_number(lo)} to {format_number(hi)}"
