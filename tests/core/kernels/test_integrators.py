"""Every integrator, compiled and Python reference, against CVODES and each other.

The same assertions run on both implementations (``impl`` fixture), for all
four plant models, from seeded random states and inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

import twin
from support import HORIZON, RK4_STEP, perturbed_operating_points, relative_error
from twin.core.errors import SimulationError
from twin.core.kernels import integrators, reference
from twin.core.kernels.functions import model_functions
from twin.core.simulation import ReferenceIntegrator

IMPLEMENTATIONS = {"compiled": integrators, "python": reference}


@pytest.fixture(params=list(IMPLEMENTATIONS))
def impl(request):
    return IMPLEMENTATIONS[request.param]


def _cases(model, n=2):
    cvodes = ReferenceIntegrator(model, rtol=1e-12, atol=1e-13)
    T = HORIZON[model.name]
    return [(x0, u, p, cvodes.advance(x0, u, T)) for x0, u, p in perturbed_operating_points(model, n)]


def test_models_compile(model):
    functions = model_functions(model)
    assert functions.compiled, functions.note
    assert functions.library.exists()


def test_rk4_matches_cvodes(model, impl):
    f = model_functions(model)
    h = RK4_STEP[model.name]
    n = round(HORIZON[model.name] / h)
    for x0, u, p, exact in _cases(model):
        x = impl.rk4(f, x0, u, p, h, n)
        assert relative_error(x, exact) < 1e-8


def test_dopri5_matches_cvodes(model, impl):
    f = model_functions(model)
    for x0, u, p, exact in _cases(model):
        x, stats = impl.dopri5(f, x0, u, p, HORIZON[model.name], rtol=1e-10, atol=1e-12)
        assert relative_error(x, exact) < 1e-7
        assert stats.steps > 0 and stats.rhs_evals >= 6 * stats.steps
        assert stats.order == 5 and stats.h > 0


def test_bdf_matches_cvodes(model, impl):
    f = model_functions(model)
    for x0, u, p, exact in _cases(model):
        x, stats = impl.bdf(f, x0, u, p, HORIZON[model.name], rtol=1e-9, atol=1e-11)
        assert relative_error(x, exact) < 1e-6
        assert stats.jac_evals >= 1 and stats.lu_decomps >= 1
        assert 1 <= stats.order <= 5


def test_compiled_rk4_is_bitwise_the_python_reference(model):
    f = model_functions(model)
    h = RK4_STEP[model.name]
    for x0, u, p, _ in _cases(model, 1):
        assert np.array_equal(integrators.rk4(f, x0, u, p, h, 200), reference.rk4(f, x0, u, p, h, 200))


def test_compiled_adaptive_methods_follow_the_python_reference(model):
    f = model_functions(model)
    T = HORIZON[model.name]
    for x0, u, p, _ in _cases(model, 1):
        xc, sc = integrators.dopri5(f, x0, u, p, T, 1e-8, 1e-10)
        xp, sp = reference.dopri5(f, x0, u, p, T, 1e-8, 1e-10)
        assert relative_error(xc, xp) < 1e-12
        assert (sc.steps, sc.rejected, sc.rhs_evals) == (sp.steps, sp.rejected, sp.rhs_evals)
        xc, sc = integrators.bdf(f, x0, u, p, T, 1e-8, 1e-10)
        xp, sp = reference.bdf(f, x0, u, p, T, 1e-8, 1e-10)
        assert relative_error(xc, xp) < 1e-9
        assert abs(sc.steps - sp.steps) <= 2


def test_stiff_column_needs_few_bdf_steps_and_many_explicit_ones():
    model = twin.load_model("distillation_a")
    f = model_functions(model)
    ss = twin.find_steady_state(model)
    u = ss.u * np.array([1.01, 1, 1, 1])
    _, stiff = integrators.bdf(f, ss.x, u, ss.p, 200.0, 1e-6, 1e-6)
    _, explicit = integrators.dopri5(f, ss.x, u, ss.p, 200.0, 1e-6, 1e-6)
    assert stiff.steps * 10 < explicit.steps


@pytest.mark.parametrize("method", ["dopri5", "bdf"])
def test_carried_step_size_is_reused(method):
    model = twin.load_model("cstr")
    f = model_functions(model)
    x0, u, p = model.x0(), model.u0(), model.p0()
    x1, first = integrators.integrate(f, method, x0, u, p, 0.01, 1e-8, 1e-10)
    _, warm = integrators.integrate(f, method, x1, u, p, 0.01, 1e-8, 1e-10, h0=first.h)
    _, cold = integrators.integrate(f, method, x1, u, p, 0.01, 1e-8, 1e-10)
    assert warm.rhs_evals < cold.rhs_evals


def test_step_limit_and_non_finite_values_fail_clearly(impl):
    model = twin.load_model("cstr")
    f = model_functions(model)
    with pytest.raises(SimulationError, match="step limit"):
        impl.dopri5(f, model.x0(), model.u0(), model.p0(), 1.0, 1e-10, 1e-12, max_steps=5)
    bad = model.p0()
    bad[model.parameters.index("k_w")] = np.inf
    with pytest.raises(SimulationError, match="non-finite"):
        impl.rk4(f, model.x0(), model.u0(), bad, 1e-3, 10)
    with pytest.raises(SimulationError, match="non-finite"):
        impl.dopri5(f, model.x0(), model.u0(), bad, 0.01)
    with pytest.raises(SimulationError, match="non-finite"):
        impl.bdf(f, model.x0(), model.u0(), bad, 0.01)


def test_dopri5_is_fifth_order():
    # Fixed tolerance-free check: halving a forced step shrinks the error ~32x.
    model = twin.load_model("quadruple_tank")
    f = model_functions(model)
    ss = twin.find_steady_state(model)
    x0 = ss.x * 1.3
    exact = ReferenceIntegrator(model, 1e-13, 1e-14).advance(x0, ss.u, 40.0)
    errors = []
    for h in (8.0, 4.0):
        x = x0.copy()
        for _ in range(round(40.0 / h)):
            x, _ = reference.dopri5(f, x, ss.u, ss.p, h, rtol=1.0, atol=1.0, h0=h)
        errors.append(np.max(np.abs(x - exact)))
    assert 20 < errors[0] / errors[1] < 45
