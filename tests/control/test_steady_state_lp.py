"""Steady-state optimiser of the linear controller: hand-solved LPs and QPs, ramps, errors."""

from __future__ import annotations

import numpy as np
import pytest

from apc.linear.steady_state import SteadyStateOptimiser
from apc.spec import spec_from_dict
from twin.core.errors import InputError

INF = np.inf


def _optimiser(cvs, mvs, gains, ramp=None, objective="lp", min_sv=1e-3):
    spec = spec_from_dict({"model": "plant.toml", "sample_time": 1.0, "prediction_horizon": 10,
                           "estimator": {"kind": "state_feedback"},
                           "steady_state": {"objective": objective, "min_singular_value": min_sv},
                           "cv": cvs, "mv": mvs})
    n_cv = len(cvs)
    ramp = np.zeros(n_cv, bool) if ramp is None else np.asarray(ramp)
    return spec, SteadyStateOptimiser(spec, np.asarray(gains, float), ramp, np.ones(n_cv))


def _limits(spec, key):
    return np.array([getattr(c, key) if getattr(c, key) is not None else
                     (-INF if key in ("low", "hard_low") else INF) for c in spec.cv])


def _solve(spec, opt, cv_free=None, u_now=None, u_lo=None, u_hi=None, setpoints=None,
           active=None):
    n_cv, n_mv = len(spec.cv), len(spec.mv)
    return opt.solve(
        cv_free=np.zeros(n_cv) if cv_free is None else np.asarray(cv_free, float),
        u_now=np.zeros(n_mv) if u_now is None else np.asarray(u_now, float),
        active=np.ones(n_cv, bool) if active is None else np.asarray(active),
        u_lo=np.full(n_mv, -10.0) if u_lo is None else np.asarray(u_lo, float),
        u_hi=np.full(n_mv, 10.0) if u_hi is None else np.asarray(u_hi, float),
        soft_lo=_limits(spec, "low"), soft_hi=_limits(spec, "high"),
        hard_lo=_limits(spec, "hard_low"), hard_hi=_limits(spec, "hard_high"),
        setpoints=np.array([c.setpoint if c.setpoint is not None else np.nan for c in spec.cv])
        if setpoints is None else np.asarray(setpoints, float))


MVS = [{"name": "u1", "cost": -2.0}, {"name": "u2", "cost": -1.0}]
G3 = [[1.0, 1.0], [1.0, -1.0], [1.0, 0.0]]


def test_a_2x2_lp_rests_at_the_vertex_computed_by_hand():
    # max 2 u1 + u2 s.t. u1 + u2 <= 4, -1 <= u1 - u2 <= 1: the vertex u1 + u2 = 4, u1 - u2 = 1
    spec, opt = _optimiser([{"name": "y1", "high": 4.0}, {"name": "y2", "low": -1.0, "high": 1.0}],
                           MVS, G3[:2])
    r = _solve(spec, opt)
    assert r.ok and r.given_up == []
    np.testing.assert_allclose(r.u, [2.5, 1.5], atol=1e-7)
    np.testing.assert_allclose(r.cv, [4.0, 1.0], atol=1e-7)
    # from another operating point: cv_free shifts the limits (cv = cv_free + G (u - u_now))
    r = _solve(spec, opt, cv_free=[3.0, 1.0], u_now=[1.0, 1.0])
    np.testing.assert_allclose(r.u, [1.0 + 0.5, 1.0 + 0.5], atol=1e-7)   # du1 + du2 = 1, du1 = du2


def test_a_3x2_lp_gives_up_the_lowest_ranked_limit_and_reports_it():
    cvs = [{"name": "y1", "high": 4.0, "rank": 1}, {"name": "y2", "high": 1.0, "rank": 2},
           {"name": "y3", "low": 6.0, "rank": 3}]
    spec, opt = _optimiser(cvs, MVS, G3)
    r = _solve(spec, opt)
    # y1 <= 4 and y2 <= 1 hold (u1 <= 2.5), y3 = u1 >= 6 cannot: given up by 3.5
    assert r.ok
    np.testing.assert_allclose(r.u, [2.5, 1.5], atol=1e-7)
    assert [(g.cv, g.kind, g.rank) for g in r.given_up] == [("y3", "low", 3)]
    assert r.given_up[0].violation == pytest.approx(3.5, abs=1e-7)
    # ranks reversed: y3 >= 6 (rank 1) and y1 <= 4 (rank 2) hold, y2 (rank 3) is given up:
    # u1 >= 6, u2 <= 4 - u1, so y2 = u1 - u2 >= 2 u1 - 4 >= 8: 7 over, at u = (6, -2)
    cvs = [{"name": "y1", "high": 4.0, "rank": 2}, {"name": "y2", "high": 1.0, "rank": 3},
           {"name": "y3", "low": 6.0, "rank": 1}]
    spec, opt = _optimiser(cvs, MVS, G3)
    r = _solve(spec, opt)
    np.testing.assert_allclose(r.u, [6.0, -2.0], atol=1e-6)
    assert [(g.cv, g.kind, g.rank) for g in r.given_up] == [("y2", "high", 3)]
    assert r.given_up[0].violation == pytest.approx(7.0, abs=1e-6)


