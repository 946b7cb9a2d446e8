"""Pyomo form of a model: the steady-state equations ``rhs(x, u, p) = 0``.

The RTO layer builds its economics on these. The equations are the very
functions the simulator and the MPC use, called with Pyomo components and
:data:`twin.core.ops.PYOMO`.
"""

from __future__ import annotations

import math

import pyomo.environ as pyo

from twin.core import ops
from twin.core.model import Model


def _bounds(v):
    return (v.lower if math.isfinite(v.lower) else None,
            v.upper if math.isfinite(v.upper) else None)


def add_steady_state(block: pyo.Block, model: Model, fix_inputs: bool = True,
                     parameter_exprs: dict | None = None) -> pyo.Block:
    """Add the steady-state equations of ``model`` to a Pyomo block.

    Components added (indexed by variable name):

    - ``x``: Var per state, within the state bounds, initialised at the nominal state;
    - ``u``: Var per input, within the input bounds, at the nominal inputs
      (fixed when ``fix_inputs``);
    - ``p``: mutable Param per parameter, at the model's values;
    - ``y``: Expression per output;
    - ``rhs``: Constraint per state, ``rhs(x, u, p) = 0``.

    ``parameter_exprs`` replaces parameters by Pyomo expressions (for
    example ``exp`` of a variable, to estimate a parameter on a log scale).
    """
    block.x = pyo.Var(model.states.names, bounds=lambda b, n: _bounds(model.states[n]),
                      initialize=lambda b, n: model.states[n].nominal)
    block.u = pyo.Var(model.inputs.names, bounds=lambda b, n: _bounds(model.inputs[n]),
                      initialize=lambda b, n: model.inputs[n].nominal)
    block.p = pyo.Param(model.parameters.names, mutable=True,
                        initialize=lambda b, n: model.parameters[n].nominal)
    if fix_inputs:
        block.u.fix()
    xs = [block.x[n] for n in model.states.names]
    us = [block.u[n] for n in model.inputs.names]
    exprs = parameter_exprs or {}
    ps = [exprs.get(n, block.p[n]) for n in model.parameters.names]
    derivatives = dict(zip(model.states.names, model.evaluate_rhs(xs, us, ps, ops.PYOMO)))
    block.rhs = pyo.Constraint(model.states.names, rule=lambda b, n: derivatives[n] == 0)
    if model.n_y:
        ys = dict(zip(model.outputs.names, model.evaluate_outputs(xs, us, ps, ops.PYOMO)))
        block.y = pyo.Expression(model.outputs.names, rule=lambda b, n: ys[n])
    return block


def steady_state_model(model: Model, fix_inputs: bool = True) -> pyo.ConcreteModel:
    """A ``ConcreteModel`` holding only the steady-state equations (see :func:`add_steady_state`)."""
    m = pyo.ConcreteModel(name=f"{model.name}_steady_state")
    add_steady_state(m, model, fix_inputs)
    return m


def rhs_expressions(model: Model, block: pyo.Block) -> dict[str, object]:
    """The Pyomo expressions of ``rhs`` on a block built by :func:`add_steady_state`."""
    return {n: block.rhs[n].body for n in model.states.names}
