"""Finding plant models by reference (the one resolver every command uses).

A reference (:mod:`twin.core.model_ref`) is a shipped model's name
(``"cstr"``, in :mod:`plant_models`), the name of a model an installed
package registers in the entry point group ``process_twin.models``, a model
file (``"./reactor.py"`` or ``"./reactor.py:NAME"``), an identified model
file (``"./quad_id.toml"``, :mod:`apc.ident.model_file`: a linear model that
loads as a :class:`Model`), or ``"package.module:ATTRIBUTE"``. Every model is
checked when it is loaded (:func:`twin.core.equation_check.check_equations`).

Every model is also checked against its units when it loads
(:func:`twin.core.dimensions.check_model`: its unit strings are known and its
equations agree with them), and parameter values may carry a unit
(``"104.9 degC"``); a value outside its bounds is a warning
(:func:`twin.core.units.check_value`).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

from twin.core.dimensions import check_model
from twin.core.equation_check import check_equations
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.param_file import is_param_file, read_param_file
from twin.core.units import check_values, to_declared_values
from twin.core.model_ref import (DEFAULT_ATTRIBUTE, ENTRY_POINT_GROUP, FORMS, resolve_reference,
                                 split_file_reference)

import plant_models

log = logging.getLogger(__name__)

_FILE_MODULES: dict[tuple[str, int, int], object] = {}
"""Model files already imported (identified model files: loaded), by (path, modification
time [ns], size [bytes])."""


@dataclass(frozen=True)
class ModelEntry:
    """A model ``twin models`` lists: its reference and where it comes from."""

    name: str
    origin: str
    """``"shipped"``, ``"entry point <value> (<distribution>)"`` or ``"file <path>"``."""


def model_names() -> list[str]:
    """Names of the shipped models (:data:`plant_models.SHIPPED`)."""
    return list(plant_models.SHIPPED)


def registered() -> dict[str, EntryPoint]:
    """Models installed packages register (entry point group ``process_twin.models``), by name."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)
            if ep.name not in plant_models.SHIPPED}


def available(files: tuple[str, ...] = ()) -> list[ModelEntry]:
    """Shipped and registered models, and the model ``files`` given, with their origin."""
    names = [*plant_models.SHIPPED, *sorted(registered()), *files]
    return [ModelEntry(n, origin(n)) for n in names]


def origin(name: str) -> str:
    """Where the model ``name`` refers to comes from, in words."""
    if name in plant_models.SHIPPED:
        return "shipped"
    if split_file_reference(name) is not None:
        return f"file {resolve_reference(name)}"
    if ":" in name:
        return f"module {name}"
    eps = registered()
    if name in eps:
        dist = eps[name].dist
        return f"entry point {eps[name].value}" + (f" ({dist.name} {dist.version})" if dist else "")
    return "unknown"


def load_model(name: str, parameters: Mapping[str, float | str] | None = None,
               parameter_set: str | None = None) -> Model:
    """The model ``name`` refers to, with a parameter set and overrides applied, checked.

    Parameters
    ----------
    name : str
        A shipped or registered model name, a model file (``"./reactor.py"``,
        ``"reactor.py:NAME"``; relative to the working folder), or
        ``"package.module:ATTRIBUTE"``.
    parameters : mapping, optional
        Parameter overrides by name, applied after the parameter set: numbers
        in the declared unit, or text with a unit (``"104.9 degC"``).
    parameter_set : str, optional
        Name of a published parameter set of the model, or a parameter-set
        file (a path ending in ``.toml`` or naming a file; see
        :mod:`twin.core.param_file`), e.g. one ``twin calibrate`` wrote.

    Raises
    ------
    InputError
        Unknown name, unreadable file, not a model, or equations that fail
        the checks on load (one line naming what is wrong).
    """
    model = base = _find(str(name))
    label = None
    if parameter_set and is_param_file(parameter_set):
        model, label = _with_param_file(model, parameter_set)
    elif parameter_set:
        model = model.with_parameter_set(parameter_set)
    if parameters:
        for key in parameters:
            model.parameters.index(key)  # an unknown name lists the valid ones
        values = to_declared_values(model.parameters, parameters, f"model '{model.name}'")
        check_values(model.parameters, values, f"model '{model.name}'")
        model = model.with_parameters(values)
    check_equations(model)  # first: it names the line of an equation that leaves ops
    check_model(base)  # units, once per model definition
    if label is not None and not parameters:
        model = replace(model, parameter_set=label)
    return model


