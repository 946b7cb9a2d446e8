"""The lmpc_large figure's problems: one cycle of the 40 x 80 example, solved alike by every solver."""

from __future__ import annotations

import numpy as np

from apc.ident.model_file import IdentifiedModel
from apc.spec import load_spec
from twin.orchestration.examples import example
from twin_benchmarks import harness
from twin_benchmarks.harness import BenchContext
from twin_benchmarks.lmpc import _solve, _solve_lp
from twin_benchmarks.lmpc_qp import cycle_problems


def test_the_cycle_lp_and_dmc_qp_are_solved_alike_within_their_limits():
    tf = IdentifiedModel.load(example("pairs_40x80.toml"))
    spec = load_spec(example("pairs_40x80_controller.toml"))
    lp, qp = cycle_problems(tf, spec, form="targets")
    assert qp.size == (240, 240) and lp.size == (200, 80)
    ctx = BenchContext(quick=True)
    _, next_qp = cycle_problems(tf, spec, seed=2, form="targets")
    daqp, qpoases = _solve("daqp", [qp], 1, ctx), _solve("qpoases", [qp, next_qp], 2, ctx)
    assert daqp["success"] and qpoases["success"]
    assert np.max(np.abs(daqp["x"] - qpoases["x"])) < 1e-8
    x = daqp["x"]
    assert np.all(x >= qp.lbx - 1e-9) and np.all(x <= qp.ubx + 1e-9)
    ax = qp.A @ x
    assert np.all(ax >= qp.lba - 1e-9) and np.all(ax <= qp.uba + 1e-9)
    assert np.sum(np.isclose(np.abs(x), qp.ubx, rtol=0, atol=1e-9)) > 0   # some rate limits bind
    assert daqp["cost"] < 0.0                   # moving is better than standing still
    assert len(qpoases["times"]) == len(qpoases["cold"]) == 2
    steady = _solve_lp([lp], 1, ctx)
    assert steady["success"] and np.all(steady["x"] >= lp.lbx - 1e-9)
    assert np.all(steady["x"] <= lp.ubx + 1e-9)
    _, soft = cycle_problems(tf, spec)
    assert soft.size == (400, 1200)
    assert "lmpc_large" in harness.load_figures()
