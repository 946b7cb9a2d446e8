"""The console's web application: pages, the JSON API, live streams, and who may do what.

Pages (``/``, ``/run/<key>``) and every API route need a session; the login
page and its static files do not. Every change (``POST``) also needs the
session's CSRF token in the ``X-CSRF-Token`` header and a JSON body; the role
is checked here and again by the loop before the controller sees it.
Responses carry a strict content security policy (scripts and styles of
the console's own origin only) and are never framed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import mimetypes
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, StreamingResponse

from twin.core.errors import InputError
from twin.orchestration.console import auth
from twin.orchestration.console.live import RunWatcher
from twin.orchestration.console.runs import RunFolder, json_safe
from twin.orchestration.opcua.login_guard import Busy, LoginGuard
from twin.orchestration.opcua.security import UserEntry

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
READERS = {"snapshot": RunFolder.snapshot, "events": RunFolder.events,
           "alarms": RunFolder.alarms, "changes": RunFolder.changes}
"""What ``/api/runs/<key>/<what>`` reads of a run folder."""
SERVED_SUFFIXES = (".html", ".png", ".svg", ".css", ".json", ".csv", ".parquet", ".txt")
"""Files of a run folder the console serves (its reports and their figures)."""
MAX_BODY = 16_384
"""Largest request body [bytes] (a login or a change is well under 1 kB)."""
MAX_HISTORY = 20_000
"""Cycles of history one request returns at most (the newest; the browser keeps as many)."""
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Strict-Transport-Security": "max-age=31536000",
}


def uplot_files() -> dict[str, Path]:
    """uPlot's script and style, installed by ``npm ci`` from the console's lock file."""
    from twin.orchestration.console.assets import uplot_dist

    dist = uplot_dist()
    return {"uPlot.iife.min.js": dist / "uPlot.iife.min.js", "uPlot.min.css": dist / "uPlot.min.css"}


async def json_body(request: Request, what: str) -> dict:
    """A request's JSON object, refused in one line when it is not JSON, not an object, or
    larger than :data:`MAX_BODY` bytes (read no further than that)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, f"send {what} as JSON")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise HTTPException(413, f"{what} is larger than {MAX_BODY} bytes")
    try:
        body = json.loads(data)
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def make_app(runs: list[RunFolder], users: dict[str, UserEntry],
             settings: auth.ConsoleSettings, on_security_event, plant=None) -> FastAPI:
    """The console application over ``runs`` for ``users`` (and the plant view ``plant``, a
    :class:`~twin.orchestration.console.plant.PlantView`)."""

    @contextlib.asynccontextmanager
    async def lifespan(app):
        task = asyncio.create_task(plant.run()) if plant is not None else None
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    sessions = auth.Sessions(settings)
    guard = LoginGuard(users, settings, on_security_event)
    by_key = {r.key: r for r in runs}
    watchers = {r.key: RunWatcher(r) for r in runs}
    uplot = uplot_files()
    app.state.guard = guard

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for key, value in HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    def session_of(request: Request) -> auth.Session:
        session = sessions.get(request.cookies.get(auth.COOKIE))
        if session is None:
            raise HTTPException(401, "log in first")
        return session

    async def change_body(request: Request) -> tuple[auth.Session, dict]:
        session = session_of(request)
        if not auth.csrf_ok(session, request.headers.get(auth.CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return session, await json_body(request, "the change")

    def run_of(key: str) -> RunFolder:
        run = by_key.get(key)
        if run is None:
            raise HTTPException(404, f"no run '{key[:40]}'")
        return run

    @app.exception_handler(HTTPException)
    async def one_line(request: Request, exc: HTTPException):
        if exc.status_code == 401 and not request.url.path.startswith("/api/"):
            return RedirectResponse("/login", 303)
        return JSONResponse({"error": str(exc.detail)}, exc.status_code)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return JSONResponse({"error": str(exc)}, 400)

    # ------------------------------------------------------------------ pages

    def page(name: str) -> FileResponse:
        return FileResponse(STATIC / name, media_type="text/html")

    @app.get("/login")
    async def login_page():
        return page("login.html")

    @app.get("/")
    async def overview_page(request: Request):
        session_of(request)
        return page("overview.html")

    @app.get("/run/{key}")
    async def run_page(key: str, request: Request):
        session_of(request)
        run_of(key)
        return page("faceplate.html")

    def plant_of(request: Request):
        session_of(request)
        if plant is None:
            raise HTTPException(404, "no plant view: start the console with --plant DEPLOY_FILE")
        return plant

    @app.get("/plant")
    async def plant_page(request: Request):
        plant_of(request)
        return page("plant.html")

    @app.get("/api/plant")
    async def plant_values(request: Request):
        return json_safe(plant_of(request).latest)

    @app.get("/static/{name}")
    async def static(name: str):
        path = uplot.get(name) or STATIC / name
        if name not in uplot and (path.parent != STATIC or not path.is_file()
                                  or path.suffix not in (".js", ".css")):
            raise HTTPException(404, "no such file")
        return FileResponse(path, media_type=mimetypes.guess_type(name)[0])

    @app.get("/run/{key}/files/{name}")
    async def run_file(key: str, name: str, request: Request):
        session_of(request)
        folder = run_of(key).folder.resolve()
        path = (folder / name).resolve()
        if path.parent != folder or not path.is_file() or path.suffix not in SERVED_SUFFIXES:
            raise HTTPException(404, "no such file")
        return FileResponse(path)

    # ------------------------------------------------------------------ sessions

    @app.post("/api/login")
    async def login(request: Request):
        body = await json_body(request, "the login")
        address = request.client.host if request.client else "unknown"
        try:
            user = await guard.check(body.get("user"), body.get("password"), address)
        except Busy:
            raise HTTPException(503, "too many logins at once; try again shortly") from None
        if user is None:
            raise HTTPException(401, "login refused: wrong user name or password, or locked "
                                     "out after repeated failures")
        token, session = sessions.open(user.name, user.role)
        response = JSONResponse({"user": user.name, "role": user.role, "csrf": session.csrf})
        response.set_cookie(**auth.cookie_options(settings.session_idle), value=token)
        return response

    @app.post("/api/logout")
    async def logout(request: Request):
        change_body_session = session_of(request)
        if not auth.csrf_ok(change_body_session, request.headers.get(auth.CSRF_HEADER)):
            raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        sessions.close(request.cookies.get(auth.COOKIE))
        response = JSONResponse({"ok": True})
        response.delete_cookie(auth.COOKIE, path="/", secure=True, httponly=True,
                               samesite="strict")
        return response

    @app.get("/api/me")
    async def me(request: Request):
        s = session_of(request)
        return {"user": s.user, "role": s.role, "csrf": s.csrf}

    # ------------------------------------------------------------------ runs

    # (the readers below are plain functions: FastAPI runs them in its thread pool, so a
    # read of the cycle log never holds up the live streams)
    @app.get("/api/runs")
    def list_runs(request: Request):
        session_of(request)
        out = [] if plant is None else [{"plant": True, "url": plant.config.url}]
        for run in runs:
            snap = run.snapshot()
            snap.pop("variables", None)
            out.append(json_safe({**run.info(), **snap}))
        return out

    @app.get("/api/runs/{key}")
    def run_info(key: str, request: Request):
        session_of(request)
        return json_safe(run_of(key).info())

    @app.get("/api/runs/{key}/history")
    def history(key: str, request: Request, after: int = -1, last: int | None = None):
        session_of(request)
        last = MAX_HISTORY if last is None else max(0, min(int(last), MAX_HISTORY))
        return json_safe(run_of(key).history(after=after, last=last))

    @app.get("/api/runs/{key}/monitor")
    def monitor(key: str, request: Request, window: str | None = None,
                reference: str | None = None):
        from twin.orchestration.loop.monitor import Window, monitor as figures
        from twin.orchestration.loop.store import CycleStore

        session_of(request)
        run = run_of(key)
        w = Window.parse(window, "window") if window else None
        ref = Window.parse(reference, "reference") if reference else None
        store = CycleStore.read_only(run.store)
        try:
            return json_safe(figures(store, w, ref))
        finally:
            store.close()

    @app.get("/api/runs/{key}/stream")
    async def stream(key: str, request: Request):
        session_of(request)
        watcher = watchers.get(key)
        if watcher is None:
            raise HTTPException(404, f"no run '{key[:40]}'")
        token = request.cookies.get(auth.COOKIE)
        return StreamingResponse(watcher.stream(lambda: sessions.get(token) is not None),
                                 media_type="text/event-stream",
                                 headers={"X-Accel-Buffering": "no"})

    @app.get("/api/runs/{key}/{what}")
    def read(key: str, what: str, request: Request):
        """``snapshot``, ``events``, ``alarms`` or ``changes`` of a run."""
        session_of(request)
        reader = READERS.get(what)
        if reader is None:
            raise HTTPException(404, f"no such page {what[:40]!r}")
        return json_safe(reader(run_of(key)))

    @app.post("/api/runs/{key}/changes")
    async def change(key: str, request: Request):
        session, body = await change_body(request)
        run = run_of(key)
        unknown = sorted(set(body) - {"name", "field", "value"})
        if unknown:
            raise HTTPException(400, f"unknown key {unknown[0][:40]!r}; give name, field, value")
        result = await asyncio.to_thread(run.request, session.user, session.role,
                                         str(body.get("name", ""))[:64],
                                         str(body.get("field", ""))[:64], body.get("value"))
        log.info("console: %s (%s) asked %r %r = %r: %s", session.user, session.role,
                 str(body.get("name"))[:64], str(body.get("field"))[:64],
                 str(body.get("value"))[:64], result["status"])
        return JSONResponse(result, 403 if result["forbidden"] else 200)

    return app
