"""The node-opcua server of the interoperability tests: a foreign OPC UA server in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from hil_support import ADDRESS_IN_USE, DATA, REQUEST_TIMEOUT, SPEED, START_TIMEOUT, _deploy_file, \
    wait_for_ready


def _unused_port() -> int:
    """A loopback port free at this moment (another process may take it before it is used:
    callers retry when it was taken)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


NODE_SERVER = Path(__file__).parent / "nodeopcua"
"""The node-opcua server of the interoperability tests (installed by ``npm ci``)."""


class NodeServer:
    """``node nodeopcua/server.js``: a foreign OPC UA server, its files under ``folder``."""

    def __init__(self, folder: Path, speed: float = SPEED, allow_none: bool = False):
        self.folder = Path(folder)
        self.home = self.folder / "home"  # node-opcua's runtime files stay in the test folder
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = 0
        self.url = ""
        self.speed = speed
        self.users = {"apc": "apc-secret-1", "operator": "operator-secret-2"}
        self.log = self.folder / "node.log"
        self.args = ["--pki", str(self.folder / "pki"), "--speed", str(speed)] + \
            (["--allow-none"] if allow_none else [])
        self.process: subprocess.Popen | None = None
        self.certificate: Path | None = None

    def start(self, timeout: float = START_TIMEOUT) -> "NodeServer":
        """Start on a port that was free a moment ago; if another process took it meanwhile
        (the server cannot listen), again on another one."""
        if not (NODE_SERVER / "node_modules" / "node-opcua").is_dir():
            raise RuntimeError(f"node-opcua is not installed in {NODE_SERVER}: run the test "
                               "command of README.md (it runs npm ci there)")
        env = {**os.environ, "HOME": str(self.home), "npm_config_cache": str(self.home / ".npm"),
               "TWIN_USERS": ",".join(f"{u}:{p}" for u, p in self.users.items())}
        end = time.monotonic() + timeout
        while True:
            self.port = _unused_port()
            self.url = f"opc.tcp://127.0.0.1:{self.port}/twin"
            size = self.log.stat().st_size if self.log.exists() else 0
            with open(self.log, "ab") as out:
                self.process = subprocess.Popen(
                    ["node", str(NODE_SERVER / "server.js"), "--port", str(self.port), *self.args],
                    stdout=out, stderr=subprocess.STDOUT, env=env, cwd=self.folder)
            try:
                text = wait_for_ready(self.process, self.log, "node-opcua server",
                                      max(end - time.monotonic(), 1.0))
                break
            except RuntimeError:
                self.stop()
                tail = self.log.read_bytes()[size:].decode(errors="replace")
                if not any(a in tail for a in ADDRESS_IN_USE) or time.monotonic() > end:
                    raise
        self.certificate = Path(text.split("CERT ", 1)[1].split("\n", 1)[0].strip())
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def password(self, user: str) -> str:
        return self.users[user]

    def der_certificate(self) -> bytes:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        pem = self.certificate.read_bytes()
        return x509.load_pem_x509_certificate(pem).public_bytes(Encoding.DER)

    def trust_into(self, client_dir: Path) -> None:
        from twin.orchestration.opcua import security

        security.trust_certificate(security.Pki(client_dir), self.der_certificate(), "node")

    def password_file(self, user: str, password: str | None = None) -> Path:
        path = self.folder / f"{user}.password"
        path.write_text((password or self.users[user]) + "\n")
        path.chmod(0o600)
        return path


def node_deploy_text(server: NodeServer, client_dir: Path, duration: float, extra: str = "",
                     password: str | None = None) -> str:
    """A deploy file against the node-opcua server, as its ``apc`` user; its tag map paced at
    the server's speed (the loop times its cycles on the wall clock)."""
    tags = server.folder / "node_tags.toml"
    text = (DATA / "node_tags.toml").read_text()
    tags.write_text(text.replace("seconds_per_time_unit = 0.125",
                                 f"seconds_per_time_unit = {1.0 / server.speed!r}"))
    return _deploy_file(tags, {"url": server.url,
                               "password_file": server.password_file("apc", password),
                               "timeout": REQUEST_TIMEOUT},
                        client_dir, duration, extra, "controller.toml",
                        {"heartbeat_timeout": 2.0, "stale_after": 2.0})
