"""Economic steady-state optimisation of a plant model.

An :class:`EconomicsSpec` (TOML) names the model, a profit expression over
the model's variables and named prices (maximised), bounds on inputs,
states and outputs, and inputs held fixed. :class:`EconomicOptimizer`
builds the Pyomo model once from the model's steady-state equations
(:func:`twin.core.pyomo_form.add_steady_state`), with prices and model
parameters as mutable Pyomo parameters, and re-solves it warm with the
persistent CasADi-IPOPT solver when prices, parameters or fixed inputs
change. Each solve gives an :class:`EconomicResult`: the optimum, the
profit, the active constraints and their shadow prices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyomo.environ as pyo

from rto.economics_spec import HOW_TO_WRITE, EconomicsSpec, load_economics, shipped_economics
from rto.solver import CasadiIpoptPersistent
from twin.core import expressions, ops
from twin.core.errors import UnknownNameError
from twin.core.model import Model
from twin.core.pyomo_form import add_steady_state

__all__ = ["ACTIVE_TOL", "HOW_TO_WRITE", "EconomicOptimizer", "EconomicResult", "EconomicsSpec",
           "economics_vector", "load_economics", "shipped_economics"]

ACTIVE_TOL = 1e-6
"""A bound counts as active within this fraction of its magnitude (at least 1e-6 absolute)."""


@dataclass
class EconomicResult:
    """One economic optimum.

    Attributes
    ----------
    ok : bool
        True when the solver reached a (locally) optimal point.
    inputs, states, outputs : dict
        The optimum by name [units of the model].
    profit : float
        Profit at the optimum [``unit``].
    active : list of str
        Active bounds, as ``"T_R <= 100"``.
    shadow_prices : dict
        d(profit)/d(bound) of each active bound [profit unit per variable unit].
    duals : dict
        Multipliers of the steady-state balances (value of one unit of d(state)/dt).
    """

    ok: bool
    status: str
    inputs: dict[str, float]
    states: dict[str, float]
    outputs: dict[str, float]
    profit: float
    unit: str
    active: list[str]
    shadow_prices: dict[str, float]
    duals: dict[str, float]
    solve_time: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class EconomicOptimizer:
    """Builds the Pyomo economics of ``model`` once; :meth:`optimize` re-solves it warm."""

    def __init__(self, model: Model, spec: EconomicsSpec, solver: str = "casadi_ipopt"):
        self.model, self.spec = model, spec
        names = model.states.names + model.inputs.names + model.outputs.names
        for name in list(spec.bounds) + list(spec.fixed):
            if name not in names:
                raise UnknownNameError("variable", name, names, "economics")
        for name in spec.fixed:
            if name not in model.inputs:
                raise UnknownNameError("fixed input", name, model.inputs.names, "economics")
        allowed = names + model.parameters.names + list(spec.prices)
        self.profit_expr = expressions.parse(spec.profit, allowed, "economics.profit")
        m = self.pyomo = pyo.ConcreteModel(name=f"{model.name}_economics")
        add_steady_state(m, model, fix_inputs=False)
        m.price = pyo.Param(list(spec.prices), mutable=True, initialize=dict(spec.prices))
        for v in model.inputs:  # disturbances are not the optimiser's: at their nominal values
            if v.role == "disturbance":
                m.u[v.name].fix(v.nominal)
        for name, value in spec.fixed.items():
            m.u[name].fix(value)
        for name, (lo, hi) in spec.bounds.items():
            var = m.x[name] if name in model.states else m.u[name] if name in model.inputs else None
            if var is not None:
                var.setlb(max(lo, var.lb) if var.lb is not None else lo)
                var.setub(min(hi, var.ub) if var.ub is not None else hi)
        out_bounds = {n: b for n, b in spec.bounds.items() if n in model.outputs}
        m.output_bounds = pyo.Constraint(list(out_bounds), rule=lambda b, n: pyo.inequality(
            out_bounds[n][0], m.y[n], out_bounds[n][1]))
        values = {**{n: m.x[n] for n in model.states.names}, **{n: m.u[n] for n in model.inputs.names},
                  **{n: m.p[n] for n in model.parameters.names},
                  **{n: m.price[n] for n in spec.prices}}
        if model.n_y:
            values.update({n: m.y[n] for n in model.outputs.names})
        m.profit = pyo.Expression(expr=self.profit_expr(values, ops.PYOMO))
        # first-order modifiers of modifier adaptation: profit + lambda' (u - u_ref)
        self.decisions = [n for n in model.inputs.names if n not in spec.fixed
                          and model.inputs[n].role == "manipulated"]
        m.modifier = pyo.Param(self.decisions, mutable=True, initialize=0.0)
        m.u_ref = pyo.Param(self.decisions, mutable=True, initialize=0.0)
        m.objective = pyo.Objective(expr=m.profit + sum(
            m.modifier[n] * (m.u[n] - m.u_ref[n]) for n in self.decisions), sense=pyo.maximize)
        m.dual = pyo.Suffix(direction=pyo.Suffix.IMPORT)
        self.solver_name = solver
        self.solver = CasadiIpoptPersistent() if solver == "casadi_ipopt" else pyo.SolverFactory(solver)
        if solver == "casadi_ipopt":
            self.solver.set_instance(m)

    def optimize(self, parameters: dict[str, float] | None = None,
                 prices: dict[str, float] | None = None, fixed: dict[str, float] | None = None,
                 start: dict[str, float] | None = None,
                 modifiers: dict[str, float] | None = None,
                 u_ref: dict[str, float] | None = None) -> EconomicResult:
        """The optimum for these parameters, prices and fixed inputs (by name).

        ``modifiers`` (gradient modifiers per decision input) and ``u_ref``
        add ``sum modifier (u - u_ref)`` to the profit (modifier adaptation);
        :attr:`EconomicResult.profit` stays the model's own profit.
        """
        m, model = self.pyomo, self.model
        for name, value in (modifiers or {}).items():
            m.modifier[name] = float(value)
        for name, value in (u_ref or {}).items():
            m.u_ref[name] = float(value)
        for name, value in (parameters or {}).items():
            if name not in model.parameters:
                raise UnknownNameError("parameter", name, model.parameters.names, "economics")
            m.p[name] = float(value)
        for name, value in (prices or {}).items():
            if name not in self.spec.prices:
                raise UnknownNameError("price", name, list(self.spec.prices), "economics")
            m.price[name] = float(value)
        for name, value in (fixed or {}).items():
            if name not in model.inputs:
                raise UnknownNameError("input", name, model.inputs.names, "economics")
            m.u[name].fix(float(value))
        for name, value in (start or {}).items():
            (m.x[name] if name in model.states else m.u[name]).set_value(value, skip_validation=True)
        results = self.solver.solve(m) if self.solver_name == "casadi_ipopt" else \
            self.solver.solve(m, load_solutions=True)
        ok = pyo.check_optimal_termination(results)
        return self._result(ok, str(results.solver.termination_condition),
                            float(results.solver.wallclock_time or results.solver.time or 0.0))

    def _result(self, ok: bool, status: str, solve_time: float) -> EconomicResult:
        m, model = self.pyomo, self.model
        inputs = {n: float(pyo.value(m.u[n])) for n in model.inputs.names}
        states = {n: float(pyo.value(m.x[n])) for n in model.states.names}
        parameters = {n: float(pyo.value(m.p[n])) for n in model.parameters.names}
        # evaluated in floats from the model's own equations: Pyomo's value() walks an
        # expression as a tree, which for a plant whose outputs share deep sub-expressions (the
        # Tennessee Eastman temperatures) is exponentially larger than the graph
        outputs = dict(zip(model.outputs.names, map(float, model.evaluate_outputs(
            list(states.values()), list(inputs.values()), list(parameters.values()), ops.MATH))))
        profit = float(self.profit_expr({**states, **inputs, **parameters, **outputs,
                                         **{n: float(pyo.value(m.price[n])) for n in m.price}},
                                        ops.MATH))
        active, shadow = [], {}
        multipliers = self.solver.last_bound_multipliers() \
            if isinstance(self.solver, CasadiIpoptPersistent) else {}
        for group, var_of in ((model.states.names, m.x), (model.inputs.names, m.u)):
            for name in group:
                var = var_of[name]
                if var.fixed:
                    continue
                for bound, side, sign in ((var.lb, ">=", -1), (var.ub, "<=", 1)):
                    if bound is not None and _near(pyo.value(var), bound):
                        label = f"{name} {side} {bound:g}"
                        active.append(label)
                        lam = multipliers.get(id(var))
                        if lam is not None:
                            shadow[label] = float(lam)
        for name in m.output_bounds:
            c = m.output_bounds[name]
            value = outputs[name]
            for bound, side in ((pyo.value(c.lower), ">="), (pyo.value(c.upper), "<=")):
                if bound is not None and _near(value, bound):
                    label = f"{name} {side} {bound:g}"
                    active.append(label)
                    shadow[label] = float(m.dual.get(c, 0.0))
        duals = {f"d{n}/dt": float(m.dual.get(m.rhs[n], math.nan)) for n in model.states.names}
        return EconomicResult(ok, status, inputs, states, outputs, profit,
                              self.spec.unit, active, shadow, duals, solve_time)


def _near(value: float, bound: float) -> bool:
    return abs(value - bound) <= ACTIVE_TOL * max(1.0, abs(bound))


def economics_vector(result: EconomicResult) -> np.ndarray:
    """The optimum inputs as a vector, in the model's order (for schemes and tests)."""
    return np.array(list(result.inputs.values()))
