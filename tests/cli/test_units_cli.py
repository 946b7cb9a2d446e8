"""Units and ranges on the command line: values with units, warnings outside the bounds."""

from __future__ import annotations

import json

import pytest

from support import run_twin, the_error_line


def _steady(capsys, *args):
    code, out, err = run_twin(capsys, "steady", *args, "--json")
    assert code == 0, err
    return json.loads(out), err


def test_a_kelvin_value_is_converted_to_the_declared_degc(capsys):
    kelvin, err = _steady(capsys, "williams_otto", "--u", "T_R=363.15K")
    celsius, _ = _steady(capsys, "williams_otto", "--u", "T_R=90")
    assert err == ""
    assert kelvin["inputs"]["T_R"] == pytest.approx(90.0, abs=1e-12)
    assert kelvin["states"] == celsius["states"]
    assert kelvin["states"]["X_P"] == pytest.approx(0.1094357, rel=1e-5)


def test_a_bare_kelvin_number_into_a_degc_input_warns_with_the_bound_and_unit(capsys):
    result, err = _steady(capsys, "williams_otto", "--u", "T_R=363.15")
    assert err == ("twin: warning: --u: T_R = 363.15 degC is above its upper bound 120 degC "
                   "(bounds [50, 120] degC); using it anyway\n")
    assert result["inputs"]["T_R"] == 363.15


def test_a_flow_far_above_its_bound_warns(capsys):
    _, err = _steady(capsys, "cstr", "--u", "F=1e6")
    assert err == ("twin: warning: --u: F = 1e+06 1/h is above its upper bound 100 1/h "
                   "(bounds [5, 100] 1/h); using it anyway\n")


def test_a_parameter_with_a_unit_is_converted(capsys):
    kelvin, _ = _steady(capsys, "cstr", "--set", "T_in=378.05K", "--u", "F=14.19")
    celsius, _ = _steady(capsys, "cstr", "--set", "T_in=104.9", "--u", "F=14.19")
    assert kelvin["states"]["T_R"] == pytest.approx(celsius["states"]["T_R"], rel=1e-12)


def test_an_incompatible_unit_is_one_line_with_status_2(capsys):
    code, out, err = run_twin(capsys, "steady", "cstr", "--u", "F=5degC")
    assert code == 2 and out == ""
    assert the_error_line(err) == ("twin: error: --u F: '5degC' cannot be converted to the "
                                   "declared unit 1/h ([temperature] is not 1 / [time])")


def test_a_start_below_absolute_zero_is_refused(capsys):
    code, _, err = run_twin(capsys, "steady", "cstr", "--guess", "T_R=-10K")
    assert code == 2
    assert the_error_line(err) == ("twin: error: --guess: T_R = -283.15 degC is outside its "
                                   "physical bounds >= -273.15 degC")


def test_the_klatt_engell_point_given_in_other_units(capsys):
    result, err = _steady(capsys, "cstr", "--set", "T_in=378.05K", "--u", "F=0.2365/min",
                          "--u", "Q_dot=-0.3093kW")
    assert err == ""
    assert result["inputs"] == pytest.approx({"F": 14.19, "Q_dot": -1113.48})
    for name, published in {"C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9}.items():
        assert result["states"][name] == pytest.approx(published, rel=1e-3)


def test_a_refused_command_prints_only_its_error_line(capsys, tmp_path):
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            "--set", "beta=-1", "--u", "F=0", "--out", str(tmp_path / "r.csv"))
    assert code == 2
    assert err == "twin: error: --u: input 'F' = 0 1/h is outside its bounds [5, 100]\n"
