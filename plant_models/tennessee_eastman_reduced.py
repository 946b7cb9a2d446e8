"""The Tennessee Eastman process with its fast states at quasi-steady state: 36 states.

A 36-state reduction by singular perturbation (valves and cooling water at
quasi-steady state) of :mod:`plant_models.tennessee_eastman`, meant for
estimators and NMPC whose sample time is minutes:

- the 12 valves (first-order lags of 5-9 s, the steam valve's 120 s) are
  taken as instantaneous: each position is its command input [%];
- the two cooling-water outlet temperatures (time constants of 37 s and
  3.3 min at the base case) are at the steady state of their balance
  ``0 = W cp (T_in - T_cw) - UA (T_cw - T_r) (1 - gain x fouling)``, linear
  in ``T_cw`` and solved in closed form
  (:func:`plant_models.tennessee_eastman.equations.quasi_steady_outlet`;
  both exchangers are driven by the reactor temperature ``T_r``, as in the
  full model);
- the 32 holdups [kmol] and 4 energies [MJ] keep the full model's balances:
  the same :func:`~plant_models.tennessee_eastman.equations.process`,
  :func:`~plant_models.tennessee_eastman.equations.holdup_balances` and
  :func:`~plant_models.tennessee_eastman.measurements.measured`.

Inputs, parameters, outputs (XMEAS 1-41, the operating cost, ...), shutdown
limits and time unit (h) are the full model's; XMEAS 21 and 22 are the
quasi-steady outlet temperatures. :func:`reduce_state` and
:func:`full_state` map states between the two models.

Open loop the reduction is not accurate: the plant's unstable oscillation
grows at 4.79/h instead of 3.06/h (the reactor cooling water's 37 s are not
fast beside it), so the reduced model trips on high reactor pressure at
2.32 h instead of 3.60 h; and its fastest mode (1.7 s, the reactor's liquid
D holdup) is no slower than the full model's (``docs/tennessee-eastman.md``,
*Reduced model*).
"""

from __future__ import annotations

import numpy as np

from plant_models.tennessee_eastman import MODEL as FULL
from plant_models.tennessee_eastman.declarations import VALVES
from plant_models.tennessee_eastman.equations import holdup_balances, process
from plant_models.tennessee_eastman.measurements import measured
from twin.core.model import Model, ParameterSet
from twin.core.ops import MATH

COOLING_WATER = {"T_cw_r": "reactor_cw_out", "T_cw_s": "condenser_cw_out"}
"""Cooling-water outlet temperatures of the full model [degC] and the outputs that give them."""
FAST_STATES = (*COOLING_WATER, *(f"pos_{name}" for name, _, _, _ in VALVES))
"""The 14 states of the full model this one holds at their quasi-steady values."""


def rhs(x, u, p, ops):
    """Component [kmol/h] and energy [MJ/h] balances, valves and cooling water quasi-steady."""
    return holdup_balances(process(x, u, p, ops, quasi_steady=True), p)


def output_map(x, u, p, ops):
    """The full model's outputs: XMEAS 1-41, operating cost [USD/h], production, volumes."""
    return measured(process(x, u, p, ops, quasi_steady=True), x, p, ops)


MODEL = Model(
    name="tennessee_eastman_reduced",
    title="Tennessee Eastman process, 36 states (valves and cooling water quasi-steady)",
    source=f"{FULL.source}; reduced by singular perturbation of its valve and cooling-water states",
    time_unit=FULL.time_unit,
    states=[v for v in FULL.states if v.name not in FAST_STATES],
    inputs=list(FULL.inputs),
    parameters=list(FULL.parameters),
    outputs=list(FULL.outputs),
    rhs=rhs,
    output_map=output_map,
    parameter_sets=(
        ParameterSet("base", "Downs & Vogel base case (Mode 1 of their Table 3): the constants "
                     "and their initial state without the valves and cooling water", {}),
    ),
    stiff=True,
    trips=FULL.trips,
).with_parameter_set("base")

_KEPT = [FULL.states.index(name) for name in MODEL.states.names]


def reduce_state(x_full) -> np.ndarray:
    """The reduced model's state (holdups [kmol], energies [MJ]) from the full model's 50, in
    the reduced model's state order: the 14 fast states are dropped."""
    return np.asarray(x_full, dtype=float)[_KEPT]


def full_state(x_reduced, u, p) -> np.ndarray:
    """The full model's 50 states from the reduced model's 36, its inputs ``u`` and parameters
    ``p`` (vectors in the models' order, shared by both): valve positions [%] at their commands,
    cooling-water outlet temperatures [degC] at their quasi-steady values."""
    x_reduced = np.asarray(x_reduced, dtype=float)
    u = np.asarray(u, dtype=float)
    y = dict(zip(MODEL.outputs.names,
                 MODEL.evaluate_outputs(list(x_reduced), list(u), list(p), MATH)))
    values = dict(zip(MODEL.states.names, x_reduced))
    values.update({state: y[output] for state, output in COOLING_WATER.items()})
    values.update({f"pos_{name}": u[MODEL.inputs.index(name)] for name, _, _, _ in VALVES})
    return np.array([values[name] for name in FULL.states.names], dtype=float)
