"""Operating semantics: limits, modes and bumpless transfer, failures and shedding, bad CVs."""

from __future__ import annotations

import numpy as np
import pytest

from loop_support import replace, run_loop
from twin.orchestration.loop.config import EventConfig


def _with(cstr_loop, events=(), run=None, **spec_changes):
    spec = replace(cstr_loop.controller, **spec_changes) if spec_changes else cstr_loop.controller
    return replace(cstr_loop, controller=spec, event=tuple(events),
                   run=replace(cstr_loop.run, **(run or {})))


def _event_table(folder):
    from twin.orchestration.loop.store import CycleStore

    store = CycleStore(folder / "cycles.sqlite")
    try:
        store.run_id = 1
        return store.events()
    finally:
        store.close()


def test_hard_and_rate_limits_are_never_exceeded(cstr_loop, tmp_path):
    config = _with(cstr_loop, events=[EventConfig(time=0.0, setpoint={"C_b": 0.95}),
                                      EventConfig(time=0.08, setpoint={"C_b": 0.45})],
                   run={"duration": 0.2})
    _, frame = run_loop(config, tmp_path)
    spec = config.controller
    for mv in spec.mv:
        values = frame[mv.name].to_numpy()
        assert np.all(values >= mv.low - 1e-9) and np.all(values <= mv.high + 1e-9)
        moves = np.abs(np.diff(np.concatenate([[config.plant.u0[mv.name]], values])))
        assert moves.max() <= mv.max_move * (1 + 1e-9), mv.name
        assert moves.max() >= 0.99 * mv.max_move or mv.name == "Q_dot"  # the limit was reached
    assert (frame["F.quality"] == "clamped").any() or (frame["Q_dot.quality"] == "clamped").any()


def test_soft_cv_violations_are_reported(cstr_loop, tmp_path):
    # T_R starts at 134.14 degC, above a soft high limit of 134
    cvs = tuple(replace(c, high=134.0) if c.name == "T_R" else c for c in cstr_loop.controller.cv)
    config = _with(cstr_loop, events=[EventConfig(time=0.0, setpoint={"C_b": 0.95})], cv=cvs)
    loop, frame = run_loop(config, tmp_path)
    assert "T_R.soft_violation" in frame and frame["T_R.soft_violation"].max() > 0
    from twin.orchestration.loop.kpis import compute_kpis

    assert compute_kpis(frame, config.controller)["violation_integral"]["T_R"] > 0


def test_switching_on_is_bumpless_and_warm_writes_nothing(cstr_loop, tmp_path):
    config = _with(cstr_loop, events=[EventConfig(time=0.05, mode="on"),
                                      EventConfig(time=0.0, setpoint={"C_b": 0.95})],
                   run={"mode": "warm"})
    _, frame = run_loop(config, tmp_path)
    warm = frame[frame.time < 0.05 - 1e-9]
    on = frame[frame.time >= 0.05 - 1e-9]
    assert not warm["write"].any() and (warm["mode"] == "warm").all()
    assert (warm["solve_status"] == "ok").all()  # WARM computes
    u0 = config.plant.u0
    assert np.allclose(warm["F"], u0["F"]) and np.allclose(warm["Q_dot"], u0["Q_dot"])
    first = on.iloc[0]
    for mv in config.controller.mv:
        assert abs(first[mv.name] - u0[mv.name]) <= mv.max_move * (1 + 1e-9)
    assert on["write"].all()


def test_off_computes_nothing(cstr_loop, tmp_path):
    _, frame = run_loop(_with(cstr_loop, run={"mode": "off"}), tmp_path)
    assert (frame["solve_status"] == "off").all() and not frame["write"].any()


def test_infeasible_limits_hold_the_plan_then_shed(cstr_loop, tmp_path):
    # a jacket limit of 60 degC cannot be reached from 130 degC: every solve fails
    config = _with(cstr_loop, events=[EventConfig(time=0.05, limits={"T_K": {"hard_high": 60.0}})])
    _, frame = run_loop(config, tmp_path)
    events = _event_table(tmp_path)
    after = frame[frame.time >= 0.05 - 1e-9]
    assert list(after["solve_status"][:3]) == ["failed", "failed", "shed"]
    assert (after["mode"].iloc[2:] == "off").all()
    messages = " ".join(events["message"])
    assert "applied move 1 of the last feasible plan" in messages
    assert "applied move 2 of the last feasible plan" in messages
    assert (events["kind"] == "shed").sum() == 1
    assert len(frame) == round(config.run.duration / config.controller.sample_time) + 1


def test_forced_timeout_sheds_after_k_failures(cstr_loop, tmp_path):
    solver = replace(cstr_loop.controller.solver, time_budget=1e-7, max_failures=4)
    _, frame = run_loop(_with(cstr_loop, solver=solver), tmp_path)
    assert list(frame["solve_status"][:4]) == ["timeout", "timeout", "timeout", "shed"]
    assert frame["shed"].sum() == 1
    assert not frame["write"].iloc[:4].any()  # no feasible plan ever: the MVs were held


def test_shed_to_safe_values(cstr_loop, tmp_path):
    mvs = (replace(cstr_loop.controller.mv[0], safe_value=20.0),
           replace(cstr_loop.controller.mv[1], safe_value=-1000.0))
    solver = replace(cstr_loop.controller.solver, time_budget=1e-7, max_failures=2)
    _, frame = run_loop(_with(cstr_loop, mv=mvs, solver=solver, safe_state="safe_values"), tmp_path)
    shed = frame[frame["shed"] == 1].iloc[0]
    assert shed["write"] == 1
    # the safe values are reached through the rate limits
    assert shed["F"] == pytest.approx(min(20.0, cstr_loop.plant.u0["F"] + 10.0))


def test_bad_critical_cv_sheds_and_bad_normal_cv_is_dropped(cstr_loop, tmp_path):
    cvs = tuple(replace(c, critical=(c.name == "C_b")) for c in cstr_loop.controller.cv)
    config = _with(cstr_loop, cv=cvs, events=[
        EventConfig(time=0.03, sensor_quality={"T_R": "bad"}),
        EventConfig(time=0.06, sensor_quality={"T_R": "good"}),
        EventConfig(time=0.1, sensor_quality={"C_b": "bad"})])
    _, frame = run_loop(config, tmp_path / "a")
    status = frame["T_R.status.quality"]
    t = frame.time
    assert (status[(t >= 0.03 - 1e-9) & (t < 0.06 - 1e-9)] == "dropped").all()
    assert (status[(t >= 0.06 - 1e-9) & (t < 0.1 - 1e-9)] == "good").all()
    assert (frame.loc[(t >= 0.03 - 1e-9) & (t < 0.1 - 1e-9), "solve_status"] == "ok").all()
    shed = frame[frame["shed"] == 1]
    assert len(shed) == 1 and shed.time.iloc[0] == pytest.approx(0.1)
    assert (frame.loc[t > 0.1, "mode"] == "off").all()
