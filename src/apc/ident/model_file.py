"""Identified linear models: what identification produces and every command loads.

An :class:`IdentifiedModel` is saved as a readable TOML file
(:meth:`IdentifiedModel.save`, format in docs/identified-models.md) and read
back with :meth:`IdentifiedModel.load`, which refuses a malformed file in one
line naming the key. :meth:`IdentifiedModel.to_model` turns it into a
continuous-time :class:`~twin.core.model.Model` (:mod:`apc.ident.continuous`),
so ``twin simulate ./model.toml`` and every other command use it by path.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.core.config import read_toml
from twin.core.errors import InputError
from twin.core.units import parse_unit

if TYPE_CHECKING:
    from apc.ident.tf_file import TransferFunctionFile
    from twin.core.model import Model

FORMAT = "process-twin identified model"
"""Value of the ``format`` key: what tells an identified model file from other TOML files."""

FORMAT_VERSION = 1
"""Version of the file format this module writes and reads."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_MATRICES = ("A", "B", "C", "D")
_NAME_LISTS = ("inputs", "input_units", "outputs", "output_units")
STATE_SPACE = "state_space"
"""Value of the optional ``form`` key of a dense state-space file (the default)."""

_KEYS = ("format", "format_version", "form", "name", "sample_time", *_NAME_LISTS, "u0", "y0",
         "disturbances", *_MATRICES, "provenance")


def header_data(model, form: str | None = None) -> dict[str, Any]:
    """The keys every form of the file starts with, as plain TOML values: format (and
    ``form``), name, sample time, inputs and outputs with units and operating point,
    disturbances (see docs/identified-models.md)."""
    data: dict[str, Any] = {"format": FORMAT, "format_version": FORMAT_VERSION}
    if form is not None:
        data["form"] = form
    data.update({
        "name": model.name, "sample_time": model.dt,
        "inputs": list(model.inputs), "input_units": list(model.input_units),
        "u0": [float(v) for v in model.u0],
        "outputs": list(model.outputs), "output_units": list(model.output_units),
        "y0": [float(v) for v in model.y0],
    })
    if model.disturbances:
        data["disturbances"] = list(model.disturbances)
    return data


