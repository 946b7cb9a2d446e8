"""Can the estimator tell the integrating disturbances apart? (plain linear algebra)

Offset-free control adds integrating (random-walk) disturbance states to
the model: biases on measurements, offsets on inputs, parameters. For the
augmented model ``x+ = A x + B_d d``, ``d+ = d``, ``y = C x + C_d d`` (one
control interval, linearised at the operating point) the estimator can
find them only if the augmented pair is detectable, which holds exactly
when (Pannocchia & Rawlings 2003, discrete time)

- the plant's own pair ``(A, C)`` is detectable (every mode with
  ``|lambda| >= 1`` is seen by a measurement), and
- ``rank [[I - A, -B_d], [C, C_d]] = n_x + n_d``: no steady combination of
  states and disturbances leaves every measurement unchanged;

which needs ``n_d <= n_y`` (no more disturbances than measurements). When
the rank falls short, the null space of that matrix names the disturbances
that look alike. With fewer disturbances than CVs held at setpoints, the
offset cannot be removed in every CV: a warning, not an error.

The nonlinear (EKF/MHE) and the linear (Kalman) estimators use the same check.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from twin.core.errors import InputError

log = logging.getLogger(__name__)

RANK_TOL = 1e-6
"""Singular values below this fraction of the largest count as zero (scaled matrices).

Loose on purpose: the model is linearised where the plant is, which need not be
an exact steady state, so disturbances that are alike at steady state differ
there by about the distance from it (1e-8 relative at the exothermic CSTR's
nominal point, where well-chosen disturbance models give 1e-2 or more)."""

INVOLVED = 1e-3
"""A null vector's component above this (normalised) names a disturbance as involved."""


