"""Behaviour of the deployed loop's watchdog and write path, against the simulated hardware.

Each on a virtual clock in lockstep with the loop, so the tests can name the
cycle where each thing happens: a loop slower than its sample time (the
overrun shed), a server that keeps another value than the one written (the
read-back shed), a tick counter that jumps forward and back (the schedule
re-aligned), and a controller asking for moves beyond its limits (clamped
before anything is written).
"""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from hil_support import Lockstep, after_cycles, deployed_run, shed_counts, until_event, \
    until_logged
from test_faults import _complete, _no_writes_while_shed
from twin.orchestration.opcua.serve_config import MAX_SPEED


def test_a_loop_slower_than_its_sample_time_sheds_after_max_overruns(server_factory, tmp_path):
    # at the highest speed a 1 s sample time is 0.1 ms of real time: every cycle (reads,
    # a real NMPC solve, writes) overruns it, with the solver well within its own budget
    server = server_factory(clock="virtual", speed=MAX_SPEED)
    frame, events, cycles = deployed_run(server, tmp_path, 12.0, watchdog={"max_overruns": 4})
    _complete(cycles, 13)
    sheds = events[events.kind == "shed"]
    assert shed_counts(events) == {"overrun": 1}
    assert list(sheds.cycle) == [4]  # after cycles 0-3 overran
    assert sheds.message.iloc[0] == ("shed to the base layer: 4 cycles in a row overran the "
                                     "sample time")
    assert list(frame.write) == [True] * 4 + [False] * 9  # never back: it keeps overrunning
    assert set(frame.solve_status) <= {"ok", "off"}  # not the controller's own time budget
    assert not (events.kind == "reentry").any()
    _no_writes_while_shed(frame, events)


@pytest.mark.parametrize("tolerance", [1e-9, 1.0])
def test_a_setpoint_the_server_does_not_keep_sheds_on_read_back(server_factory, tmp_path,
                                                                 tolerance):
    # from plant time 10 to 15 the remote setpoint of v1 keeps the value it had at 10: the
    # server acknowledges each write and drops it
    server = server_factory(clock="virtual", faults=(
        '[[fault]]\ntime = 10.0\nkind = "stuck"\ntag = "Plant.BaseLayer.v1.RSP"\n'
        "duration = 5.0\n"))
    frame, events, cycles = deployed_run(
        server, tmp_path, 22.0, extra="[[event]]\ntime = 3.0\nsetpoint_step = { h1 = 2.0 }\n",
        watchdog={"readback_tolerance": tolerance})
    _complete(cycles, 23)
    v1 = dict(zip(frame.cycle, frame.v1))
    if tolerance == 1.0:  # every difference within 100 %: nothing to shed
        assert not (events.kind == "shed").any() and frame.write.all()
        assert abs(v1[11] - v1[10]) > 1e-3  # although the server held another value
        return
    sheds = events[events.kind == "shed"]
    # the write of cycle 10 took; from 11 on each write is lost: a shed, two healthy cycles,
    # a re-entry whose write is lost again, until the fault ends after cycle 15
    assert list(sheds.cycle) == [11, 13, 15]
    assert shed_counts(events) == {"communication": 3}
    assert sheds.message.iloc[0] == (f"shed to the base layer: read-back differs for v1 (wrote "
                                     f"{v1[11]:.6g}, server holds {v1[10]:.6g})")
    reentry = events[events.kind == "reentry"]
    assert list(reentry.cycle) == [13, 15, 17]
    assert sheds.message.str.contains(f"server holds {v1[10]:.6g}", regex=False).all()
    assert list(frame.write) == [True] * 12 + [False, True, False, True, False] + [True] * 6
    _no_writes_while_shed(frame, events)


