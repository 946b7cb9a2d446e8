"""Batch stepping: each instance as if alone, bitwise, whatever the threads or chunks."""

from __future__ import annotations

import numpy as np
import pytest

import twin
from support import perturbed_operating_points
from twin.core.kernels import integrators, reference
from twin.core.kernels.functions import model_functions

SETTINGS = {"rk4": dict(n_sub=20), "dopri5": dict(rtol=1e-8, atol=1e-10),
            "bdf": dict(rtol=1e-7, atol=1e-9)}


def _ensemble(model_name: str, n: int, k: int, seed: int = 4):
    model = twin.load_model(model_name)
    rng = np.random.default_rng(seed)
    points = perturbed_operating_points(model, n, seed)
    X0 = np.array([x for x, _, _ in points])
    U = np.repeat(np.array([u for _, u, _ in points])[:, None, :], k, axis=1)
    U = U * (1 + 0.02 * rng.uniform(-1, 1, U.shape))  # inputs change every interval
    U = np.clip(U, model.inputs.lower(), model.inputs.upper())
    P = np.tile(model.p0(), (n, 1))
    if model_name == "cstr":  # per-instance kinetics
        P[:, model.parameters.index("beta")] = rng.uniform(0.8, 1.2, n)
        P[:, model.parameters.index("alpha")] = rng.uniform(0.95, 1.05, n)
    return model, X0, U, P


@pytest.mark.parametrize("method", list(SETTINGS))
def test_threads_and_chunking_do_not_change_a_bit(method):
    model, X0, U, P = _ensemble("cstr", 37, 5)
    f = model_functions(model)
    runs = [integrators.integrate_batch(f, method, X0, U, P, 0.01, threads=t, chunk=c,
                                        **SETTINGS[method])
            for t, c in ((1, 0), (2, 0), (2, 1), (2, 7), (4, 3))]
    halves = [integrators.integrate_batch(f, method, X0[s], U[s], P[s], 0.01, threads=2,
                                          **SETTINGS[method])
              for s in (slice(0, 20), slice(20, None))]
    for r in runs[1:]:
        assert np.array_equal(r.x, runs[0].x)
        assert np.array_equal(r.stats, runs[0].stats)
    assert np.array_equal(np.concatenate([h.x for h in halves]), runs[0].x)
    assert np.all(runs[0].ok)


@pytest.mark.parametrize("method", list(SETTINGS))
def test_batch_equals_one_instance_at_a_time(method):
    model, X0, U, P = _ensemble("cstr", 4, 3)
    f = model_functions(model)
    batch = integrators.integrate_batch(f, method, X0, U, P, 0.01, threads=2, **SETTINGS[method])
    for i in range(4):
        x, h = X0[i], 0.0
        for k in range(3):
            x, stats = integrators.integrate(f, method, x, U[i, k], P[i], 0.01, h0=h,
                                             **SETTINGS[method])
            h = stats.h
            assert np.array_equal(batch.x[i, k + 1], x)


@pytest.mark.parametrize("name,method", [("distillation_a", "bdf"), ("williams_otto", "dopri5"),
                                         ("quadruple_tank", "rk4")])
def test_batch_matches_the_python_reference(name, method):
    model, X0, U, P = _ensemble(name, 3, 2)
    dt = {"distillation_a": 2.0, "williams_otto": 50.0, "quadruple_tank": 5.0}[name]
    f = model_functions(model)
    compiled = integrators.integrate_batch(f, method, X0, U, P, dt, threads=2, **SETTINGS[method])
    python = reference.integrate_batch(f, method, X0, U, P, dt, **SETTINGS[method])
    assert np.allclose(compiled.x, python.x, rtol=1e-8, atol=1e-12)
    assert np.array_equal(compiled.status, python.status)


def test_a_failing_instance_does_not_affect_the_others():
    model, X0, U, P = _ensemble("cstr", 6, 4)
    P[2, model.parameters.index("k_w")] = np.nan
    f = model_functions(model)
    for impl in (integrators, reference):
        result = impl.integrate_batch(f, "dopri5", X0, U, P, 0.01)
        assert list(result.status) == [0, 0, 3, 0, 0, 0]
        assert np.all(np.isnan(result.x[2, 1:]))
        assert np.all(np.isfinite(result.x[[0, 1, 3, 4, 5]]))
    good = integrators.integrate_batch(f, "dopri5", X0[[0, 1]], U[[0, 1]], P[[0, 1]], 0.01)
    assert np.array_equal(good.x, integrators.integrate_batch(f, "dopri5", X0, U, P, 0.01).x[[0, 1]])
