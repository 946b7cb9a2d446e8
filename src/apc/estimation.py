"""State and disturbance estimation: EKF, moving-horizon estimator, state feedback.

The estimators work on one discrete-time augmented model of the plant over
a control interval (:class:`AugmentedModel`):

- the model states ``x`` (RK4 over the interval: :data:`RK4_SUBSTEPS`
  substeps, more where the model's fastest mode at the initial point needs
  them to stay inside RK4's stability region, :func:`rk4_substeps`);
- one bias ``d`` per measurement marked ``bias`` (a random walk): the
  disturbance states that make control offset-free under mismatch;
- one state per disturbance model of the specification (``disturbances``,
  a random walk with the given ``noise`` per interval): an offset ``e`` on an
  input (the model sees ``u + e``) or on a parameter (the model uses
  ``p + e``), so a mismatch is blamed where it sits rather than on a sensor;
- for a measurement with dead time ``m`` intervals, a chain of ``m`` delay
  states holding its past values, so an analyser value that arrives now is
  matched with the state it was taken from.

The augmented state is ``[x, biases, disturbances, delay chains]``.

A measurement is used when its quality is GOOD (or UNCERTAIN where the
spec accepts that) and, for sampled analysers, when it is fresh.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import casadi as ca
import numpy as np
from scipy.linalg import expm

from apc.bounded import InProcess, SolveTimeout
from apc.detectability import check_disturbance_model
from apc.problem import ControlProblem
from twin.core import ops
from twin.core.errors import InputError
from twin.core.quality import Quality, Reading
from twin.core.symbolic import spectral_radius

RK4_SUBSTEPS = 10
"""Fewest RK4 substeps per control interval of the estimators' model."""
RK4_STABLE = 2.0
"""Largest ``|eigenvalue| x substep`` of the model's Jacobian allowed (RK4 is stable to 2.78 on
the negative real axis and 2.83 on the imaginary one)."""
RK4_MAX_SUBSTEPS = 400
"""Most substeps: a model stiffer than this over one interval is refused."""

INITIAL_DISTURBANCE_STD = 10.0
"""Initial standard deviation of a disturbance state, in multiples of its ``noise``."""


def _magnitude(v: float) -> float:
    return max(abs(v), 1e-3) if np.isfinite(v) else 1.0


def rk4_substeps(problem: ControlProblem, x, u, w, p) -> int:
    """RK4 substeps per interval for the model at ``(x, u, w, p)``: at least
    :data:`RK4_SUBSTEPS`, and enough that the largest eigenvalue magnitude of ``df/dx``
    [1/time unit] times a substep is at most :data:`RK4_STABLE` (a column's hydraulics at a
    sample time of minutes need more than ten), at ``x`` and at the model's declared initial
    state alike: a first guess off the plant may be far less stiff than the plant (the
    Tennessee Eastman reactor's fastest mode is 1968/h at its base case, 795/h with its
    holdups 5 % off). A model whose Jacobian is not finite at either gets the default; one
    that needs more than :data:`RK4_MAX_SUBSTEPS` is refused."""
    dt = problem.spec.sample_time
    inputs, p = problem.full_inputs(u, w), np.asarray(p, float)
    x, declared = np.asarray(x, float), problem.model.x0()
    points = (x,) if np.array_equal(x, declared) else (x, declared)
    radii = [spectral_radius(problem.model, point, inputs, p) for point in points]
    rho = max((r for r in radii if np.isfinite(r)), default=math.nan)
    if not np.isfinite(rho):
        return RK4_SUBSTEPS
    n = max(RK4_SUBSTEPS, int(np.ceil(rho * dt / RK4_STABLE)))
    if n > RK4_MAX_SUBSTEPS:
        raise InputError(f"estimator: the model's fastest mode ({rho:.3g} per time unit, at the "
                         "first guess or the model's declared state) needs "
                         f"{n} RK4 substeps per sample_time of {dt:g} (at most "
                         f"{RK4_MAX_SUBSTEPS}); shorten sample_time or use estimator.kind = "
                         "'state_feedback'")
    return n


