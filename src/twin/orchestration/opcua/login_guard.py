"""Password checks of the simulated hardware: off the event loop, equal cost, throttled.

- Each check is one scrypt evaluation, run in a small thread pool (scrypt
  releases the GIL) so the plant's tick loop keeps its schedule during a
  flood of logins.
- A user name that does not exist costs the same: its password is checked
  against a dummy hash of the same scrypt parameters (no user enumeration).
- Each failure delays its refusal by ``login_delay`` doubling per recent
  failure up to ``login_delay_max`` [s]; ``lockout_user_failures`` failures
  of one user name, or ``lockout_address_failures`` from one client
  address, within ``lockout_window`` [s] lock that name or address for
  ``lockout_time`` [s]: every login of it is refused at once, right password
  or not (sessions already open stay open). Attempts still being checked
  count toward the limits, so a parallel flood is cut off at the limit.
- Security events (one line each, logged and passed to ``on_event``): the
  first failure of a burst from an address, each lockout, and a summary of
  each burst when it ends (no failure for :data:`BURST_GAP`) or at stop.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from twin.orchestration.opcua import security

log = logging.getLogger(__name__)

BURST_GAP = 60.0
"""A burst of failed logins from one address ends after this long without one [s]."""
MAX_TRACKED = 10_000
"""User names and addresses tracked at most (the oldest quiet ones are forgotten first)."""
MAX_QUEUED = 64
"""Password checks waiting for the pool at most; more are refused at once (server busy)."""
WORKERS = max(1, min(2, (os.cpu_count() or 2) - 1))
"""Threads checking passwords: at most two, leaving a core to the tick loop."""
WORKER_NICENESS = 10
"""Scheduling niceness of those threads: the tick loop (niceness 0) comes first on a busy CPU."""


def _background_thread() -> None:
    """Pool initialiser: lower this thread's scheduling priority (Linux threads; elsewhere a no-op)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WORKER_NICENESS)
    except (AttributeError, OSError):  # no per-thread priorities here, or not permitted
        pass


@dataclass
class _Record:
    """Recent failures of one user name or address."""

    failures: deque = field(default_factory=deque)
    pending: int = 0
    locked_until: float = -math.inf

    def expire(self, now: float) -> None:
        """A lockout that has run out starts afresh: its failures no longer count."""
        if -math.inf < self.locked_until <= now:
            self.locked_until = -math.inf
            self.failures.clear()

    def recent(self, now: float, window: float) -> int:
        while self.failures and self.failures[0] < now - window:
            self.failures.popleft()
        return len(self.failures)

    def quiet(self, now: float, window: float) -> bool:
        return self.pending == 0 and self.locked_until <= now and self.recent(now, window) == 0


@dataclass
class _Burst:
    """Failed logins from one address, for one summary line."""

    first: float
    last: float
    failures: int = 0
    refused: int = 0
    users: set = field(default_factory=set)


class Busy(Exception):
    """Too many password checks waiting: refuse without checking."""


