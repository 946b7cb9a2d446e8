"""Who is logged in to the console: sessions, cookies, CSRF tokens and the login guard.

The users are those of the simulated hardware's configuration folder
(``users.toml``, scrypt hashes; :mod:`twin.orchestration.opcua.security`),
so one user store serves the OPC UA server and the console. Passwords are
checked by the same :class:`~twin.orchestration.opcua.login_guard.LoginGuard`:
off the event loop, equal cost for unknown names, doubling delays, and a
lockout of a user name or a client address after repeated failures, each
logged as a security event.

A session is a random 256-bit token in a cookie that is ``HttpOnly``,
``Secure`` and ``SameSite=Strict``; it carries its own CSRF token, which
every change must send back in the ``X-CSRF-Token`` header. Sessions end
after :attr:`ConsoleSettings.session_idle` seconds without a request, or
at logout.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

COOKIE = "twin_session"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class ConsoleSettings:
    """Login and session limits of the console (the login guard reads the ``login_*`` and
    ``lockout_*`` fields, as it does the OPC UA server's)."""

    login_delay: float = 0.25
    """First failed login's delay of the refusal [s], doubling per recent failure."""
    login_delay_max: float = 4.0
    """Largest delay of a refusal [s]."""
    lockout_user_failures: int = 5
    """Failed logins of one user name within ``lockout_window`` that lock it out."""
    lockout_address_failures: int = 20
    """Failed logins from one address within ``lockout_window`` that lock it out."""
    lockout_window: float = 300.0
    """Span over which failures count [s]."""
    lockout_time: float = 900.0
    """How long a lockout lasts [s]."""
    session_idle: float = 8 * 3600.0
    """A session ends after this long without a request [s]."""
    max_sessions: int = 1000
    """Open sessions at most; the least recently used one ends first."""


@dataclass
class Session:
    """A logged-in user."""

    user: str
    role: str
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    seen: float = field(default_factory=time.monotonic)


class Sessions:
    """Open sessions by token (thread-safe)."""

    def __init__(self, settings: ConsoleSettings):
        self.settings = settings
        self._open: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, user: str, role: str) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        with self._lock:
            if len(self._open) >= self.settings.max_sessions:
                oldest = min(self._open, key=lambda k: self._open[k].seen)
                del self._open[oldest]
            session = self._open[token] = Session(user, role)
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The session of a cookie's token, if open and not idle too long."""
        if not token:
            return None
        now = time.monotonic()
        with self._lock:
            session = self._open.get(token)
            if session is None:
                return None
            if now - session.seen > self.settings.session_idle:
                del self._open[token]
                return None
            session.seen = now
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._open.pop(token or "", None)


def csrf_ok(session: Session, sent: str | None) -> bool:
    """Whether a request's CSRF header matches its session's token."""
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), str(sent).encode())


def cookie_options(max_age: float) -> dict:
    """The session cookie's attributes (always Secure: the console speaks HTTPS, and
    browsers keep Secure cookies of http://localhost as well)."""
    return {"key": COOKIE, "httponly": True, "secure": True, "samesite": "strict",
            "path": "/", "max_age": int(max_age)}
