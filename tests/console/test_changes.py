"""Console changes reach the controller at the next cycle, by role, and are audited.

The loop is the CSTR example under its NMPC (``cstr_apc.toml``); requests
are inserted into the run's cycle store between cycles, exactly as a
console does, and the loop's own records show what happened.
"""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from twin.core.errors import InputError
from twin.orchestration.examples import example
from twin.orchestration.loop.changes import parse_value, request_change
from twin.core.config import read_toml
from twin.orchestration.loop.config import loop_from_dict
from twin.orchestration.loop.runner import ClosedLoop
from twin.orchestration.run_length import loop_with_duration


def run_with_requests(tmp_path, duration: float, requests: dict[int, list[tuple]],
                      events: list[dict] = ()):
    """Run the CSTR loop (with more ``[[event]]`` tables); after cycle k (0-based) insert
    ``requests[k]`` = [(user, role, name, field, value), ...]. The store's frame, the change
    rows, and the immediate refusals."""
    data = read_toml(example("cstr_apc.toml"))
    data["event"] = list(data.get("event", [])) + list(events)
    config, _ = loop_with_duration(loop_from_dict(data, example("cstr_apc.toml").parent), duration)
    loop = ClosedLoop(config, tmp_path / "run")
    refused_at_once = {}
    db = sqlite3.connect(loop.store.path)

    def progress(update):
        for user, role, name, field, value, *age in requests.get(update.done - 1, []):
            i, reason = request_change(db, loop.store.run_id, user, role, name, field, value)
            if age:  # asked that long ago [s]
                with db:
                    db.execute("UPDATE change SET requested = requested - ? WHERE id = ?",
                               (age[0], i))
            if reason:
                refused_at_once[i] = reason

    try:
        loop.run(progress)
        frame = loop.store.to_frame()
    finally:
        loop.close()
    rows = db.execute("SELECT id, user, role, name, field, old, new, status, reason, cycle "
                      "FROM change ORDER BY id").fetchall()
    db.close()
    keys = ("id", "user", "role", "name", "field", "old", "new", "status", "reason", "cycle")
    return frame, [dict(zip(keys, r)) for r in rows], refused_at_once


def test_an_operator_high_limit_is_used_from_the_next_cycle_and_audited(tmp_path):
    frame, changes, _ = run_with_requests(tmp_path, 0.3, {9: [("ann", "operator", "T_R", "high",
                                                               "131")]})
    (change,) = changes
    assert change["status"] == "applied" and change["cycle"] == 10
    assert (change["user"], change["role"], change["old"], change["new"]) == \
        ("ann", "operator", "140", "131")
    high = frame.set_index("cycle")["T_R.high"]
    assert high[9] == 140.0 and high[10] == 131.0 and (high[10:] == 131.0).all()
    # the controller acts on it: T_R ran at about 133 degC and is brought under the new limit
    t_r = frame.set_index("cycle")["T_R.plant"]
    assert t_r[5:10].mean() > 132.0
    assert t_r[40:].max() < 131.2, t_r[40:].max()


def test_refusals_viewer_validity_range_and_hostile_values(tmp_path):
    requests = {2: [("vic", "viewer", "T_R", "high", "131"),            # role: refused at once
                    ("ann", "operator", "T_K", "high", "150"),          # above hard_high 140
                    ("ann", "operator", "T_R", "high", "nan"),
                    ("ann", "operator", "T_R", "high", "1e300"),
                    ("ann", "operator", "T_R", "weight", "3"),          # engineer's field
                    ("ann", "operator", "T_Q", "high", "3"),            # no such variable
                    ("ed", "engineer", "T_K", "valid_high", "160"),
                    ("ann", "operator", "T_K", "high", "150"),          # now within its range
                    ("ed", "engineer", "C_b", "weight", "2")]}
    frame, changes, at_once = run_with_requests(tmp_path, 0.05, requests)
    by = [(c["role"], c["name"], c["field"], c["new"], c["status"]) for c in changes]
    assert by == [("viewer", "T_R", "high", "131", "refused"),
                  ("operator", "T_K", "high", "150", "refused"),
                  ("operator", "T_R", "high", "nan", "refused"),
                  ("operator", "T_R", "high", "1e300", "refused"),
                  ("operator", "T_R", "weight", "3", "refused"),
                  ("operator", "T_Q", "high", "3", "refused"),
                  ("engineer", "T_K", "valid_high", "160", "applied"),
                  ("operator", "T_K", "high", "150", "applied"),
                  ("engineer", "C_b", "weight", "2", "applied")]
    reasons = [c["reason"] for c in changes]
    assert reasons[0] == "role viewer may not change high" and changes[0]["cycle"] is None
    assert "outside its validity range [50, 140]" in reasons[1]
    assert "not a finite number" in reasons[2] and "not a finite number" in reasons[3]
    assert reasons[4] == "role operator may not change weight"
    assert "no CV or MV 'T_Q'" in reasons[5]
    assert all("\n" not in r for r in reasons)
    assert set(at_once) == {changes[i]["id"] for i in (0, 2, 3, 4)}
    last = frame.iloc[-1]
    assert last["T_K.high"] == 150.0 and last["T_K.valid_high"] == 160.0
    assert last["C_b.weight"] == 2.0 and last["T_R.high"] == 140.0


