"""Helpers of the fast deployed-loop tests: deploy files, snapshots, an in-process OPC UA server.

The server is a real asyncua server on 127.0.0.1 (a free port), run on an
event loop of its own in a background thread, so that a test's gateway
(on the test's own event loop) talks to it over loopback as to any
server. The test sets each node's value, status and server timestamp.
"""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from twin.core.quality import Quality
from twin.orchestration.opcua.deploy_config import load_deploy
from twin.orchestration.opcua.gateway import Sample, Snapshot

DATA = Path(__file__).parent / "data"
T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
"""A server time of the unit tests."""

NS = "urn:process-twin:local-test-server"

NODES = {
    # path: (initial value, variant type name)
    "Diagnostics.Heartbeat": (1, "UInt32"),
    "Diagnostics.Tick": (0, "UInt32"),
    "APC.Heartbeat": (0, "UInt32"),
    "Plant.h1": (12.0, "Double"),
    "Plant.h2": (12.5, "Double"),
    "Plant.BaseLayer.v1.Mode": ("CASCADE", "String"),
    "Plant.BaseLayer.v1.SP": (3.0, "Double"),
    "Plant.BaseLayer.v1.RSP": (3.0, "Double"),
    "Plant.BaseLayer.v2.Mode": ("CASCADE", "String"),
    "Plant.BaseLayer.v2.SP": (3.0, "Double"),
    "Plant.BaseLayer.v2.RSP": (3.0, "Double"),
}


def node_id(path: str) -> str:
    """The NodeId of a node of the local server (its namespace is the first registered, 2)."""
    return f"ns=2;s={path}"


def loop_nodes(name: str) -> dict[str, str]:
    return {"mode": node_id(f"Plant.BaseLayer.{name}.Mode"),
            "sp": node_id(f"Plant.BaseLayer.{name}.SP"),
            "rsp": node_id(f"Plant.BaseLayer.{name}.RSP")}


# ------------------------------------------------------------------ deploy files

MV_DV_CONTROLLER = """
[controller]
model = "distillation_a"
sample_time = 1.0
prediction_horizon = 2
dv = [{ name = "F" }, { name = "z_F" }]
measurements = [{ name = "x_D", noise_std = 0.001 }, { name = "x_B", noise_std = 0.001 }]
cv = [{ name = "x_D", setpoint = 0.99 }]
mv = [{ name = "L_T", low = 1.0, high = 5.0, max_move = 0.1 },
      { name = "V_B", low = 1.0, high = 5.0, max_move = 0.1 }]
"""
"""Column A with two measured disturbances, feed rate F and composition z_F."""


def _toml(value) -> str:
    if isinstance(value, (str, Path)):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return repr(value)


def write_deploy(folder: Path, url: str = "opc.tcp://127.0.0.1:4840/twin", *,
                 dv: bool = False, tick: bool = False, scale: float = 1.0,
                 offset: float = 0.0, watchdog: dict | None = None,
                 gateway: dict | None = None, extra: str = "",
                 seconds_per_time_unit: float = 1.0, tick_period: float = 0.25,
                 controller: str | None = None) -> Path:
    """A deploy file for the quadruple tank against the local server's nodes; its path.

    ``dv``: column A with its measured disturbances (no server has its nodes), else the
    quadruple tank;
    ``scale``/``offset``: the conversion of every level tag and loop setpoint;
    ``controller``: an inline ``[controller]`` table instead of the test data's.
    """
    folder.mkdir(parents=True, exist_ok=True)
    password = folder / "apc.password"
    password.write_text("not-a-secret\n")
    tags = {"url": url, "server_heartbeat": node_id("Diagnostics.Heartbeat"),
            "apc_heartbeat": node_id("APC.Heartbeat"),
            "seconds_per_time_unit": seconds_per_time_unit}
    if tick:
        tags.update(tick=node_id("Diagnostics.Tick"), tick_period=tick_period)
    lines = ["[tags]"] + [f"{k} = {_toml(v)}" for k, v in tags.items()]
    for name in ("x_D", "x_B", "F", "z_F") if dv else ("h1", "h2"):
        lines += [f"[tags.tags.{name}]", f"node = {_toml(node_id('Plant.' + name))}"]
        lines += [f"{k} = {_toml(v)}" for k, v in {"scale": scale, "offset": offset}.items()]
    for name in ("L_T", "V_B") if dv else ("v1", "v2"):
        lines += [f"[tags.loops.{name}]"]
        lines += [f"{k} = {_toml(v)}" for k, v in {**loop_nodes(name), "scale": scale,
                                                     "offset": offset}.items()]
    settings = {"password_file": password, "config_dir": folder / "client", "insecure": True,
                "timeout": 2.0, "reconnect_wait": 0.0, **(gateway or {})}
    lines += ["[gateway]"] + [f"{k} = {_toml(v)}" for k, v in settings.items()]
    lines += ["[watchdog]"] + [f"{k} = {_toml(v)}" for k, v in (watchdog or {}).items()]
    head = controller or (MV_DV_CONTROLLER if dv else
                          f'controller_file = "{DATA / "controller.toml"}"\n')
    path = folder / "deploy.toml"
    path.write_text(head + "\n" + "\n".join(lines) + "\n" + extra)
    return path


