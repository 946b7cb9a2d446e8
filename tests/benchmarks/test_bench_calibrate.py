"""The calibration figure: ours and the scipy single-shooting baseline agree, within the target."""

from __future__ import annotations

import json

import pytest

from support import run_twin


def test_calibration_figure_runs_with_its_baseline(capsys, tmp_path):
    code, stdout, err = run_twin(capsys, "bench", "--quick", "--only", "calibrate_cstr", "--json")
    assert code == 0, err
    fig = json.loads(stdout)["figures"]["calibrate_cstr"]
    assert fig["status"] == "ok" and fig["unit"] == "s/run"
    details = fig["details"]
    print("calibration figure:", fig["median"], "s; baseline",
          fig["baselines"]["scipy_least_squares_single_shooting"]["median"], "s; given noise",
          details["ours_with_given_noise_s"], "s")
    assert details["samples"] == 2001
    for name in ("alpha", "beta"):  # the same optimum by both routes
        assert details["estimates"][name] == pytest.approx(details["baseline_estimates"][name],
                                                           rel=1e-6)
    assert details["truth_within_95"] == {"alpha": True, "beta": True}
    assert 0 < fig["median"] < 60  # the target is 10 s on an idle machine; loaded CI is slower
