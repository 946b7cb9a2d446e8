"""``twin identify`` on the shipped step-test example: figures, JSON, report, one-line refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from apc.ident.model_file import IdentifiedModel
from support import run_twin, the_error_line

EXAMPLE = "quadruple_tank_steptest.csv"
LINEAR_GAINS = [[5.191, 2.984], [2.829, 5.693]]
"""Quadruple tank P-: d(h1, h2)/d(v1, v2) of the linearisation at the steady state [cm/V]."""


def test_identify_example_prints_gains_fit_and_writes_a_report(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1,v2", "--cv", "h1",
                              "--cv", "h2", "--json", "--report", "id/report.html")
    assert code == 0, err
    result = json.loads(out)
    assert result["inputs"] == ["v1", "v2"] and result["outputs"] == ["h1", "h2"] and result["dt"] == 2.0
    assert np.array(result["gains"]["gain"]) == pytest.approx(np.array(LINEAR_GAINS), rel=0.05)
    assert all(f > 90 for f in result["fit_percent"].values())
    assert result["fit_kind"] == "simulation on the held-out data"
    assert result["holdout_s"] == [5040.0, 7198.0]
    assert not result["gains"]["ill_conditioned"] and result["gains"]["warning"] is None
    low, high = result["gains"]["condition_number_95"]
    assert low < result["gains"]["condition_number"] < high
    page = (tmp_path / "id/report.html").read_text()
    assert "Steady-state gains" in page and page.count("data:image/png;base64,") == 2

    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1", "--mv", "v2", "--cv", "h1,h2",
                              "--method", "subspace")
    assert code == 0, err
    assert "fit (simulation on the held-out data): h1 9" in out and "condition number: 3." in out
    assert "WARNING: ill-conditioned" not in out


@pytest.mark.parametrize("args, message", [
    (["--mv", "v1,v9", "--cv", "h1"], "no column 'v9'; columns are v1, v2, h1, h2"),
    (["--mv", "v1", "--cv", "h1", "--holdout", "0.95"], "--holdout 0.95: expected a fraction"),
    (["--mv", "v1", "--cv", "v1"], "v1 named more than once"),
    (["--mv", "v1", "--cv", "h1", "--settling", "-3"], "--settling -3.0: expected a positive"),
    (["--mv", "v1", "--cv", "h1", "--settling", "1"], "shorter than two samples"),
    (["--mv", "v1", "--cv", "h1", "--settling", "7000"], "samples are too few"),
])
def test_bad_requests_are_one_line_refusals(capsys, args, message):
    code, _, err = run_twin(capsys, "identify", EXAMPLE, *args)
    assert code == 2
    assert message in the_error_line(err)
    assert "Traceback" not in err


def test_irregular_or_missing_data_are_refused(capsys, tmp_path):
    irregular = tmp_path / "irregular.csv"
    irregular.write_text("time,u,y\n" + "".join(f"{t},{t % 3},{t % 5}\n" for t in [0, 1, 2, 4, 5] * 1
                                                   + list(range(6, 40))))
    code, _, err = run_twin(capsys, "identify", str(irregular), "--mv", "u", "--cv", "y")
    assert code == 2 and "irregular sampling" in the_error_line(err)
    gaps = tmp_path / "gaps.csv"
    # a smooth y (a saw-tooth would be spikes to the bad-data rules), one sample missing
    gaps.write_text("time,u,y\n" + "".join(f"{t},{t % 3},{'' if t == 7 else round(math.sin(t / 4), 4)}\n"
                                           for t in range(40)))
    code, _, err = run_twin(capsys, "identify", str(gaps), "--mv", "u", "--cv", "y")
    assert code == 2 and "missing values in y (1)" in the_error_line(err)


def test_out_writes_a_model_file_that_loads_and_runs_as_a_model(capsys, tmp_path):
    """--out: the identified model's file, with provenance, loads and has the printed gains."""
    target = tmp_path / "qt.toml"
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1,v2", "--cv", "h1,h2",
                              "--out", str(target), "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["model_file"] == str(target)
    model = IdentifiedModel.load(target)
    assert model.name == "quadruple_tank_steptest_identified" and model.dt == 2.0
    assert model.inputs == ("v1", "v2") and model.outputs == ("h1", "h2")
    assert model.input_units == ("V", "V") and model.output_units == ("cm", "cm")
    assert model.provenance["method"] == "fir" and model.provenance["holdout_s"] == [5040.0, 7198.0]
    assert model.provenance["fit_percent"]["h1"] == pytest.approx(result["fit_percent"]["h1"], abs=0.01)
    assert model.steady_gain() == pytest.approx(np.array(LINEAR_GAINS), rel=0.05)
    # it runs as a model by its path: the steady state for v1 + 0.3 V moves h1 by the gain
    code, out, err = run_twin(capsys, "steady", str(target), "--u", "v1=3.3", "--u", "v2=3.0", "--json")
    assert code == 0, err
    base = model.y0 + model.steady_gain() @ (np.array([3.3, 3.0]) - model.u0)
    assert json.loads(out)["outputs"]["h1"] == pytest.approx(base[0], rel=1e-6)


