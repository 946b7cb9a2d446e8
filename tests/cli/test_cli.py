"""The ``twin`` command line: results, JSON summaries and one-line errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from support import run_twin

TWIN = str(Path(sys.executable).with_name("twin"))




def test_console_script_prints_the_klatt_engell_steady_state():
    done = subprocess.run([TWIN, "steady", "cstr", "--set", "T_in=104.9", "--u", "F=14.19",
                           "--u", "Q_dot=-1113.5", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    states = json.loads(done.stdout)["states"]
    for name, published in {"C_a": 2.14, "C_b": 1.09, "T_R": 114.2, "T_K": 112.9}.items():
        assert states[name] == pytest.approx(published, rel=1e-3)


def test_console_script_error_is_one_line_with_status_2():
    done = subprocess.run([TWIN, "steady", "reactor"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("twin: error: unknown model 'reactor'")


def test_python_dash_m_twin_runs():
    done = subprocess.run([sys.executable, "-m", "twin", "models", "--json"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert [m["name"] for m in json.loads(done.stdout)["models"]] == MODELS


def _leaf_commands(command=None, path=()):
    import click

    from twin.cli.main import cli

    command = command or cli
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaf_commands(sub, path + (name,))
    else:
        yield path, command


def test_every_subcommand_has_help_listing_its_options_and_json(capsys):
    """The README's promise: every subcommand has --help and --json."""
    leaves = list(_leaf_commands())
    assert len(leaves) >= 13
    for path, command in leaves:
        code, out, err = run_twin(capsys, *path, "--help")
        assert code == 0 and err == "", path
        assert out.splitlines()[0].startswith(f"Usage: twin {' '.join(path)} "), path
        options = [o for p in command.params if not getattr(p, "hidden", False)
                   for o in getattr(p, "opts", ()) if o.startswith("--")]
        assert "--json" in options, path
        listed = set(re.findall(r"(--[a-z][a-z0-9-]*)", out))
        assert set(options) <= listed, (path, set(options) - listed)


MODELS = ["cstr", "williams_otto", "quadruple_tank", "distillation_a", "williams_otto_approx",
          "cstr_exothermic", "tennessee_eastman", "tennessee_eastman_ricker",
          "tennessee_eastman_reduced"]
JOHANSSON_P_MINUS = {"A1": (28.0, "cm2"), "A2": (32.0, "cm2"), "a1": (0.071, "cm2"),
                     "a2": (0.057, "cm2"), "k_c": (0.5, "V/cm"), "g": (981.0, "cm/s2"),
                     "k1": (3.33, "cm3/(V s)"), "k2": (3.35, "cm3/(V s)"), "gamma_1": (0.7, "-"),
                     "gamma_2": (0.6, "-")}
"""Johansson (2000), Tables 1-2: the quadruple tank's parameters at P- (the default set)."""


def test_models_lists_all_and_details_one(capsys):
    code, out, _ = run_twin(capsys, "models", "--json")
    assert code == 0
    listed = json.loads(out)["models"]
    assert [m["name"] for m in listed] == MODELS
    code, out, _ = run_twin(capsys, "models", "quadruple_tank", "--json")
    assert code == 0
    model = json.loads(out)
    assert model["time_unit"] == "s" and model["parameter_set"] == "P-"
    assert [s["name"] for s in model["parameter_sets"]] == ["P-", "P+"]
    states = {v["name"]: (v["nominal"], v["unit"], v["lower"], v["upper"])
              for v in model["states"]}
    assert states == {"h1": (12.4, "cm", 0.0, 20.0), "h2": (12.7, "cm", 0.0, 20.0),
                      "h3": (1.8, "cm", 0.0, 20.0), "h4": (1.4, "cm", 0.0, 20.0)}
    parameters = {v["name"]: (v["nominal"], v["unit"]) for v in model["parameters"]}
    for name, published in JOHANSSON_P_MINUS.items():
        assert parameters[name] == published, name
    # the human table says the same: name, value and unit of every variable, parsed back
    code, text, _ = run_twin(capsys, "models", "quadruple_tank")
    assert code == 0
    rows = {m[0]: (float(m[1]), m[2]) for m in
            re.findall(r"^  (\w+) +(-?[\d.e+-]+) ([^ ]+(?: s\))?) ", text, re.MULTILINE)}
    for group in ("states", "inputs", "parameters"):
        for v in model[group]:
            assert rows[v["name"]] == (pytest.approx(v["nominal"], rel=1e-3), v["unit"]), v
    assert "parameter sets: P- (minimum-phase setting" in text


