"""CasADi form of a model: symbols, functions and Jacobians by AD.

Built once per model structure (the equations and the names, not the
parameter values, which are a symbolic input ``p``), so every parameter
variant of a model shares it.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np

from twin.core import ops
from twin.core.model import Model

_CACHE: dict[tuple, "CasadiForm"] = {}


@dataclass(frozen=True)
class Linearization:
    """``dx/dt = A dx + B du``, ``dy = C dx + D du`` around an operating point."""

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray

    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of ``A`` [1/time unit of the model]."""
        return np.linalg.eigvals(self.A)

    def time_constants(self) -> np.ndarray:
        """``-1/Re(lambda)`` of each stable mode, slowest first [time unit of the model]."""
        re = self.eigenvalues().real
        return np.sort(-1.0 / re[re < 0])[::-1]


@dataclass(frozen=True, eq=False)
class CasadiForm:
    """CasADi symbols and functions of one model structure.

    Functions (all take ``x, u, p`` as dense column vectors):
    ``f`` the right-hand side, ``h`` the outputs, ``jac_x``, ``jac_u``,
    ``jac_p`` the Jacobians of ``f``, ``h_x``, ``h_u`` those of ``h``.
    """

    x: ca.SX
    u: ca.SX
    p: ca.SX
    xdot: ca.SX
    y: ca.SX
    f: ca.Function
    h: ca.Function
    jac_x: ca.Function
    jac_u: ca.Function
    jac_p: ca.Function
    h_x: ca.Function
    h_u: ca.Function

    def linearize(self, x: np.ndarray, u: np.ndarray, p: np.ndarray) -> Linearization:
        """Jacobians at a point, as NumPy arrays."""
        return Linearization(
            A=np.array(self.jac_x(x, u, p)), B=np.array(self.jac_u(x, u, p)),
            C=np.array(self.h_x(x, u, p)), D=np.array(self.h_u(x, u, p)),
        )


def spectral_radius(model: Model, x: np.ndarray, u: np.ndarray, p: np.ndarray) -> float:
    """Largest eigenvalue magnitude of ``df/dx`` at ``(x, u, p)`` [1/time unit of the model]
    (what bounds an explicit integrator's stable step); NaN where the Jacobian is not finite."""
    a = np.array(casadi_form(model).jac_x(x, u, p), dtype=float)
    if not np.all(np.isfinite(a)):
        return float("nan")
    return float(np.max(np.abs(np.linalg.eigvals(a)))) if a.size else 0.0


def casadi_form(model: Model) -> CasadiForm:
    """The (cached) CasADi form of ``model``."""
    key = model.structure
    form = _CACHE.get(key)
    if form is None:
        form = _CACHE[key] = _build(model)
    return form


def _build(model: Model) -> CasadiForm:
    x = ca.SX.sym("x", model.n_x)
    u = ca.SX.sym("u", model.n_u)
    p = ca.SX.sym("p", model.n_p)
    xs, us, ps = ca.vertsplit(x), ca.vertsplit(u), ca.vertsplit(p)
    xdot = ca.vertcat(*model.evaluate_rhs(xs, us, ps, ops.CASADI))
    ylist = model.evaluate_outputs(xs, us, ps, ops.CASADI)
    y = ca.vertcat(*ylist) if ylist else ca.SX(0, 1)
    args, names = [x, u, p], ["x", "u", "p"]

    def fn(name: str, expr: ca.SX, out: str) -> ca.Function:
        return ca.Function(f"{model.name}_{name}", args, [expr], names, [out])

    return CasadiForm(
        x=x, u=u, p=p, xdot=xdot, y=y,
        f=fn("rhs", xdot, "xdot"),
        h=fn("outputs", y, "y"),
        jac_x=fn("jac_x", ca.jacobian(xdot, x), "A"),
        jac_u=fn("jac_u", ca.jacobian(xdot, u), "B"),
        jac_p=fn("jac_p", ca.jacobian(xdot, p), "dfdp"),
        h_x=fn("h_x", ca.jacobian(y, x), "C"),
        h_u=fn("h_u", ca.jacobian(y, u), "D"),
    )
