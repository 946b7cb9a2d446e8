"""``twin identify``: linear models of a plant from its data, validated, with their gain analysis.

The data are split in time: the first part estimates, the last
``holdout`` fraction validates. Every model is simulated over the whole
record from the inputs alone (the estimation part warms it up from rest
at the first sample) and judged on the held-out part only.

Whatever the method, a regularised FIR model is fitted too: it gives the
step responses with their uncertainty bands, the settling times and the
gain matrix with its covariance, from which the relative gain array,
singular values and condition number (each with a 95 % interval) are
computed (:mod:`apc.ident.gains`), the last two on gains scaled by each
MV's standard deviation and each CV's in the estimation data. The model saved is the method's:

``fir``       the FIR model realised as a low-order state space (ERA, order by fit);
``tf``        one transfer function per CV-MV pair (``--structure``), each dead time
              as a Padé approximation, so the model has a continuous equivalent
              (:mod:`apc.ident.dead_time`);
``subspace``  a MIMO state space by subspace identification (order by fit, or ``--order``).
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apc.ident.dead_time import TOLERANCE as DEAD_TIME_TOLERANCE, WARN_ERROR, realise
from apc.ident.fir import FirModel, fit_fir
from apc.ident.gains import GainAnalysis, analyse_gains
from apc.ident.model_file import IdentifiedModel
from apc.ident.realize import realizations
from apc.ident.subspace import simulate_state_space, fit_subspace
from apc.ident.transfer import STRUCTURES, fit_transfer
from apc.ident.validation import Validation, nrmse_fit, validate
from twin.core.data.table import PlantData
from twin.core.errors import InputError

LOG = logging.getLogger(__name__)

METHODS = ("fir", "tf", "subspace")
"""Identification methods of ``twin identify``."""

MIN_HOLDOUT = 2 * 25
"""Fewest held-out samples: twice the lags of the residual tests (:func:`validate`)."""


@dataclass(frozen=True)
class IdentifyRun:
    """An identification: the model, the FIR analysis, the gains and the validation.

    Attributes
    ----------
    model : IdentifiedModel
        The saved model (deviation variables around ``u0``, ``y0``).
    fir : FirModel
        The regularised FIR model (step responses, bands, gain covariance).
    gains : GainAnalysis
        MV-CV gain matrix with uncertainty, RGA, singular values, conditioning.
    validation : Validation
        Figures of the saved model on the held-out part.
    time, u, y, simulated : numpy.ndarray
        The record and the model's simulated outputs over it.
    split : int
        First sample of the held-out part.
    details : dict
        Method-specific figures (time constants, order, ...).
    """

    model: IdentifiedModel
    fir: FirModel
    gains: GainAnalysis
    validation: Validation
    time: np.ndarray
    u: np.ndarray
    y: np.ndarray
    simulated: np.ndarray
    split: int
    details: dict[str, Any]

    def warnings(self) -> list[str]:
        """One-line warnings (ill-conditioning, failed residual tests)."""
        lines = []
        text = self.gains.warning()
        if text:
            lines.append(text)
        loose = {pair: f["step_error"] for pair, f in self.details.get("transfer_functions", {}).items()
                 if f["step_error"] > WARN_ERROR}
        if loose:
            worst = max(loose, key=loose.get)
            lines.append(f"WARNING: the saved model's step response of {', '.join(loose)} is off "
                         f"by up to {100 * loose[worst]:.2g} % of the gain ({worst}): a dead time long "
                         f"beside its lag and the sample time; use --method fir or subspace, or "
                         f"data sampled faster")
        moving = self.fir.unsettled()
        if moving.any():
            pairs = [f"{self.model.outputs[i]}/{self.model.inputs[j]}" for i, j in np.argwhere(moving)]
            lines.append(f"WARNING: the step response of {', '.join(pairs)} is still moving at the end "
                         f"of the FIR length ({self.fir.taps * self.fir.dt:g} s): the gain is not the "
                         f"steady-state gain; give --settling longer than the settling time, or a "
                         f"longer test")
        which = "held-out residual" if self.split < len(self.time) else "residual on the estimation data"
        for i, name in enumerate(self.model.outputs):
            if not self.validation.independent()[i].all():
                bad = [self.model.inputs[j] for j in np.flatnonzero(~self.validation.independent()[i])]
                lines.append(f"WARNING: the {which} of {name} is correlated with "
                             f"{', '.join(bad)} beyond the 99 % band: dynamics or nonlinearity "
                             f"the model has not captured")
        return lines

    def summary(self) -> dict[str, Any]:
        """JSON-friendly figures."""
        m = self.model
        return {
            "method": m.provenance.get("method"), "data": m.provenance.get("data"),
            "dt": m.dt, "inputs": list(m.inputs), "outputs": list(m.outputs),
            "estimation_s": m.provenance.get("estimation_s"), "holdout_s": m.provenance.get("holdout_s"),
            "fit_percent": dict(zip(m.outputs, self.validation.fit.tolist())),
            "fit_kind": ("simulation on the held-out data" if self.split < len(self.time)
                         else "simulation on the estimation data (nothing held out)"),
            "residual_white": dict(zip(m.outputs, self.validation.white().tolist())),
            "input_residual_independent": {
                name: dict(zip(m.inputs, self.validation.independent()[i].tolist()))
                for i, name in enumerate(m.outputs)},
            "settling_time_s": self.fir.settling_times().tolist(),
            "gains": self.gains.as_dict(),
            "order": int(m.A.shape[0]),
            "details": self.details,
            "warnings": self.warnings(),
        }


def identify(data: PlantData, mvs: list[str], cvs: list[str], dvs: list[str] = (), *,
             method: str = "fir", order: int | None = None, holdout: float = 0.3,
             settling: float | None = None, structure: str = "sopdt",
             name: str | None = None) -> IdentifyRun:
    """Identify a linear model of ``cvs`` from ``mvs`` (and measured ``dvs``).

    Parameters
    ----------
    data : PlantData
        Regularly sampled data without gaps in the named columns.
    method : str
        One of :data:`METHODS`.
    order : int, optional
        States of the ``subspace`` or ``fir`` model (default: chosen by fit).
    holdout : float
        Fraction of the record, at its end, kept for validation [-], in [0, 0.8];
        0 validates on the estimation data (stated in the summary).
    settling : float, optional
        Longest settling time to cover [s] (default: a sixth of the estimation part).
    structure : str
        Transfer-function structure of the ``tf`` method.

    Raises
    ------
    InputError
        Unknown method or names, irregular sampling, missing values, too little data.
    """
    _check_request(method, structure, mvs, cvs, dvs, holdout)
    inputs = [*mvs, *dvs]
    u, y = data.values(inputs), data.values(cvs)
    time = data.time
    where = data.source or "plant data"
    _check_samples(where, time, u, y, inputs, cvs)
    dt = float(np.median(np.diff(time)))
    split = len(time) - int(round(holdout * len(time))) if holdout > 0 else len(time)
    if holdout > 0 and len(time) - split < MIN_HOLDOUT:
        raise InputError(f"--holdout {holdout:g}: the held-out part has {len(time) - split} samples, "
                         f"fewer than the {MIN_HOLDOUT} its residual tests need; give a larger "
                         f"fraction, or 0 to validate on the estimation data")
    _check_moving(where, u[:split], y[:split], inputs, cvs)
    taps = int(round((settling if settling is not None else (split * dt) / 6) / dt))
    if taps < 2:
        raise InputError(f"settling time {settling} s is shorter than two samples ({dt:g} s each)")
    fir = fit_fir(u[:split], y[:split], dt, taps)
    details: dict[str, Any] = {}
    if method == "fir":
        a, b, c, d = _realise_fir(fir, u[:split], y[:split], order, details)
        u0, y0 = fir.u0, fir.y0
    elif method == "tf":
        model = fit_transfer(u[:split], y[:split], dt, structure, fir.gains(), fir.settling_times(),
                             guess_steps=fir.step_responses(), warmup=min(fir.taps, split // 3))
        realised = realise(model)
        a, b, c, d = realised.A, realised.B, realised.C, realised.D
        u0, y0 = model.u0, model.y0
        details["transfer_functions"] = {
            f"{cvs[i]}/{inputs[j]}": {"structure": pair.structure, "gain": pair.gain,
                                      "time_constants_s": list(pair.time_constants),
                                      "dead_time_s": pair.dead_time,
                                      "pade_order": realised.choices[i][j].order,
                                      "step_error": realised.choices[i][j].error}
            for i, row in enumerate(model.pairs) for j, pair in enumerate(row)}
        dead_time = _dead_time_provenance(realised, cvs, inputs)
    else:
        model = fit_subspace(u[:split], y[:split], dt, order=order)
        a, b, c, d, u0, y0 = model.A, model.B, model.C, model.D, model.u0, model.y0
        details["singular_values"] = model.singular_values[:12].tolist()
        details["fit_by_order"] = model.fits
    simulated = simulate_from_rest(a, b, c, d, u, u0, y0)
    check = slice(split, None) if split < len(time) else slice(None)
    validation = validate(u[check], y[check], simulated[check])
    details["time_constants_s"] = _time_constants(a, dt)
    gain_cov = fir.gain_covariance()
    m_count = len(inputs)
    keep = [i * m_count + j for i in range(len(cvs)) for j in range(len(mvs))]
    gains = analyse_gains(fir.gains()[:, :len(mvs)], gain_cov[np.ix_(keep, keep)], mvs, cvs,
                          u[:split, :len(mvs)].std(axis=0), y[:split].std(axis=0))
    units_in = tuple(data.unit(n) for n in inputs)
    units_out = tuple(data.unit(n) for n in cvs)
    provenance = {
        "data": data.source, "method": method if method != "tf" else f"tf ({structure})",
        "estimation_s": [float(time[0]), float(time[split - 1])],
        "fit_percent": {n: round(float(f), 2) for n, f in zip(cvs, validation.fit) if np.isfinite(f)},
        "fit_kind": ("simulation, held-out data" if split < len(time)
                     else "simulation, estimation data (nothing held out)"),
        "mvs": list(mvs), "dvs": list(dvs),
    }
    if method == "tf":
        provenance["dead_time"] = dead_time
    if split < len(time):
        provenance["holdout_s"] = [float(time[split]), float(time[-1])]
    identified = IdentifiedModel(name or _model_name(data), a, b, c, d, dt, tuple(inputs), tuple(cvs),
                                 units_in, units_out, np.asarray(u0, float), np.asarray(y0, float),
                                 provenance, tuple(dvs))
    return IdentifyRun(identified, fir, gains, validation, time, u, y, simulated, split, details)


def _dead_time_provenance(realised, cvs, inputs) -> dict[str, Any]:
    """How the dead times are represented in the saved model (its provenance)."""
    return {
        "representation": "Pade approximation per pair, realised in continuous time and "
                          "sampled exactly (zero-order hold); docs/identified-models.md",
        "tolerance": DEAD_TIME_TOLERANCE,
        "warn_above": WARN_ERROR,
        "pade_order": {f"{cvs[i]}/{inputs[j]}": choice.order
                       for i, row in enumerate(realised.choices) for j, choice in enumerate(row)},
        "step_error": {f"{cvs[i]}/{inputs[j]}": round(choice.error, 6)
                       for i, row in enumerate(realised.choices) for j, choice in enumerate(row)},
    }


def simulate_from_rest(a, b, c, d, u, u0, y0) -> np.ndarray:
    """Model outputs over ``u``, starting at rest (steady) at the first sample's inputs."""
    du = np.asarray(u, float) - u0
    eye = np.eye(a.shape[0])
    try:
        x0 = np.linalg.solve(eye - a, b @ du[0]) if np.linalg.cond(eye - a) < 1e12 else None
    except np.linalg.LinAlgError:
        x0 = None
    return simulate_state_space(a, b, c, d, du, x0) + y0


