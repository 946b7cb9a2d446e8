"""The generated 40 MV x 80 CV plant of transfer-function pairs and its shipped example.

The shipped model and controller files are what ``python -m
apc.ident.pair_plant`` writes (regenerated here, byte for byte); the plant
looks like an industrial APC model (sparse, 2 to 6 MVs per CV, every MV
in use, two ramps, well conditioned), its file is small, and the example
controller fits the model.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.ident.model_file import IdentifiedModel
from apc.ident.pair_plant import main, pair_plant
from apc.ident.tf_file import TransferFunctionFile
from apc.spec import load_spec
from twin.core.errors import InputError
from twin.orchestration.examples import FOLDER
from twin.orchestration.loop.config import load_loop
from twin.orchestration.registry import load_model

MODEL = FOLDER / "pairs_40x80.toml"
SPEC = FOLDER / "pairs_40x80_controller.toml"
LOOP = FOLDER / "pairs_40x80_loop.toml"


def test_the_shipped_files_are_what_the_generator_writes(tmp_path, capsys):
    main([str(tmp_path)])
    assert capsys.readouterr().out.split() == [str(tmp_path / MODEL.name), str(tmp_path / SPEC.name)]
    for shipped in (MODEL, SPEC):
        assert (tmp_path / shipped.name).read_bytes() == shipped.read_bytes(), shipped.name


def test_the_plant_looks_like_an_industrial_apc_model():
    tf = IdentifiedModel.load(MODEL)
    assert isinstance(tf, TransferFunctionFile)
    assert (len(tf.inputs), len(tf.outputs), len(tf.pairs)) == (40, 80, 259)
    per_cv = np.array([sum(p.cv == y for p in tf.pairs) for y in tf.outputs])
    per_mv = np.array([sum(p.mv == u for p in tf.pairs) for u in tf.inputs])
    assert per_cv.min() == 2 and per_cv.max() == 6 and per_mv.min() >= 3
    assert tf.integrating_outputs == ("L22", "L62")
    lags = np.array([p.time_constants[0] for p in tf.pairs if not p.integrating])
    dead = np.array([p.dead_time for p in tf.pairs])
    assert 120 <= lags.min() and lags.max() <= 2400 and dead.max() <= 900
    assert np.mean(dead == 0) == pytest.approx(0.25, abs=0.08)
    assert sum(len(p.time_constants) == 2 for p in tf.pairs) > 100
    assert any(d % 60 for d in dead) and any(d and not d % 60 for d in dead)   # both kinds of shift
    prov = tf.provenance
    assert prov["seed"] == 15 and prov["scaled_condition_number"] == pytest.approx(3.583)
    assert prov["largest_pade_step_error"] < 0.05
    assert MODEL.stat().st_size < 50_000    # a dense state space of these pairs: ~1.4 million numbers
    model = load_model(f"{MODEL}")
    assert model.n_x == 1172 and model.n_u == 40 and model.n_y == 80


def test_the_condition_number_is_that_of_the_scaled_gains():
    plant = pair_plant(n_mv=6, n_cv=12, seed=3, n_integrating=1)
    sigma = np.linalg.svd(plant.scaled_gains(), compute_uv=False)
    assert plant.scaled_gains().shape == (11, 6)
    assert plant.condition_number == pytest.approx(sigma[0] / sigma[-1], rel=1e-12)
    assert plant.model.provenance["scaled_condition_number"] == pytest.approx(
        plant.condition_number, rel=1e-3)
    assert pair_plant(n_mv=6, n_cv=12, seed=3, n_integrating=1).model.as_toml_data() == \
        plant.model.as_toml_data()           # seeded
    for kwargs, message in (({"n_cv": 5}, "n_cv = 5 must be at least n_mv = 6"),
                            ({"n_integrating": 4}, "n_integrating = 4 must be at most"),
                            ({"n_mv": 0}, "n_mv = 0 must be a whole number >= 1")):
        with pytest.raises(InputError, match=message):
            pair_plant(**{"n_mv": 6, "n_cv": 12, **kwargs})


def test_the_example_controller_and_loop_fit_the_model():
    spec = load_spec(SPEC)
    model = load_model(spec.model)
    spec.check(model)
    assert spec.controller_type() == "linear" and spec.linear.form == "step_response"
    assert (len(spec.mv), len(spec.cv), len(spec.measurements)) == (40, 80, 80)
    assert sum(cv.setpoint is not None for cv in spec.cv) == 10
    assert [cv.name for cv in spec.cv if cv.ramp] == ["L22", "L62"]
    assert sum(mv.cost != 0 for mv in spec.mv) > 20 and spec.blocks() == (1, 2, 3, 6, 12, 36)
    loop = load_loop(LOOP)
    assert loop.controller == spec
    plant = load_model(loop.plant.model).with_parameters(loop.plant.parameters)
    assert plant.variable("K_T04_FC02").nominal != model.variable("K_T04_FC02").nominal


def test_the_loops_setpoints_and_disturbance_are_reachable_within_every_limit():
    """At steady state after the loop's events: setpoints met, ranges held, ramps at rest (an LP)."""
    from scipy.optimize import linprog

    loop = load_loop(LOOP)
    tf = IdentifiedModel.load(MODEL)
    gains = tf.gain_matrix()
    setpoints = {cv.name: cv.setpoint for cv in loop.controller.cv if cv.setpoint is not None}
    for event in loop.event:
        for name, step in event.setpoint_step.items():
            setpoints[name] += step
    assert setpoints["A25"] == pytest.approx(31.4 + 1.0)
    shift = np.zeros(len(tf.outputs))
    for name, value in loop.event[-1].plant_parameters.items():   # y0_P17: an output disturbance
        i = tf.outputs.index(name.removeprefix("y0_"))
        shift[i] = value - tf.y0[i]
    assert shift.sum() == pytest.approx(0.3)
    equal, equal_rhs, upper, upper_rhs = [], [], [], []
    for cv in loop.controller.cv:
        i = tf.outputs.index(cv.name)
        free = tf.y0[i] + shift[i]
        if cv.ramp or cv.name in setpoints:
            equal.append(gains[i])
            equal_rhs.append(0.0 if cv.ramp else setpoints[cv.name] - free)
        else:
            upper += [gains[i], -gains[i]]
            upper_rhs += [cv.high - free, free - cv.low]
    bounds = [(mv.low - u0, mv.high - u0) for mv, u0 in zip(loop.controller.mv, tf.u0)]
    assert [mv.name for mv in loop.controller.mv] == list(tf.inputs)
    cost = [mv.cost for mv in loop.controller.mv]
    found = linprog(cost, A_ub=np.array(upper), b_ub=upper_rhs, A_eq=np.array(equal),
                    b_eq=equal_rhs, bounds=bounds, method="highs")
    assert found.status == 0, found.message
    assert found.fun < 0.0            # and the LP costs find a more profitable operating point


def test_copying_the_loop_brings_its_controller_and_model_files(tmp_path):
    from twin.orchestration.examples.catalog import copy_examples

    written = copy_examples(["pairs_40x80_loop.toml"], tmp_path)
    assert sorted(p.name for p in written) == [MODEL.name, SPEC.name, LOOP.name]
    spec = load_loop(tmp_path / LOOP.name).controller
    assert spec.model == str(tmp_path / MODEL.name)        # the copy, next to the loop
