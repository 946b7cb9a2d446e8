"""Identified models in transfer-function form: one first/second-order-plus-dead-time per pair.

An industrial APC model of tens of MVs and CVs is a sparse set of CV-MV
pairs, each ``K e^{-theta s} / ((tau1 s + 1)(tau2 s + 1))`` (or integrating,
``K e^{-theta s} / (s (tau s + 1))``). As a dense discrete state space
(``form = "state_space"``, :mod:`apc.ident.model_file`) such a model of a
few hundred pairs has a thousand states and an ``A`` of a million numbers;
in this form (``form = "transfer_functions"`` in the file) it is one short
table per pair. See docs/identified-models.md.

:class:`TransferFunctionFile` is the checked content;
:meth:`TransferFunctionFile.step_coefficients` gives the exact step
responses at any sample time (the dead time exact, also when it is not a
multiple of the sample time), :meth:`TransferFunctionFile.to_model` a
sparse continuous-time :class:`~twin.core.model.Model`
(:mod:`apc.ident.tf_model`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from apc.ident.dead_time import MAX_ORDER
from apc.ident.transfer import PairModel
from twin.core.errors import InputError

if TYPE_CHECKING:
    from twin.core.model import Model

FORM = "transfer_functions"
"""Value of the ``form`` key of a file in this form."""

PAIR_KEYS = ("cv", "mv", "gain", "time_constants", "dead_time", "integrating", "pade_order")
"""Keys of one ``[[pairs]]`` table (``integrating`` optional, default false; ``pade_order``
optional, default chosen for the sample time)."""

KEYS = ("format", "format_version", "form", "name", "sample_time", "inputs", "input_units", "u0",
        "outputs", "output_units", "y0", "disturbances", "pairs", "provenance")
"""Keys of a file in this form (``disturbances`` optional)."""


@dataclass(frozen=True)
class Pair:
    """One CV-input transfer function ``K e^{-theta s} / prod(tau_i s + 1)`` (integrating: ``/ s``).

    Attributes
    ----------
    cv, mv : str
        Output and input names (the input may be an MV or a DV).
    gain : float
        ``K`` [CV unit / input unit]; integrating: [CV unit / input unit / s].
    time_constants : tuple of float
        One or two lags, largest first [s] (integrating: exactly one).
    dead_time : float
        ``theta`` [s], >= 0.
    integrating : bool
        True for a ramp (the CV integrates the input).
    pade_order : int, optional
        Padé order of the dead time in the model's realisation (0 to
        :data:`apc.ident.dead_time.MAX_ORDER`; 0 drops it); by default chosen
        for the sample time when the model is made (:mod:`apc.ident.tf_model`).
    """

    cv: str
    mv: str
    gain: float
    time_constants: tuple[float, ...]
    dead_time: float
    integrating: bool = False
    pade_order: int | None = None

    def __post_init__(self) -> None:
        where = f"pair {self.cv}/{self.mv}"
        for key in ("gain", "dead_time"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise InputError(f"{where}: {key} must be a finite number")
            object.__setattr__(self, key, float(value))
        if self.dead_time < 0:
            raise InputError(f"{where}: dead_time {self.dead_time:g} s must be >= 0")
        lags = self.time_constants
        if not isinstance(lags, (list, tuple)) or not all(
                isinstance(t, (int, float)) and not isinstance(t, bool) for t in lags):
            raise InputError(f"{where}: time_constants must be a list of numbers [s]")
        lags = tuple(sorted((float(t) for t in lags), reverse=True))
        allowed = (1,) if self.integrating else (1, 2)
        if len(lags) not in allowed:
            raise InputError(f"{where}: {len(lags)} time constants; "
                             f"{'an integrating pair has one' if self.integrating else 'give one or two'}")
        if not all(math.isfinite(t) and t > 0 for t in lags):
            raise InputError(f"{where}: time constants {list(lags)} must be finite and > 0 [s]")
        object.__setattr__(self, "time_constants", lags)
        if not isinstance(self.integrating, bool):
            raise InputError(f"{where}: integrating must be true or false")
        order = self.pade_order
        if order is not None:
            if isinstance(order, bool) or not isinstance(order, int) or not 0 <= order <= MAX_ORDER:
                raise InputError(f"{where}: pade_order {order!r} must be a whole number from 0 "
                                 f"to {MAX_ORDER}")
            if order and self.dead_time == 0:
                raise InputError(f"{where}: pade_order {order} for a pair without dead time; "
                                 "give 0 or leave it out")

    def transfer(self) -> PairModel:
        """The same pair as an :class:`apc.ident.transfer.PairModel`."""
        structure = "integrating" if self.integrating else ("sopdt" if len(self.time_constants) == 2
                                                            else "fopdt")
        return PairModel(structure, self.gain, self.time_constants, self.dead_time)


@dataclass(frozen=True)
class TransferFunctionFile:
    """An identified model as CV-input pairs in deviation variables around ``u0``, ``y0``.

    ``y_i(t) = y0_i + sum over pairs (cv = i) of G_pair(s) (u_mv - u0_mv)``.

    Attributes
    ----------
    name : str
        Model name: a letter, then letters, digits or ``_``.
    dt : float
        Nominal sample time [s]: the Padé orders of the model's dead times are
        chosen for it (:mod:`apc.ident.dead_time`); the step responses and the
        model serve any other interval.
    inputs, outputs, input_units, output_units, u0, y0, disturbances, provenance
        As in :class:`apc.ident.model_file.IdentifiedModel`.
    pairs : tuple of Pair
        At most one per CV and input; a CV or input in no pair is allowed.
    """

    name: str
    dt: float
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    input_units: tuple[str, ...]
    output_units: tuple[str, ...]
    u0: np.ndarray
    y0: np.ndarray
    pairs: tuple[Pair, ...]
    provenance: dict[str, Any] = field(default_factory=dict)
    disturbances: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from apc.ident.model_file import check_common

        where = f"identified model '{self.name}'"
        check_common(self, where)
        if not self.pairs:
            raise InputError(f"{where}: needs at least one pair")
        seen = set()
        for pair in self.pairs:
            if not isinstance(pair, Pair):
                raise InputError(f"{where}: pairs must be Pair objects")
            if pair.cv not in self.outputs:
                raise InputError(f"{where}: pair {pair.cv}/{pair.mv}: '{pair.cv}' is not an output "
                                 f"(outputs: {_some(self.outputs)})")
            if pair.mv not in self.inputs:
                raise InputError(f"{where}: pair {pair.cv}/{pair.mv}: '{pair.mv}' is not an input "
                                 f"(inputs: {_some(self.inputs)})")
            if (pair.cv, pair.mv) in seen:
                raise InputError(f"{where}: pair {pair.cv}/{pair.mv} is given twice")
            seen.add((pair.cv, pair.mv))
        object.__setattr__(self, "pairs", tuple(self.pairs))

    # -- what a controller needs -------------------------------------------
    @property
    def integrating_outputs(self) -> tuple[str, ...]:
        """Outputs with at least one integrating pair (ramp CVs), in output order."""
        ramps = {p.cv for p in self.pairs if p.integrating}
        return tuple(y for y in self.outputs if y in ramps)

    def gain_matrix(self) -> np.ndarray:
        """Gains ``K`` as a (p, m) matrix, 0 where there is no pair (integrating: rate gains)."""
        gains = np.zeros((len(self.outputs), len(self.inputs)))
        for pair in self.pairs:
            gains[self.outputs.index(pair.cv), self.inputs.index(pair.mv)] = pair.gain
        return gains

    def steady_gain(self) -> np.ndarray:
        """Steady-state gain matrix [output unit / input unit].

        Raises :class:`InputError` when a pair is integrating (no steady state).
        """
        ramps = self.integrating_outputs
        if ramps:
            raise InputError(f"identified model '{self.name}': no steady-state gain (integrating "
                             f"outputs: {', '.join(ramps)})")
        return self.gain_matrix()

    def step_coefficients(self, dt: float, n: int) -> np.ndarray:
        """Exact unit-step responses at ``dt, 2 dt, .. n dt`` [s], shape (n, p, m).

        ``S[k - 1, i, j]`` is output ``i``'s deviation at ``k dt`` after a unit
        step of input ``j`` at time 0 (held: a zero-order hold sees the same
        step), from the pairs' analytic responses with the dead time exact.
        """
        from apc.ident.dead_time import exact_step

        if not (isinstance(dt, (int, float)) and math.isfinite(dt) and dt > 0):
            raise InputError(f"step coefficients: sample time {dt} s must be > 0")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"step coefficients: {n} coefficients; need a whole number >= 1")
        t = dt * np.arange(1, int(n) + 1)
        out = np.zeros((int(n), len(self.outputs), len(self.inputs)))
        for pair in self.pairs:
            out[:, self.outputs.index(pair.cv), self.inputs.index(pair.mv)] += \
                exact_step(pair.transfer(), t)
        return out

    def to_model(self) -> "Model":
        """The sparse continuous-time :class:`~twin.core.model.Model` (:mod:`apc.ident.tf_model`)."""
        from apc.ident.tf_model import transfer_function_model

        return transfer_function_model(self)

    # -- the file ----------------------------------------------------------
    def as_toml_data(self) -> dict[str, Any]:
        """The file's content as plain TOML values (see docs/identified-models.md)."""
        from apc.ident.model_file import _plain, header_data

        data = header_data(self, FORM)
        data["pairs"] = [_pair_data(p) for p in self.pairs]
        data["provenance"] = _plain(self.provenance, "provenance")
        return data

    def save(self, path: str | Path) -> Path:
        """Write the model as a TOML file at ``path`` (replacing it); returns the path."""
        import tomli_w

        path = Path(path)
        header = (f"# Identified linear model {self.name} in transfer-function form: "
                  f"{len(self.pairs)} pairs, {len(self.inputs)} inputs, {len(self.outputs)} "
                  f"outputs, nominal sample time {self.dt:g} s.\n"
                  "# File format: docs/identified-models.md\n")
        path.write_text(header + tomli_w.dumps(self.as_toml_data()), encoding="utf-8")
        return path


