"""Reading plant data files into :class:`~twin.core.data.table.PlantData`.

Files are CSV or Parquet (by suffix: ``.parquet``/``.pq``), in one of two
forms, detected from the columns or told with ``form``:

- **wide**: a time column first (``time``), then one column per tag; a
  header may carry the unit in brackets, ``h1 [cm]``;
- **long**: one row per sample, ``tag, time, value[, quality]``
  (:mod:`twin.core.data.long_form`).

Times are numbers in ``time_unit`` (s, min, h) or ISO 8601 time stamps
(:mod:`twin.core.data.times`); the table's time is the time since the first
sample [s] and ``start`` the UTC time stamp of that sample. Sampling is
kept as it is (irregular or not; resampling is
:func:`twin.core.data.resample.resample`). Rows out of time order are
sorted and a repeated time keeps its last row; the first report line says
how many. A tag map (:mod:`twin.core.data.tagmap`) renames, scales and
converts the tags; ``units`` converts named columns to the units a model
declares. Sources ``opc.tcp://...`` are OPC UA servers with history.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from twin.core.data.long_form import is_long, long_columns, pivot, quality_codes
from twin.core.data.table import PlantData
from twin.core.data.tagmap import TagMap, read_tagmap
from twin.core.data.times import parse_times
from twin.core.errors import InputError
from twin.core.units import convert_array, parse_unit, registry

_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]+?)\s*(?:\[(?P<unit>[^\[\]]*)\])?\s*$")
"""A column header: a name, optionally followed by its unit in brackets."""

PARQUET_SUFFIXES = (".parquet", ".pq")
"""File suffixes read as Parquet; anything else is read as CSV."""

MAX_MAGNITUDE = 1e15
"""Largest magnitude of a value a plant data file may hold; a larger one is refused (a
corrupt export or a sentinel value, which would break the solvers downstream)."""


def split_header(header: str, where: str = "") -> tuple[str, str | None]:
    """``"h1 [cm]"`` -> ``("h1", "cm")``; ``"h1"`` -> ``("h1", None)``."""
    match = _HEADER.match(str(header))
    if match is None:
        place = f"{where}: " if where else ""
        raise InputError(f"{place}column header or tag {str(header)[:40]!r}: expected 'name' or "
                         "'name [unit]'")
    return match["name"], match["unit"]


def load_data(source: str | Path, *, tagmap: TagMap | str | Path | None = None,
              time_unit: str | None = None, timezone: str | None = None,
              form: Literal["wide", "long"] | None = None,
              units: Mapping[str, str] | None = None) -> PlantData:
    """Plant data from a CSV or Parquet file (wide or long form) or an OPC UA server.

    Parameters
    ----------
    source : str or Path
        A file, or an ``opc.tcp://`` URL.
    tagmap : TagMap or path, optional
        Tag map: only the tags it names are kept, renamed, scaled, converted.
    time_unit : str, optional
        Unit of a numeric time column: ``s`` (default), ``min``, ``h``.
    timezone : str, optional
        Zone of time stamps written without one (default UTC).
    form : {"wide", "long"}, optional
        The file's form (default: detected from its columns).
    units : mapping, optional
        Column -> unit to convert it to (e.g. the model's declared units).

    Raises
    ------
    InputError
        Missing or unreadable file, no time column, non-numeric values,
        a bad tag map, a unit that cannot be converted (one line naming
        the file and what is wrong).
    """
    text = str(source)
    if form not in (None, "wide", "long"):
        raise InputError(f"plant data '{source}': form '{form}' is not wide or long")
    if isinstance(tagmap, (str, Path)):
        tagmap = read_tagmap(tagmap)
    where = f"plant data '{source}'"
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme:
        raw, form = _READERS.get(scheme, _not_supported)(text, where), "long"
    else:
        raw = _read(Path(source), where)
    if form == "long" or (form is None and is_long(raw)):
        frame, quality, header_units, lines = _from_long(raw, where, time_unit, timezone)
    else:
        frame, quality, header_units, lines = _from_wide(raw, where, time_unit, timezone)
    data = PlantData(frame, {}, lines.pop("start"), text, (), quality)
    reports = [lines["time"]]
    data, unit_line = _units(data, header_units, tagmap, units, where)
    return data.with_reports(*reports, *unit_line)


SourceReader = Callable[[str, str], pd.DataFrame]
"""Reads a URL (``url, where``) into a long-form table: ``tag, time, value, quality`` (time
stamps with zones, quality as OPC UA status codes or names)."""

_READERS: dict[str, SourceReader] = {}


def register_reader(scheme: str, reader: SourceReader) -> None:
    """Read sources ``scheme://...`` with ``reader``.

    The OPC UA history reader (``opc.tcp``) lives above the core, with the
    project's secure client, and registers itself here; its table is then
    read like a long-form file (tag map, units, time order, quality rule).
    """
    _READERS[scheme.lower()] = reader


def _not_supported(url: str, where: str) -> pd.DataFrame:
    scheme = url.split("://", 1)[0]
    if scheme.lower() == "opc.tcp":
        raise InputError(f"{where}: reading OPC UA history is not supported yet; export the "
                         "history to CSV and load that")
    raise InputError(f"{where}: sources {scheme}:// are not read; give a CSV or Parquet file"
                     + (f" or a URL {', '.join(s + '://' for s in sorted(_READERS))}"
                        if _READERS else ""))


def _read(path: Path, where: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{where}: no such file")
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            raw = pd.read_parquet(path)
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                raw = pd.read_csv(path, skipinitialspace=True, index_col=False)
    except (OSError, ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise InputError(f"{where}: cannot read it as {'Parquet' if parquet else 'CSV'} "
                         f"({reason})") from None
    except Exception as exc:  # pyarrow's own errors (ArrowInvalid is a ValueError; others not)
        raise InputError(f"{where}: cannot read it as Parquet ({type(exc).__name__})") from None
    if not parquet and any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        _refuse_extra_fields(path, where)  # rows longer than the header
    if not isinstance(raw.index, pd.RangeIndex):  # a Parquet file written with its time index
        raw = raw.reset_index()
    if raw.columns.empty:
        raise InputError(f"{where}: no columns")
    return raw


def _refuse_extra_fields(path: Path, where: str) -> None:
    """Rows with more fields than the header (pandas would take the first as an index and
    shift every column): one line naming the first such line of the file (header = line 1)."""
    import csv

    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = csv.reader(handle, skipinitialspace=True)
        header = next(rows)
        for line, row in enumerate(rows, start=2):
            if len(row) > len(header):
                raise InputError(f"{where}: line {line} has {len(row)} fields but the header "
                                 f"has {len(header)}; remove the extra fields or name them")
    raise InputError(f"{where}: rows have more fields than the header ({len(header)})")


def _check_magnitude(values: np.ndarray, where: str, name: str | None) -> None:
    """Refuse a value whose magnitude exceeds :data:`MAX_MAGNITUDE` (row counted from 1)."""
    with np.errstate(invalid="ignore"):
        big = np.abs(values) > MAX_MAGNITUDE
    if big.any():
        row = int(np.flatnonzero(big)[0])
        column = f"column '{name}' " if name is not None else ""
        raise InputError(f"{where}: {column}row {row + 1}: {values[row]:g} exceeds the "
                         f"largest magnitude a value may have ({MAX_MAGNITUDE:g})")


def _time_factor(unit: str | None, time_unit: str | None, where: str) -> float:
    """Seconds per unit of the time header's unit (``time [min]``) -> 60; 1 without one."""
    if unit is None:
        return 1.0
    given = parse_unit(unit, f"{where}: time column")
    if given.dimensionality != registry().second.dimensionality:
        raise InputError(f"{where}: time column unit '{unit}' is not a unit of time "
                         "(write s, min, h)")
    if time_unit is not None and parse_unit(time_unit, where) != given:
        raise InputError(f"{where}: time unit '{time_unit}' disagrees with the time column's "
                         f"header unit '{unit}'; leave one out")
    return float(registry().Quantity(1.0, given).to("s").magnitude)


def _from_wide(raw: pd.DataFrame, where: str, time_unit: str | None, timezone: str | None):
    names, units = [], {}
    for header in raw.columns:
        name, unit = split_header(header, where)
        if name in names:
            raise InputError(f"{where}: column '{name}' appears twice")
        names.append(name)
        if unit is not None:
            if len(names) > 1:
                parse_unit(unit, f"{where}: column '{name}'")
            units[name] = unit
    if names[0].lower() not in ("time", "timestamp"):
        raise InputError(f"{where}: the first column must be 'time' (numbers or time stamps); "
                         f"it is '{names[0]}'")
    if len(names) < 2:
        raise InputError(f"{where}: no column besides '{names[0]}'; give a column per tag")
    time_header = units.pop(names[0], None)
    factor = _time_factor(time_header, time_unit, where)
    seconds, start, note = parse_times(raw.iloc[:, 0], where,
                                       "s" if time_header else time_unit, timezone)
    if time_header:
        seconds, note = seconds * factor, f"numeric time in {time_header} (header)"
    values = raw.iloc[:, 1:].set_axis(names[1:], axis=1)
    for name in values.columns:
        converted = pd.to_numeric(values[name], errors="coerce")
        bad = (converted.isna() & values[name].notna()) | np.isinf(converted.to_numpy(dtype=float))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(f"{where}: column '{name}' row {row + 1}: '{values[name].iloc[row]}' "
                             "is not a finite number (leave a missing value empty)")
        values[name] = converted.astype(float)
        _check_magnitude(values[name].to_numpy(), where, name)
    values.index = pd.Index(seconds, name="time")
    unsorted = int(np.sum(np.diff(seconds) < 0))
    duplicated = values.index.duplicated(keep="last")
    frame = values[~duplicated].sort_index(kind="stable")
    return frame, None, units, {"start": start, "time": _time_line(
        note, len(raw), unsorted, int(duplicated.sum()), "rows")}


def _from_long(raw: pd.DataFrame, where: str, time_unit: str | None, timezone: str | None):
    tag_col, time_col, value_col, quality_col = long_columns(raw, where)
    if raw[tag_col].isna().any():
        row = int(np.flatnonzero(raw[tag_col].isna().to_numpy())[0])
        raise InputError(f"{where}: row {row + 1} has no tag")
    seconds, start, note = parse_times(raw[time_col], where, time_unit, timezone)
    values = pd.to_numeric(raw[value_col], errors="coerce")
    bad = (values.isna() & raw[value_col].notna()) | np.isinf(values.to_numpy(dtype=float))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"{where}: row {row + 1}: value '{raw[value_col].iloc[row]}' is not a "
                         "finite number (leave a missing value empty)")
    _check_magnitude(values.to_numpy(dtype=float), where, None)
    quality = (quality_codes(raw[quality_col], where) if quality_col is not None
               else np.zeros(len(raw)))
    tags, units = _tag_units(raw[tag_col], where)
    frame, qual, unsorted, duplicates = pivot(tags, seconds, values.to_numpy(dtype=float),
                                              quality)
    return (frame, qual if quality_col is not None else None, units,
            {"start": start, "time": _time_line(note, len(raw), unsorted, duplicates, "samples")})


