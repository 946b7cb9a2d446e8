"""Serving the console: HTTPS on loopback by default, the users of the OPC UA server.

- TLS with the project's certificate tooling: a self-signed certificate and
  key in ``<config-dir>/console/own/`` (made on first start, key mode
  0600), with ``localhost`` and ``127.0.0.1`` among its names.
- Plain HTTP only with ``insecure`` and only on a loopback address.
- Listens on 127.0.0.1 unless another host is given.
- Security events (failed logins, lockouts) are logged and appended to
  ``<config-dir>/console-security.log``.
- The console runs at a lower scheduling priority (:data:`NICENESS`): on a
  busy machine the control loop it watches comes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from twin.core.errors import InputError
from twin.orchestration.console.auth import ConsoleSettings
from twin.orchestration.console.runs import RunFolder
from twin.orchestration.opcua import security

log = logging.getLogger(__name__)

DEFAULT_PORT = 8443
MAX_CONNECTIONS = 200
"""Connections served at once; more are answered 503 (a flood never exhausts the console)."""
NICENESS = 10
"""Scheduling niceness of the console's process (the loop's is 0)."""
SECURITY_LOG = "console-security.log"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ConsoleOptions:
    """How and where the console listens."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    insecure: bool = False
    """Plain HTTP (loopback only)."""

    def check(self) -> None:
        if not 0 < self.port < 65536:
            raise InputError(f"--port {self.port}: give a port from 1 to 65535")
        if self.insecure and not is_loopback(self.host):
            raise InputError(f"--insecure serves plain HTTP, which is allowed on a loopback "
                             f"address only, not on {self.host}")

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'http' if self.insecure else 'https'}://{host}:{self.port}/"


def tls_files(config_dir: Path) -> tuple[Path, Path]:
    """The console's certificate (PEM) and key, made on first use."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    pki = security.Pki(Path(config_dir) / "console")
    asyncio.run(security.ensure_certificate(pki, "server"))
    pem = pki.folder / "own" / "cert.pem"
    cert = x509.load_der_x509_certificate(pki.cert.read_bytes())
    pem.write_bytes(cert.public_bytes(Encoding.PEM))
    return pem, pki.key


def wait_for_runs(folders: list[Path], seconds: float) -> None:
    """Wait until every folder has a cycle log with a run (a loop starting up)."""
    deadline = time.monotonic() + seconds
    for folder in folders:
        while True:
            try:
                RunFolder(folder, "probe")
                break
            except InputError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)


def run_folders(folders: list[Path]) -> list[RunFolder]:
    """One :class:`RunFolder` per folder, keyed by folder name (made unique)."""
    runs, seen = [], set()
    for folder in folders:
        key, n = Path(folder).name or "run", 2
        base = key
        while key in seen:
            key, n = f"{base}-{n}", n + 1
        seen.add(key)
        runs.append(RunFolder(folder, key))
    if not runs:
        raise InputError("give at least one run folder")
    return runs


def _security_logger(config_dir: Path):
    path = Path(config_dir) / SECURITY_LOG

    def on_event(text: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} {text}\n")

    return on_event


def serve_console(folders: list[Path], config_dir: Path, options: ConsoleOptions,
                  settings: ConsoleSettings | None = None, wait: float = 0.0,
                  on_ready=None, plant_file: Path | None = None) -> None:
    """Serve the console over ``folders`` (and the plant view of ``plant_file``, a deploy
    file) until stopped (Ctrl-C or SIGTERM)."""
    import uvicorn

    from twin.orchestration.console.app import make_app, uplot_files

    options.check()
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    uplot_files()  # (refused before listening when the chart library is missing)
    config_dir = Path(config_dir)
    users = security.load_users(config_dir)
    if wait:
        wait_for_runs(folders, wait)
    plant = None
    if plant_file is not None:
        from twin.orchestration.console.plant import PlantView

        plant = PlantView(plant_file)
    runs = run_folders(folders)
    app = make_app(runs, users, settings or ConsoleSettings(), _security_logger(config_dir),
                   plant)
    tls = {} if options.insecure else dict(zip(("ssl_certfile", "ssl_keyfile"),
                                               map(str, tls_files(config_dir))))
    # proxy_headers off: a client's X-Forwarded-For must not choose the address the login
    # guard counts failures against
    config = uvicorn.Config(app, host=options.host, port=options.port, log_level="warning",
                            access_log=False, server_header=False, proxy_headers=False,
                            limit_concurrency=MAX_CONNECTIONS, **tls)
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(options.url, runs)
    try:
        server.run()
    finally:
        app.state.guard.close()
