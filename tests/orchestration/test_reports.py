"""Reports an engineer can read: number format, axis ranges, the loop report's verdict and KPIs."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from report_checks import number_and_unit, read_report, table_with, verdict_by_hand, visible_text
from twin.orchestration.axes import axis_range, describe_limit
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control
from twin.orchestration.numbers import format_number, with_unit


@pytest.mark.parametrize("value, scale, text", [
    (-2.3e-09, 8500.0, "0"),          # a zero heat duty from the solver's round-off
    (2.3e-09, None, "2.300e-09"),     # without a scale a small number stays what it is
    (1e-4, 1.0, "1.000e-04"),         # small but not negligible against its range
    (1234567.891, None, "1,234,568"),
    (-1113.5, None, "-1,114"),
    (114.2, None, "114.2"),
    (0.6, None, "0.6"),
    (0.005304902, None, "0.005305"),
    (0.0099996, None, "0.01"),
    (999.96, None, "1,000"),
    (3.0e12, None, "3.000e+12"),
    (12345, None, "12,345"),
    (np.int64(7), None, "7"),
    (float("nan"), None, "n/a"),
    (None, None, "n/a"),
    (float("-inf"), None, "-inf"),
])
def test_numbers_are_formatted_for_engineers(value, scale, text):
    assert format_number(value, scale) == text


def test_a_value_with_its_unit():
    assert with_unit(0.0123456, "mol/L") == "0.01235 mol/L"
    assert with_unit(float("nan"), "mol/L") == "n/a"


def test_the_axis_holds_the_data_and_leaves_a_far_limit_out():
    data = np.array([0.50, 0.62, 0.70])
    r = axis_range(data, {"hard_low": [50.0, 50.0], "high": [0.75, 0.75],
                          "low": [np.nan, np.nan], "hard_high": [np.inf]})
    assert r.low <= 0.50 and r.high >= 0.75          # data and the near limit inside
    assert r.low > 0.3 and r.high < 1.0              # and not squashed by the far one
    assert r.drawn == ("high",) and r.named == ("hard_low",)
    assert describe_limit([50.0, 50.0]) == "50" and describe_limit([4.0, 6.5]) == "4 to 6.5"
    flat = axis_range(np.full(10, 130.0), {})
    assert flat.low < 130.0 < flat.high and flat.high - flat.low < 5.0


@pytest.fixture(scope="module")
def short_loop(tmp_path_factory):
    """The shipped CSTR APC loop to shortly after its setpoint step (C_b 0.6 -> 0.7 at 0.3 h).

    The last quarter of the run starts before the step: the verdict averages only the cycles
    after it."""
    config = load_loop(example("cstr_apc.toml"))
    config = replace(config, run=replace(config.run, duration=0.36))
    folder = tmp_path_factory.mktemp("loop")
    result = run_control(config, folder)
    return config, result, pd.read_parquet(result.parquet), result.report.read_text()


def test_loop_report_verdict_matches_the_cycle_log(short_loop):
    _, _, frame, page = short_loop
    table = table_with(page, "Verdict")
    assert [r[0] for r in table.rows] == ["C_b"]      # the only CV with a setpoint
    setpoint, achieved = verdict_by_hand(frame, "C_b")
    row = dict(zip(table.header, table.rows[0]))
    assert number_and_unit(row["setpoint"]) == (pytest.approx(setpoint, rel=1e-4), "mol/L")
    got, unit = number_and_unit(row["achieved (mean)"])
    assert unit == "mol/L" and got == pytest.approx(achieved, rel=5e-4)
    assert setpoint == 0.7
    on_target = abs(achieved - setpoint) <= 0.02 * setpoint
    assert row["on target"] == ("yes" if on_target else "NO")


def test_loop_report_kpis_all_have_units_and_no_nan(short_loop):
    config, result, frame, page = short_loop
    assert "nan" not in visible_text(page).lower()
    per_cv = table_with(page, "Per CV")
    overall = table_with(page, "Overall")
    for row in per_cv.rows:
        for cell in row[1:]:
            if cell == "no setpoint":
                assert row[0] in ("T_R", "T_K")      # the CVs kept in their limits only
                continue
            value, unit = number_and_unit(cell)
            assert math.isfinite(value) and unit, cell
    for quantity, cell in overall.rows:
        value, unit = number_and_unit(cell)
        assert unit, (quantity, cell)
    iae = dict((r[0], r[1]) for r in per_cv.rows)["C_b"]
    assert number_and_unit(iae) == (pytest.approx(result.kpis["iae"]["C_b"], rel=5e-4),
                                    "mol/L\u00b7h")
    assert set(result.kpis["iae"]) == {"C_b"}
    headings = read_report(page).headings
    assert headings.index("Verdict") < headings.index("Controlled variables")


def test_twin_rto_prints_a_zero_heat_duty_as_0(capsys):
    from support import run_twin

    code, out, err = run_twin(capsys, "rto", "cstr")
    assert code == 0, err
    values = dict(line.split() for line in out.splitlines()[1:] if not line.strip().startswith(
        "active"))
    assert values["Q_dot"] == "0"                    # the solver's ~1e-9 kJ/h on [-8500, 0]
    assert float(values["F"]) > 5.0 and "e-" not in out
