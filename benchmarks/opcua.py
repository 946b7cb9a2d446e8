"""Figures of the OPC UA layer: opcua_cycle_qt, opcua_tick_jitter and opcua_login_flood.

The simulated hardware (the quadruple tank of ``data/opcua_plant.toml``) runs
in a child process, as it does under ``twin serve-opcua``; the gateway client
runs in this process over loopback.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import socket
import tempfile
import time
from pathlib import Path

from twin.orchestration.opcua import security
from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

PLANT = Path(__file__).parent / "data" / "opcua_plant.toml"
SPEED = 10.0
"""Plant time per real time: a 0.25 s tick every 25 ms."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: str, url: str, speed: float, insecure: bool, started, stop, results,
           marks) -> None:
    """Child process: serve until ``stop`` is set, then send the tick jitter [s], the tick
    counts at each request put in ``marks`` and the server's events."""
    import logging
    import queue

    from twin.orchestration.opcua.serve_config import load_serve_config
    from twin.orchestration.opcua.server import SimulatedHardware

    logging.getLogger("twin").setLevel(logging.ERROR)  # its events go into the figure
    config = load_serve_config(PLANT, history=str(Path(folder) / "opcua-history.sqlite"),
                               endpoint=url, speed=speed, insecure=insecure)
    hardware = SimulatedHardware(config, folder)
    counted: list[int] = []

    async def main():
        await hardware.start()
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            try:
                marks.get_nowait()
                counted.append(len(hardware.jitter))
            except queue.Empty:
                pass
        await hardware.stop()

    asyncio.run(main())
    results.put({"jitter": list(hardware.jitter), "marks": counted, "events": hardware.events,
                 "overruns": hardware.overruns})


def _bare_timer(period: float, ticks: int, results) -> None:
    """Child process: the same absolute-deadline asyncio schedule with nothing to do."""
    async def main():
        loop = asyncio.get_running_loop()
        t0, out = loop.time(), []
        for k in range(1, ticks + 1):
            target = t0 + k * period
            await asyncio.sleep(max(0.0, target - loop.time()))
            out.append(loop.time() - target)
        return out

    results.put(asyncio.run(main()))


class _Hardware:
    """The simulated hardware in a child process, with a trusting client folder."""

    def __init__(self, folder: Path, speed: float = SPEED, insecure: bool = True):
        ctx = multiprocessing.get_context("spawn")
        self.folder = folder
        self.url = f"opc.tcp://127.0.0.1:{_free_port()}/twin"
        self.started, self.stop_event, self.results = ctx.Event(), ctx.Event(), ctx.Queue()
        self.marks = ctx.Queue()
        self.process = ctx.Process(target=_serve, args=(
            str(folder / "server"), self.url, speed, insecure, self.started, self.stop_event,
            self.results, self.marks), daemon=True)

    def __enter__(self) -> "_Hardware":
        self.process.start()
        if not self.started.wait(120):
            self.process.kill()
            raise RuntimeError("simulated hardware did not start in 120 s")
        return self

    def mark(self) -> None:
        """Ask the server to note how many ticks it has timed so far (see :meth:`stop`)."""
        self.marks.put("mark")

    def stop(self) -> dict:
        """Stop the server; its tick jitter [s], tick counts at the marks, events, overruns."""
        self.stop_event.set()
        report = self.results.get(timeout=60)
        self.process.join(30)
        return report

    def __exit__(self, *exc) -> None:
        if self.process.is_alive():
            self.process.kill()

    def trust_client(self, client: Path) -> security.Pki:
        """The client certificate of folder ``client`` (made if need be), trusted by the server."""
        pki = security.Pki(client)
        asyncio.run(security.ensure_certificate(pki, "client"))
        security.trust_certificate(security.Pki(self.folder / "server"), pki.cert.read_bytes(),
                                   "client")
        return pki

    def gateway(self, insecure: bool):
        from twin.orchestration.opcua.deploy_config import GatewaySettings
        from twin.orchestration.opcua.gateway import Gateway
        from twin.orchestration.opcua.tagmap import load_tag_map

        server = self.folder / "server"
        client = self.folder / "client"
        security.trust_certificate(security.Pki(client), (server / "own" / "cert.der").read_bytes(),
                                   "twin")
        self.trust_client(client)
        settings = GatewaySettings(username="apc", password_file=str(server / "apc.password"),
                                   config_dir=str(client), insecure=insecure, timeout=5.0)
        return Gateway(load_tag_map(server / "tags.toml"), settings, url=self.url)


