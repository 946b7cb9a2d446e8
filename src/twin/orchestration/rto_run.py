"""``twin rto``: economic optima of models, and RTO runs on the simulated plant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

from rto.economics import EconomicOptimizer, EconomicResult, load_economics, shipped_economics
from rto.log import RTOIteration, RTOResult
from rto.schemes import run_rto, true_plant_optimum_gap
from rto.spec import RTOSpec, load_rto
from twin.core.errors import UnknownNameError
from twin.core.plant import SimulatedPlant
from twin.core.sensors import SensorSpec
from twin.orchestration.registry import load_model


def economics_for(name_or_path: str):
    """An economics spec from a shipped name (``williams_otto``) or a file."""
    path = Path(name_or_path)
    return load_economics(path if path.suffix == ".toml" else shipped_economics(name_or_path))


def optimum(model_name: str, economics: str | None = None, parameters: dict | None = None,
            parameter_set: str | None = None) -> EconomicResult:
    """The economic optimum of a model (economics: shipped for the model by default)."""
    spec = economics_for(economics or model_name)
    if parameter_set is None:
        parameter_set = spec.parameter_set
    model = load_model(model_name, {**spec.parameters, **(parameters or {})}, parameter_set)
    return EconomicOptimizer(model, spec).optimize()


def shipped_rto(plant: str) -> Path:
    """Path of the shipped RTO file of a plant (``williams_otto``)."""
    folder = Path(str(resources.files("rto") / "rto_data"))
    path = folder / f"{plant}.toml"
    if not path.is_file():
        raise UnknownNameError("RTO set-up", plant, sorted(p.stem for p in folder.glob("*.toml")))
    return path


def rto_run(spec: RTOSpec, progress: Callable[[RTOIteration], None] | None = None
            ) -> tuple[RTOResult, dict[str, Any]]:
    """Run an RTO scheme on the simulated plant; return the result and the true-plant figures."""
    economics = economics_for(spec.economics)
    plant_model = load_model(spec.plant)
    model = load_model(spec.model)
    sensors = [SensorSpec(n, std) for n, std in spec.measurements.items()]
    plant = SimulatedPlant(plant_model, spec.tick, sensors, u0=spec.start, steady_start=True,
                           seed=spec.seed)
    result = run_rto(spec, plant, model, economics, progress)
    profit, best = true_plant_optimum_gap(plant_model, economics, result.final_inputs)
    return result, {"plant_profit_at_final_inputs": profit, "plant_optimum_profit": best,
                    "fraction_of_optimum": profit / best}


def rto_spec(plant: str, model: str | None = None, scheme: str | None = None,
             iterations: int | None = None, path: str | None = None) -> RTOSpec:
    """The shipped (or given) RTO set-up with command-line overrides."""
    spec = load_rto(path or shipped_rto(plant))
    changes = {k: v for k, v in (("model", model), ("scheme", scheme),
                                 ("iterations", iterations)) if v is not None}
    return replace(spec, **changes) if changes else spec
