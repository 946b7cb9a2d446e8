"""The console is secure by default: HTTPS, strict cookies, CSRF tokens, roles, lockout.

A real ``twin console`` process over loopback, on the run folder of a short
CSTR loop, spoken to with httpx.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3

import httpx
import pytest

from console_support import PASSWORDS, console, free_port, make_users
from support import run_twin
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control
from twin.orchestration.run_length import loop_with_duration


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-security")
    config, _ = loop_with_duration(load_loop(example("cstr_apc.toml")), 0.02)
    run_control(config, tmp / "run", report=False)
    users = make_users(tmp / "users")
    process, url = console([tmp / "run"], users, tmp / "console.log")
    yield url, tmp
    process.stop()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, verify=False, timeout=30)


def login(c: httpx.Client, user: str) -> dict:
    r = c.post("/api/login", json={"user": user, "password": PASSWORDS[user][1]})
    assert r.status_code == 200, r.text
    return r.json()


def test_the_session_cookie_is_httponly_secure_and_samesite_strict(served):
    url, _ = served
    with client(url) as c:
        r = c.post("/api/login", json={"user": "ann", "password": PASSWORDS["ann"][1]})
        cookies = r.headers.get_list("set-cookie")
        assert len(cookies) == 1
        attributes = {a.strip().split("=")[0].lower() for a in cookies[0].split(";")[1:]}
        assert {"httponly", "secure", "samesite", "path"} <= attributes
        assert "samesite=strict" in cookies[0].lower()
        page = c.get("/")
        for header in ("content-security-policy", "x-frame-options", "x-content-type-options",
                       "strict-transport-security"):
            assert header in page.headers, header
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_without_a_session_pages_send_to_the_login_and_the_api_refuses(served):
    url, _ = served
    with client(url) as c:
        assert c.get("/", follow_redirects=False).headers["location"] == "/login"
        r = c.get("/api/runs/run/snapshot")
        assert r.status_code == 401 and r.json() == {"error": "log in first"}
        assert c.get("/login").status_code == 200


def test_a_change_without_the_csrf_token_is_refused(served):
    url, tmp = served
    with client(url) as c:
        csrf = login(c, "ann")["csrf"]
        change = {"name": "T_R", "field": "high", "value": "133"}
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            r = c.post("/api/runs/run/changes", json=change, headers=headers)
            assert r.status_code == 403 and "CSRF" in r.json()["error"]
        # a form post (what another site could make a browser send) is refused as well
        r = c.post("/api/runs/run/changes", data=change, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 415
        r = c.post("/api/runs/run/changes", json=change, headers={"X-CSRF-Token": csrf})
        assert r.status_code == 200
        assert r.json()["status"] == "refused" and r.json()["reason"] == "the loop is not running"
    db = sqlite3.connect(tmp / "run" / "cycles.sqlite")
    rows = db.execute("SELECT user, role, name, field, new, status FROM change").fetchall()
    assert rows == [("ann", "operator", "T_R", "high", "133", "refused")]  # only the one with
    db.close()                                                           # its token got in


def test_a_viewer_change_is_refused_and_audited(served):
    url, tmp = served
    with client(url) as c:
        csrf = login(c, "vic")["csrf"]
        r = c.post("/api/runs/run/changes", json={"name": "T_R", "field": "high", "value": 1},
                   headers={"X-CSRF-Token": csrf})
        assert r.status_code == 403 and r.json()["reason"] == "role viewer may not change high"
    db = sqlite3.connect(tmp / "run" / "cycles.sqlite")
    assert db.execute("SELECT status FROM change WHERE user = 'vic'").fetchall() == [("refused",)]
    db.close()


def test_plain_http_is_refused_and_insecure_is_for_loopback_only(served, tmp_path, capsys):
    url, tmp = served
    with pytest.raises(httpx.HTTPError):
        httpx.get(url.replace("https://", "http://") + "login", timeout=10)
    code, _, err = run_twin(capsys, "console", str(tmp / "run"), "--insecure", "--host",
                            "0.0.0.0", "--port", str(free_port()), "--config-dir",
                            str(tmp / "users"))
    assert code == 2 and err.count("\n") == 1
    assert "allowed on a loopback address only, not on 0.0.0.0" in err


def test_five_wrong_passwords_lock_the_user_out_and_are_logged(served):
    url, tmp = served

    async def attempts():
        async with httpx.AsyncClient(base_url=url, verify=False, timeout=60) as c:
            wrong = [c.post("/api/login", json={"user": "mal", "password": f"guess-{i}"})
                     for i in range(5)]
            return await asyncio.gather(*wrong)

    answers = asyncio.run(attempts())
    assert [r.status_code for r in answers] == [401] * 5
    with client(url) as c:
        r = c.post("/api/login", json={"user": "mal", "password": PASSWORDS["mal"][1]})
        assert r.status_code == 401 and "locked out" in r.json()["error"]
        login(c, "ann")  # another user is not locked
    log = (tmp / "users" / "console-security.log").read_text()
    assert "user 'mal' locked out for 900 s after 5 failed logins" in log


def test_hostile_requests_get_one_line_answers(served):
    url, _ = served
    with client(url) as c:
        csrf = login(c, "ed")["csrf"]
        post = lambda body: c.post("/api/runs/run/changes", content=body,  # noqa: E731
                                   headers={"X-CSRF-Token": csrf,
                                            "Content-Type": "application/json"})
        for body, status in (("not json", 400), ("[1, 2]", 400),
                             (json.dumps({"name": "T_R", "field": "high", "value": 1,
                                          "extra": 2}), 400)):
            r = post(body)
            assert r.status_code == status and "\n" not in r.json()["error"], r.text
        r = post(json.dumps({"name": "T_R", "field": "high", "value": "1" * 20_000}))
        assert r.status_code == 413 and "larger than 16384 bytes" in r.json()["error"]
        r = post(json.dumps({"name": "event", "field": "ack", "value": "999"}))
        assert r.status_code == 400 and r.json()["error"] == "ack: no alarm 999 in this run"
        assert c.get("/api/runs/nope/snapshot").status_code == 404
        assert c.get("/run/run/files/..%2Fusers%2Fusers.toml").status_code == 404
        assert c.get("/api/runs/run/monitor", params={"window": "9:1"}).status_code == 400
