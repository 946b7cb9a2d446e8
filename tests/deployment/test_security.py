"""Security of the deployed loop: certificates, users, no unsecured fallback."""

from __future__ import annotations

import asyncio

import pytest

from hil_support import deploy_text
from support import run_twin, the_error_line
from twin.orchestration.opcua.deploy_config import load_deploy
from twin.orchestration.opcua.gateway import Gateway, GatewayError


def _deploy(server, tmp_path, **changes):
    client_dir = tmp_path / "client"
    if changes.get("trust", True):
        server.trust_into(client_dir)
    else:  # the server knows the client; the client does not know the server
        server.trust_client(client_dir)
    text = deploy_text(server, client_dir, 3.0)
    if "password" in changes:
        secret = tmp_path / "wrong.password"
        secret.write_text(changes["password"] + "\n")
        text = text.replace(str(server.config_dir / "apc.password"), str(secret))
    config = tmp_path / "deploy.toml"
    config.write_text(text)
    return config


def test_wrong_password_is_refused_with_a_clear_error(server_factory, tmp_path, capsys):
    server = server_factory()
    code, _, err = run_twin(capsys, "deploy", str(_deploy(server, tmp_path, password="wrong-pw")),
                            "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: {server.url} refused user 'apc' (wrong password "
                                "or unknown user)")
    assert not (tmp_path / "run").exists()  # refused before its first cycle: no empty run folder


def test_untrusted_server_certificate_is_refused_and_kept_for_inspection(server_factory, tmp_path,
                                                                         capsys):
    server = server_factory()
    client_dir = tmp_path / "client"
    other = server_factory()  # trust another server's certificate: the store is not empty
    other.trust_into(client_dir)
    config = _deploy(server, tmp_path, trust=False)
    code, _, err = run_twin(capsys, "deploy", str(config), "--out", str(tmp_path / "run"))
    assert code == 2
    assert the_error_line(err).startswith(f"twin: error: the certificate of {server.url} is not "
                                       "trusted (BadCertificateUntrusted)")
    rejected = list((client_dir / "rejected").iterdir())
    assert len(rejected) == 1 and rejected[0].read_bytes() == \
        (server.config_dir / "own" / "cert.der").read_bytes()
    # trusting it deliberately (twin trust URL --yes) lets the loop connect
    code, out, _ = run_twin(capsys, "trust", server.url, "--config-dir", str(client_dir), "--yes")
    assert code == 0 and "trusted" in out
    gateway = Gateway(load_deploy(config).tags, load_deploy(config).gateway)
    asyncio.run(_connect_and_close(gateway))


async def _connect_and_close(gateway: Gateway) -> str:
    await gateway.connect()
    mode = gateway.client.security_policy.Mode
    await gateway.close()
    return mode.name


def test_no_trusted_certificate_at_all_says_what_to_do(server_factory, tmp_path, capsys):
    server = server_factory()
    code, _, err = run_twin(capsys, "deploy", str(_deploy(server, tmp_path, trust=False)),
                            "--out", str(tmp_path / "run"))
    assert code == 2 and "no trusted server certificate in" in err and "twin trust" in err


def test_an_offered_none_endpoint_is_not_used(server_factory, tmp_path):
    server = server_factory(insecure=True)
    config = load_deploy(_deploy(server, tmp_path))
    assert asyncio.run(_connect_and_close(Gateway(config.tags, config.gateway))) == \
        "SignAndEncrypt"


def test_a_server_with_only_a_none_endpoint_is_refused(tmp_path, server_factory):
    """A plain asyncua server offering no security: the loop will not connect unsecured."""
    from asyncua import Server, ua

    reference = server_factory()  # for a valid tag map and a trusted (other) certificate
    config = load_deploy(_deploy(reference, tmp_path))

    async def scenario():
        server = Server()
        await server.init()
        server.set_endpoint("opc.tcp://127.0.0.1:0/open")  # the port the system chooses
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        await server.start()
        port = server.bserver.port
        try:
            gateway = Gateway(config.tags, config.gateway, url=f"opc.tcp://127.0.0.1:{port}/open")
            with pytest.raises(GatewayError) as caught:
                await gateway.connect()
            return port, str(caught.value)
        finally:
            await server.stop()

    port, message = asyncio.run(scenario())
    assert message == (f"opc.tcp://127.0.0.1:{port}/open offers no Basic256Sha256 SignAndEncrypt "
                       "endpoint; an unsecured connection is refused (set gateway.insecure = true "
                       "only if you mean it)")


def test_roles_apc_may_write_setpoints_but_not_call_operator_methods(server_factory):
    from hil_support import _client

    server = server_factory()

    async def scenario():
        from asyncua import ua

        async with _client(server, "apc") as client:
            ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
            rsp = client.get_node(f"ns={ns};s=Plant.BaseLayer.v1.RSP")
            await rsp.write_value(ua.DataValue(ua.Variant(3.1, ua.VariantType.Double)))
            with pytest.raises(ua.UaStatusCodeError) as denied_write:
                await client.get_node(f"ns={ns};s=Plant.h1").write_value(
                    ua.DataValue(ua.Variant(1.0, ua.VariantType.Double)))
            with pytest.raises(ua.UaStatusCodeError) as denied_call:
                await client.get_node(f"ns={ns};s=Simulation").call_method(
                    ua.NodeId.from_string(f"ns={ns};s=Simulation.StallHeartbeat"),
                    ua.Variant(True, ua.VariantType.Boolean))
            return type(denied_write.value).__name__, type(denied_call.value).__name__

    write, call = asyncio.run(scenario())
    assert write in ("BadNotWritable", "BadUserAccessDenied")
    assert call == "BadUserAccessDenied"


def test_certificates_are_generated_private_and_renewed_when_expired(tmp_path):
    import ipaddress
    import socket
    import stat

    from cryptography import x509

    from twin.orchestration.opcua import security

    pki = security.Pki(tmp_path / "cfg")
    asyncio.run(security.ensure_certificate(pki, "server", days=0))  # expires at once
    assert stat.S_IMODE(pki.key.stat().st_mode) == 0o600
    assert stat.S_IMODE(pki.folder.stat().st_mode) == 0o700
    key, first = pki.key.read_bytes(), pki.cert.read_bytes()
    asyncio.run(security.ensure_certificate(pki, "server"))
    renewed = pki.cert.read_bytes()
    assert renewed != first and pki.key.read_bytes() == key  # new certificate, same key
    asyncio.run(security.ensure_certificate(pki, "server"))
    assert pki.cert.read_bytes() == renewed  # a valid one is kept
    san = x509.load_der_x509_certificate(renewed).extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == \
        [security.application_uri("server")]
    assert set(san.get_values_for_type(x509.DNSName)) == {socket.gethostname(), "localhost"}
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
