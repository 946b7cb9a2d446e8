"""The base layer: PI loops with modes, no windup, bumpless transfer, heartbeat fallback."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twin
from twin.core.base_layer import BaseLayer, BaseLayerSpec, LoopMode, LoopSpec
from twin.core.errors import InputError
from twin.core.plant import SimulatedPlant

TAU = 2.0
DT = TAU / 50


def _layer(mode: str = "CASCADE", timeout: float = 5.0) -> BaseLayer:
    model = twin.load_model("quadruple_tank")
    spec = BaseLayerSpec((LoopSpec("v1", tau=TAU, mode=mode), LoopSpec("v2", tau=TAU, mode=mode)),
                         heartbeat_timeout=timeout)
    return BaseLayer(spec, model, model.u0())


def _run(layer: BaseLayer, seconds: float) -> None:
    for _ in range(int(round(seconds / DT))):
        layer.step(DT)


def test_cascade_setpoint_step_is_first_order_with_the_actuator_lag():
    """kc = 1, ti = tau cancels the actuator pole: the closed loop is 1 / (tau s + 1)."""
    layer = _layer()
    lp = layer.loops["v1"]
    start = lp.pv
    layer.write_rsp({"v1": start + 1.0})
    _run(layer, TAU)
    assert lp.pv - start == pytest.approx(1 - math.exp(-1), abs=0.02)
    _run(layer, 9 * TAU)
    assert lp.pv == pytest.approx(start + 1.0, abs=1e-3)
    assert layer.loops["v2"].pv == pytest.approx(layer.loops["v2"].sp, abs=1e-12)


def test_manual_to_auto_is_bumpless_and_auto_ignores_remote_setpoints():
    layer = _layer("MANUAL")
    lp = layer.loops["v1"]
    layer.set_output("v1", lp.op + 0.5)
    _run(layer, 10 * TAU)
    pv, op = lp.pv, lp.op
    layer.set_mode("v1", "AUTO")
    layer.write_rsp({"v1": pv + 2.0})  # not in CASCADE: ignored
    _run(layer, 2 * TAU)
    assert lp.pv == pytest.approx(pv, abs=1e-4) and lp.op == pytest.approx(op, abs=1e-4)
    layer.set_mode("v1", "CASCADE")
    assert lp.rsp == lp.sp  # entering CASCADE: RSP starts at the active setpoint
    with pytest.raises(InputError, match="OP is set in MANUAL only"):
        layer.set_output("v1", 1.0)


def test_no_integral_windup_at_the_output_limit():
    layer = _layer()
    lp = layer.loops["v1"]
    layer.write_rsp({"v1": 1e6})  # clamped to the OP range
    assert lp.rsp == lp.op_high
    lp.rsp = lp.op_high + 5.0  # unreachable setpoint: OP saturates for a long time
    _run(layer, 50 * TAU)
    assert lp.op == lp.op_high
    layer.write_rsp({"v1": lp.op_high - 1.0})
    layer.step(DT)
    assert lp.op < lp.op_high  # leaves saturation at once: nothing wound up


def test_heartbeat_loss_falls_back_to_auto_at_the_last_good_setpoint():
    layer = _layer(timeout=5.0)
    _run(layer, 20.0)  # heartbeat never seen: the watch is not armed
    assert layer.loops["v1"].mode is LoopMode.CASCADE
    for k in range(10):  # as the plant latches a cycle's writes: setpoints, then the heartbeat
        layer.write_rsp({"v1": 3.5 + 0.01 * k})
        layer.write_heartbeat(k)
        layer.step(DT)
    good = layer.loops["v1"].rsp
    layer.write_rsp({"v1": 4.5})  # written after the last heartbeat: not "good"
    _run(layer, 5.0 - DT)
    assert layer.loops["v1"].mode is LoopMode.CASCADE
    _run(layer, 2 * DT)
    assert all(lp.mode is LoopMode.AUTO for lp in layer.loops.values())
    assert layer.loops["v1"].sp == good
    assert "v1: CASCADE -> AUTO (APC heartbeat lost)" in layer.take_events()


def test_plant_with_base_layer_turns_mv_writes_into_remote_setpoints():
    model = twin.load_model("quadruple_tank")
    spec = BaseLayerSpec((LoopSpec("v1", tau=1.0),))
    plant = SimulatedPlant(model, 0.1, [], base_layer=spec, steady_start=True)
    v1 = plant.inputs()["v1"]
    plant.write({"v1": v1 + 0.3, "v2": 2.9})
    plant.step()
    assert plant.mv_readback()["v1"] == pytest.approx(v1 + 0.3)  # the SP, at once
    assert plant.inputs()["v2"] == 2.9  # no loop: the input itself
    assert plant.inputs()["v1"] < v1 + 0.3  # the PV lags
    plant.advance(20.0)
    assert plant.inputs()["v1"] == pytest.approx(v1 + 0.3, abs=1e-6)
    with pytest.raises(InputError, match="unknown base loop input 'v9'"):
        SimulatedPlant(model, 0.1, [], base_layer=BaseLayerSpec((LoopSpec("v9", tau=1.0),)))
    assert np.isfinite(plant.x).all()
