"""The plant simulator: step(u) per control interval, on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import twin
from support import relative_error
from twin.core import ops
from twin.core.errors import InputError, SimulationError
from twin.core.simulator import Simulator


def _inputs(model, n, seed=8):
    rng = np.random.default_rng(seed)
    lo, hi = model.inputs.lower(), model.inputs.upper()
    u0 = model.u0()
    return [np.clip(u0 * (1 + 0.1 * rng.uniform(-1, 1, u0.size)), lo, hi) for _ in range(n)]


def _scipy_steps(model, x0, inputs, dt) -> np.ndarray:
    """States after each interval of constant inputs, by scipy's DOP853 at rtol 1e-12 on the
    model's equations evaluated in plain Python: independent of both backends."""
    x, out = np.array(x0, dtype=float), []
    p = list(model.p0())
    for u in inputs:
        def rhs(_, x, u=list(u)):
            return model.evaluate_rhs(list(x), u, p, ops.MATH)

        x = solve_ivp(rhs, (0.0, dt), x, method="DOP853", rtol=1e-12, atol=1e-12).y[:, -1]
        out.append(x)
    return np.array(out)


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_step_sequence_matches_an_independent_integration(backend):
    model = twin.load_model("cstr")
    sim = Simulator(model, 0.005, backend=backend)
    us = _inputs(model, 20)
    xs = np.array([sim.step(u) for u in us])
    exact = _scipy_steps(model, model.x0(), us, 0.005)
    error = relative_error(xs, exact)
    print(f"{backend}: largest relative difference to DOP853 {error:.1e}")
    assert error < 1e-6
    assert relative_error(exact[-1], model.x0()) > 1e-3  # 20 input moves: far from the start
    assert sim.t == pytest.approx(0.1) and sim.n_steps == 20
    schedule = twin.InputSchedule(us[0], 0.005 * np.arange(20), np.array(us))
    run = twin.simulate(model, 0.1, 0.005, inputs=schedule, backend=backend)
    assert relative_error(run.x[1:], exact) < 1e-6  # the same through a schedule


def test_kernel_and_reference_backends_agree_on_every_model(model):
    dt = {"h": 0.005, "min": 1.0, "s": 10.0}[model.time_unit]
    sims = [Simulator(model, dt, backend=b) for b in ("kernel", "reference")]
    for u in _inputs(model, 10):
        a, b = (s.step(u) for s in sims)
    assert relative_error(a, b) < 1e-6
    assert sims[0].method == ("bdf" if model.stiff else "dopri5")


@pytest.mark.parametrize("method", ["rk4", "dopri5", "bdf"])
def test_every_method_steps(method):
    model = twin.load_model("quadruple_tank")
    sim = Simulator(model, 1.0, method=method, n_sub=10)
    ref = Simulator(model, 1.0, backend="reference")
    for u in _inputs(model, 5):
        a, b = sim.step(u), ref.step(u)
    assert relative_error(a, b) < 1e-6


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_bad_inputs_name_the_variable(backend):
    sim = Simulator(twin.load_model("cstr"), 0.005, backend=backend)
    with pytest.raises(InputError, match="input 'Q_dot' is nan"):
        sim.step([14.0, np.nan])
    with pytest.raises(InputError, match="input 'F' = 500 1/h is outside its bounds"):
        sim.step(np.array([500.0, -1000.0]))
    with pytest.raises(InputError, match="expected 2 inputs \\(F, Q_dot\\), got 3"):
        sim.step(np.zeros(3))
    x = sim.x
    sim.step([14.0, -1000.0])  # nothing was lost: the state is where it was
    assert sim.n_steps == 1 and not np.array_equal(sim.x, x)


def test_failed_integration_raises_and_the_state_is_kept():
    model = twin.load_model("cstr")
    sim = Simulator(model, 0.5, max_steps=5)
    x = sim.x
    with pytest.raises(SimulationError, match="integration failed .* from t = 0 h: the step limit"):
        sim.step(model.u0())
    assert sim.n_steps == 0 and sim.t == 0.0 and np.array_equal(sim.x, x)  # nothing lost
    sim = Simulator(model, 0.5, x0=x)
    assert np.all(np.isfinite(sim.step(model.u0())))


def test_parameter_change_takes_effect():
    model = twin.load_model("cstr")
    a, b = Simulator(model, 0.05), Simulator(model, 0.05)
    b.set_parameters({"beta": 0.9})
    assert a.step(model.u0())[1] != b.step(model.u0())[1]
    assert b.model.parameters["beta"].nominal == 0.9


def test_reset_and_bad_construction():
    model = twin.load_model("cstr")
    sim = Simulator(model, 0.005, x0={"C_b": 0.7})
    assert sim.x[1] == 0.7
    sim.step(model.u0())
    sim.reset({"C_a": 1.0}, t=2.0)
    assert sim.x[0] == 1.0 and sim.t == 2.0
    with pytest.raises(InputError, match="dt must be a positive"):
        Simulator(model, 0.0)
    with pytest.raises(twin.UnknownNameError, match="unknown backend 'fast'"):
        Simulator(model, 0.005, backend="fast")
    with pytest.raises(twin.UnknownNameError, match="unknown integration method 'euler'"):
        Simulator(model, 0.005, method="euler")