def test_warm_then_on_again_starts_from_the_mvs_as_they_are_without_a_bump(tmp_path):
    # in WARM the controller writes nothing; meanwhile an operator opens F by hand to 30 m3/h
    # (an input event at 0.1 h, cycle 20), far beyond one move (max_move 10) from the value
    # the controller last wrote (about 7.4). Back ON, the first move starts from 30 and keeps
    # to the rate limit: no step back to the old value
    requests = {14: [("ann", "operator", "controller", "mode", "warm")],
                24: [("ann", "operator", "controller", "mode", "on")]}
    frame, changes, _ = run_with_requests(tmp_path, 0.25, requests,
                                          [{"time": 0.1, "inputs": {"F": 30.0}}])
    assert [c["status"] for c in changes] == ["applied", "applied"]
    f = frame.set_index("cycle")
    assert (f.loc[15:24, "mode"] == "warm").all() and (f.loc[25:, "mode"] == "on").all()
    assert not f.loc[15:24, "write"].any()
    assert np.ptp(f.loc[15:19, "F"]) == 0.0 and (f.loc[20:24, "F"] == 30.0).all()
    assert f.loc[14, "F"] < 10.0
    first = f.loc[25, "F"] - 30.0
    assert first < -1.0                                   # the controller does act ...
    assert abs(first) <= 10.0 + 1e-9                      # ... from where F is, within a move
    assert f.loc[26, "F"] >= f.loc[25, "F"] - 10.0 - 1e-9
    assert np.ptp(f.loc[15:24, "Q_dot"]) == 0.0


def test_an_mv_out_of_service_is_held_and_returns(tmp_path):
    requests = {9: [("ann", "operator", "F", "service", "out")],
                19: [("ann", "operator", "F", "service", "in")]}
    frame, changes, _ = run_with_requests(tmp_path, 0.2, requests)
    assert [c["old"] for c in changes] == ["in", "out"]
    f = frame.set_index("cycle")
    assert np.ptp(f.loc[10:19, "F"]) == 0.0
    assert set(f.loc[10:19, "F.quality"]) == {"out of service"}
    assert f.loc[20, "F.low"] == 5.0 and f.loc[20, "F.high"] == 100.0
    assert np.ptp(f.loc[20:, "F"]) > 0.0


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(["mode", "setpoint", "low", "high", "service", "max_move",
                              "weight", "valid_low", "ack", "bogus"]),
       text=st.one_of(st.text(max_size=80), st.floats(allow_nan=True, allow_infinity=True),
                      st.integers(), st.booleans(), st.none()))
def test_any_value_is_in_its_domain_or_refused_in_one_line(field, text):
    try:
        value = parse_value(field, text)
    except InputError as exc:
        assert "\n" not in str(exc) and len(str(exc)) < 200
        return
    if field in ("mode", "service"):
        assert value in ("off", "warm", "on", "in", "out")
    else:
        assert value is None or (np.isfinite(value) and abs(value) <= 1e12)
        if field == "max_move":
            assert value > 0


def test_a_request_needs_a_known_field():
    db = sqlite3.connect(":memory:")
    from twin.orchestration.loop.store import SCHEMA

    db.executescript(SCHEMA)
    _, reason = request_change(db, 1, "ann", "operator", "T_R", "colour", "red")
    assert reason == "unknown field 'colour'"
    with pytest.raises(InputError, match="unknown field"):
        parse_value("colour", "red")


def test_a_stale_request_expires_and_one_left_at_the_end_is_refused(tmp_path):
    requests = {3: [("ann", "operator", "T_R", "high", "131", 120.0)],   # asked 2 min ago
                10: [("ann", "operator", "T_R", "high", "132")]}         # after the last cycle
    frame, changes, _ = run_with_requests(tmp_path, 0.05, requests)
    assert len(frame) == 11
    assert [(c["status"], c["reason"][:8]) for c in changes] == [("refused", "expired:"),
                                                                 ("refused", "the run ")]
    assert changes[1]["reason"] == "the run ended"
    assert (frame["T_R.high"] == 140.0).all()
