"""Parsing of ``NAME=VALUE`` options into checked mappings.

A value is a bare number in the variable's declared unit, or a number with
a unit (``--u T_R=90degC``, ``--set T_in=378.05K``), converted to the
declared unit when the variable is known (:func:`checked`,
:func:`twin.core.units.to_declared`).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Iterable, Iterator, Mapping

import click

from twin.core.errors import InputError
from twin.core.variables import VariableSet

WARNING_LOGGERS = ("twin.core.units", "twin.orchestration.steptest.design")
"""Loggers whose warnings the command line prints as ``twin: warning: ...`` lines."""


def assignments(items: Iterable[str], option: str) -> dict[str, float | str]:
    """``["T_in=104.9", "T_R=90degC"]`` to ``{"T_in": 104.9, "T_R": "90degC"}``.

    Bare numbers become floats; a number with a unit stays text (its unit
    is checked here, converted by :func:`checked` or the model loader).
    One-line errors name the option.
    """
    out: dict[str, float | str] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name, text = name.strip(), text.strip()
        if not sep or not name:
            raise InputError(f"{option} {item}: expected NAME=VALUE")
        value: float | str
        try:
            value = float(text)
        except ValueError:
            from twin.core.units import check_text

            check_text(text, f"{option} {item}")
            value = text
        if isinstance(value, float) and not math.isfinite(value):
            raise InputError(f"{option} {item}: '{text}' is not a finite number")
        if name in out:
            raise InputError(f"{option}: '{name}' given twice")
        out[name] = value
    return out


def checked(variables: VariableSet, values: Mapping[str, float | str], option: str,
            bounds: bool = True) -> dict[str, float]:
    """Values by name in their declared units, names checked; the errors name the option.

    With ``bounds``, a value outside its variable's bounds is a warning,
    outside its physical bounds an error (:func:`twin.core.units.check_value`).
    """
    for name in values:
        if name not in variables:
            try:
                variables.index(name)
            except InputError as exc:
                raise InputError(f"{option}: {exc}") from None
    if not values:
        return {}
    from twin.core.units import check_values, to_declared

    out = {name: to_declared(value, variables[name].unit, f"{option} {name}")
           for name, value in values.items()}
    if bounds:
        check_values(variables, out, option)
    return out


class _EchoWarnings(logging.Handler):
    """Keeps warnings as ``twin: warning: ...`` lines until the command is done."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"twin: warning: {' '.join(record.getMessage().split())}")


@contextlib.contextmanager
def warnings_on_stderr() -> Iterator[None]:
    """While a command runs, collect the warnings of :data:`WARNING_LOGGERS`.

    They are printed on stderr, one line each, when the command ends (also
    when it ran but failed); a command refused for bad input (exit status 2)
    prints only its one error line.
    """
    handler = _EchoWarnings()
    saved = []
    for name in WARNING_LOGGERS:
        logger = logging.getLogger(name)
        saved.append((logger, logger.propagate))
        logger.addHandler(handler)
        logger.propagate = False
    refused = False
    try:
        yield
    except BaseException as exc:
        refused = _is_refusal(exc)
        raise
    finally:
        for logger, propagate in saved:
            logger.removeHandler(handler)
            logger.propagate = propagate
        if not refused:
            for line in handler.lines:
                click.echo(line, err=True)


def _is_refusal(exc: BaseException) -> bool:
    """True for bad input: the command exits with status 2 and one error line."""
    from twin.core.errors import TwinError

    if isinstance(exc, TwinError):
        return exc.exit_code == 2
    if isinstance(exc, click.ClickException):
        return isinstance(exc, click.UsageError) or exc.exit_code == 2
    return isinstance(exc, OSError) or (isinstance(exc, SystemExit) and exc.code == 2)
