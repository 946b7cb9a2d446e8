"""No exception leaves a cycle of the deployed loop unlogged.

An exception is injected into one stage of one cycle (read, estimate,
solve, write, read-back, commit) while the loop controls the simulated
hardware (a real ``twin serve-opcua`` process). For each stage the cycle
log must show the error with its stage, a shed (nothing written while
shed), and the loop back in control afterwards; every cycle is logged
once. The injected exceptions are test doubles for faults that cannot be
produced on demand (a defect inside the estimator, a disk that fails).
The server's clock is virtual, in lockstep with the loop: the failing cycle
and the base layer's heartbeat watch (in plant time) keep their places
however busy the machine.
"""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from hil_support import Lockstep, ServerProcess, deploy_text, records, run_loop_with
from test_faults import _no_writes_while_shed

FAIL_AT = 10
"""Cycle whose stage fails (the loop is in control well before)."""
CYCLES = 24


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("guard") / "hw", clock="virtual").start()
    yield server
    server.stop()


class Injected(RuntimeError):
    """The fault injected into a stage."""


def _failing_once(original, calls_before: int, error=None):
    """``original`` that raises on its call number ``calls_before`` (0-based) only."""
    count = {"n": 0}

    def wrapper(*args, **kwargs):
        n = count["n"]
        count["n"] += 1
        if n == calls_before:
            raise error or Injected("injected fault")
        return original(*args, **kwargs)

    async def async_wrapper(*args, **kwargs):
        n = count["n"]
        count["n"] += 1
        if n == calls_before:
            raise error or Injected("injected fault")
        return await original(*args, **kwargs)

    return async_wrapper if asyncio.iscoroutinefunction(original) else wrapper


def _stage_patch(stage: str, monkeypatch) -> str:
    """Patch the stage's function to fail once, in cycle ``FAIL_AT``; the stage name logged."""
    from apc.estimation import EKF
    from apc.nmpc import StructuredNMPC
    from twin.orchestration.loop.store import CycleStore
    from twin.orchestration.opcua.gateway import Gateway

    target = {"read": (Gateway, "read", "read"),
              "estimate": (EKF, "correct", "controller"),
              "solve": (StructuredNMPC, "solve", "controller"),
              "write": (Gateway, "write_setpoints", "write"),
              "read-back": (Gateway, "read_back", "read-back"),
              "commit": (CycleStore, "log_cycle", "commit")}[stage]
    cls, name, logged = target
    error = sqlite3.OperationalError("disk I/O error") if stage == "commit" else None
    # one call per cycle from the first cycle on (the loop engages at once)
    monkeypatch.setattr(cls, name, _failing_once(getattr(cls, name), FAIL_AT, error))
    return logged


@pytest.mark.parametrize("stage", ["read", "estimate", "solve", "write", "read-back", "commit"])
def test_an_exception_in_any_stage_is_logged_sheds_and_the_loop_recovers(server, tmp_path,
                                                                          monkeypatch, stage):
    logged = _stage_patch(stage, monkeypatch)
    client = tmp_path / "client"
    server.trust_into(client)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client, float(CYCLES - 1)))
    asyncio.run(run_loop_with(config, tmp_path / "run", driver=Lockstep(server)))
    frame, events, cycles = records(tmp_path / "run" / "cycles.sqlite")

    errors = events[events.kind == "error"]
    assert len(errors) == 1, events.to_string()
    assert errors.message.iloc[0].startswith(f"{logged} failed:")
    assert "injected fault" in errors.message.iloc[0] or "disk I/O error" in errors.message.iloc[0]
    sheds = events[events.kind == "shed"]
    assert len(sheds) == 1 and f"{logged} failed" in sheds.message.iloc[0] or \
        stage == "commit" and "cycle store failed" in sheds.message.iloc[0]
    if stage == "commit":  # the cycle the store refused is missing; its events came later
        assert FAIL_AT not in set(cycles.cycle)
        assert list(cycles.cycle) == [c for c in range(CYCLES) if c != FAIL_AT]
        assert "not recorded" in errors.message.iloc[0]
    else:
        assert list(cycles.cycle) == list(range(CYCLES))
        assert int(errors.cycle.iloc[0]) == FAIL_AT
    _no_writes_while_shed(frame, events)
    assert (events.kind == "reentry").any()
    assert frame.write.iloc[-1] and frame.write.iloc[-3:].all()  # in control again


def test_a_loop_whose_stage_keeps_failing_stops_with_one_line(server, tmp_path, monkeypatch):
    from apc.nmpc import StructuredNMPC
    from twin.core.errors import RunStopped

    def broken(self, data):
        raise Injected("solver library corrupted")

    original = StructuredNMPC.solve
    calls = {"n": 0}

    def solve(self, data):
        calls["n"] += 1
        return original(self, data) if calls["n"] < 6 else broken(self, data)

    monkeypatch.setattr(StructuredNMPC, "solve", solve)
    client = tmp_path / "client"
    server.trust_into(client)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client, 200.0, watchdog={"max_errors": 2}))
    # two failed re-entries, 2 cycles apart, before the base layer's heartbeat watch (5 s)
    # takes the loops back to AUTO
    with pytest.raises(RunStopped) as stopped:
        asyncio.run(run_loop_with(config, tmp_path / "run", driver=Lockstep(server)))
    message = str(stopped.value)
    assert "\n" not in message and "2 failed cycles" in message
    assert "solver library corrupted" in message
    frame, events, cycles = records(tmp_path / "run" / "cycles.sqlite")
    assert list(cycles.cycle) == list(range(len(cycles)))
    assert (events.kind == "error").sum() == 2 and (events.kind == "stopped").sum() == 1
    _no_writes_while_shed(frame, events)
