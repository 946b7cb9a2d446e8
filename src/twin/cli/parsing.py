"""Parsing of ``NAME=VALUE`` options into checked mappings."""

from __future__ import annotations

from collections.abc import Iterable

from twin.core.errors import InputError
from twin.core.variables import VariableSet


def assignments(items: Iterable[str], option: str) -> dict[str, float]:
    """``["T_in=104.9", ...]`` to ``{"T_in": 104.9}``; one-line errors name the option."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise InputError(f"{option} {item}: expected NAME=VALUE")
        try:
            value = float(text)
        except ValueError:
            raise InputError(f"{option} {item}: '{text}' is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise InputError(f"{option} {item}: '{text}' is not a finite number")
        if name in out:
            raise InputError(f"{option}: '{name}' given twice")
        out[name] = value
    return out


def checked(variables: VariableSet, values: dict[str, float], option: str) -> dict[str, float]:
    """Check that every name exists in ``variables``; the error names the option."""
    for name in values:
        if name not in variables:
            try:
                variables.index(name)
            except InputError as exc:
                raise InputError(f"{option}: {exc}") from None
    return values