async def _cycle_latencies(gateway, cycles: int) -> list[float]:
    """[ms] per cycle: read everything with status, write setpoints and heartbeat, read back."""
    await gateway.connect()
    try:
        names = list(gateway.tags.loops)
        out = []
        for k in range(cycles):
            t0 = time.perf_counter()
            snap = await gateway.read()
            wanted = {n: 3.0 + 0.01 * (k % 2) for n in names}
            await gateway.write_setpoints(wanted)
            await gateway.write_heartbeat(k + 1)
            back = await gateway.read_back(names)
            out.append((time.perf_counter() - t0) * 1e3)
            if len(snap.tags) < 2 or any(abs(back[n].value - wanted[n]) > 1e-12 for n in names):
                raise RuntimeError("the cycle did not read or write back what it should")
        return out
    finally:
        await gateway.close()


@benchmark("opcua_cycle_qt", "ms per deployed-loop cycle over loopback, solve excluded: one Read "
           "of CVs, loop modes and setpoints with status and server timestamps, the setpoint and "
           "heartbeat Writes and the read-back; Basic256Sha256 SignAndEncrypt vs no security",
           quick_budget_s=9)
def opcua_cycle_qt(ctx: BenchContext) -> FigureResult:
    cycles = ctx.size(300, 3000)
    with tempfile.TemporaryDirectory(prefix="twin-bench-opcua-") as tmp, \
            _Hardware(Path(tmp)) as hardware:
        secure = asyncio.run(_cycle_latencies(hardware.gateway(insecure=False), cycles))
        plain = asyncio.run(_cycle_latencies(hardware.gateway(insecure=True), cycles))
        hardware.stop()
    result = FigureResult(Samples(secure, "ms/cycle"), {"no_security": Samples(plain, "ms/cycle")})
    result.details.update(cycles=cycles, server_period_ms=0.25 / SPEED * 1e3)
    p99 = result.value.summary()["p99"]
    result.target("cycle_p99", "p99 of a secure cycle <= 5% of the 1 s sample time", p99,
                  p99 is not None and p99 <= 50.0)
    return result


@benchmark("opcua_tick_jitter", "ms |deviation| of serve-opcua's tick from its schedule (25 ms "
           "period, a gateway cycling every 100 ms) vs the same asyncio schedule with nothing to do",
           quick_budget_s=14)
def opcua_tick_jitter(ctx: BenchContext) -> FigureResult:
    seconds = ctx.size(4, 60)
    period = 0.25 / SPEED
    with tempfile.TemporaryDirectory(prefix="twin-bench-opcua-") as tmp, \
            _Hardware(Path(tmp), insecure=False) as hardware:
        gateway = hardware.gateway(insecure=False)

        async def load():
            await gateway.connect()
            try:
                end, k = time.monotonic() + seconds, 0
                while time.monotonic() < end:
                    await gateway.read()
                    k += 1
                    await gateway.write_heartbeat(k)
                    await asyncio.sleep(0.1)
            finally:
                await gateway.close()

        asyncio.run(load())
        jitter = hardware.stop()["jitter"]
    ctx_mp = multiprocessing.get_context("spawn")
    results = ctx_mp.Queue()
    bare = ctx_mp.Process(target=_bare_timer, args=(period, len(jitter), results), daemon=True)
    bare.start()
    floor = results.get(timeout=seconds * 4 + 60)
    bare.join(30)
    ours = [abs(j) * 1e3 for j in jitter]
    result = FigureResult(Samples(ours, "ms"),
                          {"bare_asyncio_timer": Samples([abs(j) * 1e3 for j in floor], "ms")})
    result.details.update(ticks=len(ours), period_ms=period * 1e3,
                          late_by_more_than_a_period=sum(j > period for j in jitter))
    p99 = result.value.summary()["p99"]
    result.target("jitter_p99", "p99 tick deviation <= 20% of the period", p99,
                  p99 is not None and p99 <= 0.2 * period * 1e3)
    return result


FLOOD = 30
"""Clients logging in at once with a wrong password, in each wave of the flood."""


