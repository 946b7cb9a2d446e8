"""Parameter-set files: estimated parameter values with units, intervals and provenance.

A parameter-set file is TOML that every command takes where it takes a
published set's name (``--param-set FILE``; ``parameter_set = "FILE"`` in
configuration files)::

    [parameter_set]
    model = "cstr"                  # the model it belongs to (checked)
    base = "do-mpc"                 # published set applied first (optional)
    description = "..."

    [parameters.beta]               # or simply: beta = 0.9 / beta = "0.9 -"
    value = 0.9012
    unit = "-"
    std = 0.004                     # optional, informative
    low95 = 0.893
    high95 = 0.909

    [provenance]                    # optional, informative: data, method, fit

Values are converted to the parameter's declared unit when a ``unit`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from twin.core.config import read_toml
from twin.core.errors import InputError

SUFFIX = ".toml"


def is_param_file(value: str) -> bool:
    """True when a ``--param-set`` value names a file rather than a published set."""
    return value.endswith(SUFFIX) or Path(value).is_file()


@dataclass(frozen=True)
class ParamFile:
    """A parameter-set file's content.

    Attributes
    ----------
    model : str
        Name of the model it belongs to.
    values : dict
        Parameter name -> value: a number in the declared unit, or text with a unit.
    base : str
        Published parameter set applied before ``values`` (``""``: none).
    description : str
        One line.
    intervals : dict
        Parameter name -> ``{"std", "low95", "high95"}`` [parameter unit], informative.
    provenance : dict
        Where the values come from (data, method, fit), informative.
    name : str
        Label of the set (the file's stem).
    """

    model: str
    values: dict[str, Any]
    base: str = ""
    description: str = ""
    intervals: dict[str, dict[str, float]] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        if not self.model:
            raise InputError(f"parameter-set file '{self.name}': no model name")
        if not self.values:
            raise InputError(f"parameter-set file '{self.name}': no parameter values")


def read_param_file(path: str | Path) -> ParamFile:
    """Read a parameter-set file (one-line :class:`InputError` when it is wrong)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"parameter-set file '{path}': no such file")
    data = read_toml(path)
    where = f"parameter-set file '{path}'"
    head = data.get("parameter_set", {})
    params = data.get("parameters")
    if not isinstance(head, dict) or not isinstance(params, dict) or not params:
        raise InputError(f"{where}: needs a [parameter_set] table with 'model' and a [parameters] "
                         "table of values")
    values: dict[str, Any] = {}
    intervals: dict[str, dict[str, float]] = {}
    for name, entry in params.items():
        if isinstance(entry, dict):
            if "value" not in entry:
                raise InputError(f"{where}: parameters.{name} has no 'value'")
            unit = entry.get("unit")
            value = entry["value"]
            if unit is not None and not isinstance(unit, str):
                raise InputError(f"{where}: parameters.{name}.unit must be text, e.g. \"1/h\"")
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            values[name] = f"{value} {unit}" if unit and unit != "-" and numeric else value
            intervals[name] = {}
            for key in ("std", "low95", "high95"):
                if key in entry:
                    number = entry[key]
                    if isinstance(number, bool) or not isinstance(number, (int, float)):
                        raise InputError(f"{where}: parameters.{name}.{key} must be a number")
                    intervals[name][key] = float(number)
        else:
            values[name] = entry
    model = head.get("model", "")
    if not isinstance(model, str):
        raise InputError(f"{where}: parameter_set.model must be a model name")
    provenance = data.get("provenance", {})
    return ParamFile(model, values, str(head.get("base", "") or ""),
                     str(head.get("description", "")), intervals,
                     provenance if isinstance(provenance, dict) else {}, path.stem)


def write_param_file(path: str | Path, model: str, values: Mapping[str, float],
                     units: Mapping[str, str], *, base: str = "", description: str = "",
                     intervals: Mapping[str, Mapping[str, float]] | None = None,
                     provenance: Mapping[str, Any] | None = None) -> Path:
    """Write a parameter-set file (values [declared units], intervals, provenance)."""
    params: dict[str, Any] = {}
    for name, value in values.items():
        entry: dict[str, Any] = {"value": float(value), "unit": units[name]}
        for key, number in (intervals or {}).get(name, {}).items():
            if math.isfinite(number):
                entry[key] = float(number)
        params[name] = entry
    head = {"model": model, "description": description}
    if base:
        head["base"] = base
    doc: dict[str, Any] = {"parameter_set": head, "parameters": params}
    if provenance:
        doc["provenance"] = _finite(dict(provenance))
    path = Path(path)
    path.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return path


def _finite(value: Any) -> Any:
    """TOML has no None; drop Nones and keep everything else."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value if v is not None]
    return value
