"""The history of the simulated hardware: asyncua's SQLite storage, fed by the server itself.

asyncua's :class:`~asyncua.server.history_sql.HistorySQLite` keeps one table
per node (time stamps, status, the value as an OPC UA binary variant) and
answers HistoryRead through the server's history manager. Three things are
changed here, each for a reason:

- **What is stored.** asyncua historizes through an internal subscription,
  which records only *changes* of value or status, 10 ms apart at most; a
  plant at steady state would leave gaps, and a fast server would lose
  samples. The server instead hands every value it publishes, every tick,
  to :meth:`TwinHistory.record` (no await: a tick is published whole), and
  a writer task stores them in batches, one commit per :data:`FLUSH_EVERY`
  (asyncua commits every single value).
- **Paging.** asyncua's storage gives a continuation point only beyond its
  own response limit, not when a client's ``NumValuesPerNode`` is reached;
  here a read returns at most ``min(NumValuesPerNode, page_size)`` values
  and a continuation point (the time stamp of the next value) whenever
  more follow.
- **Time stamps.** Stored as fixed-width ISO text in UTC (microseconds) and
  read back as text, so they compare in time order in SQL and come back
  exactly, time zone included (the sqlite3 timestamp converter drops it).

Retention (``retention`` seconds behind the newest sample, ``max_samples``
per variable) is applied by the writer at most every :data:`PRUNE_EVERY`
seconds.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import logging
import math
import sqlite3
import time
from pathlib import Path

from asyncua import ua
from asyncua.common.sql_injection import validate_table_name
from asyncua.common.utils import Buffer
from asyncua.server.history_sql import HistorySQLite
from asyncua.ua.ua_binary import variant_from_binary, variant_to_binary

from twin.core.errors import InputError

log = logging.getLogger(__name__)

PRUNE_EVERY = 5.0
"""Retention is applied at most this often [s of real time]."""
FLUSH_EVERY = 0.2
"""The writer stores what was recorded at most this often [s of real time] (a read stores
first what is waiting, so it always sees every tick published)."""
MAX_PENDING = 1_000_000
"""Values waiting for the writer at most; beyond, new ones are dropped (and counted)."""


def stamp_text(moment: dt.datetime) -> str:
    """A time stamp as stored: UTC, ISO with microseconds (``2026-03-01 12:00:00.000000+00:00``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(" ", timespec="microseconds")


class TwinHistory(HistorySQLite):
    """asyncua's SQLite history storage, written by the server tick by tick (see the module).

    Parameters
    ----------
    path : path
        The SQLite database (created when missing; kept and appended to otherwise).
    page_size : int
        Most values of one variable in one HistoryRead answer.
    retention : float, optional
        Keep samples at most this much older than the newest [s].
    max_samples : int, optional
        Keep at most this many samples per variable.
    """

    def __init__(self, path: str | Path, page_size: int = 10_000, retention: float | None = None,
                 max_samples: int | None = None):
        super().__init__(str(path), max_history_data_response_size=page_size)
        self.retention = retention
        self.max_samples = max_samples
        self.dropped = 0
        self._tables: dict[ua.NodeId, str] = {}
        self._pending: list[tuple[str, tuple]] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._writer: asyncio.Task | None = None
        self._pruned = 0.0
        self._newest: dt.datetime | None = None

    def _get_table_name(self, node_id: ua.NodeId) -> str:
        """``<namespace>_<identifier>`` (asyncua's name quotes string identifiers, which its own
        check of table names then refuses)."""
        name = f"{node_id.NamespaceIndex}_{node_id.Identifier}"
        return "".join("_" if c in ' ;,()[]"\'' else c for c in name)

    async def init(self) -> None:
        """Open the database (WAL journal: readers never wait for the writer) and start writing."""
        try:
            Path(self._db_file).parent.mkdir(parents=True, exist_ok=True)
            await super().init()
            await self._db.execute("PRAGMA journal_mode=WAL")
            await self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise InputError(f"history file '{self._db_file}': cannot open it ({exc})") from None
        self._writer = asyncio.create_task(self._write_loop())

    async def new_historized_node(self, node_id: ua.NodeId, period=None, count: int = 0) -> None:
        """Create the node's table (kept when it exists: a restarted server appends)."""
        table = self._get_table_name(node_id)
        validate_table_name(table)
        await self._db.execute(
            f'CREATE TABLE IF NOT EXISTS "{table}" (_Id INTEGER PRIMARY KEY NOT NULL,'
            " ServerTimestamp TIMESTAMP, SourceTimestamp TIMESTAMP, StatusCode INTEGER,"
            " Value TEXT, VariantType TEXT, VariantBinary BLOB)")
        await self._db.execute(f'CREATE INDEX IF NOT EXISTS "{table}_time" ON "{table}" '
                               "(SourceTimestamp)")
        await self._db.commit()
        self._datachanges_period[node_id] = None, 0
        self._tables[node_id] = table
        async with self._db.execute(f'SELECT CAST(MAX(SourceTimestamp) AS TEXT) FROM "{table}"') \
                as cursor:
            (newest,) = await cursor.fetchone()
        if newest is not None:
            newest = dt.datetime.fromisoformat(newest)
            self._newest = newest if self._newest is None else max(self._newest, newest)

    @property
    def newest(self) -> dt.datetime | None:
        """The newest time stamp stored (also from earlier runs) or recorded."""
        return self._newest

    def record(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        """Queue one published value of a historized node (no await; the writer stores it)."""
        table = self._tables.get(node_id)
        if table is None:
            return
        if len(self._pending) >= MAX_PENDING:
            self.dropped += 1
            return
        variant = datavalue.Value if datavalue.Value is not None else ua.Variant()
        source = datavalue.SourceTimestamp or datavalue.ServerTimestamp
        self._pending.append((table, (
            stamp_text(datavalue.ServerTimestamp or source), stamp_text(source),
            datavalue.StatusCode.value if datavalue.StatusCode is not None else 0,
            str(variant.Value), variant.VariantType.name, sqlite3.Binary(variant_to_binary(variant)))))
        if self._newest is None or source > self._newest:
            self._newest = source
        self._wake.set()

    async def save_node_value(self, node_id: ua.NodeId, datavalue: ua.DataValue) -> None:
        """asyncua's way in (a subscription): queued like :meth:`record`."""
        self.record(node_id, datavalue)

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(FLUSH_EVERY)  # many ticks per transaction
            self._wake.clear()
            try:
                await self.flush()
            except sqlite3.Error as exc:  # a full disk: the server keeps serving
                log.error("history not written: %s", exc)

    async def flush(self) -> None:
        """Store what is queued (one transaction), and apply retention when due."""
        async with self._lock:
            batch, self._pending = self._pending, []
            if batch:
                by_table: dict[str, list[tuple]] = {}
                for table, row in batch:
                    by_table.setdefault(table, []).append(row)
                for table, rows in by_table.items():
                    await self._db.executemany(
                        f'INSERT INTO "{table}" VALUES (NULL, ?, ?, ?, ?, ?, ?)', rows)
                await self._db.commit()
            if (self.retention or self.max_samples) and time.monotonic() - self._pruned \
                    > PRUNE_EVERY:
                self._pruned = time.monotonic()
                await self._prune()

    async def _prune(self) -> None:
        for table in self._tables.values():
            if self.retention and self._newest is not None:
                oldest = stamp_text(self._newest - dt.timedelta(seconds=self.retention))
                await self._db.execute(f'DELETE FROM "{table}" WHERE SourceTimestamp < ?',
                                       (oldest,))
            if self.max_samples:
                await self._db.execute(
                    f'DELETE FROM "{table}" WHERE _Id <= (SELECT MAX(_Id) FROM "{table}") - ?',
                    (self.max_samples,))
        await self._db.commit()

    async def read_node_history(self, node_id, start, end, nb_values):
        """At most ``min(nb_values, page_size)`` values in time order, and the time stamp of the
        next one as continuation point when more follow (see the module)."""
        table = self._tables.get(node_id)
        if table is None:
            return [], None
        await self.flush()
        page = min(nb_values, self.max_history_data_response_size) if nb_values \
            else self.max_history_data_response_size
        low, high, order, _ = self._get_bounds(_aware(start), _aware(end), 0)
        low, high = stamp_text(dt.datetime.fromisoformat(low)), \
            stamp_text(dt.datetime.fromisoformat(high))
        results = []
        async with self._db.execute(
                "SELECT CAST(ServerTimestamp AS TEXT), CAST(SourceTimestamp AS TEXT), StatusCode,"
                f' VariantBinary FROM "{table}" WHERE SourceTimestamp BETWEEN ? AND ?'
                f" ORDER BY SourceTimestamp {order}, _Id {order} LIMIT ?",
                (low, high, page + 1)) as cursor:
            async for server, source, status, blob in cursor:
                results.append(ua.DataValue(
                    variant_from_binary(Buffer(blob)), StatusCode=ua.StatusCode(status),
                    SourceTimestamp=dt.datetime.fromisoformat(source),
                    ServerTimestamp=dt.datetime.fromisoformat(server)))
        cont = results[page].SourceTimestamp if len(results) > page else None
        return results[:page], cont

    async def stop(self) -> None:
        """Store what is queued, then close the database."""
        if self._writer is not None:
            async with self._lock:  # never in the middle of a batch
                self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)
            self._writer = None
            try:
                await self.flush()
            except sqlite3.Error as exc:
                log.error("history not written: %s", exc)
        if self._db is not None:
            await super().stop()
            self._db = None


async def historize(storage: TwinHistory, nodes: dict) -> None:
    """Keep the history of ``nodes`` (name -> asyncua node): Historizing set, AccessLevel and
    UserAccessLevel with HistoryRead, a table in ``storage``."""
    for node in nodes.values():
        await node.write_attribute(ua.AttributeIds.Historizing, ua.DataValue(True))
        await node.set_attr_bit(ua.AttributeIds.AccessLevel, ua.AccessLevel.HistoryRead)
        await node.set_attr_bit(ua.AttributeIds.UserAccessLevel, ua.AccessLevel.HistoryRead)
        await storage.new_historized_node(node.nodeid)


def export_next_to(db: Path, storage: TwinHistory, nodes: dict[str, ua.NodeId],
                   units: dict[str, str]) -> tuple[Path, Path] | None:
    """:func:`export_csv` of the closed database ``db`` into ``<db>.csv`` and
    ``<db>-long.csv``; their paths (none without a database)."""
    if not db.is_file():
        return None
    tables = {name: storage._get_table_name(node) for name, node in nodes.items()}
    wide, long = db.with_suffix(".csv"), db.with_name(db.stem + "-long.csv")
    export_csv(db, tables, units, wide, long)
    return wide, long


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.timezone.utc)


