"""The deployed loop against a real OPC UA server in this process: whole cycles and runs.

The server is a bare asyncua server holding the tag map's nodes (no plant
behind it: the loops' setpoints stay where the test puts them), so each
cycle's reads, writes, read-backs and records can be checked exactly and
fast: a cycle writes the committed setpoints and the APC heartbeat, reads
them back and sheds on a difference; a gateway failure sheds, an exception
is an error event; runs are timed on the wall clock or on the server's
tick counter.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time

import pytest

from local_support import DATA, config, write_deploy
from twin.core.errors import InputError, RunStopped, TwinError
from twin.orchestration.opcua.cycle import CycleRecord, Decision, StageFailed
from twin.orchestration.opcua.deploy import DeployedLoop, run_deploy
from twin.orchestration.opcua.deploy_config import load_deploy




def records(folder, what: str = "event") -> list[tuple]:
    db = sqlite3.connect(folder / "cycles.sqlite")
    try:
        if what == "event":
            return db.execute("SELECT cycle, kind, message FROM event ORDER BY rowid").fetchall()
        if what == "cycle":
            return db.execute("SELECT cycle, t, mode, write, solve_status, wall_time FROM cycle "
                              "ORDER BY cycle").fetchall()
        return db.execute("SELECT cycle, name, role, value FROM value WHERE role = ? "
                          "ORDER BY cycle, name", (what,)).fetchall()
    finally:
        db.close()


def run_loop(cfg, folder, limit: float = 10.0, **options):
    """Run a loop to its end; the loop (closed) and its result."""
    async def main():
        loop = DeployedLoop(cfg, folder)
        try:
            return loop, await asyncio.wait_for(loop.run(**options), limit)
        finally:
            await loop.close()

    return asyncio.run(main())


def in_session(cfg, folder, body, limit: float = 10.0):
    """``await body(loop)`` with the loop's gateway connected (as :meth:`run` connects it)."""
    async def main():
        loop = DeployedLoop(cfg, folder)
        await loop.gateway.connect()
        try:
            return await asyncio.wait_for(body(loop), limit)
        finally:
            await loop.close()

    return asyncio.run(main())


# ------------------------------------------------------------ runs

def test_a_run_on_the_wall_clock_engages_writes_each_cycle_and_records_it(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.3,
                 extra="[run]\nduration = 2.0\n\n[[event]]\ntime = 1.0\nsetpoint = { h1 = 13.0 }\n")
    progress = []
    loop, result = run_loop(cfg, tmp_path / "run", progress=progress.append)
    assert (result.folder, result.store, result.cycles) == (tmp_path / "run",
                                                            tmp_path / "run" / "cycles.sqlite", 3)
    assert [u.fraction for u in progress] == pytest.approx([1 / 3, 2 / 3, 1.0])
    cycles = records(result.folder, "cycle")
    assert [c[:5] for c in cycles] == [(0, 0.0, "on", 1, "ok"), (1, 1.0, "on", 1, "ok"),
                                       (2, 2.0, "on", 1, "ok")]
    # cycle k starts at start + 0.3 k on the wall clock, or as soon as the one before it has
    # finished when that took longer (a loaded machine): never early, never waiting more
    walls = [c[5] - cycles[0][5] for c in cycles]
    work = loop.cycle_seconds
    assert len(work) == 3 and all(0 < s < 3.0 for s in work), work
    assert walls[1] >= 0.3 - 0.02 and walls[2] >= 0.6 - 0.02, walls
    assert walls[1] < max(0.3, work[0]) + 0.1 and walls[2] < max(0.6, walls[1] + work[1]) + 0.1
    in_a_row = 0
    for s in work:                      # overruns: cycles in a row that took longer than 0.3 s
        in_a_row = in_a_row + 1 if s > 0.3 else 0
    assert loop.overruns == in_a_row
    assert loop.heartbeat == 3 and plant.value("APC.Heartbeat") == 3
    written = {(c, n): v for c, n, _, v in records(result.folder, "mv")}
    assert plant.value("Plant.BaseLayer.v1.RSP") == written[(2, "v1")]
    assert plant.value("Plant.BaseLayer.v2.RSP") == written[(2, "v2")]
    setpoints = [(c, v) for c, n, _, v in records(result.folder, "setpoint") if n == "h1"]
    assert setpoints == [(0, 12.263), (1, 13.0), (2, 13.0)]    # the event at t = 1
    assert records(result.folder)[0] == (0, "engaged", "in control from setpoints v1=3, v2=3")
    assert loop.errors == 0


