"""The study report: units on KPIs and variables, and counts that match what ran."""

from __future__ import annotations

import pandas as pd

from report_checks import read_report, table_with, visible_text
from twin.orchestration.whatif import load_study, run_study
from twin.orchestration.whatif.units import kpi_units, variable_units

STUDY = """
title = "CSTR kinetics, units"
duration = 1.0
[base]
kind = "open_loop"
model = "cstr"
dt = 0.01
[[variable]]
name = "k0_bc"
low = 1.0e12
high = 1.5e12
[[variable]]
name = "beta"
low = 0.9
high = 1.1
[sampling]
method = "lhs"
n = 12
[[kpi]]
name = "c"
variable = "C_b"
[[kpi]]
name = "c_iae"
kind = "iae"
variable = "C_b"
setpoint = 1.0
[[kpi]]
name = "hot"
kind = "violation_time"
variable = "T_R"
high = 115.0
[[kpi]]
name = "profit"
kind = "profit"
economics = "cstr"
[[kpi]]
name = "excess"
kind = "expression"
expression = "sqrt(C_b - 0.65)"  # no real root below 0.65 mol/L: those scenarios fail
of = "final"
unit = "(mol/L)^0.5"
[[kpi]]
name = "ratio"
kind = "expression"
expression = "C_b / C_a"
"""


def test_study_report_has_units_and_counts_that_match(write_study, tmp_path):
    study = load_study(write_study(STUDY))
    result = run_study(study, tmp_path / "out")
    assert kpi_units(study) == {"c": "mol/L", "c_iae": "mol/L\u00b7h", "hot": "h",
                                "profit": "EUR", "excess": "(mol/L)^0.5",
                                "ratio": "unit of the expression"}
    assert variable_units(study) == {"k0_bc": "1/h", "beta": "-"}
    summary = pd.read_parquet(result.summary)
    failed = int((summary.status != "ok").sum())
    assert 0 < failed < len(summary) == 13          # 12 sampled and the nominal scenario
    page = result.report.read_text()
    counts = dict(table_with(page, "Study").rows)
    assert counts["scenarios planned"] == "13 (with the nominal one)"
    assert counts["scenarios run now"] == "13" and counts["failed"] == str(failed)
    assert counts["succeeded"] == str(13 - failed)
    assert counts["variables"] == "k0_bc [1/h], beta [-]"
    kpis = table_with(page, f"KPIs over the {13 - failed} successful scenarios")
    assert [r[0] for r in kpis.rows] == ["c [mol/L]", "c_iae [mol/L\u00b7h]", "hot [h]",
                                         "profit [EUR]", "excess [(mol/L)^0.5]",
                                         "ratio [unit of the expression]"]
    assert table_with(page, f"{failed} of 13 scenarios failed").header[1:3] == \
        ["k0_bc [1/h]", "beta [-]"]
    assert "nan" not in visible_text(page).lower()
    assert "Trends" in read_report(page).headings and (tmp_path / "out" / "trends.png").is_file()