def test_simulate_writes_parquet_plot_and_json(capsys, tmp_path):
    schedule = tmp_path / "steps.csv"
    pd.DataFrame({"time": [0.05], "F": [20.0]}).to_csv(schedule, index=False)
    out, plot = tmp_path / "run.parquet", tmp_path / "run.png"
    code, stdout, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.2", "--dt", "0.01",
                                 "--set", "beta=0.9", "--x0", "C_b=0.6", "--inputs", str(schedule),
                                 "--out", str(out), "--plot", str(plot), "--json")
    assert code == 0, err
    summary = json.loads(stdout)
    frame = pd.read_parquet(out)
    assert summary["points"] == len(frame) == 21
    assert frame["C_b"].iloc[0] == 0.6
    assert list(frame.loc[frame.time >= 0.05, "F"].unique()) == [20.0]
    assert frame.loc[frame.time < 0.05, "F"].iloc[0] == 14.19
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_simulate_csv_from_steady_start(capsys, tmp_path):
    out = tmp_path / "col.csv"
    code, _, err = run_twin(capsys, "simulate", "distillation_a", "--steady-start", "--t-end", "20",
                            "--dt", "5", "--out", str(out))
    assert code == 0, err
    frame = pd.read_csv(out)
    assert frame["x_D"].iloc[0] == pytest.approx(0.99, abs=1e-4)
    assert frame["x_D"].iloc[-1] == pytest.approx(frame["x_D"].iloc[0], abs=1e-9)


def test_demo_writes_a_self_contained_report(capsys, tmp_path):
    folder = tmp_path / "demo"
    code, out, err = run_twin(capsys, "demo", "--out", str(folder), "--json")
    assert code == 0, err
    summary = json.loads(out)
    report = Path(summary["report"]).read_text()
    assert report.count("data:image/png;base64,") >= 4
    assert summary["figures"]["column_x_D"] == pytest.approx(0.99, abs=1e-4)
    assert summary["figures"]["column_slowest_min"] == pytest.approx(194.0, rel=0.01)
    assert summary["figures"]["whatif_scenarios"] == 4001
    assert (folder / "whatif_cstr" / "summary.parquet").is_file()
    assert all(Path(f).exists() for f in summary["files"])
    _check_demo_verdict(folder, report)
    _check_demo_plant_data(folder, summary["figures"], report)


def _check_demo_plant_data(folder: Path, figures: dict, page: str) -> None:
    """The plant-data section: the identified model's gains against the twin's linearisation and
    the calibrated intervals against the truth, checked from the files the demo wrote."""
    from apc.ident.model_file import IdentifiedModel
    from report_checks import table_with
    from twin.core.data import load_data
    from twin.core.param_file import read_param_file
    from twin.core.steady import find_steady_state
    from twin.orchestration.registry import load_model
    from twin.orchestration.synthetic_data import CSTR_TRUTH

    data = load_data(folder / "qt_steptest.csv")
    assert data.frame.shape == (7200, 4) and data.interval() == pytest.approx(1.0)
    for mv in ("v1", "v2"):        # GBN of +-0.2 V around the published 3 V
        assert set(np.round(data.frame[mv].unique(), 9)) == {2.8, 3.2}
    steady = find_steady_state(load_model("quadruple_tank", parameter_set="P-"))
    lin = steady.linearization
    truth = -np.linalg.solve(lin.A, lin.B)[:2, :2]       # states h1, h2; inputs v1, v2
    saved = IdentifiedModel.load(folder / "qt_identified.toml").steady_gain()
    assert load_model(str(folder / "qt_identified.toml")).inputs.names == ["v1", "v2"]
    print("\ndemo: identified gains", saved.round(3).tolist(), "linearisation",
          truth.round(3).tolist(), "figures", {k: round(v, 4) for k, v in figures.items()
                                               if k.startswith(("ident", "calib"))})
    assert np.all(np.abs(saved / truth - 1) < 0.05)
    rows = table_with(page, "Steady-state gains [cm/V]").rows
    fir = np.array([float(r[1]) for r in rows]).reshape(2, 2)
    assert np.all(np.abs(fir / truth - 1) < 0.05)
    assert figures["ident_gain_error_max_percent"] == pytest.approx(
        100 * np.max(np.abs(fir / truth - 1)), abs=0.02)
    assert figures["ident_tau_error_max_percent"] < 10
    assert figures["ident_fit_min_percent"] > 85
    assert 2 < figures["ident_condition"] < 5 and figures["ident_ill_conditioned"] == 0
    calibrated = read_param_file(folder / "cstr_calibrated.toml")
    for name, value in CSTR_TRUTH.items():
        interval = calibrated.intervals[name]
        assert interval["low95"] <= value <= interval["high95"], (name, interval)
        assert calibrated.values[name] == pytest.approx(figures[f"calib_{name}"])
        assert figures[f"calib_{name}_width95"] == pytest.approx(
            interval["high95"] - interval["low95"])
    checks = dict((r[0], r[2]) for r in
                  table_with(page, "Plant data: identification and calibration").rows)
    assert list(checks.values()) == ["yes", "yes"]


