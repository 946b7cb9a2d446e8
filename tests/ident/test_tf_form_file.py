"""Identified model files in transfer-function form (``form = "transfer_functions"``).

The file is one table per CV-input pair; it loads back exactly, every
malformed key is refused in one line, its step coefficients are the pairs'
analytic responses with the exact dead time at any sample time, and its
Model (a sparse pair-by-pair realisation with Padé dead times) has the
pairs' gains and their step responses within the Padé error.
"""

from __future__ import annotations

import numpy as np
import pytest
import tomli_w

from apc.ident.dead_time import step_error
from apc.ident.model_file import IdentifiedModel
from apc.ident.tf_file import Pair, TransferFunctionFile
from support import run_twin
from twin.core.config import read_toml
from twin.core.errors import InputError
from twin.core.ops import MATH
from twin.core.simulator import Simulator

PAIRS = (
    Pair("T", "Q", 2.0, (300.0, 60.0), 90.0),              # SOPDT, dead time 1.5 samples
    Pair("T", "F", -0.5, (120.0,), 120.0),                 # FOPDT, dead time 2 samples
    Pair("L", "F", 0.01, (30.0,), 60.0, integrating=True),  # a level: percent per t/h per s
    Pair("L", "Q", -0.004, (45.0,), 0.0, integrating=True),
    Pair("A", "Q", 0.3, (200.0,), 0.0),                    # no dead time
)


def _model(**changes) -> TransferFunctionFile:
    values = dict(name="small", dt=60.0, inputs=("Q", "F"), outputs=("T", "L", "A"),
                  input_units=("MW", "t/h"), output_units=("degC", "percent", "percent"),
                  u0=np.array([5.0, 40.0]), y0=np.array([300.0, 50.0, 12.0]), pairs=PAIRS,
                  provenance={"method": "test"})
    values.update(changes)
    return TransferFunctionFile(**values)


def test_file_round_trip_is_exact_and_old_state_space_files_still_load(tmp_path):
    path = _model().save(tmp_path / "small.toml")
    back = IdentifiedModel.load(path)
    assert isinstance(back, TransferFunctionFile)
    assert back.as_toml_data() == _model().as_toml_data()
    assert back.pairs == PAIRS and back.integrating_outputs == ("L",)
    old = IdentifiedModel(name="ss", A=np.array([[0.9]]), B=np.array([[0.1]]), C=np.array([[1.0]]),
                          D=np.array([[0.0]]), dt=1.0, inputs=("u",), outputs=("y",),
                          input_units=("-",), output_units=("-",), u0=np.zeros(1), y0=np.zeros(1))
    loaded = IdentifiedModel.load(old.save(tmp_path / "ss.toml"))
    assert isinstance(loaded, IdentifiedModel) and float(loaded.steady_gain()[0, 0]) == pytest.approx(1.0)


def _with(data: dict, path: tuple, value) -> dict:
    """A copy of ``data`` with ``path`` set to ``value`` (``...``: the key removed)."""
    import copy

    out = copy.deepcopy(data)
    at = out
    for key in path[:-1]:
        at = at[key]
    if value is ...:
        del at[path[-1]]
    else:
        at[path[-1]] = value
    return out


MALFORMED = [
    (("form",), "spectral", "key 'form' is 'spectral'"),
    (("pairs",), ..., "key 'pairs' is missing"),
    (("pairs",), [], "needs at least one pair"),
    (("pairs",), {"cv": "T"}, "key 'pairs' must be a list of tables"),
    (("A",), [[1.0]], "unknown key 'A'"),
    (("pairs", 0, "gian"), 1.0, "pairs[0]: unknown key 'gian'"),
    (("pairs", 0, "gain"), ..., "pairs[0]: key 'gain' is missing"),
    (("pairs", 0, "gain"), "2", "pairs[0]: key 'gain' must be a number"),
    (("pairs", 0, "cv"), 3, "pairs[0]: key 'cv' must be text"),
    (("pairs", 0, "cv"), "X", "pair X/Q: 'X' is not an output"),
    (("pairs", 0, "mv"), "X", "pair T/X: 'X' is not an input"),
    (("pairs", 1, "mv"), "Q", "pair T/Q is given twice"),
    (("pairs", 0, "time_constants"), [], "pair T/Q: 0 time constants"),
    (("pairs", 0, "time_constants"), [1.0, 2.0, 3.0], "pair T/Q: 3 time constants"),
    (("pairs", 0, "time_constants"), 5.0, "key 'time_constants' must be a list"),
    (("pairs", 0, "time_constants"), [300.0, -1.0], "must be finite and > 0"),
    (("pairs", 0, "time_constants"), [300.0, "a"], "time_constants must be a list of numbers"),
    (("pairs", 2, "time_constants"), [30.0, 3.0], "an integrating pair has one"),
    (("pairs", 0, "dead_time"), -1.0, "dead_time -1 s must be >= 0"),
    (("pairs", 0, "integrating"), "yes", "key 'integrating' must be true or false"),
    (("pairs", 0, "pade_order"), 11, "pade_order 11 must be a whole number from 0 to 10"),
    (("pairs", 0, "pade_order"), 2.5, "key 'pade_order' must be a whole number"),
    (("pairs", 4, "pade_order"), 2, "pade_order 2 for a pair without dead time"),
    (("pairs", 0, "gain"), float("nan"), "gain must be a finite number"),
    (("u0",), [1.0], "u0 needs 2 finite values"),
    (("output_units",), ["degC", "percent", "furlong_per_fortnight"], "output 'A'"),
    (("sample_time",), 0.0, "sample time 0.0 s must be > 0"),
]


