"""KPIs against values worked out by hand, and the open-loop fast path against CVODES."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from twin.orchestration.registry import load_model
from twin.orchestration.whatif import load_study, run_study
from twin.orchestration.whatif.kpis import KpiEvaluator
from twin.orchestration.whatif.study import KpiSpec


def test_kpis_of_a_ramp():
    t = np.linspace(0.0, 2.0, 2001)
    frame = pd.DataFrame({"time": t, "x": t, "x.setpoint": np.ones_like(t)})
    kpis = KpiEvaluator([
        KpiSpec("final", "final", "x"), KpiSpec("mean", "mean", "x"), KpiSpec("min", "min", "x"),
        KpiSpec("max", "max", "x"), KpiSpec("iae", "iae", "x"),
        KpiSpec("iae_fixed", "iae", "x", setpoint=0.5),
        KpiSpec("above", "violation_time", "x", high=1.5),
        KpiSpec("outside", "violation_time", "x", low=0.25, high=1.5),
        KpiSpec("square", "expression", expression="x ** 2 - time", of="integral")], None)(frame, {})
    exact = {"final": 2.0, "mean": 1.0, "min": 0.0, "max": 2.0, "iae": 1.0, "iae_fixed": 1.25,
             "above": 0.5, "outside": 0.75, "square": 8 / 3 - 2}
    for name, value in exact.items():
        assert kpis[name] == pytest.approx(value, abs=2e-3), name


def test_profit_integral_at_a_steady_state():
    model = load_model("cstr", parameter_set="literature")
    x = {"C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9}
    u = {"F": 14.19, "Q_dot": -1113.5}
    t = np.linspace(0.0, 0.5, 11)
    frame = pd.DataFrame({"time": t, **{k: np.full_like(t, v) for k, v in {**x, **u}.items()}})
    got = KpiEvaluator([KpiSpec("profit", "profit", economics="cstr")], model)(frame, {})
    rate = 10.01 * 14.19 * (1.0 * 1.09 - 0.2 * 5.1) - 1e-3 * 1113.5  # EUR/h, by hand
    assert got["profit"] == pytest.approx(rate * 0.5, rel=1e-12)


def test_open_loop_fast_path_matches_the_reference_simulator(write_study, tmp_path):
    import twin

    study = load_study(write_study("""
seed = 2
duration = 0.3
[base]
kind = "open_loop"
model = "cstr"
u = { F = 14.19, Q_dot = -1113.5 }
dt = 0.01
steady_start = false
[[variable]]
name = "beta"
[[variable]]
name = "F"
kind = "input"
[sampling]
method = "list"
scenarios = [ { beta = 0.9, F = 20.0 }, { beta = 1.1, F = 10.0 } ]
[[kpi]]
name = "C_b_final"
variable = "C_b"
[[kpi]]
name = "T_R_final"
variable = "T_R"
[output]
timeseries = true
"""))
    result = run_study(study, tmp_path / "out")
    summary = pd.read_parquet(result.summary)
    for _, row in summary.iterrows():
        model = load_model("cstr", {"beta": row.beta})
        run = twin.simulate(model, t_end=0.3, dt=0.01, inputs={"F": row.F, "Q_dot": -1113.5},
                            backend="reference")
        final = run.to_pandas().iloc[-1]
        assert row.C_b_final == pytest.approx(final.C_b, rel=1e-6)
        assert row.T_R_final == pytest.approx(final.T_R, rel=1e-6)
        series = pd.read_parquet(tmp_path / "out" / "timeseries" /
                                 f"scenario-{int(row.scenario):06d}.parquet")
        assert len(series) == 31 and series.F.iloc[0] == row.F


def test_model_and_fmu_studies_agree_and_held_inputs_integrate_exactly(write_study, tmp_path):
    from twin_fmus.export import export_fmu

    fmu = export_fmu(load_model("cstr"), tmp_path / "cstr.fmu")
    body = """
[[base.step]]
time = 0.05
inputs = { F = 20.0 }
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ { beta = 0.9 }, { beta = 1.1 } ]
[[kpi]]
name = "F_mean"
kind = "mean"
variable = "F"
[[kpi]]
name = "C_b_final"
variable = "C_b"
"""
    head = ('duration = 0.1\n[base]\nkind = "open_loop"\nmodel = "{}"\nu = {{ F = 14.19, Q_dot = -1113.5 }}\n'
            'dt = 0.01\nsteady_start = false\n')
    model = run_study(load_study(write_study(head.format("cstr") + body, "model.toml")),
                      tmp_path / "model")
    other = run_study(load_study(write_study(head.format(fmu) + body, "fmu.toml")), tmp_path / "fmu")
    a, b = pd.read_parquet(model.summary), pd.read_parquet(other.summary)
    assert a.F_mean.tolist() == pytest.approx([17.095, 17.095], abs=1e-12)  # exact for steps
    assert b.F_mean.tolist() == pytest.approx([17.095, 17.095], abs=1e-12)
    assert b.C_b_final.tolist() == pytest.approx(a.C_b_final.tolist(), rel=1e-7)