def read_stored(path: str | Path, tables: dict[str, str]) -> list[tuple[str, dt.datetime, object, int]]:
    """Every stored sample of ``tables`` (name -> table) as (name, source time, value, status),
    in time order per name, read from the database file directly (no server)."""
    rows = []
    with sqlite3.connect(path) as db:
        for name, table in tables.items():
            validate_table_name(table)
            cursor = db.execute(f'SELECT CAST(SourceTimestamp AS TEXT), StatusCode, VariantBinary '
                                f'FROM "{table}" ORDER BY SourceTimestamp, _Id')
            for source, status, blob in cursor:
                rows.append((name, dt.datetime.fromisoformat(source),
                             variant_from_binary(Buffer(blob)).Value, int(status)))
    return rows


def export_csv(path: str | Path, tables: dict[str, str], units: dict[str, str],
               wide: str | Path, long: str | Path) -> int:
    """Write the stored history as wide CSV (``time`` [s] since the first sample, then
    ``name [unit]``; Bad samples empty) and long CSV (``tag,time,value,quality``, time ISO UTC,
    quality the OPC UA status name). Returns the samples written."""
    from twin.orchestration.opcua.history import long_to_plant_data

    rows = read_stored(path, tables)
    with open(long, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["tag", "time", "value", "quality"])
        for name, moment, value, status in rows:
            number = value if isinstance(value, (int, float)) and not isinstance(value, bool) \
                else math.nan
            out.writerow([name, moment.isoformat(timespec="microseconds"), repr(float(number)),
                          ua.StatusCode(status).name])
    data = long_to_plant_data(
        [(name, moment, value, ua.StatusCode(status)) for name, moment, value, status in rows],
        units, str(path), list(tables))
    frame = data.frame.rename(columns={n: f"{n} [{data.unit(n)}]" for n in data.names})
    frame.to_csv(wide, float_format=None)
    return len(rows)
