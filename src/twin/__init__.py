"""Process digital twin: plant models, simulation, steady states.

The Python API in one place::

    import twin
    cstr = twin.load_model("cstr", parameter_set="literature")
    ss = twin.find_steady_state(cstr, u={"F": 14.19, "Q_dot": -1113.5})
    run = twin.simulate(cstr, t_end=1.0, dt=0.005, x0=ss.x)
    run.to_pandas()

Closed loops, RTO runs, what-if studies, FMU export and the plant-data path (:mod:`twin.api`,
loaded on first use)::

    loop = twin.run_loop("cstr_apc.toml", "runs/apc")
    loop.to_pandas()

From plant data to models: ``twin.load_plant_data``, ``twin.run_step_test``,
``twin.identify``, ``twin.calibrate``.
"""

from twin.core.errors import InputError, SimulationError, SteadyStateError, TwinError, UnknownNameError
from twin.core.model import Model, ParameterSet
from twin.core.results import SimulationResult
from twin.core.schedule import InputSchedule
from twin.core.simulation import simulate
from twin.core.simulator import Simulator
from twin.core.steady import SteadyState, find_steady_state
from twin.core.symbolic import casadi_form
from twin.orchestration.registry import load_model, model_names

__version__ = "0.1.0"

_API = ("LoopRun", "RTORun", "StudyRun", "calibrate", "export_fmu", "identify", "load_plant_data",
        "run_loop", "run_rto", "run_step_test", "run_study")
"""Names of :mod:`twin.api`, imported on first use (it loads the controller, RTO and FMU layers)."""


def __getattr__(name: str):
    if name in _API:
        from twin import api

        return getattr(api, name)
    raise AttributeError(f"module 'twin' has no attribute '{name}'")

__all__ = [
    "InputError", "InputSchedule", "Model", "ParameterSet", "SimulationError", "SimulationResult",
    "Simulator", "SteadyState", "SteadyStateError", "TwinError", "UnknownNameError", "casadi_form",
    "find_steady_state", "load_model", "model_names", "simulate", *_API,
]
