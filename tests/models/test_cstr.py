"""Van de Vusse CSTR against Klatt & Engell (1998) and do-mpc's example."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twin

KLATT_ENGELL = {"C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9}
"""Published operating point at F = 14.19 1/h, Q_dot = -1113.5 kJ/h, T_in = 104.9 degC."""


def test_klatt_engell_operating_point_within_0_1_percent():
    cstr = twin.load_model("cstr", {"T_in": 104.9})
    ss = twin.find_steady_state(cstr, u={"F": 14.19, "Q_dot": -1113.5})
    for name, published in KLATT_ENGELL.items():
        value = ss.x[cstr.states.index(name)]
        assert value == pytest.approx(published, rel=1e-3), name
    assert ss.stable


def test_literature_set_differs_from_default_only_in_feed_temperature():
    default = twin.load_model("cstr")
    literature = twin.load_model("cstr", parameter_set="literature")
    assert default.parameter_set == "do-mpc"
    differing = [v.name for v, w in zip(default.parameters, literature.parameters)
                 if v.nominal != w.nominal]
    assert differing == ["T_in"]
    assert default.parameters["T_in"].nominal == 130.0
    assert literature.parameters["T_in"].nominal == 104.9
    assert default.parameters["V_R"].nominal == 10.01
    assert default.parameters["alpha"].nominal == default.parameters["beta"].nominal == 1.0


def test_beta_scales_the_first_rate_and_alpha_the_third_activation_energy():
    # At C_b = 0 and F = 0 the C_b balance is K_1 C_a exactly, and the C_a
    # balance is -K_1 C_a - K_3 C_a^2: both rates can be read off the rhs.
    cstr = twin.load_model("cstr")
    form = twin.casadi_form(cstr)
    x = np.array([1.0, 0.0, 120.0, 110.0])
    u = np.array([0.0, 0.0])

    def rates(model):
        f = np.array(form.f(x, u, model.p0())).ravel()
        k1 = f[1] / x[0]
        k3 = (-f[0] - k1 * x[0]) / x[0] ** 2
        return k1, k3

    k1, k3 = rates(cstr)
    T = 120.0 + 273.15
    assert k1 == pytest.approx(1.287e12 * math.exp(-9758.3 / T), rel=1e-12)
    assert k3 == pytest.approx(9.043e9 * math.exp(-8560.0 / T), rel=1e-9)
    k1b, k3b = rates(cstr.with_parameters(beta=0.9, alpha=1.05))
    assert k1b == pytest.approx(0.9 * k1, rel=1e-12)
    assert k3b == pytest.approx(9.043e9 * math.exp(-1.05 * 8560.0 / T), rel=1e-9)


def test_energy_balance_of_the_jacket_is_exact():
    # dT_K/dt = (Q_dot + k_w A_R (T_R - T_K)) / (m_k c_pk): check at a point by hand.
    cstr = twin.load_model("cstr")
    f = np.array(twin.casadi_form(cstr).f([1.0, 0.5, 130.0, 120.0], [20.0, -3000.0], cstr.p0()))
    assert f[3, 0] == pytest.approx((-3000.0 + 4032.0 * 0.215 * 10.0) / (5.0 * 2.0), rel=1e-14)
