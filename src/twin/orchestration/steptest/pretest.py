"""The pre-test of a step test: one step per MV in turn, fitted, turned into the design's prior."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from apc.steptest.pretest import StepFit, fit_step
from twin.core.errors import InputError
from twin.orchestration.steptest.config import StepTestSpec

log = logging.getLogger(__name__)

SIGNIFICANT = 4.0
"""A response counts when its fitted size is this many noise standard deviations [-]."""


@dataclass(frozen=True)
class PretestPlan:
    """The pre-test's moves (samples, MVs) around the base and where each MV's step starts."""

    moves: np.ndarray
    starts: tuple[int, ...]
    hold: int
    steps: np.ndarray


@dataclass(frozen=True)
class PretestResult:
    """What the pre-test found.

    Attributes
    ----------
    fits : dict
        ``(cv, mv)`` -> :class:`~apc.steptest.pretest.StepFit` of every pair.
    gains : numpy.ndarray
        Fitted steady-state gains (CVs x MVs) [CV unit / MV unit].
    significant : numpy.ndarray
        Whether each response stood out of the noise (CVs x MVs).
    settling_time : float
        Longest settling time of a significant response [time unit].
    """

    fits: dict[tuple[str, str], StepFit]
    gains: np.ndarray
    significant: np.ndarray
    settling_time: float


def plan_pretest(spec: StepTestSpec) -> PretestPlan:
    """Each MV in turn: up by its step for ``hold``, back to base for ``hold``."""
    pre, dt = spec.pretest, spec.test.sample_time
    hold = max(2, int(round(pre.hold / dt)))
    steps = np.array([pre.steps.get(m.name, m.amplitude or 0.0) for m in spec.mv])
    moves = np.zeros((2 * hold * len(spec.mv), len(spec.mv)))
    starts = []
    for j in range(len(spec.mv)):
        start = 2 * hold * j
        moves[start:start + hold, j] = steps[j]
        starts.append(start)
    return PretestPlan(moves, tuple(starts), hold, steps)


def estimate(spec: StepTestSpec, plan: PretestPlan, time: np.ndarray, mv: np.ndarray,
             cv: np.ndarray, base: np.ndarray) -> PretestResult:
    """Fit every CV's response to every MV's step (rows of the pre-test only)."""
    fits: dict[tuple[str, str], StepFit] = {}
    p, m = len(spec.cv), len(spec.mv)
    gains, significant = np.zeros((p, m)), np.zeros((p, m), dtype=bool)
    settling = []
    for j, mvc in enumerate(spec.mv):
        start = plan.starts[j]
        rows = slice(start, start + plan.hold)
        size = float(mv[start + plan.hold - 1, j] - base[j])
        if size == 0:
            raise InputError(f"pretest: mv '{mvc.name}' could not move (its limits leave no room "
                             "for the step)")
        for i, cvc in enumerate(spec.cv):
            fit = fit_step(time[rows], cv[rows, i], float(time[start]) + 1e-9, size)
            fits[(cvc.name, mvc.name)] = fit
            gains[i, j] = fit.gain
            noise = cvc.noise_std if cvc.noise_std > 0 else 1e-9 * max(1.0, abs(cv[start, i]))
            significant[i, j] = abs(fit.gain * size) > SIGNIFICANT * noise
            if significant[i, j]:
                settling.append(fit.settling_time)
    if not settling:
        raise InputError("pretest: no CV responded to the steps above its noise; give larger "
                         "pretest.steps or a longer pretest.hold")
    return PretestResult(fits, gains, significant, float(max(settling)))


def with_prior(spec: StepTestSpec, found: PretestResult) -> StepTestSpec:
    """``spec`` with the pre-test's settling time, and its gains where the file gives none."""
    cvs = []
    for i, c in enumerate(spec.cv):
        gains = {m.name: float(found.gains[i, j]) if found.significant[i, j] else 0.0
                 for j, m in enumerate(spec.mv)}
        cvs.append(replace(c, gains={**gains, **c.gains}))
    log.info("pretest: settling time %.4g, gains %s", found.settling_time, found.gains.tolist())
    return replace(spec, test=replace(spec.test, settling_time=found.settling_time), cv=tuple(cvs))
