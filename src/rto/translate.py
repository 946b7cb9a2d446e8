"""Pyomo models as CasADi NLPs.

:func:`translate` walks the active components of a ``ConcreteModel``:

- every variable (scalar or indexed) becomes a decision variable, with its
  bounds, its initial value, and equal bounds when fixed;
- mutable parameters become NLP parameters (so they can change between
  solves without rebuilding), immutable ones become constants;
- named expressions, and any sub-expression used more than once, are translated once
  and shared;
- constraints (equalities, inequalities, ranged) become ``g`` with their
  bounds; the one active objective becomes ``f`` (negated for maximisation);
- the intrinsic functions (exp, log, log10, sqrt, power, sin, cos, tan,
  asin, acos, atan, sinh, cosh, tanh, abs, min, max) and ``Expr_if`` map to
  their CasADi counterparts.

Anything that cannot be translated (integer or binary variables, external
functions, logical constraints, more than one objective) raises
:class:`TranslationError` naming the component.
"""

from __future__ import annotations

from dataclasses import dataclass

import casadi as ca
import numpy as np
import pyomo.environ as pyo
from pyomo.core.base.block import BlockData
from pyomo.core.expr import numeric_expr as ne
from pyomo.core.expr import relational_expr as rel
from pyomo.core.expr.visitor import StreamBasedExpressionVisitor

from twin.core.errors import InputError

_UNARY = {"exp": ca.exp, "log": ca.log, "log10": ca.log10, "sqrt": ca.sqrt, "sin": ca.sin,
          "cos": ca.cos, "tan": ca.tan, "asin": ca.asin, "acos": ca.acos, "atan": ca.atan,
          "sinh": ca.sinh, "cosh": ca.cosh, "tanh": ca.tanh, "asinh": ca.asinh,
          "acosh": ca.acosh, "atanh": ca.atanh, "ceil": ca.ceil, "floor": ca.floor}


class TranslationError(InputError):
    """A Pyomo component the CasADi translation does not support."""


@dataclass
class Translation:
    """A Pyomo model as a CasADi NLP, with the maps back to Pyomo.

    Attributes
    ----------
    nlp : dict
        ``{"x", "f", "g", "p"}`` for ``casadi.nlpsol``.
    variables : list
        Pyomo ``VarData`` in NLP order.
    constraints : list
        Pyomo ``ConstraintData`` in ``g`` order.
    parameters : list
        Mutable Pyomo ``ParamData`` in ``p`` order.
    objective : ObjectiveData
    sense : int
        +1 when minimising, -1 when maximising (``f`` is ``sense * objective``).
    """

    nlp: dict
    variables: list
    constraints: list
    parameters: list
    objective: object
    sense: int

    def bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Current ``lbx, ubx, lbg, ubg`` (fixed variables get equal bounds)."""
        lbx, ubx = [], []
        for v in self.variables:
            if v.fixed:
                lbx.append(pyo.value(v))
                ubx.append(pyo.value(v))
            else:
                lo, hi = v.bounds
                lbx.append(-np.inf if lo is None else float(lo))
                ubx.append(np.inf if hi is None else float(hi))
        lbg, ubg = [], []
        for c in self.constraints:
            lo, hi = c.lower, c.upper
            lbg.append(-np.inf if lo is None else float(pyo.value(lo)))
            ubg.append(np.inf if hi is None else float(pyo.value(hi)))
        return np.array(lbx), np.array(ubx), np.array(lbg), np.array(ubg)

    def parameter_values(self) -> np.ndarray:
        """Current values of the mutable parameters."""
        return np.array([float(pyo.value(p)) for p in self.parameters])

    def initial_point(self) -> np.ndarray:
        """The variables' current values (0 where unset), clipped to their bounds."""
        values = []
        for v in self.variables:
            value = v.value
            values.append(0.0 if value is None else float(value))
        lbx, ubx, _, _ = self.bounds()
        return np.clip(np.array(values), lbx, ubx)


