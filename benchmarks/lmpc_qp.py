"""One cycle's steady-state LP and condensed dynamic QP of the 40 x 80 example, as plain matrices.

What the ``lmpc_large`` figure hands to each CasADi conic solver, built
from the shipped model (``pairs_40x80.toml``, its exact step coefficients
at the 60 s control interval) and its controller file
(``pairs_40x80_controller.toml``):

**Dynamic QP** (condensed, DMC form). Free moves ``du`` [MV units]: one per
MV and move block (40 x 6 = 240), applied at the block starts ``t_j``. The
prediction over ``P = 60`` intervals is ``y(k) = f(k) + sum_j S(k - t_j) du_j``
with ``S`` the step coefficients and ``f`` the free response (here the
operating point plus a seeded output disturbance of +-60 % of each CV's
range, so about a third of the CVs start outside their soft ranges). One
slack per CV and side [CV units] (160) softens the CV ranges, checked at
six coincidence points (6, 12, 24, 36, 48, 60 intervals). Minimised:

    sum_k sum_(setpoint CVs) weight (y - setpoint)^2 + sum_j move_weight du_j^2
    + sum penalty (s + penalty s^2 / 2)

subject to the MV limits on the accumulated moves at each block (240
rows), the soft CV ranges (960 rows) and ``|du| <= max_move``, ``s >= 0``
(bounds): 400 variables, 1,200 rows. This is the form ``"soft_ranges"``.

The form ``"targets"`` is DMC's: every CV tracked to its steady-state
target (its setpoint, else its free response clipped into its range, as
the LP would place it; weight ``1 / range^2`` where the controller file
gives none), no CV rows and no slacks: 240 variables, 240 rows. The LP
keeps the CVs in range at steady state; the dynamic QP only meets the MV
limits.

**Steady-state LP** (the economic layer). Steady moves ``du_ss`` (40) and
one slack per CV side (160): minimise ``sum cost du_ss + sum penalty s``
subject to the MV limits, the CV ranges (setpoints as equal low and high
limits) on ``y_ss = f(end) + G du_ss``, and a zero rate for the ramp CVs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

COINCIDENCE = (6, 12, 24, 36, 48, 60)
"""Intervals at which the soft CV ranges are checked in the dynamic QP."""


@dataclass(frozen=True)
class Problem:
    """``min 1/2 x'Hx + g'x`` s.t. ``lba <= A x <= uba``, ``lbx <= x <= ubx`` (H empty: an LP)."""

    H: np.ndarray
    g: np.ndarray
    A: np.ndarray
    lba: np.ndarray
    uba: np.ndarray
    lbx: np.ndarray
    ubx: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        """(variables, rows)."""
        return self.A.shape[1], self.A.shape[0]


def cycle_problems(tf, spec, seed: int = 1, form: str = "soft_ranges") -> tuple[Problem, Problem]:
    """The steady-state LP and the dynamic QP of one cycle (module docstring).

    ``form``: ``"soft_ranges"`` (the setpoint CVs tracked, every CV's range
    soft at the coincidence points) or ``"targets"`` (every CV tracked to a
    steady-state target, weight ``1 / range^2`` where it has none, no CV
    rows: the DMC form where the LP keeps the CVs in range).
    """
    rng = np.random.default_rng(seed)
    cvs, mvs = spec.cv, spec.mv
    p = len(cvs)
    order = [tf.outputs.index(c.name) for c in cvs]
    columns = [tf.inputs.index(v.name) for v in mvs]
    span = np.array([c.high - c.low for c in cvs]) / 0.8          # the CV ranges of the example
    free = tf.y0[order] + rng.uniform(-0.6, 0.6, p) * span
    steps = tf.step_coefficients(spec.sample_time, spec.prediction_horizon)[:, order][:, :, columns]
    if form == "targets":
        low = np.array([c.low for c in cvs])
        high = np.array([c.high for c in cvs])
        targets = [(c.setpoint if c.setpoint is not None else float(np.clip(f, lo, hi)),
                    c.weight or 1.0 / s ** 2) for c, f, lo, hi, s in zip(cvs, free, low, high, span)]
        return _steady_lp(tf, spec, free, order, columns), _dynamic_qp(spec, steps, free, (), targets)
    targets = [(c.setpoint, c.weight) if c.setpoint is not None else None for c in cvs]
    return (_steady_lp(tf, spec, free, order, columns),
            _dynamic_qp(spec, steps, free, COINCIDENCE, targets))


def _dynamic_qp(spec, steps: np.ndarray, free: np.ndarray, coincidence, targets) -> Problem:
    cvs, mvs = spec.cv, spec.mv
    n_steps, p, m = steps.shape
    blocks = spec.blocks()
    starts = np.concatenate([[0], np.cumsum(blocks)[:-1]]).astype(int)
    nb = len(blocks)
    theta = np.zeros((n_steps, p, nb, m))                     # y(k) = f + theta[k-1] du
    for j, start in enumerate(starts):
        theta[start:, :, j, :] = steps[:n_steps - start]
    theta = theta.reshape(n_steps, p, nb * m)
    nu, ns = nb * m, 2 * p * bool(coincidence)
    h = np.zeros((nu + ns, nu + ns))
    g = np.zeros(nu + ns)
    for i, target in enumerate(targets):
        if target is None:
            continue
        value, weight = target
        rows = theta[:, i, :]
        h[:nu, :nu] += 2 * weight * rows.T @ rows
        g[:nu] += 2 * weight * (free[i] - value) * rows.sum(axis=0)
    h[:nu, :nu] += 2 * np.diag(np.tile([v.move_weight for v in mvs], nb))
    penalty = np.tile([c.penalty for c in cvs], 2)
    if ns:
        h[nu:, nu:] = np.diag(penalty ** 2)
        g[nu:] = penalty
    accumulate = np.kron(np.tril(np.ones((nb, nb))), np.eye(m))
    low_u = np.tile([v.low for v in mvs], nb) - np.tile(_u_now(spec), nb)
    high_u = np.tile([v.high for v in mvs], nb) - np.tile(_u_now(spec), nb)
    rows, lba, uba = [np.hstack([accumulate, np.zeros((nu, ns))])], [low_u], [high_u]
    for k in coincidence:
        block = theta[k - 1]
        rows.append(np.hstack([block, np.eye(p), np.zeros((p, p))]))      # y + s_lo >= low
        lba.append(np.array([c.low for c in cvs]) - free)
        uba.append(np.full(p, np.inf))
        rows.append(np.hstack([block, np.zeros((p, p)), -np.eye(p)]))     # y - s_hi <= high
        lba.append(np.full(p, -np.inf))
        uba.append(np.array([c.high for c in cvs]) - free)
    moves = np.tile([v.max_move for v in mvs], nb)
    return Problem(h, g, np.vstack(rows), np.concatenate(lba), np.concatenate(uba),
                   np.concatenate([-moves, np.zeros(ns)]), np.concatenate([moves, np.full(ns, np.inf)]))


def _steady_lp(tf, spec, free: np.ndarray, order, columns) -> Problem:
    cvs, mvs = spec.cv, spec.mv
    p = len(cvs)
    gains = tf.gain_matrix()[order][:, columns]
    cost = np.array([v.cost for v in mvs])
    penalty = np.array([c.penalty for c in cvs])
    low = np.array([c.setpoint if c.setpoint is not None else c.low for c in cvs])
    high = np.array([c.setpoint if c.setpoint is not None else c.high for c in cvs])
    ramp = np.array([c.ramp for c in cvs])
    low = np.where(ramp, 0.0, low - free)
    high = np.where(ramp, 0.0, high - free)
    a = np.hstack([gains, np.eye(p), -np.eye(p)])             # G du + s_lo - s_hi
    u_now = _u_now(spec)
    return Problem(np.zeros((0, 0)), np.concatenate([cost, penalty, penalty]), a, low, high,
                   np.concatenate([[v.low for v in mvs] - u_now, np.zeros(2 * p)]),
                   np.concatenate([[v.high for v in mvs] - u_now, np.full(2 * p, np.inf)]))


def _u_now(spec) -> np.ndarray:
    """The MVs now: the middle of their limits (the operating point of the example)."""
    return np.array([(v.low + v.high) / 2 for v in spec.mv])
