"""Live updates: one watcher per run folder pushes each new cycle to every browser watching.

The watcher looks at the store's write-ahead log every :data:`POLL` seconds
(a ``stat``, no query) and reads only when it changed; a new cycle is read
and encoded once, whatever the number of clients. A client too slow to take
its updates (:data:`QUEUE` waiting) is sent a ``resync`` and reloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator

from twin.orchestration.console.runs import RunFolder, json_safe

log = logging.getLogger(__name__)

POLL = 0.05
"""Interval between looks at the store [s]."""
QUEUE = 32
"""Updates waiting for one client at most."""
KEEPALIVE = 15.0
"""A comment line is sent to an idle client this often, so proxies keep the stream [s]."""


class RunWatcher:
    """Pushes each new committed cycle of one run folder to its subscribers."""

    def __init__(self, run: RunFolder):
        self.run = run
        self.subscribers: set[asyncio.Queue] = set()
        self.run_id, self.last = run.position()
        self._stamp: tuple = ()
        self._task: asyncio.Task | None = None

    def _wal_stamp(self) -> tuple:
        stamps = []
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                st = os.stat(f"{self.run.store}{suffix}")
                stamps.append((st.st_mtime_ns, st.st_size))
        return tuple(stamps)

    def _update(self, after: int) -> tuple[int, str]:
        history = self.run.history(after=after)
        snapshot = self.run.snapshot()
        top = history["cycles"][-1] if history["cycles"] else after
        return top, json.dumps(json_safe({"snapshot": snapshot, "history": history,
                                          "sent": time.time()}), allow_nan=False, default=str)

    def _send(self, item: str) -> None:
        for queue in list(self.subscribers):
            if queue.qsize() >= QUEUE:  # too slow: told to reload, and dropped
                self.subscribers.discard(queue)
                queue.put_nowait("resync")
            else:
                queue.put_nowait(item)

    async def _watch(self) -> None:
        try:
            while self.subscribers:
                await asyncio.sleep(POLL)
                stamp = self._wal_stamp()
                if stamp == self._stamp:
                    continue
                self._stamp = stamp
                try:
                    run, top = await asyncio.to_thread(self.run.position)
                    if run != self.run_id:  # a new run in the folder (--force): start over
                        self.run_id, self.last = run, -1
                        self._send("reload")
                        continue
                    if top <= self.last:
                        continue
                    top, payload = await asyncio.to_thread(self._update, self.last)
                except Exception as exc:  # noqa: BLE001 - a busy or damaged store: keep watching
                    log.warning("console: reading %s failed: %s", self.run.store, exc)
                    continue
                self.last = top
                self._send(payload)
        finally:
            self._task = None

    async def stream(self, alive=lambda: True) -> AsyncIterator[str]:
        """Server-sent events of this run: ``cycle`` with each new cycle's data, ``resync``
        (fell behind) and ``reload`` (a new run); ends when ``alive()`` turns false (the
        session ended)."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE + 1)
        self.subscribers.add(queue)
        if self._task is None:
            self._task = asyncio.create_task(self._watch())
        try:
            yield "retry: 1000\n\n"
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE)
                except asyncio.TimeoutError:
                    item = None
                if not alive():
                    return
                if item is None:
                    yield ": keepalive\n\n"
                elif item in ("resync", "reload"):
                    yield f"event: {item}\ndata: {{}}\n\n"
                    return
                else:
                    yield f"event: cycle\ndata: {item}\n\n"
        finally:
            self.subscribers.discard(queue)
