"""HIL validation: the same scenario SIL (twin control) and HIL (deployed loop over OPC UA)."""

from __future__ import annotations

import asyncio
import json

import numpy as np

from hil_support import DATA, PLANT, deploy_text, records, run_loop_with
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control

EVENTS = "[[event]]\ntime = 10.0\nsetpoint_step = { h1 = 1.0, h2 = 0.5 }\n"
DURATION = 40.0
TOLERANCE = 1e-9
"""SIL and HIL run the same plant, base layer, sensors (same seeds) and controller code on the
same tick grid, and OPC UA carries doubles exactly: they may differ only by a cycle that reads
the plant late, which the deployed loop logs (and this test then reports)."""


def test_hil_run_reproduces_the_sil_run(server_factory, tmp_path):
    sil = tmp_path / "sil.toml"
    sil.write_text(f'controller_file = "{DATA / "controller.toml"}"\n' + PLANT
                   + f'\n[run]\nduration = {DURATION}\ninitial_estimate = "steady_state"\n\n'
                   + EVENTS)
    sil_result = run_control(load_loop(sil), tmp_path / "sil", report=False)

    server = server_factory(speed=4.0, hold=True)
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, DURATION, EVENTS))
    asyncio.run(run_loop_with(config, tmp_path / "hil"))
    hil, events, _ = records(tmp_path / "hil" / "cycles.sqlite")
    sil_frame, _, _ = records(sil_result.store)

    assert not (events.kind == "late").any(), events[events.kind == "late"].to_string()
    assert not (events.kind == "shed").any()
    assert len(hil) == len(sil_frame) == int(DURATION) + 1
    columns = ["h1", "h2", "v1", "v2", "h1.estimate", "h2.estimate", "h3.estimate",
               "h4.estimate", "h1.setpoint"]
    diffs = {c: float(np.max(np.abs(hil[c].to_numpy() - sil_frame[c].to_numpy())
                             / np.maximum(np.abs(sil_frame[c].to_numpy()), 1.0))) for c in columns}
    assert max(diffs.values()) <= TOLERANCE, diffs
    assert np.ptp(hil["v1"]) > 0.5 and abs(hil["h1"].iloc[-1] - 13.263) < 0.1  # it really moved
    timing = json.loads(server.stop())["timing"]
    assert timing["ticks"] >= DURATION / 0.25
