"""The deployed loop's decision on real snapshots and a real controller, without a server.

What one cycle decides after its read (:meth:`DeployedLoop._decide`): wait
for good setpoints, engage, shed on a problem, on a loop taken out of
CASCADE and on a controller shed, re-enter bumplessly; what it writes
(the controller's moves clamped again to hard and rate limits, loops in
CASCADE only) and what it records.
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from apc.controller import Mode, Output, VarStatus
from local_support import bad, good, later, snapshot
from twin.core.quality import Quality, Reading
from twin.core.steady import find_steady_state
from twin.orchestration.loop.config import EventConfig
from twin.orchestration.opcua.cycle import CycleRecord, Health, blind_info

MAX_MOVE = 0.5          # of both pumps in tests/deployment/data/controller.toml



def cycle(loop, snap, number: int = 0):
    """The read stage's checks of ``snap`` (as :meth:`DeployedLoop._read` makes them), then
    the decision; the cycle's record and decision."""
    rec = CycleRecord(number, float(number), 1000.0 + number)
    loop._watch_restart(snap, rec.events)
    loop._watch_heartbeat(snap, rec.health)
    rec.events += loop._mode_events(snap)
    loop._gate_loops(snap, rec.health, rec.events)
    return rec, asyncio.run(loop._decide(rec, snap))


def values_of(rec, role: str) -> dict:
    return {v[0]: v[2:] for v in rec.values if v[1] == role}


# ------------------------------------------------------------ waiting and engaging

def test_without_a_good_setpoint_from_every_loop_the_loop_waits_and_builds_nothing(loop):
    snap = snapshot({"h1": good(12.0, later(5)), "h2": good(12.5, later(1))},
                    heartbeat_time=later(5), setpoints={"v1": good(3.0), "v2": bad("BadSensorFailure")})
    rec, decision = cycle(loop, snap)
    assert decision is None and loop.controller is None and loop.state == "waiting"
    assert rec.events == [
        ("stale", "h2: no update for more than 3 s (server timestamps)"),
        ("waiting", "no good setpoint read yet from every base loop: setpoint of base loop v2 "
                    "unusable (BadSensorFailure)")]
    assert loop._pending_events == []
    assert rec.info == blind_info(rec, "waiting", "no data") == {
        "wall_time": 1000.0, "mode": "waiting", "write": False, "solve_status": "no data",
        "shed": False}


def test_a_healthy_cycle_engages_from_the_loops_setpoints_and_writes_clamped_moves(loop):
    rec, decision = cycle(loop, snapshot())
    assert rec.events[0] == ("engaged", "in control from setpoints v1=3, v2=3")
    assert loop.state == "active" and decision.active
    assert loop.controller.mode is Mode.ON
    # both levels below their setpoints (12.263, 12.783): both pumps up, by at most max_move
    assert set(decision.written) == {"v1", "v2"}
    for name, value in decision.written.items():
        assert type(value) is float and 3.0 < value <= 3.0 + MAX_MOVE
    assert [v for v in rec.values if v[1] == "mv"] == [
        ("v1", "mv", decision.written["v1"], "good", 0.0, 0.0),
        ("v2", "mv", decision.written["v2"], "good", 0.0, 0.0)]
    assert values_of(rec, "loop_sp") == {"v1": (3.0, "CASCADE", 0.0, 0.0),
                                         "v2": (3.0, "CASCADE", 0.0, 0.0)}
    assert values_of(rec, "meas")["h1"] == (12.0, "good", later(0).timestamp(), 0.0)
    assert rec.info["mode"] == "on" and rec.info["write"] is True and rec.info["shed"] is False
    assert rec.info["solve_status"] == "ok" and rec.info["wall_time"] == 1000.0


def test_moves_from_setpoints_the_loops_have_not_taken_yet_are_clamped_against_the_held_ones(loop):
    cycle(loop, snapshot())             # the loops still hold 3.0 and the controller moves on
    rec, decision = cycle(loop, snapshot(), 1)
    assert decision.active and decision.written == {"v1": 3.5, "v2": 3.5}
    ((kind, message),) = rec.events
    assert kind == "clamped" and message.endswith(" clamped to v1=3.5, v2=3.5")
    assert [v for v in rec.values if v[1] == "mv"] == [("v1", "mv", 3.5, "good", 1.0, 1.0),
                                                      ("v2", "mv", 3.5, "good", 1.0, 1.0)]


def test_a_waiting_loop_with_a_problem_builds_its_controller_but_does_not_engage(loop):
    rec, decision = cycle(loop, snapshot(heartbeat=None))
    assert loop.state == "waiting" and not decision.active and decision.written == {}
    assert loop.controller is not None and loop.controller.mode is Mode.OFF
    assert rec.info["mode"] == "waiting" and rec.info["write"] is False
    assert rec.info["solve_status"] == "off"
    assert values_of(rec, "mv") == {"v1": (3.0, "good", 0.0, 0.0), "v2": (3.0, "good", 0.0, 0.0)}
    assert rec.events == []


