"""Exported FMUs run by fmpy against our native reference backend (CVODES, rtol 1e-10)."""

from __future__ import annotations

import math

import fmpy
import numpy as np
import pytest

import twin
from support import RK4_STEP, relative_error
from twin.core.schedule import InputSchedule

SCENARIOS = {
    # model: (t_end, output interval, [(time, {input: value})])
    "cstr": (0.2, 0.002, [(0.05, {"F": 18.0}), (0.12, {"Q_dot": -2500.0})]),
    "distillation_a": (20.0, 0.1, [(2.0, {"L_T": 2.80}), (9.0, {"V_B": 3.35, "z_F": 0.55})]),
}
TOLERANCE = 1e-6


def _fmpy_input(model, steps, t_end):
    """A step-input table for fmpy, each step at a duplicated time stamp (no interpolation)."""
    names = model.inputs.names
    u = model.u0()
    rows = [(0.0, *u)]
    for t, change in steps:
        rows.append((t, *u))
        u = model.inputs.vector(change, base=u)
        rows.append((t, *u))
    rows.append((t_end, *u))
    return np.array(rows, dtype=[("time", float)] + [(n, float) for n in names])


def _at_grid(result, grid):
    """fmpy rows at the output times (the last row where a time stamp repeats)."""
    idx = np.searchsorted(result["time"], grid + 1e-9, side="right") - 1
    assert np.allclose(result["time"][idx], grid, atol=1e-9)
    return idx


@pytest.mark.parametrize("model_name", sorted(SCENARIOS))
@pytest.mark.parametrize("interface", ["ModelExchange", "CoSimulation"])
def test_fmpy_matches_native_reference(exported, model_name, interface):
    model = twin.load_model(model_name)
    t_end, dt, steps = SCENARIOS[model_name]
    native = twin.simulate(model, t_end, dt, inputs=InputSchedule.from_steps(
        model.inputs, model.u0(), steps), backend="reference")
    start = {}
    if interface == "CoSimulation":  # fixed-step RK4 inside the FMU, 5x finer than needed
        start = {"solver_method": 0,
                 "solver_substeps": int(math.ceil(dt / RK4_STEP[model_name])) * 5}
    result = fmpy.simulate_fmu(str(exported(model_name)), stop_time=t_end, output_interval=dt,
                               fmi_type=interface, relative_tolerance=1e-10, start_values=start,
                               input=_fmpy_input(model, steps, t_end),
                               output=model.states.names)
    idx = _at_grid(result, native.t)
    fmu_states = np.column_stack([result[n][idx] for n in model.states.names])
    error = relative_error(fmu_states, native.x)
    assert error < TOLERANCE, f"{model_name} {interface}: relative error {error:.2e}"
    assert relative_error(native.x[-1], native.x[0]) > 1e-3  # the scenario moves the states
