"""Identified model files: saved and loaded exactly, malformed ones refused in one line,
and loaded as a continuous-time Model that reproduces the discrete model at the samples."""

from __future__ import annotations

import numpy as np
import pytest
import tomli_w

from apc.ident.continuous import continuous_matrices
from apc.ident.model_file import IdentifiedModel
from identified_support import linearised_model
from support import run_twin, the_error_line
from twin.core.errors import InputError
from twin.core.schedule import InputSchedule
from twin.core.simulation import simulate
from twin.core.steady import find_steady_state
from twin.core.symbolic import casadi_form
from twin.orchestration.registry import load_model


def small_model(**changes) -> IdentifiedModel:
    """3 states (an oscillating pair and a lag), an MV and a DV, two outputs, feed-through."""
    fields = dict(
        name="small",
        A=[[0.9, 0.2, 0.0], [-0.2, 0.9, 0.0], [0.0, 0.0, 0.7]],
        B=[[0.1, 0.0], [0.05, 0.02], [0.0, 0.3]],
        C=[[1.0, 0.5, 0.0], [0.0, -0.3, 2.0]],
        D=[[0.0, 0.0], [0.25, 0.0]],
        dt=2.0, inputs=("F", "T_in"), outputs=("level", "T_out"), input_units=("m3/h", "degC"),
        output_units=("m", "degC"), u0=[10.0, 25.0], y0=[1.5, 60.0], disturbances=("T_in",),
        provenance={"data": "step_test.csv", "segment": [0.0, 7200.0], "method": "subspace",
                    "fit": {"level": np.float64(93.5), "T_out": 88.25}})
    fields.update(changes)
    return IdentifiedModel(**fields)


def test_saved_file_loads_back_exactly_and_is_readable(tmp_path):
    model = small_model(A=np.array([[0.9, 0.2, 0.0], [-0.2, 0.9, 0.0], [0.0, 0.0, 0.1 / 3]]))
    path = model.save(tmp_path / "small.toml")
    text = path.read_text()
    assert "format_version = 1" in text and 'disturbances = [\n    "T_in",\n]' in text
    back = IdentifiedModel.load(path)
    for key in ("A", "B", "C", "D", "u0", "y0"):
        assert np.array_equal(getattr(back, key), getattr(model, key)), key
    assert back.A[2, 2] == 0.1 / 3  # every digit of a float survives
    assert (back.name, back.dt, back.inputs, back.outputs, back.input_units, back.output_units,
            back.disturbances) == ("small", 2.0, ("F", "T_in"), ("level", "T_out"),
                                   ("m3/h", "degC"), ("m", "degC"), ("T_in",))
    assert back.provenance == {"data": "step_test.csv", "segment": [0.0, 7200.0],
                               "method": "subspace", "fit": {"level": 93.5, "T_out": 88.25}}


MALFORMED = [
    (lambda d: d.pop("A"), "key 'A' is missing"),
    (lambda d: d.update(format_version=2), "key 'format_version' is 2"),
    (lambda d: d.update(format="something else"), "key 'format' must be"),
    (lambda d: d.update(Bx=[[1.0]]), "unknown key 'Bx'"),
    (lambda d: d["A"][1].pop(), "key 'A': rows of different lengths (3, 2, 3)"),
    (lambda d: d.update(B=[[0.1, 0.0], [0.0, 0.3]]), "B has shape (2, 2), expected (3, 2)"),
    (lambda d: d.update(u0=[10.0, "warm"]), "key 'u0' must be a list of numbers"),
    (lambda d: d["C"][0].__setitem__(0, True), "key 'C[0]' must be a list of numbers"),
    (lambda d: d.update(y0=[1.5]), "y0 needs 2 finite values"),
    (lambda d: d.update(sample_time=-1.0), "sample time -1.0 s must be > 0"),
    (lambda d: d.update(sample_time="1 s"), "key 'sample_time' must be a number [s]"),
    (lambda d: d.update(input_units=["m3/h", "blorp"]), "input 'T_in': unit 'blorp'"),
    (lambda d: d.update(outputs=["level", "F"]), "names used twice: F"),
    (lambda d: d.update(outputs=["level", "T out"]), "output name 'T out' is not an identifier"),
    (lambda d: d.update(disturbances=["T_feed"]), "disturbances T_feed are not inputs"),
    (lambda d: d.update(provenance="a test"), "key 'provenance' must be a table"),
    (lambda d: d.update(name="3tanks"), "identified model name '3tanks'"),
]


