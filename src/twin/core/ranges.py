"""A range of values as an engineer reads it, not as ``[0, inf]``."""

from __future__ import annotations

import math


def range_text(lower: float | None, upper: float | None, unit: str = "") -> str:
    """``[0, 5.1]``, ``>= 0``, ``<= 1``, or ``any`` [in ``unit``, appended when given].

    ``None`` or an infinite value means no bound on that side.
    """
    low = None if lower is None or math.isinf(lower) else lower
    high = None if upper is None or math.isinf(upper) else upper
    suffix = f" {unit}" if unit and (low is not None or high is not None) else ""
    if low is None and high is None:
        return "any"
    if high is None:
        return f">= {low:g}{suffix}"
    if low is None:
        return f"<= {high:g}{suffix}"
    return f"[{low:g}, {high:g}]{suffix}"
