"""A model's equations in another unit of time.

A closed loop runs in the time unit of the controller's model (an FMU plant
is mapped to it already); a simulated plant whose model counts time in
another unit (Skogestad's column A in minutes under a controller on a model
identified in seconds) is rescaled here, so that ``run.duration``, the
events and the sample time mean the same for both.
"""

from __future__ import annotations

from dataclasses import replace

from twin.core.model import Model
from twin.core.units import convert_array


def in_time_unit(model: Model, unit: str) -> Model:
    """``model`` with its derivatives per ``unit`` [state unit per ``unit``].

    Inputs, parameters, states and outputs keep their units (a flow in
    kmol/min stays in kmol/min); only ``dx/dt`` is rescaled. The same model
    is returned when its time unit is ``unit`` already. A unit that is not
    a time gives a one-line :class:`~twin.core.errors.InputError`.
    """
    if model.time_unit == unit:
        return model
    factor = float(convert_array(1.0, unit, model.time_unit,
                                 f"time unit of model '{model.name}'"))
    rhs = model.rhs

    def scaled(x, u, p, ops):
        return {name: value * factor for name, value in rhs(x, u, p, ops).items()}

    # the name stays the user's (errors name the model of the loop file); compiled kernels
    # are keyed by the equations, which differ
    return replace(model, time_unit=unit, rhs=scaled)
