"""The linear controller's model of a transfer-function model file: the pairs' exact step
responses and gains (apc.linear.pair_steps), not the 1,172-state Padé realisation."""

from __future__ import annotations

import numpy as np

from apc.ident.model_file import IdentifiedModel
from apc.linear.pair_steps import pair_steps
from apc.problem import ControlProblem
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.registry import load_model


def test_the_40x80_example_takes_the_files_step_responses_and_gains():
    spec = load_loop(example("pairs_40x80_loop.toml")).controller
    model = load_model(spec.model, parameter_set=spec.parameter_set)
    problem = ControlProblem(model, spec)
    steps = pair_steps(problem)
    assert steps is not None and model.n_x == 1172
    tf = IdentifiedModel.load(example("pairs_40x80.toml"))
    rows = [tf.outputs.index(c.name) for c in spec.cv]
    cols = [tf.inputs.index(m.name) for m in spec.mv]
    ramp = np.array([c.ramp for c in spec.cv])
    gain, _ = steps.gains(ramp, [c.name for c in spec.cv])   # T06 is not integrating
    assert np.array_equal(gain, tf.gain_matrix()[np.ix_(rows, cols)])
    S_u, _ = steps.step_responses(60)
    exact = tf.step_coefficients(spec.sample_time, 60)[:, rows][:, :, cols]
    assert np.array_equal(S_u[0], np.zeros_like(S_u[0]))
    assert np.allclose(S_u[1:], exact, rtol=0, atol=1e-12)
    i, j = spec.cv.index(next(c for c in spec.cv if c.name == "T06")), 0
    assert np.isfinite(gain[i]).all() and not ramp[i]


def test_a_changed_gain_in_the_controllers_parameters_is_in_its_pairs():
    spec = load_loop(example("pairs_40x80_loop.toml")).controller
    model = load_model(spec.model).with_parameters(K_F01_FC01=-3.0)
    steps = pair_steps(ControlProblem(model, spec))
    row = [c.name for c in spec.cv].index("F01")
    col = [m.name for m in spec.mv].index("FC01")
    gain, _ = steps.gains(np.array([c.ramp for c in spec.cv]), [c.name for c in spec.cv])
    assert gain[row, col] == -3.0
