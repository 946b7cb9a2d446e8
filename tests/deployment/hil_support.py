"""Helpers of the OPC UA tests: a real ``twin serve-opcua`` process, configs, operator calls.

Every server is a separate process on a loopback port the system chose
for it (it listens on port 0 and writes the port it got into its tag map),
with its own configuration folder (certificates, users) under the test's
temporary folder; the deployed loop runs in the test process against it.

Most deployed-loop tests run the server with a virtual clock: the plant
steps one sample time after each cycle the loop has finished
(:class:`Lockstep`), so what the loop sees at each cycle does not depend on
how busy the machine is. Tests of watchdogs that are about real time (a
server killed, frozen or restarted) run on the real clock and wait on
conditions, never on fixed sleeps.
"""

from __future__ import annotations

import asyncio
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from twin.core.config import read_toml
from twin.orchestration.loop.store import CycleStore

DATA = Path(__file__).parent / "data"
PLANT = (DATA / "plant.toml").read_text()


def shipped_hardware(name: str) -> tuple[str, str]:
    """A shipped simulated-hardware example split in its ``[plant]`` part and the body of its
    ``[server]`` table (the tests' servers write their own ``[server]`` table)."""
    from twin.orchestration.examples import FOLDER

    plant, server = (FOLDER / name).read_text().split("\n[server]\n")
    return plant, server
SPEED = 2.0
"""Plant time runs this many times faster than real time in the real-clock tests: a 1 s cycle
is 0.5 s, which a busy machine still keeps (a loop that overruns it three times in a row
sheds)."""
VIRTUAL_SPEED = 1.0
"""Plant seconds per second of a virtual-clock server's timestamps: the deployed loop's
real-time limits (overruns: a cycle longer than the sample time) then keep a second of
margin per cycle however busy the machine is."""
NAMESPACE = "urn:process-twin:simulated-hardware"


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


REQUEST_TIMEOUT = 20.0
"""Limit of one request of the tests' clients and of the deployed loop [s]. Logging in takes
seconds on a busy machine (the server checks passwords in threads of low priority), and a
login is one request."""
START_TIMEOUT = 240.0
"""Longest wait for a server to be READY [s]: it imports the model stack (CasADi, Pyomo)
first, which takes minutes on a machine shared by many busy processes."""
ADDRESS_IN_USE = ("Address already in use", "EADDRINUSE")
"""How a server that could not listen on its port says so."""


class ServerProcess:
    """``twin serve-opcua`` in a subprocess: start, stop, kill, freeze, restart.

    The first start listens on a port the system chooses (unless ``port`` is
    given); :attr:`url` and :attr:`port` are then the ones it got, and a
    restart listens on the same port again, as a plant's gateway would.
    ``clock="virtual"``: the plant steps only when told (:class:`Lockstep`,
    ``Simulation.Advance``); its speed is then :data:`VIRTUAL_SPEED` unless given.
    ``tables``: more TOML (``[[fault]]`` entries, a ``[scaling]`` table).
    """

    def __init__(self, folder: Path, port: int | None = None, speed: float | None = None,
                 faults: str = "", hold: bool = False, insecure: bool = False,
                 settings: str = "", clock: str = "real", plant: str = PLANT):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clock = clock
        self.speed = speed if speed is not None else VIRTUAL_SPEED if clock == "virtual" else SPEED
        self.port = port or 0
        self.url = f"opc.tcp://127.0.0.1:{self.port}/twin"
        self.config = self.folder / "serve.toml"
        self.config.write_text(plant + f'\n[server]\nendpoint = "{self.url}"\n'
                               f'speed = {self.speed}\nclock = "{clock}"\n'
                               f"hold_until_apc = {'true' if hold else 'false'}\n"
                               f"insecure = {'true' if insecure else 'false'}\n{settings}\n\n"
                               f"{faults}")
        self.config_dir = self.folder / "server"
        self.process: subprocess.Popen | None = None
        self.log = self.folder / "server.log"

    @property
    def virtual(self) -> bool:
        return self.clock == "virtual"

    def start(self, timeout: float = START_TIMEOUT) -> "ServerProcess":
        """Start (or start again after a kill) and wait for READY. A port still held (a restart
        on the port of a killed server) is waited for, up to ``timeout``."""
        end = time.monotonic() + timeout
        while True:
            before = self.ready_count()
            size = self.log.stat().st_size if self.log.exists() else 0
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            with open(self.log, "ab") as out:
                self.process = subprocess.Popen(
                    [sys.executable, "-m", "twin.cli.main", "serve-opcua", "--config",
                     str(self.config), "--config-dir", str(self.config_dir), "--json"],
                    stdout=subprocess.PIPE, stderr=out, env=env)
            try:
                wait_for_ready(self.process, self.log, "server", max(end - time.monotonic(), 1.0),
                               before)
                break
            except RuntimeError:
                if self.process.poll() is None:  # not ready in time: not left running
                    self.process.kill()
                self.process.communicate()
                tail = self.log.read_bytes()[size:].decode(errors="replace")
                if not any(a in tail for a in ADDRESS_IN_USE) or time.monotonic() > end:
                    raise
                time.sleep(0.2)
        url = str(read_toml(self.config_dir / "tags.toml")["url"])
        if url != self.url:  # listening on a port the system chose: keep it for restarts
            self.config.write_text(self.config.read_text().replace(self.url, url))
            self.url, self.port = url, int(url.rsplit(":", 1)[1].split("/", 1)[0])
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


