"""Configuration of the simulated hardware (``twin serve-opcua``), validated on load.

A file has a ``[plant]`` table exactly as a loop file's (so a SIL loop and
the simulated hardware can share one plant description), a ``[server]``
table, ``[[fault]]`` entries scheduled in plant time, an optional
``[scaling]`` table (values published in a gateway's own units) and an
optional ``[history]`` table (what the server keeps for OPC UA Historical
Access). Without a file, the model is served from its steady state with a
noise-free sensor on every state and output and a base-layer loop on every
manipulated input.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Literal, get_type_hints
from urllib.parse import urlsplit, urlunsplit

from twin.core.base_layer import BaseLayerSpec, LoopSpec
from twin.core.config import Count, Domain, build, check_domains, convert, read_toml
from twin.core.errors import InputError
from twin.core.model_ref import resolve_reference, with_resolved_model
from twin.orchestration.loop.config import PlantConfig, SensorConfig
from twin.orchestration.opcua.faults import FaultEvent
from twin.orchestration.registry import load_model

SECONDS = {"s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
"""Seconds per model time unit."""


def seconds_per(time_unit: str) -> float:
    try:
        return SECONDS[time_unit]
    except KeyError:
        raise InputError(f"time unit '{time_unit}' has no known length in seconds "
                         f"(known: {', '.join(SECONDS)})") from None


MAX_SPEED = 1e4
"""Fastest plant time per real time: beyond it a tick is shorter than the server's own work."""


@dataclass(frozen=True)
class ServerSettings:
    """The OPC UA side.

    Attributes
    ----------
    endpoint : str
        ``opc.tcp://host:port/path`` to listen on (port 1-65535, or 0 for a
        free port the system chooses; the server then reports, and writes
        into its tag map, the endpoint it got).
    speed : float
        Plant time runs this many times faster than real time (> 0, at most
        :data:`MAX_SPEED`).
    clock : str
        ``real``: the plant steps one tick every ``tick / speed`` of real
        time. ``virtual``: the plant stands still until an operator calls
        ``Simulation.Advance(n)``, which steps ``n`` ticks at once; the
        server's timestamps then follow plant time (``speed`` plant seconds
        per timestamp second from the start), so a deployed loop's timing
        no longer depends on how busy the machine is (tests, rehearsals).
    hold_until_apc : bool
        Do not step until the APC heartbeat first changes (a HIL run then
        starts at plant time 0 exactly as its SIL twin; a virtual clock
        always holds).
    insecure : bool
        Also offer an unsecured endpoint (never by default).
    login_delay : float
        A failed login is answered after this delay, doubled for each further
        recent failure of the user name or address [s].
    login_delay_max : float
        Longest such delay [s]; keep it below the clients' request timeout
        (the deployed loop's gateway waits 2 s by default).
    lockout_user_failures : int
        Failed logins of one user name within ``lockout_window`` that lock it out.
    lockout_address_failures : int
        Failed logins from one client address within ``lockout_window`` that lock it out.
    lockout_window : float
        How far back failures count [s].
    lockout_time : float
        How long a lockout lasts [s]: every login of the name or from the
        address is refused, right password or not; open sessions stay.
    time_unit : str
        Unit plant time is counted in (``plant.tick``, faults, ``Diagnostics.Time``,
        the tag map): ``s``, ``min``, ``h`` or ``d``; empty: the model's own. A
        deployed loop counts in its controller model's unit, so a controller on a
        model identified in seconds needs ``"s"`` over a plant model in hours.
    """

    endpoint: str = "opc.tcp://127.0.0.1:4840/twin"
    speed: Annotated[float, Domain(gt=0, le=MAX_SPEED)] = 1.0
    clock: Literal["real", "virtual"] = "real"
    hold_until_apc: bool = False
    insecure: bool = False
    login_delay: Annotated[float, Domain(ge=0, le=60)] = 0.25
    login_delay_max: Annotated[float, Domain(ge=0, le=60)] = 1.0
    lockout_user_failures: Count(1, 10_000) = 10
    lockout_address_failures: Count(1, 10_000) = 20
    lockout_window: Annotated[float, Domain(gt=0, le=86400)] = 300.0
    lockout_time: Annotated[float, Domain(gt=0, le=86400)] = 300.0
    time_unit: Literal["", "s", "min", "h", "d"] = ""

    def __post_init__(self) -> None:
        hints = get_type_hints(ServerSettings, include_extras=True)
        for f in fields(self):
            convert(hints[f.name], getattr(self, f.name), f"server.{f.name}")
        check_endpoint(self.endpoint, "server.endpoint")


