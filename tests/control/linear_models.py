"""Small linear models whose estimator and target results can be computed by hand.

``INTEGRATOR``: a tank level ``x`` filled at the rate ``u`` (``dx/dt = u``),
with the outputs ``twice = 2 x`` and ``plus = x + 10``. RK4 integrates it
exactly, so the augmented model's predictions are sums of ``T * u``.

``LAGS``: three first-order lags with time constant ``tau`` and unit
steady-state gains: ``x1 -> u1 + u2 + w``, ``x2 -> u1 - u2``, ``x3 -> u1``.
At steady state the CVs are linear in the MVs, so targets follow from
linear algebra; the disturbance ``w`` enters ``x1`` only.

``BENT``: one lag ``x -> u`` (unit gain, ``x <= 4``) read by the outputs
``y = x + u`` (the MV reaches it directly), ``r = x^2 - 4 x``,
``q = u^2 - 4 u`` and ``d = x - u`` (0 at the nominal point): ``r = -3``
(or ``q = -3``) holds at two steady states, ``x = u = 1`` and ``x = u = 3``,
so where an optimiser starts decides which.
"""

from __future__ import annotations

import math

from twin.core.model import Model
from twin.core.variables import disturbance, manipulated, output, parameter, state

TAU = 1.0
"""Time constant of the lags [min]."""


def _integrator_rhs(x, u, p, ops):
    """Level rate [cm/min]."""
    return {"x": u.u}


def _integrator_outputs(x, u, p, ops):
    """Two linear read-outs of the level [cm]."""
    return {"twice": 2.0 * x.x, "plus": x.x + 10.0}


INTEGRATOR = Model(
    name="integrator", title="Tank level, an integrator", source="test model", time_unit="min",
    states=[state("x", "cm", "level", 1.0)],
    inputs=[manipulated("u", "cm/min", "filling rate", 0.0, -100.0, 100.0)],
    parameters=[],
    outputs=[output("twice", "cm", "twice the level"), output("plus", "cm", "level plus 10 cm")],
    rhs=_integrator_rhs, output_map=_integrator_outputs,
)


def _lags_rhs(x, u, p, ops):
    """First-order approach to the steady-state values [-/min]."""
    return {"x1": (u.u1 + u.u2 + u.w - x.x1) / p.tau,
            "x2": (u.u1 - u.u2 - x.x2) / p.tau,
            "x3": (u.u1 - x.x3) / p.tau}


LAGS = Model(
    name="lags", title="Three first-order lags", source="test model", time_unit="min",
    states=[state("x1", "-", "sum lag", 1.0), state("x2", "-", "difference lag", 1.0),
            state("x3", "-", "first-input lag", 1.0)],
    inputs=[manipulated("u1", "-", "first MV", 1.0, -math.inf, math.inf),
            manipulated("u2", "-", "second MV", 0.0, -math.inf, math.inf),
            disturbance("w", "-", "measured disturbance on x1", 0.0)],
    parameters=[parameter("tau", "min", "time constant", TAU)],
    rhs=_lags_rhs,
)


def _bent_rhs(x, u, p, ops):
    """Approach to the MV value [-/min]."""
    return {"x": u.u - x.x}


def _bent_outputs(x, u, p, ops):
    """A feed-through sum, two parabolas with their vertex at 2, a difference [-]."""
    return {"y": x.x + u.u, "r": x.x * x.x - 4.0 * x.x, "q": u.u * u.u - 4.0 * u.u,
            "d": x.x - u.u}


BENT = Model(
    name="bent", title="A lag read through a sum and two parabolas", source="test model",
    time_unit="min",
    states=[state("x", "-", "lag of the MV", 1.0, -100.0, 4.0)],
    inputs=[manipulated("u", "-", "MV", 1.0, -100.0, 100.0)],
    parameters=[],
    outputs=[output("y", "-", "x + u"), output("r", "-", "x^2 - 4 x"),
             output("q", "-", "u^2 - 4 u"), output("d", "-", "x - u")],
    rhs=_bent_rhs, output_map=_bent_outputs,
)
