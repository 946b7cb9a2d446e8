"""A KPI expression that cannot be evaluated fails its scenario; one that cannot be parsed
stops the study before any scenario, in one line."""

from __future__ import annotations

import pandas as pd
import pytest

from support import run_twin
from twin.orchestration.whatif import load_study, run_study

ECONOMICS = """
model = "cstr"
parameter_set = "literature"
unit = "EUR/h"
profit = "V_R * F * C_b * (1 / (beta - 1) + (beta - 0.9) ** 0.5 + 10 ** (300 * beta))"
prices = { p_B = 1.0 }
"""

STUDY = """
seed = 1
duration = 0.02
[base]
kind = "open_loop"
model = "cstr"
parameter_set = "literature"
dt = 0.01
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ { beta = 1.0 }, { beta = 0.85 }, { beta = 1.1 }, { beta = 0.95 } ]
[[kpi]]
name = "profit"
kind = "profit"
economics = "economics.toml"
[[kpi]]
name = "c"
variable = "C_b"
"""


def test_scenarios_whose_profit_cannot_be_evaluated_fail_with_the_reason(write_study, tmp_path):
    write_study(ECONOMICS, "economics.toml")
    result = run_study(load_study(write_study(STUDY)), tmp_path / "out", report=False)
    summary = pd.read_parquet(result.summary).set_index("scenario")
    assert list(summary.status) == ["failed", "failed", "failed", "ok"]
    where = "kpi 'profit' economics: cannot evaluate 'V_R * F * C_b * (1 / (beta - 1) + "
    assert summary.error[0].startswith(where) and summary.error[0].endswith(": division by zero")
    assert summary.error[1].endswith(": a negative number to a fractional power is not a real "
                                     "number")
    assert summary.error[2].endswith(": overflow (beyond +-1.8e308)")
    assert summary.error[3] == "" and summary.profit[3] > 1e280  # 10 ** 285 dominates
    # the scenario that could be evaluated ran: C_b falls from 1.09 with 5 % less activity
    assert result.failed == 3 and summary.c[3] == pytest.approx(1.0695, abs=1e-3)


@pytest.mark.parametrize("expression, message", [
    ("exp + C_b", "kpi 'bad': 'exp' is a function, not a value: call it, as in exp(x), in "
                  "'exp + C_b'"),
    ("C_b / (1 - 1)", "kpi 'bad': 'C_b / (1 - 1)' divides by zero in 'C_b / (1 - 1)'"),
    ("C_b * 9 ** 9 ** 9", "kpi 'bad': '9 ** 9 ** 9' overflows (beyond +-1.8e308) in "
                          "'C_b * 9 ** 9 ** 9'"),
    ("C_b + (-8) ** (1 / 3)", "kpi 'bad': '(-8) ** (1 / 3)' is not a real number"),
])
def test_a_kpi_expression_with_a_constant_problem_is_one_line_before_any_run(
        write_study, tmp_path, capsys, expression, message):
    path = write_study(STUDY.split("[[kpi]]")[0] + f"""
[[kpi]]
name = "bad"
kind = "expression"
expression = "{expression}"
""")
    code, out, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and err.startswith(f"twin: error: {message}") and len(err.splitlines()) == 1
    assert not (tmp_path / "out" / "parts").exists() or \
        not list((tmp_path / "out" / "parts").iterdir())
