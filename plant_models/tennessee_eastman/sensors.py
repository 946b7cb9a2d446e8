"""The Tennessee Eastman measurements as sensors: XMEAS 1-41 with their noise, analysers with their timing.

XMEAS 1-22 are continuous with additive Gaussian noise; XMEAS 23-41 come
from three analysers that sample every ``interval`` and report a sample
``dead_time`` later (Downs & Vogel 1993, Table 5: the reactor feed and the
purge every 0.1 h after 0.1 h, the product every 0.25 h after 0.25 h), with
noise too. The standard deviations and the timing are rows of
``constants.csv`` (``noise.*``, ``analyser.*``). The sensors layer of the
twin (:class:`twin.core.sensors.SensorSpec`) then samples the model's
outputs as the plant's instruments would.
"""

from __future__ import annotations

from twin.core.sensors import SensorSpec
from twin.core.units import convert_array

from .constants import raw
from .declarations import ANALYSERS, XMEAS


def sensors(noise: bool = True, time_unit: str = "h") -> tuple[SensorSpec, ...]:
    """XMEAS 1-41 as sensors (``noise=False``: exact values, the analysers' timing kept);
    intervals and dead times in ``time_unit`` (any unit of time: that of the plant)."""
    per_hour = float(convert_array(1.0, "h", time_unit, "sensors: time unit"))  # [unit/h]
    scale = 1.0 if noise else 0.0
    out = [SensorSpec(name, noise_std=scale * raw(f"noise.{name}")) for name, _, _ in XMEAS]
    for prefix, comps, _, _ in ANALYSERS:
        interval = raw(f"analyser.{prefix}.interval") * per_hour
        dead_time = raw(f"analyser.{prefix}.dead_time") * per_hour
        out += [SensorSpec(f"{prefix}_{c}", noise_std=scale * raw(f"noise.{prefix}_{c}"),
                           sample_interval=interval, dead_time=dead_time) for c in comps]
    return tuple(out)
