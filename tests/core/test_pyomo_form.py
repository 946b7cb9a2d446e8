"""The Pyomo form of each rhs equals the CasADi form at random points.

Tolerance: 1e-12 times the magnitude of each equation, the value it would
have if every sum added absolute values (the scale of its rounding error).
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr import numeric_expr as ne

from support import random_points
from twin.core.pyomo_form import rhs_expressions, steady_state_model
from twin.core.symbolic import casadi_form


def magnitude(expr) -> float:
    """|expr| evaluated with every sum replaced by the sum of absolute terms."""
    if not (hasattr(expr, "is_expression_type") and expr.is_expression_type()):
        return abs(pyo.value(expr))
    if isinstance(expr, (ne.SumExpression, ne.LinearExpression)):
        return sum(magnitude(a) for a in expr.args)
    if isinstance(expr, (ne.ProductExpression, ne.MonomialTermExpression)):
        return magnitude(expr.args[0]) * magnitude(expr.args[1])
    if isinstance(expr, ne.DivisionExpression):
        return magnitude(expr.args[0]) / abs(pyo.value(expr.args[1]))
    if isinstance(expr, ne.NegationExpression):
        return magnitude(expr.args[0])
    return abs(pyo.value(expr))


def test_pyomo_and_casadi_rhs_agree(model):
    form = casadi_form(model)
    block = steady_state_model(model, fix_inputs=False)
    exprs = rhs_expressions(model, block)
    worst = 0.0
    for x, u, p in random_points(model, 5, seed=11):
        for name, value in zip(model.states.names, x):
            block.x[name].set_value(value, skip_validation=True)
        for name, value in zip(model.inputs.names, u):
            block.u[name].set_value(value, skip_validation=True)
        for name, value in zip(model.parameters.names, p):
            block.p[name] = value
        reference = np.array(form.f(x, u, p)).ravel()
        for i, name in enumerate(model.states.names):
            diff = abs(pyo.value(exprs[name]) - reference[i])
            scale = magnitude(exprs[name])
            assert diff <= 1e-12 * scale, f"{model.name} d{name}/dt: {diff:.3g} vs scale {scale:.3g}"
            worst = max(worst, diff / scale)
    assert worst < 1e-12


def test_pyomo_steady_state_holds_at_the_casadi_steady_state():
    import twin
    cstr = twin.load_model("cstr", parameter_set="literature")
    ss = twin.find_steady_state(cstr)
    block = steady_state_model(cstr)
    for name, value in zip(cstr.states.names, ss.x):
        block.x[name].set_value(value)
    residuals = [abs(pyo.value(block.rhs[n].body)) for n in cstr.states.names]
    assert max(residuals) < 1e-9
    assert all(block.u[n].fixed for n in cstr.inputs.names)
    assert abs(pyo.value(block.y["T_dif"]) - ss.y[0]) < 1e-12 * abs(ss.y[0])
