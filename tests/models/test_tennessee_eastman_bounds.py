"""Property: from any valid start, the Tennessee Eastman plant stays physical until it shuts down.

The shipped unit-scale models are held to their physical bounds from any
start within their operating ranges, for as long as they run
(``test_physical_bounds.py``). The Tennessee Eastman plant has interlocks:
like the real plant it stops at a shutdown limit (``model.trips``), and past
one its equations are not meant to hold. Its property is therefore: from a
valid start, under any inputs within their bounds, every state and output
stays within its physical bounds up to and including the time at which a
shutdown limit is first passed (the simulator finds it between output times)
or the end of the horizon. A vessel drained within one output interval stops
at its limit, not below empty, and an integration that fails past a limit
ends at the limit rather than with an error.

A valid start: each holdup 0.8-1.2 times the base case's, each vessel's
energy scaled with its liquid (or gas) and then by 0.97-1.03 (its
temperature within a few kelvin of the base case), cooling water within
10 K, every valve anywhere in 0-100 % (in the reduced model, whose other
valves are their commands, the steam valve).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plant_models.tennessee_eastman import MODEL as OPEN_LOOP
from plant_models.tennessee_eastman.constants import COMPONENTS
from plant_models.tennessee_eastman_reduced import MODEL as REDUCED
from plant_models.tennessee_eastman_ricker import MODEL as CLOSED_LOOP
from twin.core.schedule import InputSchedule
from twin.core.sensors import physical_limits
from twin.core.simulation import simulate

HORIZON = {"tennessee_eastman": 2.0, "tennessee_eastman_reduced": 2.0,
           "tennessee_eastman_ricker": 8.0}
"""Simulated time per example [h]: the open-loop plant (full or reduced) trips within about 2 h,
the controlled one runs on."""
DT = 0.025
"""Output interval [h]; a shutdown limit passed between two outputs ends the run where it is passed."""


def _valid_start(data, model) -> np.ndarray:
    x = model.x0().copy()
    names = model.states.names
    factor = st.floats(0.8, 1.2)
    for v in "rscv":
        holdups = [names.index(f"N_{v}_{c}") for c in COMPONENTS]
        weighed = holdups[3:] if v in "rs" else holdups  # A, B, C are gas in r and s
        before = x[weighed].sum()
        x[holdups] *= [data.draw(factor, label=f"N_{v}_{c}") for c in COMPONENTS]
        x[names.index(f"H_{v}")] *= (x[weighed].sum() / before
                                     * data.draw(st.floats(0.97, 1.03), label=f"H_{v}"))
    for name in ("T_cw_r", "T_cw_s"):
        x[names.index(name)] += data.draw(st.floats(-10.0, 10.0), label=name)
    for i, name in enumerate(names):
        if name.startswith("pos_"):  # the reduced model keeps only the steam valve's
            x[i] = data.draw(st.floats(0.0, 100.0), label=name)
    return x


def _inputs(data, model) -> np.ndarray:
    lo, hi = model.inputs.lower(), model.inputs.upper()
    return np.array([data.draw(st.floats(a, b), label=v.name)
                     for v, a, b in zip(model.inputs, lo, hi)])


@pytest.mark.parametrize("model", [OPEN_LOOP, REDUCED, CLOSED_LOOP], ids=lambda m: m.name)
@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_plant_stays_physical_until_it_shuts_down(model, data):
    x0 = _valid_start(data, model)
    horizon = HORIZON[model.name]
    inputs = InputSchedule(_inputs(data, model), np.array([horizon / 3, 2 * horizon / 3]),
                           np.array([_inputs(data, model) for _ in range(2)]))
    run = simulate(model, horizon, DT, x0=x0, inputs=inputs)
    limits = physical_limits(model)
    assert np.all(np.isfinite(run.x)) and np.all(np.isfinite(run.y))
    for values, names in ((run.x, model.states.names), (run.y, model.outputs.names)):
        for j, name in enumerate(names):
            if name in limits:
                low, high = limits[name]
                k = int(np.argmax((values[:, j] < low) | (values[:, j] > high)))
                assert low <= values[k, j] <= high, (
                    f"{name} = {values[k, j]:.6g} at t = {run.t[k]:g} h ({run.event or 'no trip'})")
