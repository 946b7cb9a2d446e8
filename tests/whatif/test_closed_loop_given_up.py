"""A closed-loop scenario whose controller gives up a target is a result, not a failure.

The cycle log keeps each cycle's miss of a given-up setpoint or limit as a
value (``CV.given_up_setpoint``), empty (NaN) in the cycles where nothing
is given up; a study must not take those empty cells for a diverged run.
"""

from __future__ import annotations

import shutil

import pandas as pd

from twin.orchestration.examples import FOLDER
from twin.orchestration.whatif import run_study, study_from_dict


def test_a_scenario_with_a_given_up_setpoint_succeeds(tmp_path):
    shutil.copy(FOLDER / "cstr_rto_apc.toml", tmp_path / "loop.toml")
    study = study_from_dict({
        "title": "given up", "duration": 0.05, "seed": 1,
        "base": {"kind": "closed_loop", "loop_file": "loop.toml", "loop_events": False},
        "variable": [{"name": "beta", "nominal": 1.0}],
        "sampling": {"method": "list", "scenarios": [{"beta": 1.0}]},
        "kpi": [{"name": "C_b_mean", "kind": "mean", "variable": "C_b"}],
    }, tmp_path)
    result = run_study(study, tmp_path / "out")
    summary = pd.read_parquet(result.summary)
    assert list(summary["status"]) == ["ok"], list(summary["error"])
    assert result.failed == 0
    assert 1.0 < float(summary["C_b_mean"].iloc[0]) < 1.2  # the RTO's C_b setpoint 1.09 mol/L, held
    series = pd.read_parquet(next((tmp_path / "out" / "timeseries").glob("*.parquet")))
    given_up = series["C_b.given_up_setpoint"]
    assert given_up.notna().any() and given_up.isna().any()  # the case: some cycles gave up, some not
