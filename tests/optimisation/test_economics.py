"""Economic optima: Williams–Otto against the literature and ripopt, CSTR against CasADi."""

from __future__ import annotations

import casadi as ca
import numpy as np
import pyomo.environ as pyo
import pytest

import twin
from rto.economics import EconomicOptimizer, load_economics, shipped_economics
from twin.core import ops


def _optimizer(name, **parameters):
    spec = load_economics(shipped_economics(name))
    model = twin.load_model(spec.model, {**spec.parameters, **parameters}, spec.parameter_set)
    return EconomicOptimizer(model, spec), spec, model


def test_williams_otto_optimum_of_marchetti_et_al():
    opt, _, _ = _optimizer("williams_otto")
    r = opt.optimize()
    assert r.ok
    assert r.inputs["F_B"] == pytest.approx(4.787, rel=1e-3)
    assert r.inputs["T_R"] == pytest.approx(89.70, rel=1e-3)
    assert r.profit == pytest.approx(190.98, rel=1e-3)
    assert sum(r.states.values()) == pytest.approx(1.0, abs=1e-9)
    assert r.active == []  # an interior optimum


def test_williams_otto_matches_the_nl_file_solver():
    pytest.importorskip("pyomo_ripopt")
    import pyomo_ripopt  # noqa: F401

    opt, _, model = _optimizer("williams_otto")
    ours = opt.optimize()
    m = opt.pyomo.clone()
    result = pyo.SolverFactory("ripopt").solve(m, options={"tol": 1e-10})
    assert result.solver.termination_condition == pyo.TerminationCondition.optimal
    for name in model.inputs.names:
        assert pyo.value(m.u[name]) == pytest.approx(ours.inputs[name], rel=1e-6)
    for name in model.states.names:
        assert pyo.value(m.x[name]) == pytest.approx(ours.states[name], rel=1e-6, abs=1e-9)
    assert pyo.value(m.profit) == pytest.approx(ours.profit, rel=1e-6)
    for name in model.states.names:  # balance duals in Pyomo's NL-solver convention
        assert m.dual[m.rhs[name]] == pytest.approx(ours.duals[f"d{name}/dt"], rel=1e-5, abs=1e-6)


def _casadi_cstr_optimum(model):
    """The CSTR economics as a CasADi NLP written here, independently of the translator."""
    x = ca.SX.sym("x", 4)
    u = ca.SX.sym("u", 2)
    p = model.p0()
    f = ca.vertcat(*model.evaluate_rhs(ca.vertsplit(x), ca.vertsplit(u), list(p), ops.CASADI))
    par = model.parameters.to_dict(p)
    profit = par["V_R"] * u[0] * (1.0 * x[1] - 0.2 * par["C_A0"]) - 1e-3 * ca.fabs(u[1])
    nlp = {"x": ca.vertcat(x, u), "f": -profit, "g": f}
    solver = ca.nlpsol("cstr_econ", "ipopt", nlp, {"ipopt.print_level": 0, "print_time": False,
                                                   "ipopt.tol": 1e-12, "ipopt.sb": "yes"})
    r = solver(x0=[2.0, 1.0, 115.0, 113.0, 15.0, -1000.0],
               lbx=[0, 0.1, 50, 50, 5, -8500], ubx=[par["C_A0"], 2, 140, 140, 100, 0], lbg=0, ubg=0)
    z = np.array(r["x"]).ravel()
    return z, -float(r["f"])


@pytest.mark.parametrize("beta", [1.0, 0.9])
def test_cstr_optimum_matches_an_independent_casadi_nlp(beta):
    opt, spec, model = _optimizer("cstr", beta=beta)
    assert spec.parameter_set == "literature" and model.parameters["T_in"].nominal == 104.9
    r = opt.optimize()
    z, profit = _casadi_cstr_optimum(model)
    print(f"beta={beta}: F={r.inputs['F']:.5g} 1/h, C_b={r.states['C_b']:.5g} mol/L, "
          f"T_R={r.states['T_R']:.5g} degC, Q_dot={r.inputs['Q_dot']:.3g} kJ/h, "
          f"profit={r.profit:.6g} EUR/h, active {r.active}")
    assert r.profit == pytest.approx(profit, rel=1e-7, abs=1e-6)
    assert r.inputs["F"] == pytest.approx(z[4], rel=1e-5)
    assert r.states["C_b"] == pytest.approx(z[1], rel=1e-6)
    assert r.states["T_R"] == pytest.approx(z[2], rel=1e-6)


def test_shadow_price_predicts_the_profit_of_moving_an_active_bound():
    opt, spec, model = _optimizer("williams_otto")
    # tighten T_R to 85 degC: it becomes active; its shadow price is d(profit)/d(bound)
    opt.pyomo.u["T_R"].setub(85.0)
    base = opt.optimize()
    assert "T_R <= 85" in base.active
    price = base.shadow_prices["T_R <= 85"]
    opt.pyomo.u["T_R"].setub(85.1)
    moved = opt.optimize()
    assert (moved.profit - base.profit) / 0.1 == pytest.approx(price, rel=0.02)
    assert price > 0


def test_unknown_names_in_economics_are_errors():
    spec = load_economics(shipped_economics("williams_otto"))
    model = twin.load_model("williams_otto")
    opt = EconomicOptimizer(model, spec)
    with pytest.raises(twin.UnknownNameError, match="unknown price 'p_Q'"):
        opt.optimize(prices={"p_Q": 1.0})
    with pytest.raises(twin.UnknownNameError, match="unknown economics 'column'"):
        shipped_economics("column")
