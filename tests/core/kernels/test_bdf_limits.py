"""BDF on hard user models: Newton failures recovered, the step limit, and failures that cannot be.

Robertson's kinetics (stiff, states eleven orders of magnitude apart) make the
simplified Newton iteration fail on a stale Jacobian; a relay-like outflow
(dz/dt = -k z / (|z| + 1e-300)) cannot be integrated past z = 0 by any step
size. Both implementations (compiled and Python reference) run every case.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from twin.core.errors import SimulationError
from twin.core.kernels import integrators, reference
from twin.core.kernels.functions import model_functions
from twin.core.model import Model
from twin.core.simulator import Simulator
from twin.core.variables import manipulated, parameter, state

IMPLEMENTATIONS = {"compiled": integrators, "python": reference}

ROBERTSON = Model(
    name="robertson", title="Robertson's kinetics", source="Robertson (1966)", time_unit="s",
    states=[state("y1", "-", "A", 1.0, 0.0, 1.0), state("y2", "-", "B", 0.0, 0.0, 1.0),
            state("y3", "-", "C", 0.0, 0.0, 1.0)],
    inputs=[manipulated("w", "-", "unused", 0.0, -1.0, 1.0)],
    parameters=[parameter("k1", "1/s", "A -> B", 0.04), parameter("k2", "1/s", "2B -> B + C", 3e7),
                parameter("k3", "1/s", "B + C -> A + C", 1e4)],
    rhs=lambda x, u, p, ops: {"y1": -p.k1 * x.y1 + p.k3 * x.y2 * x.y3 + 0 * u.w,
                              "y2": p.k1 * x.y1 - p.k3 * x.y2 * x.y3 - p.k2 * x.y2 ** 2,
                              "y3": p.k2 * x.y2 ** 2},
    stiff=True)

RELAY = Model(
    name="relay_outflow", title="outflow at a constant rate until empty", source="test",
    time_unit="s", states=[state("z", "m", "level", 1.0, -10.0, 10.0)],
    inputs=[manipulated("w", "-", "unused", 0.0, -1.0, 1.0)],
    parameters=[parameter("k", "m/s", "outflow", 1.0), parameter("eps", "m", "smoothing", 1e-300)],
    rhs=lambda x, u, p, ops: {"z": -p.k * x.z / (ops.abs(x.z) + p.eps) + 0 * u.w},
    stiff=True)
"""dz/dt = -1 while z > 0: z = 1 - t until t = 1, then a discontinuous right-hand side."""


def _robertson_exact(t_end: float) -> np.ndarray:
    def rhs(_, y):
        return [-0.04 * y[0] + 1e4 * y[1] * y[2],
                0.04 * y[0] - 1e4 * y[1] * y[2] - 3e7 * y[1] ** 2, 3e7 * y[1] ** 2]

    return solve_ivp(rhs, (0.0, t_end), [1.0, 0.0, 0.0], method="Radau", rtol=1e-12,
                     atol=1e-16).y[:, -1]


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_newton_failures_on_a_stale_jacobian_are_recovered(impl):
    f = model_functions(ROBERTSON)
    x0, u, p = ROBERTSON.x0(), ROBERTSON.u0(), ROBERTSON.p0()
    exact = _robertson_exact(40.0)
    x, stats = IMPLEMENTATIONS[impl].bdf(f, x0, u, p, 40.0, rtol=1e-8, atol=1e-14)
    assert np.max(np.abs(x - exact) / exact) < 1e-6
    assert stats.jac_evals >= 5  # each after a Newton iteration failed on the old Jacobian
    assert stats.lu_decomps > stats.jac_evals and stats.order == 5
    # a first step 10 s long (the fast mode's time constant is 1e-7 s): Newton fails, the step
    # is halved until it converges, and the result is the same
    x, forced = IMPLEMENTATIONS[impl].bdf(f, x0, u, p, 40.0, rtol=1e-8, atol=1e-14, h0=10.0)
    assert forced.rejected >= stats.rejected + 15
    assert np.max(np.abs(x - exact) / exact) < 1e-6


def test_both_implementations_count_the_same_failures():
    f = model_functions(ROBERTSON)
    runs = [impl.bdf(f, ROBERTSON.x0(), ROBERTSON.u0(), ROBERTSON.p0(), 40.0, rtol=1e-8,
                     atol=1e-14, h0=10.0)[1] for impl in IMPLEMENTATIONS.values()]
    counters = [(s.steps, s.rejected, s.rhs_evals, s.jac_evals, s.lu_decomps, s.order)
                for s in runs]
    assert counters[0] == counters[1]


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_the_step_limit_stops_bdf_with_one_line(impl):
    f = model_functions(ROBERTSON)
    full = IMPLEMENTATIONS[impl].bdf(f, ROBERTSON.x0(), ROBERTSON.u0(), ROBERTSON.p0(), 40.0,
                                     rtol=1e-8, atol=1e-14)[1]
    limit = full.steps + full.rejected  # attempts the whole interval needs
    x, _ = IMPLEMENTATIONS[impl].bdf(f, ROBERTSON.x0(), ROBERTSON.u0(), ROBERTSON.p0(), 40.0,
                                     rtol=1e-8, atol=1e-14, max_steps=limit)
    with pytest.raises(SimulationError) as failed:
        IMPLEMENTATIONS[impl].bdf(f, ROBERTSON.x0(), ROBERTSON.u0(), ROBERTSON.p0(), 40.0,
                                  rtol=1e-8, atol=1e-14, max_steps=limit - 1)
    assert str(failed.value) == ("'robertson': the step limit was reached before the end of "
                                 "the interval")


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_the_step_limit_fails_only_its_instance_of_a_batch(impl):
    f = model_functions(ROBERTSON)
    settled = _robertson_exact(40.0)
    X0 = np.array([settled, ROBERTSON.x0(), settled])  # the middle one starts in its transient
    P = np.tile(ROBERTSON.p0(), (3, 1))
    U = np.zeros((3, 2, 1))
    # 327 attempts for the transient's first 20 s, under 60 per interval once settled
    result = IMPLEMENTATIONS[impl].integrate_batch(f, "bdf", X0, U, P, 20.0, rtol=1e-8,
                                                   atol=1e-14, max_steps=300)
    assert list(result.status) == [0, 1, 0]
    exact = _robertson_exact(80.0)
    for i in (0, 2):
        assert np.max(np.abs(result.x[i, -1] - exact) / exact) < 1e-6


@pytest.mark.parametrize("impl", list(IMPLEMENTATIONS))
def test_newton_that_cannot_converge_fails_clearly(impl):
    f = model_functions(RELAY)
    x0, u, p = RELAY.x0(), RELAY.u0(), RELAY.p0()
    x, _ = IMPLEMENTATIONS[impl].bdf(f, x0, u, p, 0.75)
    assert x[0] == pytest.approx(0.25, abs=1e-9)  # smooth while the tank holds liquid
    with pytest.raises(SimulationError) as failed:
        IMPLEMENTATIONS[impl].bdf(f, x0, u, p, 2.0)
    message = str(failed.value)
    assert message.startswith("'relay_outflow': the step size fell below the resolution of "
                              "time")
    assert "needs method 'bdf'" not in message  # it is bdf that failed: no advice to use it


def test_the_simulator_names_the_interval_and_keeps_its_state():
    sim = Simulator(RELAY, 0.75, method="bdf")
    sim.step(RELAY.u0())
    x = sim.x.copy()
    assert x[0] == pytest.approx(0.25, abs=1e-9)
    with pytest.raises(SimulationError) as failed:
        sim.step(RELAY.u0())  # the tank empties at t = 1 s, inside this interval
    message = str(failed.value)
    assert message.startswith("'relay_outflow': integration failed in the interval from "
                              "t = 0.75 s: the step size fell below the resolution of time")
    assert "needs method 'bdf'" not in message
    assert sim.t == 0.75 and sim.n_steps == 1 and np.array_equal(sim.x, x)  # nothing lost
