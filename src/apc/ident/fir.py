"""Finite impulse response models by regularised least squares (TC kernel).

Each CV is modelled from all MVs (and DVs) at once, a multi-input FIR::

    y[k] = y0 + sum_j sum_{i=1..n} g_j[i] (u_j[k-i] - u0_j) + e[k]

with ``n`` taps per input. A plain least-squares FIR of a few hundred
taps is noisy; the coefficients are therefore estimated with a Bayesian
prior that makes the impulse response smooth and decaying, the *tuned
and correlated* (TC) kernel ``P[i, l] = c_j lambda^max(i, l)`` of Chen,
Ohlsson and Ljung (2012). ``c_j``, ``lambda`` and the noise variance
are chosen by maximising the marginal likelihood of the data (empirical
Bayes), so no tuning is asked of the user. The posterior covariance of
the coefficients gives the uncertainty of step responses and gains.

Written here rather than taken from a library: sippy-unipi's FIR is plain
least squares (no regularisation, no covariance) and nfoursid has none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from scipy import linalg, optimize
from threadpoolctl import threadpool_limits

from twin.core.errors import InputError

LOG = logging.getLogger(__name__)


MAX_COEFFICIENTS = 100
"""Most free coefficients per input: longer responses share a coefficient
between ``block`` neighbouring lags (a piecewise-constant impulse response,
a piecewise-linear step response), which keeps the fit fast on fine
sampling without losing the slow part of the response."""


@dataclass(frozen=True)
class FirModel:
    """Multi-input FIR models of several CVs, with coefficient covariance.

    Attributes
    ----------
    coefficients : numpy.ndarray
        Free coefficients, shape (p, m, q): impulse-response value of CV
        ``i`` to input ``j`` on the lags of block ``q`` [CV unit / input unit].
    covariance : numpy.ndarray
        Posterior covariance of each CV's coefficients, shape (p, m q, m q),
        ordered input-major like ``coefficients[i].ravel()``.
    block : int
        Lags per coefficient (1: one coefficient per lag).
    dt : float
        Sample time [s].
    u0, y0 : numpy.ndarray
        Operating point: input means and fitted output offsets.
    noise_std : numpy.ndarray
        Estimated standard deviation of the output noise per CV [CV unit].
    """

    coefficients: np.ndarray
    covariance: np.ndarray
    block: int
    dt: float
    u0: np.ndarray
    y0: np.ndarray
    noise_std: np.ndarray

    @property
    def taps(self) -> int:
        """Length of the impulse response [samples]."""
        return int(self.coefficients.shape[2] * self.block)

    @property
    def impulse(self) -> np.ndarray:
        """Impulse response, shape (p, m, taps) [CV unit / input unit]."""
        return np.repeat(self.coefficients, self.block, axis=2)

    def _cumulative(self) -> np.ndarray:
        """Step response at each lag as a linear map of one input's coefficients, (taps, q)."""
        q = self.coefficients.shape[2]
        lag = np.arange(1, self.taps + 1)[:, None]
        return np.clip(lag - self.block * np.arange(q)[None, :], 0, self.block).astype(float)

    def step_responses(self) -> np.ndarray:
        """Unit step responses, shape (p, m, taps) [CV unit / input unit]."""
        return np.cumsum(self.impulse, axis=2)

    def step_std(self) -> np.ndarray:
        """Standard deviation of each step-response value, shape (p, m, taps)."""
        p, m, q = self.coefficients.shape
        summing = self._cumulative()
        out = np.empty((p, m, self.taps))
        for i in range(p):
            for j in range(m):
                block = self.covariance[i, j * q:(j + 1) * q, j * q:(j + 1) * q]
                out[i, j] = np.sqrt(np.maximum(np.einsum("ab,bc,ac->a", summing, block, summing), 0))
        return out

    def gains(self) -> np.ndarray:
        """Steady-state gains (sum of the impulse response), shape (p, m)."""
        return self.coefficients.sum(axis=2) * self.block

    def gain_covariance(self) -> np.ndarray:
        """Covariance of the gains, shape (p m, p m), row-major like ``gains().ravel()``."""
        p, m, q = self.coefficients.shape
        summing = self.block * np.kron(np.eye(m), np.ones((1, q)))
        cov = np.zeros((p * m, p * m))
        for i in range(p):
            cov[i * m:(i + 1) * m, i * m:(i + 1) * m] = summing @ self.covariance[i] @ summing.T
        return cov

    def settling_times(self, fraction: float = 0.95) -> np.ndarray:
        """Time for each step response to stay within ``1 - fraction`` of its gain [s], (p, m)."""
        steps = self.step_responses()
        gain = steps[:, :, -1:]
        outside = np.abs(steps - gain) > (1 - fraction) * np.abs(gain)
        last = np.where(outside.any(axis=2), self.taps - np.argmax(outside[:, :, ::-1], axis=2), 0)
        return (last + 1) * self.dt

    def unsettled(self, tail: float = 0.25, sigmas: float = 2.0, share: float = 0.05) -> np.ndarray:
        """Per pair (p, m): is the step response still moving over the last ``tail`` of its length?

        Moving: the change over the tail exceeds ``sigmas`` standard
        deviations of that change and ``share`` of the final value; the
        gain is then not the steady-state gain of the plant.
        """
        p, m, q = self.coefficients.shape
        steps = self.step_responses()
        start = max(int(round((1 - tail) * self.taps)) - 1, 0)
        summing = self._cumulative()
        change_map = summing[-1] - summing[start]
        out = np.zeros((p, m), dtype=bool)
        for i in range(p):
            for j in range(m):
                block = self.covariance[i, j * q:(j + 1) * q, j * q:(j + 1) * q]
                std = float(np.sqrt(max(change_map @ block @ change_map, 0.0)))
                change = abs(steps[i, j, -1] - steps[i, j, start])
                out[i, j] = change > sigmas * std and change > share * abs(steps[i, j, -1])
        return out

    def simulate(self, u: np.ndarray, u_before: np.ndarray | None = None) -> np.ndarray:
        """Outputs for inputs ``u`` (samples, m), inputs before the start held at ``u_before``."""
        u = np.asarray(u, dtype=float)
        start = self.u0 if u_before is None else np.asarray(u_before, dtype=float)
        du = np.vstack([np.repeat((start - self.u0)[None, :], self.taps, axis=0), u - self.u0])
        impulse = self.impulse
        p, m, _ = impulse.shape
        y = np.tile(self.y0, (u.shape[0], 1))
        for j in range(m):
            for i in range(p):
                full = np.convolve(du[:, j], np.concatenate([[0.0], impulse[i, j]]))
                y[:, i] += full[self.taps:self.taps + u.shape[0]]
        return y