class LoginGuard:
    """Checks user names and passwords for the server's user manager.

    Parameters
    ----------
    users : dict
        User name to :class:`security.UserEntry`.
    settings : ServerSettings
        ``login_delay``, ``login_delay_max`` [s], ``lockout_user_failures``,
        ``lockout_address_failures``, ``lockout_window``, ``lockout_time`` [s].
    on_event : callable
        Called with each security event (one line).
    """

    def __init__(self, users: dict[str, security.UserEntry], settings,
                 on_event: Callable[[str], None]):
        self.users = users
        self.s = settings
        self.on_event = on_event
        self._dummy = security.hash_password(secrets.token_urlsafe(18))
        self._pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="twin-login",
                                        initializer=_background_thread)
        self._queued = 0
        self._records: dict[tuple[str, str], _Record] = {}
        self._bursts: dict[str, _Burst] = {}

    # ------------------------------------------------------------ checking

    async def check(self, username: object, password: object,
                    address: str) -> security.UserEntry | None:
        """The user when ``password`` is right and neither name nor address is locked out."""
        now = time.monotonic()
        name = username if security.valid_user_name(username) else None
        user = self._record(("user", name or "(invalid name)"), now)
        addr = self._record(("address", address), now)
        shown = f"'{name}'" if name else "an invalid user name"
        reason = self._refusal(user, addr, now)
        if reason:
            self._count_burst(address, shown, now, refused=reason)
            return None
        if self._queued >= MAX_QUEUED:
            log.warning("login of %s from %s refused: %d password checks waiting", shown, address,
                        self._queued)
            raise Busy
        entry = self.users.get(name) if name else None
        stored = entry.password_hash if entry is not None else self._dummy
        text = password if isinstance(password, str) else ""
        user.pending += 1
        addr.pending += 1
        self._queued += 1
        try:
            loop = asyncio.get_running_loop()
            right = await loop.run_in_executor(self._pool, security.check_password, text, stored)
        finally:
            user.pending -= 1
            addr.pending -= 1
            self._queued -= 1
        now = time.monotonic()
        if right and entry is not None and not self._refusal(user, addr, now, pending=False):
            user.failures.clear()
            addr.failures.clear()
            return entry
        failures = self._fail(user, addr, shown, address, now)
        delay = min(self.s.login_delay * 2.0 ** (failures - 1), self.s.login_delay_max)
        if delay > 0:
            await asyncio.sleep(delay)
        return None

    def _refusal(self, user: _Record, addr: _Record, now: float, pending: bool = True) -> str:
        """Why a login is refused unchecked ("": it is not)."""
        s = self.s
        w = s.lockout_window
        user.expire(now)
        addr.expire(now)
        if user.locked_until > now or addr.locked_until > now:
            return "locked out"
        extra = 1 if pending else 0  # this attempt would be one more
        if user.recent(now, w) + user.pending + extra > s.lockout_user_failures or \
                addr.recent(now, w) + addr.pending + extra > s.lockout_address_failures:
            return "too many failed or pending logins"
        return ""

    def _fail(self, user: _Record, addr: _Record, shown: str, address: str, now: float) -> int:
        """Record a failure; lock what reached its limit; the recent failures that count."""
        s = self.s
        user.failures.append(now)
        addr.failures.append(now)
        self._count_burst(address, shown, now)
        nu, na = user.recent(now, s.lockout_window), addr.recent(now, s.lockout_window)
        if nu >= s.lockout_user_failures and user.locked_until <= now:
            user.locked_until = now + s.lockout_time
            self._event(f"user {shown} locked out for {s.lockout_time:g} s after {nu} failed "
                        f"logins within {s.lockout_window:g} s (the last from {address})")
        if na >= s.lockout_address_failures and addr.locked_until <= now:
            addr.locked_until = now + s.lockout_time
            self._event(f"address {address} locked out for {s.lockout_time:g} s after {na} "
                        f"failed logins within {s.lockout_window:g} s")
        return max(nu, na)

    def _record(self, key: tuple[str, str], now: float) -> _Record:
        record = self._records.get(key)
        if record is None:
            if len(self._records) >= MAX_TRACKED:
                self._forget(now)
            record = self._records[key] = _Record()
        return record

    def _forget(self, now: float) -> None:
        w = self.s.lockout_window
        for key in [k for k, r in self._records.items() if r.quiet(now, w)]:
            del self._records[key]
        while len(self._records) >= MAX_TRACKED:  # all busy: forget the oldest
            del self._records[next(iter(self._records))]

    # ------------------------------------------------------------ events

    def _count_burst(self, address: str, shown: str, now: float, refused: str = "") -> None:
        burst = self._bursts.get(address)
        if burst is not None and now - burst.last > BURST_GAP:
            self._close_burst(address)
            burst = None
        if burst is None:
            if len(self._bursts) >= MAX_TRACKED:
                self._close_burst(next(iter(self._bursts)))
            burst = self._bursts[address] = _Burst(now, now)
            self._event(f"login of user {shown} from {address} refused ({refused})" if refused
                        else f"failed login of user {shown} from {address}")
        burst.last = now
        burst.users.add(shown)
        if refused:
            burst.refused += 1
        else:
            burst.failures += 1

    def _close_burst(self, address: str) -> None:
        b = self._bursts.pop(address)
        if b.failures + b.refused > 1:
            users = sorted(b.users)
            names = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            self._event(f"{b.failures + b.refused} failed logins from {address} in "
                        f"{b.last - b.first:.1f} s ({b.failures} checked, {b.refused} refused "
                        f"unchecked: locked out or too many at once; users {names})")

    def _event(self, text: str) -> None:
        log.warning("%s", text)
        self.on_event(text)

    def close(self) -> None:
        """Summarise the bursts still open and stop the pool."""
        for address in list(self._bursts):
            self._close_burst(address)
        self._pool.shutdown(wait=False, cancel_futures=True)
