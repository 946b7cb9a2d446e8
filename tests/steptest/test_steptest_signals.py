"""Excitation signals and designs of step tests: statistics, periods, directions, limits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from apc.steptest.design import (amplitudes_from_prior, directions, duration_from_prior,
                                 excitation, rotated)
from apc.steptest.limits import MVLimits, hold_limits
from apc.steptest.pretest import fit_step
from apc.steptest.signals import (cross_correlation, gbn, prbs, prbs_bits, prbs_period, samples,
                                  staircase, switching_time)
from twin.core.errors import InputError

COLUMN_LV = np.array([[0.878, -0.864], [1.082, -1.096]])
"""Skogestad's column A (LV) steady-state gains [-]: condition number about 142."""


def _switch_intervals(signal: np.ndarray) -> np.ndarray:
    changes = np.flatnonzero(np.diff(signal) != 0)
    return np.diff(changes)


def test_gbn_switches_with_the_mean_switching_time_and_is_binary():
    mean_switch, dt = 20.0, 1.0
    u = gbn(200_000, [2.0], mean_switch, dt, seed=4)[:, 0]
    assert set(np.unique(u)) == {-2.0, 2.0}
    intervals = _switch_intervals(u) * dt
    assert intervals.mean() == pytest.approx(mean_switch, rel=0.03)
    # geometric holds: the standard deviation is sqrt(1 - p) / p samples
    p = dt / mean_switch
    assert intervals.std() == pytest.approx(math.sqrt(1 - p) / p, rel=0.05)
    assert abs(u.mean()) < 0.1


def test_gbn_is_reproducible_by_seed_and_differs_between_seeds():
    a = gbn(500, [1.0, 1.0], 10.0, 1.0, seed=7)
    assert np.array_equal(a, gbn(500, [1.0, 1.0], 10.0, 1.0, seed=7))
    assert not np.array_equal(a, gbn(500, [1.0, 1.0], 10.0, 1.0, seed=8))


def test_gbn_of_several_mvs_is_uncorrelated():
    u = gbn(7200, [1.0, 0.5, 3.0], 120.0, 1.0, seed=1)
    corr = cross_correlation(u)
    off = corr[~np.eye(3, dtype=bool)]
    assert np.max(np.abs(off)) < 0.15
    # a long run: the sample correlation goes to 0 like 1/sqrt(independent holds)
    long = cross_correlation(gbn(400_000, [1.0, 1.0], 20.0, 1.0, seed=2))
    assert abs(long[0, 1]) < 0.02


def test_prbs_repeats_with_its_period_and_is_a_maximum_length_sequence():
    bits, clock = 6, 3
    u = prbs(3 * prbs_period(bits, clock), [1.5], clock, bits)[:, 0]
    period = prbs_period(bits, clock)
    assert period == 63 * 3
    assert np.array_equal(u[:period], u[period:2 * period])
    one = u[:period:clock] / 1.5
    # an m-sequence of 63 bits has 32 ones and 31 zeros, runs held exactly `clock` samples
    assert (one > 0).sum() == 32 and (one < 0).sum() == 31
    assert np.all(u[:period].reshape(-1, clock).std(axis=1) == 0)
    # circular autocorrelation of the bits is -1/63 off the peak
    auto = [np.dot(one, np.roll(one, k)) / 63 for k in range(1, 63)]
    assert np.allclose(auto, -1 / 63)


def test_prbs_of_several_mvs_is_uncorrelated_and_covers_the_test():
    n, clock = 5000, 10
    bits = prbs_bits(n, clock)
    assert prbs_period(bits, clock) >= n > prbs_period(bits - 1, clock)
    u = prbs(n, [1.0, 1.0], clock)
    assert abs(cross_correlation(u)[0, 1]) < 0.1


def test_staircase_moves_one_mv_at_a_time_and_holds_each_level():
    u = staircase(40, [1.0, 2.0], 5)
    assert np.all((u[:, 0] == 0) | (u[:, 1] == 0))
    assert list(u[:20, 0]) == [1.0] * 5 + [0.0] * 5 + [-1.0] * 5 + [0.0] * 5
    assert list(u[20:40, 1]) == [2.0] * 5 + [0.0] * 5 + [-2.0] * 5 + [0.0] * 5


def test_switching_time_and_duration_follow_the_settling_time():
    assert switching_time(360.0, 1.0) == pytest.approx(120.0)
    assert switching_time(2.0, 1.0) == 1.0  # never below a sample
    assert duration_from_prior(360.0) == pytest.approx(3600.0)
    assert samples(7200.0, 1.0) == 7200


