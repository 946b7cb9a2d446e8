"""Excitation signals of a step test, in deviation from the base point.

Every function returns an array of shape (samples, MVs) of moves around
zero, one row per sample of ``dt`` [time unit of the plant]; the runner adds
the base point and holds the MV limits (:func:`apc.steptest.limits.hold_limits`).

- :func:`staircase`: one MV at a time, up, back, down, back, each level
  held for ``hold`` (a settling time): the classic bump test, easy to read.
- :func:`prbs`: a maximum-length binary sequence (``scipy.signal.max_len_seq``)
  clocked every ``clock`` samples; several MVs get the same sequence shifted
  by a fraction of its period, which makes them uncorrelated
  (off-peak autocorrelation of an m-sequence is -1/N).
- :func:`gbn`: generalized binary noise (Tulleken 1990): the level flips
  with probability ``p = dt / mean_switch`` at each sample, so the time
  between switches is geometric with mean ``mean_switch``; each MV has its
  own random stream, so the MVs are uncorrelated.

The switching time follows from the user's rough settling time
(:func:`switching_time`): mean switching time = settling time / 3. A
settling time is about four dominant time constants, so this puts the
signal's power where the plant's gain rolls off (Tulleken's choice of a
mean switching time of the order of the time constant), with long holds to
fix the steady-state gain as well.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import max_len_seq

from twin.core.errors import InputError

SWITCH_FRACTION = 1.0 / 3.0
"""Mean switching time of GBN (and twice the PRBS clock) as a fraction of the settling time."""
MAX_BITS = 24
"""Longest PRBS register [bits] (a period of 16.7 million clocks)."""


def switching_time(settling_time: float, dt: float) -> float:
    """Mean switching time from a rough settling time [time unit]: ``settling_time / 3``,
    at least one sample ``dt``."""
    _positive(settling_time=settling_time, dt=dt)
    return max(dt, settling_time * SWITCH_FRACTION)


def samples(duration: float, dt: float) -> int:
    """Number of samples of a test of ``duration`` sampled every ``dt`` (at least 1)."""
    _positive(duration=duration, dt=dt)
    return max(1, int(math.floor(duration / dt + 1e-9)))


def staircase(n: int, amplitudes: np.ndarray | list[float], hold: int) -> np.ndarray:
    """Steps of each MV in turn: ``+a``, ``0``, ``-a``, ``0``, each held ``hold`` samples.

    The pattern repeats until ``n`` samples are filled. Only one MV moves at a
    time, so the step responses of the MVs are never superposed.
    """
    amplitudes = _amplitudes(amplitudes)
    _count(n=n, hold=hold)
    m = amplitudes.size
    pattern = np.zeros((4 * m * hold, m))
    for j, a in enumerate(amplitudes):
        start = 4 * j * hold
        pattern[start:start + hold, j] = a
        pattern[start + 2 * hold:start + 3 * hold, j] = -a
    reps = -(-n // pattern.shape[0])
    return np.tile(pattern, (reps, 1))[:n]


def prbs_bits(n: int, clock: int, min_bits: int = 3) -> int:
    """Register length of a PRBS whose period covers ``n`` samples (at least ``min_bits``)."""
    _count(n=n, clock=clock)
    bits = max(min_bits, math.ceil(math.log2(n / clock + 1)))
    if bits > MAX_BITS:
        raise InputError(f"a PRBS of {n} samples clocked every {clock} needs {bits} bits; "
                         f"at most {MAX_BITS}: use a longer clock")
    return bits


def prbs(n: int, amplitudes: np.ndarray | list[float], clock: int, bits: int | None = None
         ) -> np.ndarray:
    """A maximum-length binary sequence of ``+-a`` per MV, each bit held ``clock`` samples.

    ``bits`` (the register length) sets the period ``(2**bits - 1) * clock``
    samples; default: the shortest period that covers ``n`` samples. MV
    ``j`` of ``m`` gets the sequence shifted by ``j/m`` of its period.
    """
    amplitudes = _amplitudes(amplitudes)
    bits = prbs_bits(n, clock) if bits is None else bits
    if not 2 <= bits <= MAX_BITS:
        raise InputError(f"PRBS register length {bits}: expected 2 to {MAX_BITS} bits")
    seq = max_len_seq(bits)[0].astype(float) * 2.0 - 1.0
    length = seq.size
    out = np.empty((n, amplitudes.size))
    for j, a in enumerate(amplitudes):
        shifted = np.roll(seq, -(j * length) // amplitudes.size)
        held = np.repeat(shifted, clock)
        reps = -(-n // held.size)
        out[:, j] = a * np.tile(held, reps)[:n]
    return out


def prbs_period(bits: int, clock: int) -> int:
    """Period of a PRBS [samples]."""
    return (2 ** bits - 1) * clock


def gbn(n: int, amplitudes: np.ndarray | list[float], mean_switch: float, dt: float,
        seed: int = 0) -> np.ndarray:
    """Generalized binary noise ``+-a`` per MV (Tulleken 1990).

    At each sample the level flips with probability ``p = dt / mean_switch``
    (``mean_switch`` >= ``dt``, same time unit); the first level is drawn at
    random. MV ``j`` uses its own independent stream of ``seed``.
    """
    amplitudes = _amplitudes(amplitudes)
    _count(n=n)
    _positive(mean_switch=mean_switch, dt=dt)
    if mean_switch < dt:
        raise InputError(f"GBN mean switching time {mean_switch:g} is shorter than the sample "
                         f"time {dt:g}")
    p = dt / mean_switch
    streams = np.random.SeedSequence(seed).spawn(amplitudes.size)
    out = np.empty((n, amplitudes.size))
    for j, (a, stream) in enumerate(zip(amplitudes, streams)):
        rng = np.random.default_rng(stream)
        first = rng.choice((-1.0, 1.0))
        flips = rng.random(n) < p
        flips[0] = False
        out[:, j] = a * first * np.where(np.cumsum(flips) % 2 == 0, 1.0, -1.0)
    return out


def cross_correlation(signals: np.ndarray) -> np.ndarray:
    """Correlation coefficients between the columns of ``signals`` (MVs) at lag 0 [-]."""
    signals = np.asarray(signals, dtype=float)
    centred = signals - signals.mean(axis=0)
    norms = np.sqrt((centred ** 2).sum(axis=0))
    norms[norms == 0] = 1.0
    return (centred.T @ centred) / np.outer(norms, norms)


def _amplitudes(amplitudes) -> np.ndarray:
    a = np.atleast_1d(np.asarray(amplitudes, dtype=float))
    if a.ndim != 1 or a.size == 0:
        raise InputError("step test: give one amplitude per MV")
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise InputError(f"step test amplitudes must be finite and >= 0, got {a.tolist()}")
    return a


def _count(**values: int) -> None:
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"step test {name}: expected a whole number >= 1, got {value!r}")


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(f"step test {name}: expected a number > 0, got {value!r}")
