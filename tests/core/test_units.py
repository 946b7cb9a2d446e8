"""Units with pint: the dimension check of the equations, values with units, bounds."""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import pandas as pd
import pytest

from plant_models import cstr
from twin.core import dimensions
from twin.core.dimensions import check_model
from twin.core.errors import InputError
from twin.core.units import check_value, to_declared
from twin.core.variables import parameter, state
from twin.orchestration.registry import load_model, model_names


def _variant(rhs=None, **groups):
    """The CSTR with other equations or declarations (a new model definition)."""
    return dataclasses.replace(cstr.MODEL, rhs=rhs or cstr.MODEL.rhs, **groups)


def test_every_shipped_model_passes_the_dimension_check():
    dimensions._CHECKED.clear()
    for name in model_names():
        check_model(load_model(name), disk=False)
    assert len(dimensions._CHECKED) == len(model_names())


def test_a_temperature_added_to_a_concentration_rate_is_refused_naming_the_state_and_units():
    def rhs(x, u, p, ops):
        derivatives = cstr.rhs(x, u, p, ops)
        derivatives["C_a"] = derivatives["C_a"] + x.T_R
        return derivatives

    with pytest.raises(InputError) as refused:
        check_model(_variant(rhs))
    message = str(refused.value)
    assert message == ("model 'cstr': the derivative of state 'C_a' adds mol/h/l and delta_degC; "
                       "it must be in mol/L per h")


def test_a_derivative_of_the_wrong_dimension_names_both_units():
    def rhs(x, u, p, ops):
        derivatives = cstr.rhs(x, u, p, ops)
        derivatives["T_K"] = derivatives["T_K"] * p.m_k  # kg K/h, not K/h
        return derivatives

    with pytest.raises(InputError, match=r"derivative of state 'T_K' is in K\*kg/h .*"
                                         r"but must be in degC per h"):
        check_model(_variant(rhs))


def test_exp_of_a_temperature_is_refused():
    def rhs(x, u, p, ops):
        derivatives = cstr.rhs(x, u, p, ops)
        derivatives["C_b"] = derivatives["C_b"] * ops.exp(x.T_R)
        return derivatives

    with pytest.raises(InputError, match="state 'C_b' takes exp of a quantity in delta_degC"):
        check_model(_variant(rhs))


def test_math_exp_on_a_variable_is_refused_naming_ops_exp():
    def rhs(x, u, p, ops):
        derivatives = cstr.rhs(x, u, p, ops)
        derivatives["C_b"] = derivatives["C_b"] * math.exp(-p.E_bc / (x.T_R + 273.15))
        return derivatives

    with pytest.raises(InputError, match=r"calls math\.exp on a variable .*use ops\.exp"):
        check_model(_variant(rhs))


def test_an_unknown_unit_names_the_variable_and_the_unit():
    params = [parameter("k_w", "kJ/(h m2 Kelvinn)", "heat transfer", 4032.0)
              if v.name == "k_w" else v for v in cstr.MODEL.parameters]
    with pytest.raises(InputError, match=r"parameter 'k_w': unit 'kJ/\(h m2 Kelvinn\)' is not a "
                                         r"known unit"):
        check_model(_variant(parameters=params))


def test_a_unit_of_the_wrong_dimension_on_a_declaration_is_found():
    states = [state("C_a", "mol/L/h", "A", 0.8, 0.0, 5.1) if v.name == "C_a" else v
              for v in cstr.MODEL.states]
    with pytest.raises(InputError, match="state 'C_a' .* must be in mol/L/h per h"):
        check_model(_variant(states=states))


def test_the_check_runs_once_per_model_definition():
    model = load_model("distillation_a")
    dimensions._CHECKED.clear()
    start = time.perf_counter()
    check_model(model, disk=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for value in (1.4, 1.5, 1.6):  # parameter variants share the check
        check_model(model.with_parameters(alpha=value))
    again = time.perf_counter() - start
    assert again < first / 10 and first < 2.0


def test_a_later_process_skips_the_check_of_a_model_that_passed(tmp_path):
    """The first load checks with pint; the next process finds the marker and needs no pint."""
    import os
    import subprocess
    import sys

    script = ("import sys, twin; twin.load_model('quadruple_tank'); "
              "print('pint' in sys.modules)")
    env = {**os.environ, "TWIN_CACHE_DIR": str(tmp_path)}
    used_pint = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                                env=env, timeout=120, check=True).stdout.strip()
                 for _ in range(2)]
    assert used_pint == ["True", "False"]
    assert len(list((tmp_path / "units-checked").iterdir())) == 1


