"""The Pyomo-to-CasADi translator and solver, component by component, against ripopt."""

from __future__ import annotations

import pyomo.environ as pyo
import pytest

import rto.solver  # noqa: F401  (registers casadi_ipopt)
from rto.solver import CasadiIpopt, CasadiIpoptPersistent
from rto.translate import TranslationError, translate

pytest.importorskip("pyomo_ripopt")
import pyomo_ripopt  # noqa: E402,F401


def _solve_both(build):
    """Solve two copies of a model, with ours and with ripopt (NL file); return both."""
    ours, ref = build(), build()
    for m in (ours, ref):
        m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
    r1 = pyo.SolverFactory("casadi_ipopt").solve(ours)
    r2 = pyo.SolverFactory("ripopt").solve(ref, options={"tol": 1e-10})
    assert pyo.check_optimal_termination(r1)
    assert r2.solver.termination_condition == pyo.TerminationCondition.optimal
    return ours, ref


def _same(ours, ref, tol=1e-6):
    for v1, v2 in zip(ours.component_data_objects(pyo.Var, sort=True),
                      ref.component_data_objects(pyo.Var, sort=True)):
        assert v1.value == pytest.approx(v2.value, rel=tol, abs=tol), v1.name
    for c1, c2 in zip(ours.component_data_objects(pyo.Constraint, active=True, sort=True),
                      ref.component_data_objects(pyo.Constraint, active=True, sort=True)):
        assert ours.dual[c1] == pytest.approx(ref.dual[c2], rel=tol, abs=tol), c1.name
    assert pyo.value(ours.obj) == pytest.approx(pyo.value(ref.obj), rel=tol)


def test_inequalities_equalities_and_ranges_with_duals():
    def build():
        m = pyo.ConcreteModel()
        m.I = pyo.Set(initialize=[1, 2, 3])
        m.x = pyo.Var(m.I, bounds=(0, 10), initialize=1.0)
        m.y = pyo.Var(initialize=2.0)
        m.c_le = pyo.Constraint(expr=m.x[1] + m.x[2] <= 3)
        m.c_ge = pyo.Constraint(expr=m.x[2] - m.x[3] >= 0.5)
        m.c_eq = pyo.Constraint(expr=m.y == 2 * m.x[3] + 1)
        m.c_range = pyo.Constraint(expr=pyo.inequality(1.0, m.x[1] * m.x[3], 2.0))
        m.obj = pyo.Objective(expr=(m.x[1] - 3) ** 2 + (m.x[2] - 2) ** 2 + (m.y - 4) ** 2
                              + m.x[3] ** 2)
        return m
    _same(*_solve_both(build))


def test_maximisation_params_and_named_expressions():
    def build():
        m = pyo.ConcreteModel()
        m.price = pyo.Param(initialize=3.0, mutable=True)
        m.cost = pyo.Param(initialize=0.5)  # immutable: a constant
        m.x = pyo.Var(bounds=(0.1, 5), initialize=1.0)
        m.z = pyo.Var(bounds=(0, None), initialize=0.5)
        m.revenue = pyo.Expression(expr=m.price * m.x - m.cost * m.x ** 2)
        m.c = pyo.Constraint(expr=m.z >= m.x - 1)
        m.obj = pyo.Objective(expr=m.revenue - m.z ** 2, sense=pyo.maximize)
        return m
    _same(*_solve_both(build))


@pytest.mark.parametrize("fn", ["exp", "log", "sqrt", "sin", "cos", "tan", "atan", "sinh",
                                "cosh", "tanh", "log10", "power"])
