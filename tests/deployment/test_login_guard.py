"""The login guard on its own: real scrypt checks, addresses given as text (no network)."""

from __future__ import annotations

import asyncio

from twin.orchestration.opcua import login_guard, security
from twin.orchestration.opcua.serve_config import ServerSettings

USERS = {"apc": security.UserEntry("apc", "apc", security.hash_password("right-password"))}


def _guard(events, **settings):
    return login_guard.LoginGuard(USERS, ServerSettings(**settings), events.append)


def test_the_right_password_passes_and_wrong_ones_do_not():
    events: list[str] = []
    guard = _guard(events, login_delay=0.0)

    async def scenario():
        return [await guard.check("apc", "right-password", "10.1.1.1"),
                await guard.check("apc", "wrong", "10.1.1.1"),
                await guard.check("nobody", "right-password", "10.1.1.1"),
                await guard.check("x" * 5000, "right-password", "10.1.1.1"),
                await guard.check(None, None, "10.1.1.1")]

    ok, wrong, unknown, invalid, nothing = asyncio.run(scenario())
    guard.close()
    assert ok is USERS["apc"] and wrong is unknown is invalid is nothing is None
    assert events[0] == "failed login of user 'apc' from 10.1.1.1"
    assert events[-1].startswith("4 failed logins from 10.1.1.1 in ") and \
        "(4 checked, 0 refused unchecked: locked out or too many at once; users 'apc', " \
        "'nobody', an invalid user name)" in events[-1]


def test_too_many_checks_waiting_are_refused_at_once():
    """Each address and name has its own limits; past MAX_QUEUED waiting checks the server
    is busy."""
    events: list[str] = []
    guard = _guard(events, login_delay=0.0)

    async def scenario():
        attempts = [guard.check(f"user{i}", "wrong", f"10.0.0.{i}")
                    for i in range(login_guard.MAX_QUEUED + 1)]
        return await asyncio.gather(*attempts, return_exceptions=True)

    results = asyncio.run(scenario())
    guard.close()
    busy = [r for r in results if isinstance(r, login_guard.Busy)]
    assert len(busy) == 1 and results.count(None) == login_guard.MAX_QUEUED


def test_a_parallel_burst_is_cut_off_at_the_limit():
    failures = 3
    events: list[str] = []
    guard = _guard(events, login_delay=0.0, lockout_user_failures=failures)

    async def scenario():
        return await asyncio.gather(*(guard.check("apc", "wrong", "10.2.2.2") for _ in range(10)))

    asyncio.run(scenario())
    guard.close()
    assert any(f"user 'apc' locked out for 300 s after {failures} failed logins" in e
               for e in events), events
    assert "10 failed logins from 10.2.2.2" in events[-1] and \
        f"({failures} checked, {10 - failures} refused unchecked" in events[-1]


def test_each_failure_doubles_the_delay_up_to_its_cap_and_a_success_starts_again(monkeypatch):
    """The delays the guard waits before each refusal, read where it waits (no clock)."""
    waited: list[float] = []
    real_sleep = asyncio.sleep

    async def sleep(seconds, *args, **kwargs):
        waited.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(login_guard.asyncio, "sleep", sleep)
    events: list[str] = []
    guard = _guard(events, login_delay=0.2, login_delay_max=0.8, lockout_user_failures=100,
                   lockout_address_failures=100)

    async def scenario():
        for _ in range(5):
            assert await guard.check("apc", "wrong", "10.3.3.3") is None
        assert await guard.check("apc", "right-password", "10.3.3.3") is USERS["apc"]
        assert await guard.check("apc", "wrong", "10.3.3.3") is None

    asyncio.run(scenario())
    guard.close()
    assert waited == [0.2, 0.4, 0.8, 0.8, 0.8, 0.2]
