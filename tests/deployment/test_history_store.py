"""The history storage of the simulated hardware and its ``[history]`` settings.

The storage is asyncua's SQLite history with the changes of
:mod:`twin.orchestration.opcua.history_store`; here it is driven directly,
as the server drives it (every value recorded, read back through the same
call asyncua's history manager makes for a HistoryRead).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from asyncua import ua

from support import run_twin, the_error_line
from twin.core.errors import InputError
from twin.orchestration.opcua.history_store import TwinHistory, export_csv, historize, read_stored
from twin.orchestration.opcua.serve_config import DEFAULT_HISTORY_FILE, load_serve_config

T0 = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.timezone.utc)
NODE = ua.NodeId("Plant.h1", 2)


def value(x: float, k: int, status: str = "Good") -> ua.DataValue:
    at = T0 + dt.timedelta(seconds=k)   # whole seconds: no fraction in the ISO text
    return ua.DataValue(ua.Variant(x, ua.VariantType.Double),
                        StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
                        SourceTimestamp=at, ServerTimestamp=at)


async def stored(path: Path, n: int, **options) -> TwinHistory:
    store = TwinHistory(path, **options)
    await store.init()
    await store.new_historized_node(NODE)
    for k in range(n):
        store.record(NODE, value(0.5 * k, k, "Good" if k != 3 else "BadSensorFailure"))
    await store.flush()
    return store


def pages(store: TwinHistory, nb_values: int):
    """Every page a client asking for ``nb_values`` per request gets (the continuation point
    is the next start time, as asyncua's history manager passes it on)."""
    async def read():
        out, start = [], T0 - dt.timedelta(days=1)
        while True:
            page, cont = await store.read_node_history(NODE, start, T0 + dt.timedelta(days=1),
                                                       nb_values)
            out.append([dv.Value.Value for dv in page])
            if cont is None:
                return out
            start = cont
    return read()


def test_every_recorded_value_comes_back_in_pages_with_its_status_and_time(tmp_path):
    async def main():
        store = await stored(tmp_path / "h.sqlite", 10, page_size=4)
        try:
            got = await pages(store, 3)               # the client's page is the smaller
            assert got == [[0.0, 0.5, 1.0], [1.5, 2.0, 2.5], [3.0, 3.5, 4.0], [4.5]]
            assert await pages(store, 0) == [[0.0, 0.5, 1.0, 1.5], [2.0, 2.5, 3.0, 3.5],
                                             [4.0, 4.5]]   # the server's page
            page, _ = await store.read_node_history(NODE, T0, T0 + dt.timedelta(seconds=4), 0)
            assert [dv.SourceTimestamp for dv in page] == \
                [T0 + dt.timedelta(seconds=k) for k in range(4)]
            assert page[3].StatusCode.name == "BadSensorFailure" and page[0].StatusCode.is_good()
        finally:
            await store.stop()

    asyncio.run(main())


def test_a_restarted_server_appends_to_its_history(tmp_path):
    async def main():
        await (await stored(tmp_path / "h.sqlite", 2)).stop()
        again = TwinHistory(tmp_path / "h.sqlite")
        await again.init()
        await again.new_historized_node(NODE)
        newest = again.newest             # a virtual clock restarts after it
        await again.stop()
        assert newest == T0 + dt.timedelta(seconds=1)
        store = await stored(tmp_path / "h.sqlite", 3)   # the same time stamps again
        await store.stop()

    asyncio.run(main())
    rows = read_stored(tmp_path / "h.sqlite", {"h1": "2_Plant.h1"})
    assert [r[2] for r in rows] == [0.0, 0.0, 0.5, 0.5, 1.0]


@pytest.mark.parametrize("options, kept", [
    ({"max_samples": 4}, [3.0, 3.5, 4.0, 4.5]),
    ({"retention": 2.5}, [3.5, 4.0, 4.5]),               # newest at 9 s: from 6.5 s on
])
def test_retention_keeps_the_newest_samples(tmp_path, options, kept):
    async def main():
        store = await stored(tmp_path / "h.sqlite", 10, **options)
        try:
            return await pages(store, 0)
        finally:
            await store.stop()

    assert asyncio.run(main()) == [kept]


def test_the_csv_export_has_bad_samples_empty_in_the_wide_form_and_named_in_the_long(tmp_path):
    async def main():
        await (await stored(tmp_path / "h.sqlite", 5)).stop()

    asyncio.run(main())
    wide, long = tmp_path / "h.csv", tmp_path / "h-long.csv"
    assert export_csv(tmp_path / "h.sqlite", {"h1": "2_Plant.h1"}, {"h1": "cm"}, wide, long) == 5
    assert wide.read_text().splitlines() == ["time,h1 [cm]", "0.0,0.0", "1.0,0.5", "2.0,1.0",
                                             "3.0,", "4.0,2.0"]
    lines = long.read_text().splitlines()
    assert lines[0] == "tag,time,value,quality"
    assert lines[1] == "h1,2026-03-01T12:00:00.000000+00:00,0.0,Good"
    assert lines[4] == "h1,2026-03-01T12:00:03.000000+00:00,1.5,BadSensorFailure"


def test_historize_sets_the_node_attributes(tmp_path):
    """Historizing and AccessLevel HistoryRead on a node of a real (not listening) server."""
    async def main():
        from asyncua import Server

        server = Server()
        await server.init()
        node = await server.nodes.objects.add_variable(NODE, "h1", 1.0)
        store = TwinHistory(tmp_path / "h.sqlite")
        await store.init()
        try:
            await historize(store, {"h1": node})
            access = await node.read_attribute(ua.AttributeIds.AccessLevel)
            return (await node.read_attribute(ua.AttributeIds.Historizing)).Value.Value, \
                access.Value.Value
        finally:
            await store.stop()

    historizing, access = asyncio.run(main())
    assert historizing is True and access & ua.AccessLevel.HistoryRead.mask


SERVE = """
[plant]
model = "quadruple_tank"
tick = 0.5
"""


@pytest.mark.parametrize("table, message", [
    ("retention = -1.0", "serve.toml.history.retention: -1.0 is out of range (expected a "
                         "number > 0 and <= 3.2e+09)"),
    ("max_samples = 0", "serve.toml.history.max_samples: 0 is out of range (expected an "
                        "integer >= 1 and <= 1000000000)"),
    ("page_size = 2.5", "serve.toml.history.page_size: expected an integer, got 2.5"),
    ("file = ' '", "serve.toml.history: history.file: give a file name for the history database"),
    ("keep = 3", "serve.toml.history: unknown key 'keep'; valid keys: enabled, file, "
                 "retention, max_samples, page_size, export_csv"),
])
def test_bad_history_settings_are_one_line(tmp_path, table, message):
    (tmp_path / "serve.toml").write_text(SERVE + "[history]\n" + table + "\n")
    with pytest.raises(InputError) as err:
        load_serve_config(tmp_path / "serve.toml")
    assert str(err.value) == message


def test_the_history_file_is_next_to_the_server_file_or_in_the_current_folder(tmp_path,
                                                                                monkeypatch):
    (tmp_path / "serve.toml").write_text(SERVE)
    assert load_serve_config(tmp_path / "serve.toml").history.file == \
        str(tmp_path / DEFAULT_HISTORY_FILE)
    (tmp_path / "serve.toml").write_text(SERVE + "[history]\nfile = 'data/h.db'\n")
    assert load_serve_config(tmp_path / "serve.toml").history.file == str(tmp_path / "data/h.db")
    monkeypatch.chdir(tmp_path / "..")
    assert load_serve_config(None, "quadruple_tank", 0.5).history.file == \
        str(tmp_path.parent / DEFAULT_HISTORY_FILE)
    assert load_serve_config(tmp_path / "serve.toml", history="x.db").history.file == \
        str(tmp_path.parent / "x.db")
    assert not load_serve_config(tmp_path / "serve.toml", history="off").history.enabled


def test_a_history_file_that_cannot_be_opened_stops_the_server_with_one_line(tmp_path, capsys):
    code, _, err = run_twin(capsys, "serve-opcua", "quadruple_tank", "--tick", "0.5",
                            "--endpoint", "opc.tcp://127.0.0.1:0/twin", "--config-dir",
                            str(tmp_path / "server"), "--history", str(tmp_path), "--duration",
                            "1")
    assert code == 2
    assert the_error_line(err) == (f"twin: error: history file '{tmp_path}': cannot open it "
                                   "(unable to open database file)")


def test_what_is_recorded_just_before_the_stop_is_stored(tmp_path, monkeypatch):
    from twin.orchestration.opcua import history_store

    monkeypatch.setattr(history_store, "FLUSH_EVERY", 0.0)

    async def main():
        store = TwinHistory(tmp_path / "h.sqlite")
        await store.init()
        await store.new_historized_node(NODE)
        for k in range(500):
            store.record(NODE, value(float(k), k))
        for _ in range(3):
            await asyncio.sleep(0)          # the writer takes the batch and starts storing it
        assert not store._pending          # (it has: the stop comes in the middle of it)
        await store.stop()

    asyncio.run(main())
    rows = read_stored(tmp_path / "h.sqlite", {"h1": "2_Plant.h1"})
    assert [r[2] for r in rows] == [float(k) for k in range(500)]