def _realise_fir(fir: FirModel, u, y, order, details, max_order: int = 8):
    """ERA realisation of the FIR model, order by simulated fit on the estimation data.

    The impulse response is realised scaled (inputs by their standard
    deviation, outputs by theirs), so that no pair's dynamics is lost
    beside a pair with larger numbers in its units.
    """
    s_u, s_y = u.std(axis=0), y.std(axis=0)
    s_y = np.where(s_y > 0, s_y, 1.0)
    scaled = fir.impulse * np.outer(1 / s_y, s_u)[:, :, None]
    candidates = [order] if order is not None else range(1, max_order + 1)
    best, fits, models = -math.inf, {}, {}
    for n, (a, b, c, d) in realizations(scaled, candidates).items():
        b, c = b / s_u, s_y[:, None] * c
        if np.max(np.abs(np.linalg.eigvals(a))) >= 1.0 and order is None:
            continue
        models[n] = (a, b, c, d)
        fits[n] = float(np.mean(nrmse_fit(y, simulate_from_rest(a, b, c, d, u, fir.u0, fir.y0))))
        best = max(best, fits[n])
    if not models:
        raise InputError("no stable realisation of the FIR model up to order 8; try --method tf")
    chosen = min(n for n in fits if fits[n] >= best - 1.0)
    details["fit_by_order"] = fits
    return models[chosen]