def test_cycles_on_the_wall_clock_start_a_period_apart_counted_from_the_start(plant, tmp_path):
    # six cycles of 0.3 s: a slow first one (the controller is built) is caught up on, never
    # one started early
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.3,
                 extra="[run]\nduration = 5.0\n")
    loop, result = run_loop(cfg, tmp_path / "run", limit=20.0)
    cycles = records(result.folder, "cycle")
    walls, work = [c[5] - cycles[0][5] for c in cycles], loop.cycle_seconds
    assert len(walls) == len(work) == 6
    for k in range(1, 6):
        assert walls[k] >= 0.3 * k - 0.02, walls
        assert walls[k] < max(0.3 * k, walls[k - 1] + work[k - 1]) + 0.1, (walls, work)


def test_a_run_counts_its_cycles_and_times_in_sample_times(plant, tmp_path):
    # a sample time of 0.5: a duration of 1.0 is three cycles, at 0, 0.5 and 1.0
    controller = tmp_path / "controller.toml"
    controller.write_text((DATA / "controller.toml").read_text().replace(
        "sample_time = 1.0", "sample_time = 0.5"))
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.05,
                 controller=f'controller_file = "{controller}"\n',
                 extra="[run]\nduration = 1.0\n")
    loop, result = run_loop(cfg, tmp_path / "run")
    assert result.cycles == 3
    assert [c[:2] for c in records(result.folder, "cycle")] == [(0, 0.0), (1, 0.5), (2, 1.0)]


def test_run_deploy_runs_the_loop_to_its_duration_with_progress(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.05,
                 extra="[run]\nduration = 1.0\n")
    progress = []
    result = run_deploy(cfg, tmp_path / "run", progress.append)
    assert (result.folder, result.cycles) == (tmp_path / "run", 2)
    assert [(u.done, u.total, u.fraction) for u in progress] == [(1, 2, 0.5), (2, 2, 1.0)]
    last = progress[-1].status  # the live status line's content: the last committed cycle
    assert (last["t"], last["state"], last["mode"], progress[-1].sheds) == (1.0, "active", "on", 0)
    assert last["solve_ms"] > 0 and set(last["cvs"]) == {"h1", "h2"}
    assert [c[:2] for c in records(tmp_path / "run", "cycle")] == [(0, 0.0), (1, 1.0)]
    assert plant.value("APC.Heartbeat") == 2


def test_scheduled_events_apply_in_time_order_whatever_their_order_in_the_file(plant, tmp_path):
    events = ("[[event]]\ntime = 1.0\nsetpoint = { h1 = 13.0 }\n\n"
              "[[event]]\ntime = 0.0\nsetpoint = { h1 = 12.5 }\n")
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.05,
                 extra="[run]\nduration = 1.0\n\n" + events)
    loop, result = run_loop(cfg, tmp_path / "run")
    assert [(c, v) for c, n, _, v in records(result.folder, "setpoint") if n == "h1"] == [
        (0, 12.5), (1, 13.0)]


def test_a_server_without_several_mapped_nodes_names_them_all(plant, tmp_path):
    path = write_deploy(tmp_path / "cfg", url=plant.url)
    path.write_text(path.read_text().replace('"ns=2;s=Plant.h2"', '"ns=2;s=Plant.nothing"')
                    .replace('"ns=2;s=Plant.h1"', '"ns=2;s=Plant.none"'))
    with pytest.raises(InputError) as err:
        run_loop(load_deploy(path), tmp_path / "run")
    assert str(err.value) == (f"tag map: the server at {plant.url} has no node for tag:h1 "
                              "(ns=2;s=Plant.none: BadNodeIdUnknown), tag:h2 "
                              "(ns=2;s=Plant.nothing: BadNodeIdUnknown)")


