"""Feedback of the linear MPC: a Kalman filter, or DMC's prediction vector.

Both plug into :class:`apc.controller.Controller` as its estimator
(``correct(readings) -> Estimate``, ``predict(u, w, p)``, ``estimate()``)
and both give the MPC the free response of the CVs over the horizon
(:meth:`free_response`): the CVs when every future MV stays at zero, so
that ``cv = f + G u`` (:mod:`apc.linear.qp`).

- :class:`KalmanPredictor` (``linear.form = "state_space"``): the linear
  model augmented with integrating disturbance states, an output bias on each
  measurement marked ``bias`` and an input disturbance per
  ``[[controller.disturbances]]`` of kind ``"input"`` (the plant sees
  ``u + d``); the steady-state Kalman gain comes from the discrete algebraic
  Riccati equation. A measurement is used as :func:`apc.estimation.usable`
  says (quality, freshness, as the EKF); when some are missing the gain is
  that of the Riccati covariance for the measurements at hand (computed
  once per pattern). Noise as :class:`apc.estimation.EKF`: ``process_noise``
  times each state's nominal magnitude, ``bias_noise`` times each
  measurement's ``noise_std``, the input disturbances' own ``noise``.
- :class:`StepResponsePredictor` (``linear.form = "step_response"``): DMC.
  The prediction vector holds the CVs over ``P`` intervals with the inputs
  held at their last values; each cycle it is shifted and the step-response
  coefficients times the applied moves (MVs and measured disturbances: the
  feedforward) are added; the output bias ``measured - predicted`` of each
  measured CV with ``bias`` is added to the whole prediction. Its
  :class:`~apc.estimation.Estimate` carries the open-loop state of the
  linear model (what the model alone predicts), not a filtered one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.linalg import solve_discrete_are

from apc.estimation import Estimate, StateFeedback, usable
from apc.linear.model import LinearModel, for_products
from apc.problem import ControlProblem
from twin.core.errors import InputError
from twin.core.quality import Reading


def _magnitude(v: float) -> float:
    return max(abs(v), 1e-3) if np.isfinite(v) else 1.0


def _stacked_free(lin: LinearModel, N: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CVs at stages 0..N with all MVs zero: ``Phi x0 + Psi w + c`` (no biases)."""
    n, ncv = lin.n_x, lin.Ccv.shape[0]
    phi = np.zeros(((N + 1) * ncv, n))
    psi = np.zeros(((N + 1) * ncv, lin.Bw.shape[1]))
    c = np.zeros((N + 1) * ncv)
    Ak = np.eye(n)
    Sw = np.zeros((n, lin.Bw.shape[1]))  # state from w over k intervals
    se = np.zeros(n)
    for k in range(N + 1):
        rows = slice(k * ncv, (k + 1) * ncv)
        phi[rows] = lin.Ccv @ Ak
        psi[rows] = lin.Ccv @ Sw + lin.Dcv_w
        c[rows] = lin.Ccv @ se + lin.c_cv
        Ak, Sw, se = lin.A @ Ak, lin.A @ Sw + lin.Bw, lin.A @ se + lin.e
    return phi, psi, c


def settle(lin: LinearModel, x, u, w, dx, dcv, ramp) -> np.ndarray:
    """CVs at the steady state reached from ``x`` with ``u``, ``w`` held (ramp CVs: rates).

    ``dx`` adds to the state update, ``dcv`` to the CVs (disturbances and biases).
    """
    drive = lin.Bu @ u + lin.Bw @ w + lin.e + dx
    if not lin.integrating():
        return lin.steady_cv_map @ drive + lin.Dcv_u @ u + lin.Dcv_w @ w + lin.c_cv + dcv
    x = np.asarray(x, float)
    for _ in range(lin.settling_intervals()):
        x = lin.A @ x + drive
    end = lin.cv_values(x, u, w) + dcv
    rate = (lin.cv_values(lin.A @ x + drive, u, w) + dcv - end) / lin.dt
    return np.where(ramp, rate, end)


def dynamic_matrix(S_u: np.ndarray, N: int) -> np.ndarray:
    """``G`` of :mod:`apc.linear.qp` from step responses ``S_u[k]`` (k = 0..N)."""
    ncv, nu = S_u.shape[1:]
    G = np.zeros(((N + 1) * ncv, N * nu))
    H = np.concatenate([S_u[:1], np.diff(S_u[:N + 1], axis=0)])  # impulse coefficients
    for k in range(N + 1):
        for j in range(min(k, N - 1) + 1):
            G[k * ncv:(k + 1) * ncv, j * nu:(j + 1) * nu] = H[k - j]
    # the terminal stage holds u_{N-1}: its feed-through adds to the last move's column
    G[N * ncv:, (N - 1) * nu:] += S_u[0]
    return G


