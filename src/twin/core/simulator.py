"""The twin's plant simulator: one control interval per :meth:`Simulator.step`.

``Simulator(model, dt)`` holds a state and advances it by ``dt`` with the
inputs held constant, the way every closed loop drives the plant. With the
default ``kernel`` backend ``step(u)`` is one compiled call: checking the
inputs, integrating and copying the state out all happen in C.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from twin.core.errors import InputError, SimulationError, UnknownNameError
from twin.core.model import Model
from twin.core.simulation import (BACKENDS, DEFAULT_TOLERANCES, ReferenceIntegrator,
                                  default_method)


class Simulator:
    """Steps ``model`` over fixed control intervals ``dt`` [model time unit].

    Parameters
    ----------
    model : Model
        The plant model, with its parameter values.
    dt : float
        Control interval [model time unit].
    x0 : mapping or array, optional
        Initial state (by name over the nominal state, or a full vector).
    backend : str
        ``"kernel"`` (compiled, default) or ``"reference"`` (CVODES).
    method : str, optional
        Kernel method ``"rk4"``, ``"dopri5"`` or ``"bdf"`` (default: ``bdf``
        for stiff models, else ``dopri5``).
    rtol, atol : float, optional
        Tolerances of the adaptive methods (default: the backend's).
    n_sub : int
        RK4 steps per interval.

    Attributes
    ----------
    step : callable
        ``step(u) -> x``: advance one interval with inputs ``u`` (a full
        input vector, within the input bounds) and return the new state.
    """

    def __init__(self, model: Model, dt: float, x0: Mapping[str, float] | np.ndarray | None = None,
                 backend: str = "kernel", method: str | None = None, rtol: float | None = None,
                 atol: float | None = None, n_sub: int = 1, max_steps: int = 100_000):
        if backend not in BACKENDS:
            raise UnknownNameError("backend", backend, BACKENDS)
        if not (math.isfinite(dt) and dt > 0):
            raise InputError(f"dt must be a positive number, got {dt}")
        if n_sub < 1:
            raise InputError(f"n_sub must be at least 1, got {n_sub}")
        self.model, self.dt, self.backend = model, float(dt), backend
        default_rtol, default_atol = DEFAULT_TOLERANCES[backend]
        self.rtol = default_rtol if rtol is None else rtol
        self.atol = default_atol if atol is None else atol
        if not (self.rtol > 0 and self.atol > 0):
            raise InputError(f"tolerances must be positive (rtol={self.rtol}, atol={self.atol})")
        x = model.states.vector(x0)
        lower, upper = model.inputs.lower(), model.inputs.upper()
        if backend == "kernel":
            from twin.core.kernels import integrators
            from twin.core.kernels.functions import model_functions

            self.method = method or default_method(model)
            functions = model_functions(model)
            self.compiled = functions.compiled
            self._impl = integrators.stepper(functions, self.method, x, model.p0(), self.dt,
                                             self.rtol, self.atol, n_sub, max_steps, lower,
                                             upper, self._error)
        else:
            if method not in (None, "cvodes"):
                raise InputError(f"backend 'reference' integrates with CVODES, not '{method}'")
            self.method, self.compiled = "cvodes", False
            self._impl = _CvodesStepper(model, x, self.dt, self.rtol, self.atol, lower, upper,
                                        self._error)
        self.step = self._impl.step

    @property
    def t(self) -> float:
        """Simulated time [model time unit]."""
        return self._impl.t

    @property
    def x(self) -> np.ndarray:
        """A copy of the current state."""
        return self._impl.state

    @property
    def n_steps(self) -> int:
        """Number of ``step`` calls since creation."""
        return self._impl.n_calls

    @property
    def stats(self) -> dict:
        """Integration counters since creation (steps, rhs evaluations, ...)."""
        return self._impl.stats

    def reset(self, x0: Mapping[str, float] | np.ndarray | None = None, t: float = 0.0) -> None:
        """Set the state (by name over the nominal state, or a full vector) and the time."""
        self._impl.reset(self.model.states.vector(x0), t)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        """Change parameter values by name for the following steps (e.g. catalyst decay)."""
        self.model = self.model.with_parameters(values)
        self._impl.set_parameters(self.model.p0())

    def _error(self, kind: str, index: int, value: float) -> None:
        names = self.model.inputs.names
        if kind == "length":
            raise InputError(f"step(u): expected {len(names)} inputs ({', '.join(names)}), "
                             f"got {index}")
        if kind == "nonfinite":
            raise InputError(f"step(u): input '{names[index]}' is {value}, not a finite number")
        if kind == "bounds":
            v = self.model.inputs[index]
            from twin.core.ranges import range_text

            raise InputError(f"step(u): input '{v.name}' = {value:g} {v.unit} is outside its "
                             f"bounds {range_text(v.lower, v.upper)}")
        from twin.core.kernels.results import status_text

        raise SimulationError(f"'{self.model.name}': integration failed in the interval from "
                              f"t = {value:g} {self.model.time_unit}: "
                              f"{status_text(index, self.method)}")


class _CvodesStepper:
    """The reference backend behind the same step interface."""

    def __init__(self, model, x0, dt, rtol, atol, lower, upper, on_error):
        self._integrator = ReferenceIntegrator(model, rtol, atol)
        self._x = np.array(x0, dtype=float)
        self._lower, self._upper = lower, upper
        self.dt, self.t, self.n_calls = dt, 0.0, 0
        self.on_error = on_error

    def step(self, u) -> np.ndarray:
        from twin.core.kernels.reference import checked_inputs

        u = checked_inputs(u, self._lower, self._upper, self.on_error)
        self._x = self._integrator.advance(self._x, u, self.dt, self.t)
        self.t += self.dt
        self.n_calls += 1
        return self._x.copy()

    def reset(self, x0, t=0.0) -> None:
        self._x = np.array(x0, dtype=float)
        self.t = t

    def set_parameters(self, p) -> None:
        self._integrator.p = np.array(p, dtype=float)

    @property
    def state(self) -> np.ndarray:
        return self._x.copy()

    @property
    def stats(self) -> dict:
        return {"calls": self._integrator.n_calls}