def test_a_run_stopped_before_it_starts_runs_no_cycle(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)
    stop = asyncio.Event()
    stop.set()
    loop, result = run_loop(cfg, tmp_path / "run", stop=stop)
    assert result.cycles == 0 and records(result.folder, "cycle") == []


def test_a_run_against_a_server_without_a_mapped_node_is_refused_in_one_line(plant, tmp_path):
    path = write_deploy(tmp_path / "cfg", url=plant.url)
    path.write_text(path.read_text().replace('"ns=2;s=Plant.h2"', '"ns=2;s=Plant.nothing"'))
    with pytest.raises(InputError) as err:
        run_loop(load_deploy(path), tmp_path / "run")
    assert str(err.value) == (f"tag map: the server at {plant.url} has no node for tag:h2 "
                              "(ns=2;s=Plant.nothing: BadNodeIdUnknown)")


def test_a_run_on_server_ticks_reads_the_plant_at_its_ticks(plant, tmp_path):
    # ticks of 0.5 s of plant time every 0.1 s: a cycle (1 s) every other tick, from the
    # plant time of the first tick read (100 or 101)
    cfg = config(tmp_path / "cfg", url=plant.url, tick=True, tick_period=0.5,
                 seconds_per_time_unit=0.2, extra="[run]\nduration = 2.0\n")
    plant.start_ticking(0.1, first=100)
    loop, result = run_loop(cfg, tmp_path / "run")
    plant.stop_ticking()
    times = [c[1] for c in records(result.folder, "cycle")]
    assert result.cycles == 3 and times[0] in (50.0, 50.5)
    assert times == [times[0] + k for k in range(3)]


@pytest.mark.parametrize("period", [0.3, 3.0])
def test_a_sample_time_that_is_not_a_whole_number_of_ticks_is_refused(plant, tmp_path, period):
    cfg = config(tmp_path / "cfg", url=plant.url, tick=True, tick_period=period)
    with pytest.raises(TwinError) as err:
        run_loop(cfg, tmp_path / "run")
    assert str(err.value) == f"the sample time 1.0 is not a whole number of server ticks of {period}"


def test_a_tick_as_long_as_the_sample_time_is_one_tick_a_cycle(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, tick=True, tick_period=1.0,
                 seconds_per_time_unit=0.05, extra="[run]\nduration = 1.0\n")
    plant.start_ticking(0.05, first=7)
    loop, result = run_loop(cfg, tmp_path / "run")
    plant.stop_ticking()
    times = [c[1] for c in records(result.folder, "cycle")]
    assert result.cycles == 2 and times[1] == times[0] + 1.0 and times[0] >= 7.0


def test_a_store_that_is_gone_stops_the_run_with_one_line(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.05,
                 watchdog={"max_errors": 1}, extra="[run]\nduration = 5.0\n")

    async def main():
        loop = DeployedLoop(cfg, tmp_path / "run")
        loop.store.db.close()
        try:
            await asyncio.wait_for(loop.run(), 10)
        finally:
            await loop.gateway.close()

    with pytest.raises(RunStopped) as stopped:
        asyncio.run(main())
    assert str(stopped.value).startswith("deployed loop stopped after 1 failed cycles "
                                         "(watchdog.max_errors = 1); last: commit failed: ")


# ------------------------------------------------------------ waiting for the server's tick

@pytest.fixture
def ticking(plant, tmp_path):
    """A loop on ticks of 0.5 (5 ms of wall time each), two per cycle, at tick 100."""
    cfg = config(tmp_path / "cfg", url=plant.url, tick=True, tick_period=0.5,
                 seconds_per_time_unit=0.01)
    plant.set("Diagnostics.Tick", 100)

    def run(body):
        async def main(loop):
            loop.tick0 = loop._last_tick = await loop.gateway.read_tick()
            loop._wall_start = time.monotonic()
            return await body(loop)

        return in_session(cfg, tmp_path / "run", main)

    return run


