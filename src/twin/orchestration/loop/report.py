"""HTML report of a closed-loop run: verdict, trends against setpoints and limits, KPIs, events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from apc.spec import ControllerSpec
from twin.orchestration.axes import axis_range, describe_limit
from twin.orchestration.loop.report_sections import communication_section, given_up_section, \
    performance_section, sheds_section
from twin.orchestration.loop.verdict import FINAL_FRACTION, verdict
from twin.orchestration.numbers import with_unit
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport


ROLE_WORDS = {
    "plant": "plant (true value)", "measured": "measured", "setpoint": "setpoint",
    "target": "steady-state target", "low": "soft low limit", "high": "soft high limit",
    "hard_low": "hard low limit", "hard_high": "hard high limit", "mv": "MV",
}
"""Legend words for the roles of a variable's columns in the cycle log."""

MV_ROLE_WORDS = {**ROLE_WORDS, "low": "low limit", "high": "high limit"}
"""An MV's low and high are its (hard) limits."""

_LIMIT_STYLE = {"low": dict(color="tab:red", ls="-.", lw=0.8),
                "high": dict(color="tab:red", ls="-.", lw=0.8),
                "hard_low": dict(color="darkred", ls="-", lw=0.8),
                "hard_high": dict(color="darkred", ls="-", lw=0.8)}


def _column(frame: pd.DataFrame, col: str) -> pd.Series | None:
    return frame[col] if col in frame and frame[col].notna().any() else None


def _limits(ax, frame: pd.DataFrame, name: str, unit: str, data: list, words: dict) -> None:
    """Draw the limits near the data, name the others in the legend; scale the axis."""
    t = frame["time"]
    limits = {role: frame[f"{name}.{role}"].to_numpy(dtype=float) for role in _LIMIT_STYLE
              if _column(frame, f"{name}.{role}") is not None}
    values = np.concatenate([np.asarray(d, dtype=float) for d in data]) if data else np.zeros(0)
    span = axis_range(values, limits)
    for role in span.drawn:
        ax.step(t, limits[role], where="post", label=words[role], **_LIMIT_STYLE[role])
    for role in span.named:
        ax.plot([], [], ls="none", label=f"{words[role]} {describe_limit(limits[role])} {unit} "
                                         "(off the scale)")
    ax.set_ylim(span.low, span.high)


def _trend_axes(ax, frame: pd.DataFrame, name: str, unit: str, plant: bool) -> None:
    t = frame["time"]
    data = []
    if plant and f"{name}.plant" in frame:
        ax.plot(t, frame[f"{name}.plant"], color="tab:blue", lw=1.4, label=ROLE_WORDS["plant"])
        data.append(frame[f"{name}.plant"])
    if name in frame:
        ax.plot(t, frame[name], color="tab:blue", lw=0.6, alpha=0.45, ls="", marker=".",
                ms=2, label=ROLE_WORDS["measured"])
        data.append(frame[name])
    for role, style in (("setpoint", dict(color="k", ls="--", lw=1)),
                        ("target", dict(color="tab:green", ls=":", lw=1))):
        col = _column(frame, f"{name}.{role}")
        if col is not None:
            ax.step(t, col, where="post", label=ROLE_WORDS[role], **style)
            data.append(col)
    _limits(ax, frame, name, unit, data, ROLE_WORDS)
    ax.set_ylabel(f"{name} [{unit}]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")


