"""Resampling plant data to a fixed interval.

Inputs (MVs and measured disturbances) are held: the value at a grid time
is the last sample at or before it (zero-order hold, as a controller's
output is held between moves). Outputs (CVs) are interpolated linearly
between the samples either side. Neither bridges a gap: a held value
lasts at most ``max_gap`` after its sample, and an interpolated value needs
samples either side at most ``max_gap`` apart; elsewhere the grid value
stays missing.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from twin.core.data.rules import GAP_FACTOR, column_interval
from twin.core.data.table import PlantData
from twin.core.errors import InputError


def resample(data: PlantData, interval: float, holds: Sequence[str] | None = None,
             max_gap: float | None = None) -> PlantData:
    """``data`` on the grid ``0, interval, 2 interval, ...`` up to its last sample.

    Parameters
    ----------
    data : PlantData
        The table (irregular sampling allowed).
    interval : float
        Grid interval [s].
    holds : sequence of str, optional
        Columns held (zero-order hold); default: those whose role is ``mv``
        or ``dv``. The others are interpolated linearly.
    max_gap : float, optional
        Longest stretch between two samples bridged [s]; default
        :data:`~twin.core.data.rules.GAP_FACTOR` x the larger of ``interval``
        and the column's median sampling interval.

    Returns
    -------
    PlantData
        The resampled table (no quality table: apply the quality rule
        first), with a report line naming the held and interpolated columns.
    """
    if not (isinstance(interval, (int, float)) and np.isfinite(interval) and interval > 0):
        raise InputError(f"resampling interval {interval!r}: expected a time > 0 [s]")
    held = [n for n in data.names if data.roles.get(n) in ("mv", "dv")] if holds is None \
        else list(holds)
    data.values(held)  # unknown names are refused, listing the columns
    if max_gap is not None and not max_gap > 0:
        raise InputError(f"max_gap {max_gap}: expected a time > 0 [s]")
    span = float(data.time[-1]) if len(data.time) else 0.0
    count = int(np.floor(span / interval + 1e-9)) + 1
    if count > 50_000_000:
        raise InputError(f"resampling {span:g} s at {interval:g} s makes {count} samples; "
                         "choose a longer interval")
    grid = np.arange(count) * interval
    columns, missing = {}, 0
    for name in data.names:
        present = data.frame[name].dropna()
        time = np.asarray(present.index, dtype=float)
        values = present.to_numpy(dtype=float)
        own = column_interval(data, name)
        bridged = max_gap if max_gap is not None else GAP_FACTOR * (
            interval if np.isnan(own) else max(interval, own))
        columns[name] = (_hold if name in held else _interpolate)(time, values, grid, bridged)
        missing += int(np.isnan(columns[name]).sum())
    frame = pd.DataFrame(columns, index=pd.Index(grid, name="time"))
    interp = [n for n in data.names if n not in held]
    limit = (f"{max_gap:.4g} s" if max_gap is not None
             else f"{GAP_FACTOR:g} intervals (of the grid or the tag, the longer)")
    line = (f"resample: to {interval:g} s ({count} samples) from a median {data.interval():.4g} s; "
            f"zero-order hold for {', '.join(held) or 'none'} (inputs); linear interpolation for "
            f"{', '.join(interp) or 'none'}; {missing} values left missing where samples are more "
            f"than {limit} apart")
    return data.replaced(frame, line, quality=None)


def _hold(time: np.ndarray, values: np.ndarray, grid: np.ndarray, max_gap: float) -> np.ndarray:
    out = np.full(grid.size, np.nan)
    if time.size == 0:
        return out
    i = np.searchsorted(time, grid + 1e-9 * max(1.0, float(time[-1])), side="right") - 1
    ok = i >= 0
    j = np.clip(i, 0, time.size - 1)
    ok &= grid - time[j] <= max_gap + 1e-9 * max(1.0, float(time[-1]))
    out[ok] = values[j[ok]]
    return out


def _interpolate(time: np.ndarray, values: np.ndarray, grid: np.ndarray,
                 max_gap: float) -> np.ndarray:
    out = np.full(grid.size, np.nan)
    if time.size == 0:
        return out
    out = np.interp(grid, time, values, left=np.nan, right=np.nan)
    after = np.clip(np.searchsorted(time, grid, side="left"), 1, max(time.size - 1, 1))
    width = time[after] - time[after - 1] if time.size > 1 else np.zeros(grid.size)
    exact = np.isin(grid, time)
    out[(width > max_gap) & ~exact] = np.nan
    return out
