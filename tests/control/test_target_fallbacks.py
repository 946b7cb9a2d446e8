"""What the controller aims at when the steady-state target calculation fails.

A jacket limit of 60 degC (``T_K`` hard high) has no steady state: the feed
at 130 degC and the reaction heat bring more than the jacket can take out
at ``Q_dot >= -8500`` kJ/h. Without any earlier target the controller then
tracks the setpoints; with one, it keeps the last target.
"""

from __future__ import annotations

import numpy as np
import pytest

import twin
from apc.controller import Controller, Mode
from apc.spec import spec_from_dict
from twin.core.config import read_toml
from twin.core.quality import Reading
from twin.orchestration.examples import example

MV0 = np.array([14.19, -1113.5])
READINGS = {"T_R": Reading(134.14), "T_K": Reading(130.0), "C_b": Reading(0.5)}


@pytest.fixture
def controller():
    spec = spec_from_dict(read_toml(example("cstr_apc.toml"))["controller"])
    controller = Controller(spec, twin.load_model("cstr"))
    controller.set_mode(Mode.ON, MV0)
    yield controller
    controller.close()


def test_without_any_target_the_setpoints_are_tracked(controller):
    controller.set_setpoint("C_b", 0.7)
    controller.set_limits("T_K", hard_high=60.0)
    out = controller.step(0.0, READINGS, MV0)
    assert out.events[0] == ("no steady-state target (Infeasible_Problem_Detected); "
                             "tracking setpoints")
    assert out.cv_target == {"C_b": 0.7}  # the setpoint itself
    assert out.mv_target == {}  # no MV target is made up
    assert out.given_up == []


def test_a_failed_target_keeps_the_last_one(controller):
    first = controller.step(0.0, READINGS, MV0)
    assert first.events == [] and first.solve_status == "ok"
    assert first.cv_target["C_b"] == pytest.approx(0.6, abs=1e-6)
    assert 5.0 < first.mv_target["F"] < 100.0
    controller.set_setpoint("C_b", 0.7)
    controller.set_limits("T_K", hard_high=60.0)
    mv = np.array([first.mv["F"], first.mv["Q_dot"]])
    kept = controller.step(0.005, READINGS, mv)
    assert kept.events[0] == ("steady-state target failed (Infeasible_Problem_Detected); "
                              "keeping the last one")
    assert kept.cv_target == first.cv_target  # the last target (0.6), not the new setpoint
    assert kept.mv_target == first.mv_target
    controller.set_limits("T_K", hard_high=140.0)  # the limit back: a new target at once
    again = controller.step(0.01, READINGS, np.array([kept.mv["F"], kept.mv["Q_dot"]]))
    assert not any("target" in e for e in again.events)
    assert again.cv_target["C_b"] == pytest.approx(0.7, abs=1e-6)
    assert again.mv_target["F"] != pytest.approx(first.mv_target["F"], rel=1e-3)