def _some(names: tuple[str, ...]) -> str:
    """The first ten ``names``, then ``...``."""
    return ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")


def _pair_data(pair: Pair) -> dict[str, Any]:
    data: dict[str, Any] = {"cv": pair.cv, "mv": pair.mv, "gain": pair.gain,
                            "time_constants": list(pair.time_constants),
                            "dead_time": pair.dead_time}
    if pair.integrating:
        data["integrating"] = True
    if pair.pade_order is not None:
        data["pade_order"] = pair.pade_order
    return data


def from_tf_data(data: dict[str, Any], where: str, common: dict[str, Any]) -> TransferFunctionFile:
    """The model in parsed TOML ``data`` of ``form = "transfer_functions"``, checked key by key.

    ``common`` holds the keys both forms share, already checked by the caller.
    """
    unknown = [k for k in data if k not in KEYS]
    if unknown:
        raise InputError(f"{where}: unknown key '{unknown[0]}' (keys of form = \"{FORM}\": "
                         f"{', '.join(KEYS)})")
    if "pairs" not in data:
        raise InputError(f"{where}: key 'pairs' is missing")
    raw = data["pairs"]
    if not isinstance(raw, list) or not all(isinstance(p, dict) for p in raw):
        raise InputError(f"{where}: key 'pairs' must be a list of tables ([[pairs]])")
    pairs = [_pair(p, k, where) for k, p in enumerate(raw)]
    try:
        return TransferFunctionFile(pairs=tuple(pairs), **common)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _pair(data: dict[str, Any], k: int, where: str) -> Pair:
    at = f"{where}: pairs[{k}]"
    unknown = [key for key in data if key not in PAIR_KEYS]
    if unknown:
        raise InputError(f"{at}: unknown key '{unknown[0]}' (keys: {', '.join(PAIR_KEYS)})")
    missing = [key for key in PAIR_KEYS if key not in ("integrating", "pade_order") and key not in data]
    if missing:
        raise InputError(f"{at}: key '{missing[0]}' is missing")
    for key in ("cv", "mv"):
        if not isinstance(data[key], str):
            raise InputError(f"{at}: key '{key}' must be text")
    for key in ("gain", "dead_time"):
        if isinstance(data[key], bool) or not isinstance(data[key], (int, float)):
            raise InputError(f"{at}: key '{key}' must be a number")
    if not isinstance(data["time_constants"], list):
        raise InputError(f"{at}: key 'time_constants' must be a list of numbers [s]")
    if not isinstance(data.get("integrating", False), bool):
        raise InputError(f"{at}: key 'integrating' must be true or false")
    order = data.get("pade_order")
    if order is not None and (isinstance(order, bool) or not isinstance(order, int)):
        raise InputError(f"{at}: key 'pade_order' must be a whole number")
    try:
        return Pair(data["cv"], data["mv"], data["gain"], tuple(data["time_constants"]),
                    data["dead_time"], data.get("integrating", False), order)
    except InputError as exc:
        raise InputError(f"{at}: {exc}") from None