WATCHDOG = {"heartbeat_timeout": 2.0, "stale_after": 2.0, "rebuild_after": 8.0}
"""Watchdog of the real-clock tests [s of real time]: a few cycles at the tests' speed-up, and
longer than a busy machine keeps a process waiting."""
VIRTUAL_WATCHDOG = {"heartbeat_timeout": 60.0, "stale_after": 3.0, "rebuild_after": 120.0,
                    "max_overruns": 1000}
"""Watchdog of the virtual-clock tests. ``stale_after`` is judged on the server's clock,
which there is plant time: 3 plant seconds. The heartbeat (and a rebuild) are watched on
the loop's own clock, and the heartbeat moves once per cycle however long a busy machine
takes for one: a minute is far beyond that. Overruns are real time too, while the plant
waits for the loop: the tests of those watchdogs set their own limits."""


def _toml_lines(entries: dict) -> str:
    return "".join(f'{k} = "{v}"\n' if isinstance(v, (str, Path)) else f"{k} = {v}\n"
                   for k, v in entries.items())


def _deploy_file(tags_file: Path, gateway: dict, client_dir: Path, duration: float, extra: str,
                 controller: str, watchdog: dict) -> str:
    gateway = {"username": "apc", **gateway, "config_dir": client_dir, "reconnect_wait": 0.5}
    return (f'controller_file = "{DATA / controller}"\ntags_file = "{tags_file}"\n\n'
            f"[gateway]\n{_toml_lines(gateway)}\n[watchdog]\n{_toml_lines(watchdog)}\n"
            f"[run]\nduration = {duration}\n\n{extra}")


def deploy_text(server: ServerProcess, client_dir: Path, duration: float, extra: str = "",
                controller: str = "controller.toml", watchdog: dict | None = None) -> str:
    """A deploy file against ``server`` (its tag map, the apc user); the watchdog of its
    clock (:data:`WATCHDOG`, :data:`VIRTUAL_WATCHDOG`) with ``watchdog`` over it."""
    base = VIRTUAL_WATCHDOG if getattr(server, "virtual", False) else WATCHDOG
    return _deploy_file(server.config_dir / "tags.toml",
                        {"password_file": server.config_dir / "apc.password",
                         "timeout": REQUEST_TIMEOUT},
                        client_dir, duration, extra, controller, {**base, **(watchdog or {})})


async def operator_call(server: ServerProcess, method: str, *args) -> None:
    """Call a Simulation method as the operator user."""
    async with _client(server, "operator") as client:
        await call(client, method, *args)


