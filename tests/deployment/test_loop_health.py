"""The deployed loop's health checks on real snapshots, without a server.

Each check is one stage method of :class:`DeployedLoop` fed with
:class:`Snapshot` values as the gateway makes them; the expected problems,
events and readings follow the module's documented rules (a bad mode or
setpoint is a problem, a bad remote setpoint an event, staleness judged
on the server's clock, re-entry after ``reentry_cycles`` healthy cycles).
"""

from __future__ import annotations

import json
import math
import re
import time

import numpy as np
import pytest

from apc.controller import Mode
from local_support import T0, bad, config, good, later, snapshot, uncertain
from twin.core.errors import InputError
from twin.core.quality import Quality, Reading
from twin.orchestration.opcua.cycle import Health
from twin.orchestration.opcua.deploy import DeployedLoop



# ------------------------------------------------------------ construction

def test_a_new_loop_waits_and_has_started_a_deployed_run_in_its_store(tmp_path):
    cfg = config(tmp_path / "cfg")
    folder = tmp_path / "a" / "b"           # made with its parents
    loop = DeployedLoop(cfg, folder)
    again = DeployedLoop(cfg, folder)       # a second run in the same folder
    try:
        assert (folder / "cycles.sqlite").is_file() and loop.store.path == folder / "cycles.sqlite"
        rows = again.store.db.execute("SELECT id, kind, model, time_unit, config FROM run "
                                      "ORDER BY id").fetchall()
        assert [r[:4] for r in rows] == [(1, "deployed", cfg.url, "s"), (2, "deployed", cfg.url, "s")]
        assert json.loads(rows[0][4])["tags"]["url"] == cfg.url
        assert (loop.state, loop.needs_operator, loop.seen_out_of_cascade) == ("waiting", False, False)
        assert (loop.healthy_cycles, loop.overruns, loop.heartbeat, loop.errors) == (0, 0, 0, 0)
        assert loop.controller is None and loop.rto is None and loop.cycle_seconds == []
        assert loop.mv_names == ["v1", "v2"] and loop.dv_names == []
        assert loop.gateway.url == cfg.url
    finally:
        loop.store.close()
        again.store.close()


def test_a_tag_map_without_a_measured_variable_is_refused_when_the_loop_is_made(tmp_path):
    path = tmp_path / "cfg" / "deploy.toml"
    from local_support import write_deploy

    write_deploy(tmp_path / "cfg", dv=True)
    text = path.read_text().replace("[tags.tags.z_F]", "[tags.tags.z_F_unused]")
    path.write_text(text)
    from twin.orchestration.opcua.deploy_config import load_deploy

    with pytest.raises(InputError) as err:
        DeployedLoop(load_deploy(path), tmp_path / "run")
    assert str(err.value) == "deploy tag map: no tag for z_F; mapped: x_D, x_B, F, z_F_unused"


def test_the_mvs_and_measured_disturbances_come_from_the_controller(make_loop):
    loop = make_loop(dv=True)
    assert loop.mv_names == ["L_T", "V_B"] and loop.dv_names == ["F", "z_F"]


# ------------------------------------------------------------ base loops through the gate

def test_good_modes_and_setpoints_are_healthy_and_remembered(loop):
    health, events = Health(), []
    loop._gate_loops(snapshot(setpoints={"v1": good(3.25), "v2": good(4.5)}), health, events)
    assert health.ok and events == []
    assert loop._last_sp == {"v1": 3.25, "v2": 4.5}


def test_an_unreadable_mode_or_setpoint_is_a_problem_and_the_last_good_setpoint_stays(loop):
    loop._gate_loops(snapshot(setpoints={"v1": good(3.25), "v2": good(4.5)}), Health(), [])
    health, events = Health(), []
    loop._gate_loops(snapshot(modes={"v1": None, "v2": "CASCADE"},
                              setpoints={"v1": good(3.75), "v2": bad("BadSensorFailure")}),
                     health, events)
    assert health.problems == ["mode of base loop v1 unreadable",
                               "setpoint of base loop v2 unusable (BadSensorFailure)"]
    assert loop._last_sp == {"v1": 3.75, "v2": 4.5}
    assert events == []
    health = Health()
    loop._gate_loops(snapshot(setpoints={"v1": uncertain(3.0)}, loops=("v1",)), health, [])
    assert health.problems == ["setpoint of base loop v1 unusable (UncertainLastUsableValue)",
                               "mode of base loop v2 unreadable",
                               "setpoint of base loop v2 unusable (not read)"]
    assert loop._last_sp == {"v1": 3.75, "v2": 4.5}


