"""A short pre-test: one step per MV, to estimate the gains and settling time a design needs.

Each CV's response to the step is fitted with a first order plus dead time
(FOPDT) curve by nonlinear least squares (``scipy.optimize.curve_fit``,
from a few starting dead times, as the S-shaped response of a chain of
lags has a poor local fit with none), which averages measurement noise out:
``y(t) = y0 + K a (1 - exp(-(t - theta)/tau))`` for ``t > theta``. Its
settling time (to 2 %) is ``theta + 4 tau``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from twin.core.errors import InputError

log = logging.getLogger(__name__)

SETTLING_TAUS = 4.0
"""Time constants to settle within 2 % [-]."""


@dataclass(frozen=True)
class StepFit:
    """FOPDT fit of one CV's response to one MV step.

    Attributes
    ----------
    gain : float
        Steady-state gain [CV unit / MV unit].
    dead_time, time_constant, settling_time : float
        [time unit of the data]; settling time ``dead_time + 4 time_constant``.
    """

    gain: float
    dead_time: float
    time_constant: float

    @property
    def settling_time(self) -> float:
        return self.dead_time + SETTLING_TAUS * self.time_constant


def _fopdt(t, y0, k, theta, tau):
    lag = np.clip(t - theta, 0.0, None)
    return y0 + k * (1.0 - np.exp(-lag / max(tau, 1e-12)))


def fit_step(t: np.ndarray, y: np.ndarray, step_time: float, size: float) -> StepFit:
    """FOPDT fit of the response ``y`` (sampled at ``t``) to a step of ``size`` at ``step_time``.

    Raises
    ------
    InputError
        A step of size 0, too few samples after the step, or a fit that does not converge.
    """
    t = np.asarray(t, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(y)
    t, y = t[ok], y[ok]
    if size == 0 or not math.isfinite(size):
        raise InputError("pre-test: the step size must be finite and not 0")
    after = t >= step_time
    if after.sum() < 5 or (~after).sum() < 1:
        raise InputError("pre-test: too few samples around the step to fit its response")
    tr, yr = t[after] - step_time, y[after]
    y0 = float(np.mean(y[~after]))
    span = float(tr[-1]) if tr[-1] > 0 else 1.0
    tail = yr[-max(1, yr.size // 5):].mean()
    best, best_cost, error = None, np.inf, ""
    for theta0, tau0 in ((0.0, span / 5), (span / 20, span / 6), (span / 10, span / 8),
                         (span / 5, span / 10)):
        try:
            params, _ = curve_fit(
                _fopdt, tr, yr, p0=(y0, tail - y0, theta0, tau0),
                bounds=([-np.inf, -np.inf, 0.0, span * 1e-4], [np.inf, np.inf, span, 10 * span]),
                maxfev=5000)
        except (RuntimeError, ValueError) as exc:
            error = str(exc)
            continue
        cost = float(np.sum((_fopdt(tr, *params) - yr) ** 2))
        if cost < best_cost:
            best, best_cost = params, cost
    if best is None:
        raise InputError(f"pre-test: the step response could not be fitted ({error})")
    y0f, kf, theta, tau = best
    if tau > 2 * span:
        log.warning("pre-test: the response had not settled by the end of the step "
                    "(time constant %.3g, step held %.3g); hold the step longer", tau, span)
    return StepFit(float(kf / size), float(theta), float(tau))