class AugmentedModel:
    """``xi+ = F(xi, u, w, p)``, ``y = h(xi, u, w, p)`` with Jacobians, over one interval of
    ``substeps`` RK4 steps (:func:`rk4_substeps`)."""

    def __init__(self, problem: ControlProblem, substeps: int = RK4_SUBSTEPS):
        self.problem = pb = problem
        self.substeps = int(substeps)
        spec, model = pb.spec, pb.model
        meas = spec.measurements
        self.names = [m.name for m in meas]
        self.bias_of = {n: i for i, n in enumerate(pb.bias_names)}
        self.delay = [int(round(m.dead_time / spec.sample_time)) for m in meas]
        self.n_x, self.n_d = pb.n_x, pb.n_bias
        self.disturbances = spec.disturbances
        self.n_e = len(self.disturbances)
        self.n_z = sum(self.delay)
        self.n = self.n_x + self.n_d + self.n_e + self.n_z
        self._selections(pb)
        xi = ca.SX.sym("xi", self.n)
        u = ca.SX.sym("u", pb.n_u)
        w = ca.SX.sym("w", pb.n_w)
        p = ca.SX.sym("p", model.n_p)
        x = xi[: self.n_x]
        # (an empty slice of a 1 x 1 CasADi symbol is 1 x 0, which vertcat counts as a row)
        d = xi[self.n_x: self.n_x + self.n_d] if self.n_d else ca.SX(0, 1)
        first_e = self.n_x + self.n_d
        e = xi[first_e: first_e + self.n_e] if self.n_e else ca.SX(0, 1)
        z = xi[first_e + self.n_e:] if self.n_z else ca.SX(0, 1)
        # what the model sees: inputs and parameters with the estimated offsets
        ue, we, pe = u, w, p
        if self.n_e:
            ue, we, pe = (u + ca.mtimes(self.E_u, e), w + ca.mtimes(self.E_w, e),
                          p + ca.mtimes(self.E_p, e))
        h = spec.sample_time / self.substeps
        xn = x
        for _ in range(self.substeps):
            k1 = pb.f(xn, ue, we, pe)
            k2 = pb.f(xn + h / 2 * k1, ue, we, pe)
            k3 = pb.f(xn + h / 2 * k2, ue, we, pe)
            k4 = pb.f(xn + h * k3, ue, we, pe)
            xn = xn + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        signals = pb.meas(x, ue, we, pe)
        z_next, y, offset = [], [], 0
        for j, m in enumerate(self.delay):
            chain = z[offset: offset + m]
            if m:
                older = [chain[i] for i in range(m - 1)]  # (CasADi reads [:0] as [:1])
                z_next.append(ca.vertcat(signals[j], *older))
                value = chain[m - 1]
            else:
                value = signals[j]
            if self.names[j] in self.bias_of:
                value = value + d[self.bias_of[self.names[j]]]
            y.append(value)
            offset += m
        xi_next = ca.vertcat(xn, d, e, *z_next)
        y = ca.vertcat(*y) if y else ca.SX(0, 1)
        args = [xi, u, w, p]
        self.F = ca.Function("F", args, [xi_next])
        self.A = ca.Function("A", args, [ca.jacobian(xi_next, xi)])
        self.h = ca.Function("h", args, [y])
        self.H = ca.Function("H", args, [ca.jacobian(y, xi)])
        self._signals = ca.Function("s", [x, u, w, p], [signals])
        # the undelayed steady-state view for the detectability check: x+ and the
        # measurements now, as functions of the states and all integrating disturbances
        biased = np.zeros((len(meas), self.n_d))
        for j, name in enumerate(self.names):
            if name in self.bias_of:
                biased[j, self.bias_of[name]] = 1.0
        y_now = signals + ca.mtimes(biased, d) if self.n_d else signals
        xdot = pb.f(x, ue, we, pe)
        self._linear = ca.Function("lin", args, [ca.jacobian(xdot, xi), ca.jacobian(y_now, xi)])
        self._init_scales()

    def _selections(self, pb: ControlProblem) -> None:
        """``E_u``, ``E_w``, ``E_p``: where each disturbance state adds (0/1 matrices)."""
        model = pb.model
        mv = {model.inputs.names[i]: k for k, i in enumerate(pb.mv_index)}
        other = {model.inputs.names[i]: k for k, i in enumerate(pb.other_index)}
        self.E_u = np.zeros((pb.n_u, self.n_e))
        self.E_w = np.zeros((pb.n_w, self.n_e))
        self.E_p = np.zeros((model.n_p, self.n_e))
        for k, dist in enumerate(self.disturbances):
            if dist.kind == "parameter":
                self.E_p[model.parameters.index(dist.name), k] = 1.0
            elif dist.name in mv:
                self.E_u[mv[dist.name], k] = 1.0
            else:
                self.E_w[other[dist.name], k] = 1.0

    def labels(self) -> list[str]:
        """The integrating disturbances in state order: ``bias 'T'``, ``input 'T_c'``..."""
        return ([f"bias '{n}'" for n in self.problem.bias_names]
                + [f"{d.kind} '{d.name}'" for d in self.disturbances])

    def linear_disturbance_model(self, x, u, w, p) -> tuple[np.ndarray, ...]:
        """``A, B_d, C, C_d`` of the undelayed model over one interval at ``(x, u, w, p)``,
        all disturbances at zero: ``x+ = A x + B_d d``, ``y = C x + C_d d``.

        The linearisation sampled exactly (zero-order hold, matrix exponential),
        not the estimator's RK4 steps: those may be inaccurate for modes much
        faster than the interval (a column's hydraulics) without changing what
        can be estimated at steady state."""
        xi = self.initial(np.asarray(x, float), u, w, p)
        Jf, Jy = (np.array(m) for m in self._linear(xi, u, w, p))
        n_x, n_dist = self.n_x, self.n_d + self.n_e
        block = np.zeros((n_x + n_dist, n_x + n_dist))
        block[:n_x] = Jf[:, :n_x + n_dist]
        sampled = expm(block * self.problem.spec.sample_time)
        return (sampled[:n_x, :n_x], sampled[:n_x, n_x:], Jy[:, :n_x], Jy[:, n_x:n_x + n_dist])

    def check_detectable(self, x, u, w, p):
        """The detectability check (:mod:`apc.detectability`) of the disturbance model at the
        operating point ``(x, u, w, p)``: a report, or a one-line error naming what to change."""
        pb = self.problem
        model = pb.model
        A, B_d, C, C_d = self.linear_disturbance_model(x, u, w, p)
        x_mag = np.array([_magnitude(v.nominal) for v in model.states])
        y_mag = np.array([_magnitude(self._nominal_signal(n)) for n in self.names])
        d_mag = [y_mag[self.names.index(n)] for n in pb.bias_names]
        u_full = pb.full_inputs(u, w)
        for d in self.disturbances:
            d_mag.append(_magnitude(p[model.parameters.index(d.name)] if d.kind == "parameter"
                                    else u_full[model.inputs.index(d.name)]))
        controlled = sum(c.setpoint is not None for c in pb.spec.cv)
        return check_disturbance_model(A, B_d, C, C_d, self.labels(), self.names,
                                       model.states.names, controlled, x_mag, np.array(d_mag),
                                       y_mag, f"controller for model '{model.name}'")

    def split(self, xi: np.ndarray, p: np.ndarray, used=None, innovation=None) -> "Estimate":
        """The :class:`Estimate` of an augmented state (``p``: the parameters in force)."""
        n_x, n_d, n_e = self.n_x, self.n_d, self.n_e
        e = xi[n_x + n_d: n_x + n_d + n_e]
        pb = self.problem
        kinds = {d.kind for d in self.disturbances}
        u_offset = p_est = None
        if "input" in kinds:
            u_offset = np.zeros(pb.model.n_u)
            u_offset[pb.mv_index] = self.E_u @ e
            u_offset[pb.other_index] = self.E_w @ e
        if "parameter" in kinds:
            p_est = np.asarray(p, float) + self.E_p @ e
        shown = {d.name: float(p_est[pb.model.parameters.index(d.name)] if d.kind == "parameter"
                               else e[k]) for k, d in enumerate(self.disturbances)}
        return Estimate(xi[:n_x].copy(), xi[n_x: n_x + n_d].copy(), used or {}, innovation or {},
                        u_offset, p_est, shown)

    def _init_scales(self) -> None:
        pb, est = self.problem, self.problem.spec.estimator
        x_mag = np.array([_magnitude(v.nominal) for v in pb.model.states])
        meas = pb.spec.measurements
        sig_mag = np.array([m.noise_std if m.noise_std > 0 else
                            _magnitude(self._nominal_signal(m.name)) * 1e-3 for m in meas])
        d_mag = np.array([sig_mag[self.names.index(n)] for n in pb.bias_names])
        e_noise = np.array([d.noise for d in self.disturbances])
        z_mag = np.concatenate([[sig_mag[j]] * m for j, m in enumerate(self.delay)]) \
            if self.n_z else np.zeros(0)
        self.Q = np.diag(np.concatenate([(est.process_noise * x_mag) ** 2,
                                         (est.bias_noise * d_mag) ** 2,
                                         e_noise ** 2,
                                         (1e-6 * z_mag) ** 2]))
        self.R = np.diag(np.maximum(sig_mag, 1e-9) ** 2)
        self.P0 = np.diag(np.concatenate([(est.initial_std * x_mag) ** 2,
                                          (3 * d_mag) ** 2 if self.n_d else np.zeros(0),
                                          (INITIAL_DISTURBANCE_STD * e_noise) ** 2,
                                          (est.initial_std * 10 * z_mag) ** 2]))

    def _nominal_signal(self, name: str) -> float:
        model = self.problem.model
        if name in model.states:
            return model.states[name].nominal
        y = model.evaluate_outputs(list(model.x0()), list(model.u0()), list(model.p0()), ops.MATH)
        return float(y[model.outputs.index(name)])

    def initial(self, x0: np.ndarray, u: np.ndarray, w: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Augmented state for a plant at ``x0``: zero biases, delay chains at the current signals."""
        signals = np.array(self._signals(x0, u, w, p)).ravel()
        z = np.concatenate([[signals[j]] * m for j, m in enumerate(self.delay)]) \
            if self.n_z else np.zeros(0)
        return np.concatenate([x0, np.zeros(self.n_d + self.n_e), z])


@dataclass
class Estimate:
    """What an estimator knows after a correction.

    Attributes
    ----------
    x : numpy.ndarray
        States [state units].
    bias : numpy.ndarray
        Measurement biases, in the problem's ``bias_names`` order.
    used, innovation : dict
        Which readings were used, and their innovations.
    u_offset : numpy.ndarray, optional
        Estimated offset of every model input (model input order; zero where
        no input disturbance is estimated): the model sees ``u + u_offset``
        [input units]. ``None``: no input disturbances.
    p : numpy.ndarray, optional
        The parameters with the estimated ones (parameter disturbances)
        [parameter units]. ``None``: no parameter disturbances (the
        parameters in force).
    disturbance : dict
        Each disturbance of the specification by name: the input offset, or
        the parameter's estimated value (for the log).
    """

    x: np.ndarray
    bias: np.ndarray
    used: dict[str, bool]
    innovation: dict[str, float]
    u_offset: np.ndarray | None = None
    p: np.ndarray | None = None
    disturbance: dict[str, float] = field(default_factory=dict)


def usable(spec_meas, reading: Reading | None) -> bool:
    """Whether a reading may be used by the estimator."""
    if reading is None or not reading.fresh or not np.isfinite(reading.value):
        return False
    if reading.quality is Quality.GOOD:
        return True
    return reading.quality is Quality.UNCERTAIN and spec_meas.accept_uncertain


class EKF:
    """Extended Kalman filter on the augmented model."""

    def __init__(self, problem: ControlProblem, x0: np.ndarray, u: np.ndarray, w: np.ndarray,
                 p: np.ndarray):
        self.model = AugmentedModel(problem, rk4_substeps(problem, x0, u, w, p))
        self.problem = problem
        self.xi = self.model.initial(np.asarray(x0, float), u, w, p)
        self.P = self.model.P0.copy()
        self.u, self.w, self.p = np.asarray(u, float), np.asarray(w, float), np.asarray(p, float)

    def correct(self, readings: Mapping[str, Reading]) -> Estimate:
        """Measurement update with the usable readings."""
        am, spec = self.model, self.problem.spec
        used = {m.name: usable(m, readings.get(m.name)) for m in spec.measurements}
        idx = [j for j, m in enumerate(spec.measurements) if used[m.name]]
        innovation: dict[str, float] = {}
        if idx:
            args = (self.xi, self.u, self.w, self.p)
            y_hat = np.array(am.h(*args)).ravel()[idx]
            H = np.array(am.H(*args))[idx]
            y = np.array([readings[spec.measurements[j].name].value for j in idx])
            R = am.R[np.ix_(idx, idx)]
            S = H @ self.P @ H.T + R
            K = np.linalg.solve(S.T, (self.P @ H.T).T).T
            e = y - y_hat
            self.xi = self.xi + K @ e
            I_KH = np.eye(am.n) - K @ H
            self.P = I_KH @ self.P @ I_KH.T + K @ R @ K.T
            innovation = {spec.measurements[j].name: float(v) for j, v in zip(idx, e)}
        return self.estimate(used, innovation)

    def check_detectable(self, x, u, w, p):
        """The disturbance model's detectability at ``(x, u, w, p)`` (see
        :meth:`AugmentedModel.check_detectable`)."""
        return self.model.check_detectable(x, u, w, p)

    def predict(self, u: np.ndarray, w: np.ndarray, p: np.ndarray) -> None:
        """Time update over one interval with the inputs in force."""
        am = self.model
        self.u, self.w, self.p = np.asarray(u, float), np.asarray(w, float), np.asarray(p, float)
        A = np.array(am.A(self.xi, self.u, self.w, self.p))
        self.xi = np.array(am.F(self.xi, self.u, self.w, self.p)).ravel()
        self.P = A @ self.P @ A.T + am.Q

    def estimate(self, used=None, innovation=None) -> Estimate:
        return self.model.split(self.xi, self.p, used, innovation)


class MHE:
    """Moving-horizon estimator: least squares over a window, arrival cost from an EKF.

    Multiple shooting in scaled variables: states ``xi_k = s * z_k`` (``s``
    the typical magnitudes) and standardised process noises ``eta_k`` with
    ``xi_{k+1} = F(xi_k) + L_Q eta_k``; the cost is the arrival cost of the
    window's first state, ``sum |eta_k|^2`` and the weighted residuals of
    the readings used, each predicted with the inputs in force when it was
    taken (as the EKF does: a reading the MVs reach directly sees the MVs of
    the interval before it). Well scaled even where some noises are tiny.
    When a solve fails or its time budget passes, the estimate is the
    EKF's; :attr:`failure` says why and :attr:`n_failures` counts them.
    """

    def __init__(self, problem: ControlProblem, x0, u, w, p):
        self.problem = problem
        self.ekf = EKF(problem, x0, u, w, p)
        am = self.model = self.ekf.model
        spec = problem.spec
        self.N = N = max(1, spec.estimator.horizon)
        n, ny = am.n, len(spec.measurements)
        scale = np.sqrt(np.diag(am.P0))
        scale = np.where(scale > 0, scale, 1.0)
        mag = np.concatenate([[_magnitude(v.nominal) for v in problem.model.states],
                              scale[am.n_x:] * 10])
        self.s = mag
        Z = ca.SX.sym("Z", n, N + 1)
        E = ca.SX.sym("E", n, N)
        # inputs: column 0 in force at the window's first reading, column k + 1 over interval k
        U = ca.SX.sym("U", problem.n_u, N + 1)
        W = ca.SX.sym("W", problem.n_w, N + 1)
        pp = ca.SX.sym("p", problem.model.n_p)
        Y = ca.SX.sym("Y", ny, N + 1)
        M = ca.SX.sym("M", ny, N + 1)  # 1 where a reading is used
        prior = ca.SX.sym("prior", n)
        P_inv_sqrt = ca.SX.sym("Pis", n, n)
        L_Q = np.sqrt(np.diag(am.Q))
        r_inv = 1.0 / np.sqrt(np.diag(am.R))
        e0 = ca.mtimes(P_inv_sqrt, mag * Z[:, 0] - prior)
        cost = ca.dot(e0, e0) + ca.sumsqr(E)
        gaps = []
        for k in range(N + 1):
            xi = mag * Z[:, k]
            if k < N:
                gaps.append(Z[:, k + 1] - (am.F(xi, U[:, k + 1], W[:, k + 1], pp)
                                           + L_Q * E[:, k]) / mag)
            if ny:
                v = (Y[:, k] - am.h(xi, U[:, k], W[:, k], pp)) * r_inv * M[:, k]
                cost += ca.dot(v, v)
        nlp = {"x": ca.vertcat(ca.vec(Z), ca.vec(E)), "f": cost, "g": ca.vertcat(*gaps),
               "p": ca.vertcat(ca.vec(U), ca.vec(W), pp, ca.vec(Y), ca.vec(M), prior,
                               ca.vec(P_inv_sqrt))}
        self.solver = ca.nlpsol("mhe", "ipopt", nlp, {
            "ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False, "expand": True,
            "ipopt.tol": 1e-8, "ipopt.max_iter": 100})
        lo = np.concatenate([problem.model.states.lower(), np.full(n - am.n_x, -np.inf)]) / mag
        hi = np.concatenate([problem.model.states.upper(), np.full(n - am.n_x, np.inf)]) / mag
        self.lbx = np.concatenate([np.tile(lo, N + 1), np.full(n * N, -np.inf)])
        self.ubx = np.concatenate([np.tile(hi, N + 1), np.full(n * N, np.inf)])
        self.history: list[tuple[np.ndarray, np.ndarray]] = []  # (readings, mask) per correction
        self.priors: list[tuple[np.ndarray, np.ndarray]] = []  # EKF (xi, P) before each correction
        # (u, w) in force at the first correction, then per interval
        self.inputs = [(np.asarray(u, float), np.asarray(w, float))]
        self.xi = self.ekf.xi.copy()
        self._guess = None
        self.n_failures = 0
        self.failure = ""
        """Why the last solve failed (the estimate is then the EKF's); empty after a success."""
        self.runner = InProcess()

    def correct(self, readings: Mapping[str, Reading]) -> Estimate:
        spec = self.problem.spec
        am, N, n = self.model, self.N, self.model.n
        self.priors.append((self.ekf.xi.copy(), self.ekf.P.copy()))
        est = self.ekf.correct(readings)
        used = est.used
        y = np.array([readings[m.name].value if used[m.name] else 0.0 for m in spec.measurements])
        mask = np.array([1.0 if used[m.name] else 0.0 for m in spec.measurements])
        self.history.append((y, mask))
        self.failure = ""
        if len(self.history) <= N:
            self.xi = self.ekf.xi.copy()
            return est
        self.history = self.history[-(N + 1):]
        self.priors = self.priors[-(N + 1):]
        inputs = self.inputs[-(N + 1):]
        prior, P = self.priors[0]
        Y = np.column_stack([h[0] for h in self.history])
        Mk = np.column_stack([h[1] for h in self.history])
        U = np.column_stack([i[0] for i in inputs]) if self.problem.n_u else np.zeros((0, N + 1))
        W = np.column_stack([i[1] for i in inputs]) if self.problem.n_w else np.zeros((0, N + 1))
        L = np.linalg.cholesky(np.linalg.inv(P + 1e-14 * np.eye(n)))
        params = np.concatenate([U.ravel(order="F"), W.ravel(order="F"), self.ekf.p,
                                 Y.ravel(order="F"), Mk.ravel(order="F"), prior,
                                 L.T.ravel(order="F")])
        if self._guess is None:
            self._guess = np.concatenate([np.tile(self.ekf.xi / self.s, N + 1), np.zeros(n * N)])
        try:
            r, stats = self.runner(self.solver, x0=np.clip(self._guess, self.lbx, self.ubx),
                                   p=params, lbx=self.lbx, ubx=self.ubx, lbg=0.0, ubg=0.0)
        except SolveTimeout:
            r, stats = None, {"success": False, "return_status": "time budget exceeded"}
        except RuntimeError as exc:  # evaluation errors inside the solver
            lines = str(exc).strip().splitlines() or ["RuntimeError"]
            r, stats = None, {"success": False, "return_status": lines[-1][:120]}
        self.failure = "" if stats["success"] else str(stats.get("return_status", "failed"))
        if stats["success"]:
            z = np.array(r["x"]).ravel()
            traj = z[: n * (N + 1)].reshape(n, N + 1, order="F")
            self.xi = traj[:, -1] * self.s
            shifted = np.concatenate([traj[:, 1:], traj[:, -1:]], axis=1)
            noise = z[n * (N + 1):].reshape(n, N, order="F")
            self._guess = np.concatenate([shifted.ravel(order="F"),
                                          np.concatenate([noise[:, 1:], np.zeros((n, 1))],
                                                         axis=1).ravel(order="F")])
        else:
            self.n_failures += 1
            self.xi = self.ekf.xi.copy()
            self._guess = None
        return am.split(self.xi, self.ekf.p, used, est.innovation)

    def check_detectable(self, x, u, w, p):
        """The disturbance model's detectability (the EKF's augmented model)."""
        return self.model.check_detectable(x, u, w, p)

    def predict(self, u, w, p) -> None:
        self.inputs.append((np.asarray(u, float), np.asarray(w, float)))
        del self.inputs[: max(0, len(self.inputs) - self.N - 1)]
        self.ekf.predict(u, w, p)

    def estimate(self, used=None, innovation=None) -> Estimate:
        return self.model.split(self.xi, self.ekf.p, used, innovation)


class StateFeedback:
    """The plant state is measured: the 'estimate' is the state itself (no biases)."""

    def __init__(self, problem: ControlProblem, x0, u, w, p):
        self.problem = problem
        self.x = np.asarray(x0, float)

    def set_state(self, x: np.ndarray) -> None:
        self.x = np.asarray(x, float)

    def correct(self, readings: Mapping[str, Reading]) -> Estimate:
        return Estimate(self.x.copy(), np.zeros(0), {}, {})

    def predict(self, u, w, p) -> None:
        pass

    def estimate(self, used=None, innovation=None) -> Estimate:
        return Estimate(self.x.copy(), np.zeros(0), {}, {})


def make_estimator(problem: ControlProblem, x0, u, w, p):
    """The estimator of the specification."""
    kind = problem.spec.estimator.kind
    cls = {"ekf": EKF, "mhe": MHE, "state_feedback": StateFeedback}[kind]
    return cls(problem, x0, u, w, p)