def test_a_bad_remote_setpoint_is_an_event_once_until_it_is_good_again(loop):
    events = []
    remote = {"v1": good(3.0), "v2": bad("BadOutOfRange")}
    loop._gate_loops(snapshot(remote=remote), Health(), events)
    loop._gate_loops(snapshot(remote=remote), Health(), events)
    assert events == [("bad_value", "remote setpoint of v2 is BadOutOfRange")]
    loop._gate_loops(snapshot(remote={"v1": uncertain(3.0), "v2": good(3.0)}), Health(), events)
    loop._gate_loops(snapshot(remote=remote), Health(), events)
    health = Health()
    loop._gate_loops(snapshot(remote=remote), health, events)
    assert events[1:] == [("bad_value", "remote setpoint of v1 is UncertainLastUsableValue"),
                          ("bad_value", "remote setpoint of v2 is BadOutOfRange")]
    assert health.ok                        # an event, not a problem


# ------------------------------------------------------------ readings and staleness

def test_readings_carry_the_value_quality_and_server_time_and_stale_ones_are_bad(loop):
    stale_after = loop.config.watchdog.stale_after
    assert stale_after == 3.0
    hb_time = later(10)
    snap = snapshot({"h1": good(12.0, later(7)),      # exactly stale_after old: not stale
                     "h2": good(12.5, later(6.9))},   # older: stale
                    heartbeat_time=hb_time)
    readings = loop._readings(snap)
    assert readings["h1"] == Reading(12.0, Quality.GOOD, True, later(7).timestamp())
    assert readings["h2"] == Reading(12.5, Quality.BAD, True, later(6.9).timestamp())
    assert loop._pending_events == [("stale", "h2: no update for more than 3 s (server "
                                              "timestamps)")]
    loop._readings(snap)                                # still stale: no new event
    assert len(loop._pending_events) == 1
    readings = loop._readings(snapshot({"h1": good(12.0, later(9)), "h2": good(12.5, later(9))},
                                       heartbeat_time=hb_time))
    assert readings["h2"].quality is Quality.GOOD
    assert loop._pending_events[1:] == [("stale", "h2: updating again")]


def test_several_stale_tags_are_reported_in_name_order(make_loop):
    loop = make_loop(watchdog={"stale_after": 0.5})
    loop._readings(snapshot({"h2": good(1.0, T0), "h1": good(1.0, T0)}, heartbeat_time=later(0.6)))
    assert loop._pending_events == [
        ("stale", "h1: no update for more than 0.5 s (server timestamps)"),
        ("stale", "h2: no update for more than 0.5 s (server timestamps)")]
    loop._readings(snapshot({"h2": good(1.0, later(1)), "h1": good(1.0, later(1))},
                            heartbeat_time=later(1)))
    assert loop._pending_events[2:] == [("stale", "h1: updating again"), ("stale", "h2: updating again")]


def test_uncertain_stays_uncertain_bad_stays_bad_and_neither_is_reported_stale_unless_usable(loop):
    snap = snapshot({"h1": uncertain(11.0, later(9)), "h2": bad("BadSensorFailure", T0)},
                    heartbeat_time=later(10))
    readings = loop._readings(snap)
    assert readings["h1"] == Reading(11.0, Quality.UNCERTAIN, True, later(9).timestamp())
    assert readings["h2"].quality is Quality.BAD and math.isnan(readings["h2"].value)
    assert readings["h2"].timestamp == T0.timestamp()
    assert loop._pending_events == []                   # a Bad value is not "stale"
    readings = loop._readings(snapshot({"h1": uncertain(11.0, later(1)), "h2": bad()},
                                       heartbeat_time=later(10)))
    assert readings["h1"].quality is Quality.BAD
    assert loop._pending_events == [("stale", "h1: no update for more than 3 s (server "
                                              "timestamps)")]


