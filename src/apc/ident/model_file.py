"""Identified linear models: what identification produces and every command loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.core.errors import InputError


@dataclass(frozen=True)
class IdentifiedModel:
    """A discrete-time linear state-space model in deviation variables.

    ``x[k+1] = A x[k] + B (u[k] - u0)``, ``y[k] = C x[k] + D (u[k] - u0) + y0``,
    sampled every ``dt`` [s] with a zero-order hold on the inputs.

    Attributes
    ----------
    name : str
        Model name.
    A, B, C, D : numpy.ndarray
        State-space matrices, shapes (n, n), (n, m), (p, n), (p, m).
    dt : float
        Sample time [s].
    inputs, outputs : tuple of str
        Input (MV and DV) and output (CV) names, in matrix order.
    input_units, output_units : tuple of str
        Their units (pint spelling).
    u0, y0 : numpy.ndarray
        Operating point the deviations are taken from, in those units.
    provenance : dict
        Where the model came from: data source, segment, method, fit.
    """

    name: str
    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    dt: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_units: tuple[str, ...]
    output_units: tuple[str, ...]
    u0: np.ndarray
    y0: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, m, p = np.shape(self.A)[0], len(self.inputs), len(self.outputs)
        shapes = {"A": (n, n), "B": (n, m), "C": (p, n), "D": (p, m)}
        for key, shape in shapes.items():
            value = np.asarray(getattr(self, key), dtype=float)
            if value.shape != shape:
                raise InputError(f"identified model '{self.name}': {key} has shape {value.shape}, "
                                 f"expected {shape}")
            if not np.all(np.isfinite(value)):
                raise InputError(f"identified model '{self.name}': {key} has non-finite entries")
        if not (np.isfinite(self.dt) and self.dt > 0):
            raise InputError(f"identified model '{self.name}': sample time {self.dt} s must be > 0")
        if len(self.input_units) != m or len(self.output_units) != p:
            raise InputError(f"identified model '{self.name}': one unit per input and per output")
        if np.shape(self.u0) != (m,) or np.shape(self.y0) != (p,):
            raise InputError(f"identified model '{self.name}': u0 needs {m} values and y0 {p}")
