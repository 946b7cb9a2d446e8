"""Finding plant models by name.

``"cstr"`` names a shipped model in :mod:`plant_models`; ``"pkg.mod:ATTR"``
names a :class:`~twin.core.model.Model` object in any importable module,
so users can bring their own models to every command.

Every model is checked when it loads (:func:`twin.core.dimensions.check_model`:
its units are known and its equations agree with them), and parameter
values may carry a unit (``"104.9 degC"``); a value outside its bounds is
a warning (:func:`twin.core.units.check_value`).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from twin.core.dimensions import check_model
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.units import check_values, to_declared_values

import plant_models


def model_names() -> list[str]:
    """Names of the shipped models."""
    return list(plant_models.NAMES)


def load_model(name: str, parameters: Mapping[str, float | str] | None = None,
               parameter_set: str | None = None) -> Model:
    """The model called ``name``, with a parameter set and overrides applied.

    Parameters
    ----------
    name : str
        A shipped model name, or ``"module:ATTRIBUTE"``.
    parameters : mapping, optional
        Parameter overrides by name, applied after the parameter set: numbers
        in the declared unit, or text with a unit (``"104.9 degC"``).
    parameter_set : str, optional
        Name of a published parameter set of the model.
    """
    model = _find(name)
    check_model(model)
    if parameter_set:
        model = model.with_parameter_set(parameter_set)
    if parameters:
        for key in parameters:
            model.parameters.index(key)  # an unknown name lists the valid ones
        values = to_declared_values(model.parameters, parameters, f"model '{model.name}'")
        check_values(model.parameters, values, f"model '{model.name}'")
        model = model.with_parameters(values)
    return model


def _find(name: str) -> Model:
    if ":" in name:
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(f"model '{name}': cannot import module '{module_name}' ({exc})") from None
        obj = getattr(module, attr, None)
        if not isinstance(obj, Model):
            raise InputError(f"model '{name}': '{attr}' in '{module_name}' is not a twin Model")
        return obj
    if name not in plant_models.NAMES:
        raise UnknownNameError("model", name, plant_models.NAMES)
    return importlib.import_module(f"plant_models.{name}").MODEL