@pytest.mark.parametrize("path, value, message", MALFORMED,
                         ids=[".".join(map(str, m[0])) + f"={m[1]!r}"[:20] for m in MALFORMED])
def test_every_malformed_key_is_refused_in_one_line_naming_it(tmp_path, path, value, message):
    data = _with(_model().as_toml_data(), path, value)
    file = tmp_path / "bad.toml"
    if value != value:  # NaN: TOML writes it, the loader refuses it
        file.write_text(tomli_w.dumps(data).replace("gain = 2.0", "gain = nan"), encoding="utf-8")
    else:
        file.write_text(tomli_w.dumps(data), encoding="utf-8")
    with pytest.raises(InputError) as refused:
        IdentifiedModel.load(file)
    text = str(refused.value)
    assert message in text and "\n" not in text and str(file) in text, text


def test_step_coefficients_are_the_exact_responses_at_any_sample_time():
    model = _model()
    s60 = model.step_coefficients(60.0, 20)
    assert s60.shape == (20, 3, 2)
    t = 60.0 * np.arange(1, 21)
    # T/F: FOPDT, dead time 120 s exactly two samples: nothing before, then 1 - e^{-(t-120)/120}
    assert np.all(s60[:2, 0, 1] == 0.0)
    assert s60[2:, 0, 1] == pytest.approx(-0.5 * (1 - np.exp(-(t[2:] - 120.0) / 120.0)), abs=1e-14)
    # T/Q: SOPDT with a dead time of 1.5 samples, at 90 s sampling one sample; at 30 s three
    s30 = model.step_coefficients(30.0, 40)
    assert np.all(s30[:3, 0, 0] == 0.0) and s30[3, 0, 0] > 0.0
    assert s30[1::2, 0, 0] == pytest.approx(s60[:, 0, 0], abs=1e-14)   # the same times
    tau1, tau2, s = 300.0, 60.0, t[-1] - 90.0
    sopdt = 2.0 * (1 - (tau1 * np.exp(-s / tau1) - tau2 * np.exp(-s / tau2)) / (tau1 - tau2))
    assert s60[-1, 0, 0] == pytest.approx(sopdt, rel=1e-12)
    # L: two ramps, their slopes the rate gains once the lags have passed
    slope = np.diff(model.step_coefficients(60.0, 60)[-2:, 1, :], axis=0)[0] / 60.0
    assert slope == pytest.approx([-0.004, 0.01], rel=1e-9)
    assert model.gain_matrix()[2] == pytest.approx([0.3, 0.0])
    with pytest.raises(InputError, match="no steady-state gain .integrating outputs: L"):
        model.steady_gain()
    assert _model(pairs=PAIRS[:2] + PAIRS[4:]).steady_gain() == pytest.approx(
        np.array([[2.0, -0.5], [0.0, 0.0], [0.3, 0.0]]))
    with pytest.raises(InputError, match="sample time -1 s must be > 0"):
        model.step_coefficients(-1, 3)


def test_the_model_is_the_pairs_within_the_pade_error_and_has_their_gains():
    model = _model(pairs=PAIRS[:2] + PAIRS[4:])
    plant = model.to_model()
    from apc.ident.tf_model import pade_orders

    orders = pade_orders(model)
    assert plant.n_x == sum(len(p.time_constants) + k for p, k in zip(model.pairs, orders))
    assert plant.parameters.index("K_T_Q") >= 0 and plant.variable("theta_T_F").nominal == 120.0
    sim = Simulator(plant, 30.0, backend="reference")
    step = np.array([5.0 + 1.0, 40.0])       # +1 MW on Q
    y = []
    for _ in range(200):
        sim.step(step)
        y.append(plant.evaluate_outputs(sim.x, step, plant.p0(), MATH))
    y = np.array(y) - model.y0
    exact = model.step_coefficients(30.0, 200)[:, :, 0]
    worst = np.max(np.abs(y - exact), axis=0)
    largest = max(step_error(p.transfer(), k) for p, k in zip(model.pairs, orders) if p.mv == "Q")
    assert 0.0 < worst[0] <= largest * 2.0 + 1e-7 and largest < 0.005   # |K| = 2
    assert worst[2] < 1e-7                      # no dead time: exact
    assert y[-1] == pytest.approx([2.0, 0.0, 0.3], abs=1e-4)   # the gains, settled after 100 min


