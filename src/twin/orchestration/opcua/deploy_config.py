"""Configuration of a deployed loop (``twin deploy CONFIG.toml``), validated on load.

Keys: the controller (``[controller]`` or ``controller_file``), the tag map
(``tags_file``, e.g. the ``tags.toml`` that ``twin serve-opcua`` writes, or
an inline ``[tags]`` table), ``[gateway]`` (how to connect), ``[watchdog]``
(when to shed), ``[run]``, ``[[event]]`` (setpoint, limit and mode changes
at plant times) and an optional ``[rto]``. Relative paths are relative to
the file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal

from apc.spec import ControllerSpec, load_spec, spec_from_dict
from twin.core.config import Count, Domain, Positive, build, read_toml, table_or_file
from twin.core.errors import InputError
from twin.core.model_ref import with_resolved_model
from twin.orchestration.loop.config import EventConfig, check_events
from twin.orchestration.loop.rto_handoff import RTOLoopSpec
from twin.orchestration.opcua.tagmap import TagMap, load_tag_map


@dataclass(frozen=True)
class GatewaySettings:
    """How to reach the server.

    Attributes
    ----------
    url : str, optional
        Endpoint; default: the tag map's ``url``.
    username : str
    password_file : str, optional
        File holding the password (first line); or ``password_env``.
    password_env : str, optional
        Environment variable holding the password.
    config_dir : str
        Client configuration folder: own certificate, ``trusted/`` server certificates.
    insecure : bool
        Connect without security (only for servers offering nothing else; never by default).
    timeout : float
        Limit of one request [s].
    reconnect_wait : float
        How long a request waits for asyncua's reconnect before the cycle gives up [s].
    """

    url: str | None = None
    username: str = "apc"
    password_file: str | None = None
    password_env: str | None = None
    config_dir: str = "opcua-client"
    insecure: bool = False
    timeout: Annotated[float, Domain(gt=0, le=3600)] = 2.0
    reconnect_wait: Annotated[float, Domain(ge=0, le=3600)] = 1.0

    def password(self) -> str:
        if self.password_file:
            path = Path(self.password_file)
            if not path.is_file():
                raise InputError(f"gateway.password_file '{path}' not found")
            lines = path.read_text().splitlines()
            return lines[0].strip() if lines else ""
        if self.password_env:
            value = os.environ.get(self.password_env)
            if value is None:
                raise InputError(f"gateway.password_env: variable {self.password_env} is not set")
            return value
        raise InputError("gateway: give password_file or password_env")


@dataclass(frozen=True)
class WatchdogSettings:
    """When the deployed loop sheds to the base layer, and when it may come back.

    Attributes
    ----------
    heartbeat_timeout : float
        The server heartbeat may stand still this long [s].
    stale_after : float
        A value whose server timestamp lags the heartbeat's by more is stale [s].
    max_overruns : int
        Consecutive cycles that overrun their period before shedding.
    readback_tolerance : float
        Largest relative difference between a setpoint written and read back.
    rebuild_after : float
        Connected but no fresh heartbeat this long: rebuild the session [s].
    reentry_cycles : int
        Healthy cycles, with every loop back in CASCADE, before re-entering.
    max_errors : int
        Cycles that fail with an error (an exception in a stage, a cycle store
        that cannot commit) since the loop was last in control, before the
        loop stops with a one-line reason (each such cycle sheds).
    """

    heartbeat_timeout: Annotated[float, Domain(gt=0, le=86400)] = 3.0
    stale_after: Annotated[float, Domain(gt=0, le=86400)] = 3.0
    max_overruns: Count(1, 1000) = 3
    readback_tolerance: Annotated[float, Domain(ge=0, le=1)] = 1e-9
    rebuild_after: Annotated[float, Domain(gt=0, le=86400)] = 10.0
    reentry_cycles: Count(1, 1000) = 2
    max_errors: Count(1, 1000) = 5


@dataclass(frozen=True)
class DeployRun:
    """Duration [model time unit]; none: until stopped (Ctrl-C)."""

    duration: Positive | None = None


@dataclass(frozen=True)
class _Tables:
    """The tables of a deploy file besides the controller and the tag map."""

    gateway: GatewaySettings = GatewaySettings()
    watchdog: WatchdogSettings = WatchdogSettings()
    run: DeployRun = DeployRun()
    timing: Literal["auto", "server_ticks", "wall_clock"] = "auto"
    event: tuple[EventConfig, ...] = ()
    title: str = ""
    rto: RTOLoopSpec | None = None


@dataclass(frozen=True, kw_only=True)
class DeployConfig(_Tables):
    """A deployed loop: controller, tag map, gateway, watchdog, run, events."""

    controller: ControllerSpec
    tags: TagMap

    def __post_init__(self) -> None:
        for e in self.event:
            if e.inputs or e.plant_parameters or e.sensor_quality:
                raise InputError(f"event at {e.time}: a deployed loop cannot change plant inputs, "
                                 "parameters or sensors (use the server's faults)")
            if e.mode is not None:
                raise InputError(f"event at {e.time}: a deployed loop has no mode events; it is "
                                 "in control while the operator keeps its loops in CASCADE")
        check_events(self.event, self.controller, self.run.duration)
        if self.timing == "server_ticks" and not self.tags.tick:
            raise InputError("timing = 'server_ticks' needs a tick node in the tag map")

    @property
    def uses_ticks(self) -> bool:
        return self.timing == "server_ticks" or (self.timing == "auto" and bool(self.tags.tick))

    @property
    def url(self) -> str:
        return self.gateway.url or self.tags.url

    def as_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)


def load_deploy(path: str | Path) -> DeployConfig:
    """Read and check a deploy configuration file."""
    path = Path(path)
    data = dict(read_toml(path))
    base, where = path.parent, path.name
    if "controller" in data:
        data["controller"] = with_resolved_model(data["controller"], base)
    controller = table_or_file(data, "controller", base, where, spec_from_dict, load_spec,
                               "controller")
    tags = table_or_file(data, "tags", base, where, load_tag_map, load_tag_map, "tag map")
    raw = build(_Tables, data, where)
    g = raw.gateway
    gateway = replace(g, config_dir=str(_resolve(base, g.config_dir)),
                      password_file=str(_resolve(base, g.password_file)) if g.password_file
                      else None)
    tables = {f.name: getattr(raw, f.name) for f in fields(raw)}
    return DeployConfig(**{**tables, "gateway": gateway}, controller=controller, tags=tags)


def _resolve(base: Path, value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else base / path

