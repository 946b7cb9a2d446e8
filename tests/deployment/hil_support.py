"""Helpers of the OPC UA tests: a real ``twin serve-opcua`` process, configs, operator calls.

Every server is a separate process on a free loopback port, with its own
configuration folder (certificates, users) under the test's temporary
folder; the deployed loop runs in the test process against it.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from twin.orchestration.loop.store import CycleStore

DATA = Path(__file__).parent / "data"
PLANT = (DATA / "plant.toml").read_text()
SPEED = 8.0
"""Plant time runs this many times faster than real time in the fault tests."""


def wait_for_ready(process: subprocess.Popen, log: Path, what: str, timeout: float,
                   seen: int = 0) -> str:
    """Wait until ``log`` shows READY more than ``seen`` times; its text. Errors if the
    process exits first or the time runs out."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        text = log.read_text(errors="replace") if log.exists() else ""
        if text.count("READY") > seen:
            return text
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {text[-2000:]}")
        time.sleep(0.05)
    raise RuntimeError(f"{what} not ready in {timeout} s: {log.read_text()[-2000:]}")


def client_certificate(client_dir: Path):
    """The ``Pki`` of a client folder, its certificate made as the gateway makes it (callable
    with or without a running event loop)."""
    from concurrent.futures import ThreadPoolExecutor

    from twin.orchestration.opcua import security

    pki = security.Pki(Path(client_dir))
    if not (pki.cert.is_file() and pki.key.is_file()):
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, security.ensure_certificate(pki, "client")).result()
    return pki


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``twin serve-opcua`` in a subprocess: start, stop, kill, freeze, restart."""

    def __init__(self, folder: Path, port: int | None = None, speed: float = SPEED,
                 faults: str = "", hold: bool = False, insecure: bool = False,
                 settings: str = ""):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/twin"
        self.config = self.folder / "serve.toml"
        self.config.write_text(PLANT + f'\n[server]\nendpoint = "{self.url}"\nspeed = {speed}\n'
                               f"hold_until_apc = {'true' if hold else 'false'}\n"
                               f"insecure = {'true' if insecure else 'false'}\n{settings}\n\n"
                               f"{faults}")
        self.config_dir = self.folder / "server"
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "server.log"

    def start(self, timeout: float = 60.0) -> "ServerProcess":
        """Start (or start again after a kill) and wait for READY."""
        before = self.ready_count()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "twin.cli.main", "serve-opcua", "--config", str(self.config),
                 "--config-dir", str(self.config_dir), "--json"],
                stdout=subprocess.PIPE, stderr=out, env=env)
        wait_for_ready(self.process, self.log, "server", timeout, before)
        return self

    def ready_count(self) -> int:
        return self.log.read_text(errors="replace").count("READY") if self.log.exists() else 0

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(10)

    def stop(self) -> str:
        """Stop (SIGTERM) and return its JSON summary."""
        if self.process is None:
            return ""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.terminate()
        try:
            out, _ = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        return out.decode(errors="replace")

    def trust_into(self, client_dir: Path) -> None:
        """Trust each other: the server's certificate in the client's folder, the client's
        (made if need be) in the server's."""
        from twin.orchestration.opcua import security

        security.trust_certificate(security.Pki(client_dir),
                                   (self.config_dir / "own" / "cert.der").read_bytes(), "twin")
        self.trust_client(client_dir)

    def trust_client(self, client_dir: Path) -> Path:
        """Trust the certificate of client folder ``client_dir`` (made if need be) on the server;
        the client's certificate file."""
        from twin.orchestration.opcua import security

        pki = client_certificate(client_dir)
        security.trust_certificate(security.Pki(self.config_dir), pki.cert.read_bytes(), "client")
        return pki.cert

    def password(self, user: str) -> str:
        return (self.config_dir / f"{user}.password").read_text().strip()


WATCHDOG = {"heartbeat_timeout": 0.6, "stale_after": 0.6, "rebuild_after": 8.0}
"""Watchdog of the tests [s of real time]: a few cycles at the tests' speed-up."""


def _toml_lines(entries: dict) -> str:
    return "".join(f'{k} = "{v}"\n' if isinstance(v, (str, Path)) else f"{k} = {v}\n"
                   for k, v in entries.items())


