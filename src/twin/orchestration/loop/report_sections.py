"""Sections of a loop report read from the cycle log: given-up targets, sheds, communication.

Each works on the pivoted cycle table and the event table of one run
(:meth:`CycleStore.to_frame`, :meth:`CycleStore.events`), so a simulated
run, a deployed one, and a run still going are reported alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from twin.orchestration.loop.given_up import describe_target
from twin.orchestration.report import HtmlReport

COMMUNICATION_EVENTS = {
    "unreadable": "cycles without data from the server",
    "late": "cycles that read the plant late",
    "resync": "schedule re-alignments on the server's tick counter",
    "rebuild": "session rebuilds and reconnections",
    "stale": "tags going stale or updating again",
    "bad_value": "bad values (disturbances held, remote setpoints)",
    "clamped": "setpoints clamped to hard or rate limits",
    "restart": "server restarts seen",
    "error": "cycles with an error in a stage",
}
"""Event kinds counted in the communication statistics, with what they mean."""


def given_up_section(report: HtmlReport, rows: list[Mapping[str, Any]], time_unit: str) -> None:
    """One row per episode of a given-up setpoint or limit (see :mod:`.given_up`)."""
    report.heading("Given-up targets")
    if not rows:
        report.paragraph("None: the steady-state targets met every setpoint and soft limit.")
        return
    report.paragraph("The steady-state target calculation could not meet these setpoints or "
                     "limits; each episode is a stretch of consecutive cycles.")
    report.table(("target", f"from [{time_unit}]", f"to [{time_unit}]", "cycles",
                  "largest miss", "unit", "at the end of the run"),
                 [(describe_target(r["cv"], r["kind"]), r["start"], r["end"], r["cycles"],
                   r["largest"], r["unit"], "still given up" if r["ongoing"] else "met again")
                  for r in rows])


def sheds_section(report: HtmlReport, events: pd.DataFrame, time_unit: str) -> None:
    """Sheds to the base layer, and re-entries, in order."""
    report.heading("Sheds")
    kinds = {"shed": "shed", "reentry": "re-entry", "engaged": "engaged", "stopped": "stopped"}
    rows = events[events["kind"].isin(list(kinds))] if not events.empty else events
    if rows.empty:
        report.paragraph("None: the controller was never shed.")
        return
    report.table(("cycle", f"time [{time_unit}]", "what", "reason"),
                 [(_int(r.cycle), _num(r.t), kinds[r.kind], r.message)
                  for r in rows.head(200).itertuples()],
                 caption="" if len(rows) <= 200 else f"first 200 of {len(rows)}")


def communication_stats(frame: pd.DataFrame, events: pd.DataFrame) -> dict[str, Any]:
    """Counts of communication events, cycle states, and the cycle interval [s]."""
    counts = events["kind"].value_counts() if not events.empty else pd.Series(dtype=int)
    stats: dict[str, Any] = {"cycles": int(len(frame))}
    if "mode" in frame:
        modes = frame["mode"].astype(str)
        stats["cycles waiting"] = int((modes == "waiting").sum())
        stats["cycles shed"] = int((modes == "shed").sum())
    if "write" in frame:
        stats["cycles with setpoints written"] = int(frame["write"].sum())
    for kind, meaning in COMMUNICATION_EVENTS.items():
        stats[meaning] = int(counts.get(kind, 0))
    wall = frame["wall_time"].to_numpy(dtype=float) if "wall_time" in frame else np.zeros(0)
    gaps = np.diff(wall[np.isfinite(wall)])
    if gaps.size:
        stats["cycle interval median [s]"] = float(np.median(gaps))
        stats["cycle interval p99 [s]"] = float(np.percentile(gaps, 99))
        stats["cycle interval max [s]"] = float(gaps.max())
    return stats


def communication_section(report: HtmlReport, frame: pd.DataFrame, events: pd.DataFrame) -> None:
    """The communication statistics of a deployed run."""
    report.heading("Communication")
    report.mapping_table(communication_stats(frame, events),
                         caption="Counts over the run; the cycle interval is on the wall clock.")


def _int(v: Any) -> Any:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else int(v)


def _num(v: Any) -> Any:
    return "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else float(v)


def performance_section(report: HtmlReport, frame: pd.DataFrame, events: pd.DataFrame,
                        cvs: list[str], mvs: list[str], run: dict[str, str]) -> None:
    """Service factor, constraint times, variability and model quality (``twin monitor``)."""
    from twin.orchestration.loop.monitor import DEGRADED_RATIO, performance

    report.heading("Performance")
    if frame.empty:
        report.paragraph("No cycle recorded.")
        return
    f = performance(frame, events, cvs, mvs, run)
    unit = run["time_unit"]
    solve = f["solver"]["solve_time_ms"]
    report.mapping_table({"service factor [%]": 100 * f["service_factor"],
                          "solves": ", ".join(f"{k} {v}" for k, v in f["solver"]["by_status"].items()),
                          "solve time median [ms]": solve["median"] or "",
                          "solve time p99 [ms]": solve["p99"] or "",
                          "sheds": f["sheds"]["count"]},
                         caption="As twin monitor reports them over the whole run.")
    report.table(("variable", "at low [%]", "at high [%]", "saturated [%]", "travel"),
                 [(n, 100 * c["low"], 100 * c["high"],
                   100 * c["saturated"] if "saturated" in c else "", c.get("travel", ""))
                  for n, c in f["constraints"].items()], "Time at active constraints",
                 scales=[None, 100.0, 100.0, 100.0, None])
    ref = f["run"]["reference"]
    rows = []
    for name in cvs:
        v, p = f["variability"].get(name, {}), f["prediction"].get(name)
        rows.append((name, v.get("std", ""), v.get("reference_std", ""),
                     p["rms"] if p else "", p["reference_rms"] if p else "",
                     ("degraded from " + f"{p['first_flag']:g} {unit}") if p and p["flag"]
                     else ("ok" if p else "not measured")))
    report.table(("CV", "std", "reference std", "prediction error RMS", "reference RMS",
                  "model quality"), rows,
                 f"Against the reference window {ref[0]:g} to {ref[1]:g} {unit}; a block of the "
                 f"run is flagged when its prediction-error RMS exceeds {DEGRADED_RATIO:g} times "
                 "the reference's.")
