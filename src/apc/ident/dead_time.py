"""Transfer functions with dead time as a state space that has a continuous-time equivalent.

A dead time ``e^{-theta s}`` has no finite state space. Sampled exactly it
becomes a chain of pure delay states (eigenvalues of ``A`` at 0), which no
continuous-time model sampled with a zero-order hold gives, so such a file
cannot load as a :class:`~twin.core.model.Model`. Here each CV-MV pair
``G(s) e^{-theta s}`` (:class:`apc.ident.transfer.PairModel`) is instead
realised in continuous time with its dead time replaced by the diagonal
Padé approximation of order ``N`` (unit gain, all-pass; its coefficients
in closed form, ``(2N-k)! N! / ((2N)! k! (N-k)!)``, because
:func:`scipy.interpolate.pade` solves an ill-conditioned system from order 8):

* candidates: no dead-time states (the dead time dropped), then Padé
  orders 1 .. :data:`MAX_ORDER`;
* each candidate's unit-step response is compared with the exact delayed
  one, ``g(t - theta)``, over ``0 <= t <= theta + 6 (sum of lags)``; the
  error is ``max |y - g(t - theta)|`` over that window, divided by ``|K|``
  (integrating pairs: by ``|K| (theta + tau)``, the ramp's rise over its
  delay and lag);
* admissible only if every pole ``lambda`` has ``|lambda| dt <=``
  :data:`MAX_POLE_DT` (so its sampled eigenvalue is not numerically 0) and
  ``|Im lambda| dt <=`` :data:`MAX_ANGLE` (below the Nyquist frequency, so
  the matrix logarithm of the sampled model returns this very model);
* the first admissible candidate whose error is within
  :data:`TOLERANCE` is taken; if none is, the admissible one with the
  smallest error, and its error is reported (``twin identify`` warns
  above :data:`WARN_ERROR`).

0.5 % keeps the approximation below what the held-out residual tests
detect on low-noise data: on a 2x2 SOPDT plant (dead times 2 to 6
samples, noise 1 % of the step responses) a 2 % target was flagged as
input-correlated residual, 0.5 % was not. A first-order lag with a dead
time of a few samples cannot reach it below the Nyquist frequency (the
kink of its delayed step response; e.g. ``tau = 10 s``, ``theta = 5 s``
at 1 s: order 8, 1.0 %), so only errors above 2 % are warned of.

The pairs are stacked block-diagonally (``Ac, Bc, C, D``) and sampled
exactly (zero-order hold, :func:`scipy.linalg.expm`): steady-state gains
are kept exactly (a Padé approximation has unit gain), and the file's
``A`` has eigenvalues ``e^{lambda dt}``, none at 0 or on the negative real
axis, so :meth:`apc.ident.model_file.IdentifiedModel.to_model` recovers
``Ac, Bc``. Integrating pairs keep their pole at 0 (an eigenvalue at 1 of
the sampled ``A``, whose matrix logarithm is 0).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy import linalg
from threadpoolctl import threadpool_limits

from apc.ident.transfer import PairModel, TransferModel, stack_pairs

LOG = logging.getLogger(__name__)

TOLERANCE = 0.005
"""Target step-response error of a pair's realisation, relative to its gain [-]."""

WARN_ERROR = 0.02
"""Step-response error above which ``twin identify`` warns [-] (module docstring)."""

MAX_ORDER = 10
"""Highest Padé order tried [-]."""

MAX_POLE_DT = 25.0
"""Largest ``|lambda| dt`` of a pole [-]: ``e^-25`` (1.4e-11) is still a usable eigenvalue."""

CHUNK = 64
"""Samples per block of :func:`step_response` [-]."""

MAX_ANGLE = 0.9 * math.pi
"""Largest ``|Im lambda| dt`` of a pole [rad]: below the Nyquist frequency, with a margin."""


@dataclass(frozen=True)
class DeadTimeChoice:
    """How one pair's dead time is represented.

    Attributes
    ----------
    order : int
        Padé order (0: the dead time is dropped, no states for it).
    error : float
        Largest unit-step-response error against the exact dead time,
        relative to the gain (integrating: gain times dead time plus lag) [-].
    states : int
        States of the pair's realisation (lags plus Padé order).
    """

    order: int
    error: float
    states: int

    def describe(self) -> str:
        """``"Padé 3 (error 0.21 %)"`` or ``"none (error 0.01 %)"``."""
        how = f"Padé {self.order}" if self.order else "none"
        return f"{how} (error {100 * self.error:.2g} %)"


