"""The messages an FMU sends through its logger callback.

FMUs explain their failures only in their log, so every instance keeps the
latest messages and every :class:`FmuError` quotes them. In an isolated
child process the messages also go to a file, line by line, so they
survive a crash of the FMU.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from twin.core.errors import SimulationError

STATUS_NAMES = ("ok", "warning", "discard", "error", "fatal", "pending")
QUOTED_MESSAGES = 3
"""How many log messages an error quotes."""


class FmuError(SimulationError):
    """An FMU call failed, crashed, or returned non-finite values.

    Attributes
    ----------
    fmu : str
        Name of the FMU.
    time : float
        FMU time of the failure.
    log : list of str
        The FMU's latest log messages.
    """

    def __init__(self, message: str, fmu: str, time: float, log: list[str]):
        quoted = list(log)[-QUOTED_MESSAGES:]
        tail = f"; FMU log: {' | '.join(quoted)}" if quoted else "; the FMU logged nothing"
        super().__init__(message + tail)
        self.fmu, self.time, self.log = fmu, time, list(log)

    def __reduce__(self):  # crosses the process boundary of isolated FMUs
        return (_rebuild, (str(self), self.fmu, self.time, self.log))


def _rebuild(text: str, fmu: str, time: float, log: list[str]) -> FmuError:
    err = FmuError.__new__(FmuError)
    SimulationError.__init__(err, text)
    err.fmu, err.time, err.log = fmu, time, log
    return err


class FmuLog:
    """The latest messages of one FMU instance.

    Parameters
    ----------
    keep : int
        Messages kept in memory.
    file : path, optional
        Also append every message to this file (flushed per message).
    """

    def __init__(self, keep: int = 200, file: str | Path | None = None):
        self.messages: deque[str] = deque(maxlen=keep)
        self._file = open(file, "a", encoding="utf-8") if file else None  # noqa: SIM115

    def add(self, status: int, category: bytes | str | None, message: bytes | str | None) -> None:
        """Record one message (the logger callbacks of FMI 2 and 3 call this)."""
        label = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else f"status {status}"
        text = " ".join(_text(message).split())
        line = f"[{label}] {_text(category)}: {text}" if category else f"[{label}] {text}"
        self.messages.append(line)
        if self._file is not None:
            self._file.write(line + "\n")
            self._file.flush()

    def lines(self) -> list[str]:
        return list(self.messages)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def read_log_file(path: str | Path) -> list[str]:
    """Messages written to a log file by :class:`FmuLog` (empty when there is none)."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
