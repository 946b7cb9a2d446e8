"""The tag map: model variables <-> OPC UA NodeIds, with scaling and units (TOML).

``twin serve-opcua`` writes the tag map of the simulated hardware into its
configuration folder (``tags.toml``); for a real gateway it is written by
hand. A model value is ``scale * (OPC UA value) + offset``::

    url = "opc.tcp://127.0.0.1:4840/twin"
    server_heartbeat = "ns=2;s=Diagnostics.Heartbeat"   # a counter the server advances
    apc_heartbeat = "ns=2;s=APC.Heartbeat"              # the APC writes it every cycle
    tick = "ns=2;s=Diagnostics.Tick"                    # optional: cycles aligned to server ticks
    tick_period = 1.0                                   # model time per tick
    seconds_per_time_unit = 1.0                         # wall seconds per model time unit

    [tags.h1]
    node = "ns=2;s=Plant.h1"
    unit = "cm"            # checked against the model when given
    scale = 1.0
    offset = 0.0

    [loops.v1]             # the base loop whose remote setpoint is the MV v1
    mode = "ns=2;s=Plant.BaseLayer.v1.Mode"
    rsp = "ns=2;s=Plant.BaseLayer.v1.RSP"
    sp = "ns=2;s=Plant.BaseLayer.v1.SP"
    pv = "ns=2;s=Plant.BaseLayer.v1.PV"
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.core.config import NonNegative, Positive, build, read_toml
from twin.core.errors import InputError
from twin.core.fmu.plant import same_unit
from twin.core.model import Model


def _check_scale(scale: float, offset: float, where: str) -> None:
    if not (math.isfinite(scale) and scale != 0 and math.isfinite(offset)) \
            or not 1e-12 <= abs(scale) <= 1e12:
        raise InputError(f"{where}: scale must be finite and non-zero (1e-12 to 1e12 in "
                         f"magnitude), offset finite")


class _Scaled:
    """A linear conversion: model value = ``scale`` * server value + ``offset``."""

    scale: float
    offset: float

    def to_model(self, value: float) -> float:
        return self.scale * value + self.offset

    def to_server(self, value: float) -> float:
        return (value - self.offset) / self.scale


@dataclass(frozen=True)
class TagConfig(_Scaled):
    """One variable: its node, unit and linear scaling to model units."""

    node: str
    unit: str = ""
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        _check_scale(self.scale, self.offset, f"tag {self.node}")


@dataclass(frozen=True)
class LoopTags(_Scaled):
    """Nodes of one base-layer loop, and the scaling of its setpoints."""

    mode: str
    rsp: str
    sp: str
    pv: str = ""
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        _check_scale(self.scale, self.offset, f"loop {self.rsp}")


@dataclass(frozen=True)
class TagMap:
    """Everything the deployed loop reads and writes."""

    url: str
    server_heartbeat: str
    apc_heartbeat: str
    tags: dict[str, TagConfig] = field(default_factory=dict)
    loops: dict[str, LoopTags] = field(default_factory=dict)
    tick: str = ""
    tick_period: NonNegative = 0.0
    seconds_per_time_unit: Positive = 1.0

    def __post_init__(self) -> None:
        if self.tick and not self.tick_period > 0:
            raise InputError("tag map: tick needs a positive tick_period")

    def check_model(self, model: Model, needed: list[str], mvs: list[str], where: str) -> None:
        """Every needed variable mapped, every MV a loop, units consistent with the model."""
        missing = [n for n in needed if n not in self.tags]
        if missing:
            raise InputError(f"{where}: no tag for {', '.join(missing)}; mapped: "
                             f"{', '.join(self.tags) or '(none)'}")
        no_loop = [n for n in mvs if n not in self.loops]
        if no_loop:
            raise InputError(f"{where}: no base loop for MV {', '.join(no_loop)}; loops: "
                             f"{', '.join(self.loops) or '(none)'}")
        for name, tag in self.tags.items():
            try:
                ours = model.variable(name).unit
            except InputError:
                continue
            if tag.unit and tag.scale == 1.0 and tag.offset == 0.0 and not same_unit(tag.unit, ours):
                raise InputError(f"{where}: tag '{name}' is in {tag.unit} but model "
                                 f"'{model.name}' uses {ours}; give scale and offset")


def load_tag_map(data: dict[str, Any] | str | Path, where: str = "tags") -> TagMap:
    """A checked :class:`TagMap` from a table or a TOML file."""
    if not isinstance(data, dict):
        path = Path(data)
        data, where = read_toml(path), path.name
    return build(TagMap, data, where)


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_tag_map(data: dict[str, Any], path: str | Path) -> Path:
    """Write a tag map (as :meth:`SimulatedHardware.tag_map` gives it) as TOML."""
    lines = ["# Tag map of the simulated hardware, for `twin deploy` (tags_file = this file)."]
    lines += [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for table in ("tags", "loops"):
        for name, entries in data.get(table, {}).items():
            lines += ["", f"[{table}.{name}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in entries.items()]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path
