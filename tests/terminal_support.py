"""Running the real ``twin`` as an engineer's shell does: stdout and stderr on terminals."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

TWIN = str(Path(sys.executable).with_name("twin"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def run_on_ptys(args: list[str], cwd: Path, timeout: float = 240.0,
                interrupt: str | None = None) -> tuple[int, str, str]:
    """Run ``twin ARGS`` with stdout and stderr on two pseudo-terminals; (status, out, err)
    as drawn, escape sequences removed. ``interrupt``: a pattern; once stderr shows it,
    the command gets SIGINT (Ctrl-C)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")}
    env.update(TERM="xterm", COLUMNS="160", LINES="40")
    out_master, out_slave = os.openpty()
    err_master, err_slave = os.openpty()
    process = subprocess.Popen([TWIN, *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=out_slave, stderr=err_slave)
    os.close(out_slave)
    os.close(err_slave)
    chunks = {out_master: [], err_master: []}
    open_fds = set(chunks)
    end = time.monotonic() + timeout
    try:
        while open_fds and time.monotonic() < end:
            ready, _, _ = select.select(list(open_fds), [], [], 0.5)
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's other side closed
                    data = b""
                if data:
                    chunks[fd].append(data)
                else:
                    open_fds.discard(fd)
            if interrupt and re.search(interrupt, ANSI.sub("", b"".join(chunks[err_master])
                                                           .decode(errors="replace"))):
                process.send_signal(signal.SIGINT)
                interrupt = None
        status = process.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(out_master)
        os.close(err_master)
    text = {fd: ANSI.sub("", b"".join(c).decode(errors="replace")) for fd, c in chunks.items()}
    return status, text[out_master], text[err_master]