def test_setpoints_come_after_limits_and_a_missed_one_is_reported():
    cvs = [{"name": "y1", "high": 4.0}, {"name": "y3", "setpoint": 3.0}]
    spec, opt = _optimiser(cvs, [{"name": "u1"}, {"name": "u2"}], [G3[0], G3[2]])
    r = _solve(spec, opt)
    assert r.ok and r.given_up == []
    assert r.cv[1] == pytest.approx(3.0, abs=1e-7) and r.cv[0] <= 4.0 + 1e-7
    # the smallest move among the points that meet the setpoint: u2 stays where it is
    np.testing.assert_allclose(r.u, [3.0, 0.0], atol=1e-7)
    r = _solve(spec, opt, setpoints=[np.nan, 12.0])             # beyond u1's limit of 10
    np.testing.assert_allclose(r.u[0], 10.0, atol=1e-7)
    assert [(g.cv, g.kind) for g in r.given_up] == [("y3", "setpoint")]
    assert r.given_up[0].violation == pytest.approx(2.0, abs=1e-6)


def test_with_all_limits_met_and_no_costs_no_lp_is_solved_and_the_mvs_stay():
    spec, opt = _optimiser([{"name": "y1", "high": 4.0}], [{"name": "u1"}, {"name": "u2"}],
                           [G3[0]])
    r = _solve(spec, opt, u_now=[1.0, 2.0], cv_free=[3.0])
    assert r.ok and r.message == "0 LPs solved"
    np.testing.assert_allclose(r.u, [1.0, 2.0])


def test_qp_objective_rests_mvs_at_their_ideal_values_shifted_by_cost():
    mvs = [{"name": "u1", "ideal": 3.0, "cost": 0.5, "scale": 2.0}, {"name": "u2", "ideal": -1.0}]
    spec, opt = _optimiser([{"name": "y"}], mvs, [[1.0, 1.0]], objective="qp")
    r = _solve(spec, opt)
    # resting value ideal - cost x scale^2: 3 - 0.5 x 4 = 1; u2 at its ideal
    assert r.ok
    np.testing.assert_allclose(r.u, [1.0, -1.0], atol=1e-6)
    # with y = u1 + u2 at a setpoint of 5: (u1 - 3)/4 + 0.5 = u2 + 1 = lambda, 5 lambda = 5
    r = _solve(spec, opt, setpoints=[5.0])
    np.testing.assert_allclose(r.u, [5.0, 0.0], atol=1e-6)
    # u1 at its limit of 4: u2 takes the rest
    r = _solve(spec, opt, setpoints=[5.0], u_hi=[4.0, 10.0])
    np.testing.assert_allclose(r.u, [4.0, 1.0], atol=1e-6)


