"""``twin models``: aligned columns and ranges written as an engineer reads them."""

from __future__ import annotations

import re

import pytest

from support import run_twin
from twin.cli.main import bounds_text
from twin.orchestration.registry import model_names


@pytest.mark.parametrize("lower, upper, text", [
    (0.0, 5.1, "[0, 5.1]"), (0.0, None, ">= 0"), (None, 1.0, "<= 1"), (None, None, "any"),
    (-8500.0, 0.0, "[-8500, 0]"),
])
def test_bounds_are_readable(lower, upper, text):
    assert bounds_text(lower, upper) == text


def test_the_model_list_is_in_aligned_columns(capsys):
    code, out, _ = run_twin(capsys, "models")
    assert code == 0
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == model_names()  # one line per model, in order
    # every column starts at the same offset on every line: the time unit and the title
    units = {line.index("[") for line in lines}
    titles = {re.search(r"\] +(\S)", line).start(1) for line in lines}
    inputs = {line.index(" inputs") for line in lines}
    assert len(units) == len(titles) == len(inputs) == 1, out
    column = next(line for line in lines if line.startswith("distillation_a "))
    assert "82 states" in column


def test_one_model_shows_ranges_without_inf(capsys):
    code, out, _ = run_twin(capsys, "models", "cstr")
    assert code == 0
    assert "inf" not in out
    rows = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert " [0, 5.1] " in rows["C_a"] and " [-8500, 0] " in rows["Q_dot"]
    assert " >= 0 " in rows["C_A0"] and " any " in rows["k0_ab"]
    # the columns line up: the unit column starts at the same offset on every row
    assert len({line.index(" mol/L" if "mol/L" in line else " 1/h") for line in
                (rows["C_a"], rows["F"], rows["C_b"])}) == 1


def test_a_value_outside_a_half_bounded_range_names_the_range_without_inf():
    from twin.core.errors import InputError
    from twin.core.ranges import range_text

    model = __import__("twin").load_model("cstr")
    with pytest.raises(InputError) as caught:
        model.parameters.check_bounds(model.parameters.vector({"C_A0": -1.0}), "--set")
    assert str(caught.value) == "--set: parameter 'C_A0' = -1 mol/L is outside its bounds >= 0"
    assert range_text(0.0, float("inf"), "mol/L") == ">= 0 mol/L"
    assert range_text(float("-inf"), float("inf"), "K") == "any"


def test_an_error_naming_a_key_with_a_newline_stays_one_line():
    from twin.core.config import parse_toml
    from twin.core.errors import InputError
    from twin.orchestration.whatif.study import BaseCase
    from twin.core.config import build

    with pytest.raises(InputError) as caught:
        build(BaseCase, parse_toml('kind = "function"\nfunction = "ishigami"\n"a\\nb" = 1\n',
                                   "s"), "study.toml.base")
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("study.toml.base: unknown key 'a\\nb'")