def _tag_units(tags: pd.Series, where: str) -> tuple[pd.Series, dict[str, str]]:
    """Tags with a unit in brackets (``h1 [cm]``) split into name and unit."""
    text = tags.astype(str)
    names: dict[str, str] = {}
    units: dict[str, str] = {}
    for tag in pd.unique(text):
        name, unit = split_header(tag, where)
        names[tag] = name
        if unit is not None:
            parse_unit(unit, f"{where}: tag '{name}'")
            if units.get(name, unit) != unit:
                raise InputError(f"{where}: tag '{name}' is given in [{units[name]}] and in "
                                 f"[{unit}]")
            units[name] = unit
    return text.map(names), units


def _time_line(note: str, rows: int, unsorted: int, duplicates: int, what: str) -> str:
    return (f"time: {note}; {unsorted} of {rows} {what} out of time order, sorted; "
            f"{duplicates} with a repeated time dropped, the last kept")


def _units(data: PlantData, header_units: dict[str, str], tagmap: TagMap | None,
           units: Mapping[str, str] | None, where: str) -> tuple[PlantData, list[str]]:
    """Apply the tag map and the wanted units; the report lines."""
    frame, quality = data.frame, data.quality
    lines: list[str] = []
    roles: dict[str, str] = {}
    result_units = dict(header_units)
    if tagmap is not None:
        present = [t for t in tagmap.tags if t in frame.columns]
        if not present:
            raise InputError(f"{where}: none of the tag map's tags is in the data (tags: "
                             f"{', '.join(map(str, frame.columns[:8]))})")
        dropped = [str(c) for c in frame.columns if c not in tagmap.tags]
        absent = [t for t in tagmap.tags if t not in frame.columns]
        columns, result_units = {}, {}
        for tag in present:
            spec = tagmap.tags[tag]
            values, unit = spec.apply(frame[tag].to_numpy(), header_units.get(tag),
                                      f"{where}: tag '{tag}'")
            name = tagmap.variable(tag)
            columns[name] = values
            if unit:
                result_units[name] = unit
            if spec.role:
                roles[name] = spec.role
        frame = pd.DataFrame(columns, index=frame.index)
        if quality is not None:
            quality = quality[present].set_axis(list(columns), axis=1)
        lines.append(f"tag map: {len(present)} tags read as variables"
                     + (f"; {len(dropped)} not in the map dropped ({', '.join(dropped[:5])})"
                        if dropped else "")
                     + (f"; {len(absent)} of the map not in the data ({', '.join(absent[:5])})"
                        if absent else ""))
    for name, unit in (units or {}).items():
        if name not in frame.columns:
            raise InputError(f"{where}: unit wanted for '{name}', which is not a column "
                             f"(columns: {', '.join(map(str, frame.columns))})")
        given = result_units.get(name)
        parse_unit(unit, f"{where}: unit of '{name}'")
        if given and parse_unit(given, where) != parse_unit(unit, where):
            frame = frame.assign(**{name: convert_array(frame[name].to_numpy(), given, unit,
                                                        f"{where}: '{name}'")})
            lines.append(f"units: {name} converted from {given} to {unit}")
        result_units[name] = unit
    result_units = {k: v for k, v in result_units.items() if k in frame.columns}
    return PlantData(frame, result_units, data.start, data.source, data.reports, quality,
                     roles), lines
