"""The simulated hardware stops the plant where its interlocks would, and says so.

The Tennessee Eastman plant, open loop with the base-case valves held, passes
its 3000 kPa reactor pressure limit after about 3.6 h (the model test shows
the simulator's own stop). Here the same plant is the simulated hardware
(virtual clock, 0.01 h ticks): once the limit trips it publishes the shutdown
event in ``Diagnostics.Shutdown``, stops stepping (its time and heartbeat
stand still) and refuses to advance (BadInvalidArgument).
"""

from __future__ import annotations

import asyncio

import pytest

from hil_support import NAMESPACE, _client, call
from plant_models.tennessee_eastman import MODEL
from twin.core.plant import SimulatedPlant
from twin.core.sensors import SensorSpec

TE_PLANT = """[plant]
model = "plant_models.tennessee_eastman:MODEL"
tick = 0.01

[[plant.sensors]]
name = "reactor_pressure"
"""


def test_the_twin_plant_shuts_down_on_its_limit_and_then_stands_still():
    plant = SimulatedPlant(MODEL, 0.01, [SensorSpec("reactor_pressure")])
    plant.advance(5.0)
    assert plant.shutdown.startswith("shutdown at t = 3.6 h: high reactor pressure"), plant.shutdown
    assert plant.read()["reactor_pressure"].value > 3000.0
    time = plant.time
    plant.step()
    assert plant.time == time == pytest.approx(3.6)


def test_the_simulated_hardware_publishes_the_shutdown_and_stops_stepping(server_factory):
    from asyncua.ua.uaerrors import UaError

    server = server_factory(clock="virtual", plant=TE_PLANT)

    async def run():
        async with _client(server, "operator") as client:
            ns = await client.get_namespace_index(NAMESPACE)
            node = {p: client.get_node(f"ns={ns};s={p}")
                    for p in ("Diagnostics.Shutdown", "Diagnostics.Time", "Diagnostics.Heartbeat",
                              "Plant.reactor_pressure")}
            assert await node["Diagnostics.Shutdown"].read_value() == ""
            with pytest.raises(UaError) as refused:
                for _ in range(50):  # 500 ticks: 5 h
                    await call(client, "Advance", 10.0)
            values = {p: await n.read_value() for p, n in node.items()}
            with pytest.raises(UaError) as again:
                await call(client, "Advance", 1.0)
            after = {p: await n.read_value() for p, n in node.items()}
            return refused.value, again.value, values, after

    refused, again, values, after = asyncio.run(run())
    assert values["Diagnostics.Shutdown"].startswith("shutdown at t = 3.6 h: high reactor pressure")
    assert values["Plant.reactor_pressure"] > 3000.0
    assert values["Diagnostics.Time"] == pytest.approx(3.6)
    assert after == values  # no tick more: time, heartbeat and values stand still
    assert type(refused).__name__ == type(again).__name__ == "BadInvalidArgument"
