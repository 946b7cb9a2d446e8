"""Offset-free control of the unstable exothermic CSTR with the plant's jacket UA 5 % low.

The shipped loop (``cstr_exothermic_apc.toml``): only the reactor
temperature T is measured (noise 0.02 K), the coolant temperature T_c is the
MV, the plant's UA is 47 500 J/(min K) where the controller's model has
50 000. The setpoint is held at 350 K (the published, open-loop unstable
steady state) for 10 min, then raised to 355 K. Three disturbance models:

- an input disturbance on T_c (the shipped choice);
- a parameter disturbance on UA;
- an output bias on T only (the classic choice): it blames the UA error on
  the sensor, so the estimate of the unmeasured C_A goes wrong.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.spec_disturbance import DisturbanceSpec
from loop_support import replace, run_loop
from twin.orchestration.examples import example
from twin.orchestration.loop.config import EventConfig, load_loop

SETTLED = ((5.0, 10.0, 350.0), (15.0, 20.0, 355.0))
"""Windows judged as settled [min] and the setpoint in force there [K]."""


def _run(tmp_path, model: str):
    config = load_loop(example("cstr_exothermic_apc.toml"))
    assert config.plant.parameters == {"UA": 47500.0}
    spec = config.controller
    assert [m.name for m in spec.measurements] == ["T"]
    if model == "parameter":
        spec = replace(spec, disturbances=(DisturbanceSpec("parameter", "UA", 200.0),))
    elif model == "bias":
        spec = replace(spec, disturbances=(),
                       measurements=tuple(replace(m, bias=True) for m in spec.measurements))
    config = replace(config, controller=spec, run=replace(config.run, duration=20.0),
                     event=(EventConfig(time=10.0, setpoint={"T": 355.0}),))
    _, frame = run_loop(config, tmp_path / model)
    offsets, errors = [], []
    for start, end, setpoint in SETTLED:
        window = frame[(frame.time >= start) & (frame.time <= end)]
        offsets.append(abs(window["T.plant"].mean() - setpoint))
    after_start = frame[frame.time >= 1.0]
    errors = np.abs(after_start["C_A.estimate"] - after_start["C_A.plant"]) / after_start["C_A.plant"]
    last = frame.iloc[-1]
    shown = {k: float(last[k]) for k in ("T_c.disturbance", "UA.disturbance", "T.bias")
             if k in frame}
    print(f"{model:>9}: T offset {offsets[0]:.4f} K at 350 K, {offsets[1]:.4f} K at 355 K; "
          f"C_A estimate error max {errors.max():.2%} (t >= 1 min), at the end "
          f"{last['C_A.estimate']:.4f} vs {last['C_A.plant']:.4f} mol/L; estimate {shown}")
    return max(offsets), float(errors.max()), last


@pytest.mark.parametrize("model", ["input", "parameter"])
def test_an_input_or_parameter_disturbance_removes_the_offset_and_keeps_c_a_right(tmp_path, model):
    offset, c_a_error, last = _run(tmp_path, model)
    assert offset < 0.05
    assert c_a_error < 0.02
    if model == "input":  # the UA error is worth +0.05 (T - T_c) on T_c at steady state
        expected = 0.05 * (last["T.plant"] - last["T_c"])
        assert last["T_c.disturbance"] == pytest.approx(expected, rel=0.1)
    else:
        assert last["UA.disturbance"] == pytest.approx(47500.0, rel=0.01)


def test_an_output_bias_alone_blames_the_sensor_and_loses_c_a(tmp_path):
    offset, c_a_error, last = _run(tmp_path, "bias")
    assert last["T.bias"] < -5.0  # several kelvin "sensor error" where the sensor is right
    assert c_a_error > 0.2


def test_the_moving_horizon_estimator_carries_the_input_disturbance_too(tmp_path):
    config = load_loop(example("cstr_exothermic_apc.toml"))
    spec = replace(config.controller, estimator=replace(config.controller.estimator, kind="mhe"))
    config = replace(config, controller=spec, run=replace(config.run, duration=6.0), event=())
    _, frame = run_loop(config, tmp_path / "mhe")
    settled = frame[frame.time >= 3.0]
    offset = abs(settled["T.plant"].mean() - 350.0)
    after_start = frame[frame.time >= 1.0]
    error = float((np.abs(after_start["C_A.estimate"] - after_start["C_A.plant"])
                   / after_start["C_A.plant"]).max())
    print(f"MHE, input disturbance: T offset {offset:.4f} K, C_A estimate error max {error:.2%}, "
          f"T_c offset {frame['T_c.disturbance'].iloc[-1]:.3f} K")
    assert offset < 0.05 and error < 0.02
    assert frame["T_c.disturbance"].iloc[-1] == pytest.approx(2.6, abs=0.3)


@pytest.mark.slow
def test_thirty_minutes_with_an_output_bias_alone_reproduce_the_reported_failure(tmp_path):
    """The setpoint held at 350 K for 30 min: the bias drifts towards -11 K, the C_A estimate
    towards 0.32 mol/L where the plant has 0.495, and offset remains (short form: above)."""
    config = load_loop(example("cstr_exothermic_apc.toml"))
    spec = replace(config.controller, disturbances=(),
                   measurements=tuple(replace(m, bias=True) for m in config.controller.measurements))
    config = replace(config, controller=spec, run=replace(config.run, duration=30.0), event=())
    _, frame = run_loop(config, tmp_path / "bias30")
    last = frame[frame.time >= 27.0]
    offset = last["T.plant"].mean() - 350.0
    print(f"output bias, 30 min: bias {last['T.bias'].iloc[-1]:.2f} K, C_A estimate "
          f"{last['C_A.estimate'].iloc[-1]:.3f} vs {last['C_A.plant'].iloc[-1]:.3f} mol/L, "
          f"T offset {offset:.3f} K over the last 3 min")
    assert last["T.bias"].iloc[-1] < -9.0
    assert last["C_A.estimate"].iloc[-1] < 0.34 and last["C_A.plant"].iloc[-1] > 0.49
    assert offset > 0.1
