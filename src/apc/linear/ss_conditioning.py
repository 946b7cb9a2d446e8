"""Ill-conditioned steady-state gain matrices: the directions the optimiser leaves alone.

A gain matrix whose rows are nearly parallel (a high-purity column in the
LV configuration: moving reflux and boilup together changes both product
compositions a lot, moving them apart changes them very little) has a
weak input direction: the right singular vector of its smallest singular
value. An optimiser that trusts the model there asks for large MV moves
to get small CV changes, and when the gain along that direction is wrong
(it usually is: it is the difference of large, nearly equal gains) the
targets swing from cycle to cycle. The remedy of industrial steady-state
optimisers is to leave such directions alone: the MV change gets no
component along a direction whose singular value is below a threshold.

Scaling decides which directions are weak. The MVs are scaled by their
``scale`` (the typical magnitude the controller already uses; it does not
change when an operator moves a limit, unlike the MV range, and it is
finite where a range may not be). Each CV row is then scaled to a largest
absolute gain of 1: what makes a matrix ill-conditioned is rows that are
nearly parallel, whatever the CVs' units, and the CVs' value magnitudes
would not do (column A's ``x_D`` near 0.99 and ``x_B`` near 0.01 scaled by
their values give a condition number of about 8,800 instead of 140).
A structural null space (more MVs than active CVs) is not weak: moving
along it changes no CV, and it is where the economics choose between MVs;
only the ``min(n_cv, n_mv)`` singular values are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Conditioning:
    """The SVD of the scaled gain matrix of the active CVs.

    Attributes
    ----------
    condition : float
        Largest over smallest of the ``min(n_cv, n_mv)`` singular values
        (``inf`` when one is 0).
    weakest : str
        One line: the weakest input direction and its singular value ratio.
    frozen : tuple of str
        One line per direction not moved (singular value below the threshold).
    directions : numpy.ndarray
        The frozen directions, (n_frozen, n_mv), unit vectors in scaled MV
        coordinates (MV change / MV scale).
    """

    condition: float
    weakest: str
    frozen: tuple[str, ...]
    directions: np.ndarray


def describe(direction: np.ndarray, names: list[str]) -> str:
    """A direction as ``+0.71 L_T +0.71 V_B`` (components below 0.05 left out; the largest positive)."""
    d = direction / np.max(np.abs(direction))
    d = d * np.sign(d[np.argmax(np.abs(d))]) / np.linalg.norm(d)
    parts = [f"{v:+.2f} {n}" for v, n in zip(d, names) if abs(v) >= 0.05]
    return " ".join(parts)


def analyse(scaled_gains: np.ndarray, mv_names: list[str], min_ratio: float) -> Conditioning:
    """Singular directions of ``scaled_gains`` (active CVs x MVs, MVs already scaled).

    Rows are scaled to a largest absolute gain of 1 here; all-zero rows are
    left out. ``min_ratio`` is ``steady_state.min_singular_value``.
    """
    g = np.asarray(scaled_gains, dtype=float)
    peak = np.max(np.abs(g), axis=1) if g.size else np.zeros(0)
    g = g[peak > 0] / peak[peak > 0, None]
    n_mv = len(mv_names)
    if g.shape[0] == 0:
        return Conditioning(float("nan"), "no active CV with a gain", (), np.zeros((0, n_mv)))
    _, s, vt = np.linalg.svd(g)
    k = min(g.shape)
    s, vt = s[:k], vt[:k]
    ratio = s / s[0] if s[0] > 0 else np.zeros(k)
    condition = float(s[0] / s[-1]) if s[-1] > 0 else float("inf")
    weakest = f"{describe(vt[-1], mv_names)}: singular value {ratio[-1]:.3g} of the largest"
    weak = [i for i in range(1, k) if ratio[i] < min_ratio]
    frozen = tuple(f"{describe(vt[i], mv_names)}: singular value {ratio[i]:.3g} of the largest, "
                   f"below {min_ratio:g}: not moved" for i in weak)
    return Conditioning(condition, weakest, frozen, vt[weak] if weak else np.zeros((0, n_mv)))
