"""The plant-data table every data command works on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from twin.core.errors import InputError

GOOD, UNCERTAIN, BAD = 0, 1, 2
"""Sample quality codes of :attr:`PlantData.quality`."""

ROLES = ("mv", "cv", "dv")
"""Roles of a column: manipulated (input), controlled (output), disturbance (measured input)."""


@dataclass(frozen=True)
class PlantData:
    """Time series of plant variables on one time axis.

    Attributes
    ----------
    frame : pandas.DataFrame
        Index ``time``: time since the first sample [s], float, strictly
        increasing. One float column per variable, named by the model
        variable (or the tag when no tag map names one); NaN marks a
        missing or rejected sample.
    units : dict
        Unit of each column (pint spelling, ``"-"`` for none).
    start : pandas.Timestamp or None
        Absolute (UTC) time of ``time = 0``, when the source gives one.
    source : str
        Where the data came from (file path or URL), for provenance.
    reports : tuple of str
        One line per data rule applied, saying how much it touched.
    quality : pandas.DataFrame or None
        Quality of each sample where the source gives one (long-form
        historian exports, OPC UA history): same index and columns as
        ``frame``, values :data:`GOOD`, :data:`UNCERTAIN`, :data:`BAD`
        (``None``: every sample counts as good).
    roles : dict
        Role of a column where known (``"mv"``, ``"cv"``, ``"dv"``), from
        a tag map; resampling holds the ``"mv"`` and ``"dv"`` columns.
    """

    frame: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    source: str = ""
    reports: tuple[str, ...] = ()
    quality: pd.DataFrame | None = None
    roles: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        time = np.asarray(self.frame.index, dtype=float)
        if self.frame.index.name != "time":
            raise InputError(f"{self.source or 'plant data'}: the time index must be named 'time'")
        if time.size and (not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0)):
            raise InputError(f"{self.source or 'plant data'}: time must be finite and strictly increasing")
        unknown = [name for name in self.units if name not in self.frame.columns]
        if unknown:
            raise InputError(f"{self.source or 'plant data'}: units given for unknown columns {unknown}")
        if self.quality is not None and (not self.quality.index.equals(self.frame.index)
                                         or list(self.quality.columns) != list(self.frame.columns)):
            raise InputError(f"{self.source or 'plant data'}: the quality table must have the "
                             "index and columns of the data")
        wrong = {name: role for name, role in self.roles.items()
                 if name not in self.frame.columns or role not in ROLES}
        if wrong:
            raise InputError(f"{self.source or 'plant data'}: roles {wrong} are for unknown columns "
                             f"or not one of {', '.join(ROLES)}")

    @property
    def time(self) -> np.ndarray:
        """Sample times since the first sample [s]."""
        return np.asarray(self.frame.index, dtype=float)

    @property
    def names(self) -> list[str]:
        """Column (variable) names, in order."""
        return [str(name) for name in self.frame.columns]

    def values(self, names: list[str] | tuple[str, ...]) -> np.ndarray:
        """The columns ``names`` as a (samples, len(names)) float array.

        Raises
        ------
        InputError
            A name that is not a column (the message lists the columns).
        """
        missing = [name for name in names if name not in self.frame.columns]
        if missing:
            raise InputError(f"{self.source or 'plant data'}: no column {', '.join(map(repr, missing))}; "
                             f"columns are {', '.join(self.names)}")
        return self.frame[list(names)].to_numpy(dtype=float)

    def unit(self, name: str) -> str:
        """Unit of column ``name`` (``"-"`` when none was given)."""
        return self.units.get(name, "-")

    def interval(self) -> float:
        """Median sampling interval [s] (NaN with fewer than two samples)."""
        time = self.time
        return float(np.median(np.diff(time))) if time.size > 1 else math.nan

    def with_reports(self, *lines: str) -> "PlantData":
        """The same data with more rule reports appended."""
        return replace(self, reports=(*self.reports, *lines))

    def replaced(self, frame: pd.DataFrame, *lines: str, **changes) -> "PlantData":
        """The same data with a new ``frame`` (and quality, units, ... in ``changes``) and more
        reports; the quality table follows the new frame's index and columns."""
        quality = changes.pop("quality", self.quality)
        if quality is not None:
            quality = quality.reindex(index=frame.index, columns=frame.columns)
        return replace(self, frame=frame, quality=quality, reports=(*self.reports, *lines),
                       **changes)
