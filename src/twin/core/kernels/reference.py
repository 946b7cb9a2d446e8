"""Pure-Python reference of every compiled kernel, with the same signatures.

Each function here follows the C of ``twin_integrators.h`` line by line
(the BDF uses a dense LU from SciPy instead of the banded one), so parity
tests can run the same assertions on both. ``functions`` is anything with
``rhs(x, u, p)`` and ``jac(x, u, p)`` (dense) methods and a ``model``.
"""

from __future__ import annotations

import math
import sys

import numpy as np
import scipy.linalg

from twin.core.kernels.results import BatchResult, StepStats, check_method, raise_for_status

EPS = sys.float_info.epsilon
_DP_A = (
    (),
    (1.0 / 5.0,),
    (3.0 / 40.0, 9.0 / 40.0),
    (44.0 / 45.0, -56.0 / 15.0, 32.0 / 9.0),
    (19372.0 / 6561.0, -25360.0 / 2187.0, 64448.0 / 6561.0, -212.0 / 729.0),
    (9017.0 / 3168.0, -355.0 / 33.0, 46732.0 / 5247.0, 49.0 / 176.0, -5103.0 / 18656.0),
)
_DP_B = (35.0 / 384.0, 0.0, 500.0 / 1113.0, 125.0 / 192.0, -2187.0 / 6784.0, 11.0 / 84.0)
_DP_E = (71.0 / 57600.0, 0.0, -71.0 / 16695.0, 71.0 / 1920.0, -17253.0 / 339200.0,
         22.0 / 525.0, -1.0 / 40.0)
_KAPPA = (0.0, -0.1850, -1.0 / 9.0, -0.0823, -0.0415, 0.0)
MAX_ORDER = 5
NEWTON_MAXITER = 4


class _Counter:
    def __init__(self, h0: float = 0.0):
        self.steps = self.rejected = self.rhs_evals = self.jac_evals = self.lu_decomps = 0
        self.order = 0
        self.h = h0

    def stats(self) -> StepStats:
        return StepStats(self.steps, self.rejected, self.rhs_evals, self.jac_evals,
                         self.lu_decomps, self.order, self.h)


def _rms(v: np.ndarray, scale: np.ndarray) -> float:
    r = v / scale
    return math.sqrt(float(np.dot(r, r)) / r.size) if r.size else 0.0


def _eval(functions, x, u, p, c: _Counter):
    c.rhs_evals += 1
    f = functions.rhs(x, u, p)
    return f if np.all(np.isfinite(f)) else None


# -------------------------------------------------------------------- RK4

def rk4(functions, x0, u, p, h: float, n_steps: int) -> np.ndarray:
    """``n_steps`` classical RK4 steps of size ``h`` from ``x0``."""
    x, c = _rk4(functions, np.array(x0, dtype=float), np.asarray(u, float), np.asarray(p, float),
                h, n_steps, _Counter())
    raise_for_status(0 if np.all(np.isfinite(x)) else 3, functions.model.name)
    return x


def _rk4(functions, x, u, p, h, n_steps, c: _Counter):
    hh, h6 = 0.5 * h, h / 6.0
    rhs = functions.rhs
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite results are reported
        for _ in range(n_steps):
            x = _rk4_step(rhs, x, u, p, h, hh, h6)
    c.steps += n_steps
    c.rhs_evals += 4 * n_steps
    c.order = 4
    return x, c


def _rk4_step(rhs, x, u, p, h, hh, h6):
    k1 = rhs(x, u, p)
    k2 = rhs(x + hh * k1, u, p)
    k3 = rhs(x + hh * k2, u, p)
    k4 = rhs(x + h * k3, u, p)
    return x + h6 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)


# ---------------------------------------------------------- initial step

def _initial_step(functions, x, u, p, f0, T, order, rtol, atol, c: _Counter) -> float:
    scale = atol + np.abs(x) * rtol
    d0, d1 = _rms(x, scale), _rms(f0, scale)
    h0 = 1e-6 if (d0 < 1e-5 or d1 < 1e-5) else 0.01 * d0 / d1
    h0 = min(h0, T)
    f1 = _eval(functions, x + h0 * f0, u, p, c)
    if f1 is None:
        return h0
    d2 = _rms(f1 - f0, scale) / h0
    dmax = max(d1, d2)
    h1 = max(1e-6, h0 * 1e-3) if dmax <= 1e-15 else (0.01 / dmax) ** (1.0 / (order + 1))
    return min(100.0 * h0, h1, T)


# ----------------------------------------------------------------- DOPRI5

