"""AD Jacobians agree with central finite differences, for every model."""

from __future__ import annotations

import numpy as np

from twin.core.symbolic import casadi_form
from support import central_difference, random_points


def _relative_error(exact: np.ndarray, approx: np.ndarray) -> float:
    # Per equation (row), relative to the row's largest derivative.
    scale = np.max(np.abs(exact), axis=1, keepdims=True)
    scale[scale == 0] = 1.0
    return float(np.max(np.abs(exact - approx) / scale))


def test_state_input_and_parameter_jacobians_match_finite_differences(model):
    form = casadi_form(model)
    worst = 0.0
    for x, u, p in random_points(model, 5, seed=7):
        f = lambda xx, uu, pp: np.array(form.f(xx, uu, pp)).ravel()  # noqa: E731
        for jac, point, which in ((form.jac_x, x, 0), (form.jac_u, u, 1), (form.jac_p, p, 2)):
            args = [x, u, p]

            def partial(v, args=args, which=which):
                a = list(args)
                a[which] = v
                return f(*a)

            exact = np.array(jac(x, u, p))
            approx = central_difference(partial, point)
            worst = max(worst, _relative_error(exact, approx))
    assert worst < 1e-6, f"{model.name}: worst relative error {worst:.2e}"


def test_output_jacobians_match_finite_differences(model):
    form = casadi_form(model)
    for x, u, p in random_points(model, 3, seed=7):
        exact = np.array(form.h_x(x, u, p))
        approx = central_difference(lambda v: np.array(form.h(v, u, p)).ravel(), x)
        assert exact.shape == (model.n_y, model.n_x)
        if model.n_y:
            assert _relative_error(exact, approx) < 1e-6