def test_a_cycle_waits_for_its_tick_and_says_how_late_it_reads(plant, ticking):
    async def body(loop):
        out = [await loop._wait_for_tick(0, 2)]
        await plant.aset("Diagnostics.Tick", 103)
        out.append(await loop._wait_for_tick(1, 2))         # due at 102
        started = time.monotonic()
        asyncio.get_running_loop().call_later(0.1, lambda: plant.set("Diagnostics.Tick", 104))
        out.append(await loop._wait_for_tick(2, 2))         # due at 104: waits for it
        took = time.monotonic() - started
        return out, took, loop._wall_start, time.monotonic(), loop._pending_events

    late, took, wall_start, now, events = ticking(body)
    assert late == [0, 1, 0] and 0.09 <= took < 0.5
    assert now - wall_start == pytest.approx(2 * 2 * 0.5 * 0.01, abs=0.01)
    assert events == []


def test_a_cycle_a_whole_cycle_behind_or_a_counter_gone_back_realigns_the_schedule(plant, ticking):
    async def body(loop):
        await plant.aset("Diagnostics.Tick", 109)
        late = [await loop._wait_for_tick(3, 2)]             # due at 106: 3 ticks behind
        tick0 = loop.tick0
        await plant.aset("Diagnostics.Tick", 5)              # the server restarted
        late.append(await loop._wait_for_tick(4, 2))
        return late, tick0, loop.tick0, loop._pending_events

    late, tick0_behind, tick0_back, events = ticking(body)
    assert late == [0, 0] and (tick0_behind, tick0_back) == (109 - 6, 5 - 8)
    assert events == [("resync", "3 ticks behind the server: schedule re-aligned"),
                      ("resync", "server tick counter went back to 5: schedule re-aligned")]


def test_a_cycle_exactly_one_cycle_behind_realigns_the_schedule(plant, ticking):
    async def body(loop):
        await plant.aset("Diagnostics.Tick", 108)
        late = await loop._wait_for_tick(3, 2)               # due at 106: 2 ticks, a cycle, late
        return late, loop.tick0, loop._pending_events

    assert ticking(body) == (0, 108 - 6, [("resync", "2 ticks behind the server: schedule "
                                                     "re-aligned")])


def test_without_a_tick_counter_the_cycle_waits_on_the_wall_clock(plant, ticking):
    async def body(loop):
        await plant.aset("Diagnostics.Tick", 100, "BadCommunicationError")
        start = loop._wall_start = time.monotonic()
        late = await loop._wait_for_tick(3, 2)               # 3 cycles of 10 ms after start
        return late, time.monotonic() - start, loop._wall_start - start

    late, took, moved = ticking(body)
    assert late == 0 and 0.028 <= took < 0.3
    assert moved == pytest.approx(took - 0.03, abs=0.005)


def _seconds_to_see_the_tick(plant, tmp_path, seconds_per_time_unit: float, after: float):
    """Wall time [s] the loop takes to see a tick counter that moves from 10 to 12 after
    ``after`` [s] (ticks of 0.5 time units, two ticks a cycle)."""
    cfg = config(tmp_path / "cfg", url=plant.url, tick=True, tick_period=0.5,
                 seconds_per_time_unit=seconds_per_time_unit)
    plant.set("Diagnostics.Tick", 10)

    async def body(loop):
        loop.tick0 = loop._last_tick = 10
        loop._wall_start = time.monotonic()
        asyncio.get_running_loop().call_later(after, lambda: plant.set("Diagnostics.Tick", 12))
        started = time.monotonic()
        await loop._wait_for_tick(1, 2)
        return time.monotonic() - started

    return in_session(cfg, tmp_path / "run", body)


def test_short_ticks_are_polled_at_least_every_half_millisecond_and_no_more(plant, tmp_path):
    assert 0.04 <= _seconds_to_see_the_tick(plant, tmp_path, 0.0001, after=0.05) < 0.5


def test_the_tick_counter_is_polled_ten_times_a_tick(plant, tmp_path):
    # ticks of 0.5 at 0.4 s a time unit: 0.2 s of wall time, polled every 0.02 s
    assert 0.09 <= _seconds_to_see_the_tick(plant, tmp_path, 0.4, after=0.1) < 0.6


# ------------------------------------------------------------ whole cycles

