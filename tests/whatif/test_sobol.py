"""Sobol indices from the whole pipeline on the Ishigami function, against the analytical ones."""

from __future__ import annotations

import pandas as pd

from twin.orchestration.whatif import load_study, run_study
from twin.orchestration.whatif.functions import ISHIGAMI_INDICES

N = 8192
SEED = 1
STUDY = f"""
title = "Ishigami"
seed = {SEED}
[base]
kind = "function"
function = "ishigami"
[[variable]]
name = "x1"
low = -3.141592653589793
high = 3.141592653589793
[[variable]]
name = "x2"
low = -3.141592653589793
high = 3.141592653589793
[[variable]]
name = "x3"
low = -3.141592653589793
high = 3.141592653589793
[sampling]
method = "sobol"
n = {N}
"""


def test_ishigami_sobol_indices_match_the_analytical_ones(write_study, tmp_path):
    result = run_study(load_study(write_study(STUDY)), tmp_path / "out")
    assert result.scenarios == N * (3 + 2) + 1 and result.failed == 0
    sens = pd.read_parquet(result.sensitivity)
    errors = {}
    for measure in ("S1", "ST"):
        for name, exact in ISHIGAMI_INDICES[measure].items():
            got = sens[(sens.variable == name) & (sens.measure == measure)].value.item()
            errors[f"{measure}({name})"] = abs(got - exact)
    print("Ishigami |estimate - exact|:", {k: round(v, 4) for k, v in errors.items()})
    assert max(errors.values()) <= 0.02, errors
    # each exact index lies within the estimate's 95 % interval, and nothing is flagged
    conf = {f"{r.measure}({r.variable})": r.confidence for r in sens.itertuples()}
    assert all(errors[k] <= conf[k] for k in errors), (errors, conf)
    assert max(conf.values()) < 0.05 and result.sensitivity_warnings == []
    assert len(result.sensitivity_lines) == 3
    assert result.report.is_file() and (tmp_path / "out" / "sensitivity.png").is_file()
