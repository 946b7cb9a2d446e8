"""The RTO inside the deployed loop: the CSTR of ``examples/cstr_rto_apc.toml`` over OPC UA.

The simulated hardware serves the example's CSTR (its sensors, and a base
layer on the two MVs) on a virtual clock in lockstep with the loop; the
deploy file carries the example's ``[rto]``. At the first steady state the
RTO re-estimates the catalyst activity and moves the APC's setpoints of C_b
and T_R; the deployed run must do exactly what the SIL run of the same plant
does (``twin control``), and the loop must then steer towards them.

The C_b analyser reports here at every cycle without dead time: the deployed
loop takes every value it reads as a new sample (OPC UA does not say when an
analyser sampled), while SIL skips a cycle whose analyser value is not new,
so with the example's 0.005 h dead time the two runs would differ slightly.
"""

from __future__ import annotations

import numpy as np
import pytest
import tomli_w

from hil_support import Lockstep, deployed_run
from twin.core.config import read_toml
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop
from twin.orchestration.loop.control import run_control
from twin.orchestration.loop.store import CycleStore

EXAMPLE = read_toml(example("cstr_rto_apc.toml"))
MEASUREMENTS = [{k: v for k, v in m.items() if k not in ("sample_interval", "dead_time")}
                for m in EXAMPLE["controller"]["measurements"]]
DURATION = 0.35
"""Plant time [h]: 71 cycles of 0.005 h; the RTO first runs at 0.315 h (a steady window of 60
cycles, after its minimum interval of 0.3 h)."""
MOVED = 63
"""The cycle at which the RTO first moves the setpoints (in SIL and HIL alike)."""
SPEED = 18.0
"""Plant hours per hour of the server's clock: a cycle of 0.005 h is then 1 s of it (the
loop's overrun limit) and the loop polls the tick counter every 9 ms."""


def _plant() -> dict:
    plant = dict(EXAMPLE["plant"])
    plant["sensors"] = [{"name": m["name"], "noise_std": m["noise_std"]} for m in MEASUREMENTS]
    plant["base_layer"] = {"heartbeat_timeout": 0.02,
                           "loops": [{"mv": "F", "tau": 0.0005}, {"mv": "Q_dot", "tau": 0.0005}]}
    return plant


def _history(store) -> tuple:
    s = CycleStore(store)
    try:
        s.run_id = s.db.execute("SELECT MAX(id) FROM run").fetchone()[0]
        return s.to_frame(), s.events()
    finally:
        s.close()


def test_the_rto_in_the_deployed_loop_moves_the_setpoints_as_in_sil(server_factory, tmp_path):
    plant, rto = _plant(), EXAMPLE["rto"]
    controller = {**EXAMPLE["controller"], "measurements": MEASUREMENTS}
    sil = tmp_path / "sil.toml"
    sil.write_text(tomli_w.dumps({"plant": plant, "controller": controller, "rto": rto,
                                  "run": {"duration": DURATION, "mode": "on",
                                          "initial_estimate": "steady_state"}}))
    sil_frame, sil_events = _history(run_control(load_loop(sil), tmp_path / "sil",
                                                 report=False).store)

    server = server_factory(clock="virtual", speed=SPEED,
                            plant=tomli_w.dumps({"plant": plant}))
    (tmp_path / "cstr.toml").write_text(tomli_w.dumps(controller))
    frame, events, _ = deployed_run(server, tmp_path, DURATION,
                                    controller=str(tmp_path / "cstr.toml"),
                                    extra=tomli_w.dumps({"rto": rto}), driver=Lockstep(server))
    assert not (events.kind == "shed").any() and not (events.kind == "late").any()
    assert len(frame) == len(sil_frame) == round(DURATION / 0.005) + 1

    moves = events[(events.kind == "rto") & events.message.str.contains("; setpoints ")]
    sil_moves = sil_events[(sil_events.kind == "rto")
                           & sil_events.message.str.contains("; setpoints ")]
    assert list(moves.cycle) == list(sil_moves.cycle) == [MOVED]
    assert list(moves.message) == list(sil_moves.message)  # the same estimate, optimum, setpoints
    rto_log = " ".join(events[events.kind == "rto"].message)
    assert "estimated beta = " in rto_log
    for name, old, step in (("C_b", 1.09, 0.1), ("T_R", 114.2, 3.0)):
        column = frame[f"{name}.setpoint"].to_numpy()
        assert np.all(column[:MOVED] == old)  # the example's setpoints until the RTO moved them
        new = column[MOVED]
        assert new != pytest.approx(old, abs=1e-6) and abs(new - old) <= step + 1e-9
        assert np.all(column[MOVED:] == new)
        assert np.allclose(column, sil_frame[f"{name}.setpoint"].to_numpy(), rtol=1e-9, atol=0)
    # the deployed run is the SIL run: measurements, estimates and moves, cycle by cycle
    for name in ("C_b", "T_R", "T_K", "F", "Q_dot", "C_a.estimate", "C_b.estimate"):
        assert np.allclose(frame[name], sil_frame[name], rtol=1e-9, atol=1e-12), name
    # and the loop steers T_R towards its new setpoint at once
    t_r, target = frame["T_R"].to_numpy(), frame["T_R.setpoint"].iloc[-1]
    assert abs(t_r[-1] - target) < abs(t_r[MOVED - 1] - target)
