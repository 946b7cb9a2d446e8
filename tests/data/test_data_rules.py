"""Each bad-data rule on a hand-made table whose answer is known: what it touches, its report."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from twin.core.data.resample import resample
from twin.core.data.rules import (reject_frozen, reject_quality, reject_spikes, report_gaps)
from twin.core.data.steady import report_steady, steady_periods
from twin.core.data.table import BAD, GOOD, UNCERTAIN, PlantData
from twin.core.errors import InputError

nan = math.nan


def _table(time, columns, quality=None, roles=None) -> PlantData:
    frame = pd.DataFrame(columns, index=pd.Index(np.asarray(time, dtype=float), name="time"))
    q = None if quality is None else pd.DataFrame(quality, index=frame.index, dtype=float)
    return PlantData(frame, {n: "cm" for n in frame.columns}, None, "hand-made", (), q,
                     roles or {})


def _column(data: PlantData, name: str) -> list[float]:
    return [None if math.isnan(v) else v for v in data.frame[name].tolist()]


def test_quality_rule_sets_bad_and_uncertain_missing_and_counts_them():
    data = _table(range(5), {"a": [1.0, 2, 3, 4, 5], "b": [1.0, 2, nan, 4, 5]},
                  {"a": [GOOD, BAD, GOOD, UNCERTAIN, GOOD], "b": [GOOD, GOOD, BAD, GOOD, BAD]})
    cleaned = reject_quality(data)
    assert _column(cleaned, "a") == [1.0, None, 3.0, None, 5.0]
    assert _column(cleaned, "b") == [1.0, 2.0, None, 4.0, None]
    # b's third sample was missing already: not counted
    assert cleaned.reports[-1] == ("quality: 3 of 9 values (33 %) Bad or Uncertain, set missing "
                                   "(a 2, b 1)")
    bad_only = reject_quality(data, uncertain=False)
    assert _column(bad_only, "a") == [1.0, None, 3.0, 4.0, 5.0]
    assert bad_only.reports[-1] == "quality: 2 of 9 values (22 %) Bad, set missing (a 1, b 1)"
    assert reject_quality(_table(range(2), {"a": [1.0, 2]})).reports[-1] == (
        "quality: the source gives no quality; nothing rejected")


def test_gap_rule_reports_gaps_and_invents_nothing():
    time = [0, 1, 2, 3, 10, 11, 12, 13, 14, 15]
    data = _table(time, {"a": [0.0] * 10, "b": [0, 1, 2, nan, nan, nan, nan, nan, nan, 9.0]})
    checked = report_gaps(data, factor=5)
    pd.testing.assert_frame_equal(checked.frame, data.frame)  # nothing invented
    assert checked.reports[-1] == ("gaps: 2 longer than 5 sampling intervals of their tag (a 1, b 1); "
                                   "longest 13 s in b from 2 s; missing values left missing, none "
                                   "invented")
    assert report_gaps(data, factor=20).reports[-1] == (
        "gaps: 0 longer than 20 sampling intervals of their tag; missing values left missing, none "
        "invented")


def test_a_slow_analyser_is_judged_by_its_own_sampling_interval():
    t = np.arange(0.0, 601.0)
    fast = np.sin(t / 30)
    slow = np.full(t.size, nan)
    slow[::60] = [1.0, 1.2, 1.2, 1.5, 1.1, 1.3, 1.4, 1.6, 1.2, 1.0, 1.1]  # one repeat, 60 s apart
    slow[[300, 360]] = nan  # the analyser missed two readings: 240 s to 420 s without one
    data = _table(t, {"T": fast, "C": slow})
    gaps = report_gaps(data, factor=2.5)
    assert gaps.reports[-1].startswith("gaps: 1 longer than 2.5 sampling intervals of their tag "
                                       "(C 1); longest 180 s in C from 240 s")
    frozen = reject_frozen(data)  # 20 of its own 60 s intervals: the repeat is not frozen
    assert frozen.frame["C"].notna().sum() == 9
    assert frozen.reports[-1].startswith("frozen: 0 of 610 values (0 %) unchanged for more than 20 "
                                         "sampling intervals while the tag moves")
    out = resample(data, 1.0)
    assert out.frame["C"].iloc[30] == pytest.approx(1.1)  # interpolated between analyser readings
    assert out.frame["C"].iloc[330] == pytest.approx(1.35)  # 180 s < 5 of its 60 s intervals
    assert np.isnan(resample(data, 1.0, max_gap=120.0).frame["C"].iloc[330])



def test_frozen_rule_rejects_a_stuck_value_only_in_a_tag_that_moves():
    moving = [0.0, 1, 2, 3, 4, 4, 4, 4, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    held = [1.0] * 8 + [2.0] * 12  # an MV held between moves: rarely moves, not checked
    data = _table(range(20), {"x": moving, "u": held})
    cleaned = reject_frozen(data, window=4.5)
    # 4 from t=4 to t=9 (5 s > 4.5 s): the repeats after the first are rejected
    assert _column(cleaned, "x") == [0.0, 1, 2, 3, 4, None, None, None, None, None, 5, 6, 7, 8, 9,
                                     10, 11, 12, 13, 14]
    assert _column(cleaned, "u") == held
    assert cleaned.reports[-1] == ("frozen: 5 of 20 values (25 %) unchanged for more than 4.5 s "
                                   "while the tag moves, set missing (x 5); not checked, rarely "
                                   "moving: u")
    assert reject_frozen(data, window=5.0).reports[-1].startswith("frozen: 0 of 20 values (0 %)")


def test_spike_rule_finds_exactly_the_spikes_not_the_noise_nor_a_step():
    rng = np.random.default_rng(3)
    t = np.arange(600.0)
    level = np.where(t < 300, 10.0, 10.0 + 2.0 * (1 - np.exp(-(t - 300) / 20)))
    y = level + rng.normal(0.0, 0.05, t.size)
    y[[100, 101, 450]] += [1.0, -0.8, 0.6]  # two spikes side by side, one on the response
    u = np.where(t < 300, 1.0, 2.0)  # a step in an input is not a spike
    data = _table(t, {"y": y, "u": u}, roles={"u": "mv"})
    cleaned = reject_spikes(data)
    assert np.flatnonzero(np.isnan(cleaned.frame["y"])).tolist() == [100, 101, 450]
    assert not cleaned.frame["u"].isna().any()
    assert cleaned.reports[-1] == ("spikes: 3 of 600 values (0.5 %) further than 5 robust "
                                   "standard deviations from the median of 7 samples, set missing "
                                   "(y 3)")
    with pytest.raises(InputError, match="spike window 4: expected an odd number"):
        reject_spikes(data, window=4)


def test_resampling_holds_inputs_interpolates_outputs_and_bridges_no_gap():
    time = [0.0, 1.5, 3.0, 4.0, 20.0, 21.0]
    data = _table(time, {"u": [1.0, 2.0, nan, 3.0, 4.0, 4.0], "y": [0.0, 3.0, 6.0, 8.0, 40.0, 42]},
                  roles={"u": "mv", "y": "cv"})
    out = resample(data, 1.0, max_gap=5.0)
    assert out.time.tolist() == [float(k) for k in range(22)]
    assert _column(out, "u")[:6] == [1.0, 1.0, 2.0, 2.0, 3.0, 3.0]  # zero-order hold
    assert _column(out, "y")[:5] == [0.0, 2.0, 4.0, 6.0, 8.0]  # linear interpolation
    assert _column(out, "y")[5:20] == [None] * 15  # 4 s -> 20 s is longer than 5 s: not bridged
    assert _column(out, "u")[4:20] == [3.0] * 6 + [None] * 10  # held 5 s after 4 s, then missing
    assert _column(out, "y")[20:] == [40.0, 42.0]
    assert out.quality is None
    assert out.reports[-1] == ("resample: to 1 s (22 samples) from a median 1.5 s; zero-order hold "
                               "for u (inputs); linear interpolation for y; 25 values left missing "
                               "where samples are more than 5 s apart")
    told = resample(data, 1.0, holds=["y"], max_gap=5.0)  # the caller says what is held
    assert _column(told, "y")[:3] == [0.0, 0.0, 3.0] and _column(told, "u")[1] == pytest.approx(
        1 + 1 / 1.5)
    with pytest.raises(InputError, match="resampling interval 0: expected a time > 0"):
        resample(data, 0)


def test_steady_periods_are_found_where_the_data_stands_still():
    rng = np.random.default_rng(7)
    t = np.arange(300.0)
    y = np.where(t < 100, 5.0, np.where(t < 200, 5.0 + (t - 100) * 0.05, 10.0))
    y = y + rng.normal(0.0, 0.02, t.size)
    data = _table(t, {"y": y})
    periods = steady_periods(data, window=20)
    assert len(periods) == 2
    first, second = periods
    assert first.start == 0.0 and 95 <= first.end <= 110
    assert 195 <= second.start <= 215 and second.end == 299.0
    assert first.means["y"] == pytest.approx(5.0, abs=0.05)
    assert second.means["y"] == pytest.approx(10.0, abs=0.02)
    line = report_steady(data, window=20).reports[-1]
    assert line.startswith("steady: 2 periods, ") and line.endswith(
        "windows of 20 samples, drift below 2 noise standard deviations")


def test_the_detectors_whole_record_scan_is_its_sample_by_sample_test():
    from twin.core.ssd import SteadyStateDetector

    rng = np.random.default_rng(11)
    t = np.cumsum(rng.uniform(0.5, 1.5, 400))
    y = np.where(t < 150, 1.0, 1.0 + 0.01 * (t - 150)) + rng.normal(0, 0.05, t.size)
    z = np.sin(t / 40) + rng.normal(0, 0.02, t.size)
    z[[50, 51, 300]] = np.nan
    for noise, tolerance in (({}, {}), ({"y": 0.05}, {"z": 0.3})):
        detector = SteadyStateDetector(["y", "z"], 25, 1.5, noise, tolerance)
        scanned = detector.scan(t, {"y": y, "z": z})
        one_by_one = []
        detector.reset()
        for i in range(t.size):
            if np.isnan(z[i]):
                detector.reset()
                one_by_one.append(False)
                continue
            one_by_one.append(detector.add(t[i], {"y": y[i], "z": z[i]}) is not None)
        assert scanned.tolist() == one_by_one
        assert 0 < sum(one_by_one) < t.size // 2  # both answers occur