def _time_constants(a: np.ndarray, dt: float) -> list[float]:
    """``-dt/ln|lambda|`` of the model's eigenvalues, largest first [s] (inf: integrating)."""
    magnitude = np.abs(np.linalg.eigvals(a))
    with np.errstate(divide="ignore"):
        taus = np.where(magnitude > 0, -dt / np.log(np.where(magnitude > 0, magnitude, 1)), 0.0)
    return sorted((float(t) for t in taus if t > 0), reverse=True)


def _model_name(data: PlantData) -> str:
    """``<data file stem>_identified``, made a valid model name (a letter, then letters, digits, _)."""
    stem = re.sub(r"\W+", "_", Path(data.source).stem if data.source else "plant").strip("_")
    if not stem or not stem[0].isalpha():
        stem = f"plant_{stem}".rstrip("_")
    return f"{stem}_identified"


def _check_request(method, structure, mvs, cvs, dvs, holdout) -> None:
    if method not in METHODS:
        raise InputError(f"--method '{method}': expected one of {', '.join(METHODS)}")
    if structure not in STRUCTURES:
        raise InputError(f"--structure '{structure}': expected one of {', '.join(STRUCTURES)}")
    if not mvs or not cvs:
        raise InputError("identification needs at least one --mv and one --cv")
    names = [*mvs, *cvs, *dvs]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"variable(s) {', '.join(twice)} named more than once among --mv, --cv, --dv")
    if not (math.isfinite(holdout) and 0 <= holdout <= 0.8):
        raise InputError(f"--holdout {holdout}: expected a fraction between 0 and 0.8")