def test_intrinsic_functions(fn):
    def build():
        m = pyo.ConcreteModel()
        m.x = pyo.Var(bounds=(0.2, 1.2), initialize=0.7)
        f = {"exp": pyo.exp, "log": pyo.log, "sqrt": pyo.sqrt, "sin": pyo.sin, "cos": pyo.cos,
             "tan": pyo.tan, "atan": pyo.atan, "sinh": pyo.sinh, "cosh": pyo.cosh,
             "tanh": pyo.tanh, "log10": pyo.log10, "power": lambda v: v ** 2.5}[fn]
        m.obj = pyo.Objective(expr=(f(m.x) - 0.5) ** 2 + 0.1 * m.x)
        m.c = pyo.Constraint(expr=m.x >= 0.3)
        return m
    _same(*_solve_both(build))


def test_fixed_variables_and_initial_values():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=3.0)
    m.y = pyo.Var(initialize=-1.0, bounds=(-5, 5))
    m.x.fix(2.0)
    m.obj = pyo.Objective(expr=(m.y - m.x) ** 2 + m.y)
    t = translate(m)
    lbx, ubx, _, _ = t.bounds()
    assert list(lbx) == [2.0, -5.0] and list(ubx) == [2.0, 5.0]
    assert list(t.initial_point()) == [2.0, -1.0]
    CasadiIpopt().solve(m)
    assert m.x.value == 2.0 and m.y.value == pytest.approx(1.5, abs=1e-8)


def test_abs_min_max_and_expr_if():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(-2, 2), initialize=1.0)
    m.obj = pyo.Objective(expr=abs(m.x - 0.5) + pyo.Expr_if(IF=m.x >= 0, THEN=0.0, ELSE=1.0)
                          + 0.1 * (m.x - 0.4) ** 2)
    t = translate(m)
    import casadi as ca
    f = ca.Function("f", [t.nlp["x"]], [t.nlp["f"]])
    for x in (-1.0, 0.3, 1.5):
        m.x.set_value(x)
        assert float(f(x)) == pytest.approx(pyo.value(m.obj), rel=1e-14)


def test_results_object_and_termination():
    m = pyo.ConcreteModel()
    m.x = pyo.Var(bounds=(0, 1))
    m.c = pyo.Constraint(expr=m.x >= 2)  # infeasible
    m.obj = pyo.Objective(expr=m.x)
    results = pyo.SolverFactory("casadi_ipopt").solve(m)
    assert results.solver.termination_condition == pyo.TerminationCondition.infeasible
    assert not pyo.check_optimal_termination(results)
    assert results.solver.wallclock_time >= 0


def test_persistent_resolves_after_param_change_without_rebuilding():
    m = pyo.ConcreteModel()
    m.a = pyo.Param(initialize=1.0, mutable=True)
    m.x = pyo.Var(pyo.RangeSet(20), bounds=(-10, 10), initialize=0.0)
    m.obj = pyo.Objective(expr=sum((m.x[i] - m.a * i) ** 2 + 0.01 * m.x[i] ** 4 for i in m.x))
    solver = pyo.SolverFactory("casadi_ipopt_persistent")
    assert isinstance(solver, CasadiIpoptPersistent)
    solver.set_instance(m)
    translation = solver._translation
    first = solver.solve(m)
    m.a = 1.01
    second = solver.solve(m)
    assert solver._translation is translation  # not rebuilt
    assert second.solver.iterations < first.solver.iterations  # warm start
    ref = m.clone()
    CasadiIpopt().solve(ref)
    assert pyo.value(m.x[7]) == pytest.approx(pyo.value(ref.x[7]), rel=1e-8)