def test_qp_holds_what_the_ranked_stages_gave_up_and_the_frozen_directions():
    # y1 = u1 >= 6 cannot hold with u1 <= 2: given up by 4, and the QP may not pull u1 to its
    # ideal 0 (that would give up more); u2 rests at its ideal 3
    mvs = [{"name": "u1", "ideal": 0.0, "high": 2.0}, {"name": "u2", "ideal": 3.0}]
    spec, opt = _optimiser([{"name": "y1", "low": 6.0}, {"name": "y2"}], mvs,
                           [[1.0, 0.0], [0.0, 1.0]], objective="qp")
    r = _solve(spec, opt, u_hi=[2.0, 10.0])
    assert r.ok
    np.testing.assert_allclose(r.u, [2.0, 3.0], atol=1e-6)
    assert [(g.cv, g.kind) for g in r.given_up] == [("y1", "low")]
    assert r.given_up[0].violation == pytest.approx(4.0, abs=1e-6)
    # nearly parallel gains, the weak direction frozen: the ideals are reached only along the
    # strong one (u1 + u2 = 0 + 3 is kept by a move along (1, 1) alone)
    mvs = [{"name": "u1", "ideal": 0.0}, {"name": "u2", "ideal": 3.0}]
    spec, opt = _optimiser([{"name": "y1"}, {"name": "y2"}], mvs, [[1.0, 1.0], [1.0, 1.01]],
                           objective="qp", min_sv=0.01)
    r = _solve(spec, opt, u_now=[1.0, 1.0])
    assert r.ok and len(r.frozen) == 1
    scaled = np.array([[1.0, 1.0], [1.0, 1.01]]) / np.array([[1.0], [1.01]])
    weak = np.linalg.svd(scaled)[2][-1]
    assert abs(weak @ (r.u - [1.0, 1.0])) < 1e-9
    strong = np.linalg.svd(scaled)[2][0]
    # the QP's optimum along the strong direction: the ideals projected on it
    t = strong @ (np.array([0.0, 3.0]) - [1.0, 1.0])
    np.testing.assert_allclose(r.u, [1.0, 1.0] + t * strong, atol=1e-6)


def test_a_ramp_cv_is_balanced_to_zero_rate_and_reported_when_it_cannot_be():
    cvs = [{"name": "level", "ramp": True, "high": 80.0}, {"name": "y", "setpoint": 1.0}]
    gains = [[0.5, -1.0], [1.0, 0.0]]                 # level: rate gains; y = u1
    spec, opt = _optimiser(cvs, [{"name": "u1"}, {"name": "u2"}], gains, ramp=[True, False])
    r = _solve(spec, opt, cv_free=[0.2, 0.0])         # the level rises at 0.2 now
    assert r.ok and r.given_up == []
    # y at 1 needs du1 = 1; the rate 0.2 + 0.5 du1 - du2 = 0 needs du2 = 0.7
    np.testing.assert_allclose(r.u, [1.0, 0.7], atol=1e-7)
    assert abs(r.cv[0]) < 1e-7
    # MVs held within +-0.1: the smallest rate is 0.2 - 0.05 - 0.1 = 0.05, reported; the
    # balance comes before the setpoint
    r = _solve(spec, opt, cv_free=[0.2, 0.0], u_lo=[-0.1, -0.1], u_hi=[0.1, 0.1])
    assert r.ok
    np.testing.assert_allclose(r.u, [-0.1, 0.1], atol=1e-7)
    assert [(g.cv, g.kind) for g in r.given_up] == [("level", "ramp"), ("y", "setpoint")]
    assert r.given_up[0].violation == pytest.approx(0.05, abs=1e-7)


def test_hard_cv_limits_hold_over_ranked_soft_limits():
    cvs = [{"name": "y1", "hard_high": 4.0, "low": 5.0}, {"name": "y3", "low": 6.0, "rank": 2}]
    spec, opt = _optimiser(cvs, MVS, [G3[0], G3[2]])
    r = _solve(spec, opt)
    # y1 = u1 + u2 <= 4 (hard) gives up y1 >= 5 (soft); y3 = u1 >= 6 holds with u2 low
    assert r.ok and r.cv[0] <= 4.0 + 1e-7 and r.cv[1] >= 6.0 - 1e-7
    assert [(g.cv, g.kind, g.rank) for g in r.given_up] == [("y1", "low", 1)]
    assert r.given_up[0].violation == pytest.approx(1.0, abs=1e-6)
    # a hard limit the MV limits cannot reach: no targets, one line naming it
    r = _solve(spec, opt, u_lo=[5.0, 5.0], u_hi=[6.0, 6.0], u_now=[5.0, 5.0], cv_free=[10.0, 5.0])
    assert not r.ok
    assert r.message == "cv 'y1': hard_high cannot be held within the mv limits"


