"""One meaning per key: ``x0`` the initial state, ``steady_start`` the steady start, ``guess``
the steady-state solver's starting point; errors name the file key, not a CLI option."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pytest

import twin
from support import CSTR_LOOP as LOOP, run_twin
from twin.core.errors import InputError, SteadyStateError
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.runner import make_plant
from twin.orchestration.whatif import load_study, run_study

TANK = '''
from twin.core.model import Model
from twin.core.variables import manipulated, parameter, state


def rhs(x, u, p, ops):
    return {"h": (u.q - p.k * ops.sqrt(x.h + 1e-9)) / p.A}


MODEL = Model(name="edge_tank", title="tank", source="test", time_unit="s",
              states=[state("h", "m", "level", 1.0, 0.0, 2.0)],
              inputs=[manipulated("q", "m3/s", "inflow", 0.5, 0.0, 5.0)],
              parameters=[parameter("k", "m2.5/s", "outflow coefficient", 0.5),
                          parameter("A", "m2", "area", 1.0)],
              rhs=rhs)
'''


def _loop(tmp_path, plant: str):
    path = tmp_path / "loop.toml"
    path.write_text(LOOP.format(plant=plant))
    return path


@pytest.mark.parametrize("plant, message", [
    ("x0 = { C_a = 1.0 }\nsteady_start = true",
     "plant.x0 and plant.steady_start both set the initial state (x0 is always the initial "
     "state); for the steady-state solver's starting point write plant.guess instead of plant.x0"),
    ("guess = { C_a = 1.0 }",
     "plant.guess is the steady-state solver's starting point and needs plant.steady_start = "
     "true; the initial state is plant.x0"),
])
def test_a_loop_file_with_the_old_meaning_of_x0_is_refused_naming_the_new_key(
        tmp_path, capsys, plant, message):
    path = _loop(tmp_path, plant)
    with pytest.raises(InputError) as caught:
        load_loop(path)
    assert message in str(caught.value)
    code, _, err = run_twin(capsys, "control", str(path), "--out", str(tmp_path / "run"))
    assert code == 2 and err.startswith("twin: error: ") and message in err
    assert not (tmp_path / "run").exists()  # a refused file leaves no folder


def test_a_loop_plant_starts_at_the_steady_state_found_from_its_guess(tmp_path):
    config = load_loop(_loop(tmp_path, 'u0 = { F = 14.19, Q_dot = -1113.5 }\n'
                                       'steady_start = true\nguess = { C_a = 1.5 }'))
    internal = twin.load_model("cstr")
    plant = make_plant(config.plant, config.tick, [], internal)
    ss = twin.find_steady_state(internal, u={"F": 14.19, "Q_dot": -1113.5})
    np.testing.assert_allclose(plant.x, ss.x, rtol=1e-9)


def test_a_plant_without_a_steady_state_names_the_loop_file_keys(tmp_path, monkeypatch):
    (tmp_path / "edge_tank.py").write_text(TANK)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "loop.toml"
    path.write_text(LOOP.replace('model = "cstr"\n{plant}', 'model = "edge_tank:MODEL"\n'
                                 'u0 = {{ q = 4.0 }}\nsteady_start = true', 1).format())
    config = load_loop(path)
    with pytest.raises(SteadyStateError) as caught:
        make_plant(config.plant, config.tick, [], twin.load_model("cstr"))
    message = str(caught.value)
    assert message.startswith("no steady state of 'edge_tank' found within the state bounds")
    assert message.endswith("plant.steady_start: give plant.guess (a starting point) or other "
                            "plant.u0")
    assert "--x0" not in message and "--guess" not in message


def test_simulate_x0_is_the_initial_state_and_guess_the_solver_start(tmp_path, capsys):
    out = tmp_path / "r.csv"
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            "--steady-start", "--x0", "C_a=1.5", "--out", str(out))
    assert code == 2 and err == ("twin: error: --x0 and --steady-start both set the initial "
                                 "state (--x0 is always the initial state); the steady-state "
                                 "solver's starting point is --guess\n")
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            "--guess", "C_a=1.5", "--out", str(out))
    assert code == 2 and "--guess is the steady-state solver's starting point and needs " \
                         "--steady-start" in err
    code, _, err = run_twin(capsys, "simulate", "cstr", "--t-end", "0.01", "--dt", "0.005",
                            "--steady-start", "--guess", "C_a=1.5", "--out", str(out))
    assert code == 0, err
    ss = twin.find_steady_state(twin.load_model("cstr"))
    assert pd.read_csv(out)["C_a"].iloc[0] == pytest.approx(ss.x[0], rel=1e-9)


STUDY = """
duration = 0.02
[base]
kind = "open_loop"
model = "cstr"
u = { F = 14.19, Q_dot = -1113.5 }
dt = 0.01
{base}
[[variable]]
name = "beta"
[sampling]
method = "list"
scenarios = [ { beta = 0.8 }, { beta = 1.2 } ]
[[kpi]]
name = "C_b_start"
kind = "max"
variable = "C_b"
"""


def test_each_scenario_can_start_at_its_own_steady_state(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text(STUDY.replace("{base}", 'steady_start = "scenario"\nguess = { C_a = 1.0 }'))
    result = run_study(load_study(path), tmp_path / "out", report=False)
    summary = pd.read_parquet(result.summary).set_index("beta")
    assert result.failed == 0
    model = twin.load_model("cstr")
    for beta in (0.8, 1.2):
        ss = twin.find_steady_state(model.with_parameters({"beta": beta}),
                                    u={"F": 14.19, "Q_dot": -1113.5})
        # started at its own steady state, C_b stays there
        assert summary.loc[beta, "C_b_start"] == pytest.approx(ss.x[1], rel=1e-7)
    assert summary.loc[0.8, "C_b_start"] != pytest.approx(summary.loc[1.2, "C_b_start"], rel=1e-3)


def test_a_scenario_without_a_steady_start_fails_naming_the_scenario_and_the_key(
        tmp_path, monkeypatch):
    (tmp_path / "edge_tank.py").write_text(TANK)
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "study.toml"
    path.write_text(textwrap.dedent("""
        duration = 1.0
        [base]
        kind = "open_loop"
        model = "edge_tank:MODEL"
        dt = 0.5
        steady_start = "scenario"
        [[variable]]
        name = "q"
        kind = "input"
        [sampling]
        method = "list"
        scenarios = [ { q = 0.5 }, { q = 4.0 } ]
        [[kpi]]
        name = "h_end"
        variable = "h"
    """))
    result = run_study(load_study(path), tmp_path / "out", report=False)
    summary = pd.read_parquet(result.summary).set_index("scenario")
    assert summary.loc[0, "status"] == "ok" and summary.loc[0, "h_end"] == pytest.approx(1.0)
    assert summary.loc[1, "status"] == "failed"
    error = summary.loc[1, "error"]
    assert error.startswith("base.steady_start, scenario 1: no steady state of 'edge_tank'")
    assert error.endswith("give base.guess (a starting point), other base.u, or "
                          "base.steady_start = false with base.x0")


@pytest.mark.parametrize("base, message", [
    ('steady_start = false\nguess = { C_a = 1.0 }',
     "base.guess is the steady-state solver's starting point and needs a steady start "
     "(base.steady_start); the initial state is base.x0"),
    ('steady_start = "sometimes"', "steady_start"),
])
def test_study_start_keys_are_checked(tmp_path, base, message):
    path = tmp_path / "study.toml"
    path.write_text(STUDY.replace("{base}", base))
    with pytest.raises(InputError) as caught:
        load_study(path)
    assert message in str(caught.value)


def test_a_closed_loop_study_refuses_start_keys_of_its_own(tmp_path):
    path = tmp_path / "study.toml"
    path.write_text('duration = 1.0\n[base]\nkind = "closed_loop"\nloop_file = "cstr_apc.toml"\n'
                    'x0 = { C_a = 1.0 }\n[[variable]]\nname = "beta"\nlow = 0.9\nhigh = 1.1\n'
                    '[sampling]\nmethod = "lhs"\nn = 2\n[[kpi]]\nname = "k"\nvariable = "C_b"\n')
    with pytest.raises(InputError) as caught:
        load_study(path)
    assert str(caught.value).endswith("base.x0 applies to an open-loop base case; a closed loop "
                                      "starts as its loop file says (plant.x0, "
                                      "plant.steady_start, plant.guess)")


def test_a_closed_loop_study_without_a_steady_start_names_the_loop_key_and_scenario(
        tmp_path, monkeypatch, capsys):
    (tmp_path / "edge_tank.py").write_text(TANK)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "loop.toml").write_text(textwrap.dedent("""
        [plant]
        model = "edge_tank:MODEL"
        u0 = { q = 4.0 }
        steady_start = true
        tick = 0.5
        [controller]
        model = "edge_tank:MODEL"
        sample_time = 0.5
        prediction_horizon = 5
        [[controller.measurements]]
        name = "h"
        noise_std = 0.01
        [[controller.mv]]
        name = "q"
        low = 0.0
        high = 5.0
        [[controller.cv]]
        name = "h"
        setpoint = 1.0
        [run]
        duration = 1.0
    """))
    study = tmp_path / "study.toml"
    study.write_text('duration = 1.0\n[base]\nkind = "closed_loop"\nloop_file = "loop.toml"\n'
                     '[[variable]]\nname = "k"\n[sampling]\nmethod = "list"\n'
                     'scenarios = [ { k = 0.4 }, { k = 0.5 } ]\n'
                     '[[kpi]]\nname = "h_end"\nvariable = "h"\n')
    out = tmp_path / "out"
    code, _, err = run_twin(capsys, "whatif", str(study), "--out", str(out))
    assert code == 1
    line = err.splitlines()[-1]
    assert line.startswith("twin: error: every scenario of the study failed (the first: "
                           "scenario 0: no steady state of 'edge_tank' found within the state "
                           "bounds")
    assert "plant.steady_start: give plant.guess (a starting point) or other plant.u0" in line
    assert "--x0" not in line