async def call(client, method: str, *args) -> None:
    """Call a Simulation method in an open session (strings, booleans, numbers as Double)."""
    from asyncua import ua

    ns = await client.get_namespace_index(NAMESPACE)
    variants = [ua.Variant(a, ua.VariantType.String if isinstance(a, str) else
                           ua.VariantType.Boolean if isinstance(a, bool) else
                           ua.VariantType.Double) for a in args]
    await client.get_node(f"ns={ns};s=Simulation").call_method(
        ua.NodeId.from_string(f"ns={ns};s=Simulation.{method}"), *variants)


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
        c = Client(self.server.url, timeout=REQUEST_TIMEOUT)
        c.application_uri = security.application_uri("client")
        c.set_user(self.user)
        c.set_password(self.server.password(self.user))
        c.certificate_validator = await security.server_certificate_validator(pki)
        await c.set_security_string(f"Basic256Sha256,SignAndEncrypt,{pki.cert},{pki.key}")
        await c.connect()
        self.client = c
        return c

    async def __aexit__(self, *exc):
        try:
            await self.client.disconnect()
        except Exception:  # noqa: BLE001 - the session's own error (a server gone) comes first
            if exc[0] is None:
                raise


SHED_CAUSES = (
    ("communication", ("gateway:", "server heartbeat", "mode of base loop", "setpoint of base loop",
                       "read-back differs")),
    ("overrun", ("cycles in a row overran",)),
    ("operator", ("operator has loop",)),
    ("controller", ("controller shed",)),
    ("error", ("cycle store failed",)),
)
"""Causes of a shed, by the words the deployed loop gives it (communication: the data or the
server; overrun: the loop too slow; operator: a loop taken out of CASCADE; controller: the
controller shed itself; error: an exception in a stage)."""


def shed_causes(events) -> list[set[str]]:
    """The causes of each shed (``other`` for words not known here)."""
    out = []
    for message in events[events.kind == "shed"].message:
        text = message.removeprefix("shed to the base layer: ")
        causes = set()
        for part in text.split("; "):
            found = [c for c, words in SHED_CAUSES if any(w in part for w in words)]
            if not found and re.match(r"^[\w-]+ failed: ", part):
                found = ["error"]
            causes.update(found or ["other"])
            if found and found[0] in ("controller", "error"):
                break  # the rest is the reason's own text
        out.append(causes)
    return out


def shed_counts(events) -> Counter:
    """How many sheds had each cause."""
    return Counter(c for causes in shed_causes(events) for c in causes)


def records(store: Path):
    """(cycles frame, events frame) of the last run in a store."""
    s = CycleStore(store)
    try:
        s.run_id = s.db.execute("SELECT MAX(id) FROM run").fetchone()[0]
        return s.to_frame(), s.events(), s.cycles()
    finally:
        s.close()


ACTIONS_GRACE = 30.0
"""How long actions may still run once the loop has finished [s]."""


