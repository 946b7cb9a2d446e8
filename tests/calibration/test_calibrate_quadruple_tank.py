"""A second plant, in seconds, with unmeasured upper tanks: the outlet of tank 1 and a valve split."""

from __future__ import annotations

import pytest

from twin.orchestration.calibrate_run import run_calibration
from twin.orchestration.registry import load_model
from twin.orchestration.synthetic_data import plant_run, random_steps, write_wide_csv

TRUTH = {"a1": 0.075, "gamma_1": 0.65}  # the model file says 0.071 and 0.70


def test_outlet_and_split_within_their_intervals_from_the_lower_levels(tmp_path):
    model = load_model("quadruple_tank")
    steps = random_steps(model, 3600, 300, {"v1": (2.0, 4.0), "v2": (2.0, 4.0)}, seed=3)
    frame = plant_run(model.with_parameters(TRUTH), 3600, 5.0, steps, {"h1": 0.05, "h2": 0.05},
                      warmup=2000, seed=4)
    path = write_wide_csv(frame, tmp_path / "qt.csv")
    result, summary = run_calibration("quadruple_tank", path, list(TRUTH), x0_free=True)
    found = {e["name"]: e for e in summary["estimates"]}
    for name, truth in TRUTH.items():
        assert found[name]["low95"] <= truth <= found[name]["high95"], found[name]
        assert found[name]["width95"] < 0.01 * truth  # 1 h of 5 s samples pins both well
    # h3 and h4 are not measured: their start is estimated from h1 and h2 alone
    assert found["x0.h3"]["std"] > found["x0.h1"]["std"] > 0
    assert summary["fit"]["h1"]["sigma"] == pytest.approx(0.05, rel=0.15)
    assert summary["warnings"] == [] and result.model.parameters["a1"].nominal == found["a1"]["value"]
