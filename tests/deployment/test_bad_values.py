"""Bad, null and wrongly typed values on every kind of node the deployed loop reads.

The simulated hardware (a real ``twin serve-opcua`` process) is told by its
fault schedule to deliver, on one node, first a Bad status, then a null
value with a Good status, then a string, each for two plant seconds; a node
fault also applies at once to what a client writes, so the read-back after
a write sees it. Also, as the user ``apc``, a Bad DataValue is written to a
remote setpoint, which the server accepts and stores as a null value.

For every node the loop goes on without an exception: each cycle is
logged, the documented action is taken (a CV is dropped; a bad mode,
setpoint, remote setpoint read back or server heartbeat sheds), nothing is
written while shed, and the loop is back in control at the end. The server's
clock is virtual, in lockstep with the loop.
"""

from __future__ import annotations

import asyncio

import pytest

from hil_support import Lockstep, _client, after_cycles, deploy_text, records, run_loop_with
from test_faults import _no_writes_while_shed

DURATION = 40.0
FAULTS = (("bad", 6.0), ("null", 16.0), ("text", 26.0))
"""Each node fault and its start [plant s]; it lasts 2 s (scheduled by the server, so on the
virtual clock it touches the same cycles however busy the machine)."""


def _server(server_factory, node: str | None = None):
    """A fresh server (its base loops in CASCADE, as the loop will find them) with each fault
    of ``FAULTS`` on ``node``."""
    faults = "".join(f'[[fault]]\ntime = {start}\nkind = "{kind}"\ntag = "{node}"\n'
                     "duration = 2.0\n\n" for kind, start in FAULTS) if node else ""
    return server_factory(clock="virtual", faults=faults)


def _store(tmp_path):
    return tmp_path / "run" / "cycles.sqlite"


def _run(server, tmp_path, action=None):
    client = tmp_path / "client"
    server.trust_into(client)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client, DURATION))
    asyncio.run(run_loop_with(config, tmp_path / "run", [action] if action else [],
                                 Lockstep(server)))
    return records(tmp_path / "run" / "cycles.sqlite")


def _healthy_run(frame, events, cycles):
    assert list(cycles.cycle) == list(range(len(cycles))) and len(cycles) >= DURATION
    assert not (events.kind == "error").any(), events[events.kind == "error"].to_string()
    _no_writes_while_shed(frame, events)
    assert frame.write.iloc[-3:].all()  # in control again at the end


@pytest.mark.parametrize("node,sheds", [
    ("Plant.BaseLayer.v1.Mode", "mode of base loop v1 unreadable"),
    ("Plant.BaseLayer.v2.SP", "setpoint of base loop v2 unusable"),
    ("Plant.BaseLayer.v1.RSP", "read-back differs for v1"),
    ("Diagnostics.Heartbeat", "server heartbeat unreadable"),
])
def test_bad_values_on_loop_nodes_and_the_heartbeat_shed_and_the_loop_recovers(
        server_factory, tmp_path, node, sheds):
    frame, events, cycles = _run(_server(server_factory, node), tmp_path)
    _healthy_run(frame, events, cycles)
    shed = events[events.kind == "shed"]
    # each fault from its tick at 6, 16, 26 (after the cycle at that time) to the one clearing it
    assert list(shed.cycle) == [7, 17, 27], shed.message
    assert shed.message.str.contains(sheds, regex=False).all(), shed.message
    assert (events.kind == "reentry").sum() == 3


def test_bad_values_on_a_cv_drop_it_from_control_without_a_shed(server_factory, tmp_path):
    frame, events, cycles = _run(_server(server_factory, "Plant.h1"), tmp_path)
    _healthy_run(frame, events, cycles)
    assert not (events.kind == "shed").any()
    dropped = events[events.message.str.contains("CV 'h1' dropped")]
    back = events[events.message.str.contains("CV 'h1' back in control")]
    assert len(dropped) == 3 and len(back) == 3
    assert set(frame["h1.quality"].dropna()) == {"good", "bad"}


def test_a_bad_data_value_written_to_a_remote_setpoint_is_a_bad_value_not_a_crash(
        server_factory, tmp_path):
    server = _server(server_factory)
    async def write_bad():
        from asyncua import ua

        await after_cycles(_store(tmp_path), 6)
        async with _client(server, "apc") as client:
            ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
            node = client.get_node(f"ns={ns};s=Plant.BaseLayer.v1.RSP")
            for _ in range(20):  # between the server's ticks, as a rogue client would
                await node.write_value(ua.DataValue(ua.Variant(0.0, ua.VariantType.Double),
                                                    StatusCode=ua.StatusCode(
                                                        ua.StatusCodes.BadCommunicationError)))
                await asyncio.sleep(0.01)

    frame, events, cycles = _run(server, tmp_path, write_bad())
    _healthy_run(frame, events, cycles)
