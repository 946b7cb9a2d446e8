"""Quadruple tank against Johansson (2000): time constants, zeros, steady state."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

import twin

# Johansson (2000), Table 2: time constants T1..T4 [s]
TIME_CONSTANTS = {"P-": (62.0, 90.0, 23.0, 30.0), "P+": (63.0, 91.0, 39.0, 56.0)}
VOLTAGES = {"P-": 3.00, "P+": 3.15}


def _steady(setting):
    model = twin.load_model("quadruple_tank", parameter_set=setting)
    v = VOLTAGES[setting]
    return model, twin.find_steady_state(model, u={"v1": v, "v2": v})


@pytest.mark.parametrize("setting", ["P-", "P+"])
def test_time_constants_of_the_linearisation(setting):
    model, ss = _steady(setting)
    A = ss.linearization.A
    # Johansson's T_i = -1/a_ii of the (triangular) linearisation, tank by tank.
    computed = -1.0 / np.diag(A)
    for T, published in zip(computed, TIME_CONSTANTS[setting]):
        assert T == pytest.approx(published, rel=0.02)
    assert sorted(-1.0 / ss.eigenvalues.real) == pytest.approx(sorted(computed), rel=1e-9)


def test_steady_state_matches_the_closed_form():
    model, ss = _steady("P-")
    p = {v.name: v.nominal for v in model.parameters}
    v1 = v2 = 3.0
    g = p["g"]
    h3 = ((1 - p["gamma_2"]) * p["k2"] * v2 / p["a3"]) ** 2 / (2 * g)
    h4 = ((1 - p["gamma_1"]) * p["k1"] * v1 / p["a4"]) ** 2 / (2 * g)
    h1 = ((p["gamma_1"] * p["k1"] * v1 + (1 - p["gamma_2"]) * p["k2"] * v2) / p["a1"]) ** 2 / (2 * g)
    h2 = ((p["gamma_2"] * p["k2"] * v2 + (1 - p["gamma_1"]) * p["k1"] * v1) / p["a2"]) ** 2 / (2 * g)
    assert ss.x == pytest.approx([h1, h2, h3, h4], rel=1e-10)


def _transmission_zeros(ss):
    lin = ss.linearization
    n, m = lin.B.shape
    system = np.block([[lin.A, lin.B], [lin.C, lin.D]])
    pencil = np.block([[np.eye(n), np.zeros((n, m))], [np.zeros((m, n)), np.zeros((m, m))]])
    zeros = scipy.linalg.eigvals(system, pencil)
    return zeros[np.isfinite(zeros)].real


def test_p_minus_is_minimum_phase_and_p_plus_is_not():
    # Johansson: a right-half-plane zero exists exactly when gamma_1 + gamma_2 < 1.
    _, ss_minus = _steady("P-")
    _, ss_plus = _steady("P+")
    assert np.all(_transmission_zeros(ss_minus) < 0)
    assert np.any(_transmission_zeros(ss_plus) > 0)