class KalmanPredictor:
    """Steady-state Kalman filter on the linear model with disturbance states (module docstring)."""

    def __init__(self, problem: ControlProblem, lin: LinearModel, x0, u, w):
        self.problem = pb = problem
        self.lin = lin
        spec = pb.spec
        for m in spec.measurements:
            if m.dead_time:
                raise InputError(f"measurement '{m.name}': dead_time needs the nonlinear "
                                 "controller's estimator (type = 'nonlinear'); the linear "
                                 "controller takes analysers without dead time")
        n = lin.n_x
        self.names = [m.name for m in spec.measurements]
        # input disturbances: columns of the MV or other-input matrices they add to
        inputs = pb.model.inputs.names
        mv_pos = {inputs[i]: k for k, i in enumerate(pb.mv_index)}
        w_pos = {inputs[i]: k for k, i in enumerate(pb.other_index)}
        dist = [d for d in spec.disturbances if d.kind == "input"]
        self.n_d = nd = len(dist)
        Bd, Dd_m, Dd_cv = np.zeros((n, nd)), np.zeros((len(self.names), nd)), \
            np.zeros((pb.n_cv, nd))
        for k, d in enumerate(dist):
            if d.name in mv_pos:
                j = mv_pos[d.name]
                Bd[:, k], Dd_m[:, k], Dd_cv[:, k] = lin.Bu[:, j], lin.Dm_u[:, j], lin.Dcv_u[:, j]
            else:
                j = w_pos[d.name]
                Bd[:, k], Dd_m[:, k], Dd_cv[:, k] = lin.Bw[:, j], lin.Dm_w[:, j], lin.Dcv_w[:, j]
        self.Bd, self.Dd_cv = Bd, Dd_cv
        nb = pb.n_bias
        self.n_b = nb
        na = n + nd + nb
        Aa = np.eye(na)
        Aa[:n, :n] = lin.A
        Aa[:n, n:n + nd] = Bd
        Ca = np.zeros((len(self.names), na))
        Ca[:, :n] = lin.Cm
        Ca[:, n:n + nd] = Dd_m
        for b, name in enumerate(pb.bias_names):
            Ca[self.names.index(name), n + nd + b] = 1.0
        self.Aa, self.Ca = Aa, Ca
        est = spec.estimator
        x_mag = np.array([_magnitude(v.nominal) for v in pb.model.states])
        sig = np.array([m.noise_std if m.noise_std > 0 else 1e-3 * _magnitude(
            _nominal(pb, lin, m.name)) for m in spec.measurements])
        d_mag = np.array([sig[self.names.index(b)] for b in pb.bias_names])
        self.Q = np.diag(np.concatenate([(est.process_noise * x_mag) ** 2,
                                         [d.noise ** 2 for d in dist],
                                         (est.bias_noise * d_mag) ** 2]))
        self.R = np.diag(np.maximum(sig, 1e-9) ** 2)
        try:
            P = solve_discrete_are(Aa.T, Ca.T, self.Q, self.R)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise InputError("linear controller: the disturbance model is not detectable from "
                             "the measurements (no steady Kalman filter: "
                             f"{str(exc).splitlines()[0][:80]}); measure more, or take biases "
                             "or disturbances out") from None
        if not np.all(np.isfinite(P)):
            raise InputError("linear controller: the disturbance model is not detectable from "
                             "the measurements; measure more, or take biases or disturbances out")
        self.P = P
        self._gains: dict[bytes, np.ndarray] = {}
        self.xi = np.concatenate([np.asarray(x0, float), np.zeros(nd + nb)])
        self.u, self.w = np.asarray(u, float).copy(), np.asarray(w, float).copy()
        N = spec.prediction_horizon
        phi, psi, c = _stacked_free(lin, N)
        # the free response from (x, w, d, bias, 1): one matrix-vector product per cycle
        psi_d = np.zeros(((N + 1) * pb.n_cv, nd))
        Sd = np.zeros((n, nd))
        for k in range(N + 1):
            psi_d[k * pb.n_cv:(k + 1) * pb.n_cv] = lin.Ccv @ Sd + Dd_cv
            Sd = lin.A @ Sd + Bd
        bias_rows = np.tile(pb.cv_bias, (N + 1, 1))
        self._free = np.hstack([phi, psi, psi_d, bias_rows, c[:, None]])

    def _gain(self, idx: np.ndarray) -> np.ndarray:
        key = idx.tobytes()
        K = self._gains.get(key)
        if K is None:
            H = self.Ca[idx]
            S = H @ self.P @ H.T + self.R[np.ix_(idx, idx)]
            K = np.linalg.solve(S, H @ self.P).T
            self._gains[key] = K
        return K

    def correct(self, readings: Mapping[str, Reading]) -> Estimate:
        """Measurement update with the usable readings."""
        spec, lin = self.problem.spec, self.lin
        used = {m.name: usable(m, readings.get(m.name)) for m in spec.measurements}
        idx = np.array([j for j, m in enumerate(spec.measurements) if used[m.name]], dtype=int)
        innovation: dict[str, float] = {}
        if idx.size:
            y = np.array([readings[self.names[j]].value for j in idx])
            y_hat = self.Ca @ self.xi + lin.Dm_u @ self.u + lin.Dm_w @ self.w + lin.c_m
            e = y - y_hat[idx]
            self.xi = self.xi + self._gain(idx) @ e
            innovation = {self.names[j]: float(v) for j, v in zip(idx, e)}
        return self.estimate(used, innovation)

    def predict(self, u, w, p) -> None:
        """Time update over one interval with the inputs in force."""
        lin = self.lin
        self.u, self.w = np.asarray(u, float).copy(), np.asarray(w, float).copy()
        n = lin.n_x
        self.xi = self.Aa @ self.xi
        self.xi[:n] += lin.Bu @ self.u + lin.Bw @ self.w + lin.e

    def estimate(self, used=None, innovation=None) -> Estimate:
        n, nd = self.lin.n_x, self.n_d
        return Estimate(self.xi[:n].copy(), self.xi[n + nd:].copy(), used or {}, innovation or {})

    @property
    def input_disturbance(self) -> np.ndarray:
        """Estimated offsets of the disturbed inputs [input units]."""
        n = self.lin.n_x
        return self.xi[n:n + self.n_d]

    def free_response(self, x0, w, bias) -> np.ndarray:
        """CVs at stages 0..N with all MVs zero, biases and disturbances included."""
        z = np.concatenate([x0, w, self.input_disturbance, bias, [1.0]])
        return self._free @ z

    def steady_state(self, w, u=None) -> np.ndarray:
        """CVs where the prediction settles with the MVs held (ramp CVs: their rates)."""
        n, d = self.lin.n_x, self.input_disturbance
        pb = self.problem
        u = self.u if u is None else u
        return settle(self.lin, self.xi[:n], u, np.asarray(w, float), self.Bd @ d,
                      self.Dd_cv @ d + pb.cv_bias @ self.xi[n + self.n_d:], pb.cv_ramp)