@pytest.mark.parametrize("spoil, message", MALFORMED, ids=[m for _, m in MALFORMED])
def test_a_malformed_file_is_refused_in_one_line_naming_the_key(tmp_path, spoil, message):
    data = small_model().as_toml_data()
    spoil(data)
    path = tmp_path / "bad.toml"
    path.write_text(tomli_w.dumps(data))
    with pytest.raises(InputError) as refused:
        IdentifiedModel.load(path)
    text = str(refused.value)
    assert "\n" not in text and text.startswith(f"{path}: ")
    assert message in text


def test_a_malformed_file_given_to_a_command_exits_2_in_one_line(tmp_path, capsys, monkeypatch):
    data = small_model().as_toml_data()
    data.pop("C")
    (tmp_path / "bad.toml").write_text(tomli_w.dumps(data))
    monkeypatch.chdir(tmp_path)
    code, out, err = run_twin(capsys, "steady", "./bad.toml")
    assert code == 2 and out == ""
    assert the_error_line(err) == f"twin: error: {tmp_path / 'bad.toml'}: key 'C' is missing"


def test_continuous_model_reproduces_the_discrete_model_at_the_samples():
    identified = small_model()
    model = identified.to_model()
    assert model.time_unit == "s" and model.states.names == ["x1", "x2", "x3"]
    assert [v.role for v in model.inputs] == ["manipulated", "disturbance"]
    rng = np.random.default_rng(3)
    n_steps = 40
    u = identified.u0 + rng.normal(0.0, [2.0, 5.0], size=(n_steps, 2))
    schedule = InputSchedule.from_steps(model.inputs, u[0], [
        (k * identified.dt, {"F": u[k, 0], "T_in": u[k, 1]}) for k in range(n_steps)])
    result = simulate(model, n_steps * identified.dt, identified.dt, x0=np.zeros(3),
                      inputs=schedule, rtol=1e-11, atol=1e-12)
    x, expected = np.zeros(3), []
    for k in range(n_steps):
        expected.append(identified.C @ x + identified.D @ (u[k] - identified.u0) + identified.y0)
        x = identified.A @ x + identified.B @ (u[k] - identified.u0)
    assert np.max(np.abs(result.y[:n_steps] - np.array(expected))) < 1e-8
    assert np.max(np.abs(result.x[n_steps] - x)) < 1e-8
    assert np.ptp(result.y[:, 0]) > 0.5  # the inputs moved the outputs


def test_continuous_matrices_sample_back_to_the_discrete_ones():
    from scipy.linalg import expm

    identified = small_model()
    ac, bc = continuous_matrices(identified)
    block = np.zeros((5, 5))
    block[:3, :3], block[:3, 3:] = ac, bc
    sampled = expm(block * identified.dt)
    assert np.allclose(sampled[:3, :3], identified.A, atol=1e-13)
    assert np.allclose(sampled[:3, 3:], identified.B, atol=1e-13)


@pytest.mark.parametrize("a33", [-0.4, 0.0])
def test_an_eigenvalue_on_the_negative_real_axis_is_refused_with_what_to_do(a33):
    identified = small_model(A=[[0.9, 0.2, 0.0], [-0.2, 0.9, 0.0], [0.0, 0.0, a33]])
    with pytest.raises(InputError) as refused:
        identified.to_model()
    text = str(refused.value)
    assert "\n" not in text
    assert f"A has the eigenvalue {a33:.4g}, on the negative real axis or at 0" in text
    assert ("identify it again with --method fir or subspace at a lower --order, or another "
            "sample time" in text)


def test_the_exact_discretisation_of_the_linearisation_loads_with_its_gains(tmp_path):
    """Cross-check of the loading: the file of the twin's own ZOH-sampled linearisation loads
    as a model whose steady-state gains are the linearisation's (to 1e-6)."""
    twin_model = load_model("quadruple_tank", parameter_set="P-")
    ss = find_steady_state(twin_model, u=twin_model.u0())
    lin = casadi_form(twin_model).linearize(ss.x, ss.u, twin_model.p0())
    rows = [twin_model.states.index("h1"), twin_model.states.index("h2")]
    gains = -np.eye(4)[rows] @ np.linalg.solve(lin.A, lin.B)
    path = linearised_model().save(tmp_path / "quad_lin.toml")
    model = load_model(str(path))
    assert model.describe()["parameters"][0]["name"] == "A_1_1"
    for j, name in enumerate(("v1", "v2")):
        moved = find_steady_state(model, u=model.u0({name: ss.u[j] + 0.1}))
        y = moved.as_dict()["outputs"]
        for i, cv in enumerate(("h1", "h2")):
            assert (y[cv] - ss.x[rows[i]]) / 0.1 == pytest.approx(gains[i, j], rel=1e-6)
    assert gains[0, 0] == pytest.approx(5.19, abs=0.01)  # the tank's own numbers, not zeros


