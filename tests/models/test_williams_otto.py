"""Williams–Otto reactor: mass conservation, at steady state and in transients."""

from __future__ import annotations

import numpy as np
import pytest

import twin


@pytest.mark.parametrize("F_B,T_R", [(3.0, 70.0), (4.787, 89.70), (6.0, 100.0), (4.0, 80.0)])
def test_mass_fractions_sum_to_one_at_any_steady_state(F_B, T_R):
    model = twin.load_model("williams_otto")
    ss = twin.find_steady_state(model, u={"F_B": F_B, "T_R": T_R})
    assert abs(ss.x.sum() - 1.0) < 1e-9
    assert np.all(ss.x > 0)


def test_reactions_conserve_mass_at_any_point():
    # W d(sum X)/dt = F_A + F_B - (F_A + F_B) sum X: reactions cancel exactly.
    model = twin.load_model("williams_otto")
    form = twin.casadi_form(model)
    rng = np.random.default_rng(5)
    W, F_A = model.parameters["W"].nominal, model.parameters["F_A"].nominal
    for _ in range(10):
        x = rng.uniform(0, 0.5, 6)
        u = np.array([rng.uniform(3, 6), rng.uniform(70, 100)])
        dx = np.array(form.f(x, u, model.p0())).ravel()
        F = F_A + u[0]
        assert dx.sum() == pytest.approx(F * (1 - x.sum()) / W, abs=1e-15)


def test_holdup_and_feed_are_parameters():
    model = twin.load_model("williams_otto")
    assert model.parameters["W"].nominal == 2105.0
    assert model.parameters["F_A"].nominal == 1.8275
    assert model.inputs.names == ["F_B", "T_R"]
