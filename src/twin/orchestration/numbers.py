"""Numbers as an engineer reads them: significant digits, readable thousands, zero as 0.

Solvers return round-off where the answer is zero (a heat duty of
``2.3e-09`` kJ/h on a variable ranging over thousands). :func:`format_number`
prints a value as 0 when it is below :data:`ZERO_TOLERANCE` times the scale
of its variable (its range, or the largest value of its table column), shows
a fixed number of significant digits, groups thousands, and only falls back
to scientific notation where fixed notation would be unreadable.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

DIGITS = 4
"""Significant digits shown by default."""

ZERO_TOLERANCE = 1e-9
"""A value whose magnitude is below this fraction of its scale prints as 0 [-]."""

NOT_AVAILABLE = "n/a"
"""What a missing or non-finite value prints as (never ``nan``)."""

_FIXED_LOW, _FIXED_HIGH = 1e-3, 1e9
"""Magnitudes in [low, high) are shown in fixed notation, others in scientific notation."""


def scale_of(values: Iterable[object]) -> float:
    """The largest finite magnitude among ``values`` (0 when there is none); ints count too."""
    best = 0.0
    for v in values:
        if isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v):
            best = max(best, abs(float(v)))
    return best


def format_number(value: float | int | None, scale: float | None = None,
                  digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits (trailing zeros dropped; values of
    ``10 ** (digits - 1)`` and more as whole numbers), for a report or a terminal.

    ``scale`` is the magnitude of the variable (its range, or the largest
    value it takes); a value smaller than ``ZERO_TOLERANCE * scale`` prints
    as ``0``. Integers print exactly with grouped thousands. None and
    non-finite values print as :data:`NOT_AVAILABLE`, ``inf`` as ``inf``.

    >>> format_number(-2.3e-09, scale=8500.0)
    '0'
    >>> format_number(1234567.891)
    '1,234,568'
    >>> format_number(0.000123456)
    '1.235e-04'
    """
    if value is None:
        return NOT_AVAILABLE
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):,d}"
    value = float(value)
    if math.isnan(value):
        return NOT_AVAILABLE
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    magnitude = abs(value)
    if value == 0 or (scale is not None and math.isfinite(scale)
                      and magnitude < ZERO_TOLERANCE * abs(scale)):
        return "0"
    if not _FIXED_LOW <= magnitude < _FIXED_HIGH:
        return f"{value:.{digits - 1}e}"
    if magnitude >= 10 ** (digits - 1):  # whole units: every digit of the integer part
        return f"{value:,.0f}"
    rounded = float(f"{value:.{digits}g}")  # the significant digits, as a number
    exponent = math.floor(math.log10(abs(rounded)))
    decimals = max(0, digits - 1 - exponent)
    text = f"{rounded:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def with_unit(value: float | int | None, unit: str, scale: float | None = None,
              digits: int = DIGITS) -> str:
    """``format_number`` followed by the unit (a missing value gets no unit)."""
    text = format_number(value, scale, digits)
    if text == NOT_AVAILABLE or not unit:
        return text
    return f"{text} {unit}"
