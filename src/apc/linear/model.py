"""The controller's model as a discrete-time linear (affine) model at the control interval.

From a :class:`~apc.problem.ControlProblem` (the model with the spec's
parameters, its MV / other-input index sets and the CasADi functions ``f``,
``cv`` and ``meas``) :func:`linearise` takes the Jacobians at an operating
point and samples them exactly with a zero-order hold (the matrix
exponential of the block matrix, drift term included)::

    x+ = A x + Bu u + Bw w + e
    cv = Ccv x + Dcv_u u + Dcv_w w + c_cv
    y  = Cm x + Dm_u u + Dm_w w + c_m

in absolute variables (``u`` the MVs, ``w`` the other inputs: measured
disturbances and inputs held constant). At a steady state the drift is
zero; at an initial point that is not at rest the model is affine and the
drift is kept. An identified model is linear already, so its linearisation
anywhere is the model itself: sampled at the file's own sample time it gives
back the file's ``A``, ``B``, ``C``, ``D``.

:func:`affine_model` writes the continuous-time linearisation as a
:class:`~twin.core.model.Model` (the same names), so any part of the
project that works on models (the steady-state target calculation, the
NMPC) can run on exactly the linear model.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import casadi as ca
import numpy as np
import scipy.sparse as sparse
from scipy.linalg import expm

from apc.problem import ControlProblem
from twin.core.errors import InputError, SteadyStateError
from twin.core.model import Model
from twin.core.steady import find_steady_state

SPARSE_BELOW = 0.25
"""Share of nonzeros below which :func:`for_products` stores a large matrix sparse."""

SPARSE_FROM = 100_000
"""Entries from which :func:`for_products` considers a matrix large (0.8 MB): below,
a sparse product's call costs more than the dense one's arithmetic."""

UNIT_CIRCLE_TOL = 1e-9
"""An eigenvalue of ``A`` within this of 1 in modulus counts as integrating [-]."""
SETTLED = 1e-4
"""A step response has settled when the slowest stable mode has decayed to this fraction."""
MAX_SETTLING = 10_000
"""Longest step response computed [control intervals]."""


@dataclass(frozen=True, eq=False)
class LinearModel:
    """A discrete-time affine model at the control interval (module docstring).

    Attributes
    ----------
    dt : float
        Control interval [model time unit].
    A, Bu, Bw, e : numpy.ndarray
        State transition, MV and other-input matrices, drift per interval.
    Ccv, Dcv_u, Dcv_w, c_cv : numpy.ndarray
        CV rows (without biases).
    Cm, Dm_u, Dm_w, c_m : numpy.ndarray
        Measurement rows (without biases).
    Ac, Bc_u, Bc_w, f_c : numpy.ndarray
        The continuous-time linearisation ``dx/dt = Ac x + Bc_u u + Bc_w w + f_c``.
    x_op, u_op, w_op : numpy.ndarray
        Operating point of the linearisation.
    """

    dt: float
    A: np.ndarray
    Bu: np.ndarray
    Bw: np.ndarray
    e: np.ndarray
    Ccv: np.ndarray
    Dcv_u: np.ndarray
    Dcv_w: np.ndarray
    c_cv: np.ndarray
    Cm: np.ndarray
    Dm_u: np.ndarray
    Dm_w: np.ndarray
    c_m: np.ndarray
    Ac: np.ndarray
    Bc_u: np.ndarray
    Bc_w: np.ndarray
    f_c: np.ndarray
    x_op: np.ndarray
    u_op: np.ndarray
    w_op: np.ndarray

    @property
    def n_x(self) -> int:
        return self.A.shape[0]

    def next_state(self, x: np.ndarray, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The state one interval on [state units]."""
        return self.A @ x + self.Bu @ u + self.Bw @ w + self.e

    def cv_values(self, x: np.ndarray, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """CV values (without biases) [CV units]."""
        return self.Ccv @ x + self.Dcv_u @ u + self.Dcv_w @ w + self.c_cv

    def settling_intervals(self) -> int:
        """Intervals for the slowest stable mode to decay to :data:`SETTLED` (at least 1)."""
        mod = np.abs(np.linalg.eigvals(self.A)) if self.n_x else np.zeros(0)
        stable = mod[mod < 1.0 - UNIT_CIRCLE_TOL]
        rho = float(stable.max()) if stable.size else 0.0
        if rho <= 0.0:
            return 1
        return int(min(MAX_SETTLING, max(1, np.ceil(np.log(SETTLED) / np.log(rho)))))

    def integrating(self) -> bool:
        """True when ``A`` has an eigenvalue on the unit circle (an integrator)."""
        return self._integrating

    @cached_property
    def _integrating(self) -> bool:
        if not self.n_x:
            return False
        return bool(np.any(np.abs(np.linalg.eigvals(self.A)) >= 1.0 - UNIT_CIRCLE_TOL))

    @cached_property
    def steady_cv_map(self) -> np.ndarray:
        """``Ccv (I - A)^-1`` (n_cv x n_x): the CVs at the steady state per unit of constant
        state drive (stable models; computed once, the settle of every cycle uses it)."""
        return np.linalg.solve((np.eye(self.n_x) - self.A).T, self.Ccv.T).T

    def step_responses(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit-step responses of the CVs to each MV and other input, ``k = 0..n``.

        Returns ``S_u`` of shape (n + 1, n_cv, n_mv) and ``S_w`` (n + 1, n_cv, n_w):
        ``S[k]`` is the CV change ``k`` intervals after a unit step (``S[0] = D``).
        """
        B = np.hstack([self.Bu, self.Bw])
        D = np.hstack([self.Dcv_u, self.Dcv_w])
        X = np.zeros((self.n_x, B.shape[1]))
        out = np.empty((n + 1, *D.shape))
        for k in range(n + 1):
            out[k] = self.Ccv @ X + D
            X = self.A @ X + B
        nu = self.Bu.shape[1]
        return out[:, :, :nu], out[:, :, nu:]

    def gains(self, ramp: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Steady-state gains ``C (I - A)^-1 B + D`` of the CVs to the MVs and other inputs.

        A ramp (integrating) CV's gain is its rate of change per unit input at
        steady ramping [CV unit / time unit / input unit]. Raises :class:`InputError`
        when a CV not marked ``ramp`` integrates.
        """
        n = self.n_x
        if not self.integrating() and not np.any(ramp):
            B = np.hstack([self.Bu, self.Bw])
            D = np.hstack([self.Dcv_u, self.Dcv_w])
            G = self.Ccv @ np.linalg.solve(np.eye(n) - self.A, B) + D if n else D
        else:
            k = self.settling_intervals() + 1
            S_u, S_w = self.step_responses(k + 1)
            S = np.concatenate([S_u, S_w], axis=2)
            rate = (S[k + 1] - S[k]) / self.dt
            level = S[k]
            scale = np.maximum(np.abs(level).max(axis=1, keepdims=True), 1e-12)
            drifting = np.abs(rate * self.dt).max(axis=1) > 1e-6 * scale.ravel()
            for i, name in enumerate(names):
                if drifting[i] and not ramp[i]:
                    raise InputError(f"cv '{name}' integrates (its linear model has an eigenvalue "
                                     "at 1): mark it ramp = true")
            G = np.where(ramp[:, None], rate, level)
        nu = self.Bu.shape[1]
        return G[:, :nu], G[:, nu:]


def operating_point(problem: ControlProblem, x0: np.ndarray, u: np.ndarray,
                    w: np.ndarray) -> np.ndarray:
    """The state to linearise at: the model's steady state at the inputs, or ``x0``.

    ``spec.linear.operating_point`` decides; a model without a steady state
    there is refused in one line.
    """
    if problem.spec.linear.operating_point == "initial":
        return np.asarray(x0, dtype=float)
    model = problem.model
    try:
        ss = find_steady_state(model, problem.full_inputs(u, w), x_guess=np.asarray(x0, float),
                               hint="set linear.operating_point = 'initial' to linearise at "
                                    "the initial state")
    except SteadyStateError as exc:
        raise InputError(f"linear controller: {exc}") from None
    return ss.x


def linearise(problem: ControlProblem, x_op: np.ndarray, u_op: np.ndarray,
              w_op: np.ndarray) -> LinearModel:
    """The discrete-time affine model at ``(x_op, u_op, w_op)`` (module docstring)."""
    pb = problem
    x = ca.SX.sym("x", pb.n_x)
    u = ca.SX.sym("u", pb.n_u)
    w = ca.SX.sym("w", pb.n_w)
    p = pb.model.p0()
    rows = []
    for fn in (pb.f, pb.cv, pb.meas):
        expr = fn(x, u, w, p)
        rows.append(ca.Function("j", [x, u, w], [expr, ca.jacobian(expr, x),
                                                   ca.jacobian(expr, u), ca.jacobian(expr, w)]))
    xo, uo, wo = (np.asarray(v, dtype=float).ravel() for v in (x_op, u_op, w_op))

    def parts(fn):
        v, jx, ju, jw = (np.array(a, dtype=float) for a in fn(xo, uo, wo))
        jx = jx.reshape(-1, pb.n_x)
        n = jx.shape[0]
        ju, jw = ju.reshape(n, pb.n_u), jw.reshape(n, pb.n_w)
        # affine form in absolute variables: value + J (z - z_op) = J z + (value - J z_op)
        return jx, ju, jw, v.ravel() - jx @ xo - ju @ uo - jw @ wo

    Ac, Bcu, Bcw, fc = parts(rows[0])
    Ccv, Dcvu, Dcvw, ccv = parts(rows[1])
    Cm, Dmu, Dmw, cm = parts(rows[2])
    for name, m in (("A", Ac), ("B", Bcu), ("C", Ccv)):
        if not np.all(np.isfinite(m)):
            raise InputError(f"linear controller: the model's Jacobian {name} is not finite at "
                             "the operating point")
    n, nu, nw = pb.n_x, pb.n_u, pb.n_w
    dt = pb.spec.sample_time
    size = n + nu + nw + 1
    block = np.zeros((size, size))
    block[:n, :n] = Ac
    block[:n, n:n + nu] = Bcu
    block[:n, n + nu:n + nu + nw] = Bcw
    block[:n, -1] = fc
    phi = expm(block * dt)
    return LinearModel(dt=dt, A=phi[:n, :n], Bu=phi[:n, n:n + nu], Bw=phi[:n, n + nu:n + nu + nw],
                       e=phi[:n, -1], Ccv=Ccv, Dcv_u=Dcvu, Dcv_w=Dcvw, c_cv=ccv, Cm=Cm, Dm_u=Dmu,
                       Dm_w=Dmw, c_m=cm, Ac=Ac, Bc_u=Bcu, Bc_w=Bcw, f_c=fc, x_op=xo, u_op=uo,
                       w_op=wo)


def affine_model(problem: ControlProblem, lin: LinearModel) -> Model:
    """The continuous-time linearisation as a :class:`Model` with the same names.

    ``dx/dt = Ac x + Bc (u_full) + f_c`` and each output its linearisation
    (the model's parameters are fixed at their values in the matrices).
    """
    pb, model = problem, problem.model
    n = pb.n_x
    Bc = np.zeros((n, model.n_u))
    Bc[:, pb.mv_index] = lin.Bc_u
    Bc[:, pb.other_index] = lin.Bc_w
    out_rows = None
    if model.n_y:
        xs = ca.SX.sym("x", n)
        us = ca.SX.sym("u", model.n_u)
        y = ca.vertcat(*model.evaluate_outputs(ca.vertsplit(xs), ca.vertsplit(us),
                                               list(model.p0()), _casadi_ops()))
        fn = ca.Function("y", [xs, us], [y, ca.jacobian(y, xs), ca.jacobian(y, us)])
        u_full = pb.full_inputs(lin.u_op, lin.w_op)
        v, jx, ju = (np.array(a, dtype=float) for a in fn(lin.x_op, u_full))
        jx, ju = jx.reshape(model.n_y, n), ju.reshape(model.n_y, model.n_u)
        out_rows = (jx, ju, v.ravel() - jx @ lin.x_op - ju @ u_full)
    states, inputs = model.states.names, model.inputs.names

    def affine(Cx, Cu, c, x, u):
        total = float(c)
        for j in np.flatnonzero(Cx):
            total = total + float(Cx[j]) * x[states[j]]
        for j in np.flatnonzero(Cu):
            total = total + float(Cu[j]) * u[inputs[j]]
        return total

    def rhs(x, u, p, ops):
        """Linearised state derivatives [state unit per time unit]."""
        return {s: affine(lin.Ac[i], Bc[i], lin.f_c[i], x, u) for i, s in enumerate(states)}

    def outputs(x, u, p, ops):
        """Linearised outputs [output units]."""
        jx, ju, c = out_rows
        return {y: affine(jx[i], ju[i], c[i], x, u) for i, y in enumerate(model.outputs.names)}

    return Model(name=f"{model.name}_linear", title=f"{model.title}, linearised",
                 source=f"linearisation of {model.name}", time_unit=model.time_unit,
                 states=list(model.states), inputs=list(model.inputs), parameters=[],
                 outputs=list(model.outputs), rhs=rhs,
                 output_map=outputs if model.n_y else None)


def _casadi_ops():
    from twin.core import ops

    return ops.CASADI


def for_products(matrix: np.ndarray):
    """``matrix`` for products with vectors every cycle: a CSR array when it has at least
    :data:`SPARSE_FROM` entries and less than :data:`SPARSE_BELOW` of them are nonzero,
    else the dense array (``@`` works on both).

    A product reads the whole matrix from memory; a cycle of the 40 x 80 example
    reads its step responses (12.6 MB dense, 8 % nonzero) and the QP's CV map
    (9.4 MB, 7 %), which no cache holds between cycles.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.size >= SPARSE_FROM and np.count_nonzero(matrix) < SPARSE_BELOW * matrix.size:
        return sparse.csr_array(matrix)
    return matrix
