"""Plant data aligned with a model: sample times, held inputs, measured variables."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.core.errors import InputError


@dataclass(frozen=True)
class CalibrationData:
    """Samples of a plant on one time axis, in the model's units.

    Attributes
    ----------
    t : ndarray
        Sample times [model time unit], strictly increasing, ``N >= 3`` samples.
    u : ndarray
        ``(N, n_u)`` inputs in model order [declared units], each held from
        its sample to the next (zero-order hold).
    names : tuple of str
        Measured variables (states or outputs of the model).
    y : ndarray
        ``(N, len(names))`` measurements [declared units]; NaN where a
        variable was not sampled (a slow analyser) or was rejected.
    source : str
        Where the data came from, for provenance.
    """

    t: np.ndarray
    u: np.ndarray
    names: tuple[str, ...]
    y: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        where = f"calibration data {self.source}".strip()
        t = np.asarray(self.t, dtype=float)
        u = np.asarray(self.u, dtype=float)
        y = np.asarray(self.y, dtype=float)
        if t.ndim != 1 or t.size < 3:
            raise InputError(f"{where}: need at least 3 samples, got {t.size}")
        if not np.all(np.isfinite(t)) or np.any(np.diff(t) <= 0):
            raise InputError(f"{where}: sample times must be finite and strictly increasing")
        if u.ndim != 2 or u.shape[0] != t.size or not np.all(np.isfinite(u)):
            raise InputError(f"{where}: inputs must be finite, one row per sample")
        if y.shape != (t.size, len(self.names)):
            raise InputError(f"{where}: measurements must have one column per measured name")
        if not self.names:
            raise InputError(f"{where}: no measured variable")
        for j, name in enumerate(self.names):
            if not np.any(np.isfinite(y[:, j])):
                raise InputError(f"{where}: measured variable '{name}' has no sample")
        object.__setattr__(self, "t", t)
        object.__setattr__(self, "u", u)
        object.__setattr__(self, "y", y)

    @property
    def n_measurements(self) -> int:
        """Number of finite samples that enter the fit."""
        return int(np.isfinite(self.y).sum())
