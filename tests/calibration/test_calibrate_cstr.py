"""Acceptance: the CSTR's alpha and beta estimated from noisy plant data, and what cannot be.

The "plant" is plant_models.cstr with beta = 0.9 and alpha = 1.05 (the model
file says 1 and 1): 2 h of data at 10 s with both inputs moved every 10
min, T_R and T_K with 0.2 K noise, C_b from an analyser every 5 min (0.005
mol/L noise). The data go through the wide CSV and `twin calibrate`.
"""

from __future__ import annotations

import json

import pytest

from support import run_twin, the_error_line
from twin.orchestration.synthetic_data import (CSTR_TRUTH, cstr_calibration_data,
                                               write_wide_csv)


@pytest.fixture(scope="module")
def plant_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cstr-plant")
    return write_wide_csv(cstr_calibration_data(), folder / "cstr_plant.csv")


@pytest.fixture(scope="module")
def short_csv(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cstr-plant-short")
    return write_wide_csv(cstr_calibration_data(t_end=1.0, dt=30 / 3600), folder / "short.csv")


def _calibrate(capsys, *args):
    code, out, err = run_twin(capsys, "calibrate", *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_alpha_and_beta_within_their_95_percent_intervals(capsys, plant_csv, tmp_path):
    out = tmp_path / "cstr_fit.toml"
    summary = _calibrate(capsys, "cstr", str(plant_csv), "--estimate", "alpha,beta",
                         "--x0-free", "--out", str(out), "--report", str(tmp_path / "fit.html"))
    found = {e["name"]: e for e in summary["estimates"]}
    widths = {n: found[n]["width95"] for n in CSTR_TRUTH}
    print("95 % interval widths:", widths, "correlation", summary["correlation"]["matrix"][0][1])
    for name, truth in CSTR_TRUTH.items():
        assert found[name]["low95"] <= truth <= found[name]["high95"], found[name]
    # the data determine both well: alpha to a few 1e-4, beta to about 1 %
    assert 1e-4 < widths["alpha"] < 2e-3
    assert 1e-3 < widths["beta"] < 0.03
    assert summary["warnings"] == [] and summary["identifiable"]
    assert summary["fisher_condition"] < 1e6 and summary["fisher_min_eigenvalue"] > 1e-6
    # 721 samples of T_R and T_K, 25 of the analyser (too slow to be checked for spikes: the
    # plant's steps between its samples are not spikes); noise estimated near the truth
    assert summary["fit"]["T_R"]["samples"] == 721 and summary["fit"]["C_b"]["samples"] == 25
    assert summary["fit"]["T_R"]["sigma"] == pytest.approx(0.2, rel=0.1)
    assert summary["fit"]["C_b"]["sigma"] == pytest.approx(0.005, rel=0.4)
    text = out.read_text()
    assert "[parameters.alpha]" in text and "low95" in text and 'base = "do-mpc"' in text
    assert (tmp_path / "fit.html").stat().st_size > 10_000


def test_k0_ab_with_beta_is_reported_not_identifiable(capsys, short_csv, tmp_path):
    summary = _calibrate(capsys, "cstr", str(short_csv), "--estimate", "k0_ab,beta",
                         "--x0-free", "all", "--out", str(tmp_path / "k0.toml"), "--force")
    assert (tmp_path / "k0.toml").exists()  # --force writes it despite the warnings
    assert set(summary["not_identifiable"]) >= {"k0_ab", "beta"}
    named = [w for w in summary["warnings"] if "k0_ab" in w and "beta" in w]
    assert len(named) == 2, summary["warnings"]  # Fisher information and correlation
    assert summary["fisher_condition"] is None or summary["fisher_condition"] > 1e10
    assert summary["fisher_min_eigenvalue"] < 1e-10
    found = {e["name"]: e for e in summary["estimates"]}
    assert found["beta"]["low95"] is None and found["k0_ab"]["std"] is None
    # only their product enters the equations: the initial states stay identifiable
    assert all(found[f"x0.{n}"]["std"] is not None for n in ("T_R", "T_K"))


def test_unidentifiable_estimates_are_not_written_without_force(capsys, short_csv, tmp_path):
    out = tmp_path / "k0.toml"
    code, stdout, err = run_twin(capsys, "calibrate", "cstr", str(short_csv), "--estimate",
                                 "k0_ab,beta", "--x0-free", "--out", str(out))
    assert code == 1 and not out.exists()
    line = the_error_line(err)
    assert line.startswith(f"twin: error: parameter set not written to {out}: k0_ab, beta not")
    assert "not identifiable" in line and "--force writes it anyway" in line
    assert "warning: " in stdout and "parameter set written" not in stdout


@pytest.mark.parametrize("args, expected", [
    (["--estimate", "gamma"], "unknown parameter 'gamma'"),
    (["--estimate", "alpha", "--x0-free", "C_x"], "unknown state 'C_x'"),
    (["--estimate", "alpha", "--bound", "alpha=2"], "--bound alpha=2: expected NAME=LOW:HIGH"),
    (["--estimate", "alpha", "--bound", "alpha=2:3"], "starting value 1 of 'alpha' is outside"),
    (["--estimate", "alpha", "--sigma", "T_R=-1"], "--sigma: noise standard deviations"),
    (["--estimate", "alpha", "--sigma", "C_a=0.1"], "noise given for ['C_a']"),
    (["--estimate", "alpha", "--param-set", "nowhere.toml"], "parameter-set file 'nowhere.toml': no such"),
])
def test_bad_input_is_one_line_with_status_2(capsys, short_csv, tmp_path, monkeypatch, args,
                                              expected):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_twin(capsys, "calibrate", "cstr", str(short_csv), *args)
    assert code == 2 and out == ""
    assert expected in the_error_line(err)


def test_data_with_no_measured_column_is_refused(capsys, tmp_path):
    data = tmp_path / "inputs.csv"
    data.write_text("time,F [1/h],Q_dot [kJ/h]\n0,14,-1000\n10,14,-1000\n20,15,-1000\n")
    code, _, err = run_twin(capsys, "calibrate", "cstr", str(data), "--estimate", "beta",
                            "--out", str(tmp_path / "p.toml"))
    assert code == 2
    assert "no column is a state or output of model 'cstr'" in the_error_line(err)


def test_existing_out_file_is_kept_without_force(capsys, short_csv, tmp_path):
    out = tmp_path / "keep.toml"
    out.write_text("# mine\n")
    code, _, err = run_twin(capsys, "calibrate", "cstr", str(short_csv), "--estimate", "beta",
                            "--out", str(out))
    assert code == 2 and "add --force" in the_error_line(err)
    assert out.read_text() == "# mine\n"


def test_impossible_fixed_initial_state_is_refused_before_solving(capsys, tmp_path):
    data = tmp_path / "negative.csv"
    data.write_text("time,F [1/h],C_b [mol/L]\n0,14,-0.5\n10,14,0.5\n20,15,0.5\n")
    code, _, err = run_twin(capsys, "calibrate", "cstr", str(data), "--estimate", "beta",
                            "--out", str(tmp_path / "p.toml"))
    assert code == 2
    assert ("the initial C_b = -0.5 mol/L is outside its physical bounds [0, inf]; free it with "
            "--x0-free C_b") in the_error_line(err)


def test_coarse_integration_is_warned_against(capsys, short_csv, tmp_path):
    # 30 s samples: the default RK4 steps follow the adaptive integrator to a tiny fraction of
    # the noise; one step per sample against a claimed 0.002 K thermocouple does not
    default = _calibrate(capsys, "cstr", str(short_csv), "--estimate", "alpha,beta",
                         "--x0-free", "C_a", "--out", str(tmp_path / "a.toml"))
    assert default["substeps"] >= 2 and default["integration_error_sigma"] < 0.01
    assert default["warnings"] == []
    coarse = _calibrate(capsys, "cstr", str(short_csv), "--estimate", "alpha,beta", "--x0-free",
                        "C_a", "--substeps", "1", "--sigma", "T_R=0.002",
                        "--out", str(tmp_path / "b.toml"), "--force")
    assert coarse["integration_error_sigma"] > 1
    integration = [w for w in coarse["warnings"] if w.startswith("integration:")]
    assert len(integration) == 1 and "give --substeps 2 or more" in integration[0]


def test_written_file_is_complete_on_its_own(capsys, short_csv, tmp_path):
    """A --set value and the starting file's values go into the written file with the estimate."""
    start = tmp_path / "start.toml"
    start.write_text('[parameter_set]\nmodel = "cstr"\nbase = "do-mpc"\n[parameters]\nalpha = 1.05\n')
    out = tmp_path / "fit.toml"
    _calibrate(capsys, "cstr", str(short_csv), "--estimate", "beta", "--x0-free", "C_a",
               "--param-set", str(start), "--set", "k_w=4100", "--out", str(out))
    from twin.core.param_file import read_param_file

    written = read_param_file(out)
    assert written.base == "do-mpc"
    assert set(written.values) == {"beta", "alpha", "k_w"}
    assert written.values["alpha"] == 1.05 and written.values["k_w"] == "4100.0 kJ/(h m2 K)"
    assert set(written.intervals["beta"]) == {"std", "low95", "high95"}
    assert written.intervals["alpha"] == {}  # not estimated here
