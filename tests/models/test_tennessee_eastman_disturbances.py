"""The IDV signals of the Tennessee Eastman model: reproducible, independent, with the right statistics."""

from __future__ import annotations

import numpy as np
import pytest

from plant_models.tennessee_eastman.disturbances import (STICK_BAND, WALKS, StickingValve, signals,
                                                         sticking_valves)
from twin.core.errors import InputError

TIMES = np.linspace(0.0, 48.0, 4801)


def test_a_signal_depends_on_the_seed_alone():
    first = signals({8: 1.0}, TIMES, seed=3)
    assert np.array_equal(first["x_AC_A"], signals({8: 1.0}, TIMES, seed=3)["x_AC_A"])
    # other IDVs on, or the signal asked at other times, draw nothing from its stream
    assert np.array_equal(first["x_AC_A"], signals({8: 1.0, 9: 1.0, 13: 1.0}, TIMES, seed=3)["x_AC_A"])
    coarse = signals({8: 1.0}, TIMES[:2401:10], seed=3)["x_AC_A"]  # other times, a shorter run
    assert np.array_equal(coarse, first["x_AC_A"][:2401:10])
    assert not np.array_equal(first["x_AC_A"], signals({8: 1.0}, TIMES, seed=4)["x_AC_A"])


@pytest.mark.parametrize("walk", [w for w in WALKS if not w.pulse and w.sspan > 0],
                         ids=lambda w: f"IDV{w.idv}-{w.input}")
def test_random_variation_has_the_mean_and_spread_of_its_knots(walk):
    """Knots uniform in szero +- sspan, joined by cubics flat at the knots: the mean is szero and
    the standard deviation sspan / sqrt(3) * sqrt(1 - 2 (1/2 - 13/35)) = 0.4976 sspan."""
    times = np.linspace(0.0, 5000.0, 500_001)  # 1,250 to 10,000 knots
    values = signals({walk.idv: 1.0}, times, seed=1)[walk.input]
    assert values.min() >= walk.szero - walk.sspan and values.max() <= walk.szero + walk.sspan
    assert abs(values.mean() - walk.szero) < 0.04 * walk.sspan
    expected = walk.sspan / np.sqrt(3) * np.sqrt(1 - 2 * (0.5 - 13 / 35))
    assert values.std() == pytest.approx(expected, rel=0.05)
    half = signals({walk.idv: 0.5}, times, seed=1)[walk.input]
    assert half.std() == pytest.approx(expected / 2, rel=0.05)  # intensity scales the spread


def test_steps_start_at_their_time_on_the_nominal_value():
    s = signals({3: 1.0, 1: 1.0}, [0.5, 1.0, 1.5], step_time=1.0)
    assert s["T_D_feed"].tolist() == [45.0, 50.0, 50.0]
    assert s["idv_1"].tolist() == [0.0, 1.0, 1.0]
    both = signals({3: 1.0, 9: 1.0}, TIMES, seed=2, step_time=0.0)["T_D_feed"]
    alone = signals({9: 1.0}, TIMES, seed=2)["T_D_feed"]
    assert np.allclose(both - alone, 5.0)


def test_pulses_rise_to_the_intensity_and_fall_back_to_zero():
    values = signals({17: 1.0}, np.linspace(0.0, 200.0, 200_001), seed=5)["reactor_fouling"]
    assert values.min() >= 0.0 and values.max() == pytest.approx(1.0, abs=1e-5)
    assert (values < 1e-12).any() and (values > 0.999).any()


def test_sticking_valves_move_only_past_the_band():
    assert sticking_valves({14: 1.0, 19: 1.0}) == ("reactor_cw_valve", "recycle_valve",
                                                    "separator_valve", "stripper_valve",
                                                    "steam_valve")
    valve = StickingValve(40.0)
    assert valve.command(40.0 + 0.9 * STICK_BAND) == 40.0
    assert valve.command(40.0 + 1.1 * STICK_BAND) == pytest.approx(40.0 + 1.1 * STICK_BAND)


@pytest.mark.parametrize("idvs, message", [({21: 1.0}, "IDV 21 is not one of the disturbances 1..20"),
                                           ({8: 1.5}, "IDV 8: intensity 1.5 is outside 0..1"),
                                           ({8: float("nan")}, "IDV 8: intensity nan is outside 0..1")])
def test_a_bad_idv_is_refused_in_one_line(idvs, message):
    with pytest.raises(InputError) as caught:
        signals(idvs, TIMES)
    assert str(caught.value) == message


def test_a_weak_pulse_still_falls_back_to_zero():
    values = signals({20: 0.05}, np.linspace(0.0, 100.0, 100_001), seed=2)["outlet_restriction"]
    assert values.max() == pytest.approx(0.05, abs=1e-6) and values.min() >= 0.0
    assert (values < 1e-12).sum() > 10 and (values > 0.0499).sum() > 10