@dataclass(frozen=True)
class DetectabilityReport:
    """Outcome of a passed check.

    Attributes
    ----------
    disturbances : tuple of str
        The integrating disturbances, as labelled by the caller.
    n_states, n_measurements : int
    smallest_singular_value : float
        Of the scaled rank matrix, relative to its largest (how close to
        undetectable the choice is; 1 for no disturbances).
    warnings : tuple of str
        One line each (fewer disturbances than CVs at setpoints).
    """

    disturbances: tuple[str, ...]
    n_states: int
    n_measurements: int
    smallest_singular_value: float
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for the log."""
        names = ", ".join(self.disturbances) or "none"
        return (f"disturbance model detectable: {len(self.disturbances)} integrating "
                f"disturbance(s) ({names}) from {self.n_measurements} measurement(s); smallest "
                f"relative singular value {self.smallest_singular_value:.2e}")


def _join(names: Sequence[str]) -> str:
    names = list(names)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def check_disturbance_model(A: np.ndarray, B_d: np.ndarray, C: np.ndarray, C_d: np.ndarray,
                            disturbances: Sequence[str], measurements: Sequence[str],
                            states: Sequence[str], n_controlled: int = 0,
                            x_scale: np.ndarray | None = None,
                            d_scale: np.ndarray | None = None,
                            y_scale: np.ndarray | None = None,
                            where: str = "disturbance model") -> DetectabilityReport:
    """Check the augmented model; raise a one-line :class:`InputError` if it is undetectable.

    Parameters
    ----------
    A, B_d, C, C_d : numpy.ndarray
        Discrete-time model over one control interval, shapes (n_x, n_x),
        (n_x, n_d), (n_y, n_x), (n_y, n_d).
    disturbances, measurements, states : sequence of str
        Labels for the messages (``"bias 'T'"``, ``"input 'T_c'"``...).
    n_controlled : int
        CVs held at setpoints (the warning when there are fewer disturbances).
    x_scale, d_scale, y_scale : numpy.ndarray, optional
        Typical magnitudes of states, disturbances and measurements, for a
        rank test that does not depend on units.
    where : str
        Start of the error messages (what is being checked).
    """
    A, B_d, C, C_d = (np.atleast_2d(np.asarray(m, float)) for m in (A, B_d, C, C_d))
    n_x, n_d, n_y = A.shape[0], len(disturbances), len(measurements)
    B_d, C_d = B_d.reshape(n_x, n_d), C_d.reshape(n_y, n_d)
    C = C.reshape(n_y, n_x)
    sx = np.ones(n_x) if x_scale is None else np.asarray(x_scale, float)
    sd = np.ones(n_d) if d_scale is None else np.asarray(d_scale, float)
    sy = np.ones(n_y) if y_scale is None else np.asarray(y_scale, float)
    A_s = A * sx[None, :] / sx[:, None]
    C_s = C * sx[None, :] / sy[:, None]
    B_s = B_d * sd[None, :] / sx[:, None]
    D_s = C_d * sd[None, :] / sy[:, None]
    seen = _join(measurements) if n_y else "none"
    if n_d > n_y:
        raise InputError(f"{where}: {n_d} integrating disturbances ({', '.join(disturbances)}) "
                         f"but only {n_y} measurement(s) ({seen}): at most {n_y} can be estimated; drop "
                         f"{n_d - n_y} (a disturbance, or bias = false on a measurement)")
    _check_plant_detectable(A_s, C_s, states, seen, where)
    M = np.block([[np.eye(n_x) - A_s, -B_s], [C_s, D_s]])
    s = np.linalg.svd(M, compute_uv=False) if M.size else np.ones(1)
    smallest = float(s[-1] / s[0]) if n_d and s[0] > 0 else 1.0
    if n_d and smallest < RANK_TOL:
        _, sv, Vt = np.linalg.svd(M)  # (n_y >= n_d: one singular value per column)
        null = Vt[sv < RANK_TOL * sv[0]]
        d_weight = np.abs(null[:, n_x:]).max(axis=0)
        x_weight = np.abs(null[:, :n_x]).max(axis=0)
        top = max(d_weight.max(), x_weight.max())
        alike = [d for d, v in zip(disturbances, d_weight) if v > INVOLVED * top] \
            or list(disturbances)
        # an integrating mode: a steady change of states the plant itself keeps ((I - A) dx = 0)
        dx = null[0, :n_x]
        integrating = np.linalg.norm(dx) > INVOLVED and \
            np.linalg.norm((np.eye(n_x) - A_s) @ dx) <= RANK_TOL ** 0.5 * np.linalg.norm(dx)
        moving = [x for x, v in zip(states, x_weight) if v > INVOLVED * top]
        if integrating and moving:
            raise InputError(f"{where}: {_join(alike)} cannot be told apart from a steady change "
                             f"of {_join(moving)} (an integrating mode) by the measurements "
                             f"({seen}): drop {'it' if len(alike) == 1 else 'them'} or put the "
                             f"disturbance on an input that moves {_join(moving)}")
        if len(alike) > 1:
            raise InputError(f"{where}: {_join(alike)} cannot be told apart from the measurements "
                             f"({seen}): keep only one of them (drop the other disturbances, or set "
                             f"bias = false on the measurements named), or measure a signal that "
                             f"sees them differently")
        raise InputError(f"{where}: {alike[0]} moves none of the measurements ({seen}) at steady "
                         f"state: drop it or measure a signal it moves")
    warnings = []
    if n_d < n_controlled:
        warnings.append(f"{n_controlled} CVs at setpoints but {n_d} integrating disturbance(s)"
                        f"{' (' + ', '.join(disturbances) + ')' if n_d else ''}: offset can be "
                        f"removed in at most {n_d} of them")
    for w in warnings:
        log.warning(w)
    return DetectabilityReport(tuple(disturbances), n_x, n_y, smallest, tuple(warnings))


def _check_plant_detectable(A: np.ndarray, C: np.ndarray, states: Sequence[str], seen: str,
                            where: str) -> None:
    """PBH test: every mode of ``A`` with ``|lambda| >= 1`` must show in ``C``."""
    n_x = A.shape[0]
    if n_x == 0:
        return
    lam, V = np.linalg.eig(A)
    for k, value in enumerate(lam):
        if abs(value) < 1 - 1e-9:
            continue
        pbh = np.vstack([value * np.eye(n_x) - A, C.astype(complex)])
        s = np.linalg.svd(pbh, compute_uv=False)
        if s[-1] <= RANK_TOL * max(s[0], 1.0):
            mode = np.abs(V[:, k])
            names = [n for n, v in zip(states, mode) if v > 0.1 * mode.max()]
            kind = "integrating" if abs(abs(value) - 1) < 1e-6 else "unstable"
            raise InputError(f"{where}: the measurements ({seen}) do not see the {kind} mode of "
                             f"{_join(names)}: measure one of them")
