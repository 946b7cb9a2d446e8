"""Plant data from OPC UA servers: the ``opc.tcp://`` reader of :func:`twin.core.data.load_data`.

The core reads URL sources with a reader registered for their scheme
(:func:`twin.core.data.load.register_reader`) and knows nothing of OPC UA;
importing this module registers :func:`read_opcua` for ``opc.tcp`` (the
data commands import it). The reader reads the raw history of every
variable under Objects that keeps history
(:func:`~twin.orchestration.opcua.history.read_history`) into a long table,
which ``load_data`` then reads like a long-form file (tag map, quality
rule, time order). For a URL ``opc.tcp://[user@]host:port/path[?start=ISO&end=ISO]``:

- the user is the URL's, else ``apc``;
- the password comes from the environment variable :data:`PASSWORD_ENV`;
- the client folder (own certificate, ``trusted/`` server certificates) is
  :data:`CLIENT_DIR`, relative to the current folder, as for ``twin deploy``;
- ``start`` and ``end`` (ISO 8601, UTC when without zone) limit the time range.

For other tags, pages or client settings call ``read_history`` directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

import pandas as pd

from twin.core.data import PlantData, load_data
from twin.core.data.load import register_reader
from twin.core.errors import InputError

PASSWORD_ENV = "TWIN_OPCUA_PASSWORD"
"""Environment variable holding the password of an OPC UA source."""
CLIENT_DIR = "opcua-client"
"""Client configuration folder of an OPC UA source (relative: to the current folder)."""
REQUEST_TIMEOUT = 30.0
"""Limit of one request (a page of history) [s]."""
SCHEME = "opc.tcp"


def read_opcua(url: str, where: str = "") -> pd.DataFrame:
    """The raw history of every historized variable of the server at ``url`` as a long table
    (``tag, time, value, quality``); see the module for the URL."""
    from twin.orchestration.opcua.deploy_config import GatewaySettings
    from twin.orchestration.opcua.history import read_history

    bare, user, query = _split(url.strip())
    if PASSWORD_ENV not in os.environ:
        raise InputError(f"{bare}: set the password in the environment variable {PASSWORD_ENV}")
    gateway = GatewaySettings(username=user or "apc", password_env=PASSWORD_ENV,
                              config_dir=CLIENT_DIR, timeout=REQUEST_TIMEOUT)
    history = read_history(bare, None, query.get("start"), query.get("end"), gateway=gateway)
    return with_units(history.long, history.data.units)


def with_units(long: pd.DataFrame, units: Mapping[str, str]) -> pd.DataFrame:
    """The long table with each tag that has a unit (its server's EngineeringUnits) written
    ``name [unit]``, as the CSV export's headers are, so the loader keeps the units."""
    named = {tag: f"{tag} [{unit}]" for tag, unit in units.items() if unit and unit != "-"}
    return long.assign(tag=long["tag"].map(lambda tag: named.get(tag, tag)))


def load_plant_data(source: str | Path, **options) -> PlantData:
    """:func:`twin.core.data.load_data` (``options`` are its own) with ``opc.tcp://`` sources
    read by :func:`read_opcua`."""
    register()
    return load_data(source, **options)


def register() -> None:
    """Register :func:`read_opcua` for ``opc.tcp://`` sources (done on import)."""
    register_reader(SCHEME, read_opcua)


def _split(url: str) -> tuple[str, str | None, dict[str, str]]:
    """The URL without user and query, the user, and the query (``start``, ``end``)."""
    parts = urlsplit(url)
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query=""))
    if parts.password is not None:
        raise InputError(f"{bare}: do not put a password in the URL; set {PASSWORD_ENV}")
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(query) - {"start", "end"})
    if unknown:
        raise InputError(f"{bare}: unknown URL parameter '{unknown[0]}' (start, end)")
    return bare, unquote(parts.username) if parts.username else None, query


register()