def test_frozen_directions_are_not_moved_and_are_reported():
    # y1 = u1 + u2, y2 = u1 + 1.01 u2: nearly parallel rows, weak direction about (0.71, -0.71)
    cvs = [{"name": "y1", "setpoint": 1.0}, {"name": "y2", "setpoint": 1.1}]
    gains = [[1.0, 1.0], [1.0, 1.01]]
    spec, opt = _optimiser(cvs, [{"name": "u1"}, {"name": "u2"}], gains)
    r = _solve(spec, opt)
    # free: the exact solution u2 = 0.1 / 0.01 = 10, u1 = -9 (big moves for a small difference)
    np.testing.assert_allclose(r.u, [-9.0, 10.0], atol=1e-6)
    scaled = np.array(gains) / np.abs(gains).max(axis=1, keepdims=True)   # rows to a largest gain 1
    assert r.frozen == [] and r.condition == pytest.approx(np.linalg.cond(scaled), rel=1e-9)
    assert r.weakest.startswith("+0.71 u1 -0.71 u2: singular value 0.00249 of the largest")
    spec, opt = _optimiser(cvs, [{"name": "u1"}, {"name": "u2"}], gains, min_sv=0.01)
    scaled = np.array(gains) / np.abs(gains).max(axis=1, keepdims=True)
    r = _solve(spec, opt)
    assert len(r.frozen) == 1
    assert r.frozen[0].startswith("+0.71 u1 -0.71 u2: singular value 0.00249 of the largest, "
                                  "below 0.01: not moved")
    _, _, vt = np.linalg.svd(scaled)
    assert abs(vt[-1] @ r.u) < 1e-9                     # no component along the weak direction
    # along the strong direction y2 gains slightly more than y1: the least total error meets y2
    assert r.cv[1] == pytest.approx(1.1, abs=1e-7)
    assert [(g.cv, g.kind) for g in r.given_up] == [("y1", "setpoint")]
    assert r.given_up[0].violation == pytest.approx(r.cv[0] - 1.0) and r.cv[0] > 1.09


def test_the_target_filter_moves_targets_part_of_the_way_each_cycle_and_is_checked():
    cvs = [{"name": "y1", "setpoint": 4.0}]
    spec = spec_from_dict({"model": "plant.toml", "sample_time": 2.0, "prediction_horizon": 10,
                           "estimator": {"kind": "state_feedback"},
                           "steady_state": {"target_filter": 2.0 / np.log(4.0)},   # 3/4 a cycle
                           "cv": cvs, "mv": [{"name": "u1"}]})
    opt = SteadyStateOptimiser(spec, np.array([[2.0]]), np.zeros(1, bool), np.ones(1))
    assert opt.filter_fraction == pytest.approx(0.75)
    r = _solve(spec, opt)                                    # the optimum: u1 = 2
    assert r.u[0] == pytest.approx(1.5) and r.cv[0] == pytest.approx(3.0)
    assert r.message == "0 LPs solved, targets filtered"   # the setpoint met exactly: no LP
    assert r.given_up == []                                  # the optimum meets the setpoint
    r = _solve(spec, opt, u_now=[1.5], cv_free=[3.0])       # from the last targets, 3/4 again
    assert r.u[0] == pytest.approx(1.875)
    opt.reset()                                              # from the MVs now
    r = _solve(spec, opt, u_now=[0.0], cv_free=[0.0])
    assert r.u[0] == pytest.approx(1.5)
    with pytest.raises(InputError) as err:
        spec_from_dict({"model": "plant.toml", "sample_time": 2.0, "prediction_horizon": 10,
                        "steady_state": {"target_filter": -1.0}, "estimator": {"kind": "state_feedback"},
                        "cv": cvs, "mv": [{"name": "u1"}]})
    assert str(err.value) == ("controller.steady_state.target_filter: -1.0 is out of range "
                              "(expected a number >= 0)")


@pytest.mark.parametrize("gains, ramp, mag, message", [
    ([[1.0, 1.0]], None, None, "steady-state gains have shape (1, 2), expected (2, 2) (cvs x mvs)"),
    ([[1.0, np.nan], [1.0, 0.0]], None, None,
     "steady-state gain of cv 'y1' to mv 'u2' is not finite"),
    ([[1.0, 0.0], [0.0, 1.0]], None, [1.0, 0.0], "cv 'y2': magnitude 0.0 must be finite and > 0"),
    ([[1.0, 0.0], [0.0, 1.0]], [True], None,
     "ramp and cv_magnitude need one value per cv (2), got 1 and 2"),
])
def test_bad_construction_is_refused_in_one_line(gains, ramp, mag, message):
    spec = spec_from_dict({"model": "plant.toml", "sample_time": 1.0, "prediction_horizon": 10,
                           "estimator": {"kind": "state_feedback"},
                           "cv": [{"name": "y1"}, {"name": "y2"}],
                           "mv": [{"name": "u1"}, {"name": "u2"}]})
    with pytest.raises(InputError) as err:
        SteadyStateOptimiser(spec, np.array(gains), np.zeros(2, bool) if ramp is None else ramp,
                             np.ones(2) if mag is None else np.array(mag))
    assert str(err.value) == message


