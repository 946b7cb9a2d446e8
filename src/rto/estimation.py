"""Parameter estimation from steady-state plant data (two-step RTO).

Unweighted least squares of the measured variables against the model's
steady state at the measured inputs, over the parameters named (estimated
on a log scale: ``p = exp(theta)``, so positive and well scaled), solved in
Pyomo with the CasADi-IPOPT solver.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pyomo.environ as pyo

from rto.solver import CasadiIpoptPersistent
from twin.core.errors import UnknownNameError
from twin.core.model import Model
from twin.core.pyomo_form import add_steady_state


class ParameterEstimator:
    """Least squares of ``fit`` variables over parameters ``estimate``; built once."""

    def __init__(self, model: Model, estimate: Sequence[str], fit: Sequence[str]):
        for name in estimate:
            if name not in model.parameters:
                raise UnknownNameError("parameter", name, model.parameters.names, "estimate")
        signals = model.states.names + model.outputs.names
        for name in fit:
            if name not in signals:
                raise UnknownNameError("fitted variable", name, signals, "fit")
        self.model, self.estimate, self.fit = model, list(estimate), list(fit)
        m = self.pyomo = pyo.ConcreteModel(name=f"{model.name}_estimation")
        nominal = {n: model.parameters[n].nominal for n in self.estimate}
        m.theta = pyo.Var(self.estimate, initialize=lambda b, n: float(np.log(nominal[n])))
        m.y_meas = pyo.Param(self.fit, mutable=True, initialize=0.0)
        add_steady_state(m, model, fix_inputs=True,
                         parameter_exprs={n: pyo.exp(m.theta[n]) for n in self.estimate})
        m.residual = pyo.Objective(expr=sum(
            ((m.x[n] if n in model.states else m.y[n]) - m.y_meas[n]) ** 2 for n in self.fit))
        self.solver = CasadiIpoptPersistent()
        self.solver.set_instance(m)

    def __call__(self, measured: Mapping[str, float], inputs: Mapping[str, float],
                 start: Mapping[str, float] | None = None) -> tuple[dict[str, float], bool]:
        """Estimates (by name) and whether the solve succeeded."""
        m = self.pyomo
        for name in self.fit:
            m.y_meas[name] = float(measured[name])
        for name, value in inputs.items():
            m.u[name].fix(float(value))
        for name, value in (start or {}).items():
            m.theta[name].set_value(float(np.log(value)))
        for name in self.model.states.names:  # start the states at the measured values
            if name in measured:
                m.x[name].set_value(float(measured[name]), skip_validation=True)
        results = self.solver.solve(m)
        ok = pyo.check_optimal_termination(results)
        return {n: float(np.exp(pyo.value(m.theta[n]))) for n in self.estimate}, ok