def cycles(loop, *numbers, late: int = 0):
    async def body():
        for n in numbers:
            await loop._cycle(n, float(n), late)
    return body()


def test_a_late_cycle_says_so_and_a_healthy_one_writes_and_reads_back(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)
    loop = in_session(cfg, tmp_path / "run", lambda lp: _same(lp, cycles(lp, 0, late=2)))
    events = records(tmp_path / "run")
    assert events[0] == (0, "late", "cycle read the plant 2 tick(s) late")
    assert events[1][:2] == (0, "engaged")
    assert loop.state == "active" and loop.heartbeat == 1 and plant.value("APC.Heartbeat") == 1
    mv = {n: v for _, n, _, v in records(tmp_path / "run", "mv")}
    assert plant.value("Plant.BaseLayer.v1.RSP") == mv["v1"] != 3.0


async def _same(loop, coro):
    await coro
    return loop


@pytest.mark.parametrize("held,status,why", [
    (3.25, "Good", "v1 (wrote 3.5, server holds 3.25)"),
    (3.5, "BadOutOfRange", "v1 (wrote 3.5, read back BadOutOfRange)")])
def test_a_read_back_that_differs_sheds_after_the_commit(plant, tmp_path, held, status, why):
    cfg = config(tmp_path / "cfg", url=plant.url)
    plant.after_write["Plant.BaseLayer.v1.RSP"] = (held, status)
    loop = in_session(cfg, tmp_path / "run", lambda lp: _same(lp, cycles(lp, 0, 1)))
    shed = [e for e in records(tmp_path / "run") if e[1] == "shed"]
    assert shed[0][0] == 0 and shed[0][2].startswith("shed to the base layer: read-back differs "
                                                     "for ") and why in shed[0][2]
    assert loop.state == "shed" and loop.errors == 0
    assert records(tmp_path / "run", "cycle")[1][2] == "shed"


def test_the_read_back_tolerance_is_relative_above_one_and_absolute_below(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"readback_tolerance": 0.5})

    async def write(loop, number, values, held):
        for name, value in held.items():
            plant.after_write[f"Plant.BaseLayer.{name}.RSP"] = (value, "Good")
        rec = CycleRecord(number, float(number), 0.0)
        await loop._write(rec, Decision(values, True))
        return rec

    async def body(loop):
        return [await write(loop, 0, {"v1": 2.0}, {"v1": 3.0}),     # 0.5 * 2: just accepted
                await write(loop, 1, {"v1": 0.5}, {"v1": 1.0}),     # 0.5 * 1 below 1: accepted
                await write(loop, 2, {"v1": 0.5}, {"v1": 1.25}),
                await write(loop, 3, {"v1": 0.5, "v2": 0.5}, {"v1": 1.25, "v2": 1.25})]

    recs = in_session(cfg, tmp_path / "run", body)
    assert [r.failed for r in recs] == [False, False, True, True]
    assert [r.events for r in recs[:2]] == [[], []]
    assert recs[2].events == [("shed", "shed to the base layer: read-back differs for v1 (wrote "
                                       "0.5, server holds 1.25)")]
    assert recs[3].events == [("shed", "shed to the base layer: read-back differs for v1 (wrote "
                                       "0.5, server holds 1.25), v2 (wrote 0.5, server holds "
                                       "1.25)")]


def test_a_write_that_fails_marks_the_cycle_failed_and_sheds(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)

    async def body(loop):
        await loop.gateway.close()
        rec = CycleRecord(0, 0.0, 0.0)
        await loop._write(rec, Decision({"v1": 3.5}, True))
        return rec

    rec = in_session(cfg, tmp_path / "run", body)
    assert rec.failed and rec.events == [("shed", f"shed to the base layer: gateway: not "
                                                  f"connected to {plant.url}")]


