"""Given-up targets as episodes: the events of a run, and episodes read back from its log."""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.orchestration.loop.given_up import Episode, GivenUpWatch, episodes

NAN = float("nan")


def _given(**misses):
    return [{"cv": k.split("_")[0], "kind": k.split("_")[1], "rank": 0, "violation": v}
            for k, v in misses.items()]


def test_the_watch_logs_one_event_where_an_episode_starts_and_one_where_it_ends():
    watch = GivenUpWatch({"Cb": "mol/L", "TR": "degC"})
    cycles = [_given(), _given(Cb_setpoint=0.5), _given(Cb_setpoint=0.7), _given(),
              _given(Cb_setpoint=0.2, TR_high=1.5)]
    events = [watch.observe(0.1 * k, g) for k, g in enumerate(cycles)]
    assert [[kind for kind, _ in e] for e in events] == [
        [], ["given_up"], [], ["given_up_end"], ["given_up", "given_up"]]
    assert events[1][0][1] == ("Cb setpoint given up at t = 0.1: the steady-state target "
                               "misses it by 0.5 mol/L")
    assert events[3][0][1] == ("Cb setpoint met again at t = 0.3 (given up since t = 0.1, "
                               "by at most 0.7 mol/L)")
    assert "TR high limit given up at t = 0.4" in events[4][1][1]
    assert watch.episodes == 3
    [warning] = watch.take_warnings()  # one warning, at the first episode
    assert "cannot reach the Cb setpoint" in warning and "0.5 mol/L" in warning
    assert watch.take_warnings() == ()


def test_episodes_are_runs_of_consecutive_cycles_with_their_largest_miss():
    frame = pd.DataFrame({"cycle": range(6), "time": 0.5 * np.arange(6),
                          "Cb.given_up_setpoint": [NAN, 0.5, 0.7, NAN, NAN, 0.2],
                          "TR.given_up_high": [NAN] * 5 + [1.5]})
    found = episodes(frame)
    assert found == [Episode("Cb", "setpoint", 0.5, 1.0, 2, 0.7, False),
                     Episode("Cb", "setpoint", 2.5, 2.5, 1, 0.2, True),
                     Episode("TR", "high", 2.5, 2.5, 1, 1.5, True)]
    assert found[0].describe("mol/L", "h") == ("Cb setpoint given up from t = 0.5 to 1 h, "
                                               "2 cycles; largest miss 0.7 mol/L")
    assert found[2].describe("degC", "h").endswith("(until the end of the run), 1 cycle; "
                                                   "largest miss 1.5 degC")


def test_runs_logged_with_one_event_per_cycle_read_as_episodes_too():
    frame = pd.DataFrame({"cycle": range(4), "time": [0.0, 1.0, 2.0, 3.0]})
    events = pd.DataFrame({"cycle": [1, 2, 3], "t": [1.0, 2.0, 3.0],
                           "kind": ["given_up"] * 3,
                           "message": ["Cb setpoint (rank 0) by 0.3", "Cb setpoint (rank 0) by 0.9",
                                       "Cb setpoint (rank 0) by 0.4"]})
    assert episodes(frame, events) == [Episode("Cb", "setpoint", 1.0, 3.0, 3, 0.9, True)]
    assert episodes(frame) == []

