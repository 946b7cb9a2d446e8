"""The MIMO steady-state gain matrix: uncertainty, RGA, singular values, conditioning.

Uncertainty is propagated by sampling: gain matrices are drawn from the
normal distribution of the estimate (mean and covariance from the
identification) and the relative gain array, singular values and
condition number are computed for each draw; each figure is reported as
its value at the estimate with a 95 % interval (2.5 and 97.5 percentiles).

A gain matrix is flagged ill-conditioned when its condition number exceeds
:data:`CONDITION_LIMIT` or an element of its relative gain array exceeds
:data:`RGA_LIMIT` in magnitude. Such a plant has a *weak direction*: the
input combination of the smallest singular value (its right singular
vector) moves the outputs little, so a test with independent input moves
barely excites it and the identified model is unreliable there. The
remedy is to re-test with correlated moves along that direction.
Singular values and the condition number depend on the units, so they
are computed on the *scaled* gain matrix ``diag(1/s_y) G diag(s_u)``,
with ``s_u`` a typical move of each input and ``s_y`` a typical variation
of each output (the identification uses their standard deviations in the
data; without scales the units of the data are used). The weak input
direction is reported back in the inputs' own units. The relative gain
array does not depend on scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CONDITION_LIMIT = 50.0
"""Condition number above which the gain matrix is flagged ill-conditioned [-]."""
RGA_LIMIT = 10.0
"""Largest |RGA element| above which the gain matrix is flagged ill-conditioned [-]."""
DRAWS = 2000
"""Gain matrices drawn for the uncertainty."""


def rga(gain: np.ndarray) -> np.ndarray:
    """Relative gain array ``G * inv(G).T`` of a square gain matrix (NaN when singular)."""
    try:
        return gain * np.linalg.inv(gain).T
    except np.linalg.LinAlgError:
        return np.full_like(gain, np.nan)


@dataclass(frozen=True)
class GainAnalysis:
    """A gain matrix with its uncertainty and its conditioning.

    Attributes
    ----------
    gain, gain_std : numpy.ndarray
        Gains (p, m) [CV unit / input unit] and their standard deviations.
    rga, rga_low, rga_high : numpy.ndarray or None
        Relative gain array and its 95 % interval (square matrices only).
    singular_values, sv_low, sv_high : numpy.ndarray
        Singular values of the scaled gains, largest first, and their 95 % intervals.
    condition, condition_low, condition_high : float
        Condition number and its 95 % interval.
    weak_input, weak_output : numpy.ndarray
        Input move (in the inputs' units, unit length) and output direction
        (scaled) of the smallest singular value.
    inputs, outputs : tuple of str
        Names, in matrix order.
    """

    gain: np.ndarray
    gain_std: np.ndarray
    rga: np.ndarray | None
    rga_low: np.ndarray | None
    rga_high: np.ndarray | None
    singular_values: np.ndarray
    sv_low: np.ndarray
    sv_high: np.ndarray
    condition: float
    condition_low: float
    condition_high: float
    weak_input: np.ndarray
    weak_output: np.ndarray
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]

    @property
    def ill_conditioned(self) -> bool:
        """Condition number above :data:`CONDITION_LIMIT` or an |RGA| element above :data:`RGA_LIMIT`."""
        large_rga = self.rga is not None and bool(np.nanmax(np.abs(self.rga)) > RGA_LIMIT)
        return bool(self.condition > CONDITION_LIMIT) or large_rga

    def warning(self) -> str | None:
        """One line naming the weak input direction to re-test, or None."""
        if not self.ill_conditioned:
            return None
        move = " ".join(f"{v:+.2f} {name}" for v, name in zip(self.weak_input, self.inputs))
        reasons = [f"condition number {self.condition:.0f}"
                   + (f" > {CONDITION_LIMIT:g}" if self.condition > CONDITION_LIMIT else "")]
        if self.rga is not None:
            biggest = float(np.nanmax(np.abs(self.rga)))
            reasons.append(f"largest |RGA| {biggest:.1f}" + (f" > {RGA_LIMIT:g}" if biggest > RGA_LIMIT else ""))
        return (f"WARNING: ill-conditioned gain matrix ({', '.join(reasons)}): the input direction "
                f"[{move}] moves the outputs {self.singular_values[0] / self.singular_values[-1]:.0f} "
                f"times less than the strongest one; re-test with correlated moves along it")

    def as_dict(self) -> dict:
        """JSON-friendly figures."""
        def listed(a):
            return None if a is None else np.asarray(a).tolist()
        return {
            "inputs": list(self.inputs), "outputs": list(self.outputs),
            "gain": listed(self.gain), "gain_std": listed(self.gain_std),
            "rga": listed(self.rga), "rga_95": [listed(self.rga_low), listed(self.rga_high)],
            "singular_values": listed(self.singular_values),
            "singular_values_95": [listed(self.sv_low), listed(self.sv_high)],
            "condition_number": self.condition,
            "condition_number_95": [self.condition_low, self.condition_high],
            "weak_input_direction": listed(self.weak_input),
            "ill_conditioned": self.ill_conditioned, "warning": self.warning(),
        }


def analyse_gains(gain: np.ndarray, covariance: np.ndarray, inputs, outputs,
                  input_scale: np.ndarray | None = None, output_scale: np.ndarray | None = None,
                  seed: int = 0) -> GainAnalysis:
    """Conditioning of ``gain`` (p, m) with uncertainty from ``covariance`` (p m, p m, row-major).

    ``input_scale`` (m) and ``output_scale`` (p) are typical moves and
    variations in the data's units (default: 1).
    """
    gain = np.asarray(gain, float)
    p, m = gain.shape
    s_u = np.ones(m) if input_scale is None else np.asarray(input_scale, float)
    s_y = np.ones(p) if output_scale is None else np.asarray(output_scale, float)
    scaling = np.outer(1 / s_y, s_u)
    rng = np.random.default_rng(seed)
    draws = rng.multivariate_normal(gain.ravel(), covariance, size=DRAWS,
                                    check_valid="ignore").reshape(DRAWS, p, m)
    u_mat, sigma, vt = np.linalg.svd(gain * scaling)
    sv_draws = np.linalg.svd(draws * scaling, compute_uv=False)
    cond_draws = sv_draws[:, 0] / sv_draws[:, -1]
    square = p == m
    rga_value = rga_low = rga_high = None
    if square:
        rga_value = rga(gain)
        with np.errstate(all="ignore"):
            rga_draws = np.array([rga(g) for g in draws])
        rga_low, rga_high = np.nanpercentile(rga_draws, [2.5, 97.5], axis=0)
    return GainAnalysis(
        gain=gain, gain_std=np.sqrt(np.maximum(np.diag(covariance), 0)).reshape(p, m),
        rga=rga_value, rga_low=rga_low, rga_high=rga_high,
        singular_values=sigma, sv_low=np.percentile(sv_draws, 2.5, axis=0),
        sv_high=np.percentile(sv_draws, 97.5, axis=0),
        condition=float(sigma[0] / sigma[-1]),
        condition_low=float(np.percentile(cond_draws, 2.5)),
        condition_high=float(np.percentile(cond_draws, 97.5)),
        weak_input=_unit(s_u * vt[len(sigma) - 1]), weak_output=u_mat[:, len(sigma) - 1],
        inputs=tuple(inputs), outputs=tuple(outputs),
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` of length 1, its largest element positive."""
    vector = vector / np.linalg.norm(vector)
    return vector if vector[np.argmax(np.abs(vector))] > 0 else -vector