def dopri5(functions, x0, u, p, t_end: float, rtol: float = 1e-6, atol: float = 1e-9,
           h0: float = 0.0, max_steps: int = 100_000):
    """Adaptive Dormand-Prince 5(4) over ``[0, t_end]``; returns ``(x, StepStats)``."""
    c = _Counter(h0)
    status, x = _dopri5(functions, np.array(x0, dtype=float), np.asarray(u, float),
                        np.asarray(p, float), t_end, rtol, atol, max_steps, c)
    raise_for_status(status, functions.model.name)
    return x, c.stats()


def _dopri5(functions, x, u, p, T, rtol, atol, max_steps, c: _Counter):
    c.order = 5
    if not T > 0.0:
        return 0, x
    k = [None] * 7
    k[0] = _eval(functions, x, u, p, c)
    if k[0] is None:
        return 3, x
    h = c.h
    if not h > 0.0:
        h = _initial_step(functions, x, u, p, k[0], T, 5, rtol, atol, c)
    t, rejected_last, nonfinite, attempts = 0.0, False, False, 0
    while t < T:
        if attempts >= max_steps:
            c.h = h
            return 1, x
        attempts += 1
        if h < 16.0 * EPS * max(abs(t), T):
            c.h = h
            return (3 if nonfinite else 2), x
        hs, last = h, False
        if t + h >= T:
            hs, last = T - t, True
        bad = False
        for s in range(1, 6):
            acc = sum((a * k[j] for j, a in enumerate(_DP_A[s])), np.zeros_like(x))
            k[s] = _eval(functions, x + hs * acc, u, p, c)
            if k[s] is None:
                bad = True
                break
        if not bad:
            y_new = x + hs * sum((b * k[j] for j, b in enumerate(_DP_B) if b), np.zeros_like(x))
            k[6] = _eval(functions, y_new, u, p, c)
            bad = k[6] is None
        if bad:
            err = math.nan
        else:
            e = hs * sum((w * k[j] for j, w in enumerate(_DP_E) if w), np.zeros_like(x))
            err = _rms(e, atol + rtol * np.maximum(np.abs(x), np.abs(y_new)))
        if not math.isfinite(err):
            nonfinite, rejected_last = True, True
            c.rejected += 1
            h = 0.2 * hs
            continue
        if err <= 1.0:
            fac = 10.0 if err == 0.0 else 0.9 * err ** -0.2
            fac = max(0.2, min(1.0 if rejected_last else 10.0, fac))
            t = T if last else t + hs
            x = y_new
            k[0] = k[6]
            c.steps += 1
            rejected_last = False
            if not (last and hs < h):
                h = hs * fac
        else:
            h = hs * max(0.2, 0.9 * err ** -0.2)
            c.rejected += 1
            rejected_last = True
    c.h = h
    return 0, x


# -------------------------------------------------------------------- BDF

def _bdf_coefficients():
    gamma = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, MAX_ORDER + 1))])
    kappa = np.array(_KAPPA)
    alpha = (1.0 - kappa) * gamma
    error_const = kappa * gamma + 1.0 / np.arange(1, MAX_ORDER + 2)
    return gamma, alpha, error_const


def _R(order: int, factor: float) -> np.ndarray:
    s = order + 1
    M = np.zeros((s, s))
    i = np.arange(1, s)[:, None]
    j = np.arange(1, s)[None, :]
    M[1:, 1:] = (i - 1 - factor * j) / i
    M[0] = 1.0
    return np.cumprod(M, axis=0)


def _change_D(D: np.ndarray, order: int, factor: float) -> None:
    RU = _R(order, factor) @ _R(order, 1.0)
    D[: order + 1] = RU.T @ D[: order + 1]


def bdf(functions, x0, u, p, t_end: float, rtol: float = 1e-6, atol: float = 1e-9,
        h0: float = 0.0, max_steps: int = 100_000):
    """Adaptive variable-order BDF over ``[0, t_end]``; returns ``(x, StepStats)``."""
    c = _Counter(h0)
    status, x = _bdf(functions, np.array(x0, dtype=float), np.asarray(u, float),
                     np.asarray(p, float), t_end, rtol, atol, max_steps, c)
    raise_for_status(status, functions.model.name, method="bdf")
    return x, c.stats()


def _newton(functions, u, p, y_pred, c_h, psi, lu, scale, tol, c: _Counter):
    y = y_pred.copy()
    d = np.zeros_like(y)
    dy_norm_old = -1.0
    converged = False
    k = 0
    f = None
    for k in range(NEWTON_MAXITER):
        f = _eval(functions, y, u, p, c)
        if f is None:
            break
        dy = scipy.linalg.lu_solve(lu, c_h * f - psi - d)
        dy_norm = _rms(dy, scale)
        rate = -1.0 if dy_norm_old < 0.0 else dy_norm / dy_norm_old
        if rate >= 0.0 and (rate >= 1.0 or rate ** (NEWTON_MAXITER - k) / (1.0 - rate) * dy_norm > tol):
            break
        y = y + dy
        d = d + dy
        if dy_norm == 0.0 or (rate >= 0.0 and rate / (1.0 - rate) * dy_norm < tol):
            converged = True
            break
        dy_norm_old = dy_norm
    return converged, min(k + 1, NEWTON_MAXITER), y, d, f


