"""Step-test data of the shipped plants for the identification tests.

The test signal is the step-test design's generalized binary noise
(:func:`apc.steptest.signals.gbn`): each sample the input switches sign
with probability ``dt / switching_time``, so the mean time between
switches is the switching time (Tulleken 1990).
"""

from __future__ import annotations

import numpy as np

from apc.steptest.signals import gbn as design_gbn
from twin.core.simulator import Simulator
from twin.core.steady import find_steady_state


def gbn(samples: int, inputs: int, dt: float, switching_time: float, rng) -> np.ndarray:
    """Uncorrelated +-1 GBN sequences, shape (samples, inputs), seeded from ``rng``."""
    return design_gbn(samples, np.ones(inputs), switching_time, dt, seed=int(rng.integers(2**31)))


def step_test(model, mvs, cvs, amplitude, samples, dt, switching_time, noise_std, seed,
              dv_names=()):
    """Run a GBN test on ``model`` from its steady state.

    Returns ``(u, y, steady)``: inputs (samples, len(mvs)) applied from each
    sample time, measured outputs (samples, len(cvs)) at each sample time
    (states or outputs, with white noise of ``noise_std``), and the steady
    state with its linearisation.
    """
    rng = np.random.default_rng(seed)
    steady = find_steady_state(model)
    names_u = model.inputs.names
    cols = [names_u.index(name) for name in mvs]
    signal = gbn(samples, len(mvs), dt, switching_time, rng) * np.asarray(amplitude)
    sim = Simulator(model, dt, steady.x)
    u_all = np.tile(steady.u, (samples, 1))
    u_all[:, cols] += signal
    x = np.empty((samples, model.n_x))
    state = steady.x
    for k in range(samples):
        x[k] = state
        state = sim.step(u_all[k])
    y = measured(model, steady, x, u_all, cvs)
    y = y + rng.normal(0.0, 1.0, y.shape) * np.asarray(noise_std)
    return u_all[:, cols], y, steady


def measured(model, steady, x, u, cvs):
    """The columns ``cvs`` (state or output names) along a trajectory."""
    from twin.core.symbolic import casadi_form

    states = model.states.names
    out = np.empty((x.shape[0], len(cvs)))
    form = None
    for c, name in enumerate(cvs):
        if name in states:
            out[:, c] = x[:, states.index(name)]
        else:
            form = form or casadi_form(model).h.map(x.shape[0])
            ys = np.array(form(x.T, u.T, np.tile(steady.p[:, None], (1, x.shape[0]))))
            out[:, c] = ys[model.outputs.names.index(name)]
    return out


def linear_gains(steady, mvs, cvs) -> np.ndarray:
    """Steady-state gains of the linearisation: d(cv)/d(mv), shape (len(cvs), len(mvs))."""
    model, lin = steady.model, steady.linearization
    dx = -np.linalg.solve(lin.A, lin.B)
    dy = lin.C @ dx + lin.D
    cols = [model.inputs.names.index(name) for name in mvs]
    rows = []
    for name in cvs:
        if name in model.states.names:
            rows.append(dx[model.states.names.index(name), cols])
        else:
            rows.append(dy[model.outputs.names.index(name), cols])
    return np.array(rows)
