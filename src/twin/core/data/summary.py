"""What a plant data table holds: tags, units, ranges, sampling, gaps, bad data, steady periods.

:func:`inspect_data` applies the bad-data rules in their documented order
(quality, frozen values, spikes; gaps reported; :func:`twin.core.data.clean.apply_rules`,
the same path identification and calibration take), resamples the cleaned
table to its median interval, finds the steady periods on it, and returns
the figures with every rule's report line. ``twin data inspect`` prints
them; the HTML overview draws them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.core.data.resample import resample
from twin.core.data.clean import apply_rules
from twin.core.data.rules import GAP_FACTOR, SPIKE_SIGMAS, SPIKE_WINDOW, find_gaps
from twin.core.data.steady import STEADY_THRESHOLD, STEADY_WINDOW, report_steady, steady_periods
from twin.core.data.table import PlantData


@dataclass(frozen=True)
class Inspection:
    """The figures of :func:`inspect_data`.

    Attributes
    ----------
    data : PlantData
        The table as read (with its load report lines).
    cleaned : PlantData
        The table after the rules (rejected samples missing), resampled to
        its median interval, with every report line.
    overview : dict
        Source, start, samples, span [s], sampling intervals [s].
    tags : list of dict
        Per column: unit, role, samples, missing, min, max, mean, median
        interval [s], gaps, longest gap [s], bad quality, frozen and spike counts.
    gaps : list of dict
        Every gap: column, start, end, length [s].
    steady : list of dict
        Every steady period: start, end, length [s], means.
    masks : dict
        Column -> {"quality", "frozen", "spikes"}: boolean arrays on the
        original time axis, for plots.
    """

    data: PlantData
    cleaned: PlantData
    overview: dict[str, Any]
    tags: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
    steady: list[dict[str, Any]]
    masks: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def reports(self) -> list[str]:
        """Every report line: reading the file, then each rule."""
        return list(self.cleaned.reports)

    def as_dict(self) -> dict[str, Any]:
        """The figures as one JSON-able document."""
        return {**self.overview, "tags": self.tags, "gaps": self.gaps,
                "steady_periods": self.steady, "reports": self.reports}


def inspect_data(data: PlantData, gap_factor: float = GAP_FACTOR, frozen_window: float | None = None,
                 spike_window: int = SPIKE_WINDOW, spike_sigmas: float = SPIKE_SIGMAS,
                 steady_window: int = STEADY_WINDOW,
                 steady_threshold: float = STEADY_THRESHOLD) -> Inspection:
    """The figures of ``data`` (see :class:`Inspection`); the rules' parameters as in
    :mod:`twin.core.data.rules` and :mod:`twin.core.data.steady`."""
    cleaning = apply_rules(data, gap_factor, frozen_window, spike_window, spike_sigmas)
    bad, frozen, spikes, step3 = cleaning.quality, cleaning.frozen, cleaning.spikes, cleaning.data
    gaps = find_gaps(step3, gap_factor)
    interval = data.interval()
    cleaned = resample(step3, interval) if len(data.time) > 1 else step3
    periods = []
    if len(cleaned.time) >= steady_window:
        periods = steady_periods(cleaned, window=steady_window, threshold=steady_threshold)
        cleaned = report_steady(cleaned, window=steady_window, threshold=steady_threshold,
                                periods=periods)
    else:
        cleaned = cleaned.with_reports(f"steady: fewer samples than a window of {steady_window}; "
                                       "not checked")
    steps = np.diff(data.time)
    overview = {
        "source": data.source,
        "start": data.start.isoformat() if data.start is not None else None,
        "samples": int(len(data.time)),
        "span_s": float(data.time[-1]) if len(data.time) else 0.0,
        "interval_s": {"median": interval,
                       "min": float(steps.min()) if steps.size else float("nan"),
                       "max": float(steps.max()) if steps.size else float("nan"),
                       "irregular_percent": _irregular(steps, interval)},
    }
    tags = []
    for name in data.names:
        column = data.frame[name]
        present = column.dropna()
        own = np.diff(np.asarray(present.index, dtype=float))
        mine = [g for g in gaps if g.name == name]
        count = int(present.size)
        tags.append({
            "name": name, "unit": data.unit(name), "role": data.roles.get(name, ""),
            "samples": count, "missing": int(column.isna().sum()),
            "min": float(present.min()) if count else float("nan"),
            "max": float(present.max()) if count else float("nan"),
            "mean": float(present.mean()) if count else float("nan"),
            "interval_s": float(np.median(own)) if own.size else float("nan"),
            "gaps": len(mine), "longest_gap_s": max((g.length for g in mine), default=0.0),
            "bad_quality": int(bad[name].sum()),
            "bad_quality_percent": 100.0 * int(bad[name].sum()) / count if count else 0.0,
            "frozen": int(frozen[name].sum()), "spikes": int(spikes[name].sum()),
        })
    masks = {n: {"quality": bad[n].to_numpy(), "frozen": frozen[n].to_numpy(),
                 "spikes": spikes[n].to_numpy()} for n in data.names}
    return Inspection(
        data, cleaned, overview, tags,
        [{"name": g.name, "start_s": g.start, "end_s": g.end, "length_s": g.length} for g in gaps],
        [{"start_s": p.start, "end_s": p.end, "length_s": p.length, "means": p.means}
         for p in periods],
        masks)


def _irregular(steps: np.ndarray, interval: float) -> float:
    """Share of the intervals more than 1 % off the median [%]."""
    if steps.size == 0:
        return 0.0
    return float(100.0 * np.mean(np.abs(steps - interval) > 0.01 * interval))
