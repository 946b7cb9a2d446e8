"""RTO scheme specification (TOML), validated on load."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from twin.core.config import Count, Filter, NonNegative, Positive, build, read_toml
from twin.core.errors import InputError
from twin.core.model_ref import with_resolved_model


@dataclass(frozen=True)
class SteadyStateSpec:
    """Steady-state detection: window [samples], drift threshold [noise std], sampling."""

    window: Count(2, 100_000) = 30
    threshold: Positive = 1.0
    sample_interval: Positive = 20.0
    max_wait: Positive = 50000.0


@dataclass(frozen=True)
class ConsistencySpec:
    """A data-consistency check: ``expression`` of measured means within [low, high]."""

    expression: str
    low: float
    high: float


@dataclass(frozen=True)
class ModifierSpec:
    """Modifier adaptation: perturbation per input, gradient filter and input filter (0..1]."""

    perturbation: dict[str, Positive] = field(default_factory=dict)
    gradient_filter: Filter = 1.0
    input_filter: Filter = 0.8


@dataclass(frozen=True)
class RTOSpec:
    """An RTO application.

    Attributes
    ----------
    scheme : str
        ``"two-step"`` (steady-state detection, consistency check, parameter
        estimation, optimisation) or ``"modifier-adaptation"``.
    plant, model : str
        Model references of the plant (simulated here) and of the RTO's model
        (names, or model files relative to the RTO file).
    economics : str
        Shipped economics name or a file path.
    measurements : dict
        Measured variables of the plant and their noise standard deviation.
    estimate : tuple of str
        Model parameters estimated by the two-step scheme (on a log scale).
    fit : tuple of str
        Measured variables whose squared errors the estimation minimises.
    start : dict
        Inputs at the start.
    iterations : int
        RTO iterations.
    """

    plant: str
    model: str
    economics: str
    measurements: dict[str, NonNegative]
    scheme: Literal["two-step", "modifier-adaptation"] = "modifier-adaptation"
    estimate: tuple[str, ...] = ()
    fit: tuple[str, ...] = ()
    start: dict[str, float] = field(default_factory=dict)
    iterations: Count(1, 10_000) = 10
    seed: Count(0, 2 ** 32 - 1) = 0
    tick: Positive = 10.0
    steady_state: SteadyStateSpec = field(default_factory=SteadyStateSpec)
    consistency: tuple[ConsistencySpec, ...] = ()
    modifier_adaptation: ModifierSpec = field(default_factory=ModifierSpec)

    def __post_init__(self) -> None:
        if self.scheme == "two-step" and (not self.estimate or not self.fit):
            raise InputError("the two-step scheme needs 'estimate' and 'fit'")


def load_rto(path: str | Path) -> RTOSpec:
    """Read an RTO file."""
    return rto_from_dict(read_toml(path), Path(path).name, Path(path).parent)


def rto_from_dict(data: dict, where: str = "rto", base: Path | None = None) -> RTOSpec:
    """A checked :class:`RTOSpec` from a parsed table (model files relative to ``base``,
    default: the working folder)."""
    for key in ("plant", "model"):
        data = with_resolved_model(data, base, key)
    return build(RTOSpec, data, where)