def test_bad_cycle_data_gives_no_targets_and_one_line():
    spec, opt = _optimiser([{"name": "y1", "high": 4.0}, {"name": "y2"}], MVS, G3[:2])
    r = _solve(spec, opt, u_lo=[5.0, -10.0], u_hi=[3.0, 10.0])
    assert not r.ok and r.message == "mv 'u1': low 5 > high 3"
    r = _solve(spec, opt, cv_free=[np.nan, 0.0])
    assert not r.ok and r.message == "cv 'y1': predicted steady state nan is not finite"
    r = _solve(spec, opt, cv_free=[np.nan, 0.0], active=[False, True])   # a dropped CV: ignored
    assert r.ok
    spec, opt = _optimiser([{"name": "y1"}, {"name": "y2"}], MVS, G3[:2])
    r = _solve(spec, opt, u_lo=[-INF, -10.0], u_hi=[INF, 10.0])        # u1 is worth more and more
    assert not r.ok
    assert r.message == "steady-state economics LP: unbounded; give limits to mv 'u1'"


def test_the_kept_hot_started_lp_gives_the_targets_of_a_new_one_cycle_after_cycle():
    # CVs dropped and back change the frozen directions (rows of the kept model) and the costs
    rng = np.random.default_rng(3)
    gains = rng.normal(size=(5, 3))
    gains[:4, 2] = gains[:4, 0] + 0.001 * rng.normal(size=4)  # u1 - u3 moves y1..y4 little
    gains[4] = [1.0, 0.0, -1.0]                                # y5 sees it
    cvs = [{"name": f"y{i + 1}", "low": -2.0, "high": 2.0, "rank": 1 + i % 2, "cost": 0.1 * i}
           for i in range(5)]
    mvs = [{"name": f"u{j + 1}", "cost": c} for j, c in enumerate((1.0, -0.5, 0.2))]
    spec, kept = _optimiser(cvs, mvs, gains, min_sv=0.02)
    masks = [[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 0, 1, 1, 1], [1, 1, 1, 1, 1]]
    frozen_seen = set()
    for k in range(12):
        active = np.array(masks[k % 4], bool)
        cv_free = rng.normal(scale=2.0, size=5)
        u_now = rng.uniform(-1, 1, size=3)
        r = _solve(spec, kept, cv_free=cv_free, u_now=u_now, active=active)
        _, new = _optimiser(cvs, mvs, gains, min_sv=0.02)
        fresh = _solve(spec, new, cv_free=cv_free, u_now=u_now, active=active)
        assert r.ok and fresh.ok
        np.testing.assert_allclose(r.u, fresh.u, atol=1e-7)
        assert [(g.cv, g.kind) for g in r.given_up] == [(g.cv, g.kind) for g in fresh.given_up]
        np.testing.assert_allclose([g.violation for g in r.given_up],
                                   [g.violation for g in fresh.given_up], atol=1e-7)
        assert r.frozen == fresh.frozen
        frozen_seen.add(len(r.frozen))
    assert frozen_seen == {0, 1}                              # frozen while y5 is dropped


