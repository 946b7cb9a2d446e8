"""OPC UA Historical Access: ``twin serve-opcua`` keeps history, ``read_history`` reads it.

One real ``twin serve-opcua`` process (virtual clock: 40 ticks of 0.25 s of
the quadruple tank with noisy level sensors, stepped by the operator) serves
the whole module over loopback. Its history, read over a secure session in
pages of 7 values, is the same table as the CSV files the server exports
when it stops. Refusals (unknown tag, a tag or a server without history, no
server, a wrong password) are one line each, against real servers.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from urllib.parse import quote
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hil_support import REQUEST_TIMEOUT, ServerProcess, operator_call
from local_support import PASSWORD, LocalServer
from support import run_twin
from twin.core.data import load_data
from twin.core.errors import InputError
from twin.orchestration.opcua.deploy_config import GatewaySettings
from twin.orchestration.opcua.gateway import GatewayError
from twin.orchestration.opcua.history import read_history
from twin.orchestration.plant_data import PASSWORD_ENV, load_plant_data

TICKS = 40
TICK = 0.25
PAGE = 7
NAMES = ["h1", "h2", "v1", "v2"]
"""The plant variables the server historizes: its sensors, then the model's inputs."""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """The server after ``TICKS`` ticks: (server, client settings); stopped at the end."""
    folder = tmp_path_factory.mktemp("history")
    server = ServerProcess(folder / "hw", clock="virtual").start()
    try:
        client = folder / "client"
        server.trust_into(client)
        asyncio.run(operator_call(server, "Advance", float(TICKS)))
        gateway = GatewaySettings(username="apc", password_file=str(server.config_dir /
                                                                    "apc.password"),
                                  config_dir=str(client), timeout=REQUEST_TIMEOUT)
        yield server, gateway
    finally:
        server.stop()


