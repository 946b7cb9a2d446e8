"""Dynamic parameter estimation by multiple shooting (CasADi + IPOPT).

The time axis is cut at every sample: one shooting node (the state) per
sample, joined to the next by continuity constraints. Each interval is
integrated by a fixed-step Runge-Kutta scheme (RK4, ``substeps`` steps per
sample interval, by default as many as keep ``h * rho <= STEP_LIMIT`` for the
spectral radius ``rho`` of the Jacobian at the start) built once as a CasADi
function and mapped over all intervals, so IPOPT sees exact first and second
derivatives of a sparse problem. The estimated parameters ride along as
constant node states, so each constraint couples two neighbouring nodes. The objective is the weighted least-squares misfit of the samples
present (NaN samples do not enter): ``sum ((y - y_model) / sigma)^2``.

The noise ``sigma`` of each measured variable is given, or estimated: a
first fit weighted by a robust estimate from the data's differences, then
fits weighted by the residual standard deviation of the previous one, until
no noise level changes by more than 10 % (at most 4 more fits).
Parameters and states are scaled by their starting magnitudes, so
parameters like ``k0 = 1.3e12`` and ``beta = 1`` are solved alike.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import casadi as ca
import numpy as np

from twin.core.calibration.dataset import CalibrationData
from twin.core.calibration.statistics import Statistics, statistics
from twin.core.errors import InputError, TwinError
from twin.core.model import Model
from twin.core.symbolic import casadi_form, spectral_radius

log = logging.getLogger(__name__)

MAX_REWEIGHTS = 4
"""Fits with the noise re-estimated from the previous fit's residuals, at most [-]."""

REWEIGHT_TOLERANCE = 0.1
"""Relative change of every estimated noise level below which re-weighting stops [-]."""

STEP_LIMIT = 0.5
"""Largest RK4 step times the spectral radius of the model's Jacobian [-] (RK4 is stable to 2.8)."""


def default_substeps(model: Model, x: np.ndarray, u: np.ndarray, dt: float) -> int:
    """RK4 steps per interval ``dt`` [model time unit] so that ``h * rho <= STEP_LIMIT``."""
    rho = spectral_radius(model, x, u, model.p0())
    if not math.isfinite(rho):
        return 8
    return int(min(1000, max(1, math.ceil(dt * rho / STEP_LIMIT))))


IPOPT_OPTIONS = {
    "print_time": False, "show_eval_warnings": False,
    "ipopt.print_level": 0, "ipopt.sb": "yes", "ipopt.tol": 1e-8, "ipopt.acceptable_tol": 1e-6,
    "ipopt.max_iter": 500,
    # the passes after the first start from the previous solution and its multipliers
    "ipopt.warm_start_init_point": "yes", "ipopt.mu_init": 1e-4,
}
"""Options of the calibration NLP (quiet; IPOPT's trial points with NaN are its own business)."""


class CalibrationFailed(TwinError, RuntimeError):
    """The estimation ran but IPOPT did not converge (the command exits with 1)."""

    exit_code = 1


@dataclass(frozen=True)
class Calibration:
    """Result of :func:`calibrate`.

    Attributes
    ----------
    model : Model
        The model with the estimated parameter values.
    estimated : tuple of str
        Estimated parameters, then free initial states (``x0.NAME``).
    values : ndarray
        Their estimates [declared units].
    initial : ndarray
        Their starting values [declared units].
    stats : Statistics
        Covariance, 95 % intervals, correlations, identifiability warnings.
    sigma : dict
        Noise standard deviation of each measured variable [its unit] and
        whether it was ``"given"`` or ``"estimated"`` (``sigma_source``).
    x0 : ndarray
        Initial state of the fit [declared units].
    predicted : ndarray
        ``(N, n_m)`` model prediction at the samples with the estimates.
    data : CalibrationData
        The data fitted.
    iterations : int
        IPOPT iterations, all passes.
    substeps : int
        RK4 steps per sample interval used.
    seconds : float
        Wall time of the estimation [s].
    """

    model: Model
    estimated: tuple[str, ...]
    values: np.ndarray
    initial: np.ndarray
    stats: Statistics
    sigma: dict[str, float]
    sigma_source: str
    x0: np.ndarray
    predicted: np.ndarray
    data: CalibrationData
    iterations: int
    seconds: float
    substeps: int = 1
    integration_error: float = 0.0
    """Largest gap between the RK4 prediction and the adaptive integrator's, in noise std [-]."""

    @property
    def parameters(self) -> dict[str, float]:
        """Estimated parameter values by name [declared units] (initial states left out)."""
        return {n: float(v) for n, v in zip(self.estimated, self.values) if not n.startswith("x0.")}


