"""Reading plant data files into :class:`~twin.core.data.table.PlantData`.

Wide CSV (the form the project writes): a first column ``time`` in seconds
since the start, then one column per variable; a header may carry the
unit in brackets, ``h1 [cm]``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from twin.core.data.table import PlantData
from twin.core.errors import InputError

_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]+?)\s*(?:\[(?P<unit>[^\[\]]*)\])?\s*$")
"""A column header: a name, optionally followed by its unit in brackets."""


def split_header(header: str) -> tuple[str, str | None]:
    """``"h1 [cm]"`` -> ``("h1", "cm")``; ``"h1"`` -> ``("h1", None)``."""
    match = _HEADER.match(str(header))
    if match is None:
        raise InputError(f"column header {header!r}: expected 'name' or 'name [unit]'")
    return match["name"], match["unit"]


def load_data(source: str | Path) -> PlantData:
    """Plant data from a wide CSV file (``time`` [s] first, then a column per variable).

    Raises
    ------
    InputError
        Missing or unreadable file, no ``time`` column, non-numeric values
        (one line naming the file and what is wrong).
    """
    path = Path(source)
    if not path.is_file():
        raise InputError(f"plant data '{source}': no such file")
    try:
        raw = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"plant data '{source}': cannot read it as CSV ({exc})") from None
    return _from_wide(raw, str(source))


def _from_wide(raw: pd.DataFrame, source: str) -> PlantData:
    names, units = [], {}
    for header in raw.columns:
        name, unit = split_header(header)
        names.append(name)
        if unit is not None:
            units[name] = unit
    if not names or names[0] != "time":
        raise InputError(f"plant data '{source}': the first column must be 'time' (seconds since the start)")
    frame = raw.set_axis(names, axis=1)
    try:
        frame = frame.astype(float)
    except ValueError as exc:
        raise InputError(f"plant data '{source}': non-numeric value ({exc})") from None
    frame = frame.set_index("time")
    units.pop("time", None)
    return PlantData(frame, units, None, source)