def config(folder: Path, **options):
    """The checked :class:`DeployConfig` of :func:`write_deploy`."""
    return load_deploy(write_deploy(folder, **options))


# ------------------------------------------------------------------ snapshots

def good(value: float, at: datetime = T0) -> Sample:
    return Sample(value, Quality.GOOD, "Good", at)


def bad(status: str = "BadCommunicationError", at: datetime | None = T0) -> Sample:
    return Sample(float("nan"), Quality.BAD, status, at)


def uncertain(value: float, at: datetime = T0) -> Sample:
    return Sample(value, Quality.UNCERTAIN, "UncertainLastUsableValue", at)


def snapshot(tags: dict[str, Sample] | None = None, *, heartbeat: int | None = 1,
             heartbeat_time: datetime | None = T0, modes: dict | None = None,
             setpoints: dict | None = None, remote: dict | None = None,
             start: datetime | None = None, loops=("v1", "v2")) -> Snapshot:
    """A snapshot as :meth:`Gateway.read` returns it: by default every loop in CASCADE at
    setpoint 3.0, both levels good at 12.0 and 12.5, all stamped at ``T0``."""
    tags = {"h1": good(12.0), "h2": good(12.5)} if tags is None else tags
    modes = {n: "CASCADE" for n in loops} if modes is None else modes
    setpoints = {n: good(3.0) for n in loops} if setpoints is None else setpoints
    remote = {n: good(3.0) for n in loops} if remote is None else remote
    return Snapshot(heartbeat, heartbeat_time, None, tags, modes, setpoints, remote, start)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# ------------------------------------------------------------------ a local server

