"""The console on a deployed loop: its plant view, and a killed OPC UA server shown as a shed
within two cycles.

``twin deploy ... --console`` against a real ``twin serve-opcua`` process
(real clock, 1 s cycles at twice real time: 0.5 s of wall time each); the
browser is Debian's Chromium driven by Playwright.
"""

from __future__ import annotations

import sqlite3
import time

from console_support import PASSWORDS, Started, chromium_path, free_port, make_users, \
    save_screenshot, wait_for_console
from hil_support import SPEED, deploy_text

CYCLE_WALL = 1.0 / SPEED
"""Wall-clock seconds per cycle of the deployed loop."""


def _first_shed_after(store, cycle: int, wait_s: float = 10.0) -> int | None:
    """The first cycle after ``cycle`` with a shed event in the store, waiting up to ``wait_s``
    for the loop to commit it (the banner can be drawn before the row is read back here)."""
    deadline = time.monotonic() + wait_s
    while True:
        db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
        try:
            (shed,), = db.execute("SELECT MIN(cycle) FROM event WHERE kind = 'shed' AND "
                                  "cycle > ?", (cycle,)).fetchall()
        finally:
            db.close()
        if shed is not None or time.monotonic() > deadline:
            return shed
        time.sleep(0.1)


def _committed(store) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        return db.execute("SELECT COALESCE(MAX(cycle), -1) FROM cycle").fetchone()[0]
    finally:
        db.close()


def test_a_killed_server_shows_the_shed_banner_within_two_cycles(server_factory, tmp_path):
    from playwright.sync_api import sync_playwright

    server = server_factory()
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, 1000.0))
    users = make_users(tmp_path / "users")
    port = free_port()
    url = f"https://127.0.0.1:{port}/"
    loop = Started(["deploy", str(config), "--out", str(tmp_path / "run"), "--console",
                    "--console-port", str(port), "--config-dir", str(users)],
                   tmp_path / "deploy.log")
    store = tmp_path / "run" / "cycles.sqlite"
    try:
        wait_for_console(url, loop.process, tmp_path / "deploy.log")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(),
                                        args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(ignore_https_errors=True,
                                       viewport={"width": 1500, "height": 900}).new_page()
            page.set_default_timeout(60_000)
            page.goto(url + "login")
            page.fill("#user", "ann")
            page.fill("#password", PASSWORDS["ann"][1])
            page.click("#login-button")
            page.wait_for_url(url)
            page.goto(url + "run/run")
            page.wait_for_selector("body[data-ready='1']")
            page.wait_for_selector("#mode:text-is('on')")      # in control
            assert not page.locator("#banner-shed").is_visible()
            # the plant and base-layer view: the console's own read-only session to the server
            plant = page.context.new_page()
            plant.set_default_timeout(60_000)
            plant.goto(url + "plant")
            for loop_name in ("v1", "v2"):
                plant.wait_for_selector(f"#loop-{loop_name}:has-text('CASCADE')")
            plant.wait_for_selector("#tags tbody tr:has-text('good')")
            save_screenshot(plant, tmp_path, "console-plant.png")
            before = _committed(store)
            server.kill()
            killed = time.monotonic()
            page.wait_for_selector("#banner-shed:visible", timeout=30_000)
            seen = time.monotonic() - killed
            save_screenshot(page, tmp_path, "console-shed.png")
            plant.wait_for_selector("#banner-lost:visible")     # the plant view lost it too
            browser.close()
        shed_cycle = _first_shed_after(store, before)
        print(f"\nshed banner {seen:.2f} s after the kill; the loop shed at cycle {shed_cycle}, "
              f"the last cycle committed before the kill was {before}")
        assert shed_cycle is not None and shed_cycle - before <= 2
        assert seen <= 2 * CYCLE_WALL + 0.5
    finally:
        loop.stop()
