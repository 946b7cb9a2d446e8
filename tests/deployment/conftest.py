"""Fixtures of the OPC UA tests: server processes per test, stopped afterwards; deployed
loops and an asyncua server in the test process for the fast tests."""

from __future__ import annotations

import pytest

from hil_support import ServerProcess
from local_support import PASSWORD, LocalServer, config
from node_support import NodeServer
from twin.orchestration.opcua.deploy import DeployedLoop


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


@pytest.fixture
def make_loop(tmp_path):
    """Makes deployed loops (``config`` options) in ``tmp_path``; their stores closed after."""
    loops = []

    def make(**options):
        loop = DeployedLoop(config(tmp_path / f"cfg{len(loops)}", **options),
                            tmp_path / f"run{len(loops)}")
        loops.append(loop)
        return loop

    yield make
    for loop in loops:
        loop.store.close()


@pytest.fixture
def loop(make_loop):
    """A deployed loop of the default configuration."""
    return make_loop()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """An asyncua server in this process, for a whole test module."""
    srv = LocalServer(tmp_path_factory.mktemp("local-server"), password=PASSWORD).start()
    yield srv
    srv.stop()


@pytest.fixture
def plant(server):
    """The module's server, reset to its initial state."""
    server.reset()
    return server
