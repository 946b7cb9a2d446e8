"""``twin rto`` exits 1 when an optimisation fails (results still printed), 2 for bad input."""

from __future__ import annotations

import json

import pytest

from rto.economics import shipped_economics
from support import run_twin
from twin.orchestration.rto_run import shipped_rto


def _cstr_economics(tmp_path, old: str, new: str):
    text = shipped_economics("cstr").read_text()
    assert old in text
    path = tmp_path / "economics.toml"
    path.write_text(text.replace(old, new))
    return path


@pytest.mark.parametrize("old, new, status", [
    ("C_b = [0.1, 2.0]", "C_b = [5.0, 6.0]", "infeasible"),  # more B than the feed allows
    ("p_B = 1.0", "p_B = 1e300", "other"),  # IPOPT's objective overflows
])
def test_a_failed_optimum_exits_1_with_its_results_and_one_line(tmp_path, capsys, old, new,
                                                                status):
    economics = _cstr_economics(tmp_path, old, new)
    code, out, err = run_twin(capsys, "rto", "cstr", "--economics", str(economics), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and data["status"] == status and "F" in data["inputs"]
    assert err == (f"twin: error: no economic optimum of cstr was found: the solver ended with "
                   f"'{status}' (the figures above are where it stopped)\n")


def test_a_found_optimum_still_exits_0(capsys):
    code, out, err = run_twin(capsys, "rto", "cstr", "--json")
    assert code == 0 and err == "" and json.loads(out)["ok"] is True


def test_a_constant_problem_in_the_profit_is_bad_input(tmp_path, capsys):
    economics = _cstr_economics(tmp_path, "p_Q * abs(Q_dot)", "p_Q * abs(Q_dot) / (1 - 1)")
    code, out, err = run_twin(capsys, "rto", "cstr", "--economics", str(economics))
    assert code == 2 and out == ""
    assert err == ("twin: error: economics.profit: 'p_Q * abs(Q_dot) / (1 - 1)' divides by "
                   "zero in 'V_R * F * (p_B * C_b - p_A * C_A0) - p_Q * abs(Q_dot) / (1 - 1)'\n")


def test_an_rto_run_whose_optimisations_fail_exits_1(tmp_path, capsys):
    economics = tmp_path / "economics.toml"
    text = shipped_economics("williams_otto").read_text()
    economics.write_text(text.replace("T_R = [70.0, 100.0] }",
                                      "T_R = [70.0, 100.0], X_P = [0.5, 0.6] }"))
    config = tmp_path / "rto.toml"
    config.write_text(shipped_rto("williams_otto").read_text()
                      .replace('economics = "williams_otto"', f'economics = "{economics}"'))
    code, out, err = run_twin(capsys, "rto", "--plant", "williams_otto", "--config", str(config),
                              "--scheme", "two-step", "--iterations", "2", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False and len(data["iterations"]) == 2
    assert data["failures"] == ["iteration 0: optimisation: infeasible",
                                "iteration 1: optimisation: infeasible",
                                "the plant's own optimum was not found (infeasible)"]
    assert data["final_inputs"] == {"F_B": 4.0, "T_R": 75.0}  # nothing acted on a failure
    assert err.splitlines()[-1] == ("twin: error: the RTO run on williams_otto failed: "
                                    "iteration 0: optimisation: infeasible (and 2 more)")
