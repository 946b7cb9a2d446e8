"""The bad-data rules applied in their documented order: the one path every reader of plant data takes.

``twin data inspect``, ``twin identify`` and ``twin calibrate`` all read
plant data through :func:`load_clean` (or :func:`apply_rules` on a table
already read): quality first, then frozen values, then spikes, each
rejected sample set missing, gaps reported; every rule adds its report
line to the table's ``reports``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from twin.core.data.load import load_data
from twin.core.data.rules import (GAP_FACTOR, SPIKE_SIGMAS, SPIKE_WINDOW, frozen_mask,
                                  quality_mask, reject_frozen, reject_quality, reject_spikes,
                                  report_gaps, spike_mask)
from twin.core.data.table import PlantData


@dataclass(frozen=True)
class Cleaning:
    """The table after the rules, and what each rule rejected.

    Attributes
    ----------
    data : PlantData
        Rejected samples missing; the load and rule report lines in ``reports``.
    quality, frozen, spikes : pandas.DataFrame
        Per column, True where the rule rejected a sample (on the original time axis).
    source_reports : tuple of str
        The report lines of reading the file, before the rules.
    """

    data: PlantData
    quality: pd.DataFrame
    frozen: pd.DataFrame
    spikes: pd.DataFrame
    source_reports: tuple[str, ...] = ()

    @property
    def rule_lines(self) -> list[str]:
        """The report lines the rules added (not those of reading the file)."""
        return list(self.data.reports[len(self.source_reports):])


def apply_rules(data: PlantData, gap_factor: float = GAP_FACTOR, frozen_window: float | None = None,
                spike_window: int = SPIKE_WINDOW, spike_sigmas: float = SPIKE_SIGMAS) -> Cleaning:
    """Quality, frozen values, spikes (rejected samples set missing), then gaps reported.

    The parameters are those of :mod:`twin.core.data.rules` (gap factor
    [sampling intervals], frozen window [s], spike window [samples] and
    threshold [robust standard deviations]).
    """
    bad = quality_mask(data)
    step1 = reject_quality(data)
    frozen, _ = frozen_mask(step1, frozen_window)
    step2 = reject_frozen(step1, frozen_window)
    spikes = spike_mask(step2, spike_window, spike_sigmas)
    step3 = report_gaps(reject_spikes(step2, spike_window, spike_sigmas), gap_factor)
    return Cleaning(step3, bad, frozen, spikes, tuple(data.reports))


def load_clean(source: str | Path, *, tagmap=None, time_unit: str | None = None,
               inputs: Sequence[str] = ()) -> Cleaning:
    """:func:`~twin.core.data.load.load_data`, then :func:`apply_rules` with their defaults.

    ``inputs``: columns the caller moves (MVs, DVs) whatever their role in
    the file; like columns of role mv or dv, their steps are not spikes.
    """
    data = load_data(source, tagmap=tagmap, time_unit=time_unit)
    named = {n: "mv" for n in inputs if n in data.names and data.roles.get(n) not in ("mv", "dv")}
    if named:
        data = replace(data, roles={**data.roles, **named})
    return apply_rules(data)