def test_without_a_heartbeat_time_or_a_server_time_nothing_is_judged_stale(loop):
    readings = loop._readings(snapshot({"h1": good(12.0, T0), "h2": good(12.5, None)},
                                       heartbeat=None, heartbeat_time=None))
    assert readings["h1"] == Reading(12.0, Quality.GOOD, True, T0.timestamp())
    assert readings["h2"].quality is Quality.GOOD and math.isnan(readings["h2"].timestamp)
    readings = loop._readings(snapshot({"h1": good(12.0, T0), "h2": good(12.5, None)},
                                       heartbeat_time=later(100)))
    assert readings["h1"].quality is Quality.BAD and readings["h2"].quality is Quality.GOOD


# ------------------------------------------------------------ heartbeat and restart

def test_an_unreadable_server_heartbeat_is_a_problem(loop):
    health = Health()
    loop._watch_heartbeat(snapshot(heartbeat=None), health)
    assert health.problems == ["server heartbeat unreadable"]


def test_a_server_heartbeat_that_stands_still_longer_than_the_timeout_is_a_problem(make_loop):
    loop = make_loop(watchdog={"heartbeat_timeout": 0.3})
    health = Health()
    loop._watch_heartbeat(snapshot(heartbeat=7), health)
    started = time.monotonic()
    time.sleep(0.1)
    loop._watch_heartbeat(snapshot(heartbeat=7), health)
    assert health.ok                                    # still within the timeout
    time.sleep(0.3)
    loop._watch_heartbeat(snapshot(heartbeat=7), health)
    stalled = time.monotonic() - started
    (problem,) = health.problems
    seconds = float(re.fullmatch(r"server heartbeat stalled for (\d+\.\d) s", problem).group(1))
    assert 0.3 <= seconds <= stalled + 0.05
    health = Health()
    loop._watch_heartbeat(snapshot(heartbeat=8), health)   # it moved: healthy again
    loop._watch_heartbeat(snapshot(heartbeat=8), health)
    assert health.ok


def test_a_heartbeat_that_keeps_moving_is_healthy_however_long(make_loop):
    loop = make_loop(watchdog={"heartbeat_timeout": 0.2})
    health = Health()
    for beat in range(4):
        loop._watch_heartbeat(snapshot(heartbeat=beat), health)
        time.sleep(0.1)
    assert health.ok


def test_a_new_server_start_time_is_a_restart_event(loop):
    events = []
    loop._watch_restart(snapshot(start=T0), events)
    loop._watch_restart(snapshot(start=T0), events)
    loop._watch_restart(snapshot(start=None), events)       # unreadable: not a restart
    assert events == []
    loop._watch_restart(snapshot(start=later(60)), events)
    loop._watch_restart(snapshot(start=None), events)
    loop._watch_restart(snapshot(start=later(60)), events)
    assert events == [("restart", f"server restarted at {later(60).isoformat()}")]


# ------------------------------------------------------------ modes, entry and shedding

def test_mode_changes_are_events_and_a_loop_out_of_cascade_is_remembered(loop):
    assert loop._mode_events(snapshot()) == []
    assert not loop.seen_out_of_cascade
    assert loop._mode_events(snapshot(modes={"v1": None, "v2": "CASCADE"})) == [
        ("base_layer", "v1: CASCADE -> None")]
    assert not loop.seen_out_of_cascade                     # unreadable is not "out"
    assert loop._mode_events(snapshot(modes={"v1": "AUTO", "v2": "CASCADE"})) == [
        ("base_layer", "v1: None -> AUTO")]
    assert loop.seen_out_of_cascade
    assert loop._mode_events(snapshot(modes={"v1": "AUTO", "v2": "MANUAL"})) == [
        ("base_layer", "v2: CASCADE -> MANUAL")]


def test_waiting_the_loop_enters_after_one_healthy_cycle_with_every_loop_in_cascade(loop):
    assert not loop._may_enter(snapshot(modes={"v1": "AUTO", "v2": "CASCADE"}), Health())
    assert not loop._may_enter(snapshot(), Health(["server heartbeat unreadable"]))
    assert loop.healthy_cycles == 0
    assert loop._may_enter(snapshot(), Health())
    assert loop.healthy_cycles == 1