def _deploy_file(tags_file: Path, gateway: dict, client_dir: Path, duration: float, extra: str,
                 controller: str, watchdog: dict) -> str:
    gateway = {"username": "apc", **gateway, "config_dir": client_dir, "reconnect_wait": 0.5}
    return (f'controller_file = "{DATA / controller}"\ntags_file = "{tags_file}"\n\n'
            f"[gateway]\n{_toml_lines(gateway)}\n[watchdog]\n{_toml_lines({**WATCHDOG, **watchdog})}\n"
            f"[run]\nduration = {duration}\n\n{extra}")


def deploy_text(server: ServerProcess, client_dir: Path, duration: float, extra: str = "",
                controller: str = "controller.toml", watchdog: dict | None = None) -> str:
    """A deploy file against ``server`` (its tag map, the apc user)."""
    return _deploy_file(server.config_dir / "tags.toml",
                        {"password_file": server.config_dir / "apc.password", "timeout": 1.0},
                        client_dir, duration, extra, controller, watchdog or {})


async def operator_call(server: ServerProcess, method: str, *args) -> None:
    """Call a Simulation method as the operator user."""
    from asyncua import ua

    async with _client(server, "operator") as client:
        ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
        sim = client.get_node(f"ns={ns};s=Simulation")
        variants = [ua.Variant(a, ua.VariantType.String if isinstance(a, str) else
                               ua.VariantType.Boolean if isinstance(a, bool) else
                               ua.VariantType.Double) for a in args]
        await sim.call_method(ua.NodeId.from_string(f"ns={ns};s=Simulation.{method}"), *variants)


async def read_values(server: ServerProcess, *paths: str) -> list:
    async with _client(server, "apc") as client:
        ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
        return [await client.get_node(f"ns={ns};s={p}").read_value() for p in paths]


class _client:
    """A secure session as ``user`` with a server (``ServerProcess`` or ``NodeServer``)."""

    def __init__(self, server, user: str):
        self.server, self.user = server, user

    async def __aenter__(self):
        from asyncua import Client

        from twin.orchestration.opcua import security

        pki = security.Pki(self.server.folder / f"client-{self.user}")
        await security.ensure_certificate(pki, "client")
        self.server.trust_into(pki.folder)
        c = Client(self.server.url, timeout=5)
        c.application_uri = security.application_uri("client")
        c.set_user(self.user)
        c.set_password(self.server.password(self.user))
        c.certificate_validator = await security.server_certificate_validator(pki)
        await c.set_security_string(f"Basic256Sha256,SignAndEncrypt,{pki.cert},{pki.key}")
        await c.connect()
        self.client = c
        return c

    async def __aexit__(self, *exc):
        await self.client.disconnect()


def records(store: Path):
    """(cycles frame, events frame) of the last run in a store."""
    s = CycleStore(store)
    try:
        s.run_id = s.db.execute("SELECT MAX(id) FROM run").fetchone()[0]
        return s.to_frame(), s.events(), s.cycles()
    finally:
        s.close()


async def run_loop_with(config_path: Path, folder: Path, actions=()) -> object:
    """Run ``twin deploy``'s loop in this process while ``actions`` (coroutines) run beside it."""
    from twin.orchestration.opcua.deploy import DeployedLoop
    from twin.orchestration.opcua.deploy_config import load_deploy

    loop = DeployedLoop(load_deploy(config_path), folder)
    try:
        results = await asyncio.gather(loop.run(), *actions)
        return results[0]
    finally:
        await loop.close()


async def at_plant_time(server: ServerProcess, t: float, action) -> None:
    """Run ``action()`` (sync or async) once the server's plant time reaches ``t``."""
    async with _client(server, "apc") as client:
        ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
        node = client.get_node(f"ns={ns};s=Diagnostics.Time")
        while await node.read_value() < t:
            await asyncio.sleep(0.02)
    result = action()
    if asyncio.iscoroutine(result):
        await result


async def after_cycles(store: Path, n: int, action=None) -> None:
    """Run ``action()`` once the deployed loop has logged ``n`` cycles."""
    import sqlite3

    while True:
        if store.exists():
            try:
                with sqlite3.connect(store) as db:
                    if db.execute("SELECT COUNT(*) FROM cycle").fetchone()[0] >= n:
                        break
            except sqlite3.OperationalError:
                pass
        await asyncio.sleep(0.02)
    if action is not None:
        result = action()
        if asyncio.iscoroutine(result):
            await result


NODE_SERVER = Path(__file__).parent / "nodeopcua"
"""The node-opcua server of the interoperability tests (installed by ``npm ci``)."""