def test_a_read_back_within_the_tolerance_is_accepted(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"readback_tolerance": 1e-3})
    plant.after_write["Plant.BaseLayer.v1.RSP"] = (3.5 + 3.4e-3, "Good")   # < 1e-3 * 3.5
    loop = in_session(cfg, tmp_path / "run", lambda lp: _same(lp, cycles(lp, 0)))
    assert loop.state == "active"
    plant.after_write["Plant.BaseLayer.v1.RSP"] = (3.5 + 3.6e-3, "Good")
    loop = in_session(cfg, tmp_path / "run2", lambda lp: _same(lp, cycles(lp, 0)))
    assert loop.state == "shed"


def test_a_write_the_gateway_fails_sheds_without_an_error(plant, tmp_path):
    path = write_deploy(tmp_path / "cfg", url=plant.url)
    path.write_text(path.read_text().replace('"ns=2;s=APC.Heartbeat"', '"i=2258"'))
    loop = in_session(load_deploy(path), tmp_path / "run", lambda lp: _same(lp, cycles(lp, 0)))
    events = records(tmp_path / "run")
    assert [e[1] for e in events] == ["engaged", "shed"]
    assert events[1][2].startswith(f"shed to the base layer: gateway: write on {plant.url} failed: "
                                   "BadUserAccessDenied")
    assert loop.state == "shed" and loop.errors == 0 and loop.heartbeat == 1


def test_an_exception_in_the_write_stage_that_is_not_the_gateways_is_raised_as_the_stages(
        plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)

    async def body(loop):
        rec = CycleRecord(0, 0.0, 0.0)
        with pytest.raises(StageFailed) as failed:
            await loop._write(rec, Decision({"v9": 1.0}, True))
        return failed.value, rec

    failed, rec = in_session(cfg, tmp_path / "run", body)
    assert failed.stage == "write" and failed.describe() == "write failed: KeyError: 'v9'"
    assert rec.events == [] and not rec.failed


def test_an_exception_of_the_write_stage_in_a_cycle_is_an_error_and_a_shed(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)

    async def broken(value):                            # no real gateway raises anything else
        raise ValueError("heartbeat broke")

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        loop.gateway.write_heartbeat = broken
        await loop._cycle(1, 1.0, 0)
        return loop.state, loop.errors

    assert in_session(cfg, tmp_path / "run", body) == ("shed", 1)
    why = "write failed: ValueError: heartbeat broke"
    assert [e for e in records(tmp_path / "run") if e[0] == 1 and e[1] != "clamped"] == [
        (1, "error", why), (1, "shed", f"shed to the base layer: {why}")]


def test_an_unreachable_gateway_sheds_reconnects_and_records_the_cycle_as_unreadable(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        await loop.gateway.close()                      # the session is gone
        await loop._cycle(1, 1.0, 0)
        return loop.gateway.connected

    assert in_session(cfg, tmp_path / "run", body)
    why = f"gateway: not connected to {plant.url}"
    assert records(tmp_path / "run")[1:] == [
        (1, "rebuild", "reconnected with a new session"),
        (1, "shed", f"shed to the base layer: {why}"),
        (1, "unreadable", why)]
    assert records(tmp_path / "run", "cycle")[1][2:5] == ("shed", 0, "no data")


def test_every_problem_of_an_unreadable_cycle_is_named(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"max_overruns": 2})

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        await loop.gateway.close()
        loop.gateway.url = "opc.tcp://127.0.0.1:1/twin"  # nobody listens: no reconnection
        loop.overruns = 2
        await loop._cycle(1, 1.0, 0)

    in_session(cfg, tmp_path / "run", body)
    why = ("gateway: not connected to opc.tcp://127.0.0.1:1/twin; "
           "2 cycles in a row overran the sample time")
    assert records(tmp_path / "run")[1:] == [(1, "shed", f"shed to the base layer: {why}"),
                                             (1, "unreadable", why)]


def test_a_run_whose_cycles_take_longer_than_the_sample_time_counts_overruns(plant, tmp_path):
    # a time unit of 1 ms: every cycle (a controller step at least) overruns
    cfg = config(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.001,
                 watchdog={"max_overruns": 5}, extra="[run]\nduration = 2.0\n")
    loop, result = run_loop(cfg, tmp_path / "run")
    assert result.cycles == 3 and loop.overruns == 3 and min(loop.cycle_seconds) > 0.001


