"""``twin calibrate``: plant data in, estimated parameters out (file, summary, report).

Reads the data with :func:`twin.core.data.clean.load_clean` (the bad-data
rules of ``twin data inspect``: Bad quality, frozen values and spikes are
not fitted), aligns it with the
model (time to the model's time unit, values to declared units, inputs held
between samples), runs :func:`twin.core.calibration.calibrate` and writes
the parameter-set file every command accepts (``--param-set FILE``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from twin.core.calibration import Calibration, CalibrationData, calibrate
from twin.core.data import PlantData
from twin.core.data.clean import load_clean
from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.param_file import is_param_file, read_param_file, write_param_file
from twin.core.units import convert_array
from twin.orchestration.registry import load_model

log = logging.getLogger(__name__)


def align(model: Model, data: PlantData) -> tuple[CalibrationData, list[str]]:
    """The plant data as :class:`CalibrationData` of ``model``, and notes on what was assumed.

    Columns named like the model's inputs are its inputs (held from each
    sample to the next; missing samples keep the last value; an input with
    no column stays at its nominal value); columns named like states or
    outputs are measurements; other columns are ignored (noted).
    """
    where = f"plant data '{data.source}'"
    notes: list[str] = []
    t = convert_array(data.time, "s", model.time_unit, f"{where}: time")
    t = t - t[0]
    u = np.empty((t.size, model.n_u))
    for i, var in enumerate(model.inputs):
        if var.name not in data.names:
            u[:, i] = var.nominal
            notes.append(f"input {var.name} has no column: held at its nominal {var.nominal:g} {var.unit}")
            continue
        col = _declared(data, var.name, var.unit, where)
        if not np.any(np.isfinite(col)):
            raise InputError(f"{where}: input column '{var.name}' has no value")
        filled = _hold(col)
        if np.any(~np.isfinite(col)):
            notes.append(f"input {var.name}: {int(np.sum(~np.isfinite(col)))} missing samples held "
                         "at the previous value")
        u[:, i] = filled
    measured = [n for n in data.names
                if (n in model.states or n in model.outputs) and n not in model.inputs]
    ignored = [n for n in data.names if n not in measured and n not in model.inputs]
    if ignored:
        notes.append(f"columns not in model '{model.name}', ignored: {', '.join(ignored)}")
    if not measured:
        raise InputError(f"{where}: no column is a state or output of model '{model.name}' "
                         f"(columns: {', '.join(data.names)}; states and outputs: "
                         f"{', '.join(model.states.names + model.outputs.names)})")
    y = np.column_stack([_declared(data, n, model.variable(n).unit, where) for n in measured])
    return CalibrationData(t, u, tuple(measured), y, data.source), notes


def _declared(data: PlantData, name: str, unit: str, where: str) -> np.ndarray:
    values = data.values([name])[:, 0]
    given = data.units.get(name)
    if given is None or given.strip() in ("", unit):
        return values
    return convert_array(values, given, unit, f"{where}: column '{name}'")


def _hold(col: np.ndarray) -> np.ndarray:
    """Zero-order hold over NaN (the first value backwards before the first sample)."""
    ok = np.isfinite(col)
    idx = np.where(ok, np.arange(col.size), 0)
    np.maximum.accumulate(idx, out=idx)
    out = col[idx]
    first = np.flatnonzero(ok)[0]
    out[:first] = col[first]
    return out


def run_calibration(model_name: str, data_source: str | Path, estimate: Sequence[str], *,
                    x0_free: Sequence[str] | bool = (), sets: Mapping[str, Any] | None = None,
                    param_set: str | None = None, sigma: Mapping[str, float] | None = None,
                    bounds: Mapping[str, tuple[float, float]] | None = None,
                    out: str | Path | None = None, report: str | Path | None = None,
                    substeps: int | None = None, tagmap: str | Path | None = None,
                    time_unit: str | None = None,
                    write_unidentifiable: bool = False) -> tuple[Calibration, dict[str, Any]]:
    """Calibrate a model against a data file; write the parameter-set file and report.

    ``x0_free`` is a list of state names, or True for all states; ``tagmap``
    and ``time_unit`` go to :func:`~twin.core.data.clean.load_clean` (historian
    exports). The parameter-set file is written only when the estimates are
    identifiable, or with ``write_unidentifiable``; otherwise the summary's
    ``parameter_file`` is None and ``withheld`` says why. Returns the
    calibration and a JSON-friendly summary.
    """
    model = load_model(model_name, sets, param_set)
    cleaning = load_clean(data_source, tagmap=tagmap, time_unit=time_unit,
                          inputs=list(model.inputs.names))
    data = cleaning.data
    cdata, notes = align(model, data)
    free = list(model.states.names) if x0_free is True else list(x0_free or ())
    kwargs = {} if substeps is None else {"substeps": substeps}
    result = calibrate(model, cdata, estimate, free, bounds, sigma, **kwargs)
    summary = summarize(result, model_name, str(data_source), param_set, notes + list(data.reports))
    summary["data_rules"] = cleaning.rule_lines
    if out is not None and not summary["identifiable"] and not write_unidentifiable:
        summary["parameter_file"] = None
        summary["withheld"] = (f"parameter set not written to {out}: "
                               f"{', '.join(summary['not_identifiable']) or 'the estimates'} not "
                               "identifiable from these data (see the warnings); --force writes it "
                               "anyway")
    elif out is not None:
        summary["parameter_file"] = str(write_result(result, out, model_name, str(data_source),
                                                     param_set, list(sets or {})))
    if report is not None:
        from twin.orchestration.calibrate_report import write_report

        summary["report"] = str(write_report(result, summary, report))
    return result, summary


def summarize(result: Calibration, model_name: str, source: str, param_set: str | None,
              notes: Sequence[str] = ()) -> dict[str, Any]:
    """JSON-friendly summary: estimates, intervals, correlations, warnings, fit."""
    st = result.stats
    model = result.model

    def unit(name: str) -> str:
        return model.variable(name.removeprefix("x0.")).unit

    def num(v: float) -> float | None:
        return float(v) if math.isfinite(v) else None

    estimates = [{"name": n, "value": float(v), "unit": unit(n), "initial": float(v0),
                  "std": num(s), "low95": num(lo), "high95": num(hi),
                  "width95": num(hi - lo)}
                 for n, v, v0, s, lo, hi in zip(result.estimated, result.values, result.initial,
                                                st.std, st.low, st.high)]
    fit = {}
    for j, name in enumerate(result.data.names):
        y, p = result.data.y[:, j], result.predicted[:, j]
        ok = np.isfinite(y)
        rmse = float(np.sqrt(np.mean((y[ok] - p[ok]) ** 2)))
        spread = float(np.std(y[ok]))
        fit[name] = {"samples": int(ok.sum()), "rmse": rmse, "sigma": result.sigma[name],
                     "nrmse_fit_percent": float(100 * (1 - rmse / spread)) if spread > 0 else None,
                     "unit": model.variable(name).unit}
    return {
        "model": model_name, "data": source, "param_set": param_set,
        "estimates": estimates,
        "correlation": {"names": list(st.names),
                        "matrix": [[round(float(c), 6) for c in row] for row in st.correlation]},
        "fisher_condition": num(st.condition), "fisher_min_eigenvalue": st.min_eigenvalue,
        "warnings": list(st.warnings) + _integration_warning(result),
        "not_identifiable": list(st.not_identifiable),
        "identifiable": not st.warnings,
        "fit": fit, "sigma_source": result.sigma_source,
        "residual_variance": st.residual_variance, "measurements": st.n, "dof": st.dof,
        "method": "multiple shooting, RK4, IPOPT", "substeps": result.substeps,
        "integration_error_sigma": num(result.integration_error), "iterations": result.iterations,
        "seconds": round(result.seconds, 3), "notes": list(notes),
    }


def _integration_warning(result: Calibration) -> list[str]:
    """A warning when RK4 strays from the adaptive integrator by a tenth of the noise or more."""
    from twin.core.calibration.shooting import INTEGRATION_TOLERANCE

    gap = result.integration_error
    if not gap >= INTEGRATION_TOLERANCE:
        return []
    return [f"integration: RK4 with {result.substeps} steps per sample interval is off the adaptive "
            f"integrator by {gap:.2g} noise std; give --substeps {2 * result.substeps} or more"]


def write_result(result: Calibration, path: str | Path, model_name: str, source: str,
                 param_set: str | None, overridden: Sequence[str] = ()) -> Path:
    """The parameter-set file of the estimates (initial states are not parameters: left out).

    The file is complete on its own: it names the published set the model
    started from, and also carries the values of an input parameter-set
    file and of the ``overridden`` (``--set``) parameters.
    """
    st = result.stats
    names = [n for n in result.estimated if not n.startswith("x0.")]
    idx = [result.estimated.index(n) for n in names]
    values = {n: float(result.values[i]) for n, i in zip(names, idx)}
    intervals = {n: {"std": float(st.std[i]), "low95": float(st.low[i]), "high95": float(st.high[i])}
                 for n, i in zip(names, idx)}
    units = {n: result.model.variable(n).unit for n in names}
    base, kept = _base_of(result.model, param_set)
    kept.update(dict.fromkeys(overridden))
    for name, value in kept.items():  # the other values of a parameter-set file started from
        if name not in values:
            values[name] = float(result.model.parameters[name].nominal)
            units[name] = result.model.parameters[name].unit
    provenance = {
        "command": "twin calibrate", "data": source,
        "samples": int(result.data.t.size), "measured": list(result.data.names),
        "time_span": f"{float(result.data.t[-1]):g} {result.model.time_unit}",
        "method": "multiple shooting (RK4), IPOPT; Gauss-Newton covariance, t-distribution 95 %",
        "noise_std": result.sigma, "noise": result.sigma_source,
        "residual_variance": st.residual_variance,
        "fisher_condition": st.condition if math.isfinite(st.condition) else "infinite",
        "warnings": list(st.warnings),
        "initial_state": {n: float(v) for n, v in zip(result.model.states.names, result.x0)},
    }
    described = ", ".join(f"{n} = {values[n]:.6g}" for n in names)
    return write_param_file(path, model_name, values, units, base=base,
                            description=f"estimated from {Path(source).name}: {described}",
                            intervals=intervals, provenance=provenance)


def _base_of(model: Model, param_set: str | None) -> tuple[str, dict[str, Any]]:
    """The published set the estimates build on, and the values of a parameter-set file."""
    if not param_set:
        label = model.parameter_set.split(" (")[0]
        return (label if label in {ps.name for ps in model.parameter_sets} else ""), {}
    if is_param_file(param_set):
        content = read_param_file(param_set)
        return content.base, dict(content.values)
    return param_set, {}
