"""Piecewise-constant input schedules (zero-order hold).

A schedule is a table with a ``time`` column (in the model's time unit)
and one column per input it sets; each row's values hold from its time
until the next row. Inputs the schedule does not name keep their base
value (nominal, or set on the command line); before the first row every
input has its base value. Files: CSV or Parquet.

Values are in the input's declared unit, unless the column header names
another (``T_R [K]``, converted to the declared unit) or a cell is text
with a unit (``90 degC``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.core.errors import InputError
from twin.core.variables import VariableSet

TIME_COLUMN = "time"


@dataclass(frozen=True)
class InputSchedule:
    """Input values as a step function of time.

    Attributes
    ----------
    base : numpy.ndarray
        Full input vector in force before the first change [input units].
    times : numpy.ndarray
        Strictly increasing change times, shape (k,) [model time unit].
    values : numpy.ndarray
        Full input vectors in force from each change time, shape (k, n_u).
    """

    base: np.ndarray
    times: np.ndarray
    values: np.ndarray

    @classmethod
    def constant(cls, u: np.ndarray) -> "InputSchedule":
        """Inputs that never change."""
        u = np.asarray(u, dtype=float)
        return cls(u, np.zeros(0), np.zeros((0, u.size)))

    @classmethod
    def from_steps(cls, inputs: VariableSet, base: np.ndarray,
                   steps: Sequence[tuple[float, Mapping[str, float]]]) -> "InputSchedule":
        """Build from ``[(time, {name: value}), ...]``; later steps keep earlier changes."""
        times, values = [], []
        current = np.array(base, dtype=float)
        for t, change in sorted(steps, key=lambda s: s[0]):
            current = inputs.vector(change, base=current)
            if times and t == times[-1]:
                values[-1] = current
            else:
                times.append(float(t))
                values.append(current)
        return cls._checked(inputs, np.asarray(base, float), np.array(times),
                            np.array(values).reshape(len(times), len(inputs)))

    @classmethod
    def from_table(cls, inputs: VariableSet, base: np.ndarray, columns: Mapping[str, Sequence],
                   source: str = "schedule") -> "InputSchedule":
        """Build from columns: ``time`` plus one column per scheduled input."""
        if TIME_COLUMN not in columns:
            raise InputError(f"{source}: no '{TIME_COLUMN}' column (columns: {', '.join(columns)})")
        headers = {name: header for header, (name, _) in
                   ((h, _split_header(h)) for h in columns if h != TIME_COLUMN)}
        if not headers:
            raise InputError(f"{source}: no input columns besides '{TIME_COLUMN}'")
        for name in headers:
            inputs.index(name)  # unknown names list the valid inputs
        times = _numeric(columns[TIME_COLUMN], f"{source}: column '{TIME_COLUMN}'")
        if times.size == 0:
            raise InputError(f"{source}: has no rows")
        values = np.tile(np.asarray(base, dtype=float), (times.size, 1))
        for name, header in headers.items():
            values[:, inputs.index(name)] = _column(inputs, name, header, columns[header],
                                                    f"{source}: column '{header}'")
        return cls._checked(inputs, np.asarray(base, float), times, values, source)

    @classmethod
    def read(cls, path: str | Path, inputs: VariableSet, base: np.ndarray) -> "InputSchedule":
        """Read a CSV or Parquet schedule file."""
        import pandas as pd

        path = Path(path)
        if not path.is_file():
            raise InputError(f"inputs file '{path}' not found")
        suffix = path.suffix.lower()
        try:
            if suffix == ".csv":
                _check_separator(path)
                frame = pd.read_csv(path)
            elif suffix == ".parquet":
                frame = pd.read_parquet(path)
            else:
                raise InputError(f"inputs file '{path}': use a .csv or .parquet file")
        except (ValueError, OSError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(f"inputs file '{path}' cannot be read: {_first_line(exc)}") from None
        columns = {str(c).strip(): frame[c].to_numpy() for c in frame.columns}
        return cls.from_table(inputs, base, columns, source=f"inputs file '{path}'")

    @classmethod
    def _checked(cls, inputs: VariableSet, base, times, values, source="schedule"):
        if np.any(np.diff(times) <= 0):
            raise InputError(f"{source}: times must be strictly increasing")
        inputs.check_bounds(base, "input")
        for row in values:
            inputs.check_bounds(row, source)
        return cls(base, times, values)

    def at(self, t: float) -> np.ndarray:
        """Input vector in force at time ``t`` (right-continuous)."""
        k = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.base if k < 0 else self.values[k]

    def change_times(self, t0: float, t1: float) -> np.ndarray:
        """Change times strictly inside ``(t0, t1)``."""
        return self.times[(self.times > t0) & (self.times < t1)]


_HEADER = re.compile(r"^\s*(\w+)\s*\[(.+)\]\s*$")
"""A column header with a unit: ``T_R [K]``."""


def _split_header(header: str) -> tuple[str, str | None]:
    """``"T_R [K]"`` -> ``("T_R", "K")``; ``"T_R"`` -> ``("T_R", None)``."""
    match = _HEADER.match(header)
    return (match.group(1), match.group(2).strip()) if match else (header, None)


def _column(inputs, name: str, header: str, column: Sequence, what: str) -> np.ndarray:
    """One input's column in its declared unit.

    A unit in the header (``T_R [K]``) applies to the whole column; cells may
    also be text with a unit (``90 degC``); bare numbers are in the declared unit.
    """
    _, unit = _split_header(header)
    declared = _declared_unit(inputs, name)
    cells = np.asarray(column)
    if cells.dtype.kind in "OUS" and unit is None:
        from twin.core.units import to_declared

        if declared is None:
            return _numeric(column, what)
        from twin.core.units import split_value

        for i, c in enumerate(cells):
            if isinstance(c, str) and split_value(c) is None:
                raise InputError(f"{what} has non-numeric values ('{c}' in row {i + 1}; a value "
                                 "may carry a unit, e.g. 90 degC)")
        return np.array([to_declared(c if isinstance(c, str) else float(c), declared,
                                     f"{what} row {i + 1}") for i, c in enumerate(cells)])
    numbers = _numeric(column, what)
    if unit is None:
        return numbers
    if declared is None:
        raise InputError(f"{what}: this plant declares no unit for '{name}'; "
                         "give the values in its own unit, without [unit]")
    from twin.core.units import convert_array

    return convert_array(numbers, unit, declared, what)


def _declared_unit(inputs, name: str) -> str | None:
    try:
        return inputs[name].unit
    except (TypeError, KeyError, AttributeError, IndexError):
        return None


def _numeric(column: Sequence, what: str) -> np.ndarray:
    try:
        arr = np.asarray(column, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{what} has non-numeric values") from None
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{what} has empty, NaN or infinite values")
    return arr


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _check_separator(path: Path) -> None:
    """Refuse a CSV written with another separator (a spreadsheet's ';' or a tab).

    Not guessed: such files often have decimal commas too (``0,5``), which a
    guessed separator would turn into wrong numbers without a word.
    """
    with open(path, encoding="utf-8", errors="replace") as f:
        header = f.readline().strip()
    if "," in header:
        return
    for sep, name in ((";", "';'"), ("\t", "tab")):
        if sep in header:
            shown = header.replace("\t", "\\t")
            raise InputError(f"inputs file '{path}' looks {name}-separated (header: {shown}): "
                             "write it comma-separated, with '.' as the decimal point")