class _ToCasadi(StreamBasedExpressionVisitor):
    """One expression to CasADi; ``done`` (shared by every expression of a model) holds each
    node already translated, so a sub-expression many others use (a temperature found by
    Newton steps, say) is translated once: the walk is linear in the expression graph, not in
    the tree it unfolds to."""

    def __init__(self, var_map, param_map, done, where):
        super().__init__()
        self.var_map, self.param_map, self.done = var_map, param_map, done
        self.where = where

    def initializeWalker(self, expr):
        leaf, value = self._leaf(expr)
        if leaf:
            return False, value
        if id(expr) in self.done:
            return False, self.done[id(expr)][1]
        return True, None

    def beforeChild(self, node, child, child_idx):
        leaf, value = self._leaf(child)
        if leaf:
            return False, value
        if id(child) in self.done:
            return False, self.done[id(child)][1]
        return True, None

    def _leaf(self, node):
        if node.__class__ in (int, float) or isinstance(node, (int, float, np.number)):
            return True, float(node)
        if node.is_expression_type():
            return False, None
        if node.is_variable_type():
            if id(node) not in self.var_map:
                raise TranslationError(f"{self.where}: variable '{node.name}' is not part of the "
                                       "model (inactive block?)")
            return True, self.var_map[id(node)]
        if node.is_parameter_type():
            if id(node) in self.param_map:
                return True, self.param_map[id(node)]
            return True, float(pyo.value(node))
        if node.is_constant() or node.is_fixed():
            return True, float(pyo.value(node))
        raise TranslationError(f"{self.where}: cannot translate '{node}' ({type(node).__name__})")

    def exitNode(self, node, args):
        result = self._translated(node, args)
        self.done[id(node)] = (node, result)  # the node kept alive: its id stays its own
        return result

    def _translated(self, node, args):
        if node.is_named_expression_type():
            return args[0]
        if isinstance(node, ne.ExternalFunctionExpression):
            raise TranslationError(f"{self.where}: external function "
                                   f"'{node._fcn.name}' cannot be translated to CasADi")
        if isinstance(node, ne.AbsExpression):
            return ca.fabs(args[0])
        if isinstance(node, ne.UnaryFunctionExpression):
            name = node.getname()
            if name not in _UNARY:
                raise TranslationError(f"{self.where}: function '{name}' is not supported")
            return _UNARY[name](args[0])
        if isinstance(node, (ne.SumExpression, ne.LinearExpression)):
            total = 0.0
            for a in args:
                total = total + a
            return total
        if isinstance(node, (ne.ProductExpression, ne.MonomialTermExpression)):
            return args[0] * args[1]
        if isinstance(node, ne.DivisionExpression):
            return args[0] / args[1]
        if isinstance(node, ne.PowExpression):
            return args[0] ** args[1]
        if isinstance(node, ne.NegationExpression):
            return -args[0]
        if isinstance(node, ne.MaxExpression):
            out = args[0]
            for a in args[1:]:
                out = ca.fmax(out, a)
            return out
        if isinstance(node, ne.MinExpression):
            out = args[0]
            for a in args[1:]:
                out = ca.fmin(out, a)
            return out
        if isinstance(node, ne.Expr_ifExpression):
            return ca.if_else(args[0], args[1], args[2])
        if isinstance(node, rel.InequalityExpression):
            return args[0] < args[1] if node.strict else args[0] <= args[1]
        if isinstance(node, rel.EqualityExpression):
            return args[0] == args[1]
        if isinstance(node, rel.RangedExpression):
            lo_ok = args[0] < args[1] if node.strict[0] else args[0] <= args[1]
            hi_ok = args[1] < args[2] if node.strict[1] else args[1] <= args[2]
            return ca.logic_and(lo_ok, hi_ok)
        raise TranslationError(f"{self.where}: expression type {type(node).__name__} is not "
                               "supported")


def translate(model: BlockData) -> Translation:
    """Translate the active parts of a Pyomo model (see the module doc)."""
    for comp in model.component_objects(active=True, descend_into=True):
        kind = comp.ctype.__name__
        if kind in ("LogicalConstraint", "Disjunct", "Disjunction", "SOSConstraint",
                    "Complementarity", "ExternalFunction"):
            raise TranslationError(f"component '{comp.name}' ({kind}) cannot be translated to "
                                   "an NLP")
    variables = []
    for v in model.component_data_objects(pyo.Var, active=True, descend_into=True, sort=True):
        if not v.is_continuous():
            raise TranslationError(f"variable '{v.name}' is {v.domain.name}: integer and binary "
                                   "variables need a mixed-integer solver")
        variables.append(v)
    params = [p for p in model.component_data_objects(pyo.Param, active=True, descend_into=True,
                                                      sort=True) if p.parent_component().mutable]
    x = ca.SX.sym("x", len(variables))
    p = ca.SX.sym("p", len(params))
    var_map = {id(v): x[i] for i, v in enumerate(variables)}
    param_map = {id(q): p[i] for i, q in enumerate(params)}
    done: dict[int, tuple[object, ca.SX]] = {}

    def convert(expr, where):
        return _ToCasadi(var_map, param_map, done, where).walk_expression(expr)

    objectives = list(model.component_data_objects(pyo.Objective, active=True, descend_into=True))
    if len(objectives) != 1:
        raise TranslationError(f"the model needs exactly one active objective, has "
                               f"{len(objectives)}")
    objective = objectives[0]
    sense = 1 if objective.sense == pyo.minimize else -1
    f = sense * convert(objective.expr, f"objective '{objective.name}'")
    constraints, g = [], []
    for c in model.component_data_objects(pyo.Constraint, active=True, descend_into=True,
                                          sort=True):
        if c.lower is None and c.upper is None:
            continue
        g.append(convert(c.body, f"constraint '{c.name}'"))
        constraints.append(c)
    nlp = {"x": x, "f": ca.SX(f) if isinstance(f, float) else f,
           "g": ca.vertcat(*[ca.SX(e) if isinstance(e, float) else e for e in g])
           if g else ca.SX(0, 1), "p": p}
    return Translation(nlp, variables, constraints, params, objective, sense)