def _reference(gains, f, lo, hi, ranks, cost, u_lo, u_hi):
    """The same lexicographic stages, written out with scipy's linprog: (rank sums, u)."""
    from scipy.optimize import linprog

    m, n = gains.shape
    a_ub = np.block([[-gains, -np.eye(m), np.zeros((m, m))],
                     [gains, np.zeros((m, m)), -np.eye(m)]])
    b_ub = np.concatenate([f - lo, hi - f])
    bounds = [(a, b) for a, b in zip(u_lo, u_hi)] + [(0, None)] * (2 * m)
    sums = []
    for r in sorted(set(ranks)):
        c = np.concatenate([np.zeros(n), (ranks == r) * 1.0, (ranks == r) * 1.0])
        res = linprog(c, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
        sums.append(res.fun)
        a_ub = np.vstack([a_ub, c])
        b_ub = np.append(b_ub, res.fun + 1e-9)
    res = linprog(np.concatenate([cost, np.zeros(2 * m)]), A_ub=a_ub, b_ub=b_ub, bounds=bounds,
                  method="highs")
    return sums, res.x[:n]


def test_a_random_10x4_problem_agrees_with_the_stages_written_out_in_scipy():
    rng = np.random.default_rng(7)
    gains = rng.normal(size=(10, 4))
    ranks = rng.integers(1, 4, size=10)
    width = rng.uniform(0.2, 1.0, size=10)
    cost = rng.normal(size=4)
    cvs = [{"name": f"y{i}", "low": -float(width[i]), "high": float(width[i]), "rank": int(ranks[i])}
           for i in range(10)]
    mvs = [{"name": f"u{j}", "cost": float(cost[j])} for j in range(4)]
    spec, opt = _optimiser(cvs, mvs, gains)
    for cycle in range(5):
        f = rng.normal(scale=1.5, size=10)
        r = _solve(spec, opt, cv_free=f, u_lo=np.full(4, -1.0), u_hi=np.full(4, 1.0))
        sums, u = _reference(gains, f, -width, width, ranks, cost, np.full(4, -1.0), np.full(4, 1.0))
        assert r.ok
        missed = {k: sum(g.violation for g in r.given_up if g.rank == k) for k in (1, 2, 3)}
        np.testing.assert_allclose([missed[k] for k in sorted(set(ranks))], sums, atol=1e-6)
        np.testing.assert_allclose(r.u, u, atol=1e-6)


def test_setpoints_met_exactly_by_a_square_gain_matrix_need_no_lp():
    # two setpoints, two MVs, nonsingular gains, no limit in the way: the move G^-1 (sp - f)
    # is the only optimum; the optimiser takes it without an LP, and an LP agrees
    cvs = [{"name": "y1", "setpoint": 4.0}, {"name": "y2", "setpoint": -1.0}]
    spec = spec_from_dict({"model": "plant2.toml", "sample_time": 2.0, "prediction_horizon": 10,
                           "estimator": {"kind": "state_feedback"},
                           "cv": cvs, "mv": [{"name": "u1"}, {"name": "u2"}]})
    gains = np.array([[2.0, 1.0], [0.5, -1.0]])
    opt = SteadyStateOptimiser(spec, gains, np.zeros(2, bool), np.ones(2))
    inf = np.full(2, np.inf)
    r = opt.solve(cv_free=np.array([1.0, 0.0]), u_now=np.zeros(2), active=np.ones(2, bool),
                  u_lo=np.full(2, -10.0), u_hi=np.full(2, 10.0), soft_lo=-inf, soft_hi=inf,
                  hard_lo=-inf, hard_hi=inf, setpoints=np.array([4.0, -1.0]))
    np.testing.assert_allclose(r.u, np.linalg.solve(gains, [3.0, -1.0]), atol=1e-12)
    assert r.message == "0 LPs solved"
    # an MV limit in the way: the LPs decide (u1 <= 0.5 cannot meet both setpoints)
    r = opt.solve(cv_free=np.array([1.0, 0.0]), u_now=np.zeros(2), active=np.ones(2, bool),
                  u_lo=np.full(2, -10.0), u_hi=np.array([0.5, 10.0]), soft_lo=-inf,
                  soft_hi=inf, hard_lo=-inf, hard_hi=inf, setpoints=np.array([4.0, -1.0]))
    assert r.u[0] == pytest.approx(0.5) and r.message != "0 LPs solved"
    # a CV limit in the way (y1's own soft high of 3.5 below its setpoint of 4): the limit
    # comes first, the setpoint is given up by 0.5, and y2's setpoint is still met
    r = opt.solve(cv_free=np.array([1.0, 0.0]), u_now=np.zeros(2), active=np.ones(2, bool),
                  u_lo=np.full(2, -10.0), u_hi=np.full(2, 10.0), soft_lo=-inf,
                  soft_hi=np.array([3.5, np.inf]), hard_lo=-inf, hard_hi=inf,
                  setpoints=np.array([4.0, -1.0]))
    assert r.message != "0 LPs solved"
    np.testing.assert_allclose(r.cv, [3.5, -1.0], atol=1e-7)
    assert [(g.cv, g.kind) for g in r.given_up] == [("y1", "setpoint")]
    assert r.given_up[0].violation == pytest.approx(0.5, abs=1e-7)
    # ... and a hard low limit of y2's in the way likewise
    r = opt.solve(cv_free=np.array([1.0, 0.0]), u_now=np.zeros(2), active=np.ones(2, bool),
                  u_lo=np.full(2, -10.0), u_hi=np.full(2, 10.0), soft_lo=-inf, soft_hi=inf,
                  hard_lo=np.array([-np.inf, -0.75]), hard_hi=inf,
                  setpoints=np.array([4.0, -1.0]))
    np.testing.assert_allclose(r.cv, [4.0, -0.75], atol=1e-7)
    assert [(g.cv, g.kind) for g in r.given_up] == [("y2", "setpoint")]
