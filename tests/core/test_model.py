"""The model API: declarations, overrides by name, parameter sets, validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twin
from twin.core import ops
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.variables import manipulated, output, parameter, state


def _decay(**kw):
    def rhs(x, u, p, ops):
        return {"z": -p.k * x.z + u.w}

    def outputs(x, u, p, ops):
        return {"z2": ops.sqrt(x.z ** 2)}

    args = dict(name="decay", title="first-order decay", source="test", time_unit="s",
                states=[state("z", "m", "level", 1.0, 0.0, 10.0)],
                inputs=[manipulated("w", "m/s", "inflow", 0.5, 0.0, 2.0)],
                parameters=[parameter("k", "1/s", "rate", 0.25)],
                outputs=[output("z2", "m", "level again")], rhs=rhs, output_map=outputs)
    args.update(kw)
    return Model(**args)


def test_every_variable_of_every_model_has_unit_description_and_nominal(model):
    for group in (model.states, model.inputs, model.parameters):
        for v in group:
            assert v.unit and v.description, v.name
            assert math.isfinite(v.nominal), v.name
            assert v.lower <= v.nominal <= v.upper, v.name
    for v in model.outputs:
        assert v.unit and v.description
    assert model.source and model.time_unit in ("h", "min", "s")


def test_equations_evaluate_with_plain_floats(model):
    f = model.evaluate_rhs(model.x0(), model.u0(), model.p0(), ops.MATH)
    reference = np.array(twin.casadi_form(model).f(model.x0(), model.u0(), model.p0())).ravel()
    assert np.allclose(f, reference, rtol=1e-13, atol=1e-13)


def test_parameter_override_by_name_returns_a_new_model():
    cstr = twin.load_model("cstr")
    hot = cstr.with_parameters(T_in=104.9)
    assert hot.parameters["T_in"].nominal == 104.9
    assert cstr.parameters["T_in"].nominal == 130.0
    assert hot.parameter_set == "do-mpc (modified)"
    assert hot.with_parameters(beta=0.9).parameter_set == "do-mpc (modified)"


def test_unknown_parameter_lists_the_valid_ones():
    cstr = twin.load_model("cstr")
    with pytest.raises(UnknownNameError) as err:
        cstr.with_parameters(Tin=100.0)
    message = str(err.value)
    assert "unknown parameter 'Tin'" in message and "did you mean 'T_in'" in message
    for name in cstr.parameters.names:
        assert name in message
    assert "\n" not in message


def test_non_numeric_parameter_value_is_an_input_error():
    with pytest.raises(InputError, match="'abc' is not a number"):
        twin.load_model("cstr").with_parameters(T_in="abc")
    with pytest.raises(InputError, match="not a finite number"):
        twin.load_model("cstr").with_parameters(T_in=float("nan"))


def test_parameter_sets_by_name():
    qt = twin.load_model("quadruple_tank", parameter_set="P+")
    assert qt.parameter_set == "P+"
    assert qt.parameters["gamma_1"].nominal == 0.43
    assert qt.states["h3"].nominal == 4.8  # the operating point goes with the set
    with pytest.raises(UnknownNameError, match="valid: P-, P\\+"):
        twin.load_model("quadruple_tank", parameter_set="P0")


def test_duplicate_names_are_rejected():
    with pytest.raises(InputError, match="names used twice: z"):
        _decay(parameters=[parameter("z", "1/s", "clash", 1.0)])


def test_rhs_must_return_exactly_the_states():
    m = _decay(rhs=lambda x, u, p, ops: {"z": 0.0, "q": 1.0})
    with pytest.raises(InputError, match="unexpected \\['q'\\]"):
        m.evaluate_rhs([1.0], [0.0], [1.0], ops.MATH)


def test_equations_reject_unknown_variable_names():
    m = _decay(rhs=lambda x, u, p, ops: {"z": -p.kk * x.z})
    with pytest.raises(UnknownNameError, match="unknown parameter 'kk'"):
        m.evaluate_rhs([1.0], [0.0], [1.0], ops.MATH)


def test_same_function_gives_casadi_pyomo_and_numbers():
    import pyomo.environ as pyo

    from twin.core.pyomo_form import steady_state_model

    m = _decay()
    assert m.evaluate_rhs([2.0], [0.5], [0.25], ops.MATH) == [0.0]
    form = twin.casadi_form(m)
    assert float(form.f(2.0, 0.5, 0.25)) == 0.0
    assert float(form.jac_x(2.0, 0.5, 0.25)) == -0.25
    block = steady_state_model(m)
    block.x["z"].set_value(2.0)
    assert pyo.value(block.rhs["z"].body) == 0.0
    assert pyo.value(block.y["z2"]) == 2.0


def test_describe_is_json_friendly():
    import json

    d = twin.load_model("distillation_a").describe()
    text = json.dumps(d)
    assert d["time_unit"] == "min" and len(d["states"]) == 82
    assert "Infinity" not in text and "NaN" not in text
    assert {i["name"]: i["role"] for i in d["inputs"]} == {
        "L_T": "manipulated", "V_B": "manipulated", "F": "disturbance", "z_F": "disturbance"}
