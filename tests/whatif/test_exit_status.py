"""``twin whatif`` exits 1 when no scenario succeeded (outputs still written), else 0."""

from __future__ import annotations

import json

import pandas as pd

from support import run_twin

STUDY = """
[base]
kind = "function"
function = "study_functions:sometimes_nan"
[[variable]]
name = "x"
[sampling]
method = "list"
scenarios = [ {{ x = {first} }}, {{ x = 0.9 }} ]
"""


def test_a_study_whose_every_scenario_failed_exits_1(write_study, tmp_path, capsys):
    path = write_study(STUDY.format(first=0.7))
    out = tmp_path / "out"
    code, stdout, err = run_twin(capsys, "whatif", str(path), "--out", str(out), "--json")
    assert code == 1
    assert json.loads(stdout)["failed"] == 2
    assert err.splitlines()[-1] == ("twin: error: every scenario of the study failed (the first: "
                                    "scenario 0: NaN or infinity in output y); see "
                                    f"{out / 'summary.parquet'}")
    assert list(pd.read_parquet(out / "summary.parquet").status) == ["failed", "failed"]


def test_a_study_with_one_successful_scenario_exits_0(write_study, tmp_path, capsys):
    path = write_study(STUDY.format(first=0.2))
    code, stdout, err = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "out"),
                                 "--json")
    assert code == 0 and "twin: error" not in err
    assert json.loads(stdout)["failed"] == 1