def test_persistent_starts_from_the_model_again_after_a_failed_solve():
    """A failed solve leaves no warm start: the next one starts from the variables' values.

    ``k`` is fitted to ``h = q / k`` on a log scale; a negative reading has no fit."""
    m = pyo.ConcreteModel()
    m.h = pyo.Param(initialize=1.0, mutable=True)
    m.theta = pyo.Var(initialize=0.0)
    m.x = pyo.Var(bounds=(0.0, 20.0), initialize=1.0)
    m.steady = pyo.Constraint(expr=0.5 - pyo.exp(m.theta) * m.x == 0)
    m.obj = pyo.Objective(expr=(m.x - m.h) ** 2)
    solver = pyo.SolverFactory("casadi_ipopt_persistent")
    solver.set_instance(m)
    assert pyo.check_optimal_termination(solver.solve(m))
    assert pyo.value(m.theta) == pytest.approx(-0.6931472, abs=1e-6)  # k = 0.5
    m.h = -0.2
    assert not pyo.check_optimal_termination(solver.solve(m))
    assert solver.last_bound_multipliers() == {}  # nothing from a failed solve
    assert pyo.value(m.theta) == pytest.approx(-0.6931472, abs=1e-6)  # nothing loaded
    m.h = 0.25
    assert pyo.check_optimal_termination(solver.solve(m))
    assert pyo.value(m.theta) == pytest.approx(0.6931472, abs=1e-6)  # k = 2


@pytest.mark.parametrize("build,message", [
    (lambda m: (setattr(m, "n", pyo.Var(domain=pyo.Integers)),
                setattr(m, "obj", pyo.Objective(expr=m.n ** 2))),
     "variable 'n' is Integers"),
    (lambda m: (setattr(m, "b", pyo.Var(domain=pyo.Binary)),
                setattr(m, "obj", pyo.Objective(expr=m.b))),
     "variable 'b' is Binary"),
    (lambda m: (setattr(m, "x", pyo.Var()), setattr(m, "o1", pyo.Objective(expr=m.x ** 2)),
                setattr(m, "o2", pyo.Objective(expr=m.x))),
     "exactly one active objective, has 2"),
    (lambda m: setattr(m, "x", pyo.Var()), "exactly one active objective, has 0"),
    (lambda m: (setattr(m, "x", pyo.Var()), setattr(m, "y", pyo.BooleanVar()),
                setattr(m, "lc", pyo.LogicalConstraint(expr=m.y.implies(m.y))),
                setattr(m, "obj", pyo.Objective(expr=m.x ** 2))),
     "component 'lc' (LogicalConstraint)"),
    (lambda m: (setattr(m, "x", pyo.Var()),
                setattr(m, "ext", pyo.ExternalFunction(library="libnothing.so", function="f")),
                setattr(m, "obj", pyo.Objective(expr=m.ext(m.x)))),
     "component 'ext' (ExternalFunction)"),
])
def test_untranslatable_components_are_named(build, message):
    m = pyo.ConcreteModel()
    build(m)
    with pytest.raises(TranslationError) as err:
        pyo.SolverFactory("casadi_ipopt").solve(m)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_unknown_solve_argument():
    m = pyo.ConcreteModel()
    m.x = pyo.Var()
    m.obj = pyo.Objective(expr=m.x ** 2)
    with pytest.raises(Exception, match="unknown argument 'warmstart'"):
        CasadiIpopt().solve(m, warmstart=True)


def test_a_shared_sub_expression_is_translated_once():
    # t <- t * (2 - t), 80 times: a graph of 80 steps, a tree of 2^80 leaves (which Pyomo's
    # own evaluation would walk: the reference value is computed in floats)
    import casadi as ca

    m = pyo.ConcreteModel()
    m.x = pyo.Var(initialize=0.3, bounds=(0, 1))
    t, reference = m.x, 0.3
    for _ in range(80):
        t, reference = t * (2 - t), reference * (2 - reference)
    m.obj = pyo.Objective(expr=t)
    m.c = pyo.Constraint(expr=t + m.x <= 5)
    tr = translate(m)
    f = ca.Function("f", [tr.nlp["x"]], [tr.nlp["f"], tr.nlp["g"]])
    assert f.n_instructions() < 10 * 80
    value, bound = (float(v) for v in f(0.3))
    assert value == pytest.approx(reference, rel=1e-12)
    assert bound == pytest.approx(reference + 0.3, rel=1e-12)