class StateFeedbackPredictor(StateFeedback):
    """The plant state is measured (``estimator.kind = "state_feedback"``): no filter."""

    def __init__(self, problem: ControlProblem, lin: LinearModel, x0, u, w):
        super().__init__(problem, x0, u, w, None)
        self.lin = lin
        phi, psi, c = _stacked_free(lin, problem.spec.prediction_horizon)
        self._free = np.hstack([phi, psi, c[:, None]])

    @property
    def input_disturbance(self) -> np.ndarray:
        return np.zeros(0)

    def free_response(self, x0, w, bias) -> np.ndarray:
        """CVs at stages 0..N with all MVs zero."""
        return self._free @ np.concatenate([x0, w, [1.0]])

    def steady_state(self, w, u=None) -> np.ndarray:
        """CVs where the model settles from the plant state with the MVs ``u`` held."""
        n, pb = self.lin.n_x, self.problem
        u = self.lin.u_op if u is None else u
        return settle(self.lin, self.x, u, np.asarray(w, float), np.zeros(n),
                      np.zeros(pb.n_cv), pb.cv_ramp)


def _nominal(pb: ControlProblem, lin: LinearModel, name: str) -> float:
    model = pb.model
    if name in model.states:
        return model.states[name].nominal
    j = [m.name for m in pb.spec.measurements].index(name)
    return float(lin.Cm[j] @ lin.x_op + lin.Dm_u[j] @ lin.u_op + lin.Dm_w[j] @ lin.w_op
                 + lin.c_m[j])


