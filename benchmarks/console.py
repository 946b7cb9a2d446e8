"""Figure of the browser console: console_watchers.

The CSTR loop (``cstr_apc.toml``) runs paced in this process with its
console in a child process (as ``twin control --console`` runs it); a
third process holds 20 logged-in clients on the live stream during the
middle block of cycles. The figure is each cycle's time in the loop
(read, estimate, solve, commit) with the clients watching; the baseline is
the same loop's cycles without them, before and after, in the same run.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark
from twin_benchmarks.opcua import _free_port

CLIENTS = 20
PACE = 0.04
"""Wall-clock seconds per cycle of the watched loop."""
PASSWORD = "bench-watcher-pw"


def _watchers(url: str, n: int, ready, go, stop, results) -> None:
    """Child process: log ``n`` users in, then (at ``go``) hold ``n`` live streams until
    ``stop``; sends the number of cycle updates each received."""
    import os

    import httpx

    os.nice(10)  # (browsers are elsewhere in a plant; here they share the loop's machine)

    async def main():
        clients = [httpx.AsyncClient(base_url=url, verify=False, timeout=60) for _ in range(n)]
        end = time.monotonic() + 180
        while True:  # the console is starting
            try:
                await clients[0].get("/login")
                break
            except httpx.TransportError:
                if time.monotonic() > end:
                    raise
                await asyncio.sleep(0.1)
        for k, c in enumerate(clients):
            r = await c.post("/api/login", json={"user": f"w{k}", "password": PASSWORD})
            r.raise_for_status()
        ready.set()
        while not go.is_set():
            await asyncio.sleep(0.01)
        counts = [0] * n

        async def watch(k, c):
            async with c.stream("GET", "/api/runs/run/stream") as r:
                async for line in r.aiter_lines():
                    if line.startswith("event: cycle"):
                        counts[k] += 1
                    if stop.is_set():
                        return

        tasks = [asyncio.create_task(watch(k, c)) for k, c in enumerate(clients)]
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await asyncio.sleep(3 * PACE)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for c in clients:
            await c.aclose()
        results.put(counts)

    asyncio.run(main())


@benchmark("console_watchers", f"ms per control cycle of the CSTR loop paced at {PACE} s with "
           f"{CLIENTS} logged-in clients on the console's live stream vs the same loop "
           "unwatched, before and after", quick_budget_s=30)
def console_watchers(ctx: BenchContext) -> FigureResult:
    from twin.orchestration.examples import example
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.runner import ClosedLoop
    from twin.orchestration.opcua import security
    from twin.orchestration.run_length import loop_with_duration

    # cycles: 5 to start, `alone` unwatched, 5 while the clients connect, `block` watched,
    # 5 while they leave, `alone` unwatched again (p99 needs 100 samples each side)
    block, alone_n = ctx.size(100, 400), ctx.size(50, 200)
    go_at, stop_at = 5 + alone_n, 10 + alone_n + block
    config, _ = loop_with_duration(load_loop(example("cstr_apc.toml")),
                                   (stop_at + 5 + alone_n) * 0.005)
    mp = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="twin-bench-console-") as tmp:
        tmp = Path(tmp)
        users = tmp / "users"
        security.create_first_users(users)
        for k in range(CLIENTS):
            security.add_user(users, f"w{k}", "viewer", PASSWORD)
        times: list[float] = []

        class Timed(ClosedLoop):
            def _guarded_cycle(self, cycle, t):
                t0 = time.perf_counter()
                out = super()._guarded_cycle(cycle, t)
                times.append(time.perf_counter() - t0)
                return out

        port = _free_port()
        url = f"https://127.0.0.1:{port}/"
        # the console, the clients and the loop start up side by side; the console waits
        # for the loop's cycle log, the clients for the console
        console = subprocess.Popen([sys.executable, "-m", "twin", "console", str(tmp / "run"),
                                    "--port", str(port), "--config-dir", str(users), "--wait",
                                    "180"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready, go, stop, results = mp.Event(), mp.Event(), mp.Event(), mp.Queue()
        watchers = mp.Process(target=_watchers, args=(url, CLIENTS, ready, go, stop, results),
                              daemon=True)
        watchers.start()
        loop = Timed(config, tmp / "run", pace=PACE, predictions=True)
        try:
            _wait_for(url, console)
            if not ready.wait(180):
                raise RuntimeError("the watching clients did not log in in 180 s")

            cpu: dict[str, float] = {}

            def progress(update):
                if update.done == go_at:
                    go.set()
                    cpu["start"] = time.perf_counter()
                    cpu["console"], cpu["watchers"] = (_cpu_seconds(p.pid)
                                                       for p in (console, watchers))
                elif update.done == stop_at:
                    cpu["console"] = _cpu_seconds(console.pid) - cpu["console"]
                    cpu["watchers"] = _cpu_seconds(watchers.pid) - cpu["watchers"]
                    cpu["wall"] = time.perf_counter() - cpu["start"]
                    stop.set()

            loop.run(progress)
            counts = results.get(timeout=60)
            watchers.join(30)
        finally:
            loop.close()
            console.terminate()
            console.wait(30)
            if watchers.is_alive():
                watchers.kill()
    ms = [1e3 * s for s in times]
    watched = ms[go_at + 5: stop_at]               # clients connected and streaming
    alone = ms[5: go_at] + ms[stop_at + 5:]
    result = FigureResult(Samples(watched, "ms/cycle"), {"unwatched": Samples(alone, "ms/cycle")})
    result.details.update(clients=CLIENTS, pace_s=PACE, updates_per_client=counts,
                          cycles_watched=len(watched),
                          console_cpu_share=cpu["console"] / cpu["wall"],
                          watchers_cpu_share=cpu["watchers"] / cpu["wall"])
    ours, base = result.value.summary()["p99"], result.baselines["unwatched"].summary()["p99"]
    change = None if ours is None or base is None else ours / base - 1.0
    result.details["p99_change"] = change
    result.target("p99_change", f"cycle-time p99 with {CLIENTS} clients within 5 % of unwatched",
                  change, None if change is None else change < 0.05)
    return result


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far [s] (Linux: /proc)."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_for(url: str, process: subprocess.Popen, timeout: float = 180.0) -> None:
    import ssl
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError("the console exited before it answered")
        try:
            with urllib.request.urlopen(url + "login", timeout=5, context=context):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the console did not answer in {timeout} s")