def test_amplitudes_from_the_prior_keep_every_cv_within_its_excursion():
    gains = np.array([[2.0, 0.5], [0.2, 4.0]])
    a = amplitudes_from_prior(gains, np.array([1.0, 2.0]), np.array([10.0, 0.3]))
    assert a == pytest.approx([0.5, 0.3])  # MV1 limited by CV1 (1/2), MV2 by its room
    with pytest.raises(InputError, match="MV 1 has no gain"):
        amplitudes_from_prior(np.array([[1.0, 0.0]]), np.array([1.0]), np.array([1.0, 1.0]))


def test_rotated_design_excites_the_low_gain_direction_of_an_ill_conditioned_plant():
    # compositions may move 0.01, reflux and boilup 1 each way: the scaled condition number is 142
    excursion, room = np.array([0.01, 0.01]), np.array([1.0, 1.0])
    d = directions(COLUMN_LV, excursion, room)
    assert d.condition == pytest.approx(141.7, rel=0.01)
    n = 20_000
    plain = gbn(n, amplitudes_from_prior(COLUMN_LV, excursion, room), 30.0, 1.0, seed=3)
    turned = rotated(n, COLUMN_LV, excursion, room, 30.0, 1.0, seed=3)
    strong_plain, weak_plain = excitation(plain, COLUMN_LV, excursion, room)
    strong_turned, weak_turned = excitation(turned, COLUMN_LV, excursion, room)
    # uncorrelated moves: the weak output direction gets ~1/140 of the strong one
    assert weak_plain / strong_plain < 0.02
    # rotated moves: both output directions get a full excursion
    assert strong_turned == pytest.approx(1.0, rel=1e-9)
    assert weak_turned == pytest.approx(1.0, rel=1e-9)
    assert weak_turned > 50 * weak_plain
    # the inputs are strongly correlated by design (along v_min both MVs move together)
    assert cross_correlation(turned)[0, 1] > 0.9
    assert abs(cross_correlation(plain)[0, 1]) < 0.1
    assert np.all(np.max(np.abs(turned), axis=0) <= room + 1e-12)


def test_rotated_design_cuts_the_weak_direction_to_the_mv_room():
    excursion, room = np.array([1.0, 1.0]), np.array([1.0, 1.0])
    turned = rotated(5000, COLUMN_LV, excursion, room, 30.0, 1.0, seed=3)
    strong, weak = excitation(turned, COLUMN_LV, excursion, room)
    peaks = np.max(np.abs(turned), axis=0)
    assert np.all(peaks <= room + 1e-9) and peaks.max() == pytest.approx(1.0, rel=1e-6)
    assert strong == pytest.approx(1.0, rel=1e-6)  # the strong direction keeps its excursion
    assert 0.005 < weak < 0.02  # the weak one gets what the room allows (sigma_min ~ 0.014)


def test_pretest_step_fit_recovers_gain_and_settling_time_under_noise():
    t = np.arange(0.0, 600.0, 1.0)
    k, theta, tau, size = 1.7, 5.0, 60.0, 2.0
    y = 10 + np.where(t >= 100 + theta, k * size * (1 - np.exp(-(t - 100 - theta) / tau)), 0.0)
    y = y + np.random.default_rng(0).normal(0, 0.05, t.size)
    fit = fit_step(t, y, 100.0, size)
    assert fit.gain == pytest.approx(k, rel=0.02)
    assert fit.time_constant == pytest.approx(tau, rel=0.05)
    assert fit.settling_time == pytest.approx(theta + 4 * tau, rel=0.05)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=60),
       st.floats(-5, 5), st.floats(0, 10), st.floats(0.01, 5), st.floats(0.1, 2))
def test_mv_hard_and_rate_limits_are_always_held(wanted, low, width, rate, dt):
    lim = MVLimits(low, low + width, rate)
    start = low + width / 2
    out = hold_limits(np.array(wanted)[:, None], np.array([start]), [lim], dt)[:, 0]
    assert np.all(out >= lim.low) and np.all(out <= lim.high)
    moves = np.diff(np.concatenate([[start], out]))
    assert np.all(np.abs(moves) <= rate * dt * (1 + 1e-12) + 1e-12)


def test_limits_refuse_a_base_point_outside_them():
    with pytest.raises(InputError, match="outside its hard limits"):
        hold_limits(np.zeros((3, 1)), np.array([5.0]), [MVLimits(0.0, 1.0, 1.0)], 1.0)
