"""Time columns of plant data files: numbers in a unit, or time stamps with time zones.

A time column holds either numbers (seconds, minutes or hours since some
origin: ``time_unit``) or time stamps (ISO 8601 text, ``2026-03-02T08:00:00+01:00``).
Time stamps with a zone or offset are converted to UTC; time stamps without
one are read in ``timezone`` (an IANA name, ``Europe/Berlin``), UTC when
none is given, and the report says which. Either way the result is the
time since the first sample [s] and, for time stamps, the UTC time of that
first sample.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from twin.core.errors import InputError

TIME_UNITS = {"s": 1.0, "min": 60.0, "h": 3600.0}
"""Units a numeric time column may be in, and their length [s]."""

_ZONE = re.compile(r"(?:Z|[+-]\d\d(?::?\d\d)?)\s*$", re.IGNORECASE)
"""A time stamp that ends with a zone: ``Z`` or an offset ``+01:00``."""


def parse_times(column: pd.Series, where: str, time_unit: str | None = None,
                timezone: str | None = None) -> tuple[np.ndarray, pd.Timestamp | None, str]:
    """Times of a column as seconds since the earliest [s], the UTC origin, and a note.

    Parameters
    ----------
    column : pandas.Series
        The file's time column, in file order (not sorted).
    where : str
        The file, for messages.
    time_unit : str, optional
        Unit of numeric times: ``s`` (default), ``min`` or ``h``.
    timezone : str, optional
        Zone of time stamps written without one (default UTC).

    Returns
    -------
    seconds : numpy.ndarray
        Time of each row since the earliest row [s], in file order.
    start : pandas.Timestamp or None
        UTC time of the earliest row (``None`` for numeric times).
    note : str
        How the times were read, for the load report.

    Raises
    ------
    InputError
        Unknown unit or zone, a value that is neither a number nor a time
        stamp, a mix of stamps with and without zones, an empty column.
    """
    if time_unit is not None and time_unit not in TIME_UNITS:
        raise InputError(f"{where}: time unit '{time_unit}' is not one of {', '.join(TIME_UNITS)}")
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise InputError(f"{where}: row {row + 1} has no time")
    if column.empty:
        raise InputError(f"{where}: no rows")
    if pd.api.types.is_datetime64_any_dtype(column):  # Parquet and Arrow keep stamps as stamps
        if time_unit is not None:
            raise InputError(f"{where}: the time column holds time stamps, not numbers in "
                             f"{time_unit}; leave out the time unit")
        return _seconds(column, timezone, where)
    numbers = pd.to_numeric(column, errors="coerce")
    if not numbers.isna().any():
        if timezone is not None:
            raise InputError(f"{where}: a time zone is for time stamps; the time column holds "
                             "numbers (give their unit instead)")
        values = numbers.to_numpy(dtype=float) * TIME_UNITS[time_unit or "s"]
        if not np.all(np.isfinite(values)):
            raise InputError(f"{where}: the time column holds a value that is not finite")
        return values - values.min(), None, f"numeric time in {time_unit or 's'}"
    if numbers.notna().any():
        row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
        raise InputError(f"{where}: row {row + 1}: '{str(column.iloc[row])[:40]}' is neither a "
                         "number nor an ISO 8601 time stamp")
    if time_unit is not None:
        raise InputError(f"{where}: the time column holds time stamps, not numbers in "
                         f"{time_unit}; leave out the time unit")
    text = column.astype(str).str.strip()
    zoned = text.str.contains(_ZONE)
    if zoned.any() and not zoned.all():
        row = int(np.flatnonzero(~zoned.to_numpy())[0])
        _stamps(text.iloc[row:row + 1], where, row)
        raise InputError(f"{where}: row {row + 1}: time stamp '{text.iloc[row]}' has no time zone "
                         "while others have one; give every stamp its zone")
    return _seconds(_stamps(text, where), timezone, where)


def _seconds(stamps: pd.Series, timezone: str | None,
             where: str) -> tuple[np.ndarray, pd.Timestamp, str]:
    """Seconds since the earliest stamp, its UTC time, and the note, from parsed stamps."""
    if stamps.dt.tz is not None:
        if timezone is not None:
            raise InputError(f"{where}: the time stamps carry their zones; leave out the time zone")
        note = "time stamps with zones, converted to UTC"
    else:
        stamps = _localize(stamps, timezone or "UTC", where)
        note = f"time stamps without a zone, read as {timezone or 'UTC'}"
    utc = stamps.dt.tz_convert("UTC")
    start = utc.min()
    seconds = (utc - start).dt.total_seconds().to_numpy(dtype=float)
    return seconds, start, note


def _stamps(text: pd.Series, where: str, first_row: int = 0) -> pd.Series:
    try:
        return pd.to_datetime(text, utc=bool(text.str.contains(_ZONE).all()), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        pass
    for row, value in enumerate(text):
        try:
            pd.Timestamp(value)
        except (ValueError, TypeError, OverflowError):
            raise InputError(f"{where}: row {first_row + row + 1}: '{value[:40]}' is neither a number nor an "
                             "ISO 8601 time stamp") from None
    raise InputError(f"{where}: the time column mixes forms of time stamps; write them all in "
                     "ISO 8601 (2026-03-02T08:00:00+01:00)")


def _localize(stamps: pd.Series, timezone: str, where: str) -> pd.Series:
    try:
        return stamps.dt.tz_localize(timezone, ambiguous="raise", nonexistent="raise")
    except (ValueError, TypeError, KeyError) as exc:
        stamp = re.search(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?", str(exc))
        if stamp is None:
            raise InputError(f"{where}: time zone '{timezone}' is not known (write e.g. "
                             "Europe/Berlin, UTC)") from None
        raise InputError(f"{where}: time stamp {stamp.group()} does not exist or is ambiguous in "
                         f"{timezone} (a clock change); export the stamps with their offsets"
                         ) from None
