"""Step tests run on the twin: data, safety pauses, MV limits, the cycle store and exports."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from twin.core.config import parse_toml
from twin.core.data import load_data
from twin.core.errors import InputError
from twin.orchestration.examples import FOLDER
from twin.orchestration.loop.store import CycleStore
from twin.orchestration.steptest import load_steptest, run_step_test, spec_from_dict

QT = """
[plant]
model = "quadruple_tank"
parameter_set = "P-"
[test]
signal = "{signal}"
sample_time = 1.0
settling_time = 400.0
duration = {duration}
seed = 3
[[mv]]
name = "v1"
amplitude = {amplitude}
low = 0.0
high = {high}
max_rate = {rate}
[[mv]]
name = "v2"
amplitude = {amplitude}
low = 0.0
high = {high}
max_rate = {rate}
[[cv]]
name = "h1"
noise_std = 0.05
high = {h_high}
margin = {margin}
[[cv]]
name = "h2"
noise_std = 0.05
"""


def qt_spec(signal="gbn", duration=600.0, amplitude=0.5, high=10.0, rate=0.5, h_high=19.0,
            margin=0.5):
    text = QT.format(signal=signal, duration=duration, amplitude=amplitude, high=high, rate=rate,
                     h_high=h_high, margin=margin)
    return spec_from_dict(parse_toml(text, "test"))


def test_shipped_example_runs_and_its_store_and_exports_round_trip(tmp_path):
    spec = load_steptest(FOLDER / "qt_steptest.toml")
    result = run_step_test(spec, tmp_path / "run")
    data = load_data(result.csv)
    assert data.names == ["v1", "v2", "h1", "h2"]
    assert data.units == {"v1": "V", "v2": "V", "h1": "cm", "h2": "cm"}
    assert data.interval() == 1.0 and data.time[0] == 0.0 and len(data.time) == 600
    np.testing.assert_allclose(data.values(["v1", "v2"]), result.mv, rtol=1e-9)
    np.testing.assert_allclose(data.values(["h1", "h2"]), result.cv, rtol=1e-9)
    same = result.to_plant_data()
    np.testing.assert_allclose(same.frame.to_numpy(), data.frame.to_numpy(), rtol=1e-9)
    # GBN of +-0.5 V around the operating point 3 V on both pumps; a switch of 1 V takes two
    # samples at 0.5 V/s, so 3 V is only ever the sample between the two levels
    assert set(np.round(np.unique(result.mv), 9)) == {2.5, 3.0, 3.5}
    middle = np.flatnonzero(result.mv[1:-1, 0] == 3.0) + 1
    assert np.all(result.mv[middle - 1, 0] != result.mv[middle + 1, 0])
    assert 8 < np.nanmin(result.cv) and np.nanmax(result.cv) < 18
    # noise: sample-to-sample differences of h1 where the pumps are still have std ~ 0.05*sqrt(2)
    still = np.all(np.diff(result.mv, axis=0) == 0, axis=1)
    d = np.diff(result.cv[:, 0])[still]
    assert np.std(d - np.mean(d)) == pytest.approx(0.05 * np.sqrt(2), rel=0.25)
    # the cycle store: same MVs and measurements, one cycle per sample, the design logged
    store = CycleStore.read_only(result.store)
    frame = store.to_frame()
    assert store.run_info()["kind"] == "steptest"
    assert len(frame) == 600
    np.testing.assert_allclose(frame["v1"], result.mv[:, 0])
    np.testing.assert_allclose(frame["h2"], result.cv[:, 1])
    assert set(frame["h1.quality"]) == {"good"}
    np.testing.assert_allclose(frame["v2.design"], result.design_values[:, 1])
    assert list(store.events()["kind"])[0] == "start" and list(store.events()["kind"])[-1] == "end"
    store.close()
    parquet = pd.read_parquet(result.parquet)
    np.testing.assert_allclose(parquet["h1"], result.cv[:, 0])
    assert not parquet["paused"].any()
    page = result.report.read_text()
    assert "mean switching time" in page and "correlation of MV moves" in page


def test_mv_hard_and_rate_limits_hold_on_a_plant_run():
    # amplitude 2 V around 3 V with a high limit of 4 V and at most 0.05 V/s
    result = run_step_test(qt_spec(amplitude=2.0, high=4.0, rate=0.05, duration=900.0))
    assert result.design.amplitudes == pytest.approx([1.0, 1.0])  # cut to the room under 4 V
    assert result.mv.max() <= 4.0 + 1e-12 and result.mv.min() >= 2.0 - 1e-12
    moves = np.abs(np.diff(np.vstack([result.design.base, result.mv]), axis=0))
    assert moves.max() <= 0.05 + 1e-12
    assert moves.max() == pytest.approx(0.05)  # the rate limit was reached, and held


def test_approaching_a_safety_limit_pauses_the_test_and_returns_the_mvs(tmp_path):
    # h1 starts near 12.3 cm; pump moves of 1.5 V push it up by 3 cm in 25 s; the safety limit
    # is 15.5 cm with a margin of 1.5 cm (h1 goes on rising ~1 cm after the pumps are back)
    spec = qt_spec(amplitude=1.5, h_high=15.5, margin=1.5, rate=0.1, duration=1500.0)
    result = run_step_test(spec, tmp_path / "run")
    kinds = [kind for _, kind, _ in result.events]
    assert kinds.count("pause") >= 1 and kinds.count("resume") >= 1
    first = next(t for t, kind, _ in result.events if kind == "pause")
    k = int(first)
    assert result.cv[k, 0] >= 14.0 > result.cv[k - 1, 0]  # paused at the margin ...
    assert np.nanmax(result.cv[:, 0]) < 15.5  # ... and h1 never reached its limit
    # while paused the MVs head back to the base point at their rate limit
    paused = np.flatnonzero(result.paused)
    assert np.all(np.abs(result.mv[paused] - result.design.base).max(axis=1)
                  <= np.abs(result.mv[paused - 1] - result.design.base).max(axis=1) + 1e-12)
    back = [j for j in paused if result.paused[j - 20:j + 1].all()]
    assert back and np.allclose(result.mv[back], result.design.base)
    # the designed signal goes on meanwhile, so paused samples differ from the design
    assert np.any(result.design_values[paused] != result.mv[paused])
    events = CycleStore.read_only(result.store).events()
    assert "pause" in set(events["kind"]) and "resume" in set(events["kind"])
    assert "within 1.5 of its high safety limit 15.5" in events[events["kind"] == "pause"]["message"].iloc[0]
    assert pd.read_parquet(result.parquet)["paused"].sum() == result.paused.sum() > 0


def test_prbs_staircase_and_rotated_tests_run():
    prbs = run_step_test(qt_spec(signal="prbs", duration=400.0, rate=5.0))
    assert set(np.round(np.unique(prbs.mv), 9)) == {2.5, 3.5}
    stairs = run_step_test(qt_spec(signal="staircase", duration=400.0))
    assert np.all((stairs.mv[:, 0] == 3.0) | (stairs.mv[:, 1] == 3.0))
    spec = qt_spec(duration=400.0)
    gains = {"h1": {"v1": 5.0, "v2": 2.5}, "h2": {"v1": 2.0, "v2": 6.0}}
    from dataclasses import replace

    spec = replace(spec, test=replace(spec.test, signal="rotated"),
                   cv=tuple(replace(c, gains=gains[c.name], excursion=2.0) for c in spec.cv))
    turned = run_step_test(spec)
    assert np.all(np.abs(turned.mv - 3.0) <= 0.5 + 1e-12)


def test_a_cstr_test_exports_time_in_seconds(tmp_path):
    text = """
    [plant]
    model = "cstr"
    [test]
    sample_time = 0.005
    settling_time = 0.1
    duration = 0.1
    [[mv]]
    name = "F"
    amplitude = 1.0
    [[cv]]
    name = "T_R"
    noise_std = 0.1
    """
    result = run_step_test(spec_from_dict(parse_toml(text, "t")), tmp_path / "run")
    data = load_data(result.csv)
    assert result.time_unit == "h"
    assert data.interval() == pytest.approx(18.0)  # 0.005 h
    assert data.units == {"F": "1/h", "T_R": "degC"}


def test_a_two_hour_gbn_test_of_the_quadruple_tank_carries_its_linearised_gains():
    """The acceptance test's data (P-, 0.05 cm noise, 1 s, GBN on both pumps, 2 h) made in
    well under a second, and rich enough: a plain least-squares FIR fit (an independent check,
    not the product's identification) finds the twin's linearised gains within 3 %."""
    import time

    from twin.core.steady import find_steady_state
    from twin.core.symbolic import casadi_form
    from twin.orchestration.registry import load_model

    text = (FOLDER / "qt_steptest.toml").read_text().replace("duration = 600.0", "duration = 7200.0")
    started = time.process_time()
    result = run_step_test(spec_from_dict(parse_toml(text, "t")))
    assert time.process_time() - started < 5.0  # ~0.2 s on an idle core
    data = result.to_plant_data()
    assert len(data.time) == 7200 and data.interval() == 1.0
    from twin.orchestration.steptest.report import signal_statistics

    for stats in signal_statistics(result):  # GBN designed with a mean switching time of 133 s
        assert stats["mean_switch_time"] == pytest.approx(400 / 3, rel=0.25)
        assert stats["largest_move"] == pytest.approx(0.5)  # the rate limit, 0.5 V/s
        assert (stats["min"], stats["max"]) == pytest.approx((2.5, 3.5))
    model = load_model("quadruple_tank", parameter_set="P-")
    lin = casadi_form(model).linearize(find_steady_state(model).x, model.u0(), model.p0())
    gains = -np.linalg.solve(lin.A, lin.B)[:2]  # h1, h2 per v1, v2 [cm/V]
    u = data.values(["v1", "v2"]) - result.design.base
    y = data.values(["h1", "h2"])
    # impulse response constant over blocks of 10 s, 450 s long (5 times the slowest time
    # constant, 90.6 s): a regressor per block is the sum of the input over its lags
    block, blocks = 10, 45
    cum = np.vstack([np.zeros((1, 2)), np.cumsum(u, axis=0)])
    k = np.arange(block * blocks, len(u))
    lagged = np.hstack([cum[k - block * b + 0] - cum[k - block * (b + 1)] for b in range(blocks)])
    theta, *_ = np.linalg.lstsq(np.c_[lagged, np.ones(k.size)], y[k], rcond=None)
    fitted = block * theta[:-1].reshape(blocks, 2, 2).sum(axis=0).T  # (CV, MV) [cm/V]
    np.testing.assert_allclose(fitted, gains, rtol=0.03)


PRETEST = """
[plant]
model = "quadruple_tank"
parameter_set = "P-"
[test]
sample_time = 1.0
duration = 600.0
[pretest]
hold = 500.0
steps = {v1 = 0.3, v2 = 0.3}
[[mv]]
name = "v1"
low = 0.0
high = 10.0
[[mv]]
name = "v2"
low = 0.0
high = 10.0
[[cv]]
name = "h1"
noise_std = 0.05
excursion = 1.5
[[cv]]
name = "h2"
noise_std = 0.05
excursion = 1.5
"""


def test_a_pretest_gives_the_gains_settling_time_and_amplitudes_of_the_design(tmp_path):
    from twin.core.steady import find_steady_state
    from twin.core.symbolic import casadi_form
    from twin.orchestration.registry import load_model

    result = run_step_test(spec_from_dict(parse_toml(PRETEST, "t")), tmp_path / "run")
    found = result.pretest
    model = load_model("quadruple_tank", parameter_set="P-")
    lin = casadi_form(model).linearize(find_steady_state(model).x, model.u0(), model.p0())
    gains = -np.linalg.solve(lin.A, lin.B)[:2]
    # one step of 0.3 V per pump, held 500 s: every gain within 10 % of the linearisation
    np.testing.assert_allclose(found.gains, gains, rtol=0.10)
    assert found.significant.all()
    # settling: 4 time constants of the slowest pair (tau ~ 90 s, with the upper tank's lag)
    assert 250 < found.settling_time < 600
    # the test is then designed from them: amplitudes keep each level within 1.5 cm
    expected = np.min(1.5 / np.abs(found.gains), axis=0)
    np.testing.assert_allclose(result.design.amplitudes, expected)
    assert result.design.switch_time == pytest.approx(found.settling_time / 3)
    assert result.spec.cv[0].gains == pytest.approx(dict(zip(["v1", "v2"], found.gains[0])))
    # the data hold the pre-test (2 x 2 x 500 samples) and then the test (600 samples)
    assert len(result.time) == 2000 + 600
    assert np.allclose(result.mv[:500, 0], 3.3) and np.allclose(result.mv[1000:1500, 1], 3.3)
    events = [kind for _, kind, _ in result.events]
    assert events[:2] == ["start", "phase"]
    modes = CycleStore.read_only(result.store).cycles()["mode"]
    assert (modes[:2000] == "pretest").all() and (modes[2000:] == "test").all()


def test_on_column_a_the_rotated_test_excites_the_weak_output_direction_and_gbn_does_not():
    """The shipped column example, run 2000 min with rotated moves and with plain GBN of the
    amplitudes the prior gives: RMS of the measured composition moves along the prior's
    strong and weak output directions, in allowed excursions."""
    from dataclasses import replace

    from apc.steptest.design import directions

    spec = replace(load_steptest(FOLDER / "column_steptest.toml"), title="")
    spec = replace(spec, test=replace(spec.test, duration=2000.0))
    gains = np.array([[c.gains["L_T"], c.gains["V_B"]] for c in spec.cv])
    d = directions(gains, np.array([0.001, 0.001]), np.array([1.0, 1.0]))

    def along(result):
        y = (result.cv - result.cv[0]) / 0.001
        strong, weak = np.sqrt(np.mean((y @ d.u) ** 2, axis=0))
        return strong, weak

    turned = run_step_test(spec)
    strong, weak = along(turned)
    assert 0.7 < weak / strong < 1.5  # both directions excited about alike (1.07 measured)
    assert np.corrcoef(turned.mv.T)[0, 1] > 0.99  # L and V move together, by design
    assert np.all(np.abs(np.diff(turned.mv, axis=0)) <= 0.5 + 1e-12)
    plain = run_step_test(replace(spec, test=replace(spec.test, signal="gbn"),
                                  mv=tuple(replace(m, amplitude=None) for m in spec.mv)))
    assert plain.design.amplitudes == pytest.approx([0.001 / 1.08, 0.001 / 1.10])
    strong_plain, weak_plain = along(plain)
    assert weak_plain / strong_plain < 0.2  # the weak direction is hardly seen (0.09 measured)


def test_an_interrupted_test_keeps_the_samples_it_took(tmp_path):
    """Ctrl-C lands in the main thread as a KeyboardInterrupt; here it is raised from the
    progress hook after 300 samples, as the signal handler would raise it."""
    def progress(update):
        if update.done > 300:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_step_test(load_steptest(FOLDER / "qt_steptest.toml"), tmp_path / "run",
                      progress=progress)
    data = load_data(tmp_path / "run" / "steptest.csv")
    assert len(data.time) == 301 and data.time[-1] == 300.0  # the hook runs every 100 samples
    store = CycleStore.read_only(tmp_path / "run" / "cycles.sqlite")
    assert len(store.cycles()) == 301
    assert list(store.events()["kind"])[-1] == "interrupted"
    assert (tmp_path / "run" / "report.html").is_file()


def test_a_model_plant_s_input_bounds_are_hard_limits_when_none_are_given():
    text = (FOLDER / "qt_steptest.toml").read_text().replace("amplitude = 0.5   # [V]",
                                                              "amplitude = 50.0")
    text = text.replace("low = 0.0\nhigh = 10.0\nmax_rate = 0.5    # [V/s]", "")
    spec = spec_from_dict(parse_toml(text, "t"))
    assert spec.mv[0].low is None and spec.mv[0].high is None
    result = run_step_test(spec)
    # v1 in [0, 10] V (the model's bounds): an amplitude of 50 V is cut to the 3 V of room
    assert result.design.amplitudes[0] == pytest.approx(3.0)
    assert result.mv[:, 0].min() >= 0.0 and result.mv[:, 0].max() <= 6.0


def test_a_base_point_already_within_a_safety_margin_is_refused_at_the_start(tmp_path):
    # h1 starts near 12.3 cm at 3 V; a high limit of 13 cm with a margin of 1 cm leaves no room
    with pytest.raises(InputError, match=r"at the start cv 'h1' = 12\.\d+ is within 1 of its "
                                         r"high safety limit 13"):
        run_step_test(qt_spec(h_high=13.0, margin=1.0), tmp_path / "run")


def test_a_test_whose_mvs_never_move_says_so_and_keeps_its_data(tmp_path):
    # base 5 V on both pumps (the plant starts at 3 V): h1 rises into the margin of its 15.5 cm
    # limit during the lead-in, the test pauses at the base and the designed moves never start
    spec = qt_spec(amplitude=0.5, h_high=15.5, margin=1.5, rate=5.0, duration=60.0)
    spec = replace(spec, mv=[replace(m, base=5.0) for m in spec.mv],
                   test=replace(spec.test, lead_in=200.0))
    result = run_step_test(spec, tmp_path / "run")
    assert not result.moved and result.pauses == 1 and result.paused.all()
    assert np.all(result.mv == 5.0) and len(result.time) == 260
    kinds = list(CycleStore.read_only(result.store).events()["kind"])
    assert kinds[-1] == "no_moves" and "pause" in kinds
    assert len(load_data(result.csv).time) == 260


def test_an_amplitude_beyond_the_hard_limits_is_cut_with_a_warning_naming_the_asymmetry(caplog):
    from twin.orchestration.steptest.design import design

    spec = qt_spec(amplitude=50.0)  # base 3 V in [0, 10] V: 3 V of room below, 7 V above
    with caplog.at_level("WARNING", logger="twin.orchestration.steptest.design"):
        plan = design(spec, np.array([3.0, 3.0]))
    assert plan.amplitudes == pytest.approx([3.0, 3.0])
    assert np.unique(plan.moves) == pytest.approx([-3.0, 3.0])  # symmetric around the base
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [f"mv '{n}': amplitude 50 cut to 3, the room to its nearer hard limit (base 3 "
                     "in [0, 10]: 3 of room below it, 7 above); the moves stay symmetric around "
                     "the base" for n in ("v1", "v2")]
    caplog.clear()
    with caplog.at_level("WARNING", logger="twin.orchestration.steptest.design"):
        design(qt_spec(amplitude=3.0), np.array([3.0, 3.0]))  # fits exactly: no warning
    assert not caplog.records
