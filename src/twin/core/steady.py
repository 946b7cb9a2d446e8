"""Steady states: solve ``rhs(x, u, p) = 0`` for ``x`` within bounds.

IPOPT (bundled in the casadi wheel) solves the square feasibility problem
with the state bounds as variable bounds, from a guess (the nominal state
by default); Newton steps with the AD Jacobian then polish the point to
machine precision. The result carries the linearisation's eigenvalues, so
a user sees at once whether the operating point is stable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import casadi as ca
import numpy as np

from twin.core.errors import SteadyStateError
from twin.core.model import Model
from twin.core.symbolic import Linearization, casadi_form

log = logging.getLogger(__name__)

_IPOPT_OPTIONS = {
    "ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False,
    "ipopt.tol": 1e-12, "ipopt.constr_viol_tol": 1e-12, "ipopt.max_iter": 500,
}


@dataclass(frozen=True)
class SteadyState:
    """A steady operating point of a model.

    Attributes
    ----------
    model : Model
        The model (with the parameter values used).
    x, u, p, y : numpy.ndarray
        States, inputs, parameters and outputs [units as declared].
    residual : float
        ``max |rhs(x, u, p)|`` at the point [state unit per time unit].
    linearization : Linearization
        Jacobians at the point.
    """

    model: Model
    x: np.ndarray
    u: np.ndarray
    p: np.ndarray
    y: np.ndarray
    residual: float
    linearization: Linearization

    @property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of the state Jacobian [1/time unit]."""
        return self.linearization.eigenvalues()

    @property
    def stable(self) -> bool:
        """True when every eigenvalue has a negative real part."""
        return bool(np.all(self.eigenvalues.real < 0))

    def as_dict(self) -> dict[str, Any]:
        """Names to values, JSON-friendly."""
        m = self.model
        eig = self.eigenvalues
        return {
            "model": m.name,
            "parameter_set": m.parameter_set,
            "time_unit": m.time_unit,
            "states": m.states.to_dict(self.x),
            "inputs": m.inputs.to_dict(self.u),
            "outputs": m.outputs.to_dict(self.y),
            "units": {v.name: v.unit for g in (m.states, m.inputs, m.outputs) for v in g},
            "residual": self.residual,
            "stable": self.stable,
            "slowest_time_constant": float(self.linearization.time_constants()[0])
            if np.any(eig.real < 0) else None,
        }


def find_steady_state(model: Model, u: Mapping[str, float] | np.ndarray | None = None,
                      x_guess: Mapping[str, float] | np.ndarray | None = None,
                      tol: float = 1e-10,
                      hint: str = "try another starting guess or other inputs") -> SteadyState:
    """Solve ``rhs(x, u, p) = 0`` within the state bounds.

    Parameters
    ----------
    model : Model
        The model, with its parameter values.
    u : mapping or array, optional
        Inputs (by name, overriding the nominal inputs, or a full vector).
    x_guess : mapping or array, optional
        Starting guess (by name over the nominal state, or a full vector).
    tol : float
        Largest accepted ``|rhs|`` relative to the scale of each equation.
    hint : str
        End of the error message: what the caller's user can change (an
        option or file key of theirs).

    Raises
    ------
    SteadyStateError
        When no point within the bounds satisfies the equations.
    """
    form = casadi_form(model)
    u_vec = model.inputs.vector(u)
    p_vec = model.p0()
    x0 = model.states.vector(x_guess)
    lbx, ubx = model.states.lower(), model.states.upper()
    x0 = np.clip(x0, lbx, ubx)

    nlp = {"x": form.x, "p": ca.vertcat(form.u, form.p), "f": 0, "g": form.xdot}
    solver = _solver(model, nlp)
    sol = solver(x0=x0, p=np.concatenate([u_vec, p_vec]), lbx=lbx, ubx=ubx, lbg=0, ubg=0)
    x = np.array(sol["x"]).ravel()
    x = _newton_polish(form, x, u_vec, p_vec, lbx, ubx)

    f = np.array(form.f(x, u_vec, p_vec)).ravel()
    scale = _equation_scale(form, x, u_vec, p_vec)
    residual = float(np.max(np.abs(f))) if f.size else 0.0
    if not np.all(np.isfinite(f)) or np.any(np.abs(f) > tol * scale):
        worst = int(np.argmax(np.abs(f) / scale))
        raise SteadyStateError(
            f"no steady state of '{model.name}' found within the state bounds "
            f"(largest residual {residual:.3g} in d{model.states.names[worst]}/dt; "
            f"IPOPT: {solver.stats()['return_status']}); {hint}"
        )
    y = np.array(form.h(x, u_vec, p_vec)).ravel()
    return SteadyState(model, x, u_vec, p_vec, y, residual, form.linearize(x, u_vec, p_vec))


_SOLVERS: dict[tuple, ca.Function] = {}


def _solver(model: Model, nlp: dict) -> ca.Function:
    key = model.structure
    if key not in _SOLVERS:
        _SOLVERS[key] = ca.nlpsol(f"{model.name}_steady", "ipopt", nlp, _IPOPT_OPTIONS)
    return _SOLVERS[key]


def _newton_polish(form, x, u, p, lbx, ubx, iterations: int = 8) -> np.ndarray:
    """Newton steps on ``f(x) = 0`` while they reduce the residual and respect the bounds."""
    f = np.array(form.f(x, u, p)).ravel()
    for _ in range(iterations):
        norm = np.max(np.abs(f)) if f.size else 0.0
        if norm == 0.0:
            break
        J = np.array(form.jac_x(x, u, p))
        try:
            step = np.linalg.solve(J, -f)
        except np.linalg.LinAlgError:
            break
        trial = x + step
        if np.any(trial < lbx) or np.any(trial > ubx):
            break
        f_trial = np.array(form.f(trial, u, p)).ravel()
        if not np.max(np.abs(f_trial)) < norm:
            break
        x, f = trial, f_trial
    return x


def _equation_scale(form, x, u, p) -> np.ndarray:
    """Per-equation scale: ``1 + sum_j |df_i/dx_j| |x_j|`` (keeps tol relative)."""
    J = np.abs(np.array(form.jac_x(x, u, p)))
    return 1.0 + J @ np.abs(x)