@dataclass(frozen=True)
class Realisation:
    """Continuous ``Ac, Bc, C, D`` of a transfer-function model, and its ZOH sampling ``A, B``."""

    Ac: np.ndarray
    Bc: np.ndarray
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    choices: tuple[tuple[DeadTimeChoice, ...], ...]

    def largest_error(self) -> float:
        """The largest step-response error of any pair [-]."""
        return max(choice.error for row in self.choices for choice in row)


def lag_polynomials(pair: PairModel) -> tuple[np.ndarray, np.ndarray]:
    """Numerator and denominator (powers of ``s``, highest first) of the pair without dead time."""
    den = np.array([1.0])
    for tau in pair.time_constants:
        den = np.polymul(den, [tau, 1.0])
    if pair.structure == "integrating":
        den = np.polymul(den, [1.0, 0.0])
    return np.array([pair.gain]), den


def pade_state_space(theta: float, order: int):
    """``(a, b, c, d)`` of the order-``order`` Padé approximation of ``e^{-theta s}``."""
    from scipy import signal   # imported where used: a second of every process's start

    coef = np.array([math.factorial(2 * order - k) * math.factorial(order)
                     / (math.factorial(2 * order) * math.factorial(k) * math.factorial(order - k))
                     for k in range(order + 1)])               # of x^k, x = theta s
    signs = (-1.0) ** np.arange(order + 1)
    a, b, c, d = signal.tf2ss((coef * signs)[::-1], coef[::-1])
    a, b = a / theta, b / theta                          # d/dt = (1/theta) d/dx
    return _balanced(a, b, c, d)


def pair_state_space(pair: PairModel, order: int):
    """Continuous ``(a, b, c, d)`` of ``pair``, its dead time as Padé ``order`` (0: dropped)."""
    from scipy import signal

    num, den = lag_polynomials(pair)
    lag = _balanced(*signal.tf2ss(num, den))
    if order == 0 or pair.dead_time <= 0:
        return lag
    delay = pade_state_space(pair.dead_time, order)
    return _series(delay, lag)


def exact_step(pair: PairModel, t: np.ndarray) -> np.ndarray:
    """Unit-step response of ``pair`` with its exact dead time at times ``t`` [s]."""
    s = np.maximum(np.asarray(t, float) - pair.dead_time, 0.0)
    k = pair.gain
    if pair.structure == "integrating":
        tau = pair.time_constants[0]
        return k * (s - tau * (1 - np.exp(-s / tau)))
    if len(pair.time_constants) == 1:
        return k * (1 - np.exp(-s / pair.time_constants[0]))
    t1, t2 = pair.time_constants
    if abs(t1 - t2) < 1e-6 * t1:
        return k * (1 - (1 + s / t1) * np.exp(-s / t1))
    return k * (1 - (t1 * np.exp(-s / t1) - t2 * np.exp(-s / t2)) / (t1 - t2))


def step_grid(pair: PairModel, points: int = 3000) -> np.ndarray:
    """Times [s] over which a pair's realisation is judged: dead time plus six lags."""
    end = pair.dead_time + 6 * sum(pair.time_constants)
    return np.linspace(0.0, end, points)


def step_error(pair: PairModel, order: int, t: np.ndarray | None = None) -> float:
    """Largest unit-step error of the order-``order`` realisation, relative (module docstring)."""
    t = step_grid(pair) if t is None else t
    y = step_response(*pair_state_space(pair, order), t)
    scale = abs(pair.gain)
    if pair.structure == "integrating":
        scale *= pair.dead_time + pair.time_constants[0]
    return float(np.max(np.abs(y - exact_step(pair, t))) / scale) if scale > 0 else 0.0


def step_response(a, b, c, d, t: np.ndarray) -> np.ndarray:
    """Unit-step response of the single-input single-output ``(a, b, c, d)`` at times ``t`` [s].

    ``t`` equally spaced from 0 (as :func:`step_grid` gives): the exact
    zero-order-hold recursion ``x[k+1] = Ad x[k] + Bd`` of
    :func:`scipy.signal.step`, evaluated :data:`CHUNK` samples at a time
    from the powers of ``Ad`` (a few dozen array operations instead of one
    Python step per sample); other times go to :func:`scipy.signal.step`.
    """
    t = np.asarray(t, float)
    n = a.shape[0]
    if n == 0:
        return np.full(t.shape, float(d[0, 0]))
    h = t[1] - t[0] if t.size > 1 else 0.0
    if t[0] != 0.0 or h <= 0 or not np.allclose(np.diff(t), h, rtol=1e-9, atol=0.0):
        from scipy import signal

        return signal.step((a, b, c, d), T=t)[1]
    ad, bd = sample(a, b, h)
    powers = np.empty((CHUNK, n, n))
    sums = np.empty((CHUNK, n))
    powers[0], sums[0] = np.eye(n), 0.0
    for r in range(1, CHUNK):
        powers[r] = ad @ powers[r - 1]
        sums[r] = ad @ sums[r - 1] + bd[:, 0]
    c_pow, c_sum = c[0] @ powers, sums @ c[0]              # c Ad^r, c S_r
    jump_a, jump_b = ad @ powers[-1], ad @ sums[-1] + bd[:, 0]
    y = np.empty(t.size)
    x = np.zeros(n)
    for start in range(0, t.size, CHUNK):
        m = min(CHUNK, t.size - start)
        y[start:start + m] = c_pow[:m] @ x + c_sum[:m]
        x = jump_a @ x + jump_b
    return y + float(d[0, 0])


