"""Fault tests of the deployed loop against the simulated hardware (quadruple tank, 1 s cycles).

Each fault is produced for real: the server process is killed, frozen with
SIGSTOP, or told by its schedule or an operator call to stall its heartbeat,
fail a sensor or take a loop. For each: the behaviour of the watchdog, no
unhandled exception, and a complete cycle log (no missing cycle, every shed
recorded, nothing written while shed).
"""

from __future__ import annotations

import asyncio
import signal
import time

import numpy as np
import pytest

from hil_support import DATA, SPEED, WATCHDOG, after_cycles, at_plant_time, deploy_text, operator_call, \
    read_values, records, run_loop_with


def _run(server, tmp_path, duration: float, actions=(), extra: str = "",
         controller: str = "controller.toml", watchdog: dict | None = None):
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, duration, extra, controller, watchdog))
    asyncio.run(run_loop_with(config, tmp_path / "run", [a() for a in actions]))
    return records(tmp_path / "run" / "cycles.sqlite")


def STORE(tmp_path):  # noqa: N802 - where _run's loop logs
    return tmp_path / "run" / "cycles.sqlite"


def _complete(cycles, n: int) -> None:
    """Every cycle logged once, in order."""
    assert list(cycles.cycle) == list(range(n))


TICK = 0.25
"""The simulated hardware's tick in these tests [h] (data/plant.toml)."""


def _plant_time(frame, events):
    """The plant time [h] each cycle read, from its label and the tick lag it logged.

    A cycle waits for its tick; when the machine is busy it reads some ticks
    late ('late' event) or, a whole cycle behind, re-aligns its schedule
    ('resync' event: every later cycle reads that many ticks further on).
    Fault windows are judged on this time, the server's own.
    """
    import re

    ahead, late = {}, {}
    for c, kind, text in zip(events.cycle, events.kind, events.message):
        if kind == "resync" and (m := re.match(r"(\d+) ticks behind", text)):
            ahead[int(c)] = ahead.get(int(c), 0) + int(m.group(1))
        elif kind == "late" and (m := re.search(r"(\d+) tick\(s\) late", text)):
            late[int(c)] = int(m.group(1))
    shift, times = 0, []
    for c, t in zip(frame.cycle, frame.time):
        shift += ahead.get(int(c), 0)
        times.append(float(t) + TICK * (shift + late.get(int(c), 0)))
    return np.array(times)


def _shed_cycles(events):
    return list(events[events.kind == "shed"].cycle)


def _no_writes_while_shed(frame, events) -> None:
    """No cycle that began shed wrote anything, unless it re-entered first."""
    kinds: dict[int, list[str]] = {}
    for c, k in zip(events.cycle, events.kind):
        if k in ("shed", "reentry"):
            kinds.setdefault(int(c), []).append(k)
    state, written = "active", []
    for cycle, write in zip(frame.cycle, frame.write):
        here = kinds.get(int(cycle), [])
        if state == "shed" and "reentry" not in here:
            written.append(bool(write))
        state = {"shed": "shed", "reentry": "active"}.get(here[-1], state) if here else state
    assert not any(written)


def _variant(tmp_path, **edits) -> str:
    text = (DATA / "controller.toml").read_text()
    for old, new in edits.items():
        text = text.replace(old, new)
    path = tmp_path / "controller.toml"
    path.write_text(text)
    return str(path)


def _cascade_all(server):
    async def go():
        for loop in ("v1", "v2"):
            await operator_call(server, "SetLoopMode", loop, "CASCADE")
    return go()


def test_server_killed_and_restarted(server_factory, tmp_path):
    server = server_factory()

    async def kill_and_restart():
        await after_cycles(STORE(tmp_path), 10, server.kill)
        await asyncio.sleep(1.0)
        await asyncio.get_running_loop().run_in_executor(None, server.start)

    frame, events, cycles = _run(server, tmp_path, 150.0, [kill_and_restart],
                                 watchdog={"rebuild_after": 30.0})
    _complete(cycles, 151)
    sheds = events[events.kind == "shed"]
    assert len(sheds) >= 1 and sheds.message.str.contains("gateway").all()
    assert (events.kind == "unreadable").any()
    assert (events.kind == "reentry").any() and (events.kind == "restart").any()
    assert not (events.kind == "rebuild").any()  # asyncua's own reconnect brought it back
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-1]  # in control again at the end