class LocalServer:
    """A real asyncua server on 127.0.0.1 with the nodes of :data:`NODES`, in a thread.

    ``secure``: only Basic256Sha256 SignAndEncrypt, with a certificate made
    as ``twin serve-opcua`` makes its own (in ``folder/server``); else only
    an unsecured endpoint. ``password``: the one password every user must
    give (none: any).
    """

    def __init__(self, folder: Path, secure: bool = False, password: str | None = None):
        self.folder = Path(folder)
        self.secure, self.password = secure, password
        self.server = None
        self.after_write: dict[str, tuple] = {}
        """path -> (value, status) the server holds instead of what a client wrote there"""
        self.events: list[str] = []
        self._ticking: asyncio.Task | None = None
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True,
                                       name="local-opcua-server")
        self.port = 0
        self.nodes: dict[str, object] = {}

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/twin"

    def start(self) -> "LocalServer":
        self.thread.start()
        self.call(self._start(), timeout=60)
        return self

    def call(self, coro, timeout: float = 10.0):
        """Run ``coro`` on the server's loop and wait for its result (from plain code)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def acall(self, coro):
        """Run ``coro`` on the server's loop (from a test's coroutine)."""
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    async def _start(self) -> None:
        from asyncua import Server, ua
        from asyncua.common.callback import CallbackType
        from asyncua.crypto.permission_rules import User, UserRole
        from asyncua.server.user_managers import UserManager

        from twin.orchestration.opcua import security
        from twin.orchestration.opcua.client_trust import ClientCertificates

        wanted = self.password

        class OnePassword(UserManager):
            def get_user(self, iserver, username=None, password=None, certificate=None):
                if wanted is not None and password != wanted:
                    return None
                return User(role=UserRole.User, name=username)

        server = Server(user_manager=OnePassword())
        await server.init()
        server.set_endpoint("opc.tcp://127.0.0.1:0/twin")
        if self.secure:
            pki = security.Pki(self.folder / "server")
            await security.ensure_certificate(pki, "server")
            await server.set_application_uri(security.application_uri("server"))
            await server.load_certificate(str(pki.cert))
            await server.load_private_key(str(pki.key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
            server.set_certificate_validator(ClientCertificates(pki, self.events.append))
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.UserNameIdentityToken])
        ns = await server.register_namespace(NS)
        assert ns == 2, ns
        for path, (value, vtype) in NODES.items():
            node = await server.nodes.objects.add_variable(
                node_id(path), path, ua.Variant(value, getattr(ua.VariantType, vtype)))
            await node.set_writable()
            self.nodes[path] = node
        server.subscribe_server_callback(CallbackType.PostWrite, self._after_write)
        await server.start()
        self.port = server.bserver._server.sockets[0].getsockname()[1]
        self.server = server

    async def _after_write(self, event, dispatcher=None) -> None:
        by_id = {node.nodeid: path for path, node in self.nodes.items()}
        for item in event.request_params.NodesToWrite:
            path = by_id.get(item.NodeId)
            if path in self.after_write:
                await self._set(path, *self.after_write[path], None)

    def trust_client(self, client_dir: Path) -> None:
        """Trust the certificate of a client folder (made as the gateway makes it)."""
        from twin.orchestration.opcua import security

        client = security.Pki(Path(client_dir))
        self.call(security.ensure_certificate(client, "client"))
        security.trust_certificate(security.Pki(self.folder / "server"), client.cert.read_bytes(),
                                   "client")

    def start_ticking(self, seconds: float, first: int = 0) -> None:
        """Advance Diagnostics.Tick by one every ``seconds``, from ``first``."""
        async def tick():
            count = first
            while True:
                await self._set("Diagnostics.Tick", count, "Good", None)
                await asyncio.sleep(seconds)
                count += 1

        async def start():
            self._ticking = asyncio.create_task(tick())

        self.call(start())

    def stop_ticking(self) -> None:
        async def stop():
            if self._ticking is not None:
                self._ticking.cancel()
                self._ticking = None

        self.call(stop())

    def freeze(self, seconds: float) -> None:
        """The server answers nothing for ``seconds`` (its event loop blocked), as a stopped
        process would not."""
        self.loop.call_soon_threadsafe(time.sleep, seconds)

    @property
    def server_certificate(self) -> Path:
        return self.folder / "server" / "own" / "cert.der"

    async def _set(self, path: str, value, status: str, at: datetime | None) -> None:
        from asyncua import ua

        vtype = getattr(ua.VariantType, NODES[path][1])
        variant = ua.Variant(value, vtype) if value is not None else None
        at = at or datetime.now(timezone.utc)
        result = await self.server.iserver.aspace.write_attribute_value(
            self.nodes[path].nodeid, ua.AttributeIds.Value, ua.DataValue(
                Value=variant, StatusCode=ua.StatusCode(getattr(ua.StatusCodes, status)),
                ServerTimestamp=at, SourceTimestamp=at))
        result.check()                      # a refused write (the wrong type) is a test error

    def set(self, path: str, value, status: str = "Good", at: datetime | None = None) -> None:
        """Publish ``value`` on a node with a status and a server timestamp (default: now)."""
        self.call(self._set(path, value, status, at))

    async def aset(self, path: str, value, status: str = "Good", at: datetime | None = None):
        await self.acall(self._set(path, value, status, at))

    def reset(self) -> None:
        """Every node back to its initial value, Good, stamped now; no rules, no ticking."""
        self.stop_ticking()
        self.after_write.clear()
        for path, (value, _) in NODES.items():
            self.set(path, value)

    def value(self, path: str):
        async def read():
            return (await self.nodes[path].read_data_value()).Value.Value

        return self.call(read())

    def stop(self) -> None:
        if self.server is not None:
            self.stop_ticking()
            self.call(self.server.stop(), timeout=30)
            self.server = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


PASSWORD = "not-a-secret"
"""The password ``write_deploy`` gives the gateway and :class:`LocalServer` accepts."""