def test_the_shipped_example_loads_with_the_twins_gains_and_its_provenance():
    from twin.orchestration.examples import example

    path = example("qt_identified.toml")
    shipped = IdentifiedModel.load(path)  # twin identify of 2 h of qt_steptest.toml (README)
    assert shipped.provenance["method"] == "fir" and shipped.n_states == 3
    assert min(shipped.provenance["fit_percent"].values()) > 90.0
    assert shipped.provenance["holdout_s"] == [5040.0, 7199.0]
    assert np.max(np.abs(shipped.steady_gain() / linearised_model().steady_gain() - 1)) < 0.05
    model = load_model(str(path))
    ss = find_steady_state(model, u=model.u0({"v2": 3.5}))
    assert ss.as_dict()["outputs"]["h2"] - shipped.y0[1] == pytest.approx(
        (3.5 - shipped.u0[1]) * shipped.steady_gain()[1, 1], rel=1e-9)


def test_commands_refuse_a_missing_file_and_one_without_continuous_form(tmp_path, capsys,
                                                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = run_twin(capsys, "steady", "./nowhere.toml")
    assert code == 2
    assert the_error_line(err) == f"twin: error: no identified model file {tmp_path / 'nowhere.toml'}"
    small_model(A=[[0.9, 0.2, 0.0], [-0.2, 0.9, 0.0], [0.0, 0.0, -0.3]]).save("flip.toml")
    code, _, err = run_twin(capsys, "simulate", "flip.toml", "--t-end", "10", "--dt", "1",
                            "--out", "r.csv")
    assert code == 2 and not (tmp_path / "r.csv").exists()
    assert the_error_line(err).startswith(
        f"twin: error: {tmp_path / 'flip.toml'}: identified model 'small': A has the eigenvalue -0.3,")


def test_a_file_named_in_a_config_file_is_relative_to_that_file(tmp_path):
    from twin.core.model_ref import resolve_reference

    assert resolve_reference("../m/quad_id.toml", tmp_path / "a") == str(tmp_path / "m" / "quad_id.toml")
    assert resolve_reference("quad_id.toml", tmp_path) == str(tmp_path / "quad_id.toml")


def test_the_pyomo_form_gives_the_continuous_equations():
    import pyomo.environ as pyo

    from twin.core.pyomo_form import rhs_expressions, steady_state_model

    identified = small_model()
    model = identified.to_model()
    ac, bc = continuous_matrices(identified)
    block = steady_state_model(model, fix_inputs=False)
    exprs = rhs_expressions(model, block)
    x, u = np.array([0.3, -1.2, 2.0]), np.array([12.0, 21.0])
    for name, value in zip(model.states.names, x):
        block.x[name].set_value(value, skip_validation=True)
    for name, value in zip(model.inputs.names, u):
        block.u[name].set_value(value, skip_validation=True)
    expected = ac @ x + bc @ (u - identified.u0)
    assert [pyo.value(exprs[n]) for n in model.states.names] == pytest.approx(expected, rel=1e-12)
    assert np.max(np.abs(expected)) > 0.1


def test_ragged_matrices_from_python_are_refused_naming_the_matrix():
    with pytest.raises(InputError, match=r"^identified model 'small': C is not an array of numbers$"):
        small_model(C=[[1.0, 0.5, 0.0], [0.0, -0.3]])


@pytest.mark.parametrize("input_units, output_units", [
    (("m3/h", "degC"), ("m", "degC")), (("%", "-"), ("-", "%")),
    (("kJ/(h m2 K)", "degF"), ("mol/L", "kg/h"))])
def test_units_of_every_kind_pass_the_dimension_check_on_load(tmp_path, input_units, output_units):
    path = small_model(input_units=input_units, output_units=output_units).save(tmp_path / "u.toml")
    model = load_model(str(path))  # runs the equation and dimension checks
    units = {v.name: v.unit for v in model.parameters}
    assert units["A_1_1"] == "1/s" and units["y0_T_out"] == output_units[1]
    assert [v.unit for v in model.outputs] == list(output_units)
