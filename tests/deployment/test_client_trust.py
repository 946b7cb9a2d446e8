"""Client certificates: the simulated hardware accepts only those in its ``trusted/`` folder.

Real ``twin serve-opcua`` processes and real secure clients; each client's
certificate is made as the gateway makes it (``security.ensure_certificate``).
"""

from __future__ import annotations

import asyncio
import json

from hil_support import client_certificate
from login_support import timed_login
from support import run_twin, the_error_line
from twin.orchestration.opcua import security


def _login(server, client_dir, **options) -> str:
    return asyncio.run(timed_login(server, client_dir, "apc", server.password("apc"),
                                   **options))[0]


def test_a_trusted_client_gets_a_session(server_factory, tmp_path):
    server = server_factory()
    server.trust_client(tmp_path / "client")
    assert _login(server, tmp_path / "client") == "accepted"


def test_an_unknown_client_is_refused_kept_in_rejected_and_trusted_by_the_administrator(
        server_factory, tmp_path, capsys):
    server = server_factory()
    client = tmp_path / "client"
    der = client_certificate(client).cert.read_bytes()
    thumb = security.file_thumbprint(der)

    assert _login(server, client) == "BadCertificateUntrusted"
    rejected = server.config_dir / "rejected" / f"{thumb}.der"
    assert [p.name for p in rejected.parent.iterdir()] == [rejected.name]
    assert rejected.read_bytes() == der
    assert not any(p.read_bytes() == der for p in (server.config_dir / "trusted").iterdir())
    log = server.log.read_text()
    assert f"to trust it: twin trust --rejected {thumb} --config-dir {server.config_dir}" in log
    assert "not trusted; stored as " in log and "from 127.0.0.1" in log

    # the administrator trusts it (a prefix of the thumbprint will do); no restart needed
    code, out, err = run_twin(capsys, "trust", "--rejected", thumb[:16], "--config-dir",
                              str(server.config_dir))
    assert code == 0, err
    assert out.startswith(f"trusted {security.certificate_thumbprint(der)} as ")
    assert not rejected.exists()
    assert _login(server, client) == "accepted"
    events = json.loads(server.stop())["events"]
    assert sum("not trusted; stored as" in e for e in events) == 1, events


def test_an_expired_client_certificate_is_refused_even_when_trusted(server_factory, tmp_path):
    server = server_factory()
    pki = security.Pki(tmp_path / "client")
    asyncio.run(security.ensure_certificate(pki, "client", days=0))  # expires at once
    server.trust_client(pki.folder)
    assert _login(server, pki.folder) == "BadCertificateTimeInvalid"
    assert "BadCertificateTimeInvalid (expired or not yet valid)" in server.log.read_text()


def test_a_certificate_of_another_application_uri_is_refused(server_factory, tmp_path):
    """The certificate names urn:process-twin:client:<host>; the client says it is another
    application."""
    server = server_factory()
    server.trust_client(tmp_path / "client")
    assert _login(server, tmp_path / "client", application_uri="urn:somebody:else") == \
        "BadCertificateUriInvalid"
    assert "application URI 'urn:somebody:else'" in server.log.read_text()


def test_leaving_the_certificate_out_of_create_session_does_not_get_past_the_check(
        server_factory, tmp_path):
    """asyncua validates the certificate CreateSession carries; one left out must not mean
    no check (the secure channel's certificate is the client's)."""
    server = server_factory()
    client = tmp_path / "client"
    client_certificate(client)  # untrusted
    assert _login(server, client, drop_session_certificate=True) == "BadCertificateInvalid"


def test_trust_rejected_needs_a_known_thumbprint(tmp_path, capsys):
    folder = tmp_path / "server"
    code, _, err = run_twin(capsys, "trust", "--rejected", "0A1B2C3D", "--config-dir", str(folder))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: --rejected 0A1B2C3D: no certificates in "
                                   f"'{folder / 'rejected'}' have this thumbprint (seen: none)")
    code, _, err = run_twin(capsys, "trust", "--rejected", "xyz", "--config-dir", str(folder))
    assert code == 2 and "give the SHA-256 thumbprint (at least 8 hex digits)" in err


def test_the_deployed_loop_says_when_the_server_refuses_its_certificate_and_what_to_do(
        server_factory, tmp_path, capsys):
    from hil_support import deploy_text

    server = server_factory()
    client = tmp_path / "client"
    server.trust_into(client)  # the client trusts the server, the server not yet the client
    (server.config_dir / "trusted").mkdir(exist_ok=True)
    for p in (server.config_dir / "trusted").iterdir():
        p.unlink()
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client, 2.0))
    code, _, err = run_twin(capsys, "deploy", str(config), "--out", str(tmp_path / "run"))
    line = the_error_line(err)
    thumb = security.file_thumbprint((client / "own" / "cert.der").read_bytes())
    assert code == 2 and "refused this client's certificate (BadCertificateUntrusted)" in line
    assert f"`twin trust --rejected {thumb} --config-dir SERVER_DIR`" in line
    assert not any((client / "rejected").iterdir())  # the server's certificate was fine

    code, _, err = run_twin(capsys, "trust", "--rejected", thumb, "--config-dir",
                            str(server.config_dir))
    assert code == 0, err
    code, out, err = run_twin(capsys, "deploy", str(config), "--out", str(tmp_path / "run"),
                              "--json")
    assert code == 0, err
    assert json.loads(out)["cycles"] >= 2