def _check_demo_verdict(folder: Path, page: str) -> None:
    """The demo opens with a verdict whose numbers follow from the runs' cycle logs."""
    from report_checks import number_and_unit, read_report, table_with, verdict_by_hand, \
        visible_text
    from twin.orchestration.registry import load_model
    from twin.orchestration.rto_run import optimum

    assert read_report(page).headings[1] == "Verdict"
    assert "nan" not in visible_text(page).lower()
    for label, run, cvs in (("CSTR under APC:", "apc_cstr", ["C_b"]),
                            ("CSTR under RTO and APC:", "rto_apc_cstr", ["C_b", "T_R"])):
        frame = pd.read_parquet(folder / run / "cycles.parquet")
        table = table_with(page, f"{label} each CV's final setpoint")
        assert [r[0] for r in table.rows] == cvs
        for row in table.rows:
            cells = dict(zip(table.header, row))
            setpoint, achieved = verdict_by_hand(frame, row[0])
            assert number_and_unit(cells["setpoint"])[0] == pytest.approx(setpoint, rel=5e-4)
            assert number_and_unit(cells["achieved (mean)"])[0] == pytest.approx(achieved, rel=5e-4)
            assert cells["on target"] == ("yes" if abs(achieved - setpoint) <= 0.02 * abs(setpoint)
                                          else "NO")
    # profit of the plant by hand: V_R F (p_B C_b - p_A C_A0) - p_Q |Q_dot| (shipped prices)
    frame = pd.read_parquet(folder / "rto_apc_cstr" / "cycles.parquet")
    p = load_model("cstr", parameter_set="literature").parameters
    profit = (p["V_R"].nominal * frame["F"] * (1.0 * frame["C_b.plant"] - 0.2 * p["C_A0"].nominal)
              - 1e-3 * frame["Q_dot"].abs())
    achieved = float(profit.iloc[len(frame) - round(0.25 * len(frame)):].mean())
    best = optimum("cstr", parameters={"beta": 0.9}).profit  # the plant after deactivation
    rows = dict(table_with(page, "profit recovered by the RTO").rows)
    assert number_and_unit(rows["true plant optimum at the end (plant's own parameters)"]) == \
        (pytest.approx(best, rel=5e-4), "EUR/h")
    assert number_and_unit(rows["profit achieved (mean over the last quarter)"]) == \
        (pytest.approx(achieved, rel=5e-4), "EUR/h")
    assert number_and_unit(rows["fraction of the optimum achieved"]) == \
        (pytest.approx(100 * achieved / best, abs=0.05), "%")
    assert (folder / "rto_profit.png").is_file()
    for quantity, cell in table_with(page, "Closed-loop KPIs").rows:
        assert number_and_unit(cell)[1], (quantity, cell)      # every KPI with its unit


@pytest.fixture
def schedule_files(tmp_path):
    files = {}
    files["unknown"] = tmp_path / "unknown.csv"
    files["unknown"].write_text("time,G\n0,1\n")
    files["order"] = tmp_path / "order.csv"
    files["order"].write_text("time,F\n0.2,10\n0.1,11\n")
    files["text"] = tmp_path / "text.csv"
    files["text"].write_text("time,F\n0,ten\n")
    return files


