"""Units of model variables (pint): parsing, values with units, bounds checks.

Every model declares a unit for each variable in the usual engineering
spelling (``"mol/L"``, ``"kJ/(h m2 K)"``, ``"degC"``, ``"-"`` for
dimensionless). They are read by one shared pint registry,
:func:`registry`, which also understands exponents written as digits
(``m2``, ``cm3``, ``s2``).

Values given by a user (command line, TOML files, schedules) may carry a
unit: ``90degC``, ``378.05 K``, ``"0.5 mol/L"``. :func:`to_declared` turns
such a value into a float in the variable's declared unit; a bare number
already is in the declared unit. Temperatures in degC/degF are absolute
values here (``363.15 K`` is ``90 degC``); in the dimension check of the
equations (:mod:`twin.core.dimensions`) a temperature state's derivative is
a temperature *difference* per time.

:func:`check_value` compares a value with the variable's bounds: outside
the operating bounds is a warning (logged on ``twin.core.units``, one line
naming the variable, the bound, the unit and the value); outside the
physical bounds, or below absolute zero, the model cannot be evaluated
there and it is an :class:`~twin.core.errors.InputError`.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from twin.core.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pint

    from twin.core.variables import Variable, VariableSet

log = logging.getLogger(__name__)

DIMENSIONLESS = ("-", "", "1")
"""Spellings of "no unit" (a ratio, a fraction, a count)."""

_EXPONENT = re.compile(r"\b([A-Za-z]+)(\d+)\b")
"""A unit name followed by digits, ``m2`` or ``s2``: the digits are an exponent."""

_NUMBER_AND_UNIT = re.compile(
    r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")
"""A number, then (optionally) a unit: ``90degC``, ``0.5 mol/L``, ``-1e3 kJ/h``."""


def _exponents(text: str) -> str:
    return _EXPONENT.sub(r"\1**\2", text)


@functools.cache
def registry() -> "pint.UnitRegistry":
    """The one pint unit registry of the project (built on first use, ~0.5 s).

    Beside pint's own units it knows ``USD`` (a currency, for costs and
    prices) and ``kscm`` (thousand standard cubic metres, 1000 m3 of gas at
    standard conditions: Downs & Vogel's gas flows are in kscm/h).
    """
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=False, cache_folder=None,
                             preprocessors=[_exponents])
    ureg.define("USD = [currency]")
    ureg.define("kscm = 1000 * meter ** 3")
    return ureg


@functools.lru_cache(maxsize=1024)
def _parse(text: str) -> "pint.Unit":
    ureg = registry()
    spelled = text.strip()
    if spelled in DIMENSIONLESS:
        return ureg.dimensionless
    return ureg.parse_units(spelled)


def parse_unit(text: str, where: str) -> "pint.Unit":
    """The pint unit spelled ``text``; an unknown unit is an error naming ``where``."""
    if not isinstance(text, str):
        raise InputError(f"{where}: unit {text!r} is not text")
    try:
        return _parse(text)
    except Exception as exc:  # pint raises many kinds (undefined, syntax, tokenizer)
        reason = "not a known unit" if type(exc).__name__ == "UndefinedUnitError" \
            else "not a unit expression"
        raise InputError(f"{where}: unit '{text}' is {reason} (write e.g. mol/L, kJ/(h m2 K), "
                         "degC, - for none)") from None


def check_variable_units(variables: "VariableSet", owner: str) -> None:
    """Parse the unit of every variable of a set; an unknown one names the variable."""
    for v in variables:
        parse_unit(v.unit, f"{owner}: {variables.kind} '{v.name}'")


def is_offset(unit: "pint.Unit") -> bool:
    """True for units with a zero offset (degC, degF): values, not differences."""
    ureg = registry()
    return any(not ureg._units[name].is_multiplicative  # noqa: SLF001 - pint has no public form
               for name in unit._units)  # noqa: SLF001


def difference_unit(unit: "pint.Unit") -> "pint.Unit":
    """The unit of a difference of two values in ``unit`` (``degC`` -> ``delta_degC``)."""
    if not is_offset(unit):
        return unit
    ureg = registry()
    result = ureg.dimensionless
    for name, power in unit._units.items():  # noqa: SLF001
        if not ureg._units[name].is_multiplicative:  # noqa: SLF001
            name = f"delta_{name}"
        result = result * ureg.Unit(name) ** power
    return result


def split_value(text: str) -> tuple[float, str] | None:
    """``"90degC"`` -> ``(90.0, "degC")``, ``"0.25/min"`` -> ``(0.25, "1/min")``;
    ``None`` when ``text`` does not start with a number."""
    match = _NUMBER_AND_UNIT.match(text)
    if match is None:
        return None
    unit = match.group(2)
    return float(match.group(1)), f"1{unit}" if unit.startswith("/") else unit


def check_text(text: str, where: str) -> None:
    """Check that ``text`` is a number with an optional known unit (no model needed)."""
    parsed = split_value(text)
    if parsed is None:
        raise InputError(f"{where}: '{text}' is not a number with an optional unit "
                         "(e.g. 90degC, 0.5 mol/L)")
    if not math.isfinite(parsed[0]):
        raise InputError(f"{where}: '{text}' is not a finite number")
    if parsed[1]:
        parse_unit(parsed[1], where)


ModelValue = float | str
"""A value of a model variable in a configuration file: a number in the declared unit,
or text with a unit (``"0.5 mol/L"``), converted once the model is known."""


def check_texts(values: Mapping[str, Any], where: str, model_plant: bool = True) -> None:
    """Check the text values (with units) of a name -> value table of a configuration file.

    ``model_plant`` False: the values go to an FMU, which takes bare numbers only.
    """
    for name, value in values.items():
        if isinstance(value, str):
            if not model_plant:
                raise InputError(f"{where}.{name}: '{value}': values with a unit need a model "
                                 "plant; give an FMU's values as numbers in its own units")
            check_text(value, f"{where}.{name}")


def to_declared(value: Any, unit: str, where: str) -> float:
    """``value`` as a float in the declared ``unit``.

    ``value`` is a number (already in ``unit``) or text: a bare number, or a
    number with a unit (``"90degC"``, ``"378.05 K"``, ``"0.5 mol/L"``), converted
    to ``unit``. An incompatible or unknown unit, or a value that is not a
    finite number, is a one-line :class:`InputError` naming ``where``.
    """
    if isinstance(value, bool):
        raise InputError(f"{where}: expected a number, got {value!r}")
    if not isinstance(value, str):
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InputError(f"{where}: '{value}' is not a number") from None
        if not math.isfinite(number):
            raise InputError(f"{where}: {value} is not a finite number")
        return number
    check_text(value, where)
    magnitude, text = split_value(value)  # type: ignore[misc]
    if not text or text.strip() == unit.strip():
        return magnitude
    given = parse_unit(text, where)
    declared = parse_unit(unit, f"{where} (declared unit)")
    ureg = registry()
    try:
        number = float(ureg.Quantity(magnitude, given).to(declared).magnitude)
    except Exception:  # DimensionalityError, offset units in compound units
        raise InputError(f"{where}: '{value}' cannot be converted to the declared unit "
                         f"{unit} ({_dimension(given)} is not {_dimension(declared)})") from None
    if not math.isfinite(number):
        raise InputError(f"{where}: '{value}' is not a finite number in {unit}")
    return number


def convert_array(values: Any, unit: str, declared: str, where: str) -> Any:
    """Numbers given in ``unit`` as a NumPy array in the ``declared`` unit (offsets applied)."""
    import numpy as np

    given = parse_unit(unit, where)
    target = parse_unit(declared, f"{where} (declared unit)")
    try:
        out = registry().Quantity(np.asarray(values, dtype=float), given).to(target).magnitude
    except Exception:
        raise InputError(f"{where}: values in {unit} cannot be converted to the declared unit "
                         f"{declared} ({_dimension(given)} is not {_dimension(target)})") from None
    return np.asarray(out, dtype=float)


def _dimension(unit: "pint.Unit") -> str:
    dims = str(unit.dimensionality)
    return "dimensionless" if dims in ("dimensionless", "") else dims


def to_declared_values(variables: "VariableSet", values: Mapping[str, Any],
                       where: str) -> dict[str, float]:
    """Each value of a name -> value mapping in its variable's declared unit (names checked)."""
    return {name: to_declared(value, variables[name].unit, f"{where}: {variables.kind} '{name}'")
            for name, value in values.items()}


def _interval(low: float, high: float, unit: str) -> str:
    """``[50, 120] degC``; ``>= 0 mol/L``; no unit for dimensionless values."""
    from twin.core.ranges import range_text

    return range_text(low, high, "" if unit.strip() in DIMENSIONLESS else unit)


def _show(value: float, unit: str) -> str:
    return f"{value:g}" if unit.strip() in DIMENSIONLESS else f"{value:g} {unit}"


def check_value(variable: "Variable", value: float, where: str) -> str | None:
    """Compare a value [declared unit] with the variable's bounds.

    Returns (and logs as a warning) a one-line message when ``value`` is
    outside the operating bounds; raises :class:`InputError` when it is
    outside the physical bounds or below absolute zero (the model cannot be
    evaluated there). Returns ``None`` for a value within its bounds.
    """
    v, unit = variable, variable.unit
    what = f"{where}: {v.name} = {_show(value, unit)}"
    low, high = v.physical_bounds
    if not low <= value <= high:
        raise InputError(f"{what} is outside its physical bounds {_interval(low, high, unit)}")
    if _may_be_offset(unit):
        declared = parse_unit(unit, f"{where}: {v.name}")
        if is_offset(declared) and len(declared._units) == 1:  # noqa: SLF001
            kelvin = registry().Quantity(value, declared).to("kelvin").magnitude
            if kelvin < 0:
                raise InputError(f"{what} is below absolute zero")
    if value < v.lower or value > v.upper:
        side = f"below its lower bound {_show(v.lower, unit)}" if value < v.lower \
            else f"above its upper bound {_show(v.upper, unit)}"
        message = f"{what} is {side} (bounds {_interval(v.lower, v.upper, unit)}); using it anyway"
        log.warning(message)
        return message
    return None


def _may_be_offset(unit: str) -> bool:
    """True when ``unit`` may be degC/degF (checked by pint, which is not imported otherwise)."""
    text = unit.lower()
    return any(word in text for word in ("deg", "\u00b0", "celsius", "fahrenheit", "rankine",
                                         "reaumur"))


def check_values(variables: "VariableSet", values: Mapping[str, float], where: str) -> list[str]:
    """:func:`check_value` for each named value; the warnings issued."""
    warnings = []
    for name, value in values.items():
        message = check_value(variables[name], value, where)
        if message:
            warnings.append(message)
    return warnings
