"""Rules for bad plant data: each takes a table and returns it with one report line.

Every rule says how much it touched, in one line appended to
:attr:`PlantData.reports`, even when that is nothing. A rejected sample
becomes NaN (missing); no rule invents a value. The rules and their
defaults are documented in ``docs/plant-data.md``:

- :func:`reject_quality`: samples of Bad (and, by default, Uncertain) quality;
- :func:`report_gaps`: stretches without a sample longer than ``factor``
  sampling intervals (reported, left missing);
- :func:`reject_frozen`: a value unchanged for longer than ``window`` while
  the tag normally moves (a stuck transmitter);
- :func:`reject_spikes`: Hampel filter, a sample further than ``n_sigmas``
  robust standard deviations (1.4826 x the median absolute deviation) from
  the median of its neighbours.

Out-of-order and repeated time stamps are sorted and dropped when a file is
read (:func:`twin.core.data.load.load_data`, its first report line); a unit
that cannot be converted is refused there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from twin.core.data.table import BAD, UNCERTAIN, PlantData
from twin.core.errors import InputError

GAP_FACTOR = 5.0
"""A gap is a stretch without a sample longer than this many sampling intervals [-]."""
FROZEN_INTERVALS = 20
"""A value unchanged for longer than this many sampling intervals is frozen [-]."""
MOVING_SHARE = 0.5
"""A tag normally moves when at least this share of its samples differ from the one before [-]."""
SPIKE_WINDOW = 7
"""Samples in the Hampel filter's window (odd) [-]."""
SPIKE_SIGMAS = 5.0
"""Robust standard deviations from the window median beyond which a sample is a spike [-]."""
SLOW_FACTOR = 5.0
"""A column sampled this many times slower than the fastest is not checked for spikes [-]."""
SPIKE_SCALE_WINDOWS = 20
"""The noise's robust scale is taken over this many windows around a sample [-]."""
_MAD_TO_SIGMA = 1.4826
"""Ratio of the standard deviation to the median absolute deviation of normal noise [-]."""


@dataclass(frozen=True)
class Gap:
    """A stretch of a column without a sample.

    Attributes
    ----------
    name : str
        The column.
    start, end : float
        Times of the samples either side [s].
    """

    name: str
    start: float
    end: float

    @property
    def length(self) -> float:
        """Length of the gap [s]."""
        return self.end - self.start


def _columns(data: PlantData, names: Sequence[str] | None) -> list[str]:
    if names is None:
        return data.names
    data.values(list(names))  # refuses unknown names, listing the columns
    return list(names)


def _share(count: int, total: int) -> str:
    return f"{count} of {total} values ({100 * count / total if total else 0:.2g} %)"


def _by_column(counts: dict[str, int]) -> str:
    touched = [f"{n} {c}" for n, c in counts.items() if c]
    return f" ({', '.join(touched)})" if touched else ""


def _present(data: PlantData, names: list[str]) -> int:
    return int(data.frame[names].notna().to_numpy().sum())


def quality_mask(data: PlantData, uncertain: bool = True) -> pd.DataFrame:
    """True where a sample's quality is Bad (or Uncertain, when ``uncertain``)."""
    if data.quality is None:
        return pd.DataFrame(False, index=data.frame.index, columns=data.frame.columns)
    worst = UNCERTAIN if uncertain else BAD
    return (data.quality >= worst) & data.frame.notna()


def reject_quality(data: PlantData, uncertain: bool = True) -> PlantData:
    """Bad (and Uncertain, when ``uncertain``) samples set missing."""
    kinds = "Bad or Uncertain" if uncertain else "Bad"
    if data.quality is None:
        return data.with_reports("quality: the source gives no quality; nothing rejected")
    mask = quality_mask(data, uncertain)
    counts = {n: int(mask[n].sum()) for n in data.names}
    line = (f"quality: {_share(sum(counts.values()), _present(data, data.names))} {kinds}, set "
            f"missing{_by_column(counts)}")
    return data.replaced(data.frame.mask(mask), line)


def column_interval(data: PlantData, name: str) -> float:
    """Median interval between the samples of column ``name`` [s] (NaN with fewer than two)."""
    time = np.asarray(data.frame[name].dropna().index, dtype=float)
    return float(np.median(np.diff(time))) if time.size > 1 else float("nan")