def _mv_axes(ax, frame: pd.DataFrame, name: str, unit: str) -> None:
    t = frame["time"]
    data = []
    if name in frame:  # a deployed run that never wrote has no MV column
        ax.step(t, frame[name], where="post", color="tab:orange", label=MV_ROLE_WORDS["mv"])
        data.append(frame[name])
    target = _column(frame, f"{name}.target")
    if target is not None:
        ax.step(t, target, where="post", color="tab:green", ls=":", lw=1,
                label=MV_ROLE_WORDS["target"])
        data.append(target)
    _limits(ax, frame, name, unit, data, MV_ROLE_WORDS)
    ax.set_ylabel(f"{name} [{unit}]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)


def _unit(units: dict[str, str], name: str) -> str:
    return units.get(name) or "-"


def kpi_rows(kpis: dict[str, Any], spec: ControllerSpec, units: dict[str, str],
             time_unit: str) -> tuple[list[tuple], list[tuple]]:
    """The KPI tables' rows, every number with its unit: (per CV, overall).

    A CV without a setpoint has no IAE and no final error: it says so.
    """
    cv_rows = []
    for cv in spec.cv:
        u = _unit(units, cv.name)
        integral = f"{u}·{time_unit}"
        has_sp = cv.name in kpis["iae"]
        cv_rows.append((
            cv.name,
            with_unit(kpis["iae"][cv.name], integral) if has_sp else "no setpoint",
            with_unit(kpis["violation_integral"].get(cv.name), integral),
            with_unit(kpis["final"].get(cv.name), u),
            with_unit(kpis["final_error"].get(cv.name), u) if has_sp else "no setpoint"))
    overall = [(f"MV travel {k}", with_unit(v, _unit(units, k)))
               for k, v in kpis["mv_travel"].items()]
    for label, key in (("solve time p50", "solve_time_p50_ms"), ("solve time p99",
                                                                 "solve_time_p99_ms")):
        v = kpis[key]
        overall.append((label, with_unit(v, "ms") if v is not None else "no solves"))
    overall += [("solver failures", f"{kpis['failures']:,d} cycles"),
                ("sheds", f"{kpis['sheds']:,d} cycles"),
                ("cycles run", f"{kpis['cycles']:,d} cycles"),
                ("cycles with writes", f"{kpis['writes']:,d} cycles")]
    return cv_rows, overall


def verdict_table(report: HtmlReport, frame: pd.DataFrame, spec: ControllerSpec,
                  units: dict[str, str], caption: str = "") -> list:
    """The verdict (targets against achieved) as a table; returns the verdicts."""
    verdicts = verdict(frame, spec)
    if not verdicts:
        report.paragraph("Verdict: no CV has a setpoint; the CVs were kept within their limits "
                         "(see the trends).")
        return verdicts
    report.table(("CV", "setpoint", "achieved (mean)", "error", "tolerance", "on target"),
                 [(v.name, with_unit(v.setpoint, _unit(units, v.name)),
                   with_unit(v.achieved, _unit(units, v.name)),
                   with_unit(v.error, _unit(units, v.name), scale=abs(v.setpoint) or None),
                   with_unit(v.tolerance, _unit(units, v.name)),
                   "yes" if v.on_target else "NO") for v in verdicts],
                 caption or f"Verdict: each CV's final setpoint against the plant's mean over "
                            f"the last {FINAL_FRACTION:.0%} of the run")
    return verdicts


def write_loop_report(folder: Path, frame: pd.DataFrame, spec: ControllerSpec, kpis: dict[str, Any],
                      events: pd.DataFrame, units: dict[str, str], time_unit: str,
                      title: str, deployed: bool = False) -> Path:
    """Write ``report.html`` (and PNGs) for a closed-loop run (``deployed``: with the
    communication statistics)."""
    report = HtmlReport(title, folder)
    report.paragraph(f"{len(frame):,d} control cycles of {spec.sample_time:g} {time_unit}; "
                     f"controller on model '{spec.model}', backend {spec.backend()}, "
                     f"estimator {spec.estimator.kind}.")
    report.heading("Verdict")
    verdict_table(report, frame, spec, units)
    report.heading("Controlled variables")
    cvs = [c.name for c in spec.cv]
    fig, axes = plt.subplots(len(cvs), 1, figsize=(9, 2.2 * len(cvs) + 0.5), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], cvs):
        _trend_axes(ax, frame, name, units.get(name, ""), plant=True)
    axes[-1, 0].set_xlabel(f"time [{time_unit}]")
    fig.tight_layout()
    report.figure(fig, "cv_trends", "CVs (plant values and measurements) against setpoints, "
                                    "steady-state targets and the limits near them (limits far "
                                    "from the data are named in the legend).")
    report.heading("Manipulated variables")
    mvs = [m.name for m in spec.mv]
    fig, axes = plt.subplots(len(mvs), 1, figsize=(9, 2.0 * len(mvs) + 0.5), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], mvs):
        _mv_axes(ax, frame, name, units.get(name, ""))
    axes[-1, 0].set_xlabel(f"time [{time_unit}]")
    fig.tight_layout()
    report.figure(fig, "mv_trends", "MVs against their steady-state targets and the limits near "
                                    "them (limits far from the data are named in the legend).")
    report.heading("Key performance indicators")
    cv_rows, overall = kpi_rows(kpis, spec, units, time_unit)
    report.table(("CV", "IAE", "soft-limit violation integral", "final value", "final error"),
                 cv_rows, "Per CV (IAE: integral of |CV - setpoint| over the run)")
    report.table(("quantity", "value"), overall, "Overall")
    given_up_section(report, kpis.get("given_up", []), time_unit)
    sheds_section(report, events, time_unit)
    performance_section(report, frame, events, cvs, mvs,
                        {"kind": "deployed" if deployed else "SIL", "model": spec.model,
                         "time_unit": time_unit})
    if deployed:
        communication_section(report, frame, events)
    if not events.empty:
        report.heading("Events")
        shown = events.head(200)
        report.table(("cycle", f"time [{time_unit}]", "kind", "message"),
                     [(int(r.cycle), float(r.t), r.kind, r.message) for r in shown.itertuples()],
                     caption="" if len(events) <= 200 else f"first 200 of {len(events)} events")
    return report.write()


def unit_map(model) -> dict[str, str]:
    """Variable name to unit for every variable of a model."""
    return {v.name: v.unit for g in (model.states, model.inputs, model.outputs) for v in g}