def _scale(values: np.ndarray) -> np.ndarray:
    mag = np.abs(np.asarray(values, dtype=float))
    return np.where(mag > 1e-12, mag, 1.0)


def _rk4_step(model: Model, substeps: int) -> ca.Function:
    """``x1 = step(x0, u, p, dt)``: RK4 with ``substeps`` steps over ``dt`` [model time unit]."""
    form = casadi_form(model)
    x = ca.SX.sym("x", model.n_x)
    u = ca.SX.sym("u", model.n_u)
    p = ca.SX.sym("p", model.n_p)
    dt = ca.SX.sym("dt")
    h = dt / substeps
    xk = x
    for _ in range(substeps):
        k1 = form.f(xk, u, p)
        k2 = form.f(xk + h / 2 * k1, u, p)
        k3 = form.f(xk + h / 2 * k2, u, p)
        k4 = form.f(xk + h * k3, u, p)
        xk = xk + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return ca.Function("rk4", [x, u, p, dt], [xk])


def _measurement(model: Model, names: Sequence[str]) -> ca.Function:
    """``m(x, u, p)``: the measured states and outputs, in ``names`` order."""
    form = casadi_form(model)
    rows = []
    for name in names:
        if name in model.states:
            rows.append(form.x[model.states.index(name)])
        elif name in model.outputs:
            rows.append(form.y[model.outputs.index(name)])
        else:
            raise InputError(f"model '{model.name}': '{name}' is neither a state nor an output; "
                             f"measured variables are {', '.join(model.states.names + model.outputs.names)}")
    return ca.Function("meas", [form.x, form.u, form.p], [ca.vertcat(*rows)])


def noise_from_differences(y: np.ndarray) -> float:
    """Robust white-noise estimate of one series [its unit]: MAD of first differences / sqrt 2.

    Uses only consecutive finite samples; a smooth signal sampled fast
    differs from sample to sample mainly by its noise.
    """
    finite = y[np.isfinite(y)]
    if finite.size < 3:
        return float(np.nanstd(finite)) or 1.0
    d = np.diff(finite)
    mad = 1.4826 * np.median(np.abs(d - np.median(d)))
    sigma = mad / math.sqrt(2.0)
    if not sigma > 0:
        sigma = float(np.std(d)) / math.sqrt(2.0)
    return sigma if sigma > 0 else 1e-6 * max(1.0, float(np.max(np.abs(finite))))