def test_server_frozen_then_resumed(server_factory, tmp_path):
    server = server_factory()

    async def freeze():
        await after_cycles(STORE(tmp_path), 10, lambda: server.signal(signal.SIGSTOP))
        await asyncio.sleep(4.0)  # longer than rebuild_after: the session is rebuilt
        server.signal(signal.SIGCONT)
        await asyncio.sleep(2.0)  # the base layer has taken over by now: the operator hands back
        await _cascade_all(server)

    frame, events, cycles = _run(server, tmp_path, 100.0, [freeze],
                                 watchdog={"rebuild_after": 2.0})
    _complete(cycles, len(cycles))
    assert _shed_cycles(events) and (events.kind == "reentry").any()
    assert (events.kind == "rebuild").any()
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-1]


def test_stalled_server_heartbeat_sheds_and_the_base_layer_takes_over(server_factory, tmp_path):
    server = server_factory(faults="[[fault]]\ntime = 10.0\nkind = \"stall_heartbeat\"\n"
                                   "duration = 12.0\n")

    async def operator_hands_back():
        await at_plant_time(server, 30.0, lambda: _cascade_all(server))

    frame, events, cycles = _run(server, tmp_path, 45.0, [operator_hands_back])
    _complete(cycles, 46)
    sheds = events[events.kind == "shed"]
    assert len(sheds) == 1 and "server heartbeat stalled" in sheds.message.iloc[0]
    base = events[events.kind == "base_layer"].message
    assert base.str.contains("v1: CASCADE -> AUTO").any()  # the base layer fell back by itself
    reentry = events[events.kind == "reentry"]
    assert len(reentry) == 1 and reentry.t.iloc[0] >= 30.0
    _no_writes_while_shed(frame, events)
    first = frame[frame.cycle == reentry.cycle.iloc[0]].iloc[0]
    assert abs(first["v1"] - first["v1.loop_sp"]) <= 0.5 + 1e-12  # bumpless: within max_move


