"""Parametric transfer functions per CV-MV pair: first or second order plus dead time, integrating.

Each CV is fitted from all its inputs at once (a multi-input output-error
model: the sum of one transfer function per input), by
:func:`scipy.optimize.least_squares` on the *simulated* response, so the
fit is the one the model will be used for. Structures per pair:

``fopdt``        ``K e^{-theta s} / (tau s + 1)``
``sopdt``        ``K e^{-theta s} / ((tau1 s + 1)(tau2 s + 1))``
``integrating``  ``K e^{-theta s} / (s (tau s + 1))`` (``K`` in CV unit per input unit per second)

Discretised exactly for a zero-order hold on the sample grid; a dead time
that is not a whole number of samples is split between two neighbouring
samples (linear interpolation of the delayed input).
"""

from __future__ import annotations

from dataclasses import dataclass

import warnings

import numpy as np

from twin.core.errors import InputError

STRUCTURES = ("fopdt", "sopdt", "integrating")
"""Transfer-function structures :func:`fit_transfer` knows."""


@dataclass(frozen=True)
class PairModel:
    """One CV-MV transfer function.

    Attributes
    ----------
    structure : str
        One of :data:`STRUCTURES`.
    gain : float
        ``K`` [CV unit / input unit] (integrating: per second).
    time_constants : tuple of float
        Lags, largest first [s] (an integrating pair: its one lag).
    dead_time : float
        ``theta`` [s].
    """

    structure: str
    gain: float
    time_constants: tuple[float, ...]
    dead_time: float

    def discrete(self, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Numerator and denominator in powers of ``z^-1`` for a ZOH at ``dt`` [s]."""
        poles = [np.exp(-dt / tau) for tau in self.time_constants]
        den = np.array([1.0])
        for pole in poles:
            den = np.convolve(den, [1.0, -pole])
        if self.structure == "integrating":
            den = np.convolve(den, [1.0, -1.0])
        num = _zoh_numerator(self, dt, poles)
        whole, part = divmod(self.dead_time / dt, 1.0)
        shift = np.zeros(int(whole) + 2)
        shift[int(whole)], shift[int(whole) + 1] = 1 - part, part
        return np.convolve(num, shift), den

    def response(self, du: np.ndarray, dt: float) -> np.ndarray:
        """Output deviation for input deviations ``du`` (held from each sample), from rest."""
        from scipy import signal   # imported where used: a second of every process's start

        num, den = self.discrete(dt)
        return signal.lfilter(num, den, du)


def _zoh_numerator(pair: PairModel, dt: float, poles: list[float]) -> np.ndarray:
    """Numerator (z^-1 powers, leading 0: one sample delay of the ZOH) of the lag part."""
    k = pair.gain
    if pair.structure == "integrating":
        tau, pole = pair.time_constants[0], poles[0]
        # step response K (t - tau (1 - e^{-t/tau})) sampled, differenced
        b1 = k * (dt - tau * (1 - pole))
        b2 = k * (tau * (1 - pole) - dt * pole)
        return np.array([0.0, b1, b2])
    if len(poles) == 1:
        return np.array([0.0, k * (1 - poles[0])])
    t1, t2 = pair.time_constants
    p1, p2 = poles
    if abs(t1 - t2) < 1e-6 * t1:
        t2 = t1 * (1 - 1e-6)
        p2 = np.exp(-dt / t2)
    # step response K (1 - (t1 e^{-t/t1} - t2 e^{-t/t2}) / (t1 - t2)), as a ZOH transfer function
    c1, c2 = t1 / (t1 - t2), -t2 / (t1 - t2)
    b1 = k * (1 - c1 * p1 - c2 * p2)
    b2 = k * (p1 * p2 - c1 * p2 - c2 * p1)
    return np.array([0.0, b1, b2])


@dataclass(frozen=True)
class TransferModel:
    """Transfer functions of every CV-MV pair, shape (p, m), with the operating point."""

    pairs: tuple[tuple[PairModel, ...], ...]
    dt: float
    u0: np.ndarray
    y0: np.ndarray

    def simulate(self, u: np.ndarray) -> np.ndarray:
        """Outputs for inputs ``u`` (samples, m), from rest at the operating point."""
        du = np.asarray(u, float) - self.u0
        y = np.tile(self.y0, (du.shape[0], 1))
        for i, row in enumerate(self.pairs):
            for j, pair in enumerate(row):
                y[:, i] += pair.response(du[:, j], self.dt)
        return y

    def gains(self) -> np.ndarray:
        """Steady-state gains, shape (p, m) (integrating pairs: their rate gain)."""
        return np.array([[pair.gain for pair in row] for row in self.pairs])

    def state_space(self):
        """Discrete ``(A, B, C, D)``: one block per pair, stacked."""
        from scipy import signal

        blocks = []
        for i, row in enumerate(self.pairs):
            for j, pair in enumerate(row):
                num, den = pair.discrete(self.dt)
                size = max(len(num), len(den))
                num = np.pad(num, (0, size - len(num)))
                den = np.pad(den, (0, size - len(den)))
                with warnings.catch_warnings():  # the ZOH's leading zero is meant
                    warnings.simplefilter("ignore", signal.BadCoefficients)
                    a, b, c, d = signal.tf2ss(num, den)
                blocks.append((i, j, a, b, c, d))
        return stack_pairs(blocks, len(self.pairs), len(self.pairs[0]))


def stack_pairs(blocks, p: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One MIMO state space (A, B, C, D) from single-input single-output realisations.

    ``blocks`` holds ``(i, j, a, b, c, d)`` per CV ``i`` and input ``j``; the
    states of the pairs are stacked in their order (A block-diagonal), and
    the outputs of a CV's pairs add up. ``p`` CVs, ``m`` inputs.
    """
    n = sum(block[2].shape[0] for block in blocks)
    big_a, big_b, big_c, big_d = np.zeros((n, n)), np.zeros((n, m)), np.zeros((p, n)), np.zeros((p, m))
    at = 0
    for i, j, a, b, c, d in blocks:
        k = a.shape[0]
        big_a[at:at + k, at:at + k] = a
        big_b[at:at + k, j] = b[:, 0]
        big_c[i, at:at + k] = c[0]
        big_d[i, j] += d[0, 0]
        at += k
    return big_a, big_b, big_c, big_d


def fit_transfer(u: np.ndarray, y: np.ndarray, dt: float, structure: str = "sopdt",
                 guess_gain: np.ndarray | None = None, guess_settling: np.ndarray | None = None,
                 max_dead_time: float | None = None,
                 guess_steps: np.ndarray | None = None, warmup: int = 0) -> TransferModel:
    """Fit one ``structure`` transfer function per CV-MV pair by output-error least squares.

    Parameters
    ----------
    u, y : numpy.ndarray
        Inputs (samples, m) and outputs (samples, p); the responses are
        simulated from rest at the first sample's inputs.
    dt : float
        Sample time [s].
    structure : str
        One of :data:`STRUCTURES`, for every pair.
    guess_gain, guess_settling : numpy.ndarray, optional
        Starting gains and settling times [s] per pair (e.g. from an FIR fit).
    guess_steps : numpy.ndarray, optional
        Unit step responses per pair, shape (p, m, lags) at ``dt`` (e.g. an
        FIR model's): each pair's transfer function is first fitted to its
        step response from several starting time constants, and the best
        starts the joint fit on the data (output-error fits have local minima).
    max_dead_time : float, optional
        Upper bound of the dead times [s] (default: a tenth of the record).

    warmup : int
        Samples at the start left out of the fit [samples]: the plant need
        not be at rest at the first sample, only its effect must have died
        out by the end of the warm-up (give the longest settling time).

    Raises
    ------
    InputError
        Unknown structure.
    """
    from scipy import optimize   # imported where used (process start)

    if structure not in STRUCTURES:
        raise InputError(f"transfer function '{structure}': expected one of {', '.join(STRUCTURES)}")
    u, y = np.atleast_2d(np.asarray(u, float)), np.atleast_2d(np.asarray(y, float))
    count, m = u.shape
    u0 = u[0].copy()
    du = u - u0
    max_dead = max_dead_time if max_dead_time is not None else count * dt / 10
    lags = 1 if structure == "fopdt" else 2 if structure == "sopdt" else 1
    rows = []
    y0 = np.empty(y.shape[1])
    for i in range(y.shape[1]):
        start, lower, upper = [], [], []
        for j in range(m):
            gain = guess_gain[i, j] if guess_gain is not None else 0.0
            settle = guess_settling[i, j] if guess_settling is not None else count * dt / 20
            settle = float(np.clip(settle, 4 * dt, count * dt))
            taus = [np.log(settle / 4)] + ([np.log(settle / 12)] if lags == 2 else [])
            if structure == "integrating":
                gain = gain / max(settle, dt)
            low = [-np.inf] + [np.log(dt / 20)] * lags + [0.0]
            high = [np.inf] + [np.log(count * dt)] * lags + [max_dead]
            pair_start = [gain, *taus, 0.0]
            if guess_steps is not None:
                pair_start = _fit_step(guess_steps[i, j], dt, structure, lags, pair_start, low, high)
            start += list(pair_start)
            lower += low
            upper += high
        start.append(float(y[0, i]))
        lower.append(-np.inf)
        upper.append(np.inf)

        def residual(theta, i=i):
            pairs = _pairs(theta, structure, m, lags)
            out = np.full(count, theta[-1])
            for j, pair in enumerate(pairs):
                out += pair.response(du[:, j], dt)
            return (out - y[:, i])[warmup:]

        start = np.clip(start, lower, upper)
        result = optimize.least_squares(residual, start, bounds=(lower, upper), x_scale="jac",
                                        max_nfev=200)
        rows.append(tuple(_pairs(result.x, structure, m, lags)))
        y0[i] = result.x[-1]
    return TransferModel(tuple(rows), float(dt), u0, y0)


def _fit_step(step: np.ndarray, dt: float, structure: str, lags: int, start, low, high):
    """One pair's parameters fitted to its unit step response, best of several starts."""
    from scipy import optimize

    unit = np.ones(step.size)
    start = np.clip(np.asarray(start, float), low, high)

    def residual(theta):
        return _pairs(np.append(theta, 0.0), structure, 1, lags)[0].response(unit, dt) - step

    best = None
    for shift in (np.log(0.5), 0.0, np.log(2.0)):
        trial = start.copy()
        trial[1:1 + lags] += shift
        trial = np.clip(trial, low, high)
        result = optimize.least_squares(residual, trial, bounds=(low, high), x_scale="jac",
                                        max_nfev=200)
        if best is None or result.cost < best.cost:
            best = result
    return best.x


def _pairs(theta, structure, m, lags) -> list[PairModel]:
    width = 2 + lags
    pairs = []
    for j in range(m):
        part = theta[j * width:(j + 1) * width]
        taus = tuple(sorted((float(np.exp(v)) for v in part[1:1 + lags]), reverse=True))
        pairs.append(PairModel(structure, float(part[0]), taus, float(part[-1])))
    return pairs
