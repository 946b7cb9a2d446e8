"""Validation of an identified model on data it was not fitted to.

* Fit: ``NRMSE % = 100 (1 - ||y - y_sim|| / ||y - mean(y)||)`` per CV, of
  the *simulated* response (the model run from the inputs alone, as a
  controller's prediction over a long horizon), not the one-step-ahead
  prediction, which flatters slow models.
* Residual whiteness: the autocorrelation of the residual at lags
  1..``lags`` should lie within the 99 % band ``+-2.58/sqrt(N)``.
* Input-residual independence: the cross-correlation of each input with
  the residual at lags 0..``lags`` within the same band; an input the
  model has not explained shows up here.

An output-error model with white measurement noise leaves a white
residual; coloured (unmeasured disturbance) noise fails the whiteness test
even for a right model, so the cross-correlation is the sharper check of
the model itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_99 = 2.576
"""Two-sided 99 % quantile of the standard normal [-]."""


def nrmse_fit(measured: np.ndarray, simulated: np.ndarray) -> np.ndarray:
    """Fit in percent per column (100: perfect; 0: as good as the mean; may be negative)."""
    measured, simulated = np.atleast_2d(measured), np.atleast_2d(simulated)
    error = np.linalg.norm(measured - simulated, axis=0)
    spread = np.linalg.norm(measured - measured.mean(axis=0), axis=0)
    return 100 * (1 - error / np.where(spread > 0, spread, np.nan))


def correlation(a: np.ndarray, b: np.ndarray, lags: int) -> np.ndarray:
    """Normalised cross-correlation ``r_ab(k)``, k = 0..lags (b lagging a)."""
    a, b = a - a.mean(), b - b.mean()
    scale = np.sqrt(np.dot(a, a) * np.dot(b, b))
    count = a.size
    if scale == 0:
        return np.zeros(lags + 1)
    return np.array([np.dot(a[:count - k], b[k:]) for k in range(lags + 1)]) / scale


@dataclass(frozen=True)
class Validation:
    """Validation figures of one model on one data segment.

    Attributes
    ----------
    fit : numpy.ndarray
        NRMSE fit per CV [%].
    whiteness : numpy.ndarray
        Fraction of residual autocorrelations (lags 1..lags) inside the 99 % band, per CV [-].
    cross : numpy.ndarray
        Fraction of input-residual cross-correlations inside the band, (p, m) [-].
    band : float
        The 99 % band ``2.58/sqrt(N)``.
    lags : int
        Lags tested.
    """

    fit: np.ndarray
    whiteness: np.ndarray
    cross: np.ndarray
    band: float
    lags: int

    def white(self, share: float = 0.95) -> np.ndarray:
        """Per CV: is at least ``share`` of the autocorrelation inside the band?"""
        return self.whiteness >= share

    def independent(self, share: float = 0.95) -> np.ndarray:
        """Per CV and input: is at least ``share`` of the cross-correlation inside the band?"""
        return self.cross >= share


def validate(u: np.ndarray, measured: np.ndarray, simulated: np.ndarray, lags: int = 25) -> Validation:
    """Fit, whiteness and cross-correlation figures of ``simulated`` against ``measured``."""
    residual = np.atleast_2d(measured) - np.atleast_2d(simulated)
    count = residual.shape[0]
    band = BAND_99 / np.sqrt(count)
    p, m = residual.shape[1], u.shape[1]
    whiteness = np.array([np.mean(np.abs(correlation(residual[:, i], residual[:, i], lags)[1:]) < band)
                          for i in range(p)])
    cross = np.array([[np.mean(np.abs(correlation(u[:, j], residual[:, i], lags)) < band)
                       for j in range(m)] for i in range(p)])
    return Validation(nrmse_fit(measured, simulated), whiteness, cross, float(band), lags)