@pytest.mark.parametrize(("text", "unit", "value"), [
    ("363.15K", "degC", 90.0), ("90degC", "degC", 90.0), ("194 degF", "degC", 90.0),
    ("0.5 mol/L", "mol/L", 0.5), ("500 mmol/L", "mol/L", 0.5), ("50 %", "-", 0.5),
    ("1 kW", "kJ/h", 3600.0), ("0.25/min", "1/h", 15.0), ("2", "kmol", 2.0), (2, "kmol", 2.0),
    ("3 cm3/(V s)", "m3/(V h)", 3e-6 * 3600)])
def test_values_with_a_unit_are_converted_to_the_declared_unit(text, unit, value):
    assert to_declared(text, unit, "x") == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize(("text", "unit", "message"), [
    ("5 mol/L", "degC", r"'5 mol/L' cannot be converted to the declared unit degC"),
    ("3 furlongz", "m", r"unit 'furlongz' is not a known unit"),
    ("hot", "degC", r"'hot' is not a number with an optional unit"),
    ("1e999 K", "K", r"'1e999 K' is not a finite number"),
])
def test_bad_values_are_one_line_errors_naming_the_option(text, unit, message):
    with pytest.raises(InputError, match=r"^--u T_R: " + message):
        to_declared(text, unit, "--u T_R")


def test_outside_the_bounds_is_a_warning_naming_bound_unit_and_value(caplog):
    T_R = cstr.MODEL.states["T_R"]
    with caplog.at_level(logging.WARNING, logger="twin.core.units"):
        message = check_value(T_R, 190.0, "plant.x0")
    assert message == ("plant.x0: T_R = 190 degC is above its upper bound 180 degC "
                       "(bounds [50, 180] degC); using it anyway")
    assert [r.getMessage() for r in caplog.records] == [message]
    assert check_value(T_R, 120.0, "plant.x0") is None


def test_outside_the_physical_bounds_or_below_absolute_zero_is_an_error():
    with pytest.raises(InputError, match=r"^--x0: C_a = -0.1 mol/L is outside its physical "
                                         r"bounds >= 0 mol/L"):
        check_value(cstr.MODEL.states["C_a"], -0.1, "--x0")
    T_in = cstr.MODEL.parameters["T_in"]
    with pytest.raises(InputError, match=r"T_in = -300 degC is below absolute zero"):
        check_value(T_in, -300.0, "--set")


def _loop(x0: str, u0: str = "{ F = 14.19, Q_dot = -1113.5 }", parameters: str = "{}"):
    from twin.core.config import parse_toml
    from twin.orchestration.examples import file_or_example
    from twin.orchestration.loop.config import loop_from_dict

    text = file_or_example("cstr_apc.toml").read_text()
    text = text.replace("x0 = { C_a = 0.8, C_b = 0.5, T_R = 134.14, T_K = 130.0 }", f"x0 = {x0}")
    text = text.replace("u0 = { F = 14.19, Q_dot = -1113.5 }", f"u0 = {u0}")
    text = text.replace("parameters = { alpha = 1.05, beta = 1.1 }", f"parameters = {parameters}")
    return loop_from_dict(parse_toml(text, "loop"), None, "loop.toml")


def _plant_start(loop):
    from twin.orchestration.loop.runner import make_plant

    internal = load_model("cstr")
    plant = make_plant(loop.plant, loop.tick, [], internal)
    try:
        return plant.truth(), plant.inputs()
    finally:
        plant.close()


def test_loop_file_values_with_units_are_converted_to_the_declared_units():
    with_units = _loop('{ C_a = "800 mmol/L", C_b = "0.5 mol/L", T_R = "407.29 K", T_K = 130.0 }',
                       '{ F = "14.19 1/h", Q_dot = "-309.3055556 W" }', '{ T_in = "403.15 K" }')
    plain = _loop("{ C_a = 0.8, C_b = 0.5, T_R = 134.14, T_K = 130.0 }")
    (x_units, u_units), (x_plain, _) = _plant_start(with_units), _plant_start(plain)
    for name in ("C_a", "C_b", "T_R", "T_K"):
        assert x_units[name] == pytest.approx(x_plain[name], rel=1e-12), name
    assert u_units["Q_dot"] == pytest.approx(-1113.5, rel=1e-9)
    assert u_units["F"] == pytest.approx(14.19, rel=1e-12)


