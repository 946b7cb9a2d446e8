"""Long-form historian exports: one row per sample, ``tag, time, value[, quality]``.

The columns are found by name, whatever their case: the tag (``tag``,
``tagname``, ``name``), the time (``time``, ``timestamp``), the value
(``value``) and, optionally, the quality (``quality``, ``status``). A
quality is the text of an OPC UA status (``Good``, ``UncertainLastUsableValue``,
``Bad_SensorFailure``: its first word decides), or a numeric OPC UA
status code (its two top bits: ``0`` Good, ``0x40000000`` Uncertain,
``0x80000000`` Bad; decimal or ``0x`` hexadecimal); an empty quality
counts as Good.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from twin.core.data.table import BAD, GOOD, UNCERTAIN
from twin.core.errors import InputError

TAG_COLUMNS = ("tag", "tagname", "tag_name", "name")
TIME_COLUMNS = ("time", "timestamp", "time_stamp")
VALUE_COLUMNS = ("value",)
QUALITY_COLUMNS = ("quality", "status")
"""Accepted names (any case) of the columns of a long-form file."""

_WORDS = {"good": GOOD, "uncertain": UNCERTAIN, "bad": BAD}


def find_column(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first of ``columns`` whose name (any case, trimmed) is one of ``names``."""
    for column in columns:
        if str(column).strip().lower() in names:
            return column
    return None


def is_long(raw: pd.DataFrame) -> bool:
    """True when ``raw`` has a tag, a time and a value column (a long-form export)."""
    columns = list(raw.columns)
    return all(find_column(columns, names) is not None
               for names in (TAG_COLUMNS, TIME_COLUMNS, VALUE_COLUMNS))


def long_columns(raw: pd.DataFrame, where: str) -> tuple[str, str, str, str | None]:
    """The tag, time, value and quality (or ``None``) columns of a long-form table."""
    columns = list(raw.columns)
    found = [find_column(columns, names) for names in (TAG_COLUMNS, TIME_COLUMNS, VALUE_COLUMNS)]
    for column, names in zip(found, ("tag", "time", "value")):
        if column is None:
            raise InputError(f"{where}: a long-form file needs a '{names}' column; columns are "
                             f"{', '.join(map(str, columns))}")
    extra = [c for c in columns if c not in found and find_column([c], QUALITY_COLUMNS) is None]
    if extra:
        raise InputError(f"{where}: unexpected column '{extra[0]}' in a long-form file (tag, time, "
                         "value, quality)")
    return found[0], found[1], found[2], find_column(columns, QUALITY_COLUMNS)


def quality_codes(column: pd.Series, where: str) -> np.ndarray:
    """Each quality entry as :data:`GOOD`, :data:`UNCERTAIN` or :data:`BAD` (float array).

    Raises
    ------
    InputError
        An entry that is neither a status name nor a status code (naming its row).
    """
    entries = column.to_numpy(dtype=object)
    codes = np.full(len(column), float(GOOD))
    rows = np.flatnonzero(~pd.isna(column).to_numpy())
    # each distinct entry decoded once, in order of first appearance (repr: True is not 1)
    index, _ = pd.factorize(np.array([repr(e) for e in entries[rows]], dtype=object))
    firsts = np.unique(index, return_index=True)[1] if rows.size else np.array([], dtype=int)
    decoded = np.empty(firsts.size)
    for k, position in enumerate(firsts):
        row = int(rows[position])
        code = _code(entries[row])
        if code is None:
            raise InputError(f"{where}: row {row + 1}: quality '{str(entries[row])[:40]}' is "
                             "neither Good, Uncertain, Bad (or a word starting so) nor an OPC "
                             "UA status code")
        decoded[k] = code
    codes[rows] = decoded[index]
    return codes


def _code(entry: object) -> int | None:
    if isinstance(entry, (bool, np.bool_)):
        return None
    if isinstance(entry, (int, np.integer)) or (isinstance(entry, (float, np.floating))
                                                and float(entry).is_integer()):
        return _status_bits(int(entry))
    text = str(entry).strip()
    if not text:
        return GOOD
    try:
        return _status_bits(int(text, 0))
    except ValueError:
        pass
    word = text.lower()
    for prefix, code in _WORDS.items():
        if word.startswith(prefix):
            return code
    return None


def _status_bits(number: int) -> int | None:
    if not 0 <= number < 1 << 32:
        return None
    severity = number >> 30
    return GOOD if severity == 0 else UNCERTAIN if severity == 1 else BAD


def pivot(tags: pd.Series, seconds: np.ndarray, values: np.ndarray, quality: np.ndarray,
          ) -> tuple[pd.DataFrame, pd.DataFrame, int, int]:
    """The long rows as wide tables of values and qualities on the union of the times.

    Rows are taken in file order; where a tag has two rows at one time the
    last is kept.

    Returns
    -------
    frame, quality : pandas.DataFrame
        Index ``time`` [s], a column per tag (in order of first appearance);
        NaN where a tag has no sample at a time.
    unsorted : int
        Rows whose time is earlier than the tag's previous row.
    duplicates : int
        Rows dropped as a repeated (tag, time).
    """
    rows = pd.DataFrame({"tag": tags.astype(str).to_numpy(), "time": seconds,
                         "value": values, "quality": quality})
    order = list(dict.fromkeys(rows["tag"]))
    unsorted = int(sum(int(np.sum(np.diff(group.to_numpy()) < 0))
                       for _, group in rows.groupby("tag", sort=False)["time"]))
    deduped = rows.drop_duplicates(["tag", "time"], keep="last")
    duplicates = len(rows) - len(deduped)
    frame = deduped.pivot(index="time", columns="tag", values="value").reindex(columns=order)
    qual = deduped.pivot(index="time", columns="tag", values="quality").reindex(columns=order)
    frame = frame.sort_index().rename_axis(index="time", columns=None).astype(float)
    qual = qual.sort_index().rename_axis(index="time", columns=None).astype(float)
    return frame, qual, unsorted, duplicates
