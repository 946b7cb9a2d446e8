"""The plant and base-layer view: a server's tags as the deployed loop reads them.

With ``twin console --plant DEPLOY_FILE`` (and under ``twin deploy
--console``) the console opens its own OPC UA session to the deploy file's
server, exactly as the loop does (:class:`~twin.orchestration.opcua.gateway.Gateway`:
Basic256Sha256 SignAndEncrypt, the trusted server certificate, the file's
user), and reads the tag map once every :data:`PERIOD` seconds: every
measurement with its quality and server time, each base loop's mode,
setpoint and remote setpoint, and the server heartbeat. It only reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

PERIOD = 1.0
"""Seconds between reads of the plant's tags."""


def _sample(s) -> dict[str, Any]:
    value = s.value if isinstance(s.value, float) and math.isfinite(s.value) else None
    return {"value": value, "quality": s.quality.value, "status": s.status,
            "server_time": s.server_time.timestamp() if s.server_time is not None else None}


class PlantView:
    """The latest read of a deploy file's server (see module doc)."""

    def __init__(self, deploy_file: str | Path):
        from twin.orchestration.opcua.deploy_config import load_deploy

        self.config = load_deploy(Path(deploy_file))
        self.latest: dict[str, Any] = {"url": self.config.url, "connected": False,
                                       "error": "not read yet", "read": None}

    async def run(self) -> None:
        """Read until cancelled; a lost server is shown, and reconnected to."""
        from twin.core.errors import TwinError
        from twin.orchestration.opcua.gateway import Gateway

        cfg = self.config
        gateway = Gateway(cfg.tags, cfg.gateway, cfg.url)
        try:
            while True:
                try:
                    if gateway.client is None:
                        await gateway.connect()
                    snap = await gateway.read()
                    self.latest = {
                        "url": cfg.url, "connected": True, "error": "", "read": time.time(),
                        "heartbeat": snap.heartbeat, "tick": snap.tick,
                        "tags": {n: _sample(s) for n, s in snap.tags.items()},
                        "loops": {n: {"mode": snap.modes.get(n),
                                      "setpoint": _sample(snap.setpoints[n]) if n in
                                      snap.setpoints else None,
                                      "remote_setpoint": _sample(snap.remote_setpoints[n]) if n in
                                      snap.remote_setpoints else None}
                                  for n in snap.modes}}
                except (TwinError, OSError, asyncio.TimeoutError) as exc:
                    self.latest = {**self.latest, "connected": False,
                                   "error": " ".join(str(exc).split())[:300] or type(exc).__name__}
                    with contextlib.suppress(Exception):
                        await gateway.close()
                await asyncio.sleep(PERIOD)
        finally:
            with contextlib.suppress(Exception):
                await gateway.close()