def test_a_loop_file_value_with_a_bad_unit_names_the_key():
    with pytest.raises(InputError, match=r"^loop.toml.plant: x0.C_a: unit 'mol/Lx' is not a known"):
        _loop('{ C_a = "0.8 mol/Lx" }')
    with pytest.raises(InputError, match=r"^plant.x0: state 'C_a': '0.8 K' cannot be converted to "
                                         r"the declared unit mol/L"):
        _plant_start(_loop('{ C_a = "0.8 K" }'))


def test_a_loop_file_start_outside_the_bounds_warns(caplog):
    with caplog.at_level(logging.WARNING, logger="twin.core.units"):
        _plant_start(_loop('{ T_R = "200 degC" }'))
    assert [r.getMessage() for r in caplog.records] == [
        "plant.x0: T_R = 200 degC is above its upper bound 180 degC (bounds [50, 180] degC); "
        "using it anyway"]


def test_schedule_columns_and_cells_may_carry_units(tmp_path):
    from twin.core.schedule import InputSchedule

    model = load_model("cstr")
    path = tmp_path / "steps.csv"
    path.write_text("time,F [1/min],Q_dot\n0.1,0.25,-1 kW\n0.2,0.3,-2000\n")
    schedule = InputSchedule.read(path, model.inputs, model.u0())
    assert schedule.values.ravel().tolist() == pytest.approx([15.0, -3600.0, 18.0, -2000.0])
    path.write_text("time,F [degC]\n0.1,3\n")
    with pytest.raises(InputError, match=r"column 'F \[degC\]': values in degC cannot be converted "
                                         r"to the declared unit 1/h"):
        InputSchedule.read(path, model.inputs, model.u0())


STUDY = """
duration = 0.05
[base]
kind = "open_loop"
model = "cstr"
dt = 0.01
steady_start = false
x0 = {x0}
u = {u}
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ {{ beta = 1.0 }} ]
[[kpi]]
name = "T_end"
variable = "T_R"
"""


def test_a_study_base_case_with_units_runs_as_in_declared_units(tmp_path):
    from twin.orchestration.whatif.run import run_study
    from twin.orchestration.whatif.study import load_study

    ends = []
    for k, (x0, u) in enumerate([('{ C_a = "800 mmol/L", T_R = "407.29 K" }',
                                  '{ F = "0.2365/min" }'),
                                 ("{ C_a = 0.8, T_R = 134.14 }", "{ F = 14.19 }")]):
        path = tmp_path / f"study{k}.toml"
        path.write_text(STUDY.format(x0=x0, u=u))
        result = run_study(load_study(path), tmp_path / f"out{k}", report=False)
        assert result.failed == 0
        ends.append(float(pd.read_parquet(result.summary)["T_end"].iloc[0]))
    assert ends[0] == pytest.approx(ends[1], rel=1e-12)
    assert ends[1] == pytest.approx(135.47485, rel=1e-6)


def test_a_derivative_of_the_right_dimension_but_another_scale_warns(caplog):
    params = [parameter("k0_bc", "1/min", "B -> C", 1.287e12) if v.name == "k0_bc" else v
              for v in cstr.MODEL.parameters]
    with caplog.at_level(logging.WARNING, logger="twin.core.units"):
        check_model(_variant(parameters=params))
    assert [r.getMessage() for r in caplog.records] == [
        "model 'cstr': the derivative of state 'C_b' subtracts mol/h/l and mol/l/min (a factor 60): "
        "right if the equation converts it with a number, else a unit is declared wrong",
        "model 'cstr': the derivative of state 'T_R' adds kJ/h/l and kJ/l/min (a factor 60): "
        "right if the equation converts it with a number, else a unit is declared wrong"]


def test_a_key_with_a_line_break_is_refused_in_one_line():
    from twin.core.config import build
    from twin.orchestration.loop.config import PlantConfig

    for doc, message in (({"model": "cstr", "x0": {"C_a\n": 0.8}},
                          r"plant.x0: key 'C_a\n' has control characters"),
                         ({"model": "cstr", "x0\n": 1}, r"plant: unknown key 'x0\n'; valid")):
        with pytest.raises(InputError) as refused:
            build(PlantConfig, doc, "plant")
        assert str(refused.value).startswith(message)
