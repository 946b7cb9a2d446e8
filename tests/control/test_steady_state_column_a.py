"""Column A (LV): the shipped identified model, the LP that lowers the boilup, the weak direction."""

from __future__ import annotations

import numpy as np
import pytest

from apc.ident.model_file import IdentifiedModel
from apc.linear.steady_state import SteadyStateOptimiser
from apc.spec import load_spec, spec_from_dict
from twin.core.steady import find_steady_state
from twin.orchestration.demo_plant_data import linear_gains
from twin.orchestration.examples import FOLDER
from twin.orchestration.registry import load_model

MVS, CVS = ["L_T", "V_B"], ["x_D", "x_B"]
MAG = np.array([0.01, 0.01])   # both compositions move by about 0.01


@pytest.fixture(scope="module")
def column():
    """The shipped model, and the twin's steady state and gains at the model's operating point."""
    identified = IdentifiedModel.load(FOLDER / "column_a_identified.toml")
    steady = find_steady_state(load_model("distillation_a"), dict(zip(identified.inputs,
                                                                      identified.u0)))
    model = steady.model
    y = np.array([steady.y[model.outputs.index(n)] for n in CVS])
    return identified, linear_gains(steady, MVS, CVS), y


def _optimiser(gains, cost_v=1.0, min_sv=1e-3, x_d=None, x_b=None, setpoints=(None, None)):
    spec = spec_from_dict({
        "model": "column.toml", "sample_time": 60.0, "prediction_horizon": 30,
        "estimator": {"kind": "state_feedback"},
        "steady_state": {"min_singular_value": min_sv},
        "cv": [{"name": "x_D", "low": x_d, "setpoint": setpoints[0]},
               {"name": "x_B", "high": x_b, "setpoint": setpoints[1]}],
        "mv": [{"name": "L_T", "low": 1.0, "high": 5.0},
               {"name": "V_B", "low": 1.0, "high": 5.0, "cost": cost_v}]})
    return SteadyStateOptimiser(spec, gains, np.zeros(2, bool), MAG)


def _solve(opt, cv_free, u_now, x_d=-np.inf, x_b=np.inf, setpoints=(np.nan, np.nan)):
    return opt.solve(cv_free=cv_free, u_now=u_now, active=np.ones(2, bool),
                     u_lo=np.full(2, 1.0), u_hi=np.full(2, 5.0),
                     soft_lo=np.array([x_d, -np.inf]), soft_hi=np.array([np.inf, x_b]),
                     hard_lo=np.full(2, -np.inf), hard_hi=np.full(2, np.inf),
                     setpoints=np.array(setpoints, dtype=float))


def test_the_shipped_column_a_model_has_the_twins_gains_within_2_percent(column):
    identified, gains, _ = column
    ident = identified.steady_gain()
    assert list(identified.inputs) == MVS and list(identified.outputs) == CVS
    np.testing.assert_array_less(np.abs(ident - gains) / np.abs(gains), 0.02)
    # both ill-conditioned alike: condition number about 140 (docs/step-tests.md)
    assert np.linalg.cond(gains) == pytest.approx(145, rel=0.03)
    assert np.linalg.cond(ident) == pytest.approx(np.linalg.cond(gains), rel=0.03)
    assert identified.provenance["method"] == "subspace"
    assert "twin steptest column_steptest.toml" in identified.provenance["steptest"]


def test_lp_lowers_the_boilup_until_both_product_specifications_are_active(column):
    identified, gains, y = column
    u0 = identified.u0
    opt = _optimiser(gains)
    r = _solve(opt, y, u0, x_d=0.985, x_b=0.015)
    assert r.ok and r.given_up == [] and r.frozen == []
    # the vertex by hand: both specifications active, G du = spec - y
    du = np.linalg.solve(gains, np.array([0.985, 0.015]) - y)
    np.testing.assert_allclose(r.u, u0 + du, atol=1e-6)
    np.testing.assert_allclose(r.cv, [0.985, 0.015], atol=1e-8)
    assert du[1] < -0.3                                  # V_B lowered by about 0.36 kmol/min
    # it is the optimum: min V_B s.t. -x_D <= -0.985, x_B <= 0.015 has multipliers >= 0
    multipliers = np.linalg.solve(np.vstack([-gains[0], gains[1]]).T, -np.array([0.0, 1.0]))
    assert np.all(multipliers > 0)
    # the weak direction is what this needs (L and V down together): reported, not frozen
    assert 130 < r.condition < 160
    assert r.weakest.startswith("+0.71 L_T +0.71 V_B: singular value 0.00703 of the largest")


def test_with_a_threshold_above_its_ratio_the_weak_direction_is_frozen(column):
    identified, gains, y = column
    opt = _optimiser(gains, min_sv=0.05)
    r = _solve(opt, y, identified.u0, x_d=0.985, x_b=0.015)
    assert r.ok and len(r.frozen) == 1
    assert r.frozen[0].startswith("+0.71 L_T +0.71 V_B: singular value 0.00703 of the largest")
    assert r.frozen[0].endswith("below 0.05: not moved")
    scaled = gains / np.abs(gains).max(axis=1, keepdims=True)
    weak = np.linalg.svd(scaled)[2][-1]
    assert abs(weak @ (r.u - identified.u0)) < 1e-9
    # along the strong direction alone, lowering V_B raises L_T and x_B reaches its limit first
    assert -0.01 < r.u[1] - identified.u0[1] < 0 and r.cv[1] == pytest.approx(0.015, abs=1e-8)


