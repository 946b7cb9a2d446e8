"""The deployed loop's commit and error handling on a real cycle store, without a server.

Nothing is written that was not committed first: a cycle the store refuses
(here: a cycle number it already holds, the store's own integrity check;
or a closed store) writes nothing, sheds and keeps its events for the next
commit. An exception in a stage is an ``error`` event naming the stage and
a shed; after ``watchdog.max_errors`` failed cycles the loop stops with one
line. Also the cycle guard's own pieces: :func:`clamp_moves`,
:class:`StageFailed`, :func:`blind_info`.
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.core.errors import InputError, RunStopped
from twin.core.quality import Reading
from twin.orchestration.opcua.cycle import CycleRecord, StageFailed, blind_info, clamp_moves
from twin.orchestration.opcua.gateway import GatewayError

INFO = {"wall_time": 1000.0, "mode": "on", "write": True, "solve_status": "ok", "shed": False}



def stored_events(loop) -> list[tuple]:
    return [tuple(r) for r in loop.store.db.execute(
        "SELECT cycle, t, kind, message FROM event ORDER BY rowid").fetchall()]


def failure(stage: str, exc: Exception) -> StageFailed:
    """The :class:`StageFailed` a stage raises when ``exc`` leaves it."""
    rec = CycleRecord(0, 0.0, 0.0)
    with pytest.raises(StageFailed) as caught:
        with rec.stage(stage):
            raise exc
    return caught.value


# ------------------------------------------------------------ the cycle guard's pieces

def test_moves_are_clamped_to_hard_limits_then_rate_limits_then_hard_limits_again():
    values = np.array([5.0, -1.0, 20.0, 3.2, 11.0])
    previous = np.array([4.0, 0.0, 9.8, 3.0, 12.0])
    low, high = np.zeros(5), np.full(5, 10.0)
    max_move = np.array([0.5, np.inf, 0.5, 0.0, 0.5])
    out = clamp_moves(values, previous, low, high, max_move)
    # 5 -> 4.5 (rate), -1 -> 0 (hard, no rate limit), 20 -> 10 (hard) within 9.8 +- 0.5,
    # 3.2 -> 3.0 (no move allowed), 11 -> 10: the hard limit wins over 12 - 0.5
    assert out.tolist() == [4.5, 0.0, 10.0, 3.0, 10.0]
    assert values.tolist() == [5.0, -1.0, 20.0, 3.2, 11.0]     # the input is left alone
    assert clamp_moves(np.array([3.6]), np.array([3.0]), np.zeros(1), np.ones(1) * 10,
                       np.array([0.5])).tolist() == [3.5]
    assert clamp_moves(np.array([2.4]), np.array([3.0]), np.zeros(1), np.ones(1) * 10,
                       np.array([0.5])).tolist() == [2.5]


def test_a_setpoint_without_a_rate_limit_does_not_depend_on_the_previous_one():
    # max_move = inf: only the hard limits apply, whatever (even unknown) the previous value
    out = clamp_moves(np.array([7.0, 5.0]), np.array([np.nan, 4.0]), np.zeros(2),
                      np.full(2, 10.0), np.array([np.inf, 0.5]))
    assert out.tolist() == [7.0, 4.5]


def test_a_stage_failure_names_the_stage_and_the_cause_in_one_line():
    failed = failure("read", GatewayError("read on opc.tcp://x failed:\n  TimeoutError"))
    assert (failed.stage, str(failed)) == ("read", "read")
    assert isinstance(failed.cause, GatewayError) and failed.__cause__ is failed.cause
    assert failed.reason == "read on opc.tcp://x failed: TimeoutError"
    assert failed.describe() == "read failed: read on opc.tcp://x failed: TimeoutError"
    assert failure("controller", ValueError("bad\tshape  (2,)")).reason == \
        "ValueError: bad shape (2,)"
    assert failure("rto", RuntimeError()).describe() == "rto failed: RuntimeError: no message"
    assert len(failure("write", ValueError("x" * 1000)).describe()) == 500
    again = CycleRecord(0, 0.0, 0.0)
    with pytest.raises(StageFailed) as caught:          # already a stage's failure: as it is
        with again.stage("commit"):
            raise failed
    assert caught.value is failed


def test_a_cycle_that_decided_nothing_records_only_its_state_and_status():
    rec = CycleRecord(4, 4.0, 1234.5)
    assert blind_info(rec, "shed", "error") == {"wall_time": 1234.5, "mode": "shed",
                                                "write": False, "solve_status": "error",
                                                "shed": False}


# ------------------------------------------------------------ commit

def test_a_cycle_is_committed_with_its_values_and_events_and_its_record_emptied(loop):
    rec = CycleRecord(0, 0.5, 1000.0, events=[("engaged", "in control")],
                      values=[("h1", "meas", 12.0, "good", 0.25, 0.5)], info=dict(INFO))
    assert loop._commit(rec) is True
    assert rec.events == [] and loop._unlogged == []
    row = loop.store.db.execute("SELECT cycle, t, wall_time, mode, write, solve_status, shed "
                                "FROM cycle").fetchall()
    assert row == [(0, 0.5, 1000.0, "on", 1, "ok", 0)]
    assert loop.store.db.execute("SELECT cycle, name, role, value, quality, source_time, "
                                 "server_time FROM value").fetchall() == [
        (0, "h1", "meas", 12.0, "good", 0.25, 0.5)]
    assert stored_events(loop) == [(0, 0.5, "engaged", "in control")]


def test_a_cycle_without_a_decision_is_committed_with_the_loops_state(loop):
    assert loop._commit(CycleRecord(2, 2.0, 1002.0))
    assert loop.store.db.execute("SELECT cycle, t, wall_time, mode, write, solve_status, shed "
                                 "FROM cycle").fetchall() == [(2, 2.0, 1002.0, "waiting", 0, "",
                                                               0)]


def test_a_cycle_the_store_refuses_writes_nothing_sheds_and_keeps_its_events(loop):
    assert loop._commit(CycleRecord(3, 3.0, 1003.0, info=dict(INFO)))
    loop.state = "active"
    rec = CycleRecord(3, 3.5, 1003.5, events=[("late", "1 tick late")], info=dict(INFO))
    assert loop._commit(rec) is False                   # cycle 3 is there already
    why = (f"cycle store '{loop.store.path}': recording cycle 3 failed: UNIQUE constraint failed: "
           "cycle.run, cycle.cycle")
    assert loop.state == "shed" and loop.errors == 1
    assert loop._unlogged == [("late", "1 tick late"),
                              ("shed", f"shed to the base layer: cycle store failed: {why}"),
                              ("error", f"commit failed: {why}; cycle 3 not recorded, nothing "
                                        "written")]
    assert loop._last_failure.stage == "commit" and rec.events == [("late", "1 tick late")]
    assert stored_events(loop) == []
    assert loop._commit(CycleRecord(4, 4.0, 1004.0, events=[("x", "y")], info=dict(INFO)))
    assert [e[:3] for e in stored_events(loop)] == [(4, 4.0, "late"), (4, 4.0, "shed"),
                                                    (4, 4.0, "error"), (4, 4.0, "x")]
    assert loop._unlogged == [] and loop.errors == 1


def test_a_refused_cycle_of_a_loop_not_in_control_is_an_error_without_a_shed(loop):
    assert loop._commit(CycleRecord(0, 0.0, 1000.0))
    assert not loop._commit(CycleRecord(0, 0.0, 1000.0, events=[("a", "b")]))
    assert loop.state == "waiting" and loop.errors == 1
    assert [k for k, _ in loop._unlogged] == ["a", "error"]
    assert not loop._commit(CycleRecord(0, 0.0, 1000.0))
    assert loop.errors == 2 and [k for k, _ in loop._unlogged] == ["a", "error", "error"]


def test_events_of_the_write_stages_are_committed_after_them(loop):
    rec = CycleRecord(5, 5.0, 1005.0)
    loop._commit_events(rec)
    assert stored_events(loop) == []
    rec.events = [("shed", "read-back differs"), ("clamped", "v1")]
    loop._commit_events(rec)
    assert stored_events(loop) == [(5, 5.0, "shed", "read-back differs"), (5, 5.0, "clamped", "v1")]
    assert rec.events == [] and loop.errors == 0


def test_events_the_store_cannot_take_are_kept_and_count_as_a_failed_cycle(loop):
    loop._unlogged = [("late", "kept before")]
    loop.errors = 2                                     # two failed cycles already
    loop.store.db.close()                               # the store is gone
    rec = CycleRecord(6, 6.0, 1006.0, events=[("shed", "read-back differs")])
    loop._commit_events(rec)
    assert loop._unlogged == [("late", "kept before"), ("shed", "read-back differs")]
    assert rec.events == [] and loop.errors == 3
    assert loop._last_failure.describe().startswith(
        f"commit failed: cycle store '{loop.store.path}': recording an event failed: ")


# ------------------------------------------------------------ errors in stages

@pytest.fixture
def active(loop):
    loop.controller = loop._make_controller({"h1": Reading(12.0), "h2": Reading(12.5)},
                                            np.array([3.0, 3.0]), {})
    loop.state, loop.rto = "active", "an RTO"
    return loop


@pytest.mark.parametrize("stage", ["controller", "rto"])
def test_a_failed_controller_or_rto_is_dropped_to_be_rebuilt_and_the_loop_sheds(active, stage):
    rec = CycleRecord(7, 7.0, 1007.0, values=[("h1", "meas", 1.0, "good", 7.0, 7.0)],
                      info=dict(INFO))
    failed = failure(stage, ValueError("singular"))
    active._error(rec, failed)
    assert rec.failed and active.errors == 1 and active._last_failure is failed
    assert active.controller is None and active.rto is None
    assert rec.events == [("error", f"{stage} failed: ValueError: singular"),
                          ("shed", f"shed to the base layer: {stage} failed: ValueError: singular")]
    assert active.state == "shed"
    assert rec.info == blind_info(rec, "shed", "error") and rec.values == []


def test_a_failed_read_keeps_the_controller_and_records_only_the_error(active):
    rec = CycleRecord(8, 8.0, 1008.0, values=[("h1", "meas", 1.0, "good", 8.0, 8.0)])
    controller = active.controller
    active._error(rec, failure("read", InputError("tag map: bad NodeId")))
    assert active.controller is controller and active.rto == "an RTO"
    assert rec.events[0] == ("error", "read failed: tag map: bad NodeId")
    assert rec.info["solve_status"] == "error" and rec.values == []


@pytest.mark.parametrize("stage", ["write", "read-back", "commit"])
def test_a_failure_after_the_commit_keeps_the_committed_record(active, stage):
    rec = CycleRecord(9, 9.0, 1009.0, values=[("h1", "meas", 1.0, "good", 9.0, 9.0)],
                      info=dict(INFO))
    active._error(rec, failure(stage, OSError("broken pipe")))
    assert rec.info == INFO and rec.values == [("h1", "meas", 1.0, "good", 9.0, 9.0)]
    assert active.controller is not None and active.state == "shed" and rec.failed


def test_a_failure_while_not_in_control_is_recorded_without_a_shed(loop):
    rec = CycleRecord(1, 1.0, 1001.0)
    loop._error(rec, failure("read", OSError("gone")))
    assert rec.events == [("error", "read failed: OSError: gone")]
    assert loop.state == "waiting" and loop.errors == 1
    assert rec.info == blind_info(rec, "waiting", "error")


# ------------------------------------------------------------ stopping

def test_the_loop_stops_with_one_line_after_max_errors_failed_cycles(make_loop):
    loop = make_loop(watchdog={"max_errors": 2})
    loop._error(CycleRecord(0, 0.0, 0.0), failure("read", OSError("gone")))
    loop._stop_if_failing()                             # one of two: on
    assert loop._commit(CycleRecord(0, 0.0, 0.0))
    assert not loop._commit(CycleRecord(0, 0.0, 0.0))        # refused: the second failed cycle
    with pytest.raises(RunStopped) as stopped:
        loop._stop_if_failing()
    why = (f"cycle store '{loop.store.path}': recording cycle 0 failed: UNIQUE constraint failed: "
           "cycle.run, cycle.cycle")
    reason = ("deployed loop stopped after 2 failed cycles (watchdog.max_errors = 2); last: "
              f"commit failed: {why}; nothing written since, the base layer has control")
    assert str(stopped.value) == reason
    assert [e for e in stored_events(loop) if e[0] is None] == [
        (None, None, "error", f"commit failed: {why}; cycle 0 not recorded, nothing written"),
        (None, None, "stopped", reason)]
    assert loop._unlogged == []


def test_a_loop_whose_store_is_gone_still_stops(make_loop):
    loop = make_loop(watchdog={"max_errors": 1})
    loop._error(CycleRecord(0, 0.0, 0.0), failure("controller", ValueError("x")))
    loop.store.db.close()
    with pytest.raises(RunStopped, match=r"^deployed loop stopped after 1 failed cycles "):
        loop._stop_if_failing()
