"""The Tennessee Eastman process with its fast valves instantaneous: 39 states.

A 39-state reduction by singular perturbation of
:mod:`plant_models.tennessee_eastman`, the project's own, meant for
estimators and NMPC whose sample time is minutes: the 11 valves with
first-order lags of 5-9 s are taken as instantaneous, each position its
command input [%]. The 32 holdups [kmol], 4 energies [MJ], the two
cooling-water outlet temperatures [degC] and the steam valve's position [%]
keep the full model's balances: the same
:func:`~plant_models.tennessee_eastman.equations.process`,
:func:`~plant_models.tennessee_eastman.equations.holdup_balances`,
:func:`~plant_models.tennessee_eastman.equations.fast_balances` and
:func:`~plant_models.tennessee_eastman.measurements.measured`.

The states kept are not fast beside the plant's own dynamics. The cooling
water (37 s reactor, 3.3 min condenser): taken quasi-steady in closed form
(:func:`plant_models.tennessee_eastman.equations.quasi_steady_outlet`, which
:func:`reduction` can still select), the reactor's moves the open-loop
plant's unstable oscillation from 3.06/h to 4.53/h, both to 4.79/h, and even
the condenser's alone puts 1 h open-loop runs after IDV 1 or IDV 4 apart
from the full model's by more than a span. The steam valve (120 s): after
a step in its command the model without its lag is 34 % of a span off
the full one's still after 6 minutes (``docs/tennessee-eastman.md``,
*Reduced model*).

Inputs, parameters, outputs (XMEAS 1-41, the operating cost, ...), shutdown
limits and time unit (h) are the full model's. :func:`reduce_state` and
:func:`full_state` map states between the two models.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from plant_models.tennessee_eastman import MODEL as FULL
from plant_models.tennessee_eastman.declarations import VALVES
from plant_models.tennessee_eastman.equations import fast_balances, holdup_balances, process
from plant_models.tennessee_eastman.measurements import measured
from twin.core.model import ParameterSet

FAST_STATES = tuple(f"pos_{name}" for name, _, _, _ in VALVES if name != "steam_valve")
"""The 11 states of the full model this one holds at their quasi-steady values: the positions
of the valves with lags of 5-9 s (all but the steam valve's 120 s)."""


def reduction(fast_states, name, title):
    """The full model with ``fast_states`` (names among
    :data:`plant_models.tennessee_eastman.equations.FAST_STATES`) at their quasi-steady values:
    the valves named there at their commands, the cooling-water outlets at
    :func:`~plant_models.tennessee_eastman.equations.quasi_steady_outlet`."""
    fast = tuple(fast_states)

    def rhs(x, u, p, ops):
        """Component [kmol/h] and energy [MJ/h] balances, and those of the fast states kept."""
        s = process(x, u, p, ops, quasi_steady=fast)
        return {**holdup_balances(s, p), **fast_balances(s, x, u, p, quasi_steady=fast)}

    def output_map(x, u, p, ops):
        """The full model's outputs: XMEAS 1-41, operating cost [USD/h], production, volumes."""
        return measured(process(x, u, p, ops, quasi_steady=fast), x, p, ops)

    base = ParameterSet("base", "Downs & Vogel base case (Mode 1 of their Table 3): the constants "
                        "and their initial state without the quasi-steady states", {})
    return replace(FULL, name=name, title=title,
                   source=f"{FULL.source}; reduced by singular perturbation of its fast states",
                   states=[v for v in FULL.states if v.name not in fast], rhs=rhs,
                   output_map=output_map, parameter_sets=(base,))


MODEL = reduction(FAST_STATES, "tennessee_eastman_reduced",
                  "Tennessee Eastman process, 39 states (valves of 5-9 s instantaneous)")

_KEPT = [FULL.states.index(name) for name in MODEL.states.names]


def reduce_state(x_full) -> np.ndarray:
    """The reduced model's state (holdups [kmol], energies [MJ], cooling-water outlets [degC])
    and steam valve position [%] from the full model's 50, in the reduced model's state order:
    the 11 other valve positions are dropped."""
    return np.asarray(x_full, dtype=float)[_KEPT]


def full_state(x_reduced, u) -> np.ndarray:
    """The full model's 50 states from the reduced model's 39 and its inputs ``u`` (vectors in
    the models' order; the inputs are shared by both): each dropped valve position [%] at its
    command."""
    values = dict(zip(MODEL.states.names, np.asarray(x_reduced, dtype=float)))
    values.update({state: float(u[MODEL.inputs.index(state[4:])]) for state in FAST_STATES})
    return np.array([values[name] for name in FULL.states.names], dtype=float)
