"""HIL validation on the Tennessee Eastman plant: the shipped APC SIL and deployed over OPC UA, 2 h.

The simulated hardware is the shipped ``te_hardware.toml`` (the plant under
Ricker's base layer, counted in seconds, on a virtual clock in lockstep with
the loop); the controller the shipped ``te_apc.toml`` (linear MPC on the
identified model). The SIL run is the same plant, sensors, seeds and
controller in ``twin control``; with a production setpoint step at 0.5 h both
must give the same numbers.
"""

from __future__ import annotations

import asyncio

import numpy as np

from hil_support import Lockstep, deploy_text, records, run_loop_with, shipped_hardware
from twin.orchestration.examples import FOLDER
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control

PLANT, SERVER = shipped_hardware("te_hardware.toml")
CONTROLLER = FOLDER / "te_apc.toml"
DURATION = 7200.0
"""Plant time of the runs [s] (2 h, 41 cycles of 3 min)."""
EVENTS = "[[event]]\ntime = 1800.0\nsetpoint = { stripper_underflow = 23.5 }\n"
TOLERANCE = 1e-9
"""As the quadruple tank's HIL test: the same code on the same tick grid; OPC UA carries doubles."""
SPEED = 36.0
"""Plant seconds per second of the virtual clock's timestamps: a 36 s tick is one such second,
so the loop polls the tick counter every 0.1 s (a tenth of a tick) instead of every 3.6 s."""
COLUMNS = ["stripper_underflow", "reactor_pressure", "production_sp", "reactor_pressure_sp"]


def test_the_deployed_te_apc_reproduces_its_sil_run(server_factory, tmp_path):
    sil_file = tmp_path / "sil.toml"
    sil_file.write_text(f'controller_file = "{CONTROLLER}"\n' + PLANT
                        + f"\n[run]\nduration = {DURATION}\n\n" + EVENTS)
    sil, _, _ = records(run_control(load_loop(sil_file), tmp_path / "sil", report=False).store)

    server = server_factory(clock="virtual", plant=PLANT, settings=SERVER, speed=SPEED)
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    config = tmp_path / "deploy.toml"
    config.write_text(deploy_text(server, client_dir, DURATION, EVENTS, controller=str(CONTROLLER)))
    asyncio.run(run_loop_with(config, tmp_path / "hil", driver=Lockstep(server)))
    hil, events, _ = records(tmp_path / "hil" / "cycles.sqlite")
    assert not (events.kind == "late").any(), events[events.kind == "late"].to_string()
    assert not (events.kind == "shed").any()

    assert len(hil) == len(sil) == int(DURATION / 180.0) + 1
    diffs = {c: float(np.max(np.abs(hil[c].to_numpy() - sil[c].to_numpy())
                             / np.maximum(np.abs(sil[c].to_numpy()), 1.0))) for c in COLUMNS}
    assert max(diffs.values()) <= TOLERANCE, diffs
    assert np.ptp(hil["production_sp"]) > 0.3  # the APC moved the production set point
    assert abs(hil["stripper_underflow"].iloc[-1] - 23.5) < 0.3
