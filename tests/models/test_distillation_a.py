"""Skogestad's Column A: nominal steady state, dominant time constant, balances."""

from __future__ import annotations

import numpy as np
import pytest

import twin


@pytest.fixture(scope="module")
def column():
    model = twin.load_model("distillation_a")
    return model, twin.find_steady_state(model, u={"L_T": 2.70629, "V_B": 3.20629})


def test_structure_matches_the_source(column):
    model, _ = column
    assert model.n_x == 82
    assert [v.name for v in model.manipulated] == ["L_T", "V_B"]
    assert [v.name for v in model.disturbances] == ["F", "z_F"]
    assert model.parameters["alpha"].nominal == 1.5
    assert model.parameters["tau_L"].nominal == 0.063
    assert model.parameters["lambda_V"].nominal == 0.0


def test_nominal_product_compositions(column):
    model, ss = column
    y = model.outputs.to_dict(ss.y)
    assert abs(y["x_B"] - 0.0100) < 1e-4
    assert abs(y["x_D"] - 0.9900) < 1e-4


def test_slowest_mode_is_about_194_minutes(column):
    _, ss = column
    assert ss.stable
    assert ss.linearization.time_constants()[0] == pytest.approx(194.0, rel=0.01)


def test_overall_and_component_balances_close_at_steady_state(column):
    model, ss = column
    y = model.outputs.to_dict(ss.y)
    F, z_F = 1.0, 0.5
    assert y["D"] + y["B"] == pytest.approx(F, abs=1e-10)
    assert y["D"] * y["x_D"] + y["B"] * y["x_B"] == pytest.approx(F * z_F, abs=1e-10)
    holdups = ss.x[41:]
    assert np.allclose(holdups, 0.5, atol=1e-9)  # liquid flows at their nominal values


def test_total_holdup_changes_by_inflow_minus_outflow():
    # Conservation at any (non-steady) point: sum dM_i/dt = F - D - B.
    model = twin.load_model("distillation_a")
    rng = np.random.default_rng(3)
    form = twin.casadi_form(model)
    for _ in range(5):
        x = np.concatenate([rng.uniform(0.05, 0.95, 41), rng.uniform(0.3, 0.8, 41)])
        u = np.array([rng.uniform(2, 3.5), rng.uniform(2.5, 4), rng.uniform(0.8, 1.2), 0.5])
        dx = np.array(form.f(x, u, model.p0())).ravel()
        y = model.outputs.to_dict(np.array(form.h(x, u, model.p0())).ravel())
        assert dx[41:].sum() == pytest.approx(u[2] - y["D"] - y["B"], abs=1e-12)
        # light component: sum d(M_i x_i)/dt = F z_F - D x_D - B x_B
        light = (x[41:] * dx[:41] + x[:41] * dx[41:]).sum()
        assert light == pytest.approx(u[2] * u[3] - y["D"] * y["x_D"] - y["B"] * y["x_B"], abs=1e-12)
