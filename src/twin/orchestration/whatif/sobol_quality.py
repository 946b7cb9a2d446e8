"""Whether Sobol indices can be trusted: their intervals, their bounds, the sample size needed.

SALib gives each index a bootstrap 95 % confidence half-width ``conf``.
An index is flagged when

- its interval is wide: ``conf > WIDE`` (an absolute width: indices are
  fractions of the variance, so 0.1 is a tenth of it whatever the index), or
- it breaks ``0 <= S1 <= ST <= 1`` by more than its interval allows
  (``S1 + conf < 0``, ``ST - conf > 1``, ``S1 - ST > conf_S1 + conf_ST`` ...):
  the estimator has not converged and even the interval cannot be trusted.

``conf`` shrinks as ``1 / sqrt(n)``, so reaching the half-width ``TARGET``
needs ``n * (conf / TARGET) ** 2`` base samples, rounded up to a power of
two (Saltelli's scheme); a bound broken beyond its interval needs at least
twice the sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

WIDE = 0.1
"""A confidence half-width above this flags the index [-]."""

TARGET = 0.05
"""Half-width of the 95 % interval the needed sample size aims for [-]."""


@dataclass(frozen=True)
class IndexCheck:
    """The Sobol indices of one KPI and variable, with their intervals and what is wrong."""

    kpi: str
    variable: str
    s1: float
    s1_conf: float
    st: float
    st_conf: float
    problems: tuple[str, ...]
    n_needed: int
    """Base sample size that would make the indices trustworthy (``n`` when they are)."""


def _power_of_two(n: float) -> int:
    return 1 << max(0, math.ceil(math.log2(max(1.0, n))))


def _problems(s1: float, c1: float, st: float, ct: float) -> list[str]:
    if not all(map(math.isfinite, (s1, c1, st, ct))):
        return ["no estimate or no interval (too few distinct samples)"]
    out = []
    if c1 > WIDE or ct > WIDE:
        out.append(f"wide interval (+/- {max(c1, ct):.2g} > {WIDE:g})")
    if s1 + c1 < 0:
        out.append("S1 < 0 beyond its interval")
    if st + ct < 0:
        out.append("ST < 0 beyond its interval")
    if s1 - c1 > 1:
        out.append("S1 > 1 beyond its interval")
    if st - ct > 1:
        out.append("ST > 1 beyond its interval")
    if s1 - st > c1 + ct:
        out.append("S1 > ST beyond their intervals")
    return out


def check_indices(sens: pd.DataFrame, n: int) -> list[IndexCheck]:
    """Each (KPI, variable)'s S1 and ST from the long sensitivity table, checked."""
    if sens.empty or "S1" not in set(sens.measure):
        return []
    out = []
    table = sens.set_index(["kpi", "variable", "measure"])
    for kpi, variable in dict.fromkeys(zip(sens.kpi, sens.variable)):
        s1, c1 = (float(x) for x in table.loc[(kpi, variable, "S1"), ["value", "confidence"]])
        st, ct = (float(x) for x in table.loc[(kpi, variable, "ST"), ["value", "confidence"]])
        problems = _problems(s1, c1, st, ct)
        needed = n
        if problems and math.isfinite(max(c1, ct)):
            needed = max(_power_of_two(n * (max(c1, ct) / TARGET) ** 2), n)
            if any("beyond" in p for p in problems):
                needed = max(needed, 2 * n)
        elif problems:  # no interval to scale from: at least four times the sample
            needed = 4 * n
        out.append(IndexCheck(kpi, variable, s1, c1, st, ct, tuple(problems), needed))
    return out


def needed_n(checks: list[IndexCheck], n: int) -> int:
    """The base sample size that would clear every flag (``n`` when nothing is flagged)."""
    return max([n] + [c.n_needed for c in checks])


def scenarios_for(n: int, dimensions: int, second_order: bool) -> int:
    """Scenarios of Saltelli's scheme with ``n`` base samples (without the nominal one)."""
    return n * (2 * dimensions + 2 if second_order else dimensions + 2)


def warnings(checks: list[IndexCheck], n: int, dimensions: int, second_order: bool,
             seconds_per_scenario: float | None = None) -> list[str]:
    """One line per flagged index, and one saying what sample size (and time) would do."""
    flagged = [c for c in checks if c.problems]
    if not flagged:
        return []
    lines = [f"Sobol index of {c.kpi} on {c.variable} not trustworthy at n = {n}: "
             f"S1 = {_g(c.s1, 3)} +/- {_g(c.s1_conf, 2)}, ST = {_g(c.st, 3)} +/- "
             f"{_g(c.st_conf, 2)}; " + "; ".join(c.problems) for c in flagged]
    need = needed_n(checks, n)
    count = scenarios_for(need, dimensions, second_order)
    line = (f"{len(flagged)} of {len(checks)} Sobol indices flagged: n = {need} "
            f"({count:,d} scenarios) would bring the intervals to about +/- {TARGET:g}")
    if seconds_per_scenario and seconds_per_scenario > 0:
        line += (f", about {duration(count * seconds_per_scenario)} at the measured "
                 f"{seconds_per_scenario:.3g} s per scenario on one worker")
    lines.append(line)
    return lines


def index_lines(checks: list[IndexCheck]) -> list[str]:
    """One terminal line per KPI and variable: S1 and ST with their 95 % half-widths."""
    width = max((len(c.kpi) + len(c.variable) for c in checks), default=0) + 4
    return [f"  {(c.kpi + ' on ' + c.variable):<{width}} S1 = {_f(c.s1, 6)} +/- "
            f"{_f(c.s1_conf, 5)}   ST = {_f(c.st, 6)} +/- {_f(c.st_conf, 5)}"
            + ("   (flagged)" if c.problems else "") for c in checks]


def _f(value: float, width: int) -> str:
    return f"{value:{width}.3f}" if math.isfinite(value) else f"{'n/a':>{width}}"


def _g(value: float, digits: int) -> str:
    return f"{value:.{digits}g}" if math.isfinite(value) else "n/a"


def duration(seconds: float) -> str:
    """A duration an engineer reads at a glance: s, min, h or days."""
    if seconds < 10:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