def regressors(du: np.ndarray, taps: int, block: int = 1) -> np.ndarray:
    """Block sums of lagged inputs for samples k = taps .. N-1: shape (N - taps, m taps/block).

    Column ``(j, b)`` is ``sum(du[k - l, j] for l in block b's lags)``,
    lags ``b*block + 1 .. (b+1)*block``.
    """
    count, m = du.shape
    rows = count - taps
    if rows <= 0:
        return np.empty((0, m * (taps // block)))
    total = np.vstack([np.zeros((1, m)), np.cumsum(du, axis=0)])
    k = np.arange(taps, count)
    columns = []
    for j in range(m):
        for b in range(taps // block):
            first, last = b * block + 1, (b + 1) * block
            columns.append(total[k - first + 1, j] - total[k - last, j])
    return np.column_stack(columns)


def fit_fir(u: np.ndarray, y: np.ndarray, dt: float, taps: int) -> FirModel:
    """FIR models of every column of ``y`` from all columns of ``u``.

    Parameters
    ----------
    u, y : numpy.ndarray
        Inputs (samples, m) and outputs (samples, p) on one regular grid,
        no NaN; ``u[k]`` is held from sample ``k`` to ``k+1``.
    dt : float
        Sample time [s].
    taps : int
        Length of the impulse response [samples]: cover the slowest
        settling time. Rounded up to a whole number of blocks.

    Raises
    ------
    InputError
        Too few samples for the taps, or an input that never moves.
    """
    u, y = np.atleast_2d(np.asarray(u, float)), np.atleast_2d(np.asarray(y, float))
    count, m = u.shape
    if taps < 2:
        raise InputError(f"FIR: {taps} taps is too few; give at least 2")
    block = -(-taps // MAX_COEFFICIENTS)
    q = -(-taps // block)
    taps = q * block
    if count < taps + 2 * m * q:
        raise InputError(f"FIR: {count} samples are too few for a response of {taps} samples on "
                         f"{m} inputs (need at least {taps + 2 * m * q}); give a shorter settling time")
    u0 = u.mean(axis=0)
    scale = u.std(axis=0)
    still = [j for j in range(m) if not scale[j] > 0]
    if still:
        raise InputError(f"FIR: input column(s) {still} never move; they cannot be identified")
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit(u, y, u0, scale, float(dt), taps, block, q)


def _fit(u, y, u0, scale, dt, taps, block, q) -> FirModel:
    """The estimate itself, single-threaded: the matrices are small, and
    threaded BLAS on a loaded machine is many times slower than one thread."""
    m = u.shape[1]
    phi = regressors((u - u0) / scale, taps, block)
    phi = np.column_stack([phi, np.ones(phi.shape[0])])
    gram, rows = phi.T @ phi, phi.shape[0]
    coefficients, covs, y0, noise = [], [], [], []
    unscale = np.concatenate([np.repeat(1 / scale, q), [1.0]])
    for i in range(y.shape[1]):
        mean = float(y[taps:, i].mean())
        target = y[taps:, i] - mean
        theta, cov, sigma2 = _tc_estimate(gram, phi.T @ target, target @ target, rows, m, q, block)
        theta, cov = theta * unscale, cov * np.outer(unscale, unscale)
        coefficients.append(theta[:-1].reshape(m, q))
        covs.append(cov[:-1, :-1])
        y0.append(mean + theta[-1])
        noise.append(np.sqrt(sigma2))
    return FirModel(np.array(coefficients), np.array(covs), block, dt, u0, np.array(y0),
                    np.array(noise))


def _tc_kernel(m: int, q: int, block: int, c: np.ndarray, lam: float) -> np.ndarray:
    """Block-diagonal TC prior covariance, with a broad prior on the offset (last).

    ``lam`` is the decay per sample; a coefficient shared by ``block``
    lags decays with ``lam ** block`` per coefficient.
    """
    lags = block * np.arange(1, q + 1)
    base = lam ** np.maximum.outer(lags, lags)
    blocks = [cj * base for cj in c] + [np.array([[1e6]])]
    return linalg.block_diag(*blocks)


def _tc_estimate(gram, cross, yy, rows, m, q, block):
    """Posterior mean and covariance and the noise variance, hyperparameters by marginal likelihood."""
    plain = linalg.lstsq(gram + 1e-9 * np.trace(gram) / gram.shape[0] * np.eye(gram.shape[0]), cross)[0]
    sigma2_start = max((yy - 2 * plain @ cross + plain @ gram @ plain) / max(rows - gram.shape[0], 1), 1e-12)
    c_start = max(float(np.mean(plain[:-1] ** 2)), 1e-12)

    def posterior(params):
        c = np.exp(params[:m])
        lam = 1 / (1 + np.exp(-params[m]))
        sigma2 = np.exp(params[m + 1])
        prior = _tc_kernel(m, q, block, c, lam)
        root = linalg.cholesky(prior + 1e-12 * np.eye(prior.shape[0]), lower=True)
        inner = root.T @ gram @ root + sigma2 * np.eye(root.shape[0])
        factor = linalg.cho_factor(inner, lower=True)
        projected = root.T @ cross
        solved = linalg.cho_solve(factor, projected)
        return root, factor, projected, solved, sigma2

    def cost(params):
        try:
            root, factor, projected, solved, sigma2 = posterior(params)
        except (linalg.LinAlgError, ValueError):
            return 1e300
        logdet = 2 * np.sum(np.log(np.diag(factor[0]))) - root.shape[0] * np.log(sigma2)
        fit = (yy - projected @ solved) / sigma2
        return 0.5 * (fit + logdet + rows * np.log(sigma2))

    start = np.concatenate([np.full(m, np.log(c_start)), [np.log(0.95 / 0.05)], [np.log(sigma2_start)]])
    result = optimize.minimize(cost, start, method="L-BFGS-B",
                               bounds=[(None, None)] * m + [(-3.0, 12.0), (None, None)],
                               options={"maxiter": 200})
    root, factor, _, solved, sigma2 = posterior(result.x)
    theta = root @ solved
    cov = sigma2 * root @ linalg.cho_solve(factor, root.T)
    LOG.debug("TC kernel: lambda %.5f, noise std %.3g, %d evaluations",
              1 / (1 + np.exp(-result.x[m])), np.sqrt(sigma2), result.nfev)
    return theta, cov, sigma2
