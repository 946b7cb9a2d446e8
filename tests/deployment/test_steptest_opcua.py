"""A step test on simulated hardware over OPC UA: remote setpoints written through the secure
gateway, the levels answer, and a stalled server heartbeat sheds the test until it is back."""

from __future__ import annotations

import asyncio

import numpy as np

from hil_support import PLANT, REQUEST_TIMEOUT, WATCHDOG, read_values
from twin.core.config import parse_toml
from twin.orchestration.loop.store import CycleStore
from twin.orchestration.steptest import run_step_test, spec_from_dict

# the base layer falls back from CASCADE only after 60 s without the test's heartbeat
HARDWARE = PLANT.replace("heartbeat_timeout = 5.0", "heartbeat_timeout = 60.0")

STEPTEST = """
[opcua]
tags_file = "{tags}"
[opcua.gateway]
username = "apc"
password_file = "{password}"
config_dir = "{client}"
timeout = {timeout}
[opcua.watchdog]
heartbeat_timeout = {heartbeat_timeout}
stale_after = {stale_after}
reentry_cycles = 2

[test]
signal = "gbn"
sample_time = 1.0
settling_time = 12.0
duration = 36.0
seed = 5

[[mv]]
name = "v1"
amplitude = 0.8
low = 0.0
high = 10.0
max_rate = 1.0
[[mv]]
name = "v2"
amplitude = 0.8
low = 0.0
high = 10.0
max_rate = 1.0

[[cv]]
name = "h1"
[[cv]]
name = "h2"
"""


def test_step_test_over_opcua_writes_remote_setpoints_and_sheds_on_a_stalled_heartbeat(
        server_factory, tmp_path):
    # the heartbeat stalls 14 plant s into the test, for 8 plant s (4 s of real time)
    server = server_factory(hold=True, plant=HARDWARE,
                            faults='[[fault]]\ntime = 14.0\nkind = "stall_heartbeat"\n'
                                   'duration = 8.0\n')
    client = tmp_path / "client"
    server.trust_into(client)
    text = STEPTEST.format(tags=server.config_dir / "tags.toml",
                           password=server.config_dir / "apc.password", client=client,
                           timeout=REQUEST_TIMEOUT, **WATCHDOG)
    result = run_step_test(spec_from_dict(parse_toml(text, "t")), tmp_path / "run")
    kinds = [kind for _, kind, _ in result.events]
    assert kinds.count("shed") == 1 and kinds.count("reentry") == 1, result.events
    shed_at = next(t for t, kind, _ in result.events if kind == "shed")
    back_at = next(t for t, kind, _ in result.events if kind == "reentry")
    assert 14 <= shed_at < back_at <= 36
    why = next(message for _, kind, message in result.events if kind == "shed")
    assert why.startswith("server heartbeat still for ") and "nothing written" in why
    # the GBN moves went to the loops' remote setpoints, limits held, while not shed
    active = ~result.paused
    assert np.all(np.abs(result.mv[active] - 3.0) <= 0.8 + 1e-9)
    assert np.all(np.abs(np.diff(result.mv[:, 0])) <= 1.0 + 1e-9)
    final = asyncio.run(read_values(server, "Plant.BaseLayer.v1.RSP", "Plant.BaseLayer.v2.RSP"))
    np.testing.assert_allclose(final, result.mv[-1], rtol=1e-9)
    # the levels answered the pumps (far beyond their 0.01 cm noise), all readings good
    assert np.all(np.isfinite(result.cv)) and np.all(result.quality == "good")
    assert np.ptp(result.cv[:, 0]) > 0.3 and np.ptp(result.cv[:, 1]) > 0.3
    # shed samples are logged as such, and nothing was written then
    modes = CycleStore.read_only(result.store).cycles()["mode"].to_numpy()
    assert (modes == "shed").sum() >= 2
    shed_rows = np.flatnonzero(modes == "shed")
    assert np.all(result.mv[shed_rows] == result.mv[shed_rows[0]])