def test_a_time_range_reads_only_its_samples(run):
    server, gateway = run
    first = read_history(server.url, {"level": "ns=2;s=Plant.h1"}, gateway=gateway).data
    start = first.start + pd.Timedelta(seconds=2)
    part = read_history(server.url, {"level": "ns=2;s=Plant.h1"}, start,
                        (start + pd.Timedelta(seconds=1)).isoformat(), gateway=gateway,
                        page_size=2).data
    assert part.names == ["level"] and part.start == start
    np.testing.assert_array_equal(part.time, [0.0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(part.frame["level"].to_numpy(),
                                  first.frame["level"].to_numpy()[8:13])


def test_twin_data_inspect_reads_an_opc_tcp_url(run, monkeypatch, tmp_path, capsys):
    """The data command reads the server's history through the core's loader (the reader
    registered for opc.tcp://), as the operator user named in the URL."""
    server, _ = run
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(PASSWORD_ENV, server.password("operator"))
    server.trust_into(tmp_path / "opcua-client")
    url = server.url.replace("opc.tcp://", "opc.tcp://operator@")
    code, out, err = run_twin(capsys, "data", "inspect", url, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert sorted(t["name"] for t in document["tags"]) == NAMES
    assert document["samples"] == TICKS + 1 and document["interval_s"]["median"] == TICK
    h1 = next(t for t in document["tags"] if t["name"] == "h1")
    assert h1["samples"] == TICKS + 1 and 5 < h1["mean"] < 30 and h1["bad_quality"] == 0
    whole = load_plant_data(url)
    assert sorted(whole.names) == NAMES and len(whole.time) == TICKS + 1
    # the servers' EngineeringUnits, as in the CSV export's headers (the last test compares)
    assert whole.units == {"h1": "cm", "h2": "cm", "v1": "V", "v2": "V"}
    assert {t["name"]: t["unit"] for t in document["tags"]} == whole.units
    start = (whole.start + pd.Timedelta(seconds=1)).isoformat()
    part = load_plant_data(f"{url}?start={quote(start)}")
    np.testing.assert_array_equal(part.frame.to_numpy(), whole.frame.to_numpy()[4:])
    (tmp_path / "d.csv").write_text("time,h2 [cm]\n0,1.5\n1,2.5\n")
    assert load_plant_data(str(tmp_path / "d.csv")).frame["h2"].tolist() == [1.5, 2.5]


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("tags, message", [
    ({"x": "ns=2;s=Plant.nothing"}, "tag 'x' (ns=2;s=Plant.nothing): {url} has no such "
                                    "variable (BadNodeIdUnknown)"),
    ({"tick": "ns=2;s=Diagnostics.Tick"}, "tag 'tick' (ns=2;s=Diagnostics.Tick): {url} keeps "
                                          "no history of it (its AccessLevel has no HistoryRead)"),
    (["not a node"], "tag 'not a node': not a NodeId (e.g. ns=2;s=Plant.h1)"),
])
def test_a_bad_tag_is_one_line(run, tags, message):
    server, gateway = run
    with pytest.raises(InputError) as err:
        read_history(server.url, tags, gateway=gateway)
    assert one_line(err) == message.format(url=server.url)


def test_a_wrong_password_is_one_line(run, tmp_path):
    server, gateway = run
    (tmp_path / "pw").write_text("wrong-password\n")
    from dataclasses import replace

    with pytest.raises(GatewayError) as err:
        read_history(server.url, gateway=replace(gateway, password_file=str(tmp_path / "pw")))
    assert one_line(err) == f"{server.url} refused user 'apc' (wrong password or unknown user)"


def test_a_client_the_server_does_not_trust_is_one_line_and_logs_no_service_fault(run,
                                                                                  tmp_path):
    import logging
    from dataclasses import replace

    from twin.orchestration.opcua import security

    server, gateway = run
    client = tmp_path / "stranger"
    security.trust_certificate(security.Pki(client), (server.config_dir / "own" /
                                                      "cert.der").read_bytes(), "twin")
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("asyncua").addHandler(handler)
    try:
        with pytest.raises(GatewayError) as err:
            read_history(server.url, gateway=replace(gateway, config_dir=str(client)))
    finally:
        logging.getLogger("asyncua").removeHandler(handler)
    thumb = security.file_thumbprint(security.Pki(client).cert.read_bytes())
    assert one_line(err) == (f"{server.url} refused this client's certificate "
                             "(BadCertificateUntrusted); its administrator must trust it: on the "
                             f"server, `twin trust --rejected {thumb} --config-dir SERVER_DIR`")
    assert [r.getMessage() for r in records if "ServiceFault" in r.getMessage()] == []


def test_history_read_in_pages_equals_the_csv_export_of_the_same_run(run):
    """(Last of the module's tests on the server: it stops it.)"""
    server, gateway = run
    read = read_history(server.url, gateway=gateway, page_size=PAGE)
    data = read.data
    assert data.names == NAMES
    assert data.units == {"h1": "cm", "h2": "cm", "v1": "V", "v2": "V"}
    # every tick is kept, also the inputs that never change: 41 values per tag, pages of 7
    assert len(data.frame) == TICKS + 1
    assert read.pages == len(NAMES) * -(-(TICKS + 1) // PAGE) == 24
    np.testing.assert_array_equal(data.time, np.arange(TICKS + 1) * TICK)
    assert data.frame["v1"].eq(3.0).all() and data.frame["v2"].eq(3.0).all()
    h1 = data.frame["h1"]
    assert 5 < h1.mean() < 30 and 0.003 < h1.std() < 0.05    # noisy level (std 0.01 cm)
    assert data.reports == ("OPC UA history: 164 samples of 4 tags; 0 Bad or not a finite "
                            "number, set missing",)
    assert (read.long.quality == "Good").all() and len(read.long) == 164

    summary = json.loads(server.stop())                     # the server exports at its stop
    wide, long = map(Path, summary["history_csv"])
    assert wide == server.folder / "opcua-history.csv" and summary["history"] == \
        str(server.folder / "opcua-history.sqlite")
    exported = load_data(wide)
    pd.testing.assert_frame_equal(exported.frame, data.frame, check_exact=True)
    assert exported.units == data.units
    table = pd.read_csv(long)
    table["time"] = pd.to_datetime(table["time"], utc=True)
    pd.testing.assert_frame_equal(table, read.long, check_exact=True)
    assert table.time.min() == data.start


def test_the_history_of_a_foreign_server_node_opcua_is_read_in_pages(node_factory, tmp_path):
    """node-opcua keeps its own history (stateful continuation points, in memory): the same
    reader over the same secure session set-up reads it."""
    server = node_factory()
    client = tmp_path / "client"
    server.trust_into(client)
    gateway = GatewaySettings(username="apc", password_file=str(server.password_file("apc")),
                              config_dir=str(client), timeout=REQUEST_TIMEOUT)
    tags = {"h1": "ns=1;s=QuadrupleTank.h1", "h2": "ns=1;s=QuadrupleTank.h2"}
    end = pd.Timestamp.now("UTC") + pd.Timedelta(seconds=1)     # a second of ticks from now
    while pd.Timestamp.now("UTC") < end + pd.Timedelta(seconds=0.2):
        time.sleep(0.05)
    first = read_history(server.url, tags, end=end, gateway=gateway, page_size=1000)
    paged = read_history(server.url, tags, end=end, gateway=gateway, page_size=3)
    per_tag = first.long.groupby("tag").size()
    assert first.pages == 2 and paged.pages == sum(-(-per_tag // 3)) >= 20
    assert len(first.long) >= 2 * 30                            # >= 30 ticks of 25 ms per tag
    pd.testing.assert_frame_equal(paged.data.frame, first.data.frame, check_exact=True)
    assert paged.data.units == {"h1": "-", "h2": "-"}          # no EngineeringUnits there
    h1 = paged.data.frame["h1"].dropna()      # (each tag has its own time stamps: NaN between)
    assert len(h1) == per_tag["h1"] and 5 < h1.mean() < 30      # a level at steady state [cm]
    dt_ms = np.diff(h1.index) * 1e3
    assert 10 < np.median(dt_ms) < 200                          # a value every 25 ms tick


def test_no_server_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"opc.tcp://127.0.0.1:{port}/twin"
    (tmp_path / "pw").write_text("x\n")
    gateway = GatewaySettings(password_file=str(tmp_path / "pw"), config_dir=str(tmp_path / "c"),
                              insecure=True, timeout=5.0)
    with pytest.raises(GatewayError) as err:
        read_history(url, gateway=gateway)
    assert one_line(err) == f"cannot reach {url}: connection refused"


def test_a_server_without_history_is_one_line(tmp_path):
    server = LocalServer(tmp_path / "plain", secure=True, password=PASSWORD).start()
    try:
        client = tmp_path / "client"
        from twin.orchestration.opcua import security

        security.trust_certificate(security.Pki(client), server.server_certificate.read_bytes(),
                                   "twin")
        server.trust_client(client)
        (tmp_path / "pw").write_text(PASSWORD + "\n")
        gateway = GatewaySettings(password_file=str(tmp_path / "pw"), config_dir=str(client),
                                  timeout=REQUEST_TIMEOUT)
        with pytest.raises(InputError) as err:
            read_history(server.url, gateway=gateway)
        assert one_line(err) == (f"{server.url} keeps no history of any variable (no variable "
                                 "with Historizing set under Objects)")
        with pytest.raises(InputError) as err:
            read_history(server.url, ["ns=2;s=Plant.h1"], gateway=gateway)
        assert one_line(err) == (f"tag 'Plant.h1' (ns=2;s=Plant.h1): {server.url} keeps no "
                                 "history of it (its AccessLevel has no HistoryRead)")
    finally:
        server.stop()


def test_an_opc_tcp_source_without_a_password_or_with_one_in_the_url_is_one_line(monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    with pytest.raises(InputError) as err:
        load_plant_data("opc.tcp://reader@127.0.0.1:4840/twin")
    assert one_line(err) == ("opc.tcp://127.0.0.1:4840/twin: set the password in the "
                             "environment variable TWIN_OPCUA_PASSWORD")
    with pytest.raises(InputError) as err:
        load_plant_data("opc.tcp://reader:secret@127.0.0.1:4840/twin")
    assert one_line(err) == ("opc.tcp://127.0.0.1:4840/twin: do not put a password in the URL; "
                             "set TWIN_OPCUA_PASSWORD")
    assert "secret" not in str(err.value)


@pytest.mark.parametrize("start, end, page, message", [
    ("yesterday-ish", None, 10, "history start 'yesterday-ish': not a time"),
    ("", None, 10, "history start '': not a time"),
    ("2026-03-01T12:00:00", "2026-03-01T11:00:00", 10,
     "history of opc.tcp://127.0.0.1:1/twin: start 2026-03-01T12:00:00+00:00 is not before end "
     "2026-03-01T11:00:00+00:00"),
    (None, None, 0, "page size 0: give a whole number from 1 to 100000"),
])
def test_a_bad_range_or_page_size_is_one_line_before_connecting(start, end, page, message,
                                                                  tmp_path):
    gateway = GatewaySettings(password_env="NOT_SET_ANYWHERE", config_dir=str(tmp_path))
    with pytest.raises(InputError) as err:
        read_history("opc.tcp://127.0.0.1:1/twin", None, start, end, gateway=gateway,
                     page_size=page)
    assert one_line(err).startswith(message)
