"""HTML report of a closed-loop run: trends against setpoints and limits, KPIs, events."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from apc.spec import ControllerSpec
from twin.orchestration.loop.report_sections import communication_section, given_up_section, \
    sheds_section
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport


def _trend_axes(ax, frame: pd.DataFrame, name: str, unit: str, plant: bool) -> None:
    t = frame["time"]
    if plant and f"{name}.plant" in frame:
        ax.plot(t, frame[f"{name}.plant"], color="tab:blue", lw=1.4, label="plant")
    if name in frame:
        ax.plot(t, frame[name], color="tab:blue", lw=0.6, alpha=0.45, ls="", marker=".",
                ms=2, label="measured")
    for role, style in (("setpoint", dict(color="k", ls="--", lw=1)),
                        ("target", dict(color="tab:green", ls=":", lw=1)),
                        ("low", dict(color="tab:red", ls="-.", lw=0.8)),
                        ("high", dict(color="tab:red", ls="-.", lw=0.8)),
                        ("hard_low", dict(color="darkred", ls="-", lw=0.8)),
                        ("hard_high", dict(color="darkred", ls="-", lw=0.8))):
        col = f"{name}.{role}"
        if col in frame and frame[col].notna().any():
            ax.step(t, frame[col], where="post", label=role, **style)
    ax.set_ylabel(f"{name} [{unit}]")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, loc="best")


def write_loop_report(folder: Path, frame: pd.DataFrame, spec: ControllerSpec, kpis: dict[str, Any],
                      events: pd.DataFrame, units: dict[str, str], time_unit: str,
                      title: str, deployed: bool = False) -> Path:
    """Write ``report.html`` (and PNGs) for a closed-loop run (``deployed``: with the
    communication statistics)."""
    report = HtmlReport(title, folder)
    report.paragraph(f"{len(frame)} control cycles of {spec.sample_time:g} {time_unit}; "
                     f"controller on model '{spec.model}', backend {spec.backend()}, "
                     f"estimator {spec.estimator.kind}.")
    report.heading("Controlled variables")
    cvs = [c.name for c in spec.cv]
    fig, axes = plt.subplots(len(cvs), 1, figsize=(9, 2.2 * len(cvs) + 0.5), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], cvs):
        _trend_axes(ax, frame, name, units.get(name, ""), plant=True)
    axes[-1, 0].set_xlabel(f"time [{time_unit}]")
    fig.tight_layout()
    report.figure(fig, "cv_trends", "CVs (plant values and measurements) against setpoints, "
                                    "steady-state targets and limits.")
    report.heading("Manipulated variables")
    mvs = [m.name for m in spec.mv]
    fig, axes = plt.subplots(len(mvs), 1, figsize=(9, 2.0 * len(mvs) + 0.5), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], mvs):
        t = frame["time"]
        if name in frame:
            ax.step(t, frame[name], where="post", color="tab:orange", label="MV")
        for role in ("low", "high"):
            if f"{name}.{role}" in frame:
                ax.step(t, frame[f"{name}.{role}"], where="post", color="tab:red", ls="-.", lw=0.8,
                        label=role)
        if f"{name}.target" in frame:
            ax.step(t, frame[f"{name}.target"], where="post", color="tab:green", ls=":", lw=1,
                    label="target")
        ax.set_ylabel(f"{name} [{units.get(name, '')}]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    axes[-1, 0].set_xlabel(f"time [{time_unit}]")
    fig.tight_layout()
    report.figure(fig, "mv_trends", "MVs against their hard limits and steady-state targets.")
    report.heading("Key performance indicators")
    rows = []
    for name in cvs:
        rows.append((name, kpis["iae"].get(name, float("nan")),
                     kpis["violation_integral"].get(name, float("nan")),
                     kpis["final"].get(name, float("nan")),
                     kpis["final_error"].get(name, float("nan"))))
    report.table(("CV", f"IAE [unit x {time_unit}]", f"violation integral [unit x {time_unit}]",
                  "final value", "final error"), rows)
    report.mapping_table({
        **{f"MV travel {k}": v for k, v in kpis["mv_travel"].items()},
        "solve time p50 [ms]": kpis["solve_time_p50_ms"] if kpis["solve_time_p50_ms"] is not None else "n/a",
        "solve time p99 [ms]": kpis["solve_time_p99_ms"] if kpis["solve_time_p99_ms"] is not None else "n/a",
        "solver failures": kpis["failures"], "sheds": kpis["sheds"],
        "cycles": kpis["cycles"], "cycles with writes": kpis["writes"]})
    given_up_section(report, kpis.get("given_up", []), time_unit)
    sheds_section(report, events, time_unit)
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
