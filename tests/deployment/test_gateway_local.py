"""The gateway's reads and writes against a real OPC UA server in this process.

One Read gives every tag, loop mode and setpoint with its status and server
timestamp, converted to model units (scale * value + offset) through the
quality gate; setpoints are written in server units and read back; every
failure of a request is a one-line :class:`GatewayError`.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from local_support import LocalServer, config, later, write_deploy
from twin.core.errors import InputError
from twin.core.quality import Quality
from twin.orchestration.opcua.deploy_config import load_deploy
from twin.orchestration.opcua.gateway import Gateway, GatewayError, Sample




def gateway_of(cfg) -> Gateway:
    return Gateway(cfg.tags, cfg.gateway, cfg.url)


def connected(cfg, body, limit: float = 10.0):
    """``await body(gateway)`` on a connected gateway (closed afterwards)."""
    async def main():
        gateway = gateway_of(cfg)
        await gateway.connect()
        try:
            return await body(gateway)
        finally:
            await gateway.close()

    return asyncio.run(asyncio.wait_for(main(), limit))


def start_time(server: LocalServer):
    async def read():
        from asyncua import ua

        node = server.server.get_node(ua.NodeId.from_string("i=2257"))
        return await node.read_value()

    return server.call(read())


# ------------------------------------------------------------ reading

def test_one_read_gives_every_value_in_model_units_with_its_status_and_server_time(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, scale=2.0, offset=1.0, tick=True)
    plant.set("Plant.h1", 5.0, at=later(1))
    plant.set("Plant.h2", 6.0, "UncertainLastUsableValue", at=later(2))
    plant.set("Plant.BaseLayer.v1.Mode", "cascade")
    plant.set("Plant.BaseLayer.v2.Mode", "Auto")
    plant.set("Plant.BaseLayer.v1.SP", 1.5, at=later(3))
    plant.set("Plant.BaseLayer.v2.RSP", 2.0, at=later(3))
    plant.set("Diagnostics.Heartbeat", 41, at=later(4))
    plant.set("Diagnostics.Tick", 17)
    snap = connected(cfg, lambda g: g.read())
    assert snap.tags == {"h1": Sample(11.0, Quality.GOOD, "Good", later(1)),
                         "h2": Sample(13.0, Quality.UNCERTAIN, "UncertainLastUsableValue",
                                      later(2))}
    assert snap.modes == {"v1": "CASCADE", "v2": "AUTO"}
    assert snap.setpoints["v1"] == Sample(4.0, Quality.GOOD, "Good", later(3))
    assert snap.setpoints["v2"].value == 7.0 and snap.remote_setpoints["v1"].value == 7.0
    assert snap.remote_setpoints["v2"] == Sample(5.0, Quality.GOOD, "Good", later(3))
    assert (snap.heartbeat, snap.heartbeat_time, snap.tick) == (41, later(4), 17)
    assert snap.server_start == start_time(plant)


def test_a_start_time_the_server_marks_bad_is_not_used(plant, tmp_path):
    from asyncua import ua

    async def set_start(value, status):
        await plant.server.iserver.aspace.write_attribute_value(
            ua.NodeId.from_string("i=2257"), ua.AttributeIds.Value,
            ua.DataValue(Value=ua.Variant(value, ua.VariantType.DateTime),
                         StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status))))

    started = start_time(plant)
    plant.call(set_start(later(60), "BadOutOfService"))
    try:
        snap = connected(config(tmp_path, url=plant.url), lambda g: g.read())
    finally:
        plant.call(set_start(started, "Good"))
    assert snap.server_start is None and snap.heartbeat == 1
    assert start_time(plant) == started



def test_unknown_modes_and_bad_values_are_unreadable_never_errors(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url)
    plant.set("Plant.BaseLayer.v1.Mode", "OFF")
    plant.set("Plant.BaseLayer.v2.Mode", "CASCADE", "BadCommunicationError")
    plant.set("Plant.BaseLayer.v2.SP", 3.0, "BadSensorFailure", at=later(5))
    plant.set("Diagnostics.Heartbeat", 3, "BadCommunicationError")
    snap = connected(cfg, lambda g: g.read())
    assert snap.modes == {"v1": None, "v2": None}
    assert snap.setpoints["v2"].quality is Quality.BAD
    assert snap.setpoints["v2"].status == "BadSensorFailure"
    assert snap.setpoints["v2"].server_time == later(5)
    assert snap.tags["h1"] == Sample(12.0, Quality.GOOD, "Good", snap.tags["h1"].server_time)
    assert (snap.heartbeat, snap.heartbeat_time) == (None, None)
    assert snap.tick is None                            # no tick node in this tag map


def test_an_unreadable_tick_is_no_tick(plant, tmp_path):
    plant.set("Diagnostics.Tick", 5, "BadCommunicationError")
    snap = connected(config(tmp_path, url=plant.url, tick=True), lambda g: g.read())
    assert snap.tick is None and snap.heartbeat == 1


def test_the_tick_counter_is_read_alone_and_an_unreadable_one_is_a_gateway_error(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, tick=True)
    plant.set("Diagnostics.Tick", 1234)
    assert connected(cfg, lambda g: g.read_tick()) == 1234
    plant.set("Diagnostics.Tick", 0, "BadSensorFailure")
    with pytest.raises(GatewayError) as err:
        connected(cfg, lambda g: g.read_tick())
    assert str(err.value) == f"the tick counter on {plant.url} is unreadable (BadSensorFailure)"


def _map(tmp_path, url, replace: dict[str, str]):
    path = write_deploy(tmp_path, url=url)
    text = path.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    path.write_text(text)
    return load_deploy(path)


def test_missing_nodes_names_each_entry_the_server_does_not_have(plant, tmp_path):
    plant.set("Plant.h1", 1.0, "BadCommunicationError")        # there, only bad: not missing
    assert connected(config(tmp_path / "a", url=plant.url, tick=True),
                     lambda g: g.missing_nodes()) == []
    cfg = _map(tmp_path / "b", plant.url, {'"ns=2;s=Plant.h2"': '"ns=2;s=Plant.nothing"',
                                           '"ns=2;s=Plant.BaseLayer.v2.SP"': '"i=85"',
                                           '"ns=2;s=Plant.BaseLayer.v1.RSP"': '"i=0"'})
    assert connected(cfg, lambda g: g.missing_nodes()) == [
        "tag:h2 (ns=2;s=Plant.nothing: BadNodeIdUnknown)",
        "rsp:v1 (i=0: BadNodeIdUnknown)",
        "sp:v2 (i=85: BadAttributeIdInvalid)"]


def test_a_node_the_server_calls_invalid_is_missing(plant, tmp_path):
    # a server relaying another one answers BadNodeIdInvalid for a node id that one refuses
    plant.set("Plant.h2", None, "BadNodeIdInvalid")
    plant.set("Plant.h1", None, "BadNodeIdInvalid")
    assert connected(config(tmp_path, url=plant.url), lambda g: g.missing_nodes()) == [
        "tag:h1 (ns=2;s=Plant.h1: BadNodeIdInvalid)", "tag:h2 (ns=2;s=Plant.h2: BadNodeIdInvalid)"]


def test_a_malformed_node_id_in_the_tag_map_is_an_input_error_at_connection(plant, tmp_path):
    cfg = _map(tmp_path, plant.url, {'"ns=2;s=Plant.h2"': '"ns=two;s=Plant.h2"'})
    with pytest.raises(InputError, match=r"^tag map: bad NodeId \("):
        connected(cfg, lambda g: g.read())


# ------------------------------------------------------------ writing

def test_setpoints_are_written_in_server_units_and_read_back_in_model_units(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, scale=2.0, offset=1.0)

    async def body(g):
        await g.write_setpoints({"v1": 7.0, "v2": 4.0})
        return await g.read_back(["v2", "v1"])

    back = connected(cfg, body)
    assert plant.value("Plant.BaseLayer.v1.RSP") == 3.0 and plant.value("Plant.BaseLayer.v2.RSP") == 1.5
    assert list(back) == ["v2", "v1"]
    assert (back["v1"].value, back["v2"].value) == (7.0, 4.0) and back["v1"].good
    plant.set("Plant.BaseLayer.v2.RSP", 1.5, "BadOutOfRange")
    back = connected(cfg, lambda g: g.read_back(["v2"]))
    assert back["v2"].quality is Quality.BAD and back["v2"].status == "BadOutOfRange"


def test_no_setpoints_is_no_request(tmp_path):
    cfg = config(tmp_path)                              # no server there: nothing is sent
    asyncio.run(gateway_of(cfg).write_setpoints({}))


def test_the_apc_heartbeat_is_written_as_a_32_bit_counter(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url)
    connected(cfg, lambda g: g.write_heartbeat(2 ** 32 + 5))
    assert plant.value("APC.Heartbeat") == 5
    connected(cfg, lambda g: g.write_heartbeat(7))
    assert plant.value("APC.Heartbeat") == 7


# ------------------------------------------------------------ failures

@pytest.mark.parametrize("call", [
    lambda g: g.read(), lambda g: g.missing_nodes(), lambda g: g.read_tick(),
    lambda g: g.read_back(["v1"]), lambda g: g.write_heartbeat(1),
    lambda g: g.write_setpoints({"v1": 1.0})])
def test_a_call_without_a_session_is_one_line(tmp_path, call):
    cfg = config(tmp_path, tick=True)
    with pytest.raises(GatewayError) as err:
        asyncio.run(call(gateway_of(cfg)))
    assert str(err.value) == f"not connected to {cfg.url}"


def test_a_write_the_server_refuses_is_a_gateway_error_naming_it(plant, tmp_path):
    cfg = _map(tmp_path, plant.url, {'"ns=2;s=Plant.BaseLayer.v1.RSP"': '"i=2257"',
                                     '"ns=2;s=APC.Heartbeat"': '"i=2258"'})
    for call in (lambda g: g.write_setpoints({"v1": 1.0}), lambda g: g.write_heartbeat(1)):
        with pytest.raises(GatewayError) as err:
            connected(cfg, call)
        assert str(err.value).startswith(f"write on {plant.url} failed: BadUserAccessDenied: ")


def test_a_request_waits_for_the_server_up_to_the_timeout_plus_the_reconnect_wait(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, gateway={"timeout": 1.0, "reconnect_wait": 0.5})

    async def slow(g):
        plant.freeze(0.7)                   # within the request's timeout
        started = time.monotonic()
        snap = await g.read()
        return snap, time.monotonic() - started

    snap, took = connected(cfg, slow)
    assert snap.heartbeat == 1 and 0.6 <= took < 1.0


def test_a_server_that_does_not_answer_fails_the_request_after_the_timeout(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, gateway={"timeout": 0.4})

    async def frozen(g):
        plant.freeze(0.8)
        started = time.monotonic()
        with pytest.raises(GatewayError) as err:
            await g.read()
        return str(err.value), time.monotonic() - started

    message, took = connected(cfg, frozen)
    # a timeout says nothing more: its type stands for the text
    assert message == f"read on {plant.url} failed: TimeoutError: TimeoutError"
    assert 0.3 <= took < 0.7


@pytest.mark.parametrize("what,call", [
    ("read", lambda g: g.read()), ("read back", lambda g: g.read_back(["v1"])),
    ("read", lambda g: g.read_tick()), ("read", lambda g: g.missing_nodes()),
    ("write", lambda g: g.write_setpoints({"v1": 1.0})), ("write", lambda g: g.write_heartbeat(1))])
def test_a_lost_connection_fails_each_request_with_one_line_naming_it(plant, tmp_path, what, call):
    cfg = config(tmp_path, url=plant.url, tick=True)

    async def lost(g):
        g.client.disconnect_socket()                    # the network is gone
        with pytest.raises(GatewayError) as err:
            await call(g)
        return str(err.value)

    assert connected(cfg, lost) == f"{what} on {plant.url} failed: ConnectionError: Connection " \
                                   "is not open"


# ------------------------------------------------------------ the session

def test_a_lost_connection_is_reconnected_by_the_client_itself(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url, gateway={"timeout": 1.0})

    async def lost(g):
        g.client.disconnect_socket()                    # the network is gone, then back
        started = time.monotonic()
        while not g.connected and time.monotonic() - started < 8.0:
            await asyncio.sleep(0.05)
        return await g.read(), time.monotonic() - started

    snap, took = connected(cfg, lost, limit=20.0)
    assert snap.heartbeat == 1 and took < 8.0


def test_a_session_is_closed_once_and_rebuilt_as_a_new_one(plant, tmp_path):
    cfg = config(tmp_path, url=plant.url)

    async def body(g):
        first = g.client
        assert g.connected
        await g.rebuild()
        assert g.connected and g.client is not first
        snap = await g.read()
        await g.close()
        assert g.client is None and not g.connected
        await g.close()                                 # closing again is harmless
        return snap

    assert connected(cfg, body).heartbeat == 1


def test_closing_the_gateway_closes_its_connection_on_the_server(plant, tmp_path):
    connections = plant.server.bserver.clients

    async def body():
        before = len(connections)
        g = gateway_of(config(tmp_path, url=plant.url))
        await g.connect()
        during = len(connections)
        await g.close()
        for _ in range(100):                            # the server sees the socket close
            if len(connections) == before:
                break
            await asyncio.sleep(0.01)
        return before, during, len(connections)

    before, during, after = asyncio.run(asyncio.wait_for(body(), 10))
    assert (during, after) == (before + 1, before)


def test_a_secure_gateway_never_falls_back_to_the_unsecured_endpoint(plant, tmp_path):
    from pathlib import Path

    from twin.orchestration.opcua import security

    cfg = config(tmp_path, url=plant.url, gateway={"insecure": False})
    other = security.Pki(tmp_path / "some-server")
    asyncio.run(security.ensure_certificate(other, "server"))
    security.trust_certificate(security.Pki(Path(cfg.gateway.config_dir)), other.cert.read_bytes(),
                               "some server")
    with pytest.raises(GatewayError) as err:
        connected(cfg, lambda g: g.read())
    assert str(err.value) == (
        f"{plant.url} offers no Basic256Sha256 SignAndEncrypt endpoint; an unsecured connection "
        "is refused (set gateway.insecure = true only if you mean it)")