def _bdf(functions, x, u, p, T, rtol, atol, max_steps, c: _Counter):
    n = x.size
    gamma, alpha, error_const = _bdf_coefficients()
    newton_tol = max(10.0 * EPS / rtol, min(0.03, math.sqrt(rtol)))
    c.order = 1
    if not T > 0.0:
        return 0, x
    f = _eval(functions, x, u, p, c)
    if f is None:
        return 3, x
    h = c.h
    if not h > 0.0:
        h = _initial_step(functions, x, u, p, f, T, 1, rtol, atol, c)
    h = min(h, T)
    D = np.zeros((MAX_ORDER + 3, n))
    D[0] = x
    D[1] = h * f
    order, n_equal, lu, current_jac, nonfinite = 1, 0, None, True, False
    c.jac_evals += 1
    J = functions.jac(x, u, p)
    if not np.all(np.isfinite(J)):
        return 3, x
    t, attempts = 0.0, 0
    eye = np.eye(n)
    while t < T:
        min_step = 10.0 * (math.nextafter(t, math.inf) - t)
        accepted, n_iter, error_norm, safety = False, 0, 0.0, 0.9
        while not accepted:
            if attempts >= max_steps:
                c.h, c.order = h, order
                return 1, x
            attempts += 1
            if h < min_step:
                c.h, c.order = h, order
                return (3 if nonfinite else 2), x
            t_new = t + h
            if t_new >= T:
                if t_new > T:
                    _change_D(D, order, (T - t) / h)
                    n_equal, lu = 0, None
                t_new = T
            h = t_new - t
            y_pred = D[: order + 1].sum(axis=0)
            scale = atol + rtol * np.abs(y_pred)
            psi = (gamma[1: order + 1] @ D[1: order + 1]) / alpha[order]
            c_h = h / alpha[order]
            converged = False
            while True:
                if lu is None:
                    c.lu_decomps += 1
                    lu = scipy.linalg.lu_factor(eye - c_h * J, check_finite=False)
                converged, n_iter, y_new, d, f = _newton(functions, u, p, y_pred, c_h, psi, lu,
                                                         scale, newton_tol, c)
                if converged or current_jac:
                    break
                c.jac_evals += 1
                J = functions.jac(y_pred, u, p)
                if not np.all(np.isfinite(J)):
                    nonfinite = True
                    break
                current_jac, lu = True, None
            if not converged:
                if f is None:
                    nonfinite = True
                h *= 0.5
                _change_D(D, order, 0.5)
                n_equal, lu = 0, None
                c.rejected += 1
                continue
            safety = 0.9 * (2 * NEWTON_MAXITER + 1) / (2 * NEWTON_MAXITER + n_iter)
            scale = atol + rtol * np.abs(y_new)
            error_norm = _rms(error_const[order] * d, scale)
            if not error_norm <= 1.0:
                factor = safety * error_norm ** (-1.0 / (order + 1))
                factor = factor if factor >= 0.2 else 0.2
                h *= factor
                _change_D(D, order, factor)
                n_equal = 0
                c.rejected += 1
            else:
                accepted = True
        c.steps += 1
        n_equal += 1
        t = T if t + h >= T else t + h
        x = y_new
        current_jac = False
        D[order + 2] = d - D[order + 1]
        D[order + 1] = d
        for i in range(order, -1, -1):
            D[i] += D[i + 1]
        if n_equal < order + 1:
            continue
        em = _rms(error_const[order - 1] * D[order], scale) if order > 1 else math.inf
        ep = _rms(error_const[order + 1] * D[order + 2], scale) if order < MAX_ORDER else math.inf
        factors = [math.inf if e == 0.0 else e ** (-1.0 / q)
                   for e, q in ((em, order), (error_norm, order + 1), (ep, order + 2))]
        delta, best = 0, factors[1]
        if factors[0] > best:
            delta, best = -1, factors[0]
        if factors[2] > best:
            delta, best = 1, factors[2]
        order += delta
        factor = min(10.0, safety * best)
        h *= factor
        _change_D(D, order, factor)
        n_equal, lu = 0, None
    c.h, c.order = h, order
    return 0, x


# ------------------------------------------------------------ all methods

