"""Strict loading of configuration files (TOML) into frozen dataclasses.

Every configuration of the project (controller specs, loop configs, study
files) is a tree of frozen dataclasses. :func:`build` turns a parsed TOML
table into one, checking as it goes:

- an unknown key is an error that names the valid keys;
- a missing required key is an error that names it;
- numbers must be numbers (ints accepted for floats), strings strings,
  booleans booleans; lists and nested tables are checked element by element;
- ``Literal[...]`` fields accept only the listed values;
- every number is finite (``nan`` and ``inf`` are refused everywhere), and a
  field annotated with a :class:`Domain` (``Annotated[float, Domain(gt=0)]``,
  or the aliases :data:`Positive`, :data:`NonNegative`, :data:`Fraction`,
  :func:`Count`) accepts only values in it. The domain of every numeric
  field is declared once, on the field, and checked here.

Errors are :class:`~twin.core.errors.InputError` with the dotted path of the
offending key, e.g. ``controller.cv[2].rank: expected an integer, got 'high'``.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from twin.core.errors import InputError

T = TypeVar("T")

MAX_TEXT = 1 << 20
"""Largest configuration file read [bytes]; configuration files are small."""


@dataclass(frozen=True)
class Domain:
    """The values a numeric configuration field accepts (always finite).

    ``gt``/``ge`` and ``lt``/``le`` are exclusive and inclusive bounds.
    """

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None

    def contains(self, value: float) -> bool:
        """True when ``value`` (a finite number) is in the domain."""
        return not ((self.gt is not None and not value > self.gt)
                    or (self.ge is not None and not value >= self.ge)
                    or (self.lt is not None and not value < self.lt)
                    or (self.le is not None and not value <= self.le))

    def describe(self) -> str:
        """The domain in words, e.g. ``a number > 0``."""
        parts = [f"{op} {_num(v)}" for op, v in ((">", self.gt), (">=", self.ge),
                                                ("<", self.lt), ("<=", self.le)) if v is not None]
        return " and ".join(parts) if parts else "finite"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


Positive = Annotated[float, Domain(gt=0)]
"""A finite number > 0."""
NonNegative = Annotated[float, Domain(ge=0)]
"""A finite number >= 0."""
Fraction = Annotated[float, Domain(ge=0, le=1)]
"""A number in [0, 1]."""
Filter = Annotated[float, Domain(gt=0, le=1)]
"""A first-order filter factor: the fraction (0..1] of a new value taken."""


def Count(low: int = 1, high: int = 1_000_000) -> Any:  # noqa: N802 - reads as a type
    """An integer in ``[low, high]``."""
    return Annotated[int, Domain(ge=low, le=high)]


def check_domains(obj: Any) -> None:
    """Check the declared domains of a dataclass made in Python (``build`` checks files).

    Call it from ``__post_init__``: a number outside its field's domain, or
    not finite, is an :class:`InputError` naming the field.
    """
    hints = get_type_hints(type(obj), include_extras=True)
    for f in dataclasses.fields(obj):
        for where, number, domain in _numbers(hints[f.name], getattr(obj, f.name), f.name):
            if not math.isfinite(number):
                raise InputError(f"{where}: expected a finite number, got {number}")
            if domain is not None and not domain.contains(number):
                raise InputError(f"{where}: {_show(number)} is out of range (expected "
                                 f"{domain.describe()})")


def _numbers(tp: Any, value: Any, where: str):
    """(path, number, domain) of every number in ``value`` typed ``tp`` (not in nested dataclasses)."""
    tp, domain = domain_of(tp)
    if value is None or isinstance(value, bool):
        return
    if get_origin(tp) in (typing.Union, types.UnionType):
        for option in get_args(tp):
            base, _ = domain_of(option)
            if base in (int, float) and isinstance(value, (int, float)) \
                    or get_origin(base) in (tuple, list, dict) and isinstance(value, (tuple, list, dict)):
                yield from _numbers(option, value, where)
                return
        return
    if tp in (int, float) and isinstance(value, (int, float)):
        yield where, value, domain
    elif get_origin(tp) in (tuple, list) and isinstance(value, (tuple, list)):
        item = (get_args(tp) or (Any,))[0]
        for i, v in enumerate(value):
            yield from _numbers(item, v, f"{where}[{i}]")
    elif get_origin(tp) is dict and isinstance(value, dict):
        item = (get_args(tp) or (str, Any))[1]
        for k, v in value.items():
            yield from _numbers(item, v, f"{where}.{k}")


def domain_of(tp: Any) -> tuple[Any, Domain | None]:
    """The base type and the :class:`Domain` of an annotation (``None``: finite numbers)."""
    if get_origin(tp) is Annotated:
        base, *extra = get_args(tp)
        domains = [d for d in extra if isinstance(d, Domain)]
        return base, (domains[0] if domains else None)
    return tp, None


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"configuration file '{path}' not found")
    with path.open("rb") as fh:
        raw = fh.read(MAX_TEXT + 1)
    if len(raw) > MAX_TEXT:
        raise InputError(f"configuration file '{path}' is larger than {MAX_TEXT} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"configuration file '{path}' is not UTF-8 text (byte {exc.start}); "
                         "save it as UTF-8") from None
    return parse_toml(text, f"configuration file '{path}'")


def parse_toml(text: str, where: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error (or a structure too deep to parse) is a one-line error."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{where}: {exc}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(f"{where}: {' '.join(str(exc).split()[:8])}") from None
    except RecursionError:
        raise InputError(f"{where}: nested too deeply") from None


def table_or_file(data: dict[str, Any], key: str, base: Path | None, where: str,
                  from_table: Callable[[Any, str], T], from_file: Callable[[Path], T],
                  what: str) -> T:
    """Take ``key`` (an inline table) or ``<key>_file`` (a file, relative to ``base``) out of
    ``data`` and load it; exactly one of the two must be there."""
    file_key = f"{key}_file"
    if file_key in data:
        if key in data:
            raise InputError(f"{where}: give either '{key}' or '{file_key}', not both")
        path = Path(data.pop(file_key))
        return from_file(base / path if base is not None and not path.is_absolute() else path)
    if key in data:
        return from_table(data.pop(key), f"{where}.{key}")
    raise InputError(f"{where}: missing the {what} ('{key}' table or '{file_key}')")


def build(cls: type[T], data: Any, where: str) -> T:
    """An instance of dataclass ``cls`` from a mapping, checked key by key."""
    if not isinstance(data, dict):
        raise InputError(f"{where}: expected a table, got {_show(data)}")
    hints = get_type_hints(cls, include_extras=True)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise InputError(f"{where}: unknown key {_key(unknown[0])}; valid keys: {', '.join(fields)}")
    kwargs = {}
    for name, f in fields.items():
        path = f"{where}.{name}"
        if name in data:
            kwargs[name] = convert(hints[name], data[name], path)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise InputError(f"{where}: missing required key '{name}'")
    try:
        return cls(**kwargs)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def convert(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked (and converted) to type annotation ``tp``."""
    tp, domain = domain_of(tp)
    origin = get_origin(tp)
    if tp is Any:
        return value
    if domain is not None:
        number = convert(tp, value, where)
        if not domain.contains(number):
            raise InputError(f"{where}: {_show(value)} is out of range (expected "
                             f"{'an integer' if tp is int else 'a number'} "
                             f"{domain.describe()})")
        return number
    if origin in (typing.Union, types.UnionType):
        options = get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return convert(option, value, where)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if len(errors) == 1 else
                         f"{where}: {_show(value)} matches none of the accepted forms")
    if origin is Literal:
        allowed = get_args(tp)
        if value not in allowed:
            raise InputError(f"{where}: {_show(value)} is not one of "
                             f"{', '.join(repr(a) for a in allowed)}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list):
            raise InputError(f"{where}: expected a list, got {_show(value)}")
        args = get_args(tp)
        item = args[0] if args else Any
        return tuple(convert(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise InputError(f"{where}: expected a table, got {_show(value)}")
        key_t, val_t = get_args(tp) or (str, Any)
        for k in value:
            if not str(k).isprintable():
                raise InputError(f"{where}: key {_key(k)} has control characters")
        return {str(k): convert(val_t, v, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if tp is bool:
        if not isinstance(value, bool):
            raise InputError(f"{where}: expected true or false, got {_show(value)}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InputError(f"{where}: expected an integer, got {_show(value)}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{where}: expected a number, got {_show(value)}")
        try:
            number = float(value)
        except OverflowError:  # an integer beyond the range of floats
            raise InputError(f"{where}: {_show(value)} is too large") from None
        if not math.isfinite(number):
            raise InputError(f"{where}: expected a finite number, got {_show(value)}")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {_show(value)}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {where}")


def _key(key: Any) -> str:
    """A key for a one-line message: quoted, control characters escaped."""
    text = str(key)
    return f"'{text}'" if text.isprintable() else repr(text)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
