"""Fixtures of the OPC UA tests: server processes per test, stopped afterwards."""

from __future__ import annotations

import pytest

from hil_support import ServerProcess
from node_support import NodeServer


def _factory(tmp_path, cls, prefix: str):
    servers: list = []

    def make(**options):
        server = cls(tmp_path / f"{prefix}{len(servers)}", **options)
        servers.append(server)
        return server.start()

    return make, servers


@pytest.fixture
def server_factory(tmp_path):
    """``server_factory(**options)`` starts a ``twin serve-opcua`` process."""
    make, servers = _factory(tmp_path, ServerProcess, "hw")
    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def node_factory(tmp_path):
    """``node_factory(**options)`` starts the node-opcua server."""
    make, servers = _factory(tmp_path, NodeServer, "node")
    yield make
    for server in servers:
        server.stop()
