"""Step-test design from a rough prior: amplitudes, duration, signal, directions.

The user knows roughly how slow the plant is (a settling time), roughly its
gains, and how far each CV may be moved. From that:

- amplitude of MV ``j``: the largest move that moves no CV ``i`` by more
  than its allowed excursion, ``min_i excursion_i / |G_ij|``, and never more
  than the room the MV's hard limits leave around its base point;
- duration: ``DURATION_FACTOR`` (10) settling times by default, within the
  6 to 20 settling times usual for identification tests;
- switching time: :func:`apc.steptest.signals.switching_time`.

Ill-conditioned plants (the high-purity column, where the gain in one input
direction is tens of times that in another) need the ``rotated`` design:
uncorrelated input moves excite mostly the high-gain direction, and the
identified model then gets the low-gain direction (the one a controller
relies on most) wrong. The rotated design (Koung & MacGregor 1993,
Jacobsen & Skogestad 1994) moves the inputs along the right singular
vectors ``v_k`` of the prior gain matrix, scaled by the allowed CV
excursions and MV amplitudes, each direction with its own GBN and an
amplitude ``1 / sigma_k``: every output direction is excited with the same
size, the weak one included. The inputs then become strongly correlated
by design. See docs/step-tests.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from apc.steptest.signals import gbn
from twin.core.errors import InputError

DURATION_FACTOR = 10.0
"""Default test length in settling times."""


def amplitudes_from_prior(gains: np.ndarray, excursion: np.ndarray, room: np.ndarray) -> np.ndarray:
    """MV amplitudes [MV units] from prior gains (CVs x MVs), allowed CV excursions and MV room.

    Raises
    ------
    InputError
        Shapes that do not match, or an MV with no gain on any CV.
    """
    gains = _matrix(gains)
    excursion = np.asarray(excursion, dtype=float)
    room = np.asarray(room, dtype=float)
    if excursion.shape != (gains.shape[0],) or room.shape != (gains.shape[1],):
        raise InputError(f"step-test prior: gains are {gains.shape[0]} CVs x {gains.shape[1]} MVs "
                         f"but {excursion.size} excursions and {room.size} MV amplitudes were given")
    out = np.empty(gains.shape[1])
    for j in range(gains.shape[1]):
        g = np.abs(gains[:, j])
        if not np.any(g > 0):
            raise InputError(f"step-test prior: MV {j} has no gain on any CV; give its amplitude")
        out[j] = min(np.min(excursion[g > 0] / g[g > 0]), room[j])
    return out


def duration_from_prior(settling_time: float, factor: float = DURATION_FACTOR) -> float:
    """Test length [time unit]: ``factor`` settling times."""
    if not (math.isfinite(settling_time) and settling_time > 0 and factor > 0):
        raise InputError(f"step-test duration: a settling time > 0 is needed, got {settling_time!r}")
    return factor * settling_time


@dataclass(frozen=True)
class Directions:
    """Scaled singular directions of a prior gain matrix.

    Attributes
    ----------
    sigma : numpy.ndarray
        Singular values of the scaled gain ``diag(1/excursion) G diag(room)`` [-], largest first.
    v : numpy.ndarray
        Right singular vectors in scaled inputs (columns), matching ``sigma``.
    u : numpy.ndarray
        Left singular vectors in scaled outputs (columns).
    condition : float
        ``sigma_max / sigma_min`` [-].
    """

    sigma: np.ndarray
    v: np.ndarray
    u: np.ndarray
    condition: float


def directions(gains: np.ndarray, excursion: np.ndarray, room: np.ndarray) -> Directions:
    """The singular directions of the gains scaled by CV excursions and MV amplitudes."""
    gains = _matrix(gains)
    excursion, room = np.asarray(excursion, dtype=float), np.asarray(room, dtype=float)
    scaled = gains / excursion[:, None] * room[None, :]
    u, sigma, vt = np.linalg.svd(scaled)
    if sigma[-1] <= 0:
        raise InputError("step-test prior: the gain matrix is singular; no input moves the CVs "
                         "in every direction")
    return Directions(sigma, vt.T, u, float(sigma[0] / sigma[-1]))


def rotated(n: int, gains: np.ndarray, excursion: np.ndarray, room: np.ndarray,
            mean_switch: float, dt: float, seed: int = 0) -> np.ndarray:
    """Moves (samples, MVs) along the singular directions of the prior gains, GBN in each.

    Direction ``k`` gets an amplitude ``1 / sigma_k`` in scaled inputs, so
    each output direction moves by a full allowed excursion, unless that
    moves an MV beyond its ``room`` (see :func:`direction_amplitudes`).
    """
    gains = _matrix(gains)
    if gains.shape[0] < gains.shape[1]:
        raise InputError(f"rotated step test: {gains.shape[1]} MVs but only {gains.shape[0]} CVs; "
                         "some input directions move no CV")
    d = directions(gains, excursion, room)
    drive = gbn(n, np.ones(d.sigma.size), mean_switch, dt, seed)  # one GBN per direction
    alpha = direction_amplitudes(d)
    scaled_moves = drive @ (d.v * alpha[None, :]).T
    return scaled_moves * np.asarray(room, dtype=float)[None, :]


def direction_amplitudes(d: Directions) -> np.ndarray:
    """Amplitude of each direction in scaled inputs: ``1 / sigma_k`` capped at a common ``cap``.

    Without the cap every output direction moves a full allowed excursion;
    when that would move some MV beyond its amplitude, the largest
    direction amplitudes (the weak directions) are cut to the highest cap
    (by bisection) that keeps every MV within it, and then, if even the
    strong directions alone are too much, all are scaled down together.
    """
    wanted = 1.0 / d.sigma

    def peak(alpha: np.ndarray) -> float:
        return float(np.abs(d.v * alpha[None, :]).sum(axis=1).max())

    if peak(wanted) <= 1.0:
        return wanted
    low, high = 0.0, float(wanted.max())
    for _ in range(100):
        cap = 0.5 * (low + high)
        low, high = (cap, high) if peak(np.minimum(wanted, cap)) <= 1.0 else (low, cap)
    alpha = np.minimum(wanted, low)
    if low <= float(wanted.min()):  # even the strong directions do not fit: shrink together
        alpha = wanted / peak(wanted)
    return alpha


def excitation(moves: np.ndarray, gains: np.ndarray, excursion: np.ndarray, room: np.ndarray
               ) -> np.ndarray:
    """RMS of the predicted steady-state CV moves along each scaled output direction [-].

    Used to compare designs: an uncorrelated design on an ill-conditioned
    plant leaves the last (weak) entry tiny; the rotated design makes the
    entries equal.
    """
    d = directions(gains, excursion, room)
    scaled = np.asarray(moves, dtype=float) / np.asarray(room, dtype=float)[None, :]
    along = scaled @ d.v  # scaled input along each v_k
    return np.sqrt(np.mean((along * d.sigma[None, :]) ** 2, axis=0))


def _matrix(gains) -> np.ndarray:
    g = np.atleast_2d(np.asarray(gains, dtype=float))
    if g.ndim != 2 or not np.all(np.isfinite(g)):
        raise InputError("step-test prior: gains must be a finite matrix (CVs x MVs)")
    return g
