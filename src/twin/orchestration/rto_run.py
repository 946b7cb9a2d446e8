"""``twin rto``: economic optima of models, and RTO runs on the simulated plant."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from rto.economics import EconomicOptimizer, EconomicResult
from rto.economics_spec import economics_for, shipped_economics
from rto.log import RTOIteration, RTOResult
from rto.plant_data import ProfitMeter
from rto.schemes import run_rto
from rto.spec import RTOSpec, load_rto
from twin.core.errors import InputError, SteadyStateError, UnknownNameError
from twin.core.plant import SimulatedPlant
from twin.core.sensors import SensorSpec
from twin.core.steady import find_steady_state
from twin.orchestration.registry import load_model


def optimum(model_name: str, economics: str | None = None, parameters: dict | None = None,
            parameter_set: str | None = None) -> EconomicResult:
    """The economic optimum of a model (economics: shipped for the model by default)."""
    if economics is None:
        from rto.economics import HOW_TO_WRITE

        try:
            shipped_economics(model_name)
        except InputError:
            load_model(model_name)  # an unknown model is named as such
            raise InputError(f"no economics are shipped for model '{model_name}': write an "
                             f"economics file ({HOW_TO_WRITE}) and give it as --economics "
                             "FILE.toml") from None
    spec = economics_for(economics or model_name)
    if parameter_set is None:
        parameter_set = spec.parameter_set
    model = load_model(model_name, {**spec.parameters, **(parameters or {})}, parameter_set)
    return EconomicOptimizer(model, spec).optimize()


def variable_scales(model_name: str, parameter_set: str | None = None) -> dict[str, float]:
    """The magnitude of each state and input's range (for printing: round-off below it is 0)."""
    model = load_model(model_name, parameter_set=parameter_set)
    out = {}
    for v in (*model.states, *model.inputs):
        finite = [abs(b) for b in (v.lower, v.upper) if math.isfinite(b)]
        if finite:
            out[v.name] = max(finite)
    return out


def shipped_rto(plant: str) -> Path:
    """Path of the shipped RTO file of a plant (``williams_otto``)."""
    folder = Path(str(resources.files("rto") / "rto_data"))
    path = folder / f"{plant}.toml"
    if not path.is_file():
        raise UnknownNameError("RTO set-up", plant, sorted(p.stem for p in folder.glob("*.toml")))
    return path


def rto_run(spec: RTOSpec, progress: Callable[[RTOIteration], None] | None = None
            ) -> tuple[RTOResult, dict[str, Any]]:
    """Run an RTO scheme on the simulated plant; return the result and the true-plant figures.

    The figures say whether the run succeeded: ``ok`` is False, and
    ``failures`` says why, when an iteration's parameter estimation or
    optimisation failed, when the plant's own optimum (the reference) was
    not found, or when a figure is not finite. An iteration that refused
    data for a gross error did its job and is no failure.
    """
    economics = economics_for(spec.economics)
    plant_model = load_model(spec.plant)
    model = load_model(spec.model)
    sensors = [SensorSpec(n, std) for n, std in spec.measurements.items()]
    plant = SimulatedPlant(plant_model, spec.tick, sensors, u0=spec.start, steady_start=True,
                           seed=spec.seed)
    result = run_rto(spec, plant, model, economics, progress)
    failures = [f"iteration {it.k}: {it.note}" for it in result.iterations
                if it.note and not it.note.startswith("gross error")]
    best = EconomicOptimizer(plant_model, economics).optimize()
    try:
        ss = find_steady_state(plant_model, u=result.final_inputs)
        profit = ProfitMeter(plant_model, economics)(plant_model.states.to_dict(ss.x),
                                                     result.final_inputs)
    except SteadyStateError as exc:
        profit = math.nan
        failures.append(f"the plant has no steady state at the final inputs ({exc})")
    fraction = profit / best.profit if best.profit else math.nan
    if not best.ok:
        failures.append(f"the plant's own optimum was not found ({best.status})")
    if not all(map(math.isfinite, (profit, best.profit, fraction))):
        failures.append("a profit at the final inputs or at the optimum is not finite")
    return result, {"plant_profit_at_final_inputs": profit, "plant_optimum_profit": best.profit,
                    "fraction_of_optimum": fraction, "ok": not failures, "failures": failures}


def rto_spec(plant: str, model: str | None = None, scheme: str | None = None,
             iterations: int | None = None, path: str | None = None) -> RTOSpec:
    """The shipped (or given) RTO set-up with command-line overrides."""
    spec = load_rto(path or shipped_rto(plant))
    changes = {k: v for k, v in (("model", model), ("scheme", scheme),
                                 ("iterations", iterations)) if v is not None}
    return replace(spec, **changes) if changes else spec
