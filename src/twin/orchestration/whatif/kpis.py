"""KPIs of one scenario from its results: ``time`` plus one column per variable.

Results are any mapping of column name to values (a dict of arrays on the
fast path, or a pandas DataFrame).

Integrals are trapezoidal over the result times [variable unit x model time
unit]. In a closed-loop table a variable name means the plant's true value
(``<name>.plant``) where the table has it, else the measured value or MV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from twin.core import expressions, ops
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.orchestration.whatif.study import KpiSpec

_AGGREGATE = {"final": lambda t, v: v[-1], "mean": lambda t, v: _integral(t, v) / (t[-1] - t[0])
              if t[-1] > t[0] else v[-1], "min": lambda t, v: np.min(v),
              "max": lambda t, v: np.max(v), "integral": lambda t, v: _integral(t, v)}


def _integral(t: np.ndarray, v: np.ndarray) -> float:
    return float(np.trapezoid(v, t))


Columns = Mapping[str, np.ndarray]


def column(frame: Columns, name: str, where: str) -> np.ndarray:
    """The values of variable ``name`` (the plant's truth first)."""
    for candidate in (f"{name}.plant", name):
        if candidate in frame:
            return np.asarray(frame[candidate], dtype=float)
    names = sorted(c for c in frame if "." not in c and c != "time")
    raise UnknownNameError("variable", name, names, where)


def _economics_path(name: str, folder: str) -> Path:
    from rto.economics import shipped_economics

    path = Path(name)
    if path.suffix == ".toml":
        return path if path.is_absolute() else Path(folder or ".") / path
    return shipped_economics(name)


class KpiEvaluator:
    """Computes a study's KPIs; economics and expressions are parsed once."""

    def __init__(self, specs: Sequence[KpiSpec], model: Model | None, folder: str = ""):
        self.specs = list(specs)
        self.model = model
        self._profit = {}
        self._expressions: dict[str, expressions.Expression] = {}
        for k in self.specs:
            if k.kind == "profit":
                if model is None:
                    raise InputError(f"kpi '{k.name}': a profit needs a plant model")
                from rto.economics import load_economics

                spec = load_economics(_economics_path(k.economics, folder))
                allowed = (model.states.names + model.inputs.names + model.outputs.names
                           + model.parameters.names + list(spec.prices))
                self._profit[k.name] = (expressions.parse(spec.profit, allowed,
                                                          f"kpi '{k.name}' economics"),
                                        dict(spec.prices))

    def __call__(self, frame: Columns, parameters: Mapping[str, float]) -> dict[str, float]:
        t = np.asarray(frame["time"], dtype=float)
        with np.errstate(all="ignore"):  # a NaN KPI fails its scenario, by name
            return {k.name: float(self._one(k, frame, t, parameters)) for k in self.specs}

    def _one(self, k: KpiSpec, frame: Columns, t: np.ndarray,
             parameters: Mapping[str, float]) -> float:
        where = f"kpi '{k.name}'"
        if k.kind in ("final", "mean", "min", "max"):
            return _AGGREGATE[k.kind](t, column(frame, k.variable, where))
        if k.kind == "iae":
            v = column(frame, k.variable, where)
            if k.setpoint is not None:
                sp = np.full_like(v, k.setpoint)
            elif f"{k.variable}.setpoint" in frame:
                sp = np.asarray(frame[f"{k.variable}.setpoint"], dtype=float)
            else:
                raise InputError(f"{where}: give a setpoint (the results have no setpoint of "
                                 f"{k.variable})")
            return _integral(t, np.abs(v - sp))
        if k.kind == "violation_time":
            v = column(frame, k.variable, where)
            out = np.zeros_like(v, dtype=bool)
            if k.high is not None:
                out |= v > k.high
            if k.low is not None:
                out |= v < k.low
            return _integral(t, out.astype(float))
        if k.kind == "profit":
            expr, prices = self._profit[k.name]
            values = {**{n: float(parameters.get(n, self.model.parameters[n].nominal))
                         for n in self.model.parameters.names}, **prices}
            for n in expr.names:
                if n not in values:
                    values[n] = column(frame, n, where)
            rate = np.broadcast_to(np.asarray(expr(values, ops.NUMPY), dtype=float), t.shape)
            return _integral(t, rate)
        expr = self._expressions.get(k.name)
        if expr is None:
            names = sorted(c for c in frame if c != "time")
            expr = self._expressions[k.name] = expressions.parse(k.expression, names + ["time"],
                                                                 where)
        values = {n: (t if n == "time" else np.asarray(frame[n], dtype=float)) for n in expr.names}
        series = np.broadcast_to(np.asarray(expr(values, ops.NUMPY), dtype=float), t.shape)
        return _AGGREGATE[k.of](t, series)
