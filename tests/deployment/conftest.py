"""Fixtures of the OPC UA tests: a simulated-hardware server process per test."""

from __future__ import annotations

import pytest

from hil_support import ServerProcess


@pytest.fixture
def server_factory(tmp_path):
    """``server_factory(**options)`` starts a server; every one is stopped after the test."""
    servers: list[ServerProcess] = []

    def make(**options) -> ServerProcess:
        server = ServerProcess(tmp_path / f"hw{len(servers)}", **options)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
