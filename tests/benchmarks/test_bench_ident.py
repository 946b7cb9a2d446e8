"""The identification figures run in the harness and report their baselines and accuracy."""

from __future__ import annotations

import json

from support import run_twin


def test_identification_figures_run_quick_with_baselines(capsys):
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "ident_fir_2x2", "--only",
                                 "ident_subspace_quadruple_tank", "--json")
    assert code == 0, err
    figures = json.loads(stdout)["figures"]
    fir = figures["ident_fir_2x2"]
    assert fir["unit"] == "s/fit" and set(fir["baselines"]) == {"numpy_lstsq_unregularised"}
    assert fir["details"]["samples"] == 20_000
    assert fir["details"]["max_gain_error_ours"] < 4 * fir["details"]["max_gain_std_ours"] + 0.005
    sub = figures["ident_subspace_quadruple_tank"]
    assert set(sub["baselines"]) == {"nfoursid_end_to_end"}
    assert min(sub["details"]["fit_percent_ours"]) > 85
    assert min(sub["details"]["fit_percent_ours"]) > min(sub["details"]["fit_percent_nfoursid"]) - 2
    assert sub["details"]["max_gain_error_percent_ours"] < 20     # 33 min of data in the quick run
    assert fir["within_quick_budget"] is True and sub["within_quick_budget"] is True
