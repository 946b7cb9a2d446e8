"""The linear-MPC figure runs in the harness and reports the QP solvers on the same QPs."""

from __future__ import annotations

import json

from support import run_twin


def test_linear_mpc_figure_runs_quick_and_compares_the_qp_solvers(capsys):
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "lmpc_column_a", "--json")
    assert code == 0, err
    fig = json.loads(stdout)["figures"]["lmpc_column_a"]
    assert fig["status"] == "ok" and fig["unit"] == "ms/cycle" and fig["samples"] == 400
    tables = fig["details"]["qp_solvers_on_the_same_qps"]
    assert set(tables) == {"column_a_N40_ch10", "cstr_N20", "column_a_N150"}
    column = tables["column_a_N40_ch10"]
    assert (column["variables"], column["auto_choice"]) == (20, "daqp")
    for name, tol in (("qpoases", 1e-10), ("hpipm", 1e-6), ("osqp", 1e-5)):
        solver = column["solvers"][name]
        assert solver["solved"] == solver["qps"] == 60
        assert solver["max_move_difference_vs_daqp"] < tol
    assert tables["cstr_N20"]["solvers"]["qpoases"]["max_move_difference_vs_daqp"] < 1e-10
