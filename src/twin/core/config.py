"""Strict loading of configuration files (TOML) into frozen dataclasses.

Every configuration of the project (controller specs, loop configs, study
files) is a tree of frozen dataclasses. :func:`build` turns a parsed TOML
table into one, checking as it goes:

- an unknown key is an error that names the valid keys;
- a missing required key is an error that names it;
- numbers must be numbers (ints accepted for floats), strings strings,
  booleans booleans; lists and nested tables are checked element by element;
- ``Literal[...]`` fields accept only the listed values.

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
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

from twin.core.errors import InputError

T = TypeVar("T")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is a one-line error."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"configuration file '{path}' not found")
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"configuration file '{path}': {exc}") from None


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
    hints = get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise InputError(f"{where}: unknown key '{unknown[0]}'; valid keys: {', '.join(fields)}")
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
    origin = get_origin(tp)
    if tp is Any:
        return value
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
        if math.isnan(value):
            raise InputError(f"{where}: expected a number, got nan")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise InputError(f"{where}: expected a string, got {_show(value)}")
        return value
    raise TypeError(f"unsupported annotation {tp!r} at {where}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