def test_apc_process_killed_base_layer_falls_back_to_auto(server_factory, tmp_path):
    import subprocess
    import sys

    server = server_factory()
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, 1000.0))
    store = tmp_path / "run" / "cycles.sqlite"
    apc = subprocess.Popen([sys.executable, "-m", "twin.cli.main", "deploy", str(config), "--out",
                            str(tmp_path / "run")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if store.exists():
                _, _, cycles = records(store)
                if len(cycles) >= 8:
                    break
            time.sleep(0.2)
        apc.kill()
        apc.wait(10)
    finally:
        if apc.poll() is None:
            apc.kill()
    last_rsp = asyncio.run(read_values(server, "Plant.BaseLayer.v1.RSP"))[0]
    (t_kill,) = asyncio.run(read_values(server, "Diagnostics.Time"))
    asyncio.run(at_plant_time(server, t_kill + 6.0, lambda: None))  # base-layer timeout 5 s
    mode, sp = asyncio.run(read_values(server, "Plant.BaseLayer.v1.Mode",
                                       "Plant.BaseLayer.v1.SP"))
    assert mode == "AUTO" and sp == pytest.approx(last_rsp, abs=1e-12)
    _, _, cycles = records(store)
    _complete(cycles, len(cycles))  # the store survived the kill, every cycle committed


@pytest.mark.parametrize("critical", [False, True])
def test_cv_bad_sensor_failure(server_factory, tmp_path, critical):
    server = server_factory(faults="[[fault]]\ntime = 10.0\nkind = \"bad\"\ntag = \"h1\"\n"
                                   "duration = 10.0\n")
    controller = _variant(tmp_path, **({'setpoint = 12.263\nweight = 1.0':
                                        'setpoint = 12.263\nweight = 1.0\ncritical = true'}
                                       if critical else {}))
    frame, events, cycles = _run(server, tmp_path, 30.0, controller=controller)
    _complete(cycles, 31)
    plant = _plant_time(frame, events)
    during = frame[(plant > 10.5) & (plant < 19.5)]
    assert len(during) >= 7 and (during["h1.quality"] == "bad").all()
    if critical:
        assert "critical CV 'h1' is bad" in " ".join(events.message)
        assert _shed_cycles(events) and not during.write.any()
        _no_writes_while_shed(frame, events)
    else:
        assert (during["h1.status.quality"] == "dropped").all() and during.write.all()
        assert not _shed_cycles(events)


def test_cv_uncertain_and_stale(server_factory, tmp_path):
    server = server_factory(faults="[[fault]]\ntime = 8.0\nkind = \"uncertain\"\ntag = \"h2\"\n"
                                   "duration = 6.0\n\n[[fault]]\ntime = 20.0\nkind = \"freeze\"\n"
                                   "tag = \"h1\"\nduration = 8.0\n")
    frame, events, cycles = _run(server, tmp_path, 35.0)
    _complete(cycles, 36)
    plant = _plant_time(frame, events)
    uncertain = frame[(plant > 8.5) & (plant < 13.5)]
    assert (uncertain["h2.quality"] == "uncertain").all()
    assert (uncertain["h2.status.quality"] == "dropped").all()  # not accepted by the spec
    stale = events[events.kind == "stale"]
    assert stale.message.str.startswith("h1: no update for more than 0.6 s").any()
    assert stale.message.str.startswith("h1: updating again").any()
    detected = 20.0 + WATCHDOG["stale_after"] * SPEED  # plant time when the freeze becomes stale
    frozen = frame[(plant > detected + 1.0) & (plant < 27.5)]
    assert len(frozen) >= 1
    assert (frozen["h1.quality"] == "bad").all() and frozen.write.all()
    assert not _shed_cycles(events)


@pytest.mark.parametrize("edit,reason", [
    ({"[estimator]": "[solver]\nmax_iter = 1\nmax_failures = 3\n\n[estimator]"}, "failures"),
    ({"[estimator]": "[solver]\ntime_budget = 1e-7\nmax_failures = 3\n\n[estimator]"}, "failures"),
])
def test_solver_failing_or_overrunning_repeatedly_sheds(server_factory, tmp_path, edit, reason):
    server = server_factory()
    frame, events, cycles = _run(server, tmp_path, 15.0, controller=_variant(tmp_path, **edit),
                                 extra="[[event]]\ntime = 3.0\nsetpoint_step = { h1 = 2.0 }\n")
    _complete(cycles, 16)
    sheds = events[events.kind == "shed"]
    assert len(sheds) == 1 and "controller shed" in sheds.message.iloc[0]
    assert reason in sheds.message.iloc[0]
    _no_writes_while_shed(frame, events)


def test_requests_beyond_hard_and_rate_limits_are_clamped(server_factory, tmp_path):
    server = server_factory()
    extra = ("[[event]]\ntime = 3.0\nsetpoint = { h1 = 19.0, h2 = 4.0 }\n"
             "limits = { v1 = { high = 4.2 } }\n")
    frame, events, cycles = _run(server, tmp_path, 25.0, extra=extra)
    _complete(cycles, 26)
    written = frame[frame.write.astype(bool)]
    assert (written.v1 <= 4.2 + 1e-12).all() and (written.v2 >= 0.0).all()
    moves = np.abs(written.v1.to_numpy() - written["v1.loop_sp"].to_numpy())
    assert moves.max() <= 0.5 + 1e-9 and moves.max() > 0.49  # the rate limit was reached
    assert written.v1.max() == pytest.approx(4.2)


def test_operator_takes_a_loop_to_manual_and_hands_it_back(server_factory, tmp_path):
    server = server_factory(faults="[[fault]]\ntime = 10.0\nkind = \"manual\"\ntag = \"v1\"\n")

    async def hand_back():
        await at_plant_time(server, 24.0, lambda: _cascade_all(server))

    frame, events, cycles = _run(server, tmp_path, 40.0, [hand_back])
    _complete(cycles, 41)
    sheds = events[events.kind == "shed"]
    assert len(sheds) == 1 and "operator has loop v1 in MANUAL" in sheds.message.iloc[0]
    reentry = events[events.kind == "reentry"]
    assert len(reentry) == 1 and reentry.t.iloc[0] >= 24.0
    _no_writes_while_shed(frame, events)
    after = frame[frame.cycle >= reentry.cycle.iloc[0]]
    first = after.iloc[0]
    assert abs(first.v1 - first["v1.loop_sp"]) <= 0.5 + 1e-12  # bumpless re-entry
    assert np.all(np.abs(np.diff(after.v1.to_numpy())) <= 0.5 + 1e-9)  # no kick, no windup
    assert after.write.all()


def test_burst_of_reconnects(server_factory, tmp_path):
    server = server_factory()

    async def burst():
        await after_cycles(STORE(tmp_path), 8)
        for _ in range(3):
            server.kill()
            await asyncio.sleep(0.3)
            await asyncio.get_running_loop().run_in_executor(None, server.start)
            await asyncio.sleep(0.5)

    frame, events, cycles = _run(server, tmp_path, 150.0, [burst])
    _complete(cycles, 151)
    assert (events.kind == "reentry").any()
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-1]