def check_endpoint(url: str, where: str) -> None:
    """A listening endpoint: ``opc.tcp://host:port/path`` with a host and a port 1-65535 (or 0:
    any free port)."""
    form = f"{where} '{url}': use opc.tcp://host:port/path"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"{form} ({exc})") from None
    if parts.scheme != "opc.tcp" or not parts.hostname:
        raise InputError(form)
    if port is None or not 0 <= port <= 65535:
        raise InputError(f"{form} (a port 1-65535, or 0 for any free port)")
    if any(c.isspace() for c in url) or parts.query or parts.fragment or parts.username:
        raise InputError(f"{form} (no spaces, user, query or fragment)")


def bound_endpoint(endpoint: str, port: int | None) -> str:
    """``endpoint`` with the port the server listens on (it differs when asked for port 0)."""
    parts = urlsplit(endpoint)
    if parts.port != 0 or not port:
        return endpoint
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return urlunsplit(parts._replace(netloc=f"{host}:{port}"))


def cli_settings(**values: object) -> dict[str, object]:
    """Command-line values of server settings (``None``: not given), checked as in a file."""
    hints = get_type_hints(ServerSettings, include_extras=True)
    out = {}
    for name, value in values.items():
        if value is None:
            continue
        option = f"--{name.replace('_', '-')}"
        out[name] = convert(hints[name], value, option)
        if name == "endpoint":
            check_endpoint(value, option)
    return out


@dataclass(frozen=True)
class RawScaling:
    """How the server publishes one model variable in a gateway's own units.

    The published value is ``(model value - offset) / scale``, and a remote
    setpoint written ``w`` means ``scale * w + offset`` in model units: the
    same convention as the tag map, which the server writes with these
    numbers (:mod:`~.tagmap`).

    Attributes
    ----------
    scale : float
        Model units per server unit (finite, 1e-12 to 1e12 in magnitude).
    offset : float
        Model value at a server value of 0 [model unit].
    """

    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        check_domains(self)
        if not 1e-12 <= abs(self.scale) <= 1e12:
            raise InputError(f"scale {self.scale!r} must be non-zero, 1e-12 to 1e12 in magnitude")


DEFAULT_HISTORY_FILE = "opcua-history.sqlite"
"""The history database, relative to the server file's folder (or the current folder)."""


@dataclass(frozen=True)
class HistorySettings:
    """What the server keeps of its plant variables for OPC UA Historical Access.

    Every value published (each measurement and input, every tick, with its
    status and timestamps) is stored in an SQLite database, and clients read
    it back with HistoryRead (raw, paged).

    Attributes
    ----------
    enabled : bool
        Historize the plant variables (on by default).
    file : str
        The SQLite database; a relative path is relative to the server
        file's folder (without a file: the current folder), never the
        configuration folder. Kept across restarts (a restarted server
        appends).
    retention : float, optional
        Keep only samples this much newer than the newest one [s of time
        stamps]; none: all (within ``max_samples``).
    max_samples : int, optional
        Keep at most this many samples per variable (the oldest go first).
    page_size : int
        Most values one HistoryRead answer carries per variable; the rest
        follows by continuation points.
    export_csv : bool
        When the server stops, write the history as wide CSV (``time`` [s]
        since the first sample, ``name [unit]`` columns) next to the
        database (``<file>.csv``), and in long form with absolute UTC time
        stamps and OPC UA status (``<file>-long.csv``).
    """

    enabled: bool = True
    file: str = DEFAULT_HISTORY_FILE
    retention: Annotated[float, Domain(gt=0, le=3.2e9)] | None = None
    max_samples: Count(1, 10 ** 9) | None = None
    page_size: Count(1, 100_000) = 10_000
    export_csv: bool = True

    def __post_init__(self) -> None:
        check_domains(self)
        if not self.file.strip():
            raise InputError("history.file: give a file name for the history database")


