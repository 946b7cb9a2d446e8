"""The 36-state Tennessee Eastman model (valves and cooling water quasi-steady) against the full one.

The reduction is exact where it claims to be (the mapping, the steady
state, the Jacobian: the singular perturbation of the full model's), and
these tests also record what it costs open loop: the reactor cooling water
(37 s) is not fast beside the plant's unstable oscillation, which grows at
4.79/h in the reduced model instead of 3.06/h, so open-loop runs part
from the full model's within the hour.
"""

from __future__ import annotations

import numpy as np
import pytest

from plant_models.tennessee_eastman import MODEL as FULL
from plant_models.tennessee_eastman_reduced import (FAST_STATES, MODEL, full_state,
                                                    reduce_state)
from test_tennessee_eastman import _error_in_span, _our_run, _steady_state_at_base_levels
from twin.core.ops import MATH
from twin.core.simulation import simulate
from twin.core.symbolic import casadi_form, spectral_radius

X0, U0, P0 = FULL.x0(), FULL.u0(), FULL.p0()
FAST = [FULL.states.index(name) for name in FAST_STATES]
SLOW = [FULL.states.index(name) for name in MODEL.states.names]
COOLING_WATER = [FULL.states.index("T_cw_r"), FULL.states.index("T_cw_s")]
COMPARED = [*range(22), FULL.outputs.index("operating_cost")]
"""XMEAS 1-22 and the operating cost (output 42)."""


@pytest.fixture(scope="module")
def steady():
    """The full model's steady state at 50 % separator and stripper levels: (x, u)."""
    return _steady_state_at_base_levels()


def _rhs(model, x, u):
    return np.array(model.evaluate_rhs(list(x), list(u), list(P0), MATH))


def test_the_models_share_inputs_parameters_outputs_and_trips():
    assert MODEL.states.names == [n for n in FULL.states.names if n not in FAST_STATES]
    assert len(MODEL.states) == 36 and len(FAST_STATES) == 14
    for group in ("inputs", "parameters", "outputs"):
        assert getattr(MODEL, group).names == getattr(FULL, group).names
    assert np.array_equal(MODEL.u0(), U0) and np.array_equal(MODEL.p0(), P0)
    assert MODEL.trips == FULL.trips and MODEL.time_unit == FULL.time_unit == "h"
    assert np.array_equal(MODEL.x0(), reduce_state(X0))


def test_the_mapping_recovers_the_full_base_state():
    """Holdups, energies and valve positions exactly; the cooling-water outlets within 1e-6 K of
    Downs & Vogel's (measured: 5e-9 K reactor, 2e-8 K condenser: their state is nearly steady)."""
    x = full_state(reduce_state(X0), U0, P0)
    others = [i for i in range(FULL.n_x) if i not in COOLING_WATER]
    assert np.array_equal(x[others], X0[others])
    assert np.max(np.abs(x[COOLING_WATER] - X0[COOLING_WATER])) < 1e-6
    assert np.array_equal(reduce_state(x), MODEL.x0())


def test_the_full_models_steady_state_is_the_reduced_models(steady):
    """At the full model's steady state (its derivatives below 1e-12 per hour) the reduced
    model's derivatives are below 1e-6 of each state per hour (measured: 3e-11), and the mapping
    gives back its cooling water within 1e-6 K (measured: 1e-10 K). Downs & Vogel's reported
    state drifts by 1.6e-3 per hour, as in the full model."""
    x, u = steady
    f = _rhs(MODEL, reduce_state(x), u)
    assert np.max(np.abs(f) / np.abs(reduce_state(x))) < 1e-6  # relative, per hour
    assert np.max(np.abs(full_state(reduce_state(x), u, P0) - x)) < 1e-6
    drift = _rhs(MODEL, MODEL.x0(), U0)
    assert np.max(np.abs(drift) / np.abs(MODEL.x0())) < 2e-3


