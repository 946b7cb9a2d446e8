"""Steady-state solver: bounds, guesses and clear failures."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import fsolve

import twin
from twin.core import ops
from twin.core.errors import SteadyStateError
from twin.core.model import Model
from twin.core.variables import manipulated, parameter, state


def test_the_steady_state_is_scipys_on_the_plain_python_equations(model):
    """Independent of the solver and of CasADi: the equations evaluated in plain Python
    vanish there, and scipy's fsolve, started 0.1 % away, comes back to the same point."""
    ss = twin.find_steady_state(model)
    u, p = list(ss.u), list(ss.p)

    def rhs(x):
        return model.evaluate_rhs(list(x), u, p, ops.MATH)

    scale = np.maximum(np.abs(ss.x), 1e-3)
    assert np.max(np.abs(rhs(ss.x))) < 1e-9
    assert ss.residual < 1e-9
    start = ss.x * (1 + 1e-3 * np.random.default_rng(5).uniform(-1, 1, ss.x.size))
    again = fsolve(rhs, start, xtol=1e-13, full_output=True)[0]
    assert np.max(np.abs(rhs(again))) < 1e-9
    assert np.max(np.abs(again - ss.x) / scale) < 1e-8
    assert np.all(ss.x >= model.states.lower()) and np.all(ss.x <= model.states.upper())


def test_no_steady_state_within_bounds_is_a_clear_error():
    # Full heating of the CSTR drives the temperatures above their 180 degC bound.
    cstr = twin.load_model("cstr").with_parameters(T_in=175.0)
    with pytest.raises(SteadyStateError, match="no steady state of 'cstr' found within the state bounds"):
        twin.find_steady_state(cstr, u={"F": 5.0, "Q_dot": 0.0})


def test_a_model_without_equilibrium_fails_cleanly():
    model = Model(name="ramp", title="ramp", source="test", time_unit="s",
                  states=[state("z", "m", "level", 1.0, 0.0, 10.0)],
                  inputs=[manipulated("w", "m/s", "inflow", 1.0, 0.5, 2.0)],
                  parameters=[parameter("k", "-", "unused", 1.0)],
                  rhs=lambda x, u, p, ops: {"z": u.w})
    with pytest.raises(SteadyStateError, match="largest residual"):
        twin.find_steady_state(model)


def test_guess_selects_among_multiple_steady_states():
    # dz/dt = -(z - 1)(z - 3): equilibria at 1 (unstable, slope +2) and 3 (stable, slope -2).
    model = Model(name="two", title="two equilibria", source="test", time_unit="s",
                  states=[state("z", "-", "z", 0.0, -10.0, 10.0)],
                  inputs=[manipulated("w", "-", "unused", 0.0)],
                  parameters=[parameter("a", "-", "root", 1.0)],
                  rhs=lambda x, u, p, ops: {"z": -(x.z - p.a) * (x.z - 3.0) + 0 * u.w})
    low = twin.find_steady_state(model, x_guess={"z": 0.0})
    high = twin.find_steady_state(model, x_guess={"z": 5.0})
    assert low.x[0] == pytest.approx(1.0, abs=1e-12) and not low.stable
    assert high.x[0] == pytest.approx(3.0, abs=1e-12) and high.stable
    assert low.eigenvalues[0].real == pytest.approx(2.0)
