"""Helpers for the control tests: loops from the shipped examples and do-mpc's set-up."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from twin.orchestration.loop.config import LoopConfig, PlantConfig, RunConfig
from twin.orchestration.loop.runner import ClosedLoop

from twin_benchmarks.apc import SPEC as DOMPC_SPEC
X0 = {"C_a": 0.8, "C_b": 0.5, "T_R": 134.14, "T_K": 130.0}


def replace(obj, **changes):
    return dataclasses.replace(obj, **changes)


def run_loop(config: LoopConfig, folder) -> tuple[ClosedLoop, "object"]:
    loop = ClosedLoop(config, folder)
    loop.run()
    frame = loop.store.to_frame()
    loop.close()
    return loop, frame


def ideal_plant(**kw) -> PlantConfig:
    """do-mpc's set-up: the CSTR from its example start, MVs applied at once."""
    return PlantConfig(model="cstr", x0=X0, u0={"F": 0.0, "Q_dot": 0.0}, latch="immediate",
                       rtol=1e-10, atol=1e-10, **kw)


def dompc_loop(spec, steps: int = 50) -> LoopConfig:
    return LoopConfig(plant=ideal_plant(), controller=spec,
                      run=RunConfig(duration=steps * spec.sample_time))


def plant_states(frame, names=("C_a", "C_b", "T_R", "T_K")) -> np.ndarray:
    return frame[[f"{n}.plant" for n in names]].to_numpy()