ERROR_CASES = {
    "unknown model": (["steady", "reactor"], "unknown model 'reactor'"),
    "unknown parameter": (["steady", "cstr", "--set", "Tin=100"], "unknown parameter 'Tin'"),
    "unknown input": (["steady", "cstr", "--u", "Fx=1"], "--u: unknown input 'Fx'"),
    "unknown state": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--x0", "Ca=1",
                       "--out", "{tmp}/r.csv"], "--x0: unknown state 'Ca'"),
    "unknown parameter set": (["steady", "cstr", "--param-set", "lit"], "unknown parameter set 'lit'"),
    "non-numeric value": (["steady", "cstr", "--set", "T_in=hot"], "'hot' is not a number"),
    "missing equals": (["steady", "cstr", "--set", "T_in"], "expected NAME=VALUE"),
    "non-numeric option": (["simulate", "cstr", "--t-end", "long", "--dt", "0.1", "--out", "{tmp}/r.csv"],
                           "'long' is not a valid float"),
    "missing option": (["simulate", "cstr", "--dt", "0.1", "--out", "{tmp}/r.csv"],
                       "Missing option '--t-end'"),
    "bad horizon": (["simulate", "cstr", "--t-end", "-1", "--dt", "0.1", "--out", "{tmp}/r.csv"],
                    "t_end must be a positive number"),
    "missing file": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--inputs", "{tmp}/none.csv",
                      "--out", "{tmp}/r.csv"], "inputs file '{tmp}/none.csv' not found"),
    "schedule column": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--inputs", "{unknown}",
                         "--out", "{tmp}/r.csv"], "unknown input 'G'"),
    "schedule order": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--inputs", "{order}",
                        "--out", "{tmp}/r.csv"], "strictly increasing"),
    "schedule values": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--inputs", "{text}",
                         "--out", "{tmp}/r.csv"], "non-numeric values"),
    "input bounds": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--u", "Q_dot=50",
                      "--out", "{tmp}/r.csv"], "input 'Q_dot' = 50 kJ/h is outside its bounds"),
    "out suffix": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--out", "{tmp}/r.xlsx"],
                   "use a .parquet or .csv file"),
    "out folder": (["simulate", "cstr", "--t-end", "1", "--dt", "0.1", "--out", "{tmp}/no/r.csv"],
                   "does not exist"),
    "no steady state": (["steady", "cstr", "--set", "T_in=175", "--u", "F=5", "--u", "Q_dot=0"],
                        "no steady state of 'cstr' found"),
    "unknown command": (["simulatee", "cstr"], "No such command 'simulatee'"),
    "unknown option": (["steady", "cstr", "--temperature", "3"], "--temperature"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_bad_input_exits_2_with_one_line(case, capsys, tmp_path, schedule_files):
    args, expected = ERROR_CASES[case]
    fill = {"tmp": str(tmp_path), **{k: str(v) for k, v in schedule_files.items()}}
    args = [a.format(**fill) for a in args]
    code, out, err = run_twin(capsys, *args)
    assert code == 2
    assert err.startswith("twin: error: ") and err.count("\n") == 1, err
    assert expected.format(**fill) in err
    assert "Traceback" not in err and out == ""
    assert not (tmp_path / "r.csv").exists()


@pytest.mark.parametrize("backend", ["kernel", "reference"])
def test_simulate_backends_agree_with_an_independent_integration(capsys, tmp_path, backend):
    out = tmp_path / f"{backend}.parquet"
    code, stdout, err = run_twin(capsys, "simulate", "quadruple_tank", "--t-end", "200", "--dt", "10",
                                 "--u", "v1=3.5", "--backend", backend, "--out", str(out), "--json")
    assert code == 0, err
    assert json.loads(stdout)["backend"] == backend
    frame = pd.read_parquet(out)
    assert frame.time.tolist() == pytest.approx(np.arange(0.0, 201.0, 10.0).tolist(), abs=1e-9)
    assert (frame.v1 == 3.5).all()
    exact = _quadruple_tank_by_scipy(frame.time.to_numpy(), v1=3.5)
    got = frame[["h1", "h2", "h3", "h4"]].to_numpy()
    assert np.allclose(got, exact, rtol=1e-6, atol=1e-9)
    assert np.max(np.abs(exact[-1] - exact[0])) > 0.5  # the step in v1 moved the levels [cm]


def _quadruple_tank_by_scipy(times: np.ndarray, **inputs: float) -> np.ndarray:
    """The levels at ``times`` by scipy's DOP853 at rtol 1e-12 on the model's equations in
    plain Python, from the nominal state: independent of both backends."""
    import twin
    from scipy.integrate import solve_ivp

    from twin.core import ops

    model = twin.load_model("quadruple_tank")
    u, p = list(model.u0(inputs)), list(model.p0())
    done = solve_ivp(lambda _, x: model.evaluate_rhs(list(x), u, p, ops.MATH),
                     (0.0, times[-1]), model.x0(), method="DOP853", t_eval=times, rtol=1e-12,
                     atol=1e-12)
    return done.y.T


def test_bench_list(capsys):
    from twin_benchmarks.harness import load_figures

    code, out, err = run_twin(capsys, "bench", "--list", "--json")
    assert code == 0 and err == ""
    listed = json.loads(out)
    figures = load_figures()
    assert list(listed) == list(figures) and len(listed) >= 14
    for name, entry in listed.items():
        assert entry == {"description": figures[name].description,
                         "quick_budget_s": figures[name].quick_budget_s}, name
        assert entry["description"] and entry["quick_budget_s"] > 0, name