def find_gaps(data: PlantData, factor: float = GAP_FACTOR,
              names: Sequence[str] | None = None) -> list[Gap]:
    """Stretches of each column without a sample longer than ``factor`` x the column's median
    sampling interval (missing values count as no sample; a slow analyser has its own)."""
    if not factor > 0:
        raise InputError(f"gap factor {factor}: expected a number > 0")
    gaps = []
    for name in _columns(data, names):
        present = data.frame[name].dropna()
        time = np.asarray(present.index, dtype=float)
        steps = np.diff(time)
        if steps.size == 0:
            continue
        for i in np.flatnonzero(steps > factor * np.median(steps)):
            gaps.append(Gap(name, float(time[i]), float(time[i + 1])))
    return gaps


def report_gaps(data: PlantData, factor: float = GAP_FACTOR,
                names: Sequence[str] | None = None) -> PlantData:
    """Report the gaps (:func:`find_gaps`); the missing values stay missing."""
    gaps = find_gaps(data, factor, names)
    line = f"gaps: {len(gaps)} longer than {factor:g} sampling intervals of their tag"
    if gaps:
        longest = max(gaps, key=lambda g: g.length)
        counts = {n: sum(g.name == n for g in gaps) for n in _columns(data, names)}
        line += (f"{_by_column(counts)}; longest {longest.length:.4g} s in {longest.name} from "
                 f"{longest.start:.4g} s")
    return data.with_reports(line + "; missing values left missing, none invented")


