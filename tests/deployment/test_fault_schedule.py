"""The schedule of a server's faults: what is due when, and how a timed fault ends."""

from __future__ import annotations

from twin.orchestration.opcua.faults import FaultEvent, FaultInjector, take_due


def _due(schedule, t):
    out = []
    while (f := take_due(schedule, t)) is not None:
        out.append((f.time, f.kind, f.tag))
    return out


def test_a_timed_heartbeat_stall_ends_without_clearing_other_faults():
    schedule = sorted([FaultEvent(time=1.0, kind="freeze", tag="h1", duration=10.0),
                       FaultEvent(time=2.0, kind="stall_heartbeat", duration=3.0)],
                      key=lambda e: e.time)
    assert _due(schedule, 0.5) == []
    assert _due(schedule, 2.0) == [(1.0, "freeze", "h1"), (2.0, "stall_heartbeat", "")]
    assert _due(schedule, 5.0) == [(5.0, "resume_heartbeat", "")]
    assert _due(schedule, 11.0) == [(11.0, "clear", "h1")]
    assert schedule == []


def test_an_operator_clear_without_a_tag_still_clears_everything():
    faults = FaultInjector(["h1", "h2"])
    faults.inject("h1", "freeze", 0.0, 0.0)
    faults.heartbeat_stalled = True
    faults.clear("")
    assert faults.faults == {} and not faults.heartbeat_stalled