def choose_order(pair: PairModel, dt: float, tolerance: float = TOLERANCE) -> DeadTimeChoice:
    """The Padé order of ``pair``'s dead time (module docstring: how).

    Single-threaded BLAS: on matrices this small, threads cost more than they
    give (4x slower with other work on the machine).
    """
    lags = len(pair.time_constants) + (pair.structure == "integrating")
    if pair.dead_time <= 0 or pair.gain == 0:
        return DeadTimeChoice(0, 0.0, lags)
    with threadpool_limits(limits=1, user_api="blas"):
        return _choose_order(pair, dt, tolerance, lags)


def _choose_order(pair: PairModel, dt: float, tolerance: float, lags: int) -> DeadTimeChoice:
    """:func:`choose_order` once BLAS runs single-threaded."""
    t = step_grid(pair)
    best: DeadTimeChoice | None = None
    for order in range(MAX_ORDER + 1):
        a = pair_state_space(pair, order)[0]
        poles = np.linalg.eigvals(a)
        if np.any(np.abs(poles) * dt > MAX_POLE_DT) or np.any(np.abs(poles.imag) * dt > MAX_ANGLE):
            continue
        choice = DeadTimeChoice(order, step_error(pair, order, t), lags + order)
        if choice.error <= tolerance:
            return choice
        if best is None or choice.error < best.error:
            best = choice
    if best is None:   # not even the lags alone: cannot happen for fitted lags (>= dt / 20)
        best = DeadTimeChoice(0, step_error(pair, 0, t), lags)
    LOG.info("dead time %.4g s: no Padé order up to %d meets %.2g %% at a %.4g s sample time; "
                "order %d, error %.2g %%", pair.dead_time, MAX_ORDER, 100 * tolerance, dt,
                best.order, 100 * best.error)
    return best


def realise(model: TransferModel, tolerance: float = TOLERANCE) -> Realisation:
    """The continuous realisation of every pair of ``model`` and its exact ZOH sampling."""
    blocks, choices = [], []
    for i, row in enumerate(model.pairs):
        row_choices = []
        for j, pair in enumerate(row):
            choice = choose_order(pair, model.dt, tolerance)
            row_choices.append(choice)
            blocks.append((i, j, *pair_state_space(pair, choice.order)))
        choices.append(tuple(row_choices))
    ac, bc, c_all, d_all = stack_pairs(blocks, len(model.pairs), len(model.pairs[0]))
    a_d, b_d = sample(ac, bc, model.dt)
    return Realisation(ac, bc, a_d, b_d, c_all, d_all, tuple(choices))


def sample(ac: np.ndarray, bc: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact zero-order-hold sampling: ``expm([[Ac, Bc], [0, 0]] dt) = [[A, B], [0, I]]``."""
    n, m = bc.shape
    block = np.zeros((n + m, n + m))
    block[:n, :n], block[:n, n:] = ac, bc
    sampled = linalg.expm(block * dt)
    return sampled[:n, :n], sampled[:n, n:]


def _series(first, second):
    """``second`` driven by the output of ``first`` (both single-input single-output)."""
    a1, b1, c1, d1 = first
    a2, b2, c2, d2 = second
    n1, n2 = a1.shape[0], a2.shape[0]
    a = np.block([[a1, np.zeros((n1, n2))], [b2 @ c1, a2]])
    b = np.vstack([b1, b2 @ d1])
    c = np.hstack([d2 @ c1, c2])
    return a, b, c, d2 @ d1


def _balanced(a, b, c, d):
    """The realisation after a diagonal similarity that balances ``a`` (better conditioned)."""
    a, b, c, d = (np.atleast_2d(np.asarray(v, float)) for v in (a, b, c, d))
    if a.size == 0:
        return a, b, c, d
    _, (scale, _) = linalg.matrix_balance(a, permute=False, separate=True)
    return a * (1 / scale)[:, None] * scale[None, :], b / scale[:, None], c * scale[None, :], d