@dataclass(frozen=True)
class IdentifiedModel:
    """A discrete-time linear state-space model in deviation variables.

    ``x[k+1] = A x[k] + B (u[k] - u0)``, ``y[k] = C x[k] + D (u[k] - u0) + y0``,
    sampled every ``dt`` [s] with a zero-order hold on the inputs.

    Attributes
    ----------
    name : str
        Model name: a letter, then letters, digits or ``_``.
    A, B, C, D : numpy.ndarray
        State-space matrices, shapes (n, n), (n, m), (p, n), (p, m).
    dt : float
        Sample time [s].
    inputs, outputs : tuple of str
        Input (MV and DV) and output (CV) names, in matrix order.
    input_units, output_units : tuple of str
        Their units (pint spelling, ``-`` for none).
    u0, y0 : numpy.ndarray
        Operating point the deviations are taken from, in those units.
    provenance : dict
        Where the model came from: ``data`` (source), ``segment`` (start and
        end [s]), ``method``, ``fit`` (NRMSE [%] per output); any TOML values.
    disturbances : tuple of str
        The inputs that are measured disturbances (DVs); the others are MVs.
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
    disturbances: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"identified model '{self.name}'"
        check_common(self, where)
        arrays = {key: _array(getattr(self, key), key, where) for key in _MATRICES}
        n = arrays["A"].shape[0] if arrays["A"].ndim == 2 else 0
        m, p = len(self.inputs), len(self.outputs)
        if n < 1:
            raise InputError(f"{where}: needs at least one state, one input and one output "
                             f"(has {n}, {m}, {p})")
        shapes = {"A": (n, n), "B": (n, m), "C": (p, n), "D": (p, m)}
        for key, shape in shapes.items():
            value = arrays[key]
            if value.shape != shape:
                raise InputError(f"{where}: {key} has shape {value.shape}, expected {shape}")
            if not np.all(np.isfinite(value)):
                raise InputError(f"{where}: {key} has non-finite entries")
            value.flags.writeable = False
            object.__setattr__(self, key, value)

    @property
    def n_states(self) -> int:
        """Number of states."""
        return int(self.A.shape[0])

    def steady_gain(self) -> np.ndarray:
        """Steady-state gain matrix ``C (I - A)^-1 B + D`` [output unit / input unit].

        Raises :class:`InputError` when ``A`` has an eigenvalue at 1 (an integrator).
        """
        n = self.n_states
        try:
            return self.C @ np.linalg.solve(np.eye(n) - self.A, self.B) + self.D
        except np.linalg.LinAlgError:
            raise InputError(f"identified model '{self.name}': no steady-state gain "
                             "(A has an eigenvalue at 1: an integrating model)") from None

    def step_coefficients(self, dt: float, n: int) -> np.ndarray:
        """Unit-step responses at ``dt, 2 dt, .. n dt`` [s], shape (n, outputs, inputs).

        At the file's sample time from ``A, B, C, D`` directly; at another
        ``dt`` from the continuous-time model sampled exactly at ``dt`` (the
        same interface as :meth:`apc.ident.tf_file.TransferFunctionFile.step_coefficients`).
        """
        if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not math.isfinite(dt) \
                or dt <= 0:
            raise InputError(f"step coefficients: sample time {dt} s must be > 0")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"step coefficients: {n} coefficients; need a whole number >= 1")
        a, b = self.A, self.B
        if not math.isclose(dt, self.dt, rel_tol=1e-12):
            from apc.ident.continuous import continuous_matrices
            from apc.ident.dead_time import sample

            a, b = sample(*continuous_matrices(self), float(dt))
        out = np.empty((int(n), len(self.outputs), len(self.inputs)))
        x = np.zeros(b.shape)
        for k in range(int(n)):
            x = a @ x + b                       # states after k + 1 samples of a unit step
            out[k] = self.C @ x + self.D
        return out

    def to_model(self) -> "Model":
        """The continuous-time :class:`~twin.core.model.Model` of this model (exact ZOH inverse).

        See :func:`apc.ident.continuous.continuous_model`.
        """
        from apc.ident.continuous import continuous_model

        return continuous_model(self)

    # -- the file ----------------------------------------------------------
    def as_toml_data(self) -> dict[str, Any]:
        """The file's content as plain TOML values (see docs/identified-models.md)."""
        data = header_data(self)
        for key in _MATRICES:
            data[key] = [[float(v) for v in row] for row in getattr(self, key)]
        data["provenance"] = _plain(self.provenance, "provenance")
        return data

    def save(self, path: str | Path) -> Path:
        """Write the model as a TOML file at ``path`` (replacing it); returns the path."""
        import tomli_w

        path = Path(path)
        method = self.provenance.get("method")
        how = f", by {method}" if isinstance(method, str) and method else ""
        header = (f"# Identified linear model {self.name}: {self.n_states} states, "
                  f"{len(self.inputs)} inputs, {len(self.outputs)} outputs, sampled at "
                  f"{self.dt:g} s{how}.\n# File format: docs/identified-models.md\n")
        path.write_text(header + tomli_w.dumps(self.as_toml_data()), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "IdentifiedModel | TransferFunctionFile":
        """Read a model file of either form; a malformed one is refused in one line naming the key.

        A file of ``form = "transfer_functions"`` gives a
        :class:`apc.ident.tf_file.TransferFunctionFile` (the same ``to_model()``).
        """
        return from_toml_data(read_toml(path), str(path))


def check_common(model: Any, where: str) -> None:
    """Check (and normalise) what both file forms share: names, units, operating point, dt.

    ``model`` is a frozen dataclass with ``name``, ``dt``, ``inputs``, ``outputs``,
    ``input_units``, ``output_units``, ``u0``, ``y0``, ``disturbances``, ``provenance``.
    """
    if not isinstance(model.name, str) or not _NAME.match(model.name):
        raise InputError(f"identified model name {model.name!r}: a letter, then letters, "
                         "digits or _")
    for key in ("inputs", "outputs", "input_units", "output_units", "disturbances"):
        object.__setattr__(model, key, tuple(str(v) for v in getattr(model, key)))
    m, p = len(model.inputs), len(model.outputs)
    if m < 1 or p < 1:
        raise InputError(f"{where}: needs at least one input and one output "
                         f"(has {m} inputs, {p} outputs)")
    if not (isinstance(model.dt, (int, float)) and math.isfinite(model.dt) and model.dt > 0):
        raise InputError(f"{where}: sample time {model.dt} s must be > 0")
    object.__setattr__(model, "dt", float(model.dt))
    if len(model.input_units) != m or len(model.output_units) != p:
        raise InputError(f"{where}: one unit per input and per output")
    for key, size in (("u0", m), ("y0", p)):
        value = _array(getattr(model, key), key, where)
        if value.shape != (size,) or not np.all(np.isfinite(value)):
            raise InputError(f"{where}: {key} needs {size} finite values")
        value.flags.writeable = False
        object.__setattr__(model, key, value)
    _check_names(model, where)
    if not isinstance(model.provenance, dict):
        raise InputError(f"{where}: provenance must be a table")


def _check_names(model: Any, where: str) -> None:
    for kind, names, units in (("input", model.inputs, model.input_units),
                               ("output", model.outputs, model.output_units)):
        for name, unit in zip(names, units):
            if not name.isidentifier():
                raise InputError(f"{where}: {kind} name '{name}' is not an identifier "
                                 "(letters, digits, _)")
            parse_unit(unit, f"{where}: {kind} '{name}'")
    names = [*model.inputs, *model.outputs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"{where}: names used twice: {', '.join(twice)}")
    unknown = [d for d in model.disturbances if d not in model.inputs]
    if unknown:
        raise InputError(f"{where}: disturbances {', '.join(unknown)} are not inputs "
                         f"(inputs: {', '.join(model.inputs)})")


def is_model_file(data: dict[str, Any]) -> bool:
    """True when parsed TOML ``data`` says it is an identified model file."""
    return data.get("format") == FORMAT


def from_toml_data(data: dict[str, Any], where: str) -> "IdentifiedModel | TransferFunctionFile":
    """The model in parsed TOML ``data`` (from the file ``where``), checked key by key.

    ``form = "transfer_functions"`` gives a
    :class:`apc.ident.tf_file.TransferFunctionFile`; no ``form`` (or
    ``"state_space"``) an :class:`IdentifiedModel`.
    """
    from apc.ident.tf_file import FORM, KEYS as TF_KEYS, from_tf_data

    if data.get("format") != FORMAT:
        raise InputError(f"{where}: key 'format' must be \"{FORMAT}\" (not an identified "
                         "model file)")
    version = data.get("format_version")
    if version != FORMAT_VERSION or isinstance(version, bool):
        raise InputError(f"{where}: key 'format_version' is {version!r}; this version of twin "
                         f"reads format_version = {FORMAT_VERSION}")
    form = data.get("form", STATE_SPACE)
    if form not in (STATE_SPACE, FORM):
        raise InputError(f"{where}: key 'form' is {form!r}; one of \"{STATE_SPACE}\", "
                         f"\"{FORM}\"")
    keys = _KEYS if form == STATE_SPACE else TF_KEYS
    unknown = [k for k in data if k not in keys]
    if unknown:
        which = f" of form = \"{form}\"" if form == FORM else ""
        raise InputError(f"{where}: unknown key '{unknown[0]}' (keys{which}: {', '.join(keys)})")
    required = ("name", "sample_time", *_NAME_LISTS, "u0", "y0", "provenance",
                *(_MATRICES if form == STATE_SPACE else ("pairs",)))
    missing = [k for k in required if k not in data]
    if missing:
        raise InputError(f"{where}: key '{missing[0]}' is missing")
    if not isinstance(data["name"], str):
        raise InputError(f"{where}: key 'name' must be text")
    lists = {k: _texts(data[k], k, where) for k in (*_NAME_LISTS, "disturbances")
             if k in data}
    numbers = {k: _numbers(data[k], k, where) for k in ("u0", "y0")}
    if not isinstance(data["provenance"], dict):
        raise InputError(f"{where}: key 'provenance' must be a table")
    dt = data["sample_time"]
    if isinstance(dt, bool) or not isinstance(dt, (int, float)):
        raise InputError(f"{where}: key 'sample_time' must be a number [s]")
    common = dict(name=data["name"], dt=float(dt), inputs=lists["inputs"],
                  outputs=lists["outputs"], input_units=lists["input_units"],
                  output_units=lists["output_units"], disturbances=lists.get("disturbances", ()),
                  provenance=dict(data["provenance"]), **numbers)
    if form == FORM:
        return from_tf_data(data, where, common)
    matrices = {k: _matrix(data[k], k, where) for k in _MATRICES}
    try:
        return IdentifiedModel(**common, **matrices)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _array(value: Any, key: str, where: str) -> np.ndarray:
    """``value`` as a new float array; not numbers, or ragged rows, refused naming ``key``."""
    try:
        return np.array(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{where}: {key} is not an array of numbers") from None


def _texts(value: Any, key: str, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: key '{key}' must be a list of text")
    return tuple(value)


def _numbers(value: Any, key: str, where: str) -> np.ndarray:
    if not isinstance(value, list) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        raise InputError(f"{where}: key '{key}' must be a list of numbers")
    array = np.array(value, dtype=float)
    if not np.all(np.isfinite(array)):
        raise InputError(f"{where}: key '{key}' has non-finite entries")
    return array


def _matrix(value: Any, key: str, where: str) -> np.ndarray:
    if not isinstance(value, list) or not value:
        raise InputError(f"{where}: key '{key}' must be a matrix: a list of rows")
    rows = [_numbers(row, f"{key}[{i}]", where) for i, row in enumerate(value)]
    if len({len(r) for r in rows}) != 1:
        raise InputError(f"{where}: key '{key}': rows of different lengths "
                         f"({', '.join(str(len(r)) for r in rows)})")
    return np.array(rows)


def _plain(value: Any, key: str) -> Any:
    """``value`` as TOML values (NumPy numbers and arrays become floats and lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, f"{key}[]") for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value):
            raise InputError(f"identified model: {key} is {value}; TOML has no such number")
        return float(value)
    if isinstance(value, (str, Path)):
        return str(value)
    raise InputError(f"identified model: {key} is a {type(value).__name__}; a model file "
                     "holds text, numbers, lists and tables")
