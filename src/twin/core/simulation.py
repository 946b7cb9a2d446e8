"""Simulation over an output grid with piecewise-constant inputs.

Two backends with the same API and, within their tolerances, the same
results:

- ``kernel`` (default): the compiled stepping kernels (generated model C,
  integrators of ``twin_integrators.h``); BDF for stiff models, else
  Dormand-Prince 5(4); defaults rtol 1e-8, atol 1e-10.
- ``reference``: CasADi's CVODES (SUNDIALS), defaults rtol 1e-10,
  atol 1e-12: the correctness reference the kernels are checked against.

With their defaults the two agree to about 1e-6 relative on the states.
The integration restarts at every output time and at every input change,
so steps never straddle a discontinuity.
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
from twin.core.trips import shutdown_event

TRIP_RESOLUTION = 2.0 ** -10
"""Fraction of an output interval within which the time a shutdown limit is passed is found."""

BACKENDS = ("kernel", "reference")
"""Simulation backends: compiled kernels (default) and CVODES."""

DEFAULT_TOLERANCES = {"kernel": (1e-8, 1e-10), "reference": (1e-10, 1e-12)}
"""Default (rtol, atol) per backend [-, state units]."""
DEFAULT_RTOL, DEFAULT_ATOL = DEFAULT_TOLERANCES["reference"]

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


class KernelIntegrator:
    """Advances ``dx/dt = rhs(x, u, p)`` over one interval with the compiled kernels.

    The adaptive methods carry their step size from one interval to the
    next. ``method`` defaults to ``bdf`` for stiff models, else ``dopri5``.
    """

    def __init__(self, model: Model, rtol: float, atol: float, method: str | None = None,
                 n_sub: int = 1, max_steps: int = 100_000):
        from twin.core.kernels.functions import model_functions
        from twin.core.kernels.results import check_method

        if not (rtol > 0 and atol > 0):
            raise InputError(f"tolerances must be positive (rtol={rtol}, atol={atol})")
        self.method = method or default_method(model)
        check_method(self.method)
        self.model = model
        self.p = model.p0()
        self.functions = model_functions(model)
        self.rtol, self.atol, self.n_sub, self.max_steps = rtol, atol, n_sub, max_steps
        self.h = 0.0
        self.n_calls = 0

    def advance(self, x: np.ndarray, u: np.ndarray, h: float, t: float = 0.0) -> np.ndarray:
        """State after ``h`` time units from ``x`` with inputs ``u`` (``t`` only for messages)."""
        from twin.core.kernels import integrators

        self.n_calls += 1
        try:
            x_next, stats = integrators.integrate(self.functions, self.method, x, u, self.p, h,
                                                  self.rtol, self.atol, self.n_sub,
                                                  self.max_steps, self.h)
        except SimulationError as exc:
            raise SimulationError(f"{exc} (between t = {t:g} and {t + h:g} "
                                  f"{self.model.time_unit})") from None
        self.h = stats.h
        return x_next


def default_method(model: Model) -> str:
    """``bdf`` for stiff models, ``dopri5`` otherwise."""
    return "bdf" if model.stiff else "dopri5"


def make_integrator(model: Model, backend: str = "kernel", method: str | None = None,
                    rtol: float | None = None, atol: float | None = None):
    """The interval integrator of a backend, with its default tolerances."""
    if backend not in BACKENDS:
        from twin.core.errors import UnknownNameError

        raise UnknownNameError("backend", backend, BACKENDS)
    default_rtol, default_atol = DEFAULT_TOLERANCES[backend]
    rtol = default_rtol if rtol is None else rtol
    atol = default_atol if atol is None else atol
    if backend == "reference":
        if method not in (None, "cvodes"):
            raise InputError(f"backend 'reference' integrates with CVODES, not '{method}'")
        return ReferenceIntegrator(model, rtol, atol)
    return KernelIntegrator(model, rtol, atol, method)


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


def _advance(integrator, x, inputs: InputSchedule, t0: float, t1: float) -> np.ndarray:
    """The state at ``t1`` from ``x`` at ``t0``, restarting at every input change between."""
    cuts = np.concatenate([[t0], inputs.change_times(t0, t1), [t1]])
    for a, b in zip(cuts[:-1], cuts[1:]):
        x = integrator.advance(x, inputs.at(a), b - a, a)
    return x


def _first_trip(integrator, inputs: InputSchedule, tripped: Callable, t0: float, x0: np.ndarray,
                t1: float, found: tuple | None = None):
    """(time, state, event) where the run first passes a shutdown limit in ``(t0, t1]``, within
    :data:`TRIP_RESOLUTION` of the interval, or None. ``x0`` at ``t0`` is within the limits;
    at ``t1`` a limit is passed (``found``: its (t1, state, event)) or the integration failed
    (``found`` None): bisection keeps a point within the limits below and one past them (or a
    failure) above."""
    low, x_low, high = t0, x0, t1
    while high - low > TRIP_RESOLUTION * (t1 - t0):
        mid = 0.5 * (low + high)
        if not low < mid < high:  # an interval too thin to halve in floating point
            break
        try:
            x_mid = _advance(integrator, x_low, inputs, low, mid)
        except SimulationError:  # failed before mid: what was found at high (> mid) does not count
            high, found = mid, None
            continue
        passed = tripped(x_mid, mid)
        if passed:
            high, found = mid, (mid, x_mid, passed)
        else:
            low, x_low = mid, x_mid
    return found


def simulate(model: Model, t_end: float, dt: float,
             x0: Mapping[str, float] | np.ndarray | None = None,
             inputs: InputSchedule | Mapping[str, float] | np.ndarray | None = None,
             rtol: float | None = None, atol: float | None = None,
             progress: Callable[[float], None] | None = None, backend: str = "kernel",
             method: str | None = None) -> SimulationResult:
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
    rtol, atol : float, optional
        Integration tolerances (default: those of the backend).
    progress : callable, optional
        Called with the fraction done (0..1) after each output interval.
    backend : str
        ``"kernel"`` (compiled, default) or ``"reference"`` (CVODES).
    method : str, optional
        Kernel method: ``"rk4"``, ``"dopri5"`` or ``"bdf"`` (default by stiffness).

    A run whose outputs pass a shutdown limit of the model (``model.trips``)
    ends there, as the plant's interlocks would stop it: past a limit at an
    output time, or with the integration failing inside an output interval,
    the first time the limit is passed is found by bisection within
    :data:`TRIP_RESOLUTION` of the interval, and the run's last row is the
    state there; ``result.event`` says which limit, and when. (A plant that
    drains a vessel within one output interval would otherwise be reported
    past its interlock, with holdups below zero, or as a failed integration.)
    A failure with no limit passed before it is raised.
    """
    grid = output_grid(t_end, dt)
    x = model.states.vector(x0)
    if not isinstance(inputs, InputSchedule):
        inputs = InputSchedule.constant(model.inputs.vector(inputs))
        model.inputs.check_bounds(inputs.base, "inputs")
    integrator = make_integrator(model, backend, method, rtol, atol)
    form = casadi_form(model)
    p = integrator.p

    xs = np.empty((grid.size, model.n_x))
    us = np.empty((grid.size, model.n_u))

    def tripped(x, t):
        return shutdown_event(model, np.array(form.h(x, inputs.at(t), p)).ravel(), t) \
            if model.trips else ""

    xs[0], us[0] = x, inputs.at(0.0)
    event = tripped(x, 0.0)
    if event:  # the plant would not start: the initial point alone
        grid, xs, us = grid[:1], xs[:1], us[:1]
    for k in range(1, grid.size):
        t0, t1 = grid[k - 1], grid[k]
        try:
            x1 = _advance(integrator, x, inputs, t0, t1)
        except SimulationError:
            found = _first_trip(integrator, inputs, tripped, t0, x, t1) if model.trips else None
            if found is None:
                raise
        else:
            event = tripped(x1, t1)
            found = _first_trip(integrator, inputs, tripped, t0, x, t1, (t1, x1, event)) \
                if event else None
            x = x1
        if found is not None:
            grid[k], x, event = found
            xs[k], us[k] = x, inputs.at(grid[k])
            grid, xs, us = grid[:k + 1], xs[:k + 1], us[:k + 1]
            break
        xs[k], us[k] = x, inputs.at(t1)
        if progress is not None:
            progress(k / (grid.size - 1))
    ys = np.array(form.h.map(grid.size)(xs.T, us.T, np.tile(p[:, None], grid.size))).T
    return SimulationResult(model, grid, xs, us, ys.reshape(grid.size, model.n_y), event)