def test_twin_models_simulate_and_steady_run_on_a_file(capsys, tmp_path):
    path = _model().save(tmp_path / "small.toml")
    code, out, err = run_twin(capsys, "models", str(path))
    assert code == 0, err
    assert "5 transfer-function pairs" in out and "K_L_F" in out
    code, out, err = run_twin(capsys, "simulate", str(path), "--t-end", "3600", "--dt", "60",
                              "--u", "F=41", "--out", str(tmp_path / "s.csv"), "--backend",
                              "reference")
    assert code == 0, err
    import pandas as pd

    frame = pd.read_csv(tmp_path / "s.csv")
    assert frame["L"].iloc[-1] - 50.0 == pytest.approx(
        float(_model().step_coefficients(3600.0, 1)[0, 1, 1]), rel=0.02)
    code, out, err = run_twin(capsys, "steady", str(path))
    assert code == 0, err
    assert "steady state of small" in out
    data = read_toml(path)
    assert data["form"] == "transfer_functions" and len(data["pairs"]) == 5


@pytest.mark.parametrize("pair", [PAIRS[0].transfer(), PAIRS[1].transfer(), PAIRS[2].transfer(),
                                  Pair("y", "u", 1.0, (300.0, 300.0), 60.0).transfer()])
def test_block_step_response_is_scipys_step_response(pair):
    """The Padé order choice steps blocks of samples at once; the numbers are scipy's."""
    from scipy import signal

    from apc.ident.dead_time import pair_state_space, step_grid, step_response

    t = step_grid(pair)
    scale = abs(pair.gain) * (pair.dead_time + pair.time_constants[0]
                              if pair.structure == "integrating" else 1.0)
    for order in range(11):
        ss = pair_state_space(pair, order)
        ours, scipys = step_response(*ss, t), signal.step(ss, T=t)[1]
        assert np.max(np.abs(ours - scipys)) < 1e-6 * scale


def test_state_space_files_give_step_coefficients_through_the_same_call():
    first_order = IdentifiedModel(name="ss", A=np.array([[0.9]]), B=np.array([[0.1]]),
                                  C=np.array([[2.0]]), D=np.array([[0.0]]), dt=1.0, inputs=("u",),
                                  outputs=("y",), input_units=("-",), output_units=("-",),
                                  u0=np.zeros(1), y0=np.zeros(1))
    k = np.arange(1, 11)
    assert first_order.step_coefficients(1.0, 10)[:, 0, 0] == pytest.approx(2 * (1 - 0.9 ** k),
                                                                            rel=1e-12)
    assert first_order.step_coefficients(2.0, 10)[:, 0, 0] == pytest.approx(2 * (1 - 0.81 ** k),
                                                                            rel=1e-9)
    with pytest.raises(InputError, match="0 coefficients"):
        first_order.step_coefficients(1.0, 0)


def test_a_model_without_inputs_or_outputs_is_refused_in_one_line():
    with pytest.raises(InputError, match="needs at least one input and one output .has 2 inputs, "
                                         "0 outputs"):
        _model(outputs=(), output_units=(), y0=np.zeros(0))


def test_the_controller_runs_on_a_transfer_function_model_and_reaches_its_setpoint(tmp_path):
    """The model is an ordinary Model: the NMPC predicts with it (here: the plant too)."""
    from apc.controller import Controller, Mode
    from apc.spec import spec_from_dict
    from twin.core.quality import Reading
    from twin.orchestration.registry import load_model

    path = _model(pairs=PAIRS[:2] + PAIRS[4:]).save(tmp_path / "small.toml")
    spec = spec_from_dict({
        "model": str(path), "type": "nonlinear", "sample_time": 60.0, "prediction_horizon": 20,
        "measurements": [{"name": "T", "noise_std": 0.05}, {"name": "A", "noise_std": 0.01}],
        "cv": [{"name": "T", "setpoint": 301.0, "weight": 1.0}],
        "mv": [{"name": "Q", "low": 0.0, "high": 10.0, "max_move": 0.5, "move_weight": 0.1},
               {"name": "F", "low": 30.0, "high": 50.0, "max_move": 2.0, "move_weight": 0.01}]})
    model = load_model(str(path))
    spec.check(model)
    controller = Controller(spec, model, x0=model.x0(), u0=model.u0())
    controller.set_mode(Mode.ON, model.u0())
    plant = Simulator(model, 60.0, x0=model.x0(), backend="reference")
    u = model.u0()
    for k in range(60):
        y = model.evaluate_outputs(plant.x, u, model.p0(), MATH)
        out = controller.step(k * 60.0, {"T": Reading(y[0]), "A": Reading(y[2])}, u)
        u = np.array([out.mv["Q"], out.mv["F"]])
        assert 0.0 <= u[0] <= 10.0 and 30.0 <= u[1] <= 50.0
        plant.step(u)
    y = model.evaluate_outputs(plant.x, u, model.p0(), MATH)
    assert y[0] == pytest.approx(301.0, abs=0.01)             # T at its setpoint after 1 h
    assert y[2] - 12.0 == pytest.approx(0.3 * (u[0] - 5.0), abs=0.01)   # A: its gain from Q