def integrate(functions, method: str, x0, u, p, t_end: float, rtol: float = 1e-6,
              atol: float = 1e-9, n_sub: int = 1, max_steps: int = 100_000, h0: float = 0.0):
    """One instance over ``[0, t_end]`` by ``method``; returns ``(x, StepStats)``.

    RK4 takes ``n_sub`` equal steps; the adaptive methods start from ``h0``
    (0: automatic) and report the next step proposed in the stats.
    """
    check_method(method)
    status, x, c = _integrate(functions, method, np.array(x0, dtype=float), np.asarray(u, float),
                              np.asarray(p, float), t_end, rtol, atol, n_sub, max_steps, _Counter(h0))
    raise_for_status(status, functions.model.name, method=method)
    return x, c.stats()


def _integrate(functions, method, x, u, p, T, rtol, atol, n_sub, max_steps, c):
    if method == "rk4":
        x, c = _rk4(functions, x, u, p, T / n_sub, n_sub, c)
        return (0 if np.all(np.isfinite(x)) else 3), x, c
    if method == "dopri5":
        status, x = _dopri5(functions, x, u, p, T, rtol, atol, max_steps, c)
    else:
        status, x = _bdf(functions, x, u, p, T, rtol, atol, max_steps, c)
    return status, x, c


def integrate_batch(functions, method: str, X0, U, P, dt: float, rtol: float = 1e-6,
                    atol: float = 1e-9, n_sub: int = 1, max_steps: int = 100_000,
                    threads: int = 1, chunk: int = 0) -> BatchResult:
    """N instances over K intervals of ``dt`` (inputs ``U`` of shape (N, K, n_u)).

    ``threads`` and ``chunk`` are accepted for signature parity; the
    reference runs sequentially.
    """
    check_method(method)
    X0, U, P = (np.asarray(a, dtype=float) for a in (X0, U, P))
    N, K = U.shape[0], U.shape[1]
    out = np.empty((N, K + 1, X0.shape[1]))
    status = np.zeros(N, dtype=np.int32)
    stats = np.zeros((N, 6), dtype=np.int64)
    for i in range(N):
        c = _Counter()
        x = X0[i].copy()
        out[i, 0] = x
        for k in range(K):
            status[i], x, c = _integrate(functions, method, x.copy(), U[i, k], P[i], dt, rtol, atol,
                                         n_sub, max_steps, c)
            out[i, k + 1] = x
            if status[i]:
                out[i, k + 1:] = np.nan
                break
        stats[i] = (c.steps, c.rejected, c.rhs_evals, c.jac_evals, c.lu_decomps, c.order)
    return BatchResult(out, status, stats)


def checked_inputs(u, lower: np.ndarray, upper: np.ndarray, on_error) -> np.ndarray:
    """``u`` as a float vector, after the checks the compiled stepper makes in C."""
    u = np.asarray(u, dtype=float).ravel()
    if u.size != lower.size:
        on_error("length", u.size, 0.0)
    for j, v in enumerate(u):
        if not math.isfinite(v):
            on_error("nonfinite", j, v)
        if v < lower[j] or v > upper[j]:
            on_error("bounds", j, v)
    return u


class Stepper:
    """One instance, one control interval per :meth:`step` (Python reference)."""

    def __init__(self, functions, method, x0, p, dt, rtol, atol, n_sub, max_steps, lower, upper,
                 on_error):
        check_method(method)
        self.functions, self.method = functions, method
        self._x = np.array(x0, dtype=float)
        self._p = np.array(p, dtype=float)
        self._lower, self._upper = np.asarray(lower, float), np.asarray(upper, float)
        self.dt, self.rtol, self.atol = dt, rtol, atol
        self.n_sub, self.max_steps = n_sub, max_steps
        self.t, self.n_calls = 0.0, 0
        self._c = _Counter()
        self.on_error = on_error

    def step(self, u):
        """State after one interval ``dt`` with inputs ``u`` held constant."""
        u = checked_inputs(u, self._lower, self._upper, self.on_error)
        status, x, self._c = _integrate(self.functions, self.method, self._x.copy(), u, self._p,
                                        self.dt, self.rtol, self.atol, self.n_sub,
                                        self.max_steps, self._c)
        if status:
            self.on_error("integration", status, self.t)
        self._x = x
        self.t += self.dt
        self.n_calls += 1
        return self._x.copy()

    def reset(self, x0, t: float = 0.0) -> None:
        """Set the state (and time) without integrating."""
        self._x = np.array(x0, dtype=float)
        self.t = t
        self._c.h = 0.0

    def set_parameters(self, p) -> None:
        """Replace the parameter vector."""
        self._p = np.array(p, dtype=float)

    @property
    def state(self) -> np.ndarray:
        """A copy of the current state."""
        return self._x.copy()

    @property
    def stats(self) -> dict:
        """Counters since creation."""
        c = self._c
        return {"steps": c.steps, "rejected": c.rejected, "rhs_evals": c.rhs_evals,
                "jac_evals": c.jac_evals, "lu_decomps": c.lu_decomps, "order": c.order}