# ------------------------------------------------------------ shedding

def test_a_problem_while_active_sheds_with_every_problem_named(loop):
    cycle(loop, snapshot())
    rec, decision = cycle(loop, snapshot(heartbeat=None, modes={"v1": None, "v2": "CASCADE"}), 1)
    assert loop.state == "shed" and not loop.needs_operator
    assert not decision.active and decision.written == {}
    assert ("shed", "shed to the base layer: server heartbeat unreadable; mode of base loop v1 "
                    "unreadable") in rec.events
    assert [e for e in rec.events if e[0] == "shed"] == [rec.events[-1]]
    assert rec.info["mode"] == "shed" and rec.info["write"] is False and rec.info["shed"] is False
    assert loop.controller.mode is Mode.OFF


def test_a_loop_taken_out_of_cascade_is_an_operator_shed(loop):
    cycle(loop, snapshot())
    rec, decision = cycle(loop, snapshot(modes={"v1": "AUTO", "v2": "MANUAL"}), 1)
    assert rec.events == [("base_layer", "v1: CASCADE -> AUTO"),
                          ("base_layer", "v2: CASCADE -> MANUAL"),
                          ("shed", "shed to the base layer: operator has loop v1 in AUTO, v2 in "
                                   "MANUAL")]
    assert loop.state == "shed" and loop.needs_operator and decision.written == {}


CRITICAL = """
[controller]
model = "quadruple_tank"
sample_time = 1.0
prediction_horizon = 10
measurements = [{ name = "h1", noise_std = 0.01 }, { name = "h2", noise_std = 0.01 }]
cv = [{ name = "h1", setpoint = 12.263, weight = 1.0, critical = true }]
mv = [{ name = "v2", low = 0.0, high = 10.0 }, { name = "v1", low = 0.0, high = 10.0 }]
"""
"""h1 critical, and the MVs in the other order."""


def test_a_controller_shed_is_an_operator_shed_logged_once(make_loop):
    loop = make_loop(controller=CRITICAL)
    cycle(loop, snapshot())
    rec, decision = cycle(loop, snapshot({"h1": bad("BadSensorFailure"), "h2": good(12.5)}), 1)
    assert loop.state == "shed" and loop.needs_operator and not decision.active
    assert rec.events == [
        ("shed", "shed to the base layer: controller shed: critical CV bad; safe state 'hold'"),
        ("event", "critical CV 'h1' is bad"),
        ("event", "shed: critical CV bad; safe state 'hold'")]
    assert rec.info["mode"] == "shed" and rec.info["shed"] is True and rec.info["write"] is False


def test_after_a_communication_shed_the_loop_reenters_bumplessly_from_the_held_setpoints(loop):
    cycle(loop, snapshot())
    cycle(loop, snapshot(heartbeat=None), 1)
    held = {"v1": good(3.25), "v2": good(2.75)}
    rec, decision = cycle(loop, snapshot(setpoints=held), 2)
    assert loop.state == "shed" and decision.written == {}
    assert rec.info["mode"] == "shed"
    rec, decision = cycle(loop, snapshot(setpoints=held), 3)
    assert rec.events[0] == ("reentry", "in control from setpoints v1=3.25, v2=2.75")
    assert loop.state == "active"
    assert abs(decision.written["v1"] - 3.25) <= MAX_MOVE
    assert abs(decision.written["v2"] - 2.75) <= MAX_MOVE


# ------------------------------------------------------------ disturbances and events

def test_a_controller_is_built_from_the_readings_and_the_setpoints_held(loop):
    readings = {"h1": Reading(12.5), "h2": Reading(12.0, Quality.BAD)}
    c = loop._make_controller(readings, np.array([3.25, 2.75]), {})
    steady = find_steady_state(loop.internal, u=loop.internal.u0({"v1": 3.25, "v2": 2.75})).x
    x = c.estimator.estimate().x
    assert x[0] == 12.5                             # measured and usable: the reading
    np.testing.assert_allclose(x[1:], steady[1:], rtol=1e-9)   # else the steady state
    assert c.u_now.tolist() == [3.25, 2.75]
    assert c.mode is Mode.OFF and loop.rto is None


