"""The progress hook of long work: closed loops, what-if studies, deployed loops.

The running code calls one callback, ``progress(update)``, with a
:class:`ProgressUpdate` after each unit of work (a control cycle, a chunk
of scenarios). It knows nothing of terminals: the command line draws the
updates (see ``twin.cli.progress_display``), a script may log them or
ignore them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ProgressUpdate:
    """Where long work stands.

    Attributes
    ----------
    done : int
        Units finished (control cycles, scenarios).
    total : int or None
        Units planned (None: a deployed loop without a duration runs until stopped).
    unit : str
        What is counted ("cycles", "scenarios").
    failed : int
        Failures so far (solver failures, failed scenarios).
    sheds : int
        Sheds so far (closed and deployed loops).
    given_up : int
        Episodes so far in which the target calculation gave up a setpoint or limit.
    warnings : tuple of str
        New warnings since the previous update (one line each).
    status : mapping
        The latest cycle of a deployed loop: ``t`` [time unit], ``time_unit``,
        ``mode``, ``state`` (waiting/active/shed), ``solve_ms`` [ms], and
        ``cvs``: name -> (value, setpoint or None, unit).
    """

    done: int
    total: int | None
    unit: str = "cycles"
    failed: int = 0
    sheds: int = 0
    given_up: int = 0
    warnings: tuple[str, ...] = ()
    status: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fraction(self) -> float | None:
        """Share of the work done [-], None without a total."""
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


Progress = Callable[[ProgressUpdate], None]
"""The progress hook: called with a :class:`ProgressUpdate` after each unit of work."""
