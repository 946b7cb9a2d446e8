"""Fault tests of the deployed loop against the simulated hardware (quadruple tank, 1 s cycles).

Each fault is produced for real: the server process is killed, frozen with
SIGSTOP, or told by its schedule or an operator call to stall its heartbeat,
fail a sensor or take a loop. For each: the behaviour of the watchdog, no
unhandled exception, and a complete cycle log (no missing cycle, every shed
recorded with its cause, nothing written while shed).

Faults scheduled in plant time run on a virtual clock in lockstep with the
loop (:class:`~hil_support.Lockstep`): each cycle sees the plant at its own
tick however busy the machine, so the tests can say exactly which cycles a
fault touches. A killed, frozen or restarted server is about real time:
those tests run on the real clock and wait on conditions (the loop noticed,
the base layer took over), never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import signal

import numpy as np
import pytest

from hil_support import DATA, PLANT, Lockstep, after_cycles, at_plant_time, back_in_control, call, \
    deploy_text, deployed_run, operator_call, read_values, records, shed_counts, until_event, \
    until_logged, wait_values


def _run(server, tmp_path, duration: float, actions=(), extra: str = "",
         controller: str = "controller.toml", watchdog: dict | None = None, pace: float = 0.0,
         jumps: dict | None = None, stop: asyncio.Event | None = None, observe=None):
    """The deployed loop against ``server`` (in lockstep with a virtual clock) while
    ``actions`` (coroutine functions) run; (cycles frame, events, cycles) of its store."""
    driver = Lockstep(server, pace, jumps, observe) if server.virtual else None
    return deployed_run(server, tmp_path, duration, actions, extra, controller, watchdog, driver,
                        stop)


def STORE(tmp_path):  # noqa: N802 - where _run's loop logs
    return tmp_path / "run" / "cycles.sqlite"


def _complete(cycles, n: int) -> None:
    """Every cycle logged once, in order."""
    assert list(cycles.cycle) == list(range(n))


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


def _hand_back_at(cycle: int):
    """A :class:`Lockstep` observer: the operator puts both loops in CASCADE after ``cycle``,
    before the plant moves on (on the virtual clock, however late the operator would be)."""
    async def observe(client, ns, done):
        if done == cycle:
            for loop in ("v1", "v2"):
                await call(client, "SetLoopMode", loop, "CASCADE")
    return observe


def _in_executor(func):
    return asyncio.get_running_loop().run_in_executor(None, func)


async def _operator_hands_back_if_needed(server, store, after: int = -1) -> None:
    """After a communication shed, whichever comes first: the loop re-enters by itself (its
    loops still in CASCADE), or the base layer takes the loops back to AUTO (its heartbeat
    watch, in plant time), and the operator hands them back."""
    modes = ["Plant.BaseLayer.v1.Mode", "Plant.BaseLayer.v2.Mode"]
    reentered = asyncio.ensure_future(until_event(store, "reentry", after))
    fell_back = asyncio.ensure_future(wait_values(server, modes, lambda m: "AUTO" in m,
                                                  "the base layer in AUTO"))
    done, _ = await asyncio.wait([reentered, fell_back], return_when=asyncio.FIRST_COMPLETED)
    if reentered not in done:
        reentered.cancel()
        fell_back.result()
        await wait_values(server, modes, lambda m: m == ["AUTO", "AUTO"], "both loops in AUTO")
        await _cascade_all(server)
    else:
        fell_back.cancel()
    await asyncio.gather(reentered, fell_back, return_exceptions=True)


async def _operator_keeps_handing_back(server) -> None:
    """Whenever the base layer has both loops in AUTO, the operator puts them in CASCADE."""
    modes = ["Plant.BaseLayer.v1.Mode", "Plant.BaseLayer.v2.Mode"]
    while True:
        await wait_values(server, modes, lambda m: m == ["AUTO", "AUTO"], "both loops in AUTO",
                          timeout=3600.0)
        await _cascade_all(server)


def test_server_killed_and_restarted(server_factory, tmp_path):
    server = server_factory()
    stop = asyncio.Event()

    async def kill_and_restart():
        await after_cycles(STORE(tmp_path), 10, server.kill)
        lost = await until_event(STORE(tmp_path), "unreadable")  # the loop has noticed
        await _in_executor(server.start)  # on the same port, once it is free
        await back_in_control(STORE(tmp_path), cycles=3, after=lost)
        stop.set()

    frame, events, cycles = _run(server, tmp_path, 1000.0, [kill_and_restart], stop=stop,
                                 watchdog={"rebuild_after": 120.0})
    _complete(cycles, len(cycles))
    sheds = shed_counts(events)
    assert sheds["communication"] >= 1 and set(sheds) <= {"communication", "overrun"}, sheds
    assert events[events.kind == "shed"].message.str.contains("gateway:").any()  # server gone
    assert (events.kind == "unreadable").any()
    assert (events.kind == "reentry").any() and (events.kind == "restart").any()
    assert not (events.kind == "rebuild").any()  # asyncua's own reconnect brought it back
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-3:].all()  # in control again at the end


def test_server_frozen_then_resumed(server_factory, tmp_path, monkeypatch):
    from twin.orchestration.opcua.gateway import Gateway

    server = server_factory()
    stop, rebuilding = asyncio.Event(), asyncio.Event()
    rebuild = Gateway.rebuild

    async def watched_rebuild(self):  # the real rebuild; the test only learns it has begun
        rebuilding.set()
        await rebuild(self)

    monkeypatch.setattr(Gateway, "rebuild", watched_rebuild)

    async def freeze():
        await after_cycles(STORE(tmp_path), 10, lambda: server.signal(signal.SIGSTOP))
        await rebuilding.wait()  # frozen longer than rebuild_after: the session is rebuilt
        server.signal(signal.SIGCONT)
        await _operator_hands_back_if_needed(server, STORE(tmp_path), after=9)
        await back_in_control(STORE(tmp_path), cycles=3, after=9)
        stop.set()

    frame, events, cycles = _run(server, tmp_path, 1000.0, [freeze], stop=stop,
                                 watchdog={"rebuild_after": 2.0})
    _complete(cycles, len(cycles))
    sheds = shed_counts(events)
    assert sheds["communication"] >= 1 and set(sheds) <= {"communication", "overrun"}, sheds
    assert (events.kind == "reentry").any() and (events.kind == "rebuild").any()
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-3:].all()


def test_stalled_server_heartbeat_sheds_and_the_base_layer_takes_over(server_factory, tmp_path):
    # the heartbeat is watched on the loop's own clock (3 s); the plant advances at most one
    # cycle per 0.25 s, so the 25 plant seconds of stall last at least 6 s
    server = server_factory(clock="virtual", faults="[[fault]]\ntime = 10.0\n"
                                                    "kind = \"stall_heartbeat\"\nduration = 25.0\n")

    # the operator hands back after the cycle at 40, before the plant moves on
    frame, events, cycles = _run(server, tmp_path, 48.0, pace=0.25, observe=_hand_back_at(40),
                                 watchdog={"heartbeat_timeout": 3.0})
    _complete(cycles, 49)
    sheds = events[events.kind == "shed"]
    assert shed_counts(events) == {"communication": 1}
    assert "server heartbeat stalled" in sheds.message.iloc[0]
    assert 10 < sheds.t.iloc[0] < 35  # during the stall
    base = events[events.kind == "base_layer"].message
    assert base.str.contains("v1: CASCADE -> AUTO").any()  # the base layer fell back by itself
    reentry = events[events.kind == "reentry"]
    assert len(reentry) == 1 and reentry.t.iloc[0] >= 40.0
    _no_writes_while_shed(frame, events)
    first = frame[frame.cycle == reentry.cycle.iloc[0]].iloc[0]
    assert abs(first["v1"] - first["v1.loop_sp"]) <= 0.5 + 1e-12  # bumpless: within max_move


HEARTBEAT = 20.0
"""Base-layer heartbeat timeout of the APC-process-killed test [s of plant time]."""


def test_apc_process_killed_base_layer_falls_back_to_auto(server_factory, tmp_path):
    import subprocess
    import sys

    # the base layer's heartbeat timeout longer than a loaded machine keeps the APC process
    # waiting: it must fall back because the process died, not because it was starved
    server = server_factory(plant=PLANT.replace("heartbeat_timeout = 5.0",
                                                f"heartbeat_timeout = {HEARTBEAT}"))
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, 1000.0))
    store = tmp_path / "run" / "cycles.sqlite"
    apc = subprocess.Popen([sys.executable, "-m", "twin.cli.main", "deploy", str(config), "--out",
                            str(tmp_path / "run")], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        asyncio.run(after_cycles(store, 8))
        apc.kill()
        apc.wait(10)
    finally:
        if apc.poll() is None:
            apc.kill()
    last_rsp, mode_at_kill, t_kill = asyncio.run(read_values(
        server, "Plant.BaseLayer.v1.RSP", "Plant.BaseLayer.v1.Mode", "Diagnostics.Time"))
    assert mode_at_kill == "CASCADE"
    asyncio.run(at_plant_time(server, t_kill + HEARTBEAT + 1.0, lambda: None))
    mode, sp = asyncio.run(read_values(server, "Plant.BaseLayer.v1.Mode",
                                       "Plant.BaseLayer.v1.SP"))
    frame, _, cycles = records(store)
    # AUTO at the last good RSP: the one of the last heartbeat the APC wrote. Each cycle writes
    # its setpoints, then the heartbeat: a kill between the two leaves the RSP before.
    written = list(frame[frame.write.astype(bool)].v1)
    held = [k for k, v in enumerate(written) if v == pytest.approx(last_rsp, abs=1e-12)]
    assert held and held[-1] >= len(written) - 2, (last_rsp, written[-3:])  # a late write lost
    k = held[-1]
    assert mode == "AUTO" and (sp == pytest.approx(written[k], abs=1e-12)
                               or sp == pytest.approx(written[k - 1], abs=1e-12)), (sp, written[-3:])
    _complete(cycles, len(cycles))  # the store survived the kill, every cycle committed


@pytest.mark.parametrize("critical", [False, True])
def test_cv_bad_sensor_failure(server_factory, tmp_path, critical):
    server = server_factory(clock="virtual", faults="[[fault]]\ntime = 10.0\nkind = \"bad\"\n"
                                                    "tag = \"h1\"\nduration = 10.0\n")
    controller = _variant(tmp_path, **({'setpoint = 12.263\nweight = 1.0':
                                        'setpoint = 12.263\nweight = 1.0\ncritical = true'}
                                       if critical else {}))
    frame, events, cycles = _run(server, tmp_path, 30.0, controller=controller)
    _complete(cycles, 31)
    # published Bad from the tick after 10.0 to the tick that clears it at 20.0
    bad = frame[frame["h1.quality"] == "bad"]
    assert list(bad.time) == [float(t) for t in range(11, 21)]
    if critical:
        assert "critical CV 'h1' is bad" in " ".join(events.message)
        assert shed_counts(events) == {"controller": 1} and _shed_cycles(events) == [11]
        assert not bad.write.any()
        _no_writes_while_shed(frame, events)
    else:
        assert (bad["h1.status.quality"] == "dropped").all() and bad.write.all()
        assert not _shed_cycles(events)


def test_cv_uncertain_and_stale(server_factory, tmp_path):
    server = server_factory(clock="virtual",
                            faults="[[fault]]\ntime = 8.0\nkind = \"uncertain\"\ntag = \"h2\"\n"
                                   "duration = 6.0\n\n[[fault]]\ntime = 20.0\nkind = \"freeze\"\n"
                                   "tag = \"h1\"\nduration = 8.0\n")
    frame, events, cycles = _run(server, tmp_path, 35.0)
    _complete(cycles, 36)
    uncertain = frame[frame["h2.quality"] == "uncertain"]
    assert list(uncertain.time) == [float(t) for t in range(9, 15)]
    assert (uncertain["h2.status.quality"] == "dropped").all()  # not accepted by the spec
    # judged on the server's clock (plant time here): the last update of h1 was at 20.0, so
    # more than stale_after = 3 s old from the cycle at 24 to the one at 28 (cleared at 28.0)
    stale = events[events.kind == "stale"]
    assert list(zip(stale.t, stale.message)) == [
        (24.0, "h1: no update for more than 3 s (server timestamps)"),
        (29.0, "h1: updating again")]
    frozen = frame[frame["h1.quality"] == "bad"]
    assert list(frozen.time) == [24.0, 25.0, 26.0, 27.0, 28.0] and frozen.write.all()
    assert not _shed_cycles(events)


@pytest.mark.parametrize("edit,reason", [
    ({"[estimator]": "[solver]\nmax_iter = 1\nmax_failures = 3\n\n[estimator]"}, "failures"),
    ({"[estimator]": "[solver]\ntime_budget = 1e-7\nmax_failures = 3\n\n[estimator]"}, "failures"),
])
def test_solver_failing_or_overrunning_repeatedly_sheds(server_factory, tmp_path, edit, reason):
    server = server_factory(clock="virtual")
    frame, events, cycles = _run(server, tmp_path, 15.0, controller=_variant(tmp_path, **edit),
                                 extra="[[event]]\ntime = 3.0\nsetpoint_step = { h1 = 2.0 }\n")
    _complete(cycles, 16)
    sheds = events[events.kind == "shed"]
    assert shed_counts(events) == {"controller": 1}
    assert "controller shed" in sheds.message.iloc[0] and reason in sheds.message.iloc[0]
    _no_writes_while_shed(frame, events)


def test_requests_beyond_hard_and_rate_limits_are_clamped(server_factory, tmp_path):
    server = server_factory(clock="virtual")
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
    server = server_factory(clock="virtual",
                            faults="[[fault]]\ntime = 10.0\nkind = \"manual\"\ntag = \"v1\"\n")

    frame, events, cycles = _run(server, tmp_path, 40.0, observe=_hand_back_at(24))
    _complete(cycles, 41)
    sheds = events[events.kind == "shed"]
    assert shed_counts(events) == {"operator": 1} and list(sheds.t) == [11.0]
    assert "operator has loop v1 in MANUAL" in sheds.message.iloc[0]
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
    stop = asyncio.Event()

    async def burst():
        store = STORE(tmp_path)
        await after_cycles(store, 8)
        seen = 7
        for _ in range(3):
            server.kill()
            lost = await until_event(store, "unreadable", seen)  # the loop lost it ...
            await _in_executor(server.start)
            seen = (await until_logged(store, "a cycle reading the server again",
                                       "SELECT MIN(cycle) FROM cycle WHERE cycle > ? AND "
                                       "solve_status != 'no data'", lost))[0]  # ... and has it
        # a restarted server's base layer may take the loops to AUTO (its APC heartbeat
        # watch) before or after the loop re-enters: the operator hands them back each time
        operator = asyncio.ensure_future(_operator_keeps_handing_back(server))
        try:
            await back_in_control(store, cycles=3, after=lost)
        finally:
            operator.cancel()
            await asyncio.gather(operator, return_exceptions=True)
        stop.set()

    frame, events, cycles = _run(server, tmp_path, 1000.0, [burst], stop=stop)
    _complete(cycles, len(cycles))
    assert (events.kind == "reentry").any() and (events.kind == "restart").sum() >= 1
    sheds = shed_counts(events)
    assert sheds["communication"] >= 1 and set(sheds) <= {"communication", "overrun", "operator"}
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-3:].all()