def frozen_mask(data: PlantData, window: float | None = None, moving: float = MOVING_SHARE,
                names: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """True on the repeats of a value unchanged for longer than ``window`` [s]
    (default :data:`FROZEN_INTERVALS` sampling intervals of the tag), in tags
    that normally move; and the tags left out because they rarely move (held
    inputs, setpoints)."""
    mask = pd.DataFrame(False, index=data.frame.index, columns=data.frame.columns)
    still: list[str] = []
    if window is not None and not window > 0:
        raise InputError(f"frozen-value window {window}: expected a time > 0 [s]")
    for name in _columns(data, names):
        limit = FROZEN_INTERVALS * column_interval(data, name) if window is None else window
        present = data.frame[name].dropna()
        values = present.to_numpy()
        if values.size < 3:
            continue
        changed = np.diff(values) != 0
        if changed.mean() < moving:
            still.append(name)
            continue
        run = np.concatenate([[0], np.cumsum(changed)])
        time = np.asarray(present.index, dtype=float)
        first = pd.Series(time).groupby(run).transform("min").to_numpy()
        last = pd.Series(time).groupby(run).transform("max").to_numpy()
        stuck = (last - first > limit) & (time > first)
        mask.loc[present.index[stuck], name] = True
    return mask, still


def reject_frozen(data: PlantData, window: float | None = None, moving: float = MOVING_SHARE,
                  names: Sequence[str] | None = None) -> PlantData:
    """Repeats of a value unchanged for longer than ``window`` [s] set missing (the first
    sample of the run is kept), in tags that change in at least ``moving`` of their samples."""
    mask, still = frozen_mask(data, window, moving, names)
    if not len(data.time) > 1:
        return data.with_reports("frozen: fewer than two samples; nothing checked")
    checked = [n for n in _columns(data, names) if n not in still]
    counts = {n: int(mask[n].sum()) for n in checked}
    limit = f"{FROZEN_INTERVALS} sampling intervals" if window is None else f"{window:.4g} s"
    line = (f"frozen: {_share(sum(counts.values()), _present(data, checked))} "
            f"unchanged for more than {limit} while the tag moves, set missing"
            f"{_by_column(counts)}")
    if still:
        line += f"; not checked, rarely moving: {', '.join(still)}"
    return data.replaced(data.frame.mask(mask), line)


def spike_mask(data: PlantData, window: int = SPIKE_WINDOW, n_sigmas: float = SPIKE_SIGMAS,
               names: Sequence[str] | None = None) -> pd.DataFrame:
    """True on the samples the Hampel filter finds (see :func:`reject_spikes`)."""
    if window < 3 or window % 2 == 0:
        raise InputError(f"spike window {window}: expected an odd number of samples >= 3")
    if not n_sigmas > 0:
        raise InputError(f"spike threshold {n_sigmas}: expected a number > 0")
    mask = pd.DataFrame(False, index=data.frame.index, columns=data.frame.columns)
    for name in _default_spike_columns(data, names):
        present = data.frame[name].dropna()
        spike = _hampel(present.to_numpy(dtype=float), window, n_sigmas)
        mask.loc[present.index[spike], name] = True
    return mask


def _hampel(values: np.ndarray, window: int, n_sigmas: float) -> np.ndarray:
    """Hampel test of each value: its distance from the median of the ``window`` samples
    centred on it, against the noise's robust standard deviation (:func:`_noise_scale`);
    the first and last ``window // 2`` values, without a centred window, are not tested."""
    spike = np.zeros(values.size, dtype=bool)
    if values.size < window:
        return spike
    half = window // 2
    median = np.median(np.lib.stride_tricks.sliding_window_view(values, window), axis=1)
    middle = slice(half, values.size - half)
    scale = _noise_scale(values, SPIKE_SCALE_WINDOWS * window)
    spike[middle] = np.abs(values[middle] - median) > n_sigmas * scale[middle]
    return spike


def _noise_scale(values: np.ndarray, wide: int) -> np.ndarray:
    """Robust standard deviation of the noise about each value: from the median absolute
    deviation of the steps between samples over ``wide`` samples (a trend moves the steps'
    median, not their scatter); at least 0.1 % of the 1-99 % range, so that noise-free
    data is not all spikes."""
    steps = pd.Series(np.diff(values, prepend=values[0])[1:])
    centre = steps.rolling(wide, center=True, min_periods=1).median()
    mad = (steps - centre).abs().rolling(wide, center=True, min_periods=1).median().to_numpy()
    mad = np.append(mad, mad[-1])
    low, high = np.percentile(values, [1, 99])
    return np.maximum(_MAD_TO_SIGMA * mad / np.sqrt(2.0), 1e-3 * (high - low))


def _default_spike_columns(data: PlantData, names: Sequence[str] | None) -> list[str]:
    if names is not None:
        return _columns(data, names)
    slow = set(_slow_columns(data))
    return [n for n in data.names if data.roles.get(n) not in ("mv", "dv") and n not in slow]


def _slow_columns(data: PlantData) -> list[str]:
    """Columns sampled more than :data:`SLOW_FACTOR` times slower than the fastest one (analysers):
    between two of their samples the plant moves, so a step of the plant would look like a spike."""
    intervals = {n: column_interval(data, n) for n in data.names}
    fastest = min((v for v in intervals.values() if v > 0), default=float("nan"))
    return [n for n, v in intervals.items() if v > SLOW_FACTOR * fastest]


def reject_spikes(data: PlantData, window: int = SPIKE_WINDOW, n_sigmas: float = SPIKE_SIGMAS,
                  names: Sequence[str] | None = None) -> PlantData:
    """Spikes set missing: Hampel filter over ``window`` samples of a column.

    A sample is a spike when it is further from the median of the window
    centred on it than ``n_sigmas`` robust standard deviations of the noise:
    1.4826 / sqrt(2) x the median absolute deviation of the steps between
    samples over :data:`SPIKE_SCALE_WINDOWS` windows around it (at least
    0.1 % of the column's 1-99 % range, so that noise-free data is not all
    spikes). The first and last ``window // 2`` samples are not tested. Columns: ``names``, by default every column
    but the inputs (role mv or dv), whose steps are not spikes.
    """
    mask = spike_mask(data, window, n_sigmas, names)
    columns = _default_spike_columns(data, names)
    counts = {n: int(mask[n].sum()) for n in columns}
    line = (f"spikes: {_share(sum(counts.values()), _present(data, columns))} further than "
            f"{n_sigmas:g} robust standard deviations from the median of {window} samples, set "
            f"missing{_by_column(counts)}")
    slow = ([n for n in _slow_columns(data) if data.roles.get(n) not in ("mv", "dv")]
            if names is None else [])
    if slow:
        line += (f"; not checked, sampled over {SLOW_FACTOR:g} times slower than the fastest tag: "
                 f"{', '.join(slow)}")
    return data.replaced(data.frame.mask(mask), line)
