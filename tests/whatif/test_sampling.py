"""Grid sampling against a hand-built grid; Spearman sensitivities against scipy on the same table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from twin.orchestration.whatif import load_study, run_study
from twin.orchestration.whatif.sampling import scenario_table

GRID = """
[base]
kind = "function"
function = "study_functions:ranked"
[[variable]]
name = "a"
values = [0.3, 0.1, 0.2]
[[variable]]
name = "b"
low = -1.0
high = 1.0
levels = 5
[[variable]]
name = "c"
values = [0.5]
[sampling]
method = "grid"
"""


def test_a_grid_is_every_combination_in_order_with_its_nominal_point_flagged_once(write_study,
                                                                                 tmp_path):
    study = load_study(write_study(GRID))
    rows = [(a, b, 0.5) for a in (0.3, 0.1, 0.2) for b in (-1.0, -0.5, 0.0, 0.5, 1.0)]
    # nominal: the middle value of a's sorted values (0.2), b's midrange (0.0): on the grid,
    # row 12, so it is flagged there and not run a second time
    expected = pd.DataFrame(rows, columns=["a", "b", "c"])
    expected.insert(0, "scenario", np.arange(15, dtype=np.int64))
    expected["nominal"] = [i == 12 for i in range(15)]
    table = scenario_table(study)
    pd.testing.assert_frame_equal(table, expected, check_exact=False, rtol=0, atol=1e-15)

    result = run_study(study, tmp_path / "out", report=False)
    assert result.scenarios == 15 and result.failed == 0
    summary = pd.read_parquet(result.summary)
    pd.testing.assert_frame_equal(summary[expected.columns], expected, atol=1e-15, rtol=0)
    np.testing.assert_allclose(summary.y, expected.a - expected.b ** 3, rtol=0, atol=1e-15)


def test_a_grid_without_its_nominal_point_gets_it_appended_and_kept_out_of_spearman(
        write_study, tmp_path):
    study = load_study(write_study(GRID.replace("values = [0.3, 0.1, 0.2]",
                                                "values = [0.3, 0.1, 0.2]\nnominal = 0.25")))
    table = scenario_table(study)
    assert len(table) == 16 and table.nominal.tolist() == [False] * 15 + [True]
    assert table.iloc[15][["a", "b", "c"]].tolist() == [0.25, 0.0, 0.5]
    on_grid = scenario_table(load_study(write_study(GRID)))
    result = run_study(load_study(write_study(GRID)), tmp_path / "out", report=False)
    sens = pd.read_parquet(result.sensitivity)
    got = sens[(sens.kpi == "y") & (sens.variable == "b")].value.iloc[0]
    summary = pd.read_parquet(result.summary)
    assert len(summary) == len(on_grid) == 15  # the nominal grid point is part of the sample
    assert got == pytest.approx(spearmanr(summary.b, summary.y).statistic, abs=1e-12)


LHS = """
seed = 5
[base]
kind = "function"
function = "study_functions:ranked"
[[variable]]
name = "a"
low = 0.0
high = 1.0
[[variable]]
name = "b"
low = -1.0
high = 1.0
[[variable]]
name = "c"
low = 0.0
high = 1.0
[sampling]
method = "lhs"
n = 40
"""


def test_spearman_sensitivities_are_scipys_on_the_successful_sampled_scenarios(write_study,
                                                                                tmp_path):
    result = run_study(load_study(write_study(LHS)), tmp_path / "out", report=False)
    summary = pd.read_parquet(result.summary)
    failed = summary.status != "ok"
    assert result.scenarios == 41 and result.failed == int(failed.sum()) == 8  # c > 0.8
    good = summary[~failed & ~summary.nominal]
    assert len(good) == 32
    sens = pd.read_parquet(result.sensitivity)
    assert set(sens.measure) == {"spearman"} and len(sens) == 6
    got = {(r.kpi, r.variable): r.value for r in sens.itertuples()}
    for kpi in ("y", "z"):
        for name in ("a", "b", "c"):
            want = spearmanr(good[name], good[kpi]).statistic
            assert got[kpi, name] == pytest.approx(want, abs=1e-12), (kpi, name)
    print("spearman:", {f"{k}~{v}": round(x, 4) for (k, v), x in got.items()})
    assert got["y", "a"] > 0.5 and got["y", "b"] < -0.5  # the monotone relations are seen
