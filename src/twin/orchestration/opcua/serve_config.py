"""Configuration of the simulated hardware (``twin serve-opcua``), validated on load.

A file has a ``[plant]`` table exactly as a loop file's (so a SIL loop and
the simulated hardware can share one plant description), a ``[server]``
table and ``[[fault]]`` entries scheduled in plant time. Without a file,
the model is served from its steady state with a noise-free sensor on every
state and output and a base-layer loop on every manipulated input.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from twin.core.base_layer import BaseLayerSpec, LoopSpec
from twin.core.config import build, read_toml
from twin.core.errors import InputError
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


@dataclass(frozen=True)
class ServerSettings:
    """The OPC UA side.

    Attributes
    ----------
    endpoint : str
        ``opc.tcp://host:port/path`` to listen on.
    speed : float
        Plant time runs this many times faster than real time.
    hold_until_apc : bool
        Do not step until the APC heartbeat first changes (a HIL run then
        starts at plant time 0 exactly as its SIL twin).
    insecure : bool
        Also offer an unsecured endpoint (never by default).
    """

    endpoint: str = "opc.tcp://127.0.0.1:4840/twin"
    speed: float = 1.0
    hold_until_apc: bool = False
    insecure: bool = False

    def __post_init__(self) -> None:
        if not self.speed > 0:
            raise InputError("server.speed must be positive")
        if not self.endpoint.startswith("opc.tcp://"):
            raise InputError(f"server.endpoint '{self.endpoint}': use opc.tcp://host:port/path")


@dataclass(frozen=True)
class ServeConfig:
    """Plant, server settings and scheduled faults of the simulated hardware."""

    plant: PlantConfig
    server: ServerSettings = ServerSettings()
    fault: tuple[FaultEvent, ...] = ()

    def __post_init__(self) -> None:
        if self.plant.is_fmu:
            raise InputError("serve-opcua serves plant models, not FMUs")
        if self.plant.tick is None or not self.plant.tick > 0:
            raise InputError("plant.tick: the simulated hardware needs a positive tick "
                             "[model time unit] (or --tick)")


def default_plant(model_name: str, tick: float | None) -> PlantConfig:
    """A model from its steady state, sensors on all states and outputs, a loop per MV."""
    model = load_model(model_name)
    sensors = tuple(SensorConfig(n) for n in model.states.names + model.outputs.names)
    loops = tuple(LoopSpec(v.name, tau=5 * tick if tick else 1.0) for v in model.manipulated)
    return PlantConfig(model=model_name, steady_start=True, tick=tick, sensors=sensors,
                       base_layer=BaseLayerSpec(loops))


def load_serve_config(path: str | Path | None, model: str | None = None,
                      tick: float | None = None, **server: object) -> ServeConfig:
    """The configuration from a file and/or the command line (which wins)."""
    if path is None:
        if model is None:
            raise InputError("give a MODEL or --config FILE")
        plant = default_plant(model, tick)
        config = ServeConfig(plant=plant)
    else:
        path = Path(path)
        data = read_toml(path)
        config = build(ServeConfig, data, path.name)
        plant = config.plant
        if model is not None and model != plant.model:
            raise InputError(f"MODEL '{model}' differs from plant.model '{plant.model}' in {path}")
        if tick is not None:
            plant = replace(plant, tick=tick)
        config = replace(config, plant=plant)
    settings = {k: v for k, v in server.items() if v is not None}
    if settings:
        config = replace(config, server=replace(config.server, **settings))
    return config