class StepResponsePredictor:
    """DMC: prediction vector, shift and step-response update, output bias (module docstring)."""

    def __init__(self, problem: ControlProblem, lin: LinearModel, x0, u, w, length: int):
        self.problem = pb = problem
        self.lin = lin
        spec = pb.spec
        N = spec.prediction_horizon
        self.P = P = max(int(length), N + 1)
        self.S_u, self.S_w = lin.step_responses(P)
        self.ramp = pb.cv_ramp
        self.u, self.w = np.asarray(u, float).copy(), np.asarray(w, float).copy()
        self.x = np.asarray(x0, float).copy()  # open-loop model state
        # start from rest at the current point: the CVs of the model state, inputs held
        Y = np.empty((P, pb.n_cv))
        x = self.x.copy()
        for k in range(P):
            Y[k] = lin.cv_values(x, self.u, self.w)
            x = lin.next_state(x, self.u, self.w)
        self.Y = Y
        self.names = [m.name for m in spec.measurements]
        cv_names = [c.name for c in spec.cv]
        # measured CVs with a bias: (measurement index, CV index, bias index)
        self._biased = [(self.names.index(b), cv_names.index(b), k)
                        for k, b in enumerate(pb.bias_names) if b in cv_names]
        self.bias = np.zeros(pb.n_bias)
        # step responses as 2-D matrices (a stacked 3-D product runs batch by batch), sparse
        # where mostly zero: 0.8 ms a cycle against 0.1 ms on the 40 x 80 example
        self._S_k = for_products(self.S_u[:N + 1].reshape((N + 1) * pb.n_cv, -1))
        self._Sw_k = for_products(self.S_w[:N + 1].reshape((N + 1) * pb.n_cv, -1))
        self._S_u_next = for_products(self.S_u[1:].reshape(P * pb.n_cv, -1))
        self._S_w_next = for_products(self.S_w[1:].reshape(P * pb.n_cv, -1))
        self.N = N

    def correct(self, readings: Mapping[str, Reading]) -> Estimate:
        """Output bias ``measured - predicted`` for each usable measured CV with a bias."""
        spec = self.problem.spec
        used = {m.name: usable(m, readings.get(m.name)) for m in spec.measurements}
        innovation: dict[str, float] = {}
        for j, i, k in self._biased:
            name = self.names[j]
            if used[name]:
                value = readings[name].value - self.Y[0, i]
                innovation[name] = float(value - self.bias[k])
                self.bias[k] = value
        return self.estimate(used, innovation)

    def predict(self, u, w, p) -> None:
        """Shift the prediction vector and add the responses to the applied moves."""
        u, w = np.asarray(u, float), np.asarray(w, float)
        du, dw = u - self.u, w - self.w
        Y = self.Y
        last = Y[-1] + np.where(self.ramp, Y[-1] - Y[-2], 0.0) if self.P > 1 else Y[-1]
        Y[:-1] = Y[1:]
        Y[-1] = last
        Y += (self._S_u_next @ du).reshape(Y.shape)
        if dw.size:
            Y += (self._S_w_next @ dw).reshape(Y.shape)
        self.x = self.lin.next_state(self.x, u, w)
        self.u, self.w = u.copy(), w.copy()

    def estimate(self, used=None, innovation=None) -> Estimate:
        return Estimate(self.x.copy(), self.bias.copy(), used or {}, innovation or {})

    @property
    def input_disturbance(self) -> np.ndarray:
        return np.zeros(0)

    def free_response(self, x0, w, bias) -> np.ndarray:
        """CVs at stages 0..N with all MVs zero: the prediction vector (inputs held),
        minus the held MVs' responses, plus the measured-disturbance change since the
        last update (feedforward) and the biases."""
        pb, N = self.problem, self.N
        Y = self.Y[:N + 1] - (self._S_k @ self.u).reshape(N + 1, -1)
        dw = np.asarray(w, float) - self.w
        if dw.size:
            Y = Y + (self._Sw_k @ dw).reshape(N + 1, -1)
        Y = Y + pb.cv_bias @ bias
        return Y.ravel()

    def steady_state(self, w, u=None) -> np.ndarray:
        """CVs where the prediction settles with the MVs held at their last values
        (ramp CVs: their rates); ``u`` is not used (the prediction vector holds them)."""
        pb = self.problem
        Y = self.Y
        end = Y[-1] + (self.S_w[-1] @ (np.asarray(w, float) - self.w) if self.w.size else 0.0)
        rate = (Y[-1] - Y[-2]) / self.lin.dt if self.P > 1 else np.zeros_like(end)
        return np.where(self.ramp, rate, end + pb.cv_bias @ self.bias)
