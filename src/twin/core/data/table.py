"""The plant-data table every data command works on."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from twin.core.errors import InputError


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
    """

    frame: pd.DataFrame
    units: dict[str, str] = field(default_factory=dict)
    start: pd.Timestamp | None = None
    source: str = ""
    reports: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        time = np.asarray(self.frame.index, dtype=float)
        if self.frame.index.name != "time":
            raise InputError(f"{self.source or 'plant data'}: the time index must be named 'time'")
        if time.size and (not np.all(np.isfinite(time)) or np.any(np.diff(time) <= 0)):
            raise InputError(f"{self.source or 'plant data'}: time must be finite and strictly increasing")
        unknown = [name for name in self.units if name not in self.frame.columns]
        if unknown:
            raise InputError(f"{self.source or 'plant data'}: units given for unknown columns {unknown}")

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
        return PlantData(self.frame, dict(self.units), self.start, self.source, (*self.reports, *lines))