def _check_samples(where, time, u, y, inputs, cvs) -> None:
    if time.size < 20:
        raise InputError(f"{where}: {time.size} samples are too few to identify a model")
    steps = np.diff(time)
    dt = float(np.median(steps))
    if np.max(np.abs(steps - dt)) > 0.01 * dt:
        raise InputError(f"{where}: irregular sampling (intervals {steps.min():g} to {steps.max():g} s); "
                         f"resample the data to a fixed interval first")
    for names, values in ((inputs, u), (cvs, y)):
        infinite = np.isinf(values).any(axis=0)
        if infinite.any():
            which = ", ".join(n for n, bad in zip(names, infinite) if bad)
            raise InputError(f"{where}: infinite values in {which}; cut them before identifying")
        missing = np.isnan(values).sum(axis=0)
        if missing.any():
            which = ", ".join(f"{n} ({c})" for n, c in zip(names, missing) if c)
            raise InputError(f"{where}: missing values in {which}; fill or cut them before identifying (`twin data inspect` shows "
                             f"which samples the bad-data rules rejected)")


def _check_moving(where, u, y, inputs, cvs) -> None:
    """Every column moves in the estimation part, and its spread is a finite number."""
    with np.errstate(over="ignore", invalid="ignore"):
        spread = {n: float(np.std(col)) for names, values in ((inputs, u), (cvs, y))
                  for n, col in zip(names, values.T)}
    huge = [n for n, s in spread.items() if not math.isfinite(s)]
    if huge:
        raise InputError(f"{where}: values in {', '.join(huge)} too large to identify from "
                         f"(their spread overflows); check the column's unit or cut the outliers")
    still = [n for n, s in spread.items() if not s > 0]
    if still:
        raise InputError(f"{where}: {', '.join(still)} never move{'s' if len(still) == 1 else ''} "
                         f"in the estimation data; leave {'it' if len(still) == 1 else 'them'} out "
                         f"of --mv/--cv/--dv")