def _closed_loop(gains_true, gains_model, y0, u0, min_sv, cycles=12):
    """Targets cycle by cycle on a plant that settles between cycles (the true gains)."""
    opt = _optimiser(gains_model, cost_v=0.0, min_sv=min_sv, setpoints=(0.992, 0.008))
    u, targets = u0.copy(), []
    for _ in range(cycles):
        r = _solve(opt, y0 + gains_true @ (u - u0), u, setpoints=(0.992, 0.008))
        assert r.ok
        u = r.u
        targets.append(u.copy())
    return np.array(targets), r


def test_targets_swing_under_a_wrong_weak_gain_and_stay_put_with_it_frozen(column):
    identified, gains, y = column
    u_svd, s, vt = np.linalg.svd(gains)
    wrong = u_svd @ np.diag([s[0], s[1] / 3]) @ vt   # the weak direction's gain a third of the truth
    # purer products (0.992, 0.008) need L and V up together: the weak direction
    free, _ = _closed_loop(gains, wrong, y, identified.u0, min_sv=1e-3)
    steps = np.diff(free[:, 0])
    assert np.max(np.abs(steps[-6:])) > 1.0            # L_T targets jump by over 1 kmol/min ...
    assert np.all(steps[-6:-1] * steps[-5:] < 0)        # ... back and forth, cycle after cycle
    frozen, last = _closed_loop(gains, wrong, y, identified.u0, min_sv=0.01)
    assert len(last.frozen) == 1
    assert np.max(np.abs(np.diff(frozen[1:], axis=0))) < 1e-9   # put after the first cycle
    assert [g.kind for g in last.given_up] == ["setpoint"]       # one setpoint cannot be met


def test_the_shipped_column_a_controller_loads_and_its_lp_lowers_the_boilup(column):
    identified, _, _ = column
    spec = load_spec(FOLDER / "column_a_linear.toml")
    spec.check(identified.to_model())
    assert spec.controller_type() == "linear" and spec.steady_state.objective == "lp"
    gains = identified.steady_gain()
    opt = SteadyStateOptimiser(spec, gains, np.zeros(2, bool), MAG)
    limits = [np.array([getattr(c, key) if getattr(c, key) is not None else default
                        for c in spec.cv]) for key, default in (("low", -np.inf), ("high", np.inf))]
    r = opt.solve(cv_free=identified.y0, u_now=identified.u0, active=np.ones(2, bool),
                  u_lo=np.full(2, 1.0), u_hi=np.full(2, 5.0), soft_lo=limits[0],
                  soft_hi=limits[1], hard_lo=np.full(2, -np.inf), hard_hi=np.full(2, np.inf),
                  setpoints=np.full(2, np.nan))
    du = np.linalg.solve(gains, np.array([0.985, 0.015]) - identified.y0)
    np.testing.assert_allclose(r.u, identified.u0 + du, atol=1e-6)
    assert du[1] < -0.3 and r.given_up == [] and r.frozen == []


def test_copying_the_column_a_controller_brings_its_identified_model(tmp_path):
    from twin.orchestration.examples.catalog import catalog, copy_examples

    assert catalog()["column_a_linear.toml"].needs == ("column_a_identified.toml",)
    written = copy_examples(["column_a_linear.toml"], tmp_path)
    assert sorted(p.name for p in written) == ["column_a_identified.toml", "column_a_linear.toml"]
    spec = load_spec(tmp_path / "column_a_linear.toml")
    assert spec.model == str(tmp_path / "column_a_identified.toml")


def _on_the_twin(target_filter: float, cycles: int):
    """The shipped controller's targets, the nonlinear twin settled at them each cycle."""
    from dataclasses import replace

    identified = IdentifiedModel.load(FOLDER / "column_a_identified.toml")
    spec = load_spec(FOLDER / "column_a_linear.toml")
    spec = replace(spec, steady_state=replace(spec.steady_state, target_filter=target_filter))
    opt = SteadyStateOptimiser(spec, identified.steady_gain(), np.zeros(2, bool), MAG)
    plant = load_model("distillation_a")
    u, trend = identified.u0.copy(), []
    for _ in range(cycles):
        steady = find_steady_state(plant, dict(zip(MVS, u)))
        y = np.array([steady.y[plant.outputs.index(n)] for n in CVS])
        r = _solve(opt, y, u, x_d=0.985, x_b=0.015)
        assert r.ok
        trend.append((*u, *y))
        u = r.u
    return np.array(trend)


def test_on_the_nonlinear_twin_the_targets_swing_unless_filtered():
    # the column's gains change with purity: from 0.99/0.01 to 0.985/0.015 the plant moves about
    # 1.85 times what the identified model predicts along L and V together, so each optimum
    # overshoots: the boilup targets go down and up, cycle after cycle
    raw = _on_the_twin(0.0, 8)
    steps = np.diff(raw[:, 1])
    assert np.all(steps[:-1] * steps[1:] < 0) and np.min(np.abs(steps)) > 0.05
    # targets halfway to each optimum (filter time constant 300 s / ln 2 at 300 s cycles):
    # the boilup falls monotonically to the twin's own optimum, both specifications active
    filtered = _on_the_twin(300.0 / np.log(2.0), 6)
    assert np.all(np.diff(filtered[:, 1]) < 1e-5)
    np.testing.assert_allclose(filtered[-1, 2:], [0.985, 0.015], atol=1e-4)
    assert filtered[0, 1] - filtered[-1, 1] > 0.25          # V_B lowered by 0.26 kmol/min
