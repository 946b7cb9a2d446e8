"""The designed MV moves of a step-test spec: amplitudes, switching time, signal."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from apc.steptest.design import amplitudes_from_prior, rotated
from apc.steptest.limits import MVLimits
from apc.steptest.signals import gbn, prbs, samples, staircase, switching_time
from twin.core.errors import InputError
from twin.orchestration.steptest.config import StepTestSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Design:
    """What a step test will do.

    Attributes
    ----------
    base : numpy.ndarray
        Base point of each MV [MV unit].
    amplitudes : numpy.ndarray
        Amplitude of each MV [MV unit] (for ``rotated``: the room of each MV).
    switch_time : float
        Mean switching time (GBN, rotated), twice the clock (PRBS) or level
        hold (staircase) [time unit].
    moves : numpy.ndarray
        Designed moves around the base (samples, MVs) [MV unit], before limits.
    limits : list of MVLimits
        Hard and rate limits of each MV.
    """

    base: np.ndarray
    amplitudes: np.ndarray
    switch_time: float
    moves: np.ndarray
    limits: list[MVLimits]


def mv_limits(spec: StepTestSpec, bounds: dict[str, tuple[float, float]] | None = None
              ) -> list[MVLimits]:
    """Each MV's hard and rate limits, within the plant's declared input ``bounds`` if given."""
    bounds = bounds or {}
    out = []
    for m in spec.mv:
        lo, hi = bounds.get(m.name, (-np.inf, np.inf))
        out.append(MVLimits(max(m.lower, lo), min(m.upper, hi), m.rate))
    return out


def design(spec: StepTestSpec, base: np.ndarray,
           bounds: dict[str, tuple[float, float]] | None = None) -> Design:
    """The moves of ``spec`` around ``base`` (the MVs' base points); the MVs stay within their
    limits and the plant's declared input ``bounds``."""
    t = spec.test
    dt = t.sample_time
    n = samples(spec.duration, dt)
    limits = mv_limits(spec, bounds)
    for m, b, lim in zip(spec.mv, base, limits):
        if not lim.low <= b <= lim.high:
            raise InputError(f"mv '{m.name}': base {b:g} is outside its hard limits "
                             f"[{lim.low:g}, {lim.high:g}]" + ("" if m.base is not None else
                                                             " (the plant's value at the start; "
                                                             "give mv.base)"))
    room = np.array([min(b - lim.low, lim.high - b) for lim, b in zip(limits, base)])
    room = np.where(room > 0, room, np.inf)
    gains, excursion = prior(spec)
    given = np.array([m.amplitude if m.amplitude is not None else np.nan for m in spec.mv])
    amplitudes = given.copy()
    missing = np.isnan(given)
    if t.signal == "rotated":  # the MVs' room: the weak direction needs large, combined moves
        unbounded = [m.name for m, r, miss in zip(spec.mv, room, missing) if miss and np.isinf(r)]
        if unbounded:
            raise InputError(f"mv '{unbounded[0]}': a rotated test needs its amplitude (the room "
                             "it may move) or its hard limits")
        amplitudes[missing] = room[missing]
    elif missing.any():
        amplitudes[missing] = amplitudes_from_prior(np.nan_to_num(gains[:, missing]), excursion,
                                                    room[missing])
    for m, b, lim, r, asked in zip(spec.mv, base, limits, room, given):
        if asked > r:  # kept symmetric around the base: cut to the nearer hard limit
            log.warning("mv '%s': amplitude %g cut to %g, the room to its nearer hard limit "
                        "(base %g in [%g, %g]: %g of room below it, %g above); the moves stay symmetric "
                        "around the base", m.name, asked, r, b, lim.low, lim.high, b - lim.low,
                        lim.high - b)
    amplitudes = np.minimum(amplitudes, room)
    if t.signal == "staircase":
        switch = t.switch_time if t.switch_time is not None else t.settling_time
        moves = staircase(n, amplitudes, min(n, max(1, round(switch / dt))))
    elif t.signal == "prbs":
        switch = t.switch_time if t.switch_time is not None else switching_time(t.settling_time, dt)
        moves = prbs(n, amplitudes, min(n, max(1, round(switch / (2 * dt)))), t.prbs_bits)
    elif t.signal == "gbn":
        switch = t.switch_time if t.switch_time is not None else switching_time(t.settling_time, dt)
        moves = gbn(n, amplitudes, max(switch, dt), dt, t.seed)
    else:
        switch = t.switch_time if t.switch_time is not None else switching_time(t.settling_time, dt)
        moves = rotated(n, gains, excursion, amplitudes, max(switch, dt), dt, t.seed)
    return Design(np.asarray(base, dtype=float), amplitudes, float(switch), moves, limits)


def prior(spec: StepTestSpec) -> tuple[np.ndarray, np.ndarray]:
    """Prior gains (CVs x MVs, NaN where not given) and allowed excursions (inf where not given)."""
    gains = np.array([[c.gains.get(m.name, np.nan) for m in spec.mv] for c in spec.cv])
    excursion = np.array([c.excursion if c.excursion is not None else np.inf for c in spec.cv])
    return gains, excursion
