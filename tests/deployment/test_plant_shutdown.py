"""The simulated hardware stops the plant where its interlocks would, and says so.

The Tennessee Eastman plant, open loop with the base-case valves held, passes
its 3000 kPa reactor pressure limit after about 3.6 h (the model test shows
the simulator's own stop). Here the same plant is the simulated hardware
(virtual clock, 0.01 h ticks): once the limit trips it publishes the shutdown
event in ``Diagnostics.Shutdown``, stops stepping (its time and heartbeat
stand still) and refuses to advance (BadInvalidArgument) once it is shut down; the
batch in which it trips ends at the tripping tick.
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
                              "Diagnostics.Tick", "Plant.reactor_pressure")}
            assert await node["Diagnostics.Shutdown"].read_value() == ""
            done = 0
            with pytest.raises(UaError) as refused:
                for _ in range(80):  # batches of 7 ticks: the trip (tick 360) falls in the 52nd
                    await call(client, "Advance", 7.0)
                    done += 1
            assert done == 52  # the batch that tripped was taken; the next one refused
            values = {p: await n.read_value() for p, n in node.items()}
            with pytest.raises(UaError) as again:
                await call(client, "Advance", 1.0)
            after = {p: await n.read_value() for p, n in node.items()}
            return refused.value, again.value, values, after

    refused, again, values, after = asyncio.run(run())
    assert values["Diagnostics.Shutdown"].startswith("shutdown at t = 3.6 h: high reactor pressure")
    assert values["Plant.reactor_pressure"] > 3000.0
    assert values["Diagnostics.Time"] == pytest.approx(3.6)
    assert values["Diagnostics.Tick"] == 360  # the tripping tick counts; none after it
    assert after == values  # no tick more: time, heartbeat and values stand still
    assert type(refused).__name__ == type(again).__name__ == "BadInvalidArgument"


def test_a_sil_loop_ends_at_the_shutdown_and_records_it(tmp_path):
    """The shipped APC over Ricker's published base layer (the shipped one without its
    low-stripper-level override, which rides IDV 6 out) with IDV 6 (A feed lost) from the start:
    the separator empties after 14.5 h; the run ends there, with the event in its store and
    result."""
    from hil_support import records, shipped_hardware
    from twin.orchestration.examples import FOLDER
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.control import run_control

    plant, _ = shipped_hardware("te_hardware.toml")
    model = 'model = "tennessee_eastman_ricker"\n'
    assert model in plant
    plant = plant.replace(model, model + "parameters = { override_stripper_gain = 0.0 }\n")
    loop = tmp_path / "loop.toml"
    loop.write_text(f'controller_file = "{FOLDER / "te_apc.toml"}"\n' + plant
                    + "\n[run]\nduration = 72000.0\n\n[[event]]\ntime = 0.0\ninputs = { idv_6 = 1.0 }\n")
    result = run_control(load_loop(loop), tmp_path / "run", report=False)
    assert result.shutdown.startswith("shutdown at t = 52380 s: low separator liquid level")
    frame, events, _ = records(result.store)
    shutdown = events[events.kind == "plant_shutdown"]
    assert len(shutdown) == 1 and shutdown.message.iloc[0] == result.shutdown
    assert frame.time.iloc[-1] < 72000.0 - 180.0  # no cycle after the shutdown's
