"""The benchmark harness: statistics, report shape, and a real quick figure."""

from __future__ import annotations

import json

import numpy as np

from support import run_twin
from twin_benchmarks import harness


def test_p99_only_from_enough_samples():
    few = harness.Samples(list(range(1, 51)), "ns").summary()
    assert few["median"] == 25.5 and few["p99"] is None and "at least 100" in few["p99_note"]
    many = harness.Samples([float(v) for v in range(1, 201)], "ns").summary()
    assert many["p99"] == 198.0 and many["samples"] == 200
    assert many["min"] == 1.0 and many["max"] == 200.0


def test_ratios_are_our_median_over_each_baseline():
    result = harness.FigureResult(harness.Samples([2.0, 2.0, 2.0], "ms"),
                                  {"slow": harness.Samples([8.0, 8.0], "ms")})
    result.target("x", "at least 2x faster", 4.0, True)
    data = result.to_json()
    assert data["ratio_to_baseline"] == {"slow": 0.25}
    assert data["targets"]["x"]["met"] is True


def test_every_figure_declares_a_quick_budget_and_all_fit_in_about_five_minutes():
    figures = harness.load_figures()
    assert {"rk4_cstr", "step_cstr", "ensemble_cstr", "stiff_column"} <= set(figures)
    assert sum(b.quick_budget_s for b in figures.values()) <= 400  # identification: 15, linear MPC: 8 + 15, steady state: 10, console: 30, Tennessee Eastman: 20


def test_stiff_column_figure_runs_and_reports_baselines(capsys, tmp_path):
    out = tmp_path / "bench.json"
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "stiff_column", "--json",
                                 "--out", str(out))
    assert code == 0, err
    report = json.loads(stdout)
    assert json.loads(out.read_text()) == report
    fig = report["figures"]["stiff_column"]
    assert fig["unit"] == "ms/run" and fig["samples"] >= 100 and fig["p99"] >= fig["median"]
    assert set(fig["baselines"]) == {"casadi_cvodes", "scipy_solve_ivp_bdf"}
    assert fig["details"]["max_abs_error_vs_reference"]["ours"] < 1e-5  # same answer
    assert fig["within_quick_budget"] is True
    assert report["machine"]["cores"] >= 1


def test_unknown_figure_is_a_one_line_error(capsys):
    code, _, err = run_twin(capsys, "bench", "--only", "warp_drive")
    assert code == 2 and "unknown benchmark 'warp_drive'" in err and err.count("\n") == 1


def test_hand_written_baseline_agrees_with_the_kernel():
    from twin_benchmarks.kernels import RK4_H, _ptr, hand_written_rk4

    import twin
    from twin.core.kernels import integrators
    from twin.core.kernels.functions import model_functions

    model = twin.load_model("cstr")
    x = model.x0()
    hand_written_rk4()(_ptr(x), _ptr(model.u0()), _ptr(model.p0()), RK4_H, 5000)
    ours = integrators.rk4(model_functions(model), model.x0(), model.u0(), model.p0(), RK4_H, 5000)
    assert np.allclose(x, ours, rtol=1e-12, atol=0)
