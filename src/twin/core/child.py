"""Child processes that answer calls over a pipe, so a crash or hang in native code cannot take
the caller down: the FMU isolation and the bounded solver both run on this."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from multiprocessing.connection import Connection


def start_child(module: str, *args: str, stdout=subprocess.DEVNULL
                ) -> tuple[subprocess.Popen, Connection]:
    """``python -m module FD *args`` with one end of a socket pair as connection ``FD``."""
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", module, str(theirs.fileno()), *args],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not subprocess.DEVNULL else subprocess.DEVNULL)
    finally:
        theirs.close()
    return process, Connection(ours.detach())


def describe_exit(code: int | None) -> str:
    """How a child process ended, in words (``killed by SIGSEGV``, ``exit status 3``)."""
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


def die_with_parent() -> None:
    """Linux: ask the kernel to kill this process when its parent dies (no orphans)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