async def run_loop_with(config_path: Path, folder: Path, actions=(), driver=None,
                        stop: asyncio.Event | None = None) -> object:
    """Run ``twin deploy``'s loop in this process while ``actions`` (coroutines) run beside it.

    ``driver(loop)``, e.g. a :class:`Lockstep`, runs beside the loop until it ends; ``stop``
    set ends the loop early. An action or the driver that fails ends the run with its error;
    an action not finished within :data:`ACTIONS_GRACE` of the loop's end is an error too (it
    waited for something that never came).
    """
    from twin.orchestration.opcua.deploy import DeployedLoop
    from twin.orchestration.opcua.deploy_config import load_deploy

    loop = DeployedLoop(load_deploy(config_path), folder)
    run = asyncio.ensure_future(loop.run(stop=stop))
    helpers = [asyncio.ensure_future(a) for a in actions]
    drive = asyncio.ensure_future(driver(loop)) if driver is not None else None
    try:
        watched = {run, *helpers, *([drive] if drive else [])}
        while not run.done():
            done, watched = await asyncio.wait(watched, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not run and task.exception() is not None:
                    raise task.exception()
            if drive in done:
                raise RuntimeError("the lockstep driver ended before the loop")
        result = run.result()
        if helpers:
            _, late = await asyncio.wait(helpers, timeout=ACTIONS_GRACE)
            if late:
                raise RuntimeError(f"{len(late)} action(s) still waiting {ACTIONS_GRACE} s after "
                                   "the loop ended")
            for task in helpers:
                task.result()
        return result
    finally:
        for task in [run, *helpers, *([drive] if drive else [])]:
            task.cancel()
        await asyncio.gather(run, *helpers, *([drive] if drive else []), return_exceptions=True)
        await loop.close()


class Lockstep:
    """Steps a virtual-clock server in time with a deployed loop run in this process.

    Each time the loop has finished a cycle (read, decided, committed, written and read
    back) at the server's current tick, the plant advances one sample time; so every
    cycle reads the plant at its own tick and its writes land before the next one, as in
    a SIL run, however slow the machine. ``pace``: at least this long between advances [s]
    (the plant is then never faster than that, for watchdogs measured on the loop's own
    clock). ``jumps``: after cycle ``k`` advance ``jumps[k]`` more ticks (the server runs
    ahead of the loop). ``observe(client, ns, k)``: awaited after cycle ``k``, before the
    plant moves on (what the server holds at that cycle's tick, after its writes). Goes
    on across a server restart: once the loop has run a cycle at the new server's tick,
    the advances go there.
    """

    RECONNECT_FOR = 120.0
    """Longest time without a server to advance before the driver gives up [s]."""

    def __init__(self, server: ServerProcess, pace: float = 0.0,
                 jumps: dict[int, int] | None = None, observe=None):
        if not server.virtual:
            raise ValueError("Lockstep needs a server with clock = 'virtual'")
        self.server, self.pace, self.jumps = server, pace, dict(jumps or {})
        self.observe = observe
        self.advances = 0

    async def __call__(self, loop) -> None:
        per_cycle = round(loop.config.controller.sample_time / loop.config.tags.tick_period)
        advanced, checked, last, lost = 0, 0, -math.inf, None  # cycles done at those points
        while True:
            try:
                async with _client(self.server, "operator") as client:
                    lost = None
                    ns = await client.get_namespace_index(NAMESPACE)
                    counter = client.get_node(f"ns={ns};s=Diagnostics.Tick")
                    tick = await counter.read_value()
                    while True:
                        done = len(loop.cycle_seconds)
                        if done <= advanced:  # no cycle finished since the last advance
                            await asyncio.sleep(0.002)
                            continue
                        # the tick the loop last read: its last cycle ran at the server's tick
                        # (not so for cycles it ran blind while the server was away)
                        if loop._last_tick != tick:
                            if done > checked:  # has the server restarted? (raises if gone)
                                checked = done
                                tick = await counter.read_value()
                                continue
                            # the loop read the counter part-way through the last advance
                            # (the server serves clients between its ticks) and re-aligned
                            # on it: it now waits for a tick beyond the server's
                            target = loop.tick0 + done * per_cycle
                            if loop._last_tick < tick < target:
                                await call(client, "Advance", float(target - tick))
                                tick, last, advanced = target, time.monotonic(), done
                                self.advances += 1
                            else:
                                await asyncio.sleep(0.002)
                            continue
                        if self.observe is not None:
                            await self.observe(client, ns, done - 1)
                        wait = last + self.pace - time.monotonic()
                        if wait > 0:
                            await asyncio.sleep(wait)
                        n = per_cycle + self.jumps.get(done - 1, 0)
                        await call(client, "Advance", float(n))
                        tick, last, advanced = tick + n, time.monotonic(), done
                        self.advances += 1
            except Exception as exc:  # noqa: BLE001 - a server gone; anything else is raised
                if not _connection_lost(exc):
                    raise
                lost = lost or time.monotonic()
                if time.monotonic() - lost > self.RECONNECT_FOR:
                    raise
                await asyncio.sleep(0.2)


_LOST = ("BadConnectionClosed", "BadSessionClosed", "BadSessionIdInvalid",
         "BadSecureChannelClosed", "BadSecureChannelIdInvalid", "BadCommunicationError",
         "BadTimeout", "BadServerHalted", "BadShutdown", "BadServerNotConnected",
         "BadSessionNotActivated")
"""Status codes of a server that went away or restarted (``BadSessionNotActivated``: a session
of the server before its restart, used on the new one)."""


def _connection_lost(exc: BaseException) -> bool:
    """True for the errors of a server that went away (or is not back yet)."""
    from asyncua.ua.uaerrors import UaStatusCodeError

    if isinstance(exc, UaStatusCodeError):
        return type(exc).__name__ in _LOST
    return isinstance(exc, (OSError, ConnectionError, asyncio.TimeoutError, TimeoutError,
                            asyncio.IncompleteReadError)) or "connection" in str(exc).lower()


def deployed_run(server: ServerProcess, folder: Path, duration: float, actions=(),
                 extra: str = "", controller: str = "controller.toml",
                 watchdog: dict | None = None, driver=None, stop: asyncio.Event | None = None):
    """The deployed loop against ``server`` (a virtual clock: in lockstep, unless another
    ``driver`` is given) while ``actions`` (coroutine functions) run; records in ``folder``;
    (cycles frame, events, cycles) of its store."""
    client_dir = folder / "client"
    server.trust_into(client_dir)
    config = folder / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, duration, extra, controller, watchdog))
    if driver is None and server.virtual:
        driver = Lockstep(server)
    asyncio.run(run_loop_with(config, folder / "run", [a() for a in actions], driver, stop))
    return records(folder / "run" / "cycles.sqlite")


