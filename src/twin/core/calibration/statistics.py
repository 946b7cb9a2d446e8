"""Statistics of a least-squares estimate: covariance, 95 % intervals, identifiability.

Gauss-Newton (linearised) statistics at the optimum: with ``J`` the
Jacobian of the weighted residuals ``(y - y_model) / sigma`` with respect
to the unknowns, the Fisher information is ``F = J^T J`` and the covariance
``s^2 F^-1``, where ``s^2 = SSR / (n - n_p)`` is the residual variance
(about 1 when ``sigma`` is right). Intervals use Student's t with
``n - n_p`` degrees of freedom.

Identifiability is judged on the Fisher information normalised to unit
diagonal (scale-free): a condition number above :data:`CONDITION_LIMIT`
(or a singular matrix) names the parameters of its weakest direction, and
every pair with ``|correlation| > CORRELATION_LIMIT`` is named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

CORRELATION_LIMIT = 0.95
"""Pairs of estimates correlated beyond this [-] are reported."""

CONDITION_LIMIT = 1e6
"""Condition number of the normalised Fisher information beyond which it is near-singular [-]."""

WEAK_COMPONENT = 0.3
"""An unknown whose share of the weakest direction exceeds this [-] is named in the warning."""


@dataclass(frozen=True)
class Statistics:
    """Linearised statistics of an estimate (see the module docstring).

    Attributes
    ----------
    names : tuple of str
        The unknowns.
    covariance : ndarray
        Covariance of the estimates [unit_i * unit_j].
    std : ndarray
        Standard errors [unit of each]; ``inf`` where not identifiable.
    low, high : ndarray
        95 % confidence interval bounds [unit of each].
    correlation : ndarray
        Correlation matrix [-].
    condition : float
        Condition number of the normalised Fisher information [-] (``inf`` if singular).
    min_eigenvalue : float
        Smallest eigenvalue of the normalised Fisher information [-] (0 if singular;
        the eigenvalues sum to the number of unknowns).
    residual_variance : float
        ``SSR / (n - n_p)`` of the weighted residuals [-].
    dof : int
        Degrees of freedom ``n - n_p``.
    n : int
        Number of measurements in the fit.
    warnings : tuple of str
        One line per identifiability problem, naming the unknowns.
    not_identifiable : tuple of str
        Unknowns named by a warning.
    """

    names: tuple[str, ...]
    covariance: np.ndarray
    std: np.ndarray
    low: np.ndarray
    high: np.ndarray
    correlation: np.ndarray
    condition: float
    min_eigenvalue: float
    residual_variance: float
    dof: int
    n: int
    warnings: tuple[str, ...]
    not_identifiable: tuple[str, ...]


def statistics(names: tuple[str, ...], values: np.ndarray, J: np.ndarray,
               residuals: np.ndarray) -> Statistics:
    """Statistics of estimates ``values`` from weighted-residual Jacobian ``J`` and ``residuals``.

    ``J`` is ``(n, n_p)`` [1/unit of each unknown], ``residuals`` ``(n,)`` [-].
    """
    n, n_p = J.shape
    dof = max(n - n_p, 1)
    s2 = float(residuals @ residuals) / dof
    F = J.T @ J
    d = np.sqrt(np.diag(F))
    warnings: list[str] = []
    flagged: list[str] = []
    if np.any(d == 0):
        zero = [names[i] for i in np.flatnonzero(d == 0)]
        warnings.append(f"not identifiable: the data do not depend on {', '.join(zero)}")
        flagged += zero
        d = np.where(d == 0, 1.0, d)
    Fn = F / np.outer(d, d)
    eig, vec = np.linalg.eigh(Fn)
    condition = math.inf if eig[0] <= eig[-1] * 1e-15 else float(eig[-1] / eig[0])
    singular = condition > 1e12
    if singular:
        cov_n = np.linalg.pinv(Fn, rcond=1e-12, hermitian=True)
    else:
        cov_n = np.linalg.inv(Fn)
    cov = s2 * cov_n / np.outer(d, d)
    std = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    corr = cov_n / np.sqrt(np.outer(np.diag(cov_n), np.diag(cov_n)).clip(1e-300))
    if condition > CONDITION_LIMIT:
        weak = vec[:, 0]
        share = np.abs(weak) / np.abs(weak).max()
        named = [names[i] for i in np.flatnonzero(share > WEAK_COMPONENT)]
        warnings.append(f"not identifiable: near-singular Fisher information (condition number "
                        f"{condition:.3g}); the data fix no combination of {', '.join(named)}"
                        " on its own")
        flagged += named
    if singular:
        # the weakest direction's parameters are unbounded along it
        for i, name in enumerate(names):
            if abs(vec[i, 0]) / np.abs(vec[:, 0]).max() > WEAK_COMPONENT:
                std[i] = math.inf
        # the pseudo-inverse gives the correlation within the identifiable subspace; along the
        # null direction the parameters move together completely
        v = vec[:, 0]
        corr = np.where(np.outer(np.abs(v), np.abs(v)) > (WEAK_COMPONENT * np.abs(v).max()) ** 2,
                        np.sign(np.outer(v, v)), corr)
    np.fill_diagonal(corr, 1.0)
    for i in range(n_p):
        for j in range(i + 1, n_p):
            if abs(corr[i, j]) > CORRELATION_LIMIT:
                warnings.append(f"not identifiable apart: {names[i]} and {names[j]} are correlated "
                                f"({corr[i, j]:+.3f}); fix one of them or add data that moves "
                                "them differently")
                flagged += [names[i], names[j]]
    t = float(sps.t.ppf(0.975, dof))
    low, high = values - t * std, values + t * std
    ordered = tuple(dict.fromkeys(flagged))
    return Statistics(tuple(names), cov, std, low, high, corr, condition, max(float(eig[0]), 0.0),
                      s2, dof, n,
                      tuple(warnings), ordered)
