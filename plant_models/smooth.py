"""Smooth building blocks for flows that stop at a physical bound.

A tank that is empty has no outflow; a valve cannot pump backwards. Written
with ``max`` or ``if``, such laws give solvers a kink or a branch; written
with a plain ``sqrt(h)``, an outflow has an infinite derivative at ``h = 0``
and goes on draining an empty tank when ``|h|`` is used to keep it real.

The functions here are exact where a plant is normally operated and
continuously differentiable (C1) everywhere, with a bounded derivative, so
the same equations serve CasADi's AD Jacobians (NMPC, IPOPT, fatrop), Pyomo,
the compiled RK4/DOPRI5/BDF kernels and FMU export. Each takes a ``width``
[unit of its argument]: the law is exact from ``width`` up and bends
smoothly to exactly 0 between ``width`` and 0. They use only ``ops.abs``,
``ops.sqrt`` and arithmetic::

    s(z) = 0                           for z <= 0
    s(z) = s(width) * P(z / width)     for 0 <= z <= width  (P a cubic, P(0) = P'(0) = 0)
    s(z) = the exact law               for z >= width

with P chosen so value and slope match at ``width``. Below ``width`` the
laws are an engineering choice, not physics: widths are set far below
anything a model is operated at (documented in each model). A width is in
the unit of ``z``: ``ops.in_unit_of`` says so to the dimension check.
"""

from __future__ import annotations


def max0(z, ops):
    """``max(z, 0)``, exact, built from ``abs`` (a kink at 0) [unit of ``z``]."""
    return (z + ops.abs(z)) / 2


def clip(z, low, high, ops):
    """``z`` limited to [``low``, ``high``], exact, built from ``abs`` [unit of ``z``]."""
    z = (z + low + ops.abs(z - low)) / 2  # max(z, low)
    return (z + high - ops.abs(z - high)) / 2  # min(z, high)


def clamp01(t, ops):
    """``t`` limited to [0, 1] (continuous, built from ``abs``; exactly 0 for ``t <= 0``) [-]."""
    m = max0(t, ops)
    return (m + 1 - ops.abs(m - 1)) / 2  # min(m, 1)


def _beyond(z, width, ops):
    # max(z - width, 0), continuous; exactly 0 (no rounding) for z <= width
    return max0(z - width, ops)


def positive_part(z, width, ops):
    """``max(z, 0)`` made C1: exactly ``z`` for ``z >= width``, exactly 0 for ``z <= 0``.

    Monotone, slope in [0, 4/3]; never above ``max(z, 0)`` [unit of ``z``].
    """
    width = ops.in_unit_of(width, z)
    c = clamp01(z / width, ops)
    return width * c * c * (2 - c) + _beyond(z, width, ops)


def switch_on(z, width, ops):
    """0 for ``z <= 0``, 1 for ``z >= width``, a C1 cubic between (smoothstep) [-]."""
    width = ops.in_unit_of(width, z)
    c = clamp01(z / width, ops)
    return c * c * (3 - 2 * c)


def sqrt_positive(z, width, ops):
    """``sqrt(max(z, 0))`` made C1: exact for ``z >= width``, exactly 0 for ``z <= 0``.

    Monotone; its slope is at most ``1.39 / sqrt(width)`` (at ``z = 5/9 width``),
    where the plain square root's is infinite at 0 [sqrt of the unit of ``z``].
    """
    width = ops.in_unit_of(width, z)
    c = clamp01(z / width, ops)
    root_width = width ** 0.5
    extra = _beyond(z, width, ops)  # sqrt(width + extra) - sqrt(width), without cancellation:
    return (root_width * c * c * (2.5 - 1.5 * c)
            + extra / (ops.sqrt(width + extra) + root_width))