def test_measured_disturbance_is_a_model_input_but_not_a_gain_to_condition(capsys):
    """``--dv v2``: the model has both inputs; the MV-CV gain matrix (2x1) has no RGA."""
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1", "--dv", "v2", "--cv", "h1,h2",
                              "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["inputs"] == ["v1", "v2"] and result["gains"]["inputs"] == ["v1"]
    assert np.array(result["gains"]["gain"]) == pytest.approx(np.array(LINEAR_GAINS)[:, :1], rel=0.05)
    assert result["gains"]["rga"] is None and len(result["gains"]["singular_values"]) == 1
    assert result["details"] is not None
    assert result["gains"]["condition_number"] == 1.0
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1", "--dv", "v2", "--cv", "h1,h2")
    assert code == 0, err
    assert "relative gain array" not in out and "condition number: 1 [1, 1]" in out


def test_without_a_holdout_the_fit_says_it_is_on_the_estimation_data(capsys):
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1,v2", "--cv", "h1,h2",
                              "--holdout", "0", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["holdout_s"] is None and result["estimation_s"] == [0.0, 7198.0]
    assert result["fit_kind"] == "simulation on the estimation data (nothing held out)"
    residual = [w for w in result["warnings"] if "residual" in w]
    assert len(residual) == 2 and not any("held-out" in w for w in residual)
    assert residual[0].startswith("WARNING: the residual on the estimation data of h1 is correlated")


def _example_rows(tmp_path, name, change=None, keep=lambda t: True, extra=None):
    """The shipped step test rewritten: rows kept by time, h1 changed, a column added."""
    from twin.orchestration.examples import file_or_example

    lines = file_or_example(EXAMPLE).read_text().splitlines()
    header = lines[0] + (f",{extra}" if extra else "")
    rows = []
    for line in lines[1:]:
        cells = line.split(",")
        if not keep(float(cells[0])):
            continue
        if change:
            cells[3] = repr(change(float(cells[3])))
        rows.append(",".join(cells) + (",1.0" if extra else ""))
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n")
    return str(path)


def test_degenerate_data_are_one_line_refusals(capsys, tmp_path):
    constant = _example_rows(tmp_path, "h3.csv", extra="h3 [cm]")
    for method in ("fir", "tf", "subspace"):
        code, _, err = run_twin(capsys, "identify", constant, "--mv", "v1,v2", "--cv", "h1,h3",
                                "--method", method)
        assert code == 2 and "Traceback" not in err
        assert "h3 never moves in the estimation data" in the_error_line(err)
    huge = _example_rows(tmp_path, "huge.csv", change=lambda v: v * 1e300)
    code, _, err = run_twin(capsys, "identify", huge, "--mv", "v1,v2", "--cv", "h1,h2")
    assert code == 2 and "column 'h1' row 1:" in the_error_line(err)
    assert "exceeds the largest magnitude a value may have (1e+15)" in the_error_line(err)
    code, _, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1,v2", "--cv", "h1,h2",
                            "--holdout", "0.001")
    assert code == 2 and "Traceback" not in err
    assert ("--holdout 0.001: the held-out part has 4 samples, fewer than the 50"
            in the_error_line(err))


def test_a_test_too_short_for_the_settling_is_warned_about(capsys, tmp_path):
    # 20 min of the step test: FIR length 140 s against settling times of several hundred s
    short = _example_rows(tmp_path, "short.csv", keep=lambda t: t < 1200)
    code, out, err = run_twin(capsys, "identify", short, "--mv", "v1,v2", "--cv", "h1,h2", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["gains"]["gain"][1][0] < 0.7 * LINEAR_GAINS[1][0]  # confidently wrong
    moving = [w for w in result["warnings"] if "still moving" in w]
    assert moving == ["WARNING: the step response of h1/v1, h1/v2, h2/v1, h2/v2 is still moving at "
                      "the end of the FIR length (140 s): the gain is not the steady-state gain; "
                      "give --settling longer than the settling time, or a longer test"]
    code, out, err = run_twin(capsys, "identify", EXAMPLE, "--mv", "v1,v2", "--cv", "h1,h2", "--json")
    assert code == 0 and not any("still moving" in w for w in json.loads(out)["warnings"])


def test_a_historian_export_is_read_with_its_tag_map_and_the_bad_data_rules(capsys, tmp_path):
    from twin.orchestration.examples import file_or_example

    history, tagmap = str(file_or_example("qt_history.csv")), str(file_or_example("qt_tagmap.toml"))
    code, out, err = run_twin(capsys, "identify", history, "--tagmap", tagmap, "--time-unit", "min",
                              "--mv", "v1,v2", "--cv", "h2")
    assert code == 2 and "the time column holds time stamps, not numbers in min" in the_error_line(err)
    code, out, err = run_twin(capsys, "identify", history, "--tagmap", tagmap,
                              "--mv", "v1,v2", "--cv", "h2", "--holdout", "0", "--json")
    assert "note: data rule spikes: 1 of 436 values" in err and "(h1 29)" in err
    assert code == 2 and "missing values in h2 (13)" in the_error_line(err)