@dataclass(frozen=True)
class ServeConfig:
    """Plant, server settings, scheduled faults and published units of the simulated hardware.

    ``scaling`` maps a sensor tag, a model input or a base loop (an MV: its
    setpoints and output) to the :class:`RawScaling` it is published in.
    """

    plant: PlantConfig
    server: ServerSettings = ServerSettings()
    fault: tuple[FaultEvent, ...] = ()
    scaling: dict[str, RawScaling] = field(default_factory=dict)
    history: HistorySettings = HistorySettings()

    def __post_init__(self) -> None:
        if self.plant.is_fmu:
            raise InputError("serve-opcua serves plant models, not FMUs")
        if self.plant.tick is None or not self.plant.tick > 0:
            raise InputError("plant.tick: the simulated hardware needs a positive tick "
                             "[model time unit] (or --tick)")


def default_plant(model_name: str, tick: float | None) -> PlantConfig:
    """A model from its steady state, sensors on all states and outputs, a loop per MV."""
    model_name = resolve_reference(model_name)
    model = load_model(model_name)
    sensors = tuple(SensorConfig(n) for n in model.states.names + model.outputs.names)
    loops = tuple(LoopSpec(v.name, tau=5 * tick if tick else 1.0) for v in model.manipulated)
    return PlantConfig(model=model_name, steady_start=True, tick=tick, sensors=sensors,
                       base_layer=BaseLayerSpec(loops))


def load_serve_config(path: str | Path | None, model: str | None = None,
                      tick: float | None = None, history: str | None = None,
                      **server: object) -> ServeConfig:
    """The configuration from a file and/or the command line (which wins).

    ``history``: the history database (``"off"``: no history); the history
    file is returned as an absolute path (relative: to the file's folder, or
    the current folder).
    """
    if path is None:
        if model is None:
            raise InputError("give a MODEL or --config FILE")
        plant = default_plant(model, tick)
        config = ServeConfig(plant=plant)
    else:
        path = Path(path)
        data = dict(read_toml(path))
        if "plant" in data:
            data["plant"] = with_resolved_model(data["plant"], path.parent)
        config = build(ServeConfig, data, path.name)
        plant = config.plant
        if model is not None and resolve_reference(model) != plant.model:
            raise InputError(f"MODEL '{model}' differs from plant.model '{plant.model}' in {path}")
        if tick is not None:
            plant = replace(plant, tick=tick)
        config = replace(config, plant=plant)
    settings = cli_settings(**server)
    if settings:
        config = replace(config, server=replace(config.server, **settings))
    return replace(config, history=_history(config.history, history,
                                            Path(path).parent if path is not None else None))


def _history(settings: HistorySettings, option: str | None, base: Path | None) -> HistorySettings:
    """``settings`` with the ``--history`` option applied and the file made absolute."""
    if option is not None:
        if option.strip().lower() == "off":
            return replace(settings, enabled=False)
        settings = replace(settings, enabled=True, file=option)
        base = None  # a path on the command line is relative to the current folder
    file = Path(settings.file).expanduser()
    if not file.is_absolute():
        file = (base if base is not None else Path.cwd()) / file
    return replace(settings, file=str(file.absolute()))
