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

def _integral(t: np.ndarray, v: np.ndarray) -> float:
    return float(np.trapezoid(v, t))


def _held_integral(t: np.ndarray, frame, held: frozenset, series) -> float:
    """Integral of ``series(view)`` over the intervals, inputs held through each interval.

    Each interval is a trapezoid between its two ends, with the held
    (piecewise-constant) columns at their value over the interval on both
    ends: exact for the inputs, second order for the states.
    """
    if len(t) < 2:
        return 0.0
    left = _View(frame, slice(None, -1), slice(None, -1), held)
    right = _View(frame, slice(1, None), slice(None, -1), held)
    g = 0.5 * (np.asarray(series(left), dtype=float) + np.asarray(series(right), dtype=float))
    return float(np.sum(np.diff(t) * g))


class _View:
    """Columns at interval ends: held columns from ``held_rows``, the rest from ``rows``."""

    def __init__(self, frame, rows: slice, held_rows: slice, held: frozenset):
        self.frame, self.rows, self.held_rows, self.held = frame, rows, held_rows, held

    def __contains__(self, name: str) -> bool:
        return name in self.frame

    def __iter__(self):
        return iter(self.frame)

    def __getitem__(self, name: str) -> np.ndarray:
        base = name.removesuffix(".plant")
        rows = self.held_rows if base in self.held else self.rows
        return np.asarray(self.frame[name], dtype=float)[rows]

Columns = Mapping[str, np.ndarray]


def column(frame: Columns, name: str, where: str) -> np.ndarray:
    """The values of variable ``name`` (the plant's truth first)."""
    for candidate in (f"{name}.plant", name):
        if candidate in frame:
            return np.asarray(frame[candidate], dtype=float)
    names = sorted(c for c in frame if "." not in c and c != "time")
    raise UnknownNameError("variable", name, names, where)


def _economics(name: str, folder: str):
    """An economics spec: a shipped name, or a file relative to the study's folder."""
    from rto.economics_spec import economics_for

    path = Path(name)
    if path.suffix == ".toml" and not path.is_absolute():
        name = str(Path(folder or ".") / path)
    return economics_for(name)


class KpiEvaluator:
    """Computes a study's KPIs; economics and expressions are parsed once."""

    def __init__(self, specs: Sequence[KpiSpec], model: Model | None, folder: str = "",
                 held: Sequence[str] = ()):
        self.specs = list(specs)
        self.model = model
        self.held = frozenset(held if held else (model.inputs.names if model is not None else ()))
        self._profit = {}
        self.economics = {}
        self._expressions: dict[str, expressions.Expression] = {}
        for k in self.specs:
            if k.kind == "profit":
                if model is None:
                    raise InputError(f"kpi '{k.name}': a profit needs a plant model")
                spec = _economics(k.economics, folder)
                self.economics[k.name] = spec
                allowed = (model.states.names + model.inputs.names + model.outputs.names
                           + model.parameters.names + list(spec.prices))
                self._profit[k.name] = (expressions.parse(spec.profit, allowed,
                                                          f"kpi '{k.name}' economics"),
                                        dict(spec.prices))

    def __call__(self, frame: Columns, parameters: Mapping[str, float]) -> dict[str, float]:
        t = np.asarray(frame["time"], dtype=float)
        with np.errstate(all="ignore"):  # a NaN KPI fails its scenario, by name
            return {k.name: float(self._one(k, frame, t, parameters)) for k in self.specs}

    def _one_column(self, t: np.ndarray, g: np.ndarray, variable: str) -> float:
        """Integral of a function of one variable: held over intervals if it is an input."""
        if len(t) < 2:
            return 0.0
        g = np.asarray(g, dtype=float)
        mid = g[:-1] if variable in self.held else 0.5 * (g[:-1] + g[1:])
        return float(np.sum(np.diff(t) * mid))

    def _aggregate(self, how: str, t: np.ndarray, frame: Columns, series) -> float:
        """final, mean, min, max or integral of ``series(columns)`` over the run."""
        if how == "final":
            return float(np.asarray(series(frame), dtype=float)[-1])
        if how in ("min", "max"):
            return float(getattr(np, how)(np.asarray(series(frame), dtype=float)))
        total = _held_integral(t, frame, self.held, series)
        if how == "integral":
            return total
        span = t[-1] - t[0]
        return total / span if span > 0 else float(np.asarray(series(frame), dtype=float)[-1])

    def _one(self, k: KpiSpec, frame: Columns, t: np.ndarray,
             parameters: Mapping[str, float]) -> float:
        where = f"kpi '{k.name}'"
        if k.kind == "mean" and len(t) > 1 and t[-1] > t[0]:
            return self._one_column(t, column(frame, k.variable, where), k.variable) / (
                t[-1] - t[0])
        if k.kind in ("final", "mean", "min", "max"):
            return self._aggregate(k.kind, t, frame, lambda f: column(f, k.variable, where))
        if k.kind == "iae":
            column(frame, k.variable, where)
            if k.setpoint is None and f"{k.variable}.setpoint" not in frame:
                raise InputError(f"{where}: give a setpoint (the results have no setpoint of "
                                 f"{k.variable})")

            sp = k.setpoint if k.setpoint is not None else np.asarray(
                frame[f"{k.variable}.setpoint"], dtype=float)
            return self._one_column(t, np.abs(column(frame, k.variable, where) - sp), k.variable)
        if k.kind == "violation_time":
            v = column(frame, k.variable, where)
            out = np.zeros_like(v, dtype=bool)
            if k.high is not None:
                out |= v > k.high
            if k.low is not None:
                out |= v < k.low
            return self._one_column(t, out.astype(float), k.variable)
        if k.kind == "profit":
            expr, prices = self._profit[k.name]
            constants = {**{n: float(parameters.get(n, self.model.parameters[n].nominal))
                            for n in self.model.parameters.names}, **prices}

            def rate(f):
                values = dict(constants)
                for n in expr.names:
                    if n not in values:
                        values[n] = column(f, n, where)
                n_rows = len(np.asarray(f["time"]))
                return np.broadcast_to(np.asarray(expr(values, ops.NUMPY), dtype=float),
                                       (n_rows,))
            return self._aggregate("integral", t, frame, rate)
        expr = self._expressions.get(k.name)
        if expr is None:
            names = sorted({c.removesuffix(".plant") for c in frame
                            if "." not in c or c.endswith(".plant")} - {"time"})
            expr = self._expressions[k.name] = expressions.parse(k.expression, names + ["time"],
                                                                 where)

        def series(f):
            n_rows = len(np.asarray(f["time"]))
            values = {n: (np.asarray(f["time"], dtype=float) if n == "time" else
                          column(f, n, where)) for n in expr.names}
            return np.broadcast_to(np.asarray(expr(values, ops.NUMPY), dtype=float), (n_rows,))
        return self._aggregate(k.of, t, frame, series)
