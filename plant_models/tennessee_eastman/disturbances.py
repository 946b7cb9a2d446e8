"""The standard disturbances IDV 1-20 of Downs & Vogel, as signals on the model's inputs.

Each IDV acts on disturbance inputs of the model (:func:`signals` turns a
mapping ``{IDV number: intensity}`` into their values over time):

- **steps**: IDV 1, 2, 6, 7 set their own input to 1; IDV 3, 4, 5 add
  5 degC to the D feed, reactor and condenser cooling-water inlet
  temperatures;
- **random variation** (IDV 8-12) and **slow drift** (IDV 13): a smooth
  random signal through knots at random times and values, a cubic between
  knots, flat at each (Downs & Vogel's process, whose knot slopes are 0);
  IDV 16 moves the steam heat transfer alike;
- **pulses** (IDV 17, 18, 20): heat-transfer or outflow losses that rise
  to the IDV's intensity over a random time and fall back to 0 within 0.1 h;
- **sticking valves** (IDV 14, 15, 19): a valve that moves only once its
  set point is more than 2 % away (:func:`sticking_valves`), applied to the
  XMVs, not to a model input.

The knots are drawn from a NumPy generator seeded with ``(seed, process)``
before the run, so a signal depends on the seed alone: not on the
integrator's steps, nor on which other IDVs are active. The knot spacing
and amplitudes (:data:`WALKS`) are those of the original simulation's
random processes (TEPROB ``teinit``, its ``wlk`` data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.core.errors import InputError

from .constants import raw
from .declarations import inputs

_STEP_DEGC = raw("idv.3_4_5_step")
STEPS = {1: ("idv_1", 1.0), 2: ("idv_2", 1.0), 3: ("T_D_feed", _STEP_DEGC),
         4: ("T_cw_r_in", _STEP_DEGC), 5: ("T_cw_s_in", _STEP_DEGC), 6: ("idv_6", 1.0),
         7: ("idv_7", 1.0)}
"""Step IDVs: the input each moves and by how much when active."""


@dataclass(frozen=True)
class Walk:
    """One random process: knots every ``hzero +- hspan`` h at ``szero +- sspan`` [input unit]."""

    input: str
    idv: int
    hspan: float
    hzero: float
    sspan: float
    szero: float
    pulse: bool = False


WALKS = (
    Walk("x_AC_A", 8, 0.2, 0.5, 0.03, 0.485),
    Walk("x_AC_B", 8, 0.7, 1.0, 0.003, 0.005),
    Walk("T_D_feed", 9, 0.25, 0.5, 10.0, 45.0),
    Walk("T_AC_feed", 10, 0.7, 1.0, 10.0, 45.0),
    Walk("T_cw_r_in", 11, 0.15, 0.25, 10.0, 35.0),
    Walk("T_cw_s_in", 12, 0.15, 0.25, 10.0, 40.0),
    Walk("kinetics_1", 13, 1.0, 2.0, 0.25, 1.0),
    Walk("kinetics_2", 13, 1.0, 2.0, 0.25, 1.0),
    Walk("steam_fouling", 16, 0.4, 0.5, 0.25, 0.0),
    Walk("reactor_fouling", 17, 1.5, 2.0, 0.0, 0.0, pulse=True),
    Walk("condenser_fouling", 18, 2.0, 3.0, 0.0, 0.0, pulse=True),
    Walk("outlet_restriction", 20, 1.5, 2.0, 0.0, 0.0, pulse=True),
)
"""The random processes of the original simulation (its ``wlk`` data, processes 1-12)."""
STICKING = {14: ("reactor_cw_valve",), 15: ("condenser_cw_valve",),
            19: ("recycle_valve", "separator_valve", "stripper_valve", "steam_valve")}
"""Sticking-valve IDVs: the XMVs whose valves stick."""
STICK_BAND = 2.0
"""A sticking valve moves once its set point is this far [%] from where it stands."""
PULSE_FALL = 0.1
"""Hours a pulse takes to fall back to 0 once above :data:`PULSE_ON`."""
FIRST_KNOT = 0.1
"""Hours to the first knot of every process."""


def _check(idvs) -> dict[int, float]:
    active = {}
    for k, v in dict(idvs).items():
        if not isinstance(k, (int, np.integer)) or not 1 <= k <= 20:
            raise InputError(f"IDV {k!r} is not one of the disturbances 1..20")
        k, v = int(k), float(v)
        if not 0.0 <= v <= 1.0:  # NaN too
            raise InputError(f"IDV {k}: intensity {v} is outside 0..1")
        active[k] = v
    return active


def _knots(walk: Walk, intensity: float, t_end: float, rng: np.random.Generator):
    """Knot times and values of one process up to ``t_end`` [h]."""
    times, values = [0.0, FIRST_KNOT], [walk.szero, walk.szero]
    while times[-1] < t_end:
        t = times[-1]
        if walk.pulse and len(times) % 2 == 1:  # a pulse that has risen falls back
            times.append(t + PULSE_FALL)
            values.append(0.0)
            continue
        h = walk.hspan * rng.uniform(-1, 1) + walk.hzero
        target = intensity if walk.pulse else walk.sspan * rng.uniform(-1, 1) * intensity + walk.szero
        times.append(t + h)
        values.append(target)
    return np.array(times), np.array(values)


def _between_knots(t, times, values):
    """The cubic through the knots, flat at each (zero slope): smoothstep between values."""
    k = np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 2)
    tau = (t - times[k]) / (times[k + 1] - times[k])
    return values[k] + (values[k + 1] - values[k]) * tau * tau * (3 - 2 * tau)


def signals(idvs, times, seed: int = 0, step_time: float = 0.0) -> dict[str, np.ndarray]:
    """Values of the disturbance inputs at ``times`` [h] with the IDVs ``{number: intensity}`` on.

    Step IDVs act from ``step_time`` [h]; random processes run from time 0.
    Inputs no active IDV moves are left out (they keep their nominal values).
    """
    active = _check(idvs)
    times = np.asarray(times, dtype=float)
    out: dict[str, np.ndarray] = {}
    t_end = float(times.max(initial=0.0)) + 1.0
    for number, walk in enumerate(WALKS):
        if walk.idv not in active:
            continue
        rng = np.random.default_rng([seed, number])
        knots = _knots(walk, active[walk.idv], t_end, rng)
        out[walk.input] = _between_knots(times, *knots)
    nominal = {v.name: v.nominal for v in inputs()}
    for number, (name, size) in STEPS.items():
        if number in active:
            on = (times >= step_time) * size * active[number]
            out[name] = out.get(name, nominal[name] + 0 * times) + on
    return out


def sticking_valves(idvs) -> tuple[str, ...]:
    """The XMVs whose valves stick with these IDVs active."""
    active = _check(idvs)
    return tuple(v for k, valves in STICKING.items() if active.get(k, 0.0) > 0 for v in valves)


class StickingValve:
    """A valve that holds its position until its set point moves more than :data:`STICK_BAND`."""

    def __init__(self, position: float):
        self.position = float(position)

    def command(self, set_point: float) -> float:
        """The position the valve is driven to for ``set_point`` [%]."""
        if abs(set_point - self.position) > STICK_BAND:
            self.position = float(set_point)
        return self.position
