"""Plant data from OPC UA Historical Access: raw history read from any server, paged.

:func:`read_history` opens a session exactly as ``twin deploy`` does
(:func:`~.gateway.connect_client`: Basic256Sha256 SignAndEncrypt, trusted
server certificate, user and password), checks that every tag exists and
keeps history (its AccessLevel has HistoryRead), then reads each tag's raw
values (HistoryRead, ReadRawModifiedDetails) page by page, following the
server's continuation points until none is left. A small ``page_size``
makes many pages; the answer is the same.

The result is a long table (tag, time UTC, value, quality) and the same
samples as :class:`~twin.core.data.table.PlantData`: one column per tag on
the union of all time stamps, time in seconds since the first sample
(``start`` its UTC time), a Bad sample (or one whose value is not a finite
number) as NaN, with one report line saying how many.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.core.data.table import PlantData
from twin.core.errors import InputError, TwinError
from twin.orchestration.opcua.deploy_config import GatewaySettings
from twin.orchestration.opcua.gateway import GatewayError, connect_client

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
"""Start of a read without ``start``."""
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)
"""End of a read without ``end``."""
MAX_PAGES = 1_000_000
"""Pages read per tag at most (a server whose continuation points never end)."""
MAX_BROWSE = 5_000
"""Nodes looked at at most when finding the historized variables of a server."""
HISTORY_READ = 4
"""The HistoryRead bit of AccessLevel (OPC UA Part 3)."""


@dataclass(frozen=True)
class History:
    """What :func:`read_history` read.

    Attributes
    ----------
    long : pandas.DataFrame
        Columns ``tag``, ``time`` (UTC Timestamp), ``value`` (float, NaN when
        not a number), ``quality`` (the OPC UA status name), in time order per tag.
    data : PlantData
        The same samples as a wide table (see the module).
    pages : int
        HistoryRead requests made.
    """

    long: pd.DataFrame
    data: PlantData
    pages: int


def read_history(url: str, tags: Mapping[str, str] | Sequence[str] | None = None,
                 start: dt.datetime | str | None = None, end: dt.datetime | str | None = None,
                 *, gateway: GatewaySettings, page_size: int = 1000) -> History:
    """Read the raw history of ``tags`` from the OPC UA server at ``url``.

    Parameters
    ----------
    url : str
        ``opc.tcp://host:port/path``.
    tags : mapping or sequence, optional
        Column name -> NodeId string (``{"h1": "ns=2;s=Plant.h1"}``), or
        NodeId strings (the column is the node's browse name); none: every
        variable under Objects that keeps history.
    start, end : datetime or ISO text, optional
        The time range (inclusive; a time without zone is UTC); none: all.
    gateway : GatewaySettings
        How to connect (as the ``[gateway]`` table of a deploy file); its
        ``timeout`` limits each request, a page of history included [s].
    page_size : int
        Values asked for per tag and request (1 to 100 000).

    Raises
    ------
    InputError
        Bad arguments, an unknown tag, a tag without history (one line each).
    GatewayError
        The server cannot be reached or refuses the connection or the read.
    """
    return asyncio.run(read_history_async(url, tags, start, end, gateway=gateway,
                                          page_size=page_size))


async def read_history_async(url: str, tags: Mapping[str, str] | Sequence[str] | None = None,
                             start: dt.datetime | str | None = None,
                             end: dt.datetime | str | None = None, *, gateway: GatewaySettings,
                             page_size: int = 1000) -> History:
    """:func:`read_history` on the running event loop."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or \
            not 1 <= page_size <= 100_000:
        raise InputError(f"page size {page_size!r}: give a whole number from 1 to 100000")
    low, high = _moment(start, "start") or EARLIEST, _moment(end, "end") or LATEST
    if not low < high:
        raise InputError(f"history of {url}: start {low.isoformat()} is not before end "
                         f"{high.isoformat()}")
    return await _read(url, tags, low, high, gateway, page_size)


def _moment(value, what: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        moment = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise InputError(f"history {what} {value!r}: not a time ({exc})") from None
    if pd.isna(moment):
        raise InputError(f"history {what} {value!r}: not a time")
    if moment.tzinfo is None:
        moment = moment.tz_localize("UTC")
    return moment.tz_convert("UTC").to_pydatetime()


async def _read(url, tags, low, high, gateway, page_size) -> History:
    client = await connect_client(url, gateway)
    try:
        named = await _resolve(client, url, tags)
        units = await _check_history(client, url, named)
        rows, pages = [], 0
        for name, node in named.items():
            got, n = await _read_tag(client, url, name, node, low, high, page_size)
            rows += got
            pages += n
    finally:
        try:
            await asyncio.wait_for(client.disconnect(), timeout=gateway.timeout)
        except Exception:  # noqa: BLE001 - the server may be gone already
            pass
    long = pd.DataFrame(
        {"tag": [r[0] for r in rows], "time": pd.to_datetime([r[1] for r in rows], utc=True),
         "value": [_number(r[2]) for r in rows], "quality": [r[3].name for r in rows]})
    return History(long, long_to_plant_data(rows, units, url, list(named)), pages)


async def _resolve(client, url: str, tags) -> dict[str, object]:
    """Column name -> NodeId."""
    from asyncua import ua

    if tags is None:
        return await _historized(client, url)
    if isinstance(tags, str):
        tags = [tags]
    if isinstance(tags, Mapping):
        pairs = list(tags.items())
    else:
        pairs = [(None, node) for node in tags]
    if not pairs:
        raise InputError(f"history of {url}: no tags given")
    named: dict[str, object] = {}
    for name, text in pairs:
        try:
            node = ua.NodeId.from_string(str(text))
        except Exception:  # noqa: BLE001 - asyncua raises several kinds
            raise InputError(f"tag {text!r}: not a NodeId (e.g. ns=2;s=Plant.h1)") from None
        if name is None:
            try:
                name = (await client.get_node(node).read_browse_name()).Name
            except ua.UaStatusCodeError as exc:
                raise _unknown(url, str(text), exc) from None
        if name in named:
            raise InputError(f"history of {url}: two tags named {name!r}; give names "
                             "(name = NodeId)")
        named[str(name)] = node
    return named


def _unknown(url: str, tag: str, exc) -> InputError:
    return InputError(f"tag {tag!r}: {url} has no such node ({type(exc).__name__})")


async def _historized(client, url: str) -> dict[str, object]:
    """The variables under Objects that keep history, named by browse name (breadth first)."""
    from asyncua import ua

    found: dict[str, object] = {}
    queue, seen = [client.nodes.objects], 0
    while queue and seen < MAX_BROWSE:
        node = queue.pop(0)
        for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
            seen += 1
            if child.nodeid.NamespaceIndex == 0:
                continue  # the server's own nodes (Server object)
            kind = await child.read_node_class()
            if kind == ua.NodeClass.Object:
                queue.append(child)
            elif kind == ua.NodeClass.Variable:
                try:
                    historizing = await child.read_attribute(ua.AttributeIds.Historizing)
                except ua.UaStatusCodeError:
                    continue
                if historizing.Value.Value:
                    name = (await child.read_browse_name()).Name
                    found[name if name not in found else child.nodeid.to_string()] = child.nodeid
    if not found:
        raise InputError(f"{url} keeps no history of any variable (no variable with "
                         "Historizing set under Objects)")
    return found


async def _check_history(client, url: str, named: dict[str, object]) -> dict[str, str]:
    """Every tag exists and keeps history; the units of those that name one."""
    from asyncua import ua

    params = ua.ReadParameters()
    params.NodesToRead = [ua.ReadValueId(NodeId=node, AttributeId=ua.AttributeIds.AccessLevel)
                          for node in named.values()]
    results = await client.uaclient.read(params)
    for (name, node), dv in zip(named.items(), results):
        if not dv.StatusCode.is_good():
            raise InputError(f"tag {name!r} ({node.to_string()}): {url} has no such variable "
                             f"({dv.StatusCode.name})")
        if not int(dv.Value.Value or 0) & HISTORY_READ:
            raise InputError(f"tag {name!r} ({node.to_string()}): {url} keeps no history of it "
                             "(its AccessLevel has no HistoryRead)")
    units = {}
    for name, node in named.items():
        unit = await _unit(client.get_node(node))
        if unit:
            units[name] = unit
    return units


async def _unit(node) -> str | None:
    """The DisplayName of the node's EngineeringUnits property, if it has one."""
    from asyncua import ua

    try:
        prop = await node.get_child("0:EngineeringUnits")
        eu = await prop.read_value()
    except (ua.UaStatusCodeError, ua.UaError):
        return None
    text = getattr(getattr(eu, "DisplayName", None), "Text", None)
    return str(text) if text else None


async def _read_tag(client, url, name, node, low, high, page_size):
    """(name, source time, value, status) of every raw value of one tag; and the pages read."""
    from asyncua import ua

    rows, cont, pages = [], None, 0
    while pages < MAX_PAGES:
        details = ua.ReadRawModifiedDetails(IsReadModified=False, StartTime=low, EndTime=high,
                                            NumValuesPerNode=page_size, ReturnBounds=False)
        params = ua.HistoryReadParameters(HistoryReadDetails=details,
                                          TimestampsToReturn=ua.TimestampsToReturn.Both,
                                          ReleaseContinuationPoints=False)
        params.NodesToRead = [ua.HistoryReadValueId(NodeId=node, ContinuationPoint=cont)]
        try:
            result = (await client.uaclient.history_read(params))[0]
        except TwinError:
            raise
        except Exception as exc:  # noqa: BLE001 - a refused request, a lost connection
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise GatewayError(f"history read of {name!r} on {url} failed: {text}") from None
        pages += 1
        if not result.StatusCode.is_good():
            raise GatewayError(f"history read of {name!r} on {url} failed: "
                               f"{result.StatusCode.name}")
        for dv in getattr(result.HistoryData, "DataValues", None) or []:
            moment = dv.SourceTimestamp or dv.ServerTimestamp
            if moment is None:
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.timezone.utc)
            rows.append((name, moment, dv.Value.Value if dv.Value is not None else None,
                         dv.StatusCode or ua.StatusCode()))
        cont = result.ContinuationPoint
        if not cont:
            return rows, pages
    raise GatewayError(f"history read of {name!r} on {url}: more than {MAX_PAGES} pages")


def _number(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return math.nan
    return float(value)


def long_to_plant_data(rows, units: Mapping[str, str], source: str,
                       names: Sequence[str]) -> PlantData:
    """PlantData of (name, time, value, status) samples: a column per name (in ``names``
    order) on the union of the time stamps; a Bad sample, or a value that is not a finite
    number, is NaN (counted in a report line)."""
    columns: dict[str, dict] = {name: {} for name in names}
    rejected = 0
    for name, moment, value, status in rows:
        number = _number(value)
        if not status.is_good() and not status.is_uncertain() or not math.isfinite(number):
            number, rejected = math.nan, rejected + 1
        columns[name][pd.Timestamp(moment).tz_convert("UTC")] = number
    stamps = sorted({t for col in columns.values() for t in col})
    start = stamps[0] if stamps else None
    time = np.array([(t - start).total_seconds() for t in stamps]) if stamps else np.array([])
    frame = pd.DataFrame({name: [col.get(t, math.nan) for t in stamps]
                          for name, col in columns.items()},
                         index=pd.Index(time, name="time", dtype=float), dtype=float)
    report = f"OPC UA history: {len(rows)} samples of {len(names)} tags; {rejected} Bad or " \
             "not a finite number, set missing"
    return PlantData(frame, {n: units.get(n, "-") for n in names}, start, source, (report,))
