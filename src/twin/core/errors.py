"""Errors a user can cause and fix: each carries a one-line message.

Library code raises these for bad input (an unknown name, a non-numeric
value, a malformed schedule) and for numerical failures a user must know
about (a simulation that diverged, a steady state that was not found).
The command line prints ``str(error)`` as one line and exits with the
error's ``exit_code`` (2 for bad input, 1 for a run that started and then
had to stop); anything else is a defect and keeps its traceback.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable


class TwinError(Exception):
    """Base class of every user-facing error of the project.

    Its message is one line: a line break (with the indentation after it)
    becomes one space, as a message built from a library's multi-line error
    reads best; other control characters that came in with user input are
    shown escaped (``\\x1b``).
    """

    exit_code = 2
    """Exit status of the command line for this error."""

    def __init__(self, *args):
        if args and isinstance(args[0], str):
            args = (_one_line(args[0]),) + args[1:]
        super().__init__(*args)


def _one_line(message: str) -> str:
    message = re.sub(r"[ \t]*[\r\n]+\s*", " ", message)
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: repr(m.group())[1:-1], message)


class InputError(TwinError, ValueError):
    """A value, name or file given by the user is not acceptable."""


class UnknownNameError(InputError):
    """A name (model, variable, parameter set, ...) that does not exist."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str = ""):
        valid = [str(v) for v in valid]
        name = str(name)
        self.kind, self.name, self.valid = kind, name, valid
        close = difflib.get_close_matches(name, valid, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        place = f" of {where}" if where else ""
        super().__init__(
            f"unknown {kind} '{name}'{place}{hint}; valid: {', '.join(valid) or '(none)'}"
        )


class SimulationError(TwinError, RuntimeError):
    """The integration failed (solver error, non-finite state)."""


class SteadyStateError(TwinError, RuntimeError):
    """No steady state was found within the bounds from the given guess."""


class RunStopped(TwinError, RuntimeError):
    """A run that started had to stop (its records say why); the command exits with 1."""

    exit_code = 1
