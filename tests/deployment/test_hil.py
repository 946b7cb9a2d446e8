"""HIL validation: the same scenario SIL (twin control) and HIL (deployed loop over OPC UA).

The simulated hardware runs on a virtual clock in lockstep with the loop, so
each cycle reads the plant at the tick a SIL run would, however busy the
machine. The same holds when the server publishes some variables in its own
units (``[scaling]``): the loop converts both ways through its tag map.
"""

from __future__ import annotations

import asyncio
import json

import numpy as np

from hil_support import DATA, PLANT, Lockstep, deploy_text, records, run_loop_with
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control

EVENTS = "[[event]]\ntime = 10.0\nsetpoint_step = { h1 = 1.0, h2 = 0.5 }\n"
DURATION = 40.0
TOLERANCE = 1e-9
"""SIL and HIL run the same plant, base layer, sensors (same seeds) and controller code on the
same tick grid, and OPC UA carries doubles exactly: they may differ only by a cycle that reads
the plant late, which the deployed loop logs (and this test then reports)."""
COLUMNS = ["h1", "h2", "v1", "v2", "h1.estimate", "h2.estimate", "h3.estimate", "h4.estimate",
           "h1.setpoint"]


def _sil(tmp_path):
    sil = tmp_path / "sil.toml"
    sil.write_text(f'controller_file = "{DATA / "controller.toml"}"\n' + PLANT
                   + f'\n[run]\nduration = {DURATION}\ninitial_estimate = "steady_state"\n\n'
                   + EVENTS)
    frame, _, _ = records(run_control(load_loop(sil), tmp_path / "sil", report=False).store)
    return frame


def _hil(server, tmp_path, driver):
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, DURATION, EVENTS))
    asyncio.run(run_loop_with(config, tmp_path / "hil", driver=driver))
    hil, events, _ = records(tmp_path / "hil" / "cycles.sqlite")
    assert not (events.kind == "late").any(), events[events.kind == "late"].to_string()
    assert not (events.kind == "shed").any()
    return hil


def _differences(hil, sil) -> dict[str, float]:
    assert len(hil) == len(sil) == int(DURATION) + 1
    return {c: float(np.max(np.abs(hil[c].to_numpy() - sil[c].to_numpy())
                            / np.maximum(np.abs(sil[c].to_numpy()), 1.0))) for c in COLUMNS}


def test_hil_run_reproduces_the_sil_run(server_factory, tmp_path):
    server = server_factory(clock="virtual")
    hil = _hil(server, tmp_path, Lockstep(server))
    diffs = _differences(hil, _sil(tmp_path))
    assert max(diffs.values()) <= TOLERANCE, diffs
    assert np.ptp(hil["v1"]) > 0.5 and abs(hil["h1"].iloc[-1] - 13.263) < 0.1  # it really moved
    timing = json.loads(server.stop())["timing"]
    assert timing["clock"] == "virtual" and timing["ticks"] >= DURATION / 0.25


def test_tags_in_the_servers_own_units_are_converted_both_ways(server_factory, tmp_path):
    """h1 (a CV) and v1 (a base loop) published as (model value - 10) / 2: the tag map the
    server writes says scale 2, offset 10; the loop must work in model units all the same."""
    scaling = "[scaling.h1]\nscale = 2.0\noffset = 10.0\n\n[scaling.v1]\nscale = 2.0\noffset = 10.0\n"
    server = server_factory(clock="virtual", faults=scaling)
    raw: dict[int, list[float]] = {}

    async def observe(client, ns, cycle):  # what the server holds after each cycle's writes
        nodes = ["Plant.h1", "Plant.BaseLayer.v1.RSP", "Plant.BaseLayer.v1.SP", "Plant.h2",
                 "Plant.BaseLayer.v2.RSP"]
        raw[cycle] = [await client.get_node(f"ns={ns};s={n}").read_value() for n in nodes]

    hil = _hil(server, tmp_path, Lockstep(server, observe=observe))
    # the plant's true values (the SIL run) in model units, through the scaled tags
    diffs = _differences(hil, _sil(tmp_path))
    assert max(diffs.values()) <= TOLERANCE, diffs
    assert np.ptp(hil["v1"]) > 0.5  # v1 moved: the conversion of writes was exercised
    assert len(raw) >= len(hil) - 1  # the last cycle may end the run before it is observed
    for _, row in hil[hil.cycle.isin(raw)].iterrows():
        h1, rsp1, sp1, h2, rsp2 = raw[int(row.cycle)]
        assert 2.0 * h1 + 10.0 == row["h1"]                          # read: 2 * server + 10
        assert abs(2.0 * sp1 + 10.0 - row["v1.loop_sp"]) <= 1e-12   # a loop's setpoint too
        assert h2 == row["h2"]                                       # an unscaled tag as it is
        if row["write"]:
            assert abs(rsp1 - (row["v1"] - 10.0) / 2.0) <= 1e-12    # written: (model - 10) / 2
            assert rsp2 == row["v2"]
    assert min(raw[c][1] for c in raw) < 0  # the server's own numbers, not model values
