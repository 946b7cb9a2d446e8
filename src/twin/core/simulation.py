"""Reference simulator: CasADi's CVODES (SUNDIALS) at tight tolerances.

This is the correctness reference the compiled kernels are checked
against. Inputs are piecewise constant; the integration restarts at every
output time and at every input change, so steps never straddle a
discontinuity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import casadi as ca
import numpy as np

from twin.core.errors import InputError, SimulationError
from twin.core.model import Model
from twin.core.results import SimulationResult
from twin.core.schedule import InputSchedule
from twin.core.symbolic import casadi_form

DEFAULT_RTOL = 1e-10
"""Relative tolerance of the reference integration."""
DEFAULT_ATOL = 1e-12
"""Absolute tolerance of the reference integration [state units]."""

_INTEGRATORS: dict[tuple, ca.Function] = {}


class ReferenceIntegrator:
    """Advances ``dx/dt = rhs(x, u, p)`` over one interval with constant inputs.

    One CVODES integrator per model structure and tolerance pair is built
    and reused: time is scaled to ``[0, 1]`` with the interval length as a
    parameter, so intervals of any length share it.
    """

    def __init__(self, model: Model, rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL):
        if not (rtol > 0 and atol > 0):
            raise InputError(f"tolerances must be positive (rtol={rtol}, atol={atol})")
        self.model = model
        self.p = model.p0()
        key = (model.structure, rtol, atol)
        if key not in _INTEGRATORS:
            form = casadi_form(model)
            h = ca.SX.sym("h")
            dae = {"x": form.x, "p": ca.vertcat(form.u, form.p, h), "ode": h * form.xdot}
            opts = {"abstol": atol, "reltol": rtol, "max_num_steps": 50000,
                    "disable_internal_warnings": True}
            _INTEGRATORS[key] = ca.integrator(f"{model.name}_cvodes", "cvodes", dae, 0.0, 1.0, opts)
        self._integrator = _INTEGRATORS[key]
        self.n_calls = 0

    def advance(self, x: np.ndarray, u: np.ndarray, h: float, t: float = 0.0) -> np.ndarray:
        """State after ``h`` time units from ``x`` with inputs ``u`` (``t`` only for messages)."""
        self.n_calls += 1
        try:
            out = self._integrator(x0=x, p=np.concatenate([u, self.p, [h]]))
        except RuntimeError as exc:
            raise SimulationError(
                f"'{self.model.name}': CVODES failed between t = {t:g} and {t + h:g}"
                f" {self.model.time_unit}: {str(exc).splitlines()[-1][:160]}"
            ) from None
        x_next = np.array(out["xf"]).ravel()
        if not np.all(np.isfinite(x_next)):
            raise SimulationError(f"'{self.model.name}': non-finite state at t = {t + h:g}"
                                  f" {self.model.time_unit}")
        return x_next


def output_grid(t_end: float, dt: float) -> np.ndarray:
    """``0, dt, 2 dt, ...`` up to and including ``t_end``."""
    if not (np.isfinite(t_end) and t_end > 0):
        raise InputError(f"t_end must be a positive number, got {t_end}")
    if not (np.isfinite(dt) and 0 < dt <= t_end):
        raise InputError(f"dt must be positive and at most t_end ({t_end}), got {dt}")
    n = int(np.floor(t_end / dt * (1 + 1e-12)))
    grid = dt * np.arange(n + 1)
    if t_end - grid[-1] > 1e-9 * dt:
        grid = np.append(grid, t_end)
    return grid


def simulate(model: Model, t_end: float, dt: float,
             x0: Mapping[str, float] | np.ndarray | None = None,
             inputs: InputSchedule | Mapping[str, float] | np.ndarray | None = None,
             rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL,
             progress: Callable[[float], None] | None = None) -> SimulationResult:
    """Simulate ``model`` from ``x0`` over ``[0, t_end]``, reporting every ``dt``.

    Parameters
    ----------
    model : Model
        The model, with its parameter values.
    t_end, dt : float
        Horizon and output interval [model time unit].
    x0 : mapping or array, optional
        Initial state, by name over the nominal state, or a full vector.
    inputs : InputSchedule, mapping or array, optional
        Input schedule, or constant inputs by name over the nominal inputs.
    rtol, atol : float
        CVODES tolerances.
    progress : callable, optional
        Called with the fraction done (0..1) after each output interval.
    """
    grid = output_grid(t_end, dt)
    x = model.states.vector(x0)
    if not isinstance(inputs, InputSchedule):
        inputs = InputSchedule.constant(model.inputs.vector(inputs))
        model.inputs.check_bounds(inputs.base, "inputs")
    integrator = ReferenceIntegrator(model, rtol, atol)
    form = casadi_form(model)
    p = integrator.p

    xs = np.empty((grid.size, model.n_x))
    us = np.empty((grid.size, model.n_u))
    xs[0], us[0] = x, inputs.at(0.0)
    for k in range(1, grid.size):
        t0, t1 = grid[k - 1], grid[k]
        cuts = np.concatenate([[t0], inputs.change_times(t0, t1), [t1]])
        for a, b in zip(cuts[:-1], cuts[1:]):
            x = integrator.advance(x, inputs.at(a), b - a, a)
        xs[k], us[k] = x, inputs.at(t1)
        if progress is not None:
            progress(k / (grid.size - 1))
    ys = np.array(form.h.map(grid.size)(xs.T, us.T, np.tile(p[:, None], grid.size))).T
    return SimulationResult(model, grid, xs, us, ys.reshape(grid.size, model.n_y))
