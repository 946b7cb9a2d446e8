"""Logins of the security tests, step by step and timed, and floods of wrong ones."""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path

from hil_support import ServerProcess, client_certificate


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
                       drop_session_certificate: bool = False,
                       timeout: float = 10.0) -> tuple[str, float]:
    import logging

    from asyncua import Client
    from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

    from twin.orchestration.opcua import security

    logging.getLogger("asyncua").setLevel(logging.CRITICAL)  # refusals are expected here
    pki = client_certificate(client_dir)
    c = Client(url, timeout=timeout)
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
    """``n`` clients at once log in as ``user`` with a wrong password, from a child process of
    low scheduling priority (:data:`FLOOD_NICE`, standing in for clients on other machines);
    their outcomes. The child's start (importing the OPC UA stack) and its logins each have
    their own time limit, so a slow start on a loaded machine does not eat the logins' time."""
    import multiprocessing

    client_certificate(client_dir)
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    child = ctx.Process(target=_flood, args=(server.url, str(server.config_dir / "own" / "cert.der"),
                                             str(client_dir), n, user, results), daemon=True)
    child.start()
    try:
        if results.get(timeout=FLOOD_START_TIMEOUT) != "ready":
            raise RuntimeError("the login flood's process did not start")
        return results.get(timeout=FLOOD_TIMEOUT)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()


FLOOD_NICE = 5
"""Niceness of the flood's process: below the server's priority, yet not starved by a loaded
machine (at 19, six busy processes beside it left it no time to log in at all)."""
FLOOD_START_TIMEOUT = 300.0
"""Longest wait for the flood's process to import the OPC UA stack [s]."""
FLOOD_TIMEOUT = 200.0
"""Longest wait for the flood's logins once started [s]."""
FLOOD_REQUEST_TIMEOUT = 60.0
"""Limit of one request of a flooding client [s]: the server answers each wrong login after a
delay that grows with the failures, in threads of low priority, so on a loaded machine a
refusal takes many seconds; the test is that it is a refusal, not how fast it comes."""


def _flood(url: str, server_cert: str, client_dir: str, n: int, user: str, results) -> None:
    os.nice(FLOOD_NICE)
    import importlib

    for module in ("asyncua", "twin.orchestration.opcua.security"):  # the slow part of the start
        importlib.import_module(module)

    results.put("ready")

    async def main():
        return [o for o, _ in await asyncio.gather(
            *(_timed_login(url, Path(server_cert), Path(client_dir), user, "not-the-password",
                           timeout=FLOOD_REQUEST_TIMEOUT) for _ in range(n)))]

    results.put(asyncio.run(main()))
