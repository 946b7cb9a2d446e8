"""Helpers of the console tests: users, a real console process, a paced loop with its console,
and Chromium from the system (Debian's package, driven by Playwright; no browser download)."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

PASSWORDS = {"ann": ("operator", "ann-operator-pw"), "vic": ("viewer", "vic-viewer-pw"),
             "ed": ("engineer", "ed-engineer-pw"), "mal": ("operator", "mal-operator-pw")}
"""Users of the console tests: name to (role, password)."""
START_TIMEOUT = 240.0
"""Longest wait for a console or loop to answer [s] (it imports the model stack first)."""
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
SCREENSHOTS = os.environ.get("TWIN_SCREENSHOT_DIR")
"""Where the browser tests also copy their screenshots (the README's come from here)."""


def make_users(folder: Path) -> Path:
    """A configuration folder with the users of :data:`PASSWORDS`."""
    from twin.orchestration.opcua import security

    folder = Path(folder)
    security.create_first_users(folder)
    for name, (role, password) in PASSWORDS.items():
        security.add_user(folder, name, role, password)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_console(url: str, process: subprocess.Popen, log: Path,
                     timeout: float = START_TIMEOUT) -> None:
    """Wait until ``url``/login answers (any certificate: the console's own is self-signed)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if process.poll() is not None:
            raise RuntimeError(f"console exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url + "login", timeout=5, context=context) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"console at {url} did not answer in {timeout} s: "
                       f"{log.read_text(errors='replace')[-2000:]}")


class Started:
    """A ``twin`` command in its own process, with its log; stopped with SIGTERM."""

    def __init__(self, args: list[str], log: Path):
        self.log = Path(log)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "twin", *args], stdout=out,
                                            stderr=subprocess.STDOUT, env=env,
                                            start_new_session=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()


def console(folders: list[Path], config_dir: Path, log: Path, insecure: bool = False,
            host: str = "127.0.0.1") -> tuple[Started, str]:
    """``twin console`` on ``folders``, answering; the process and its URL."""
    port = free_port()
    args = ["console", *map(str, folders), "--port", str(port), "--config-dir", str(config_dir),
            "--host", host]
    if insecure:
        args.append("--insecure")
    started = Started(args, log)
    url = f"{'http' if insecure else 'https'}://{host}:{port}/"
    if not insecure:
        wait_for_console(url, started.process, log)
    return started, url


def chromium_path() -> str:
    """The system's Chromium (``.ci/run`` installs Debian's package)."""
    for path in CHROMIUM:
        if Path(path).is_file():
            return path
    found = shutil.which("chromium")
    if found:
        return found
    raise RuntimeError("no Chromium on this machine: install Debian's chromium package "
                       "(.ci/run does)")


def save_screenshot(page_or_element, tmp: Path, name: str) -> Path:
    """Screenshot into the test's folder, and into $TWIN_SCREENSHOT_DIR when set."""
    path = Path(tmp) / name
    page_or_element.screenshot(path=str(path))
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(SCREENSHOTS) / name)
    return path
