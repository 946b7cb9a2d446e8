"""The linear MPC against the existing NMPC on exactly the same linear model.

do-mpc's CSTR (``benchmarks/data/dompc_cstr_example.toml`` without the
robust scenarios) is linearised at do-mpc's initial state with the inputs
``F = 18``, ``Q_dot = -4500`` (not at rest: an affine model). That affine
model, written as a :class:`Model`, is controlled by the linear MPC (its
own linearisation of a linear model is exact) and by the NMPC (fatrop,
Radau collocation of degree 9, which integrates this model to ~1e-15 over
an interval: the eigenvalues times the interval are at most 0.62). In a
closed loop on the exact discrete-time model, with the feed's lower limit
raised to 8 so that it is active for a while, both get the same state and
previous move each cycle and must plan the same move to 1e-6 of the MV
scales. The QP solvers agree with each other to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

from apc.controller import Controller, VarStatus
from apc.linear.model import affine_model, linearise
from apc.problem import ControlProblem
from apc.spec import spec_from_dict
from plant_models.cstr import MODEL as CSTR
from twin.core.config import read_toml
from twin_benchmarks.dompc_example import X0

U0 = np.array([18.0, -4500.0])
SCALE = np.array([100.0, 2000.0])
STEPS = 25


def _table():
    from pathlib import Path

    import twin_benchmarks

    table = read_toml(Path(twin_benchmarks.__file__).parent / "data" / "dompc_cstr_example.toml")
    del table["robust"]
    table["solver"] = {"backend": "fatrop", "tol": 1e-12, "max_iter": 1000}
    table["collocation_degree"] = 9
    table["mv"][0]["low"] = 8.0
    table["linear"] = {"operating_point": "initial"}
    return table


@pytest.fixture(scope="module")
def affine():
    table = _table()
    pb = ControlProblem(CSTR, spec_from_dict({**table, "type": "nonlinear"}))
    lin = linearise(pb, X0, U0, np.zeros(0))
    return table, lin, affine_model(pb, lin)


def _loop(controllers, lin, steps=STEPS):
    """Closed loop on the exact discrete model driven by the first controller."""
    for c in controllers:
        c.set_mode("on", U0)
    x, u = X0.copy(), U0.copy()
    moves, clamped = [], 0
    for k in range(steps):
        outs = [c.step(k * lin.dt, {}, u, x_plant=x) for c in controllers]
        assert all(o.solve_status == "ok" for o in outs), [o.solver_message for o in outs]
        us = [np.array([o.mv["F"], o.mv["Q_dot"]]) for o in outs]
        moves.append(us)
        clamped += outs[0].mv_status["F"] is VarStatus.CLAMPED
        u = us[0]
        for c in controllers[1:]:
            c.u_now = u.copy()  # every controller continues from the move applied
        x = lin.next_state(x, u, np.zeros(0))
    return np.array(moves), clamped, x


def test_linear_mpc_plans_the_moves_of_the_nmpc_on_the_same_linear_model(affine):
    table, lin, model = affine
    linear = Controller(spec_from_dict({**table, "type": "linear"}), model, x0=X0, u0=U0)
    nmpc = Controller(spec_from_dict({**table, "type": "nonlinear"}), model, x0=X0, u0=U0)
    moves, clamped, x = _loop([linear, nmpc], lin)
    diff = np.abs(moves[:, 0] - moves[:, 1]) / SCALE
    print(f"largest move difference linear MPC - NMPC: {diff.max():.3g} of the MV scale")
    assert diff.max() < 1e-6
    assert clamped >= 3  # the feed's lower limit was active
    assert x[1] == pytest.approx(0.6, abs=1e-3)  # C_b reached its setpoint


def test_qp_solvers_agree_on_the_same_problems(affine):
    table, lin, model = affine
    solvers = ("daqp", "qpoases")
    controllers = [Controller(spec_from_dict({**table, "type": "linear",
                                              "linear": {**table["linear"], "qp_solver": s}}),
                              model, x0=X0, u0=U0) for s in solvers]
    moves, _, _ = _loop(controllers, lin, steps=10)
    assert np.abs(moves[:, 0] - moves[:, 1]).max() / SCALE.min() < 1e-12
