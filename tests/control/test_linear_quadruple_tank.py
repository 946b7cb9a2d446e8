"""The linear MPC on the nonlinear quadruple tank P+ against the existing NMPC.

The plant is the first-principles twin (``quadruple_tank``, parameter set
``P+``: non-minimum phase), started at its steady state at 3.15 V on both
pumps, its levels measured with 0.05 cm noise (the loop's default sensors: the
measurements' ``noise_std``, seed 0). Both controllers have the
same specification (EKF / Kalman filter with output biases on h1 and h2,
10 s interval, 40 intervals, rate limits 0.5 V per interval); the linear
one linearises the twin at that steady state. Both level setpoints step by
+1 cm at 100 s. Compared: the true levels of the two closed loops from
2000 s after the step to the end (2600 s): they differ by less than 2 % of
the step (0.02 cm), and both hold their setpoints within 0.1 cm (the
level noise moves them by about that).
"""

from __future__ import annotations

import numpy as np
import pytest

from twin.api import run_loop

STEP_TIME, SETTLE = 100.0, 2000.0

LOOP = """
[plant]
model = "quadruple_tank"
parameter_set = "P+"
u0 = { v1 = 3.15, v2 = 3.15 }
steady_start = true
tick = 1.0

[run]
duration = 2600.0
mode = "on"

[[event]]
time = 100.0
setpoint_step = { h1 = 1.0, h2 = 1.0 }

[controller]
model = "quadruple_tank"
parameter_set = "P+"
type = "TYPE"
sample_time = 10.0
prediction_horizon = 40

[[controller.measurements]]
name = "h1"
noise_std = 0.05

[[controller.measurements]]
name = "h2"
noise_std = 0.05

[[controller.cv]]
name = "h1"
setpoint = 12.6
hard_low = 1.0
hard_high = 20.0

[[controller.cv]]
name = "h2"
setpoint = 13.0
hard_low = 1.0
hard_high = 20.0

[[controller.mv]]
name = "v1"
low = 0.0
high = 10.0
max_move = 0.5
move_weight = 0.1

[[controller.mv]]
name = "v2"
low = 0.0
high = 10.0
max_move = 0.5
move_weight = 0.1
"""


@pytest.fixture(scope="module")
def loops(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qt")
    logs = {}
    for kind in ("linear", "nonlinear"):
        path = folder / f"loop_{kind}.toml"
        path.write_text(LOOP.replace("TYPE", kind))
        logs[kind] = run_loop(str(path), folder / f"out_{kind}", report=False).to_pandas()
    return logs


def test_linear_mpc_tracks_level_steps_like_the_nmpc_on_the_nonlinear_plant(loops):
    lin, nmpc = loops["linear"], loops["nonlinear"]
    assert (lin["solve_status"] == "ok").all() and (nmpc["solve_status"] == "ok").all()
    assert np.array_equal(lin["time"], nmpc["time"])
    late = lin["time"] >= STEP_TIME + SETTLE
    assert late.sum() >= 50
    for cv in ("h1", "h2"):
        gap = (lin[f"{cv}.plant"] - nmpc[f"{cv}.plant"]).abs()[late].max()
        errors = [(log[f"{cv}.plant"] - log[f"{cv}.setpoint"]).abs()[late].max()
                  for log in (lin, nmpc)]
        print(f"\n{cv}: linear MPC - NMPC true level from {SETTLE:g} s after the step: at most "
              f"{gap:.4f} cm; largest setpoint error linear {errors[0]:.4f}, NMPC "
              f"{errors[1]:.4f} cm")
        assert gap < 0.02 * 1.0
        assert max(errors) < 0.1
        assert lin[f"{cv}.setpoint"].iloc[-1] == pytest.approx(
            lin[f"{cv}.setpoint"].iloc[0] + 1.0)
    for mv in ("v1", "v2"):
        assert lin[mv].between(0.0, 10.0).all()
        assert np.abs(np.diff(lin[mv])).max() <= 0.5 + 1e-9


IDENTIFIED_LOOP = """
[plant]
model = "quadruple_tank"
parameter_set = "P-"
u0 = { v1 = 3.0, v2 = 3.0 }
steady_start = true
tick = 1.0

[run]
duration = 2400.0
mode = "on"

[[event]]
time = 100.0
setpoint_step = { h1 = 1.0, h2 = 1.0 }

[controller]
model = "./qt_identified.toml"
sample_time = 10.0
prediction_horizon = 30

[controller.estimator]
bias_noise = 0.03

[[controller.measurements]]
name = "h1"
noise_std = 0.05

[[controller.measurements]]
name = "h2"
noise_std = 0.05

[[controller.cv]]
name = "h1"
setpoint = {h1}
hard_low = 1.0
hard_high = 20.0

[[controller.cv]]
name = "h2"
setpoint = {h2}
hard_low = 1.0
hard_high = 20.0

[[controller.mv]]
name = "v1"
low = 0.0
high = 10.0
max_move = 0.5
move_weight = 0.1

[[controller.mv]]
name = "v2"
low = 0.0
high = 10.0
max_move = 0.5
move_weight = 0.1
"""


def test_an_identified_model_file_gets_the_linear_mpc_and_tracks_level_steps(tmp_path,
                                                                            monkeypatch):
    """The shipped ``qt_identified.toml`` (identified from a step test of ``P-``) named in a
    controller without ``type``: the linear MPC; both levels within 2 % of the step from
    2000 s after it on the nonlinear twin."""
    import shutil

    from apc.ident.model_file import IdentifiedModel
    from twin.orchestration.examples import example

    shutil.copy(example("qt_identified.toml"), tmp_path / "qt_identified.toml")
    ident = IdentifiedModel.load(tmp_path / "qt_identified.toml")
    h1, h2 = (float(v) for v in ident.y0)
    (tmp_path / "loop.toml").write_text(
        IDENTIFIED_LOOP.replace("{h1}", repr(h1)).replace("{h2}", repr(h2)))
    monkeypatch.chdir(tmp_path)
    log = run_loop("loop.toml", tmp_path / "out", report=False).to_pandas()
    assert (log["solve_status"] == "ok").all()
    assert log["solver_message"].str.startswith("daqp").all()  # the linear controller's QP
    late = log[log["time"] >= STEP_TIME + SETTLE]
    for cv in ("h1", "h2"):
        error = (late[f"{cv}.plant"] - late[f"{cv}.setpoint"]).abs().max()
        print(f"\n{cv}: largest true-level error {error:.4f} cm from {SETTLE:g} s after the step")
        assert error < 0.02
