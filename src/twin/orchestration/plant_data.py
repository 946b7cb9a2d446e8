"""Plant data from a file or an OPC UA server: the one entry the data commands call.

``load_plant_data(source)`` reads a file with
:func:`twin.core.data.load_data`, and an ``opc.tcp://`` URL with
:func:`~twin.orchestration.opcua.history.read_history` (OPC UA Historical
Access; twin.core knows nothing of OPC UA). For a URL:

- the user is the URL's (``opc.tcp://viewer@127.0.0.1:4840/twin``), else ``apc``;
- the password comes from the environment variable :data:`PASSWORD_ENV`;
- the client folder (own certificate, ``trusted/`` server certificates) is
  :data:`CLIENT_DIR` in the current folder, as for ``twin deploy``;

or all of it from ``gateway`` (the ``[gateway]`` table of a deploy file).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from twin.core.data import PlantData, load_data
from twin.core.errors import InputError

PASSWORD_ENV = "TWIN_OPCUA_PASSWORD"
"""Environment variable holding the password of an OPC UA source."""
CLIENT_DIR = "opcua-client"
"""Client configuration folder of an OPC UA source (relative: to the current folder)."""


def is_opcua(source: str | Path) -> bool:
    """True for an ``opc.tcp://`` URL."""
    return isinstance(source, str) and source.strip().lower().startswith("opc.tcp://")


def load_plant_data(source: str | Path, *, tags: Mapping[str, str] | Sequence[str] | None = None,
                    start=None, end=None, gateway=None, page_size: int = 1000) -> PlantData:
    """Plant data from a file (see :func:`twin.core.data.load_data`) or an OPC UA server's
    history (``tags``, ``start``, ``end``, ``gateway``, ``page_size``: see
    :func:`~twin.orchestration.opcua.history.read_history`; ignored for files)."""
    if not is_opcua(source):
        return load_data(source)
    from twin.orchestration.opcua.deploy_config import GatewaySettings
    from twin.orchestration.opcua.history import read_history

    url, user = _split_user(str(source).strip())
    if gateway is None:
        if PASSWORD_ENV not in os.environ:
            raise InputError(f"{url}: set the password in the environment variable {PASSWORD_ENV}")
        gateway = GatewaySettings(username=user or "apc", password_env=PASSWORD_ENV,
                                  config_dir=CLIENT_DIR)
    elif user:
        gateway = replace(gateway, username=user)
    return read_history(url, tags, start, end, gateway=gateway, page_size=page_size).data


def _split_user(url: str) -> tuple[str, str | None]:
    """The URL without its user part, and the user."""
    parts = urlsplit(url)
    if parts.username is None:
        return url, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    if parts.password is not None:
        raise InputError(f"{bare}: do not put a password in the URL; set {PASSWORD_ENV}")
    return bare, unquote(parts.username)
