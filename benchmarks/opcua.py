"""Figures of the OPC UA layer: opcua_cycle_qt and opcua_tick_jitter.

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

from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

PLANT = Path(__file__).parent / "data" / "opcua_plant.toml"
SPEED = 10.0
"""Plant time per real time: a 0.25 s tick every 25 ms."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(folder: str, url: str, speed: float, insecure: bool, started, stop, results) -> None:
    """Child process: serve until ``stop`` is set, then send the tick jitter [s]."""
    from twin.orchestration.opcua.serve_config import load_serve_config
    from twin.orchestration.opcua.server import SimulatedHardware

    config = load_serve_config(PLANT, endpoint=url, speed=speed, insecure=insecure)
    hardware = SimulatedHardware(config, folder)

    async def main():
        await hardware.start()
        started.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await hardware.stop()

    asyncio.run(main())
    results.put(list(hardware.jitter))


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
        self.process = ctx.Process(target=_serve, args=(
            str(folder / "server"), self.url, speed, insecure, self.started, self.stop_event,
            self.results), daemon=True)

    def __enter__(self) -> "_Hardware":
        self.process.start()
        if not self.started.wait(120):
            self.process.kill()
            raise RuntimeError("simulated hardware did not start in 120 s")
        return self

    def stop(self) -> list[float]:
        """Stop the server; its tick jitter [s]."""
        self.stop_event.set()
        jitter = self.results.get(timeout=60)
        self.process.join(30)
        return jitter

    def __exit__(self, *exc) -> None:
        if self.process.is_alive():
            self.process.kill()

    def gateway(self, insecure: bool):
        from twin.orchestration.opcua import security
        from twin.orchestration.opcua.deploy_config import GatewaySettings
        from twin.orchestration.opcua.gateway import Gateway
        from twin.orchestration.opcua.tagmap import load_tag_map

        server = self.folder / "server"
        client = self.folder / "client"
        security.trust_certificate(security.Pki(client), (server / "own" / "cert.der").read_bytes(),
                                   "twin")
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
            if len(snap.tags) < 2 or any(abs(back[n] - wanted[n]) > 1e-12 for n in names):
                raise RuntimeError("the cycle did not read or write back what it should")
        return out
    finally:
        await gateway.close()


@benchmark("opcua_cycle_qt", "ms per deployed-loop cycle over loopback, solve excluded: one Read "
           "of CVs, loop modes and setpoints with status and server timestamps, the setpoint and "
           "heartbeat Writes and the read-back; Basic256Sha256 SignAndEncrypt vs no security",
           quick_budget_s=15)
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
           quick_budget_s=20)
def opcua_tick_jitter(ctx: BenchContext) -> FigureResult:
    seconds = ctx.size(5, 60)
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
        jitter = hardware.stop()
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