def test_a_cycle_out_of_control_keeps_the_count_of_failed_cycles(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)
    plant.set("Plant.BaseLayer.v1.Mode", "AUTO")

    async def body(loop):
        loop.errors = 3
        await loop._cycle(0, 0.0, 0)
        return loop.state, loop.errors

    assert in_session(cfg, tmp_path / "run", body) == ("waiting", 3)


def test_repeated_overruns_shed(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"max_overruns": 2})

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        loop._check_overrun(2.0, 1.0)
        await loop._cycle(1, 1.0, 0)
        loop._check_overrun(2.0, 1.0)
        await loop._cycle(2, 2.0, 0)
        return loop

    in_session(cfg, tmp_path / "run", body)
    assert [e for e in records(tmp_path / "run") if e[1] == "shed"] == [
        (2, "shed", "shed to the base layer: 2 cycles in a row overran the sample time")]


def test_a_session_without_fresh_data_is_rebuilt(plant, tmp_path):
    # rebuild_after is long beside a cycle, so that the cycle after a rebuild comes before the
    # rebuilt session could be called quiet again, even on a loaded machine
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"rebuild_after": 1.0,
                                                             "heartbeat_timeout": 5.0})

    span = []

    async def body(loop):
        began = time.monotonic()
        await loop._cycle(0, 0.0, 0)
        first = loop.gateway.client
        await asyncio.sleep(1.05)                       # the server heartbeat stands still
        await loop._cycle(1, 1.0, 0)
        span.append(time.monotonic() - began)           # the longest the data can have been quiet
        await loop._cycle(2, 2.0, 0)                    # just rebuilt: not again
        return first is not loop.gateway.client

    assert in_session(cfg, tmp_path / "run", body)
    rebuilt = [e for e in records(tmp_path / "run") if e[1] == "rebuild"]
    assert len(rebuilt) == 1 and rebuilt[0][0] == 1
    seconds = float(re.fullmatch(r"no fresh data for (\d+\.\d) s: session rebuilt",
                                 rebuilt[0][2]).group(1))
    assert 1.0 <= seconds <= span[0] + 0.05  # the quiet time, not a made-up figure


def test_a_rebuild_the_server_refuses_is_an_event_and_waits_before_trying_again(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"rebuild_after": 0.2,
                                                             "heartbeat_timeout": 5.0})

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        (tmp_path / "cfg" / "apc.password").write_text("changed\n")
        await asyncio.sleep(0.25)
        await loop._cycle(1, 1.0, 0)
        return loop

    loop = in_session(cfg, tmp_path / "run", body)
    events = records(tmp_path / "run")
    assert (1, "rebuild", f"session rebuild failed: {plant.url} refused user 'apc' (wrong "
                          "password or unknown user)") in events
    assert time.monotonic() - loop._last_hb_change < 5.0


def test_an_exception_in_the_read_stage_is_an_error_and_the_run_stops_after_max_errors(
        plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url, watchdog={"max_errors": 2})

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        await loop.gateway.close()
        (tmp_path / "cfg" / "apc.password").unlink()    # reconnecting fails: not the gateway's
        await loop._cycle(1, 1.0, 0)
        errors = loop.errors
        with pytest.raises(RunStopped):
            await loop._cycle(2, 2.0, 0)
        return errors

    assert in_session(cfg, tmp_path / "run", body) == 1
    why = f"read failed: gateway.password_file '{tmp_path / 'cfg' / 'apc.password'}' not found"
    events = records(tmp_path / "run")
    assert (1, "error", why) in events and (2, "error", why) in events
    assert events[-1][1:] == ("stopped", "deployed loop stopped after 2 failed cycles "
                              f"(watchdog.max_errors = 2); last: {why}; nothing written since, "
                              "the base layer has control")


def test_a_good_cycle_in_control_clears_the_count_of_failed_cycles(plant, tmp_path):
    cfg = config(tmp_path / "cfg", url=plant.url)

    async def body(loop):
        await loop._cycle(0, 0.0, 0)
        loop.errors = 3
        await loop._cycle(1, 1.0, 0)
        return loop.errors

    assert in_session(cfg, tmp_path / "run", body) == 0
