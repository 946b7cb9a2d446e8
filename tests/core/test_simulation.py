"""Reference simulator: exact solutions, an independent integrator, clear failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

import twin
from twin.core import ops
from twin.core.errors import InputError, SimulationError
from twin.core.model import Model
from twin.core.schedule import InputSchedule
from twin.core.simulation import output_grid
from twin.core.variables import manipulated, parameter, state


def _linear(k: float = 0.5) -> Model:
    return Model(name="linear", title="dz/dt = -k z + w", source="test", time_unit="s",
                 states=[state("z", "m", "level", 1.0)],
                 inputs=[manipulated("w", "m/s", "inflow", 0.0, -10.0, 10.0)],
                 parameters=[parameter("k", "1/s", "rate", k)],
                 rhs=lambda x, u, p, ops: {"z": -p.k * x.z + u.w})


def test_matches_the_exact_solution_with_input_changes_between_output_times():
    model = _linear()
    schedule = InputSchedule.from_steps(model.inputs, np.array([0.0]),
                                        [(0.35, {"w": 2.0}), (1.7, {"w": -1.0})])
    run = twin.simulate(model, t_end=3.0, dt=0.5, x0={"z": 1.0}, inputs=schedule)

    def exact(t):
        k, z = 0.5, 1.0
        segments = [(0.0, 0.35, 0.0), (0.35, 1.7, 2.0), (1.7, math.inf, -1.0)]
        for a, b, w in segments:
            span = min(t, b) - a
            if span <= 0:
                break
            z = w / k + (z - w / k) * math.exp(-k * span)
        return z

    assert run.t == pytest.approx([0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
    assert run.x[:, 0] == pytest.approx([exact(t) for t in run.t], rel=1e-8, abs=1e-10)
    assert run.u[:, 0] == pytest.approx([0.0, 2.0, 2.0, 2.0, -1.0, -1.0, -1.0])


def test_cstr_agrees_with_scipy_radau():
    cstr = twin.load_model("cstr")
    u = cstr.u0({"F": 20.0, "Q_dot": -3000.0})
    run = twin.simulate(cstr, t_end=0.5, dt=0.05, inputs=u)
    p = cstr.p0()
    ref = solve_ivp(lambda t, x: cstr.evaluate_rhs(x, u, p, ops.MATH), (0, 0.5), cstr.x0(),
                    method="Radau", t_eval=run.t, rtol=1e-12, atol=1e-12)
    assert ref.success
    assert np.allclose(run.x, ref.y.T, rtol=1e-7, atol=1e-9)


def test_a_steady_state_stays_steady(model):
    ss = twin.find_steady_state(model)
    horizon = {"h": 1.0, "min": 100.0, "s": 500.0}[model.time_unit]
    if not ss.stable:  # (an open-loop unstable point: any error grows; 5 e-folding times)
        horizon = 5.0 / float(max(ss.eigenvalues.real))
    run = twin.simulate(model, t_end=horizon, dt=horizon / 10, x0=ss.x, inputs=ss.u)
    scale = np.maximum(np.abs(ss.x), 1e-3)
    assert np.max(np.abs(run.x - ss.x) / scale) < 1e-7


def test_outputs_are_computed_on_the_grid():
    cstr = twin.load_model("cstr")
    run = twin.simulate(cstr, t_end=0.1, dt=0.01)
    assert np.allclose(run.column("T_dif"), run.column("T_R") - run.column("T_K"), atol=1e-12)


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_finite_time_blow_up_is_a_simulation_error(backend):
    model = Model(name="blowup", title="dz/dt = z^2", source="test", time_unit="s",
                  states=[state("z", "-", "z", 1.0)],
                  inputs=[manipulated("w", "-", "unused", 0.0)],
                  parameters=[parameter("a", "-", "unused", 0.0)],
                  rhs=lambda x, u, p, ops: {"z": x.z ** 2 + p.a * u.w})
    # z = 1 / (1 - t): infinite at t = 1
    with pytest.raises(SimulationError, match="'blowup'.*between t = (0.75 and 1|1 and 1.25) s"):
        twin.simulate(model, t_end=2.0, dt=0.25, backend=backend)


def test_output_grid_validation():
    assert output_grid(1.0, 0.3) == pytest.approx([0, 0.3, 0.6, 0.9, 1.0])
    assert output_grid(1.0, 0.1).size == 11
    for t_end, dt in ((0.0, 0.1), (1.0, 0.0), (1.0, 2.0), (float("nan"), 0.1)):
        with pytest.raises(InputError):
            output_grid(t_end, dt)


def test_inputs_outside_bounds_are_rejected():
    with pytest.raises(InputError, match="input 'Q_dot' = 100 kJ/h is outside its bounds"):
        twin.simulate(twin.load_model("cstr"), t_end=0.1, dt=0.01, inputs={"Q_dot": 100.0})