async def at_plant_time(server: ServerProcess, t: float, action) -> None:
    """Run ``action()`` (sync or async) once the server's plant time reaches ``t``."""
    await wait_values(server, ["Diagnostics.Time"], lambda v: v[0] >= t, f"plant time {t}")
    result = action()
    if asyncio.iscoroutine(result):
        await result


async def wait_values(server: ServerProcess, paths: list[str], ready, what: str,
                      timeout: float = 300.0) -> list:
    """Poll nodes (paths under the server's namespace) in one session until ``ready(values)``;
    the values. Errors (naming ``what``) after ``timeout`` [s]."""
    end = time.monotonic() + timeout
    async with _client(server, "apc") as client:
        ns = await client.get_namespace_index(NAMESPACE)
        nodes = [client.get_node(f"ns={ns};s={p}") for p in paths]
        while True:
            values = [await n.read_value() for n in nodes]
            if ready(values):
                return values
            if time.monotonic() > end:
                raise TimeoutError(f"waited {timeout} s for {what}; last {values}")
            await asyncio.sleep(0.02)


def _store_query(store: Path, sql: str, *args):
    """The first row of a query on the loop's store (``None`` while it is not there yet)."""
    import sqlite3

    if not store.exists():
        return None
    try:
        with sqlite3.connect(store) as db:
            return db.execute(sql, args).fetchone()
    except sqlite3.OperationalError:
        return None


async def until_logged(store: Path, what: str, sql: str, *args, timeout: float = 300.0) -> tuple:
    """Wait until a query on the loop's store returns a row whose first value is not null;
    that row. Errors (naming ``what``) after ``timeout`` [s]."""
    end = time.monotonic() + timeout
    while True:
        row = _store_query(store, sql, *args)
        if row is not None and row[0] is not None:
            return row
        if time.monotonic() > end:
            raise TimeoutError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.02)


async def until_event(store: Path, kind: str, after_cycle: int = -1, timeout: float = 300.0) -> int:
    """Wait until the loop logs an event of ``kind`` after cycle ``after_cycle``; its cycle."""
    row = await until_logged(store, f"a '{kind}' event after cycle {after_cycle}",
                             "SELECT MIN(cycle) FROM event WHERE kind = ? AND cycle > ?", kind,
                             after_cycle, timeout=timeout)
    return int(row[0])


async def back_in_control(store: Path, cycles: int = 3, after: int = -1,
                          timeout: float = 300.0) -> None:
    """Wait until the loop has re-entered after cycle ``after`` and written in ``cycles``
    cycles since."""
    entered = await until_event(store, "reentry", after, timeout=timeout)
    await until_logged(store, f"{cycles} cycles written after the re-entry",
                       "SELECT CASE WHEN COUNT(*) >= ? THEN 1 END FROM cycle "
                       "WHERE write = 1 AND cycle >= ?", cycles, entered, timeout=timeout)


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