def _with_param_file(model: Model, path: str) -> tuple[Model, str]:
    """``model`` with a parameter-set file applied, and the set's label."""
    content = read_param_file(path)
    where = f"parameter-set file '{path}'"
    if content.model != model.name:
        raise InputError(f"{where} is for model '{content.model}', not '{model.name}'")
    if content.base:
        model = model.with_parameter_set(content.base)
    for key in content.values:
        if key not in model.parameters:
            raise UnknownNameError("parameter", key, model.parameters.names, where)
    values = to_declared_values(model.parameters, content.values, where)
    check_values(model.parameters, values, where)
    log.info("%s: %s", where, ", ".join(f"{k} = {v:g}" for k, v in values.items()))
    return model.with_parameters(values), f"file {content.name}"


def model_file(name: str) -> Path | None:
    """The source file of a model file reference (``None`` for any other reference)."""
    parts = split_file_reference(name)
    return None if parts is None else Path(resolve_reference(str(parts[0])))


def _find(name: str) -> Model:
    if name in plant_models.SHIPPED:
        return importlib.import_module(f"plant_models.{name}").MODEL
    parts = split_file_reference(name)
    if parts is not None:
        path = Path(resolve_reference(str(parts[0])))
        if path.suffix == ".toml":
            return _identified(path)
        return _model_in(_import_file(path, name), parts[1], name, str(path))
    if ":" in name:
        module_name, _, attr = name.partition(":")
        return _model_in(_import_module(module_name, name), attr, name, module_name)
    eps = registered()
    if name in eps:
        try:
            obj = eps[name].load()
        except Exception as exc:  # noqa: BLE001 - any import failure of a plug-in is its fault
            raise InputError(f"model '{name}' (entry point {eps[name].value}): cannot load it "
                             f"({type(exc).__name__}: {exc})") from None
        if not isinstance(obj, Model):
            raise InputError(f"model '{name}': entry point {eps[name].value} is not a twin Model")
        return obj
    error = UnknownNameError("model", name, [*plant_models.SHIPPED, *eps])
    error.args = (f"{error.args[0]}; a model is {FORMS}",)
    raise error


def _model_in(module: object, attr: str, name: str, where: str) -> Model:
    obj = getattr(module, attr or DEFAULT_ATTRIBUTE, None)
    if not isinstance(obj, Model):
        found = "not defined" if obj is None else f"a {type(obj).__name__}"
        raise InputError(f"model '{name}': '{attr}' in '{where}' is {found}, not a twin Model "
                         "(see 'Writing your own model' in README.md, or run `twin new-model`)")
    return obj


def _identified(path: Path) -> Model:
    """The model of an identified model file, read once per version of the file."""
    from apc.ident.model_file import IdentifiedModel

    try:
        stat = path.stat()
    except OSError:
        raise InputError(f"no identified model file {path}") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _FILE_MODULES:
        identified = IdentifiedModel.load(path)
        try:
            _FILE_MODULES[key] = identified.to_model()
        except InputError as exc:
            raise InputError(f"{path}: {exc}") from None
        log.info("identified model file %s loaded", path)
    return _FILE_MODULES[key]  # type: ignore[return-value]


def _import_module(module_name: str, name: str) -> object:
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise InputError(f"model '{name}': cannot import module '{module_name}' ({exc}); "
                         f"a model file is named by its path ('./{module_name}.py')") from None


def _import_file(path: Path, name: str) -> object:
    """Import a model file once per version of it (a changed file is imported again)."""
    try:
        stat = path.stat()
    except OSError:
        raise InputError(f"model '{name}': no model file {path}") from None
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key in _FILE_MODULES:
        return _FILE_MODULES[key]
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
    module_name = f"_twin_model_file_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"model '{name}': {path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except InputError as exc:
        sys.modules.pop(module_name, None)
        raise InputError(f"model file {path}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - the user's file: any error is theirs to fix
        sys.modules.pop(module_name, None)
        line = _error_line(exc, path)
        raise InputError(f"model file {path}{line}: {type(exc).__name__}: {exc}") from None
    log.info("model file %s imported as %s", path, module_name)
    _FILE_MODULES[key] = module
    return module


def _error_line(exc: BaseException, path: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f", line {exc.lineno}"
    tb, line = exc.__traceback__, ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = f", line {tb.tb_lineno}"
        tb = tb.tb_next
    return line