async def _wrong_logins(url: str, client: security.Pki, server_cert: Path, n: int) -> list[str]:
    """``n`` clients at once log in as ``apc`` with a wrong password; how each was refused."""
    from asyncua import Client
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    async def one() -> str:
        c = Client(url, timeout=10)
        c.application_uri = security.application_uri("client")
        c.set_user("apc")
        c.set_password("not-the-password")
        await c.set_security(SecurityPolicyBasic256Sha256, str(client.cert), str(client.key),
                             server_certificate=str(server_cert))
        try:
            await c.connect()
        except Exception as exc:  # noqa: BLE001 - the refusal is what we count
            return type(exc).__name__
        await c.disconnect()
        return "accepted"

    return await asyncio.gather(*(one() for _ in range(n)))


def _flood(url: str, client: str, server_cert: str, seconds: float, ready, go, results) -> None:
    """Child process at the lowest scheduling priority (it stands in for clients on other
    machines, which on a 2-core box would otherwise take the server's CPU): make a client
    certificate, set ``ready``, wait for ``go``, then send waves of :data:`FLOOD`
    wrong-password logins for ``seconds``; sends the outcomes and the number of waves."""
    import logging
    import os

    os.nice(19)
    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # refusals are expected here
    pki = security.Pki(Path(client))

    async def main():
        await security.ensure_certificate(pki, "client")
        ready.set()
        while not go.wait(0.01):
            await asyncio.sleep(0)
        end, outcomes, waves = time.monotonic() + seconds, [], 0
        while time.monotonic() < end:
            outcomes += await _wrong_logins(url, pki, Path(server_cert), FLOOD)
            waves += 1
        return outcomes, waves

    results.put(asyncio.run(main()))


@benchmark("opcua_login_flood", "ms |deviation| of serve-opcua's tick (25 ms period) while "
           f"waves of {FLOOD} clients log in at once as apc with a wrong password (from a niced "
           "process) vs the same server idle just before", quick_budget_s=13)
def opcua_login_flood(ctx: BenchContext) -> FigureResult:
    seconds = ctx.size(2.75, 20)
    period = 0.25 / SPEED
    mp = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="twin-bench-opcua-") as tmp:
        client = Path(tmp) / "flood"
        server_cert = Path(tmp) / "server" / "own" / "cert.der"
        ready, go, results = mp.Event(), mp.Event(), mp.Queue()
        hardware = _Hardware(Path(tmp), insecure=False)
        flood = mp.Process(target=_flood, args=(hardware.url, str(client), str(server_cert),
                                                seconds, ready, go, results), daemon=True)
        flood.start()  # starts up beside the server
        try:
            with hardware:
                if not ready.wait(120):
                    raise RuntimeError("the flood's clients did not start in 120 s")
                security.trust_certificate(security.Pki(Path(tmp) / "server"),
                                           security.Pki(client).cert.read_bytes(), "flood")
                time.sleep(0.5)
                hardware.mark()
                time.sleep(seconds)
                hardware.mark()
                go.set()
                outcomes, waves = results.get(timeout=seconds * 10 + 60)
                hardware.mark()
                report = hardware.stop()
        finally:
            flood.join(10)
            if flood.is_alive():
                flood.kill()
    a, b, c = report["marks"]
    ms = [abs(j) * 1e3 for j in report["jitter"]]
    idle, flooded = ms[a:b], ms[b:c]
    result = FigureResult(Samples(flooded, "ms"), {"idle": Samples(idle, "ms")})
    p99, idle_p99 = result.value.summary()["p99"], result.baselines["idle"].summary()["p99"]
    ratio = p99 / idle_p99 if p99 is not None and idle_p99 else None
    late = {"idle": sum(j > period * 1e3 for j in idle),
            "flood": sum(j > period * 1e3 for j in flooded)}
    result.details.update(
        period_ms=period * 1e3, waves=waves, logins=len(outcomes),
        refused=sum(o == "BadUserAccessDenied" for o in outcomes),
        other_outcomes=sorted({o for o in outcomes if o != "BadUserAccessDenied"}),
        flood_p99_over_idle_p99=ratio, idle_max_ms=max(idle, default=None),
        flood_max_ms=max(flooded, default=None), late_by_more_than_a_period=late,
        security_events=[e for e in report["events"] if ": security: " in e][:6])
    result.target("flood_p99", "p99 tick deviation under the flood within 2x of idle", ratio,
                  ratio is not None and ratio <= 2.0)
    result.target("no_overrun", "no tick late by more than a period under the flood",
                  late["flood"], late["flood"] == 0)
    return result
