"""Exothermic A -> B CSTR against its published steady state (Seborg et al.; Henson & Seborg)."""

from __future__ import annotations

import numpy as np
import pytest

import twin

PUBLISHED = {"C_A": 0.5, "T": 350.0}
"""Steady state at q = 100 L/min, T_c = 300 K, C_Af = 1 mol/L, T_f = 350 K."""


def test_published_steady_state_is_met_and_open_loop_unstable():
    model = twin.load_model("cstr_exothermic")
    ss = twin.find_steady_state(model, u={"q": 100.0, "T_c": 300.0, "C_Af": 1.0, "T_f": 350.0},
                                x_guess={"C_A": 0.45, "T": 352.0})
    for name, published in PUBLISHED.items():
        assert ss.x[model.states.index(name)] == pytest.approx(published, rel=1e-3), name  # (k(350 K) = 0.99993 1/min)
    eig = ss.linearization.eigenvalues()
    # a saddle: eigenvalues +2.83 and -0.45 1/min (by hand: the Jacobian at k = 1 1/min is
    # [[-2, -0.0357], [209.2, 4.38]], trace 2.38, determinant -1.29)
    assert max(eig.real) == pytest.approx(2.83, abs=0.02)
    assert min(eig.real) == pytest.approx(-0.45, abs=0.02)
    assert not ss.stable


def test_the_nominal_values_are_the_published_ones():
    model = twin.load_model("cstr_exothermic")
    values = {v.name: (v.nominal, v.unit) for v in model.parameters}
    assert values == {"V": (100.0, "L"), "rho": (1000.0, "g/L"), "C_p": (0.239, "J/(g K)"),
                      "dH": (-5.0e4, "J/mol"), "E_R": (8750.0, "K"), "k0": (7.2e10, "1/min"),
                      "UA": (5.0e4, "J/(min K)")}
    rhs = np.array(twin.load_model("cstr_exothermic").evaluate_rhs(
        [0.5, 350.0], [100.0, 300.0, 1.0, 350.0], list(model.p0()), twin.core.ops.MATH))
    # the nominal point is the published steady state: residuals within 1e-4 of the terms
    # that balance (1 mol/(L min) of A fed, 104.6 K/min of heat released and removed)
    assert abs(rhs[0]) < 1e-4 and abs(rhs[1]) < 0.0105
