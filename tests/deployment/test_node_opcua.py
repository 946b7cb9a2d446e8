"""Interoperability: the deployed loop against a foreign server, node-opcua.

The server (``nodeopcua/server.js``, node-opcua pinned by ``package-lock.json``)
serves the quadruple tank with a simple base layer of its own, on loopback,
Basic256Sha256 SignAndEncrypt with user names. Nothing of ours runs inside it.
"""

from __future__ import annotations

import asyncio

import numpy as np

from hil_support import _client, after_cycles, records, run_loop_with
from node_support import NodeServer, node_deploy_text
from support import run_twin, the_error_line
from twin.orchestration.opcua import security
from twin.orchestration.opcua.deploy_config import load_deploy
from twin.orchestration.opcua.gateway import Gateway


async def _operator_sets(server: NodeServer, mode: str) -> None:
    """The operator puts both pump loops in ``mode`` (a secure session of their own)."""
    from asyncua import ua

    async with _client(server, "operator") as client:
        for mv in ("v1", "v2"):
            await client.get_node(f"ns=1;s=QuadrupleTank.{mv}.Mode").write_value(
                ua.DataValue(ua.Variant(mode, ua.VariantType.String)))


def test_deployed_loop_controls_the_node_opcua_plant(node_factory, tmp_path, capsys):
    server = node_factory()
    client_dir = tmp_path / "client"
    code, out, _ = run_twin(capsys, "trust", server.url, "--config-dir", str(client_dir), "--yes")
    assert code == 0 and "trusted" in out
    trusted = list((client_dir / "trusted").iterdir())
    assert len(trusted) == 1
    assert security.certificate_thumbprint(trusted[0].read_bytes()) == \
        security.certificate_thumbprint(server.der_certificate())

    config = tmp_path / "deploy.toml"
    config.write_text(node_deploy_text(server, client_dir, 60.0,
                                       "[[event]]\ntime = 10.0\nsetpoint = { h1 = 13.5 }\n"))
    store = tmp_path / "run" / "cycles.sqlite"

    async def operator():
        await after_cycles(store, 3, lambda: _operator_sets(server, "CASCADE"))

    asyncio.run(run_loop_with(config, tmp_path / "run", [operator()]))
    frame, events, cycles = records(store)
    assert list(cycles.cycle) == list(range(61))
    engaged = events[events.kind == "engaged"]
    assert len(engaged) == 1 and not (events.kind == "shed").any()
    assert not (events.kind == "readback").any()
    start = int(engaged.cycle.iloc[0])
    assert not frame[frame.cycle < start].write.any() and frame[frame.cycle >= start].write.all()
    active = frame[frame.cycle >= start]
    assert np.abs(np.diff(active.v1.to_numpy())).max() <= 0.5 + 1e-9  # rate limit held
    assert ((active.v1 >= 0.0) & (active.v1 <= 10.0)).all()
    # the node-opcua plant followed the setpoint step of h1 (12.263 -> 13.5 cm)
    final = frame.iloc[-5:]
    assert abs(final.h1.mean() - 13.5) < 0.05
    assert abs(final.h2.mean() - 12.783) < 0.05


def test_wrong_password_is_refused_by_node_opcua(node_factory, tmp_path, capsys):
    server = node_factory()
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(node_deploy_text(server, client_dir, 3.0, password="not-the-password"))
    code, _, err = run_twin(capsys, "deploy", str(config), "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: {server.url} refused user 'apc' (wrong password "
                                "or unknown user)")


def test_untrusted_node_opcua_certificate_is_refused(node_factory, tmp_path, capsys):
    server = node_factory()
    other = node_factory()  # a different server's certificate in the store
    client_dir = tmp_path / "client"
    other.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(node_deploy_text(server, client_dir, 3.0))
    code, _, err = run_twin(capsys, "deploy", str(config), "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err).startswith(f"twin: error: the certificate of {server.url} is not "
                                       "trusted (BadCertificateUntrusted)")


def test_node_opcua_none_endpoint_is_not_used(node_factory, tmp_path):
    server = node_factory(allow_none=True)
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(node_deploy_text(server, client_dir, 3.0))
    settings = load_deploy(config)

    async def mode() -> str:
        gateway = Gateway(settings.tags, settings.gateway, url=server.url)
        await gateway.connect()
        try:
            return gateway.client.security_policy.Mode.name
        finally:
            await gateway.close()

    assert asyncio.run(mode()) == "SignAndEncrypt"