def test_a_tick_counter_that_jumps_forward_and_back_realigns_the_schedule(server_factory,
                                                                           tmp_path):
    server = server_factory(clock="virtual")
    stop = asyncio.Event()

    async def restart():  # the counter goes back to 0: the server restarted
        store = tmp_path / "run" / "cycles.sqlite"
        await until_event(store, "resync")  # the jump forward has been seen
        await after_cycles(store, 20, server.kill)
        await until_event(store, "unreadable")
        await asyncio.get_running_loop().run_in_executor(None, server.start)
        back = await until_event(store, "reentry")
        await until_logged(store, "five cycles after the re-entry",
                           "SELECT CASE WHEN MAX(cycle) >= ? THEN 1 END FROM cycle", back + 5)
        stop.set()

    # after cycle 10 the server runs 8 ticks (2 cycles) ahead of the loop
    driver = Lockstep(server, jumps={10: 8})
    frame, events, cycles = deployed_run(server, tmp_path, 1000.0, [restart], driver=driver,
                                         stop=stop)
    _complete(cycles, len(cycles))
    resync = events[events.kind == "resync"]
    # The server serves its clients between the 12 ticks of the advance after cycle 10, so a
    # busy machine may let the loop read the counter part-way: cycle 11 then reads it 0-3
    # ticks late and cycle 12 finds itself 4 behind, or cycle 11 finds itself 4-7 behind;
    # on a quiet machine cycle 11 reads the whole jump, 8 ticks behind. Either way the
    # schedule is re-aligned once and every later cycle reads the plant at its tick.
    first = resync.iloc[0]
    behind = int(first.message.split()[0])
    print(f"the jump of 8 ticks seen at cycle {first.cycle}: {first.message}")
    assert first.message == f"{behind} ticks behind the server: schedule re-aligned"
    assert (first.cycle == 11 and 4 <= behind <= 8) or (first.cycle == 12 and behind == 4)
    assert len(resync) == 2 and resync.cycle.iloc[1] > 20
    assert resync.message.iloc[1].startswith("server tick counter went back to ")
    assert resync.message.iloc[1].endswith(": schedule re-aligned")
    assert (events.kind == "restart").sum() == 1
    late = events[events.kind == "late"]
    assert set(late.cycle) <= ({11} if first.cycle == 12 else set())  # the others on their tick
    assert shed_counts(events) == {"communication": 1}  # the server gone, not a resync
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-5:].all()


def test_moves_beyond_the_hard_and_rate_limits_are_clamped_before_they_are_written(
        server_factory, tmp_path, monkeypatch):
    """A controller that asks for too much (a test double over the real controller: a
    controller defect cannot be produced on demand) gets its moves clamped by the loop."""
    from apc.controller import Controller

    requests = {5.0: lambda sp: (50.0, -50.0),        # far beyond both limits
                6.0: lambda sp: (sp[0] + 0.2, 20.0),  # v1 within, v2 beyond
                11.0: lambda sp: (1.3, sp[1])}        # v1 above its new high limit 1.0
    step = Controller.step

    def asks_too_much(self, t, readings, mv_current, dv=None, x_plant=None):
        out = step(self, t, readings, mv_current, dv, x_plant)
        if t in requests and out.write:
            out.mv = dict(zip(("v1", "v2"), requests[t](list(mv_current))))
        return out

    monkeypatch.setattr(Controller, "step", asks_too_much)
    server = server_factory(clock="virtual")
    frame, events, cycles = deployed_run(
        server, tmp_path, 16.0, extra="[[event]]\ntime = 10.0\nlimits = { v1 = { high = 1.0 } }\n")
    _complete(cycles, 17)
    assert frame.write.all() and not (events.kind == "shed").any()
    row = frame.set_index("cycle")
    sp = {k: (row.at[k, "v1.loop_sp"], row.at[k, "v2.loop_sp"]) for k in row.index}
    written = {k: (row.at[k, "v1"], row.at[k, "v2"]) for k in row.index}
    # by hand: within max_move = 0.5 of the setpoints the loops hold, within 0..10 (v1: 1.0
    # from 10 on; a hard limit beyond the rate limit wins)
    assert written[5] == (sp[5][0] + 0.5, sp[5][1] - 0.5)
    assert written[6] == (sp[6][0] + 0.2, sp[6][1] + 0.5)
    assert sp[11][0] == 1.0 and written[11] == (1.0, sp[11][1])  # the rate allowed 1.5
    clamped = events[events.kind == "clamped"]
    assert {5, 6, 11} <= set(clamped.cycle)
    first = clamped[clamped.cycle == 5].message.iloc[0]
    assert first == (f"setpoints v1=50, v2=-50 clamped to v1={written[5][0]:.6g}, "
                     f"v2={written[5][1]:.6g}")
    for k in row.index:  # every cycle: what was written is within the limits ...
        high = (1.0 if k >= 10 else 10.0, 10.0)
        assert all(0.0 <= w <= h for w, h in zip(written[k], high))
        assert all(abs(w - s) <= 0.5 + 1e-12 or w == h for w, s, h in zip(written[k], sp[k], high))
    for k in list(row.index)[:-1]:  # ... and is what the base loops then hold
        assert np.allclose(sp[k + 1], written[k], rtol=0, atol=1e-12), k
