"""Every command takes an identified model file by path: simulate, steady, fmu export, control
and whatif, on the exact sampled linearisation of the quadruple tank (whose numbers are known)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from identified_support import linearised_model
from support import run_twin

STEP = 0.5
"""Step of v1 from its operating point 3 V [V]."""


@pytest.fixture
def quad(tmp_path, monkeypatch):
    """The sampled linearisation saved as ./quad_lin.toml in a fresh working folder."""
    model = linearised_model()
    model.save(tmp_path / "quad_lin.toml")
    monkeypatch.chdir(tmp_path)
    return model


def discrete_outputs(model, steps: int) -> np.ndarray:
    """Outputs at 0, 1, .., steps samples with v1 held STEP above u0 from t = 0."""
    du = np.array([STEP, 0.0])
    x, ys = np.zeros(model.n_states), []
    for _ in range(steps + 1):
        ys.append(model.C @ x + model.y0)
        x = model.A @ x + model.B @ du
    return np.array(ys)


def test_simulate_reproduces_the_sampled_model(quad, capsys):
    code, _, err = run_twin(capsys, "simulate", "./quad_lin.toml", "--t-end", "120", "--dt", "1",
                            "--u", "v1=3.5", "--out", "run.csv")
    assert code == 0, err
    run = pd.read_csv("run.csv")
    expected = discrete_outputs(quad, 120)
    assert np.max(np.abs(run[["h1", "h2"]].to_numpy() - expected)) < 1e-6
    # v1 reaches h1 through tank 1 alone: a first-order lag, 5.19 cm/V and 62.4 s
    first_order = STEP * 5.191 * (1 - np.exp(-120 / 62.36))
    assert run["h1"].iloc[-1] - run["h1"].iloc[0] == pytest.approx(first_order, rel=1e-3)


def test_steady_gives_the_operating_point_plus_the_gain(quad, capsys):
    code, out, err = run_twin(capsys, "steady", "./quad_lin.toml", "--u", "v1=3.5", "--json")
    assert code == 0, err
    outputs = json.loads(out)["outputs"]
    expected = quad.y0 + quad.steady_gain()[:, 0] * STEP
    assert [outputs["h1"], outputs["h2"]] == pytest.approx(expected, rel=1e-9)
    assert outputs["h1"] - quad.y0[0] == pytest.approx(2.596, abs=0.001)  # 0.5 V x 5.19 cm/V


def test_exported_fmu_reproduces_the_sampled_model(quad, capsys):
    code, out, err = run_twin(capsys, "fmu", "export", "./quad_lin.toml", "-o", "quad.fmu",
                              "--json")
    assert code == 0, err
    assert json.loads(out)["model"] == "quad_lin"
    code, _, err = run_twin(capsys, "simulate", "quad.fmu", "--t-end", "60", "--dt", "1",
                            "--u", "v1=3.5", "--out", "fmu.csv")
    assert code == 0, err
    run = pd.read_csv("fmu.csv")
    assert np.max(np.abs(run[["h1", "h2"]].to_numpy() - discrete_outputs(quad, 60))) < 1e-5


LOOP = """
[plant]
model = "quadruple_tank"
parameter_set = "P-"
steady_start = true
tick = 1.0

[run]
duration = 300.0
mode = "on"

[controller]
model = "./quad_lin.toml"
sample_time = 10.0
prediction_horizon = 20

[[controller.measurements]]
name = "h1"

[[controller.measurements]]
name = "h2"

[[controller.cv]]
name = "h1"
setpoint = {h1}

[[controller.cv]]
name = "h2"
setpoint = {h2}

[[controller.mv]]
name = "v1"
low = 0.0
high = 10.0
max_move = 0.5

[[controller.mv]]
name = "v2"
low = 0.0
high = 10.0
max_move = 0.5
"""


def test_control_runs_the_nmpc_on_the_file_named_in_the_loop(quad, capsys):
    h1, h2 = quad.y0 + 0.5
    Path("loop.toml").write_text(LOOP.format(h1=h1, h2=h2))
    code, out, err = run_twin(capsys, "control", "loop.toml", "--out", "ctl", "--json")
    assert code == 0, err
    assert json.loads(out)["cycles"] == 31
    log = pd.read_parquet("ctl/cycles.parquet")
    assert log["h1.plant"].iloc[-1] == pytest.approx(h1, abs=0.05)
    assert log["h2.plant"].iloc[-1] == pytest.approx(h2, abs=0.05)
    assert log["v1"].iloc[-1] > 3.05


STUDY = """
title = "quadruple tank, identified: pump 1 voltage"
duration = 1500.0

[base]
kind = "open_loop"
model = "quad_lin.toml"
dt = 10.0

[[variable]]
name = "v1"
kind = "input"
values = [2.5, 3.0, 3.5]

[sampling]
method = "grid"

[[kpi]]
name = "h1_final"
kind = "final"
variable = "h1"
"""


def test_whatif_varies_an_input_of_the_file_model(quad, capsys):
    Path("study.toml").write_text(STUDY)
    code, out, err = run_twin(capsys, "whatif", "study.toml", "--out", "w", "--json")
    assert code == 0, err
    summary = pd.read_parquet(json.loads(out)["summary"]).sort_values("v1")
    gain = quad.steady_gain()[0, 0]
    expected = quad.y0[0] + gain * (np.array([2.5, 3.0, 3.5]) - 3.0)
    assert summary["h1_final"].to_numpy() == pytest.approx(expected, abs=1e-4)
