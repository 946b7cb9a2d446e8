"""Terminal summaries of loop runs (``twin control``, ``twin deploy``, ``twin report``):
formatted lines with units."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twin.orchestration.loop.given_up import Episode


def loop_summary(cycles: int, kpis: Mapping[str, Any], units: Mapping[str, str], time_unit: str,
                 head: str, sheds: int | None = None) -> list[str]:
    """The lines of a run's summary: cycles, IAE per CV, solve times, failures, sheds (``sheds``,
    else the KPIs' count of shed cycles), and one line per given-up episode."""
    lines = [f"{head}: {cycles} cycles"]
    iae = kpis.get("iae", {})
    if iae:
        lines.append("IAE: " + ", ".join(f"{n} {v:.4g} {_times(units.get(n, ''), time_unit)}"
                                         for n, v in iae.items()))
    final = kpis.get("final", {})
    if final:
        error = kpis.get("final_error", {})
        lines.append("final: " + ", ".join(
            f"{n} {v:.4g} {units.get(n, '')}".rstrip()
            + (f" (setpoint {v - error[n]:.4g})" if n in error else "") for n, v in final.items()))
    p50, p99 = kpis.get("solve_time_p50_ms"), kpis.get("solve_time_p99_ms")
    solve = f"solve time p50 {p50:.3g} ms, p99 {p99:.3g} ms; " if p50 is not None else ""
    sheds = kpis.get("sheds", 0) if sheds is None else sheds
    lines.append(f"{solve}solver failures {kpis.get('failures', 0)}, sheds {sheds}")
    rows = kpis.get("given_up", [])
    if rows:
        lines.append(f"given-up targets: {len(rows)} episode{'s' if len(rows) != 1 else ''}")
        for r in rows:
            e = Episode(r["cv"], r["kind"], r["start"], r["end"], r["cycles"], r["largest"],
                        r["ongoing"])
            lines.append("  " + e.describe(r.get("unit", ""), time_unit))
    else:
        lines.append("given-up targets: none")
    return lines


def _times(unit: str, time_unit: str) -> str:
    return f"{unit}·{time_unit}" if unit else time_unit
