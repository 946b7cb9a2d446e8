"""How the gateway connects: Basic256Sha256 SignAndEncrypt only, and one line when it cannot.

Against a real secure asyncua server in this process (the server's
certificate made as ``twin serve-opcua`` makes it; client certificates
checked by the project's own validator): a trusted server and client get
an encrypted session; an untrusted server certificate is refused and kept
in ``rejected/``; a refused client certificate, a wrong password and an
unreachable address are each one line saying what to do. The wording of
every refusal is also checked on asyncua's own exceptions.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from asyncua.common.utils import ServiceError
from asyncua.ua import uaerrors

from local_support import LocalServer, config
from twin.core.errors import InputError
from twin.orchestration.opcua import security
from twin.orchestration.opcua.gateway import Gateway, GatewayError, describe_connect_error, \
    refused_by_us

PASSWORD = "not-a-secret"
URL = "opc.tcp://plant:4840/twin"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = LocalServer(tmp_path_factory.mktemp("secure-server"), secure=True,
                      password=PASSWORD).start()
    yield srv
    srv.stop()


def secure(tmp_path, server, trust_server: bool = True, trust_client: bool = True, **gateway):
    cfg = config(tmp_path / "cfg", url=server.url, gateway={"insecure": False, **gateway})
    client = Path(cfg.gateway.config_dir)
    if trust_server:
        security.trust_certificate(security.Pki(client), server.server_certificate.read_bytes(),
                                   "twin")
    if trust_client:
        server.trust_client(client)
    return cfg


def connect(cfg):
    async def main():
        gateway = Gateway(cfg.tags, cfg.gateway, cfg.url)
        await gateway.connect()
        try:
            policy = gateway.client.security_policy
            return (policy.URI, policy.Mode, gateway.client.application_uri,
                    (await gateway.read()).heartbeat)
        finally:
            await gateway.close()

    return asyncio.run(asyncio.wait_for(main(), 20))


def test_a_trusted_server_and_client_get_a_signed_and_encrypted_session(server, tmp_path):
    from asyncua import ua

    uri, mode, application, heartbeat = connect(secure(tmp_path, server))
    assert uri.endswith("#Basic256Sha256") and mode == ua.MessageSecurityMode.SignAndEncrypt
    assert application == security.application_uri("client")
    assert heartbeat == 1
    assert (tmp_path / "cfg" / "client" / "own" / "cert.der").is_file()   # made on first use


def test_an_untrusted_server_certificate_is_refused_and_kept_for_inspection(server, tmp_path):
    cfg = secure(tmp_path, server, trust_server=False)
    other = security.Pki(tmp_path / "other")
    asyncio.run(security.ensure_certificate(other, "server"))
    client = security.Pki(Path(cfg.gateway.config_dir))
    security.trust_certificate(client, other.cert.read_bytes(), "another server")
    with pytest.raises(GatewayError) as err:
        connect(cfg)
    assert str(err.value) == (f"the certificate of {server.url} is not trusted "
                              f"(BadCertificateUntrusted); check it and add it with "
                              f"`twin trust {server.url}`")
    der = server.server_certificate.read_bytes()
    name = security.certificate_thumbprint(der).replace(":", "")[:16]
    assert [p.name for p in client.rejected.iterdir()] == [f"{name}.der"]
    assert (client.rejected / f"{name}.der").read_bytes() == der


def test_without_any_trusted_server_certificate_the_gateway_says_how_to_add_one(server, tmp_path):
    cfg = secure(tmp_path, server, trust_server=False)
    with pytest.raises(InputError, match=r"^no trusted server certificate in '.*trusted': add the "
                                         r"server's with `twin trust`$"):
        connect(cfg)


def test_a_client_certificate_the_server_refuses_says_how_to_trust_it_there(server, tmp_path):
    cfg = secure(tmp_path, server, trust_client=False)
    with pytest.raises(GatewayError) as err:
        connect(cfg)
    own = (Path(cfg.gateway.config_dir) / "own" / "cert.der").read_bytes()
    assert str(err.value) == (
        f"{server.url} refused this client's certificate (BadCertificateUntrusted); its "
        f"administrator must trust it: on the server, `twin trust --rejected "
        f"{security.file_thumbprint(own)} --config-dir SERVER_DIR`")


def test_a_wrong_password_is_one_line_naming_the_user(server, tmp_path):
    cfg = secure(tmp_path, server, username="night_shift")
    (tmp_path / "cfg" / "apc.password").write_text("wrong\n")
    with pytest.raises(GatewayError) as err:
        connect(cfg)
    assert str(err.value) == (f"{server.url} refused user 'night_shift' (wrong password or "
                              "unknown user)")


def test_an_address_nobody_listens_on_is_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                       # free again when closed
    cfg = config(tmp_path / "cfg", url=f"opc.tcp://127.0.0.1:{port}/twin")
    with pytest.raises(GatewayError) as err:
        connect(cfg)
    assert str(err.value) == f"cannot reach opc.tcp://127.0.0.1:{port}/twin: connection refused"


# ------------------------------------------------------------ the wording, on asyncua's errors

def _refused_by_us(exc: Exception) -> Exception:
    try:
        raise exc from ServiceError(exc.code)
    except Exception as raised:  # noqa: BLE001 - the chained exception as asyncua raises it
        return raised


@pytest.mark.parametrize("exc", [uaerrors.BadUserAccessDenied(), uaerrors.BadIdentityTokenRejected(),
                                 uaerrors.BadIdentityTokenInvalid()])
def test_a_refused_login_names_the_user(exc):
    assert describe_connect_error(exc, URL, "apc", "ABCD") == \
        f"{URL} refused user 'apc' (wrong password or unknown user)"


@pytest.mark.parametrize("name", ["BadCertificateUntrusted", "BadCertificateInvalid",
                                  "BadCertificateUriInvalid", "BadCertificateTimeInvalid",
                                  "BadCertificateUseNotAllowed"])
def test_certificate_refusals_say_whose_certificate_and_what_to_do(name):
    exc = getattr(uaerrors, name)()
    assert not refused_by_us(exc)
    assert describe_connect_error(exc, URL, "apc", "ABCD") == (
        f"{URL} refused this client's certificate ({name}); its administrator must trust it: "
        "on the server, `twin trust --rejected ABCD --config-dir SERVER_DIR`")
    ours = _refused_by_us(getattr(uaerrors, name)())
    assert refused_by_us(ours)
    expected = f"the certificate of {URL} is not trusted ({name}); check it and add it with " \
               f"`twin trust {URL}`"
    assert describe_connect_error(ours, URL, "apc", "ABCD") == expected
    assert describe_connect_error(exc, URL, "apc") == expected      # ours not known


@pytest.mark.parametrize("exc", [uaerrors.BadSecurityModeRejected(),
                                 uaerrors.BadSecurityPolicyRejected(),
                                 ValueError("No matching endpoints: Basic256Sha256")])
def test_a_server_without_a_secure_endpoint_is_refused_without_falling_back(exc):
    assert describe_connect_error(exc, URL, "apc") == (
        f"{URL} offers no Basic256Sha256 SignAndEncrypt endpoint; an unsecured connection is "
        "refused (set gateway.insecure = true only if you mean it)")


@pytest.mark.parametrize("exc,line", [
    (ConnectionRefusedError(111, "Connect call failed"), f"cannot reach {URL}: connection refused"),
    (OSError(113, "No route to host"), f"cannot reach {URL}: [Errno 113] No route to host"),
    (asyncio.TimeoutError(), f"cannot reach {URL}: TimeoutError"),
    (uaerrors.BadTooManySessions(), f"connecting to {URL} failed: BadTooManySessions: "
                                    + " ".join(str(uaerrors.BadTooManySessions()).split())),
    (RuntimeError("a\n  b"), f"connecting to {URL} failed: RuntimeError: a b")])
def test_other_failures_are_one_line(exc, line):
    assert describe_connect_error(exc, URL, "apc") == line


def test_a_session_timeout_the_server_revises_is_not_logged_as_a_warning():
    import logging

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("asyncua.client.client", logging.WARNING, __file__, 1, message,
                                 None, None)

    client_log = logging.getLogger("asyncua.client.client")
    assert not client_log.filter(record("Requested session timeout to be 600000ms, got 30000ms "
                                        "instead"))
    assert client_log.filter(record("Sending plain-text password"))


def test_the_url_given_wins_over_the_gateways_which_wins_over_the_tag_maps(tmp_path):
    tags_url, gateway_url, given = ("opc.tcp://tags:4840/twin", "opc.tcp://gateway:4840/twin",
                                    "opc.tcp://given:4840/twin")
    both = config(tmp_path / "a", url=tags_url, gateway={"url": gateway_url})
    only_tags = config(tmp_path / "b", url=tags_url)
    assert Gateway(both.tags, both.gateway).url == gateway_url
    assert Gateway(both.tags, both.gateway, given).url == given
    assert Gateway(only_tags.tags, only_tags.gateway).url == tags_url
    assert Gateway(only_tags.tags, only_tags.gateway, given).url == given


def test_a_wrong_password_logs_no_service_fault_before_the_clean_error(server, tmp_path):
    """asyncua warns 'ServiceFault (BadUserAccessDenied, diagnostics: DiagnosticInfo(...))'
    on a refused login; with no log handler Python prints it on stderr before our one line."""
    import logging

    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    watched = logging.getLogger("asyncua")
    watched.addHandler(handler)
    try:
        cfg = secure(tmp_path, server, username="night_shift")
        (tmp_path / "cfg" / "apc.password").write_text("wrong\n")
        with pytest.raises(GatewayError, match="refused user 'night_shift'"):
            connect(cfg)
    finally:
        watched.removeHandler(handler)
    faults = [r.getMessage() for r in records if "ServiceFault" in r.getMessage()]
    assert faults == []
    # other service faults are still logged
    other = logging.LogRecord("asyncua.client.ua_client.UASocketProtocol", logging.WARNING, "", 0,
                              "ServiceFault (%s, diagnostics: %s) from server received %s",
                              ("BadNodeIdUnknown", "x", "in response to ReadRequest"), None)
    assert logging.getLogger("asyncua.client.ua_client.UASocketProtocol").filter(other)