@pytest.mark.parametrize("reentry", [2, 3])
def test_after_a_communication_shed_reentry_takes_reentry_cycles_healthy_cycles(make_loop, reentry):
    loop = make_loop(watchdog={"reentry_cycles": reentry})
    loop._shed([], "gateway lost")
    entered = [loop._may_enter(snapshot(), Health()) for _ in range(reentry)]
    assert entered == [False] * (reentry - 1) + [True]
    assert loop.healthy_cycles == reentry
    loop._shed([], "gateway lost")
    assert [loop._may_enter(snapshot(), Health()),
            loop._may_enter(snapshot(), Health(["stale"])),
            loop._may_enter(snapshot(), Health())] == [False, False, False]
    assert loop.healthy_cycles == 1


def test_after_an_operator_shed_the_loop_waits_for_the_operator_to_hand_the_loops_back(loop):
    events = []
    loop._shed(events, "operator has loop v1 in AUTO", operator=True)
    assert loop.needs_operator
    assert [loop._may_enter(snapshot(), Health()) for _ in range(3)] == [False] * 3
    loop._mode_events(snapshot(modes={"v1": "AUTO", "v2": "CASCADE"}))
    assert not loop._may_enter(snapshot(modes={"v1": "AUTO", "v2": "CASCADE"}), Health())
    assert [loop._may_enter(snapshot(), Health()) for _ in range(2)] == [False, True]


def test_a_shed_records_why_stops_the_controller_and_forgets_the_healthy_cycles(loop):
    readings = {"h1": Reading(12.0), "h2": Reading(12.5)}
    loop.controller = loop._make_controller(readings, np.array([3.0, 3.0]), {})
    loop.controller.set_mode(Mode.ON, np.array([3.0, 3.0]))
    loop.state, loop.healthy_cycles, loop.seen_out_of_cascade = "active", 4, True
    loop.needs_operator = True
    events = []
    loop._shed(events, "read-back differs")
    assert events == [("shed", "shed to the base layer: read-back differs")]
    assert (loop.state, loop.needs_operator, loop.seen_out_of_cascade, loop.healthy_cycles) == \
        ("shed", False, False, 0)
    assert loop.controller.mode is Mode.OFF


# ------------------------------------------------------------ measured disturbances

def test_a_bad_disturbance_holds_its_last_good_value_until_it_is_good_again(make_loop):
    loop = make_loop(dv=True)
    events = []
    z = Reading(0.5)
    assert loop._disturbances({"F": Reading(1.25), "z_F": z}, events) == {"F": 1.25, "z_F": 0.5}
    nan = float("nan")
    assert loop._disturbances({"F": Reading(nan, Quality.BAD), "z_F": z}, events) == \
        {"F": 1.25, "z_F": 0.5}
    assert loop._disturbances({"F": Reading(4.0, Quality.BAD), "z_F": Reading(0.45)},
                              events) == {"F": 1.25, "z_F": 0.45}
    assert loop._disturbances({"F": Reading(float("inf")), "z_F": z}, events) == \
        {"F": 1.25, "z_F": 0.5}
    assert events == [("bad_value", "disturbance F is bad: holding its last good value")]
    assert loop._disturbances({"F": Reading(1.5, Quality.UNCERTAIN), "z_F": z}, events) == \
        {"F": 1.5, "z_F": 0.5}
    assert events[1:] == [("bad_value", "disturbance F is good again")]
    assert loop._disturbances({"F": Reading(1.75), "z_F": z}, events) == {"F": 1.75, "z_F": 0.5}
    assert len(events) == 2


def test_a_disturbance_bad_from_the_start_has_no_value_to_hold(make_loop):
    loop = make_loop(dv=True)
    events = []
    assert loop._disturbances({"F": Reading(1.0), "z_F": Reading(0.5, Quality.BAD)},
                              events) == {"F": 1.0}
    assert events == [("bad_value", "disturbance z_F is bad: holding its last good value")]


# ------------------------------------------------------------ overruns

def test_overruns_are_counted_in_a_row_and_reset_by_a_cycle_within_its_period(loop):
    for work, expected in [(0.2, 1), (0.3, 2), (0.1, 0), (0.100001, 1), (0.1, 0)]:
        loop._check_overrun(work, 0.1)
        assert loop.overruns == expected