def test_measured_disturbances_reach_the_controller_and_the_record(make_loop):
    loop = make_loop(dv=True)
    snap = snapshot({"x_D": good(0.99), "x_B": good(0.01), "F": good(1.25), "z_F": good(0.5)},
                    loops=("L_T", "V_B"), setpoints={"L_T": good(2.7), "V_B": good(3.2)})
    rec, decision = cycle(loop, snap)
    c = loop.controller
    assert c.w.tolist() == [1.25, 0.5]
    assert c.u_now.tolist() == [decision.written["L_T"], decision.written["V_B"]]
    assert values_of(rec, "dv") == {"F": (1.25, None, 0.0, 0.0), "z_F": (0.5, None, 0.0, 0.0)}
    snap = snapshot({"x_D": good(0.99), "x_B": good(0.01), "F": bad(), "z_F": good(0.5)},
                    loops=("L_T", "V_B"), setpoints={"L_T": good(2.7), "V_B": good(3.2)})
    rec, _ = cycle(loop, snap, 1)
    assert values_of(rec, "dv") == {"F": (1.25, None, 1.0, 1.0), "z_F": (0.5, None, 1.0, 1.0)}
    assert c.w.tolist() == [1.25, 0.5]
    assert ("bad_value", "disturbance F is bad: holding its last good value") in rec.events


def test_scheduled_events_apply_now_and_again_to_a_controller_built_later(loop):
    loop._apply_event(EventConfig(time=0.0, setpoint={"h1": 13.0}))
    loop._apply_event(EventConfig(time=1.0, setpoint_step={"h2": -0.5}))
    readings = {"h1": Reading(12.0), "h2": Reading(12.5)}
    loop.controller = loop._make_controller(readings, np.array([3.0, 3.0]), {})
    assert loop.controller.setpoint("h1") == 13.0 and loop.controller.setpoint("h2") == 12.283
    loop._apply_event(EventConfig(time=2.0, limits={"v1": {"max_move": 0.25}}))
    assert loop.controller.max_move.tolist() == [0.25, MAX_MOVE]
    rebuilt = loop._make_controller(readings, np.array([3.0, 3.0]), {})
    assert rebuilt.max_move.tolist() == [0.25, MAX_MOVE] and rebuilt.setpoint("h1") == 13.0


# ------------------------------------------------------------ the setpoints written

def _output(mv: dict[str, float], write: bool = True) -> Output:
    return Output(t=0.0, mode=Mode.ON, write=write, mv=mv,
                  mv_status={n: VarStatus.GOOD for n in mv}, cv_status={}, solve_status="ok")


@pytest.fixture
def controlled(loop):
    loop.controller = loop._make_controller({"h1": Reading(12.0), "h2": Reading(12.5)},
                                            np.array([3.0, 3.0]), {})
    return loop


@pytest.mark.parametrize("wanted,now,safe", [
    ({"v1": 11.0, "v2": 3.6}, [3.0, 3.3], {"v1": 3.5, "v2": 3.6}),      # a rate limit
    ({"v1": 3.6, "v2": 3.0}, [3.0, 3.0], {"v1": 3.5, "v2": 3.0}),       # by 0.1 only
    ({"v1": -1.0, "v2": 10.25}, [0.2, 9.9], {"v1": 0.0, "v2": 10.0}),   # hard limits first
])
def test_setpoints_are_clamped_again_to_hard_and_rate_limits_with_an_event(controlled, wanted,
                                                                           now, safe):
    events = []
    written = controlled._setpoints(_output(wanted), np.array(now), snapshot(), events)
    assert written == pytest.approx(safe, abs=1e-12)
    assert all(type(v) is float for v in written.values())
    fmt = ", ".join(f"{n}={v:.6g}" for n, v in wanted.items())
    assert events == [("clamped", f"setpoints {fmt} clamped to "
                                  + ", ".join(f"{n}={v:.6g}" for n, v in safe.items()))]


def test_setpoints_within_the_limits_are_written_as_decided_without_an_event(controlled):
    events = []
    written = controlled._setpoints(_output({"v1": 3.4999999999999, "v2": 2.6}),
                                    np.array([3.0, 3.0]), snapshot(), events)
    assert written == {"v1": 3.4999999999999, "v2": 2.6} and events == []


def test_setpoints_go_only_to_loops_in_cascade_and_nothing_when_the_controller_holds(controlled):
    snap = snapshot(modes={"v1": "CASCADE", "v2": "AUTO"})
    assert controlled._setpoints(_output({"v1": 3.25, "v2": 3.25}), np.array([3.0, 3.0]), snap,
                                 []) == {"v1": 3.25}
    assert controlled._setpoints(_output({"v1": 3.25, "v2": 3.25}, write=False),
                                 np.array([3.0, 3.0]), snapshot(), []) == {}


def test_setpoints_are_shown_with_six_significant_digits_by_mv(loop):
    assert loop._fmt([3.1234567, 10.0]) == "v1=3.12346, v2=10"


def test_a_health_with_problems_is_not_ok():
    assert Health().ok and not Health(["x"]).ok