class NodeServer:
    """``node nodeopcua/server.js``: a foreign OPC UA server, its files under ``folder``."""

    def __init__(self, folder: Path, speed: float = SPEED, allow_none: bool = False):
        self.folder = Path(folder)
        self.home = self.folder / "home"  # node-opcua's runtime files stay in the test folder
        self.home.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"opc.tcp://127.0.0.1:{self.port}/twin"
        self.users = {"apc": "apc-secret-1", "operator": "operator-secret-2"}
        self.log = self.folder / "node.log"
        self.args = ["--port", str(self.port), "--pki", str(self.folder / "pki"),
                     "--speed", str(speed)] + (["--allow-none"] if allow_none else [])
        self.process: subprocess.Popen | None = None
        self.certificate: Path | None = None

    def start(self, timeout: float = 60.0) -> "NodeServer":
        if not (NODE_SERVER / "node_modules" / "node-opcua").is_dir():
            raise RuntimeError(f"node-opcua is not installed in {NODE_SERVER}: run the test "
                               "command of README.md (it runs npm ci there)")
        env = {**os.environ, "HOME": str(self.home), "npm_config_cache": str(self.home / ".npm"),
               "TWIN_USERS": ",".join(f"{u}:{p}" for u, p in self.users.items())}
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(["node", str(NODE_SERVER / "server.js"), *self.args],
                                            stdout=out, stderr=subprocess.STDOUT, env=env,
                                            cwd=self.folder)
        text = wait_for_ready(self.process, self.log, "node-opcua server", timeout)
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
    """A deploy file against the node-opcua server, as its ``apc`` user."""
    return _deploy_file(DATA / "node_tags.toml",
                        {"url": server.url, "password_file": server.password_file("apc", password),
                         "timeout": 2.0},
                        client_dir, duration, extra, "controller.toml",
                        {"heartbeat_timeout": 1.0, "stale_after": 1.0})


async def timed_login(server: ServerProcess, client_dir: Path, user: str, password: str,
                      application_uri: str | None = None,
                      drop_session_certificate: bool = False) -> tuple[str, float]:
    """One secure login to ``server``, step by step: (outcome, seconds ActivateSession took).
    The outcome is ``accepted`` or the name of the OPC UA error of whichever step failed.

    ``application_uri`` replaces the client's own in its description;
    ``drop_session_certificate`` leaves the certificate out of CreateSession (as a client
    trying to slip past the server's certificate check would)."""
    return await _timed_login(server.url, server.config_dir / "own" / "cert.der", client_dir,
                              user, password, application_uri, drop_session_certificate)


async def _timed_login(url: str, server_cert: Path, client_dir: Path, user: str, password: str,
                       application_uri: str | None = None,
                       drop_session_certificate: bool = False) -> tuple[str, float]:
    import logging

    from asyncua import Client
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    from twin.orchestration.opcua import security

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # refusals are expected here
    pki = client_certificate(client_dir)
    c = Client(url, timeout=10)
    c.application_uri = application_uri or security.application_uri("client")
    await c.set_security(SecurityPolicyBasic256Sha256, str(pki.cert), str(pki.key),
                         server_certificate=str(server_cert))
    await c.connect_socket()
    elapsed = math.nan
    try:
        await c.send_hello()
        await c.open_secure_channel()
        if drop_session_certificate:
            c.security_policy.host_certificate = None
        await c.create_session()
        t0 = time.perf_counter()
        try:
            await c.activate_session(username=user, password=password)
        finally:
            elapsed = time.perf_counter() - t0
        await c.close_session()
        return "accepted", elapsed
    except Exception as exc:  # noqa: BLE001 - the refusal is the outcome
        return type(exc).__name__, elapsed
    finally:
        c.disconnect_socket()


def wrong_logins(server: ServerProcess, client_dir: Path, n: int, user: str = "apc") -> list[str]:
    """``n`` clients at once log in as ``user`` with a wrong password, from a child process at
    the lowest scheduling priority (standing in for clients on other machines); their
    outcomes."""
    import multiprocessing

    client_certificate(client_dir)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_flood, args=(server.url, str(server.config_dir / "own" / "cert.der"),
                                             str(client_dir), n, user, results), daemon=True)
    child.start()
    try:
        return results.get(timeout=120)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


def _flood(url: str, server_cert: str, client_dir: str, n: int, user: str, results) -> None:
    os.nice(19)

    async def main():
        return [o for o, _ in await asyncio.gather(
            *(_timed_login(url, Path(server_cert), Path(client_dir), user, "not-the-password")
              for _ in range(n)))]

    results.put(asyncio.run(main()))