def test_the_jacobian_is_the_singular_perturbation_of_the_full_models(steady):
    """``A_ss - A_sf A_ff^-1 A_fs`` of the full model's Jacobian (f: the 14 fast states, at
    their quasi-steady values) is the reduced model's, element by element within 1e-9 of the
    largest (measured: 6e-13); so are the unstable oscillation's eigenvalues (3.06 +- 5.08i /h
    in the full model, 4.79 +- 4.77i /h in the reduced one)."""
    x, u = steady
    a = casadi_form(FULL).linearize(full_state(reduce_state(x), u, P0), u, P0).A
    reduced = casadi_form(MODEL).linearize(reduce_state(x), u, P0).A
    schur = a[np.ix_(SLOW, SLOW)] - a[np.ix_(SLOW, FAST)] @ np.linalg.solve(
        a[np.ix_(FAST, FAST)], a[np.ix_(FAST, SLOW)])
    assert np.max(np.abs(schur - reduced)) < 1e-9 * np.max(np.abs(reduced))
    growth = {m.name: max(np.linalg.eigvals(j).real) for m, j in ((FULL, a), (MODEL, reduced))}
    assert growth["tennessee_eastman"] == pytest.approx(3.065, abs=0.005)
    assert growth["tennessee_eastman_reduced"] == pytest.approx(4.792, abs=0.005)


def test_the_fastest_mode_is_the_reactor_d_holdups_not_a_valves(steady):
    """Largest |eigenvalue| of the Jacobian at the steady state: 1968/h (1.83 s) in the full
    model, 2123/h (1.70 s) in the reduced one. The reduction takes away 11 of the full model's
    14 modes faster than 360/h (10 s): the valves' (5-9 s) and cooling water's, not the
    fastest, which is the reactor's liquid D holdup (0.19 kmol) and stays."""
    x, u = steady
    xf, xr = full_state(reduce_state(x), u, P0), reduce_state(x)
    radius = {"full": spectral_radius(FULL, xf, u, P0), "reduced": spectral_radius(MODEL, xr, u, P0)}
    assert radius["full"] == pytest.approx(1968.1, rel=1e-3)
    assert radius["reduced"] == pytest.approx(2122.5, rel=1e-3)
    for model, point in ((FULL, xf), (MODEL, xr)):
        values, vectors = np.linalg.eig(casadi_form(model).linearize(point, u, P0).A)
        fastest = np.abs(vectors[:, np.argmax(np.abs(values))]) / np.maximum(np.abs(point), 1e-3)
        assert model.states.names[int(np.argmax(fastest))] == "N_r_D"
        assert int(np.sum(np.abs(values) > 360.0)) == (14 if model is FULL else 3)


@pytest.mark.parametrize("idv, hours, bound", [
    (None, 0.5, 0.01),   # measured 0.16 % over 0.5 h
    (None, 1.0, 0.025),  # 2.0 % over 1 h (separator level)
    (1, 1.0, 10.0),      # 863 % (condenser cooling water) up to the reduced model's trip at 0.38 h
    (4, 1.0, 5.0),       # 454 % (condenser cooling water) up to its trip at 0.85 h
])
def test_open_loop_the_reduced_model_parts_from_the_full_one_within_the_hour(idv, hours, bound):
    """XMEAS 1-22 and the operating cost over the run from the base case, open loop, as a
    fraction of the full model's span over it (at least 1 % of its base value), up to the first
    trip of either model. Without a disturbance they agree within 1 % for half an hour; after
    IDV 1 or IDV 4 within minutes the quasi-steady cooling water and the faster unstable
    oscillation put them apart by several spans (the full model follows the oracle within 1 %)."""
    theirs = _our_run(hours, idv)[:, COMPARED]
    ours = _our_run(hours, idv, model=MODEL)[:, COMPARED]
    n = min(len(theirs), len(ours))
    base = np.array(FULL.evaluate_outputs(list(X0), list(U0), list(P0), MATH))[COMPARED]
    error = _error_in_span(ours[:n], theirs[:n], base)
    assert np.max(error) <= bound, dict(zip(np.array(FULL.outputs.names)[COMPARED], np.round(error, 4)))


def test_open_loop_both_trip_on_high_reactor_pressure_as_their_growth_rates_predict():
    """Base-case XMVs held: the full model trips at 3.60 h, the reduced one at 2.32 h (0.644 of
    it), on high reactor pressure: the ratio of the unstable oscillation's growth rates,
    3.065/4.792 = 0.640, within 0.02 (not the 5 % of the full model's time the two would agree
    within were the cooling water fast)."""
    runs = {m.name: simulate(m, 8.0, 0.01) for m in (FULL, MODEL)}
    for run in runs.values():
        assert run.event.startswith("shutdown at t = ") and "high reactor pressure" in run.event
    full, reduced = runs["tennessee_eastman"].t[-1], runs["tennessee_eastman_reduced"].t[-1]
    assert full == pytest.approx(3.60, abs=0.02) and reduced == pytest.approx(2.32, abs=0.02)
    assert abs(reduced / full - 3.065 / 4.792) < 0.02
