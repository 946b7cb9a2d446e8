"""Expressions from configuration files: names, folded constants, limits, evaluation errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twin.core import expressions, ops
from twin.core.errors import InputError

NAMES = ["C_b", "F", "beta"]


def refused(text: str, where: str = "kpi 'k'") -> str:
    """The one-line message parsing ``text`` gives (it must be an InputError)."""
    with pytest.raises(InputError) as info:
        expressions.parse(text, NAMES, where)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{where}: ") or \
        message.startswith("unknown ")
    return message


def test_a_function_name_used_as_a_value_or_a_variable_called_is_refused_by_name():
    assert refused("exp + C_b") == ("kpi 'k': 'exp' is a function, not a value: call it, as "
                                    "in exp(x), in 'exp + C_b'")
    assert "'abs' is a function, not a value" in refused("abs(abs)")
    assert refused("C_b(2)").startswith("kpi 'k': 'C_b' is a variable, not a function")
    message = refused("exq(C_b)")
    assert message.startswith("unknown function 'exq' of kpi 'k' (did you mean 'exp'?)")
    assert "unknown name 'x' of kpi 'k'" in refused("x + 1")


def test_a_variable_named_like_a_function_is_a_value_where_it_is_not_called():
    e = expressions.parse("abs + abs(F)", ["abs", "F"])
    assert e.names == ("abs", "F") and e({"abs": 2.0, "F": -3.0}, ops.MATH) == 5.0


@pytest.mark.parametrize("text, reason", [
    ("1/0", "'1 / 0' divides by zero"),
    ("C_b * 2 / (3 - 3)", "'C_b * 2 / (3 - 3)' divides by zero"),
    ("0 ** -1 + F", "'0 ** (-1)' divides by zero"),
    ("9**9**9", "'9 ** 9 ** 9' overflows"),
    ("1e308 * 10 + F", "'1e+308 * 10' overflows"),
    ("exp(1000) * F", "'exp(1000)' overflows"),
    ("10**400", "'10 ** 400' overflows"),
    ("(-8)**(1/3)", "'(-8) ** (1 / 3)' is not a real number (a negative number to a "
                    "fractional power)"),
    ("log(-1) + C_b", "'log(-1)' is not defined (a function outside its domain)"),
    ("sqrt(2 - 3)", "'sqrt(2 - 3)' is not defined"),
    ("1e999 * F", "a number is not finite"),
    ("F * 1" + "0" * 400, "is too large"),
])
def test_constant_parts_fail_at_parse_time_in_one_line(text, reason):
    message = refused(text)
    assert reason in message and f"in '{text}'"[:60] in message


def test_constant_parts_are_folded_to_the_number_python_gives():
    e = expressions.parse("2 ** 0.5 * C_b - -(3 / 4) + exp(1)", NAMES)
    assert e.names == ("C_b",)
    assert e({"C_b": 3.0}, ops.MATH) == 2 ** 0.5 * 3.0 + 0.75 + math.exp(1)
    # no variable left at all: the tree is one number
    assert expressions.parse("(1 + 2) * 3", NAMES)({}, ops.MATH) == 9.0


def test_size_and_depth_limits_are_checked_before_the_parser():
    message = refused("+".join(["C_b"] * 5000))
    assert "expression of 19999 characters is too long (at most 10000)" in message
    assert "brackets nested 60 deep" in refused("(" * 60 + "C_b" + ")" * 60)
    assert expressions.parse("(" * 50 + "C_b" + ")" * 50, NAMES).names == ("C_b",)
    assert "nested too deeply (more than 200 levels" in refused("C_b+" * 300 + "1")
    e = expressions.parse("+".join(["C_b"] * 199), NAMES)  # within the limit: evaluates
    assert e({"C_b": 1.0}, ops.MATH) == 199.0


def test_the_parser_running_out_of_stack_is_one_line():
    # 5000 unary minus signs: Python's parser raises RecursionError
    assert "cannot parse" in refused("-" * 5000 + "C_b")
    assert "too long or too deeply nested" in refused("-" * 5000 + "C_b")
    assert "Exceeds the limit (4300 digits) for integer string conversion" in refused("1" * 5000)


@pytest.mark.parametrize("values, reason", [
    ({"C_b": 0.0, "F": 1.0, "beta": 4.0}, "division by zero"),
    ({"C_b": 1.0, "F": 1.0, "beta": 2.0}, "a negative number to a fractional power is not a "
                                          "real number"),
    ({"C_b": 1.0, "F": 1000.0, "beta": 4.0}, "overflow (beyond +-1.8e308)"),
    ({"C_b": 1.0, "F": -3.0, "beta": 4.0}, "a function outside its domain (math domain error)"),
])
def test_arithmetic_failures_at_evaluation_name_the_expression(values, reason):
    e = expressions.parse("F / C_b + (beta - 3) ** 0.5 + 10 ** F + log(F + 2)", NAMES,
                          "economics.profit")
    with pytest.raises(InputError) as info:
        e(values, ops.MATH)
    assert str(info.value) == ("economics.profit: cannot evaluate 'F / C_b + (beta - 3) ** 0.5 "
                               f"+ 10 ** F + log(F + 2)': {reason}")


def test_evaluation_on_arrays_is_unchanged():
    e = expressions.parse("F / C_b + 2 * 3", NAMES)
    with np.errstate(divide="ignore"):
        out = e({"F": np.array([1.0, 1.0]), "C_b": np.array([2.0, 0.0])}, ops.NUMPY)
    assert out[0] == 6.5 and out[1] == math.inf


def test_non_text_and_syntax_errors():
    assert refused("1 +").startswith("kpi 'k': cannot parse '1 +'")
    with pytest.raises(InputError, match="an expression is text, not int"):
        expressions.parse(3, NAMES)


@pytest.mark.parametrize("economic, message", [
    ("exp + C_b", "economic: 'exp' is a function, not a value"),
    ("-0.01 * C_b * F / (2 - 2)", "economic: '-0.01 * C_b * F / (2 - 2)' divides by zero"),
    ("-C_b * F * 9 ** 9 ** 9", "economic: '9 ** 9 ** 9' overflows"),
])
def test_a_controller_economic_expression_with_a_constant_problem_is_one_line(economic,
                                                                             message):
    import twin
    from apc.nmpc import DoMpcNMPC, StructuredNMPC
    from apc.problem import ControlProblem
    from apc.spec import spec_from_dict

    spec = spec_from_dict({
        "model": "cstr", "sample_time": 0.005, "prediction_horizon": 4,
        "estimator": {"kind": "state_feedback"}, "economic": economic,
        "cv": [{"name": "C_b", "weight": 0.0}],
        "mv": [{"name": "F", "low": 5.0, "high": 100.0}, {"name": "Q_dot", "low": -8500.0,
                                                          "high": 0.0}]})
    problem = ControlProblem(twin.load_model("cstr"), spec)
    for build in (lambda: StructuredNMPC(problem, "ipopt"), lambda: DoMpcNMPC(problem)):
        with pytest.raises(InputError) as info:
            build()
        assert str(info.value).startswith(message) and "\n" not in str(info.value)