class ShootingProblem:
    """The multiple-shooting NLP of one model, data set and choice of unknowns."""

    def __init__(self, model: Model, data: CalibrationData, ip: list[int], ix: list[int],
                 x0: np.ndarray, p_lb: np.ndarray, p_ub: np.ndarray, substeps: int):
        self.model, self.data, self.ip, self.ix = model, data, ip, ix
        n, nx = data.t.size, model.n_x
        self.p_nom = model.p0()
        self.ps = _scale(self.p_nom[ip])
        self.xs = _scale(np.where(np.isfinite(x0), x0, model.x0()))
        step = _rk4_step(model, substeps)
        meas = _measurement(model, data.names)
        self.step, self.meas = step, meas
        nth = len(ip)
        self.nz = nz = nx + nth
        # node variables z = [x / xs; theta]: the parameters ride along as constant states, so
        # every constraint couples two neighbouring nodes only (banded, cheap derivatives)
        z0, z1 = ca.SX.sym("z0", nz), ca.SX.sym("z1", nz)
        uk, dtk = ca.SX.sym("u", model.n_u), ca.SX.sym("dt")
        yk, wk = ca.SX.sym("y", len(data.names)), ca.SX.sym("w", len(data.names))
        pk = self._p(z0[nx:])
        xk = z0[:nx] * self.xs
        cont = ca.vertcat((step(xk, uk, pk, dtk) - z1[:nx] * self.xs) / self.xs, z0[nx:] - z1[nx:])
        link = ca.Function("link", [z0, z1, uk, dtk], [cont])
        err = yk - meas(xk, uk, pk)
        misfit = ca.Function("misfit", [z0, uk, yk, wk], [ca.dot(wk, err * err) / 2])
        Z = ca.MX.sym("Z", nz, n)
        Y = ca.MX.sym("Y", len(data.names), n)
        W = ca.MX.sym("W", len(data.names), n)
        U = data.u.T
        g = ca.vec(link.map(n - 1)(Z[:, :-1], Z[:, 1:], U[:, :-1], np.diff(data.t)[None, :]))
        f = ca.sum2(misfit.map(n)(Z, U, Y, W))
        self.solver = ca.nlpsol("calibration", "ipopt",
                                {"x": ca.vec(Z), "f": f, "g": g,
                                 "p": ca.vertcat(ca.vec(Y), ca.vec(W))},
                                IPOPT_OPTIONS)
        lo = np.concatenate([model.states.physical_lower() / self.xs, p_lb / self.ps])
        hi = np.concatenate([model.states.physical_upper() / self.xs, p_ub / self.ps])
        Zl = np.tile(lo[:, None], (1, n))
        Zu = np.tile(hi[:, None], (1, n))
        fixed = [i for i in range(nx) if i not in ix]
        Zl[fixed, 0] = Zu[fixed, 0] = x0[fixed] / self.xs[fixed]
        lbw, ubw = Zl.ravel(order="F"), Zu.ravel(order="F")
        self.lbw, self.ubw = lbw, ubw
        self._lam_x, self._lam_g = 0.0, 0.0
        self.iterations = 0

    def _p(self, theta: ca.SX) -> ca.SX:
        """The full parameter vector with the scaled unknowns ``theta`` in."""
        p = ca.SX(ca.DM(self.p_nom))
        for k, i in enumerate(self.ip):
            p[i] = theta[k] * self.ps[k]
        return p

    def trajectory(self, x0: np.ndarray, pvec: np.ndarray) -> np.ndarray:
        """``(N, n_x)`` single-shooting states from ``x0`` with parameters ``pvec``."""
        n = self.data.t.size
        acc = self.step.mapaccum(n - 1)
        xs = np.array(acc(x0, self.data.u[:-1].T, np.tile(pvec[:, None], n - 1),
                          np.diff(self.data.t)[None, :]))
        return np.hstack([x0[:, None], xs]).T

    def predict(self, X: np.ndarray, pvec: np.ndarray) -> np.ndarray:
        """``(N, n_m)`` measured variables of the states ``X``."""
        n = self.data.t.size
        return np.array(self.meas.map(n)(X.T, self.data.u.T, np.tile(pvec[:, None], n))).T

    def solve(self, w0: np.ndarray, sigma: np.ndarray) -> np.ndarray:
        """Solve with noise ``sigma`` per measured variable; the optimal NLP vector."""
        mask = np.isfinite(self.data.y)
        Y = np.where(mask, self.data.y, 0.0).T
        W = (mask / sigma[None, :] ** 2).T
        sol = self.solver(x0=w0, lbx=self.lbw, ubx=self.ubw, lbg=0.0, ubg=0.0,
                          lam_x0=self._lam_x, lam_g0=self._lam_g,
                          p=np.concatenate([Y.ravel(order="F"), W.ravel(order="F")]))
        self._lam_x, self._lam_g = sol["lam_x"], sol["lam_g"]
        stats = self.solver.stats()
        self.iterations += int(stats.get("iter_count", 0))
        if not stats.get("success", False):
            raise CalibrationFailed(f"calibration of model '{self.model.name}': IPOPT stopped "
                                    f"without a solution ({stats.get('return_status')}); "
                                    "check the data, the estimated names and their bounds")
        return np.array(sol["x"]).ravel()

    def split(self, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Parameter vector [declared units] and ``(N, n_x)`` node states of an NLP vector."""
        nx = self.model.n_x
        Z = w.reshape(-1, self.nz)
        pvec = self.p_nom.copy()
        pvec[self.ip] = Z[0, nx:] * self.ps
        return pvec, Z[:, :nx] * self.xs[None, :]

    def residual_jacobian(self, pvec: np.ndarray, x0: np.ndarray) -> np.ndarray:
        """Jacobian of the finite-sample predictions w.r.t. the unknowns [declared units]."""
        n = self.data.t.size
        th = ca.MX.sym("th", len(self.ip))
        z = ca.MX.sym("z", len(self.ix))
        p = ca.MX(ca.DM(pvec))
        for k, i in enumerate(self.ip):
            p[i] = th[k]
        x_start = ca.MX(ca.DM(x0))
        for k, i in enumerate(self.ix):
            x_start[i] = z[k]
        X = ca.horzcat(x_start, self.step.mapaccum(n - 1)(
            x_start, self.data.u[:-1].T, ca.repmat(p, 1, n - 1), np.diff(self.data.t)[None, :]))
        pred = ca.vec(self.meas.map(n)(X, self.data.u.T, ca.repmat(p, 1, n)))
        rows = np.flatnonzero(np.isfinite(self.data.y.T.ravel(order="F")))
        unknowns = ca.vertcat(th, z)
        jac = ca.Function("J", [th, z], [ca.jacobian(pred[rows.tolist()], unknowns)])
        return np.array(jac(pvec[self.ip], x0[self.ix]))


def calibrate(model: Model, data: CalibrationData, estimate: Sequence[str],
              x0_free: Sequence[str] = (), bounds: Mapping[str, tuple[float, float]] | None = None,
              sigma: Mapping[str, float] | None = None, x0: Mapping[str, float] | None = None,
              substeps: int | None = None) -> Calibration:
    """Estimate parameters ``estimate`` (and initial states ``x0_free``) of ``model`` from ``data``.

    Parameters
    ----------
    model : Model
        The model; its current parameter values are the starting guesses and
        the values of the parameters not estimated.
    data : CalibrationData
        Samples in the model's units and time unit.
    estimate : sequence of str
        Parameter names to estimate.
    x0_free : sequence of str
        States whose initial value is estimated too; the others start at
        ``x0`` (default: the first sample where measured, else the nominal).
    bounds : mapping, optional
        ``name -> (low, high)`` [declared unit], over the declared bounds.
    sigma : mapping, optional
        Noise standard deviation by measured name [its unit]; estimated
        from the data when not given (two passes, see the module docstring).
    x0 : mapping, optional
        Initial state values by name, over the default.
    substeps : int, optional
        RK4 steps per sample interval (default: :func:`default_substeps`).

    Raises
    ------
    InputError
        Unknown or repeated names, bounds that exclude the starting value.
    CalibrationFailed
        IPOPT did not converge.
    """
    started = time.perf_counter()
    where = f"calibration of model '{model.name}'"
    estimate, x0_free = list(estimate), list(x0_free)
    if not estimate and not x0_free:
        raise InputError(f"{where}: nothing to estimate (give parameter names)")
    if len(set(estimate)) != len(estimate) or len(set(x0_free)) != len(x0_free):
        raise InputError(f"{where}: a name is given twice in the names to estimate")
    if substeps is not None and not (isinstance(substeps, int) and 1 <= substeps <= 1000):
        raise InputError(f"{where}: substeps must be an integer in 1..1000, got {substeps!r}")
    ip = [model.parameters.index(n) for n in estimate]
    ix = [model.states.index(n) for n in x0_free]
    if data.u.shape[1] != model.n_u:
        raise InputError(f"{where}: the data give {data.u.shape[1]} inputs, the model has {model.n_u}")
    p_lb = model.parameters.lower()[ip].astype(float)
    p_ub = model.parameters.upper()[ip].astype(float)
    for name, (low, high) in (bounds or {}).items():
        if name not in estimate:
            raise InputError(f"{where}: bounds given for '{name}', which is not estimated")
        k = estimate.index(name)
        p_lb[k], p_ub[k] = float(low), float(high)
    start = model.p0()[ip]
    for k, name in enumerate(estimate):
        if not p_lb[k] <= start[k] <= p_ub[k]:
            raise InputError(f"{where}: the starting value {start[k]:g} of '{name}' is outside its "
                             f"bounds [{p_lb[k]:g}, {p_ub[k]:g}]")
    x_start = _initial_state(model, data, x0)
    low, high = model.states.physical_lower(), model.states.physical_upper()
    for i, name in enumerate(model.states.names):
        if i not in ix and not low[i] <= x_start[i] <= high[i]:
            raise InputError(f"{where}: the initial {name} = {x_start[i]:g} {model.states[name].unit} "
                             f"is outside its physical bounds [{low[i]:g}, {high[i]:g}]; "
                             f"free it with --x0-free {name} or give another start")
    sig_given = {} if sigma is None else dict(sigma)
    unknown = [n for n in sig_given if n not in data.names]
    if unknown:
        raise InputError(f"{where}: noise given for {unknown}, which are not measured "
                         f"(measured: {', '.join(data.names)})")
    if substeps is None:
        substeps = default_substeps(model, x_start, data.u[0], float(np.max(np.diff(data.t))))
    log.info("%s: %d RK4 steps per sample interval", where, substeps)
    pb = ShootingProblem(model, data, ip, ix, x_start, p_lb, p_ub, substeps)
    X0 = pb.trajectory(x_start, model.p0())
    X0 = _with_measured_states(model, data, X0)
    w = np.hstack([X0 / pb.xs[None, :], np.tile(start / pb.ps, (X0.shape[0], 1))]).ravel()
    sig = np.array([sig_given.get(n, noise_from_differences(data.y[:, j]))
                    for j, n in enumerate(data.names)])
    if any(not (s > 0 and math.isfinite(s)) for s in sig):
        raise InputError(f"{where}: noise standard deviations must be positive numbers")
    w = pb.solve(w, sig)
    source = "given"
    free = [j for j, n in enumerate(data.names) if n not in sig_given]
    for _ in range(MAX_REWEIGHTS if free else 0):
        pvec, S = pb.split(w)
        res = data.y - pb.predict(S, pvec)
        new = sig.copy()
        for j in free:
            r = res[:, j][np.isfinite(res[:, j])]
            new[j] = max(float(np.sqrt(np.mean(r * r))), 1e-12)
        change = float(np.max(np.abs(new[free] / sig[free] - 1.0)))
        sig = new
        w = pb.solve(w, sig)
        source = "estimated" if not sig_given else "given and estimated"
        if change < REWEIGHT_TOLERANCE:
            break
    pvec, S = pb.split(w)
    x_fit = S[0].copy()
    X = pb.trajectory(x_fit, pvec)
    predicted = pb.predict(X, pvec)
    residuals = (data.y - predicted) / sig[None, :]
    r = residuals.T.ravel(order="F")
    r = r[np.isfinite(r)]
    weights = np.repeat(1.0 / sig[None, :], data.t.size, axis=0).T.ravel(order="F")
    weights = weights[np.isfinite(data.y.T.ravel(order="F"))]
    J = pb.residual_jacobian(pvec, x_fit) * weights[:, None]
    names = tuple(estimate) + tuple(f"x0.{n}" for n in x0_free)
    values = np.concatenate([pvec[ip], x_fit[ix]])
    initial = np.concatenate([start, x_start[ix]])
    stats = statistics(names, values, J, r)
    fitted = model.with_parameters({n: float(pvec[i]) for n, i in zip(estimate, ip)})
    gap = integration_error(pb, fitted, x_fit, predicted, sig)
    seconds = time.perf_counter() - started
    log.info("%s: %s in %.2f s, %d IPOPT iterations", where,
             ", ".join(f"{n} = {v:.6g}" for n, v in zip(names, values)), seconds, pb.iterations)
    return Calibration(fitted, names, values, initial, stats,
                       {n: float(s) for n, s in zip(data.names, sig)}, source, x_fit, predicted,
                       data, pb.iterations, seconds, substeps, gap)


INTEGRATION_TOLERANCE = 0.1
"""RK4 prediction off the adaptive integrator's by more than this many noise std: warn [-]."""


def integration_error(pb: "ShootingProblem", model: Model, x0: np.ndarray, predicted: np.ndarray,
                      sigma: np.ndarray) -> float:
    """Largest ``|RK4 - adaptive| / sigma`` over the measured samples [-].

    The fitted trajectory is integrated again with the simulator's adaptive
    method (:func:`twin.core.simulation.make_integrator`), sample interval by
    sample interval, and both predictions compared.
    """
    from twin.core.errors import SimulationError
    from twin.core.simulation import make_integrator

    integrator = make_integrator(model)
    t, u = pb.data.t, pb.data.u
    X = np.empty((t.size, model.n_x))
    X[0] = x = x0
    try:
        for k in range(t.size - 1):
            X[k + 1] = x = integrator.advance(x, u[k], t[k + 1] - t[k], t[k])
    except SimulationError as exc:
        log.warning("integration check skipped: %s", exc)
        return math.nan
    gap = np.abs(pb.predict(X, model.p0()) - predicted) / sigma[None, :]
    return float(np.nanmax(np.where(np.isfinite(pb.data.y), gap, np.nan)))


def _initial_state(model: Model, data: CalibrationData,
                   given: Mapping[str, float] | None) -> np.ndarray:
    first = {n: float(data.y[0, j]) for j, n in enumerate(data.names)
             if n in model.states and math.isfinite(data.y[0, j])}
    return model.states.vector({**first, **(given or {})})


def _with_measured_states(model: Model, data: CalibrationData, X: np.ndarray) -> np.ndarray:
    """Starting node states: the simulation, with measured states' samples (interpolated) in."""
    X = X.copy()
    for j, name in enumerate(data.names):
        if name in model.states:
            y = data.y[:, j]
            ok = np.isfinite(y)
            if ok.sum() >= 2:
                X[:, model.states.index(name)] = np.interp(data.t, data.t[ok], y[ok])
    return X
