"""The shipped 40 MV x 80 CV example loop (pairs_40x80_loop.toml) under the linear controller.

The plant is the controller's model with four gains 15 % off and one dead
time two minutes longer; after 1 h two setpoints step (A25 +1 %, F41
-5 t/h), after 2 h an unmeasured disturbance moves P17 by +0.3 bar. The
linear MPC must hold every MV within its limits and rate limits, keep every
CV within its hard limits, reach the new setpoints and reject the
disturbance without offset (the output-bias update).
"""

from __future__ import annotations

import numpy as np
import pytest

from loop_support import replace, run_loop
from twin.orchestration.examples import example
from twin.orchestration.loop.config import load_loop


def _loop(duration: float):
    config = load_loop(example("pairs_40x80_loop.toml"))
    return replace(config, run=replace(config.run, duration=duration),
                   event=tuple(e for e in config.event if e.time <= duration))


def _limits_held(config, frame) -> None:
    spec = config.controller
    for mv in spec.mv:
        values = frame[mv.name].to_numpy()
        assert values.min() >= mv.low - 1e-6 and values.max() <= mv.high + 1e-6, mv.name
        assert np.max(np.abs(np.diff(values))) <= mv.max_move + 1e-6, mv.name
    for cv in spec.cv:
        values = frame[f"{cv.name}.plant"].to_numpy()
        assert values.min() >= cv.hard_low and values.max() <= cv.hard_high, cv.name


def test_first_minutes_hold_the_operating_point_within_limits(tmp_path):
    """Short form: 5 min (5 cycles) from the operating point, no event yet; every limit held,
    setpoints kept. (Most of its time is the plant: the first simulation of the 1,172 states
    compiles the model's kernel.)"""
    config = _loop(300.0)
    _, frame = run_loop(config, tmp_path)
    _limits_held(config, frame)
    assert frame["solve_status"].eq("ok").sum() >= 4
    for cv in config.controller.cv:
        if cv.setpoint is not None:
            assert abs(frame[f"{cv.name}.plant"].iloc[-1] - cv.setpoint) < 0.05 * (cv.high - cv.low)


@pytest.mark.slow
def test_first_hour_holds_the_operating_point_within_limits(tmp_path):
    """1 h from the operating point, no event yet; every limit held, setpoints kept (about 260 s)."""
    config = _loop(3600.0)
    _, frame = run_loop(config, tmp_path)
    _limits_held(config, frame)
    for cv in config.controller.cv:
        if cv.setpoint is not None:
            assert abs(frame[f"{cv.name}.plant"].iloc[-1] - cv.setpoint) < 0.05 * (cv.high - cv.low)


@pytest.mark.slow
def test_setpoint_steps_and_a_disturbance_are_handled_within_limits(tmp_path):
    """The whole loop file, 4 h (240 cycles): every limit held, both setpoint steps reached in
    the hour after them, the P17 disturbance rejected to 10 % of its size (about 40 s)."""
    config = _loop(14400.0)
    _, frame = run_loop(config, tmp_path)
    _limits_held(config, frame)
    setpoints = {cv.name: cv.setpoint for cv in config.controller.cv}
    before = frame[(frame.time >= 6600.0) & (frame.time < 7200.0)]
    assert abs(before["A25.plant"].mean() - (setpoints["A25"] + 1.0)) < 0.1
    assert abs(before["F41.plant"].mean() - (setpoints["F41"] - 5.0)) < 0.5
    end = frame[frame.time >= 13800.0]
    assert abs(end["P17.plant"].mean() - setpoints["P17"]) < 0.03   # 10 % of the disturbance
    print(f"median controller step {frame['solve_time'].median() * 1e3:.1f} ms")
