"""Fuzz: OPC UA writes and method calls by each role against the simulated hardware.

Hypothesis sends a real ``twin serve-opcua`` process sequences of writes
(any variant type, value and status, to writable and read-only nodes) and
method calls (any arguments, NaN and inf included) as the users ``viewer``,
``apc`` and ``operator``. The server must answer every request (no hang),
refuse what a role may not do, never stop stepping or log a traceback,
and publish its plant values finite after the faults are cleared.
"""

from __future__ import annotations

import asyncio
import math
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hil_support import ServerProcess, _client
from twin.orchestration.opcua import security

NODES = ["Plant.BaseLayer.v1.RSP", "APC.Heartbeat", "Plant.h1", "Plant.v1",
         "Plant.BaseLayer.v2.Mode", "Plant.BaseLayer.v1.SP", "Diagnostics.Tick",
         "Diagnostics.Heartbeat"]
METHODS = ["InjectFault", "ClearFault", "StallHeartbeat", "SetLoopMode", "SetLoopOutput",
           "SetLoopSetpoint"]
STATUSES = ["Good", "BadCommunicationError", "UncertainLastUsableValue", "BadOutOfRange"]
VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-2 ** 31, 2 ** 31),
                   st.text(max_size=12), st.booleans(), st.none(),
                   st.sampled_from(["CASCADE", "AUTO", "MANUAL", "h1", "Plant.h1", "drift",
                                    "bad", "null", "text", "v1", "v2", ""]))
OPERATIONS = st.lists(st.tuples(
    st.sampled_from(["viewer", "apc", "operator"]),
    st.one_of(st.tuples(st.just("write"), st.sampled_from(NODES), VALUES,
                        st.sampled_from(STATUSES)),
              st.tuples(st.just("call"), st.sampled_from(METHODS),
                        st.lists(VALUES, max_size=4)))), min_size=1, max_size=8)


class _Sessions:
    """One secure session per role on a loop in a background thread."""

    def __init__(self, server: ServerProcess):
        self.server = server
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.clients = {role: self.run(_client(server, role).__aenter__())
                        for role in ("viewer", "apc", "operator")}
        self.ns = self.run(self.clients["apc"].get_namespace_index(
            "urn:process-twin:simulated-hardware"))

    def run(self, coro, timeout: float = 20.0):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def node(self, role: str, path: str):
        return self.clients[role].get_node(f"ns={self.ns};s={path}")

    def close(self):
        for client in self.clients.values():
            try:
                self.run(client.disconnect(), 10)
            except Exception:  # noqa: BLE001 - the server may have refused us already
                pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "hw")
    security.load_users(server.config_dir)  # the first users
    security.add_user(server.config_dir, "viewer", "viewer", "viewer-password-1")
    (server.config_dir / "viewer.password").write_text("viewer-password-1\n")
    server.start()
    s = _Sessions(server)
    yield s
    s.close()
    out = server.stop()
    assert "Traceback" not in server.log.read_text()
    assert "plant stopped" not in out


def _variant(value):
    from asyncua import ua

    if value is None:
        return ua.Variant()
    if isinstance(value, bool):
        return ua.Variant(value, ua.VariantType.Boolean)
    if isinstance(value, int):
        return ua.Variant(value, ua.VariantType.Int64)
    if isinstance(value, float):
        return ua.Variant(value, ua.VariantType.Double)
    return ua.Variant(value, ua.VariantType.String)


async def _apply(s: _Sessions, role: str, op) -> str:
    """One request; the status the server answered with."""
    from asyncua import ua
    from asyncua.ua.uaerrors import UaError

    try:
        if op[0] == "write":
            _, path, value, status = op
            dv = ua.DataValue(_variant(value), StatusCode=ua.StatusCode(getattr(ua.StatusCodes,
                                                                                 status)))
            await s.node(role, path).write_value(dv)
        else:
            _, method, args = op
            await s.node(role, "Simulation").call_method(
                ua.NodeId.from_string(f"ns={s.ns};s=Simulation.{method}"),
                *[_variant(a) for a in args])
        return "Good"
    except UaError as exc:
        return type(exc).__name__


async def _reset(s: _Sessions) -> None:
    from asyncua import ua

    call = s.node("operator", "Simulation").call_method
    await call(ua.NodeId.from_string(f"ns={s.ns};s=Simulation.ClearFault"),
               ua.Variant("", ua.VariantType.String))
    await call(ua.NodeId.from_string(f"ns={s.ns};s=Simulation.StallHeartbeat"),
               ua.Variant(False, ua.VariantType.Boolean))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(OPERATIONS)
def test_writes_and_calls_by_every_role_are_answered_and_the_plant_keeps_stepping(sessions,
                                                                                  operations):
    s = sessions
    for role, op in operations:
        answer = s.run(asyncio.wait_for(_apply(s, role, op), 10.0))
        if role == "viewer":
            assert answer in ("BadUserAccessDenied", "BadNotWritable"), (op, answer)
        if op[0] == "call" and role != "operator":
            assert answer == "BadUserAccessDenied", (role, op, answer)
        if op[0] == "write" and op[1].startswith(("Plant.h1", "Plant.v1", "Diagnostics")):
            assert answer != "Good", (role, op, answer)  # read-only for everyone
    s.run(_reset(s))
    tick = s.node("apc", "Diagnostics.Tick")
    first = s.run(tick.read_value())
    s.run(asyncio.sleep(0.3))
    assert s.run(tick.read_value()) > first  # still stepping
    for path in ("Plant.h1", "Plant.h2"):
        dv = s.run(s.node("apc", path).read_data_value())
        assert dv.StatusCode.is_good() and math.isfinite(dv.Value.Value), (path, dv)
