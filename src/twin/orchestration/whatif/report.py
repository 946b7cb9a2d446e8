"""The study report: one self-contained HTML page, and its plots as PNG files."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport
from twin.orchestration.numbers import format_number, with_unit
from twin.orchestration.whatif.sampling import ID, NOMINAL, nominal_appended
from twin.orchestration.whatif.scenarios import result_model
from twin.orchestration.whatif.sobol_quality import WIDE, check_indices
from twin.orchestration.whatif.study import Study
from twin.orchestration.whatif.units import kpi_units, variable_units
from twin.orchestration.whatif.units import label as labelled  # 'label' names legend entries

MAX_POINTS = 5000
"""Scatter plots show at most this many scenarios (an evenly spaced subset)."""

log = logging.getLogger(__name__)


def _saved_series(path: Path) -> pd.DataFrame | None:
    """A scenario's kept time series, or None when missing or unreadable (it is run again)."""
    if not path.exists():
        return None
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - a damaged file is not trusted: run the scenario
        log.warning("whatif: %s cannot be read (%s); the scenario runs again for the report",
                    path, type(exc).__name__)
        return None


def _grid(n: int, cols: int = 3):
    rows = max(1, -(-n // cols))
    fig, axes = plt.subplots(rows, min(cols, max(n, 1)), figsize=(4.2 * min(cols, max(n, 1)),
                                                                  3.2 * rows), squeeze=False)
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat


def _distributions(report: HtmlReport, ok: pd.DataFrame, kpis: list[str],
                   units: dict[str, str]) -> None:
    fig, axes = _grid(len(kpis))
    for ax, k in zip(axes, kpis):
        ax.hist(ok[k].to_numpy(dtype=float), bins=min(40, max(5, len(ok) // 10)), color="#4878a8")
        ax.set_title(k)
        ax.set_xlabel(labelled(k, units.get(k, "")))
        ax.set_ylabel("scenarios")
    fig.tight_layout()
    report.figure(fig, "kpi_distributions", "Distribution of each KPI over the successful "
                                            "scenarios")


def _scatter(report: HtmlReport, ok: pd.DataFrame, kpis: list[str], names: list[str],
             units: dict[str, str]) -> None:
    pts = ok.iloc[np.linspace(0, len(ok) - 1, min(len(ok), MAX_POINTS)).astype(int)] \
        if len(ok) else ok
    fig, axes = plt.subplots(len(kpis), len(names), figsize=(3.4 * len(names), 2.8 * len(kpis)),
                             squeeze=False)
    for i, k in enumerate(kpis):
        for j, name in enumerate(names):
            ax = axes[i][j]
            ax.scatter(pts[name], pts[k], s=6, alpha=0.5, color="#4878a8")
            if i == len(kpis) - 1:
                ax.set_xlabel(labelled(name, units.get(name, "")))
            if j == 0:
                ax.set_ylabel(labelled(k, units.get(k, "")))
    fig.tight_layout()
    report.figure(fig, "kpi_scatter", "Each KPI against each input")


def _sensitivity_chart(report: HtmlReport, sens: pd.DataFrame, kpis: list[str]) -> None:
    fig, axes = _grid(len(kpis))
    sobol = "S1" in set(sens.measure)
    for ax, k in zip(axes, kpis):
        part = sens[sens.kpi == k]
        if sobol:
            s1 = part[part.measure == "S1"].set_index("variable")
            st = part[part.measure == "ST"].set_index("variable")
            y = np.arange(len(s1))
            ax.barh(y - 0.2, s1.value, 0.4, xerr=s1.confidence, label="first order S1",
                    capsize=2)
            ax.barh(y + 0.2, st.loc[s1.index].value, 0.4, xerr=st.loc[s1.index].confidence,
                    label="total ST", capsize=2)
            ax.set_yticks(y, list(s1.index), fontsize=9)
            ax.axvline(0, color="k", lw=0.6)
            ax.axvline(1, color="k", lw=0.6, ls=":")
            ax.set_xlabel("Sobol index [-] (share of the KPI's variance)")
            ax.legend(fontsize=7)
        else:
            part = part.reindex(part.value.abs().sort_values().index)
            ax.barh(part.variable, part.value,
                    color=["#b8503c" if v < 0 else "#4878a8" for v in part.value])
            ax.tick_params(axis="y", labelsize=9)
            ax.axvline(0, color="k", lw=0.6)
            ax.set_xlim(-1, 1)
            ax.set_xlabel("Spearman rank correlation [-]")
        ax.xaxis.set_major_locator(MaxNLocator(5))
        ax.set_ylabel("input")
        ax.set_title(k)
    fig.tight_layout()
    what = "Sobol indices (bars: bootstrap 95 % intervals)" if sobol else \
        "Tornado: Spearman rank correlation of each KPI with each input"
    report.figure(fig, "sensitivity", what)


def _sobol_tables(report: HtmlReport, study: Study, result, sens: pd.DataFrame) -> None:
    """S1 and ST with their intervals, the flags, and the sample size (and time) needed."""
    checks = check_indices(sens, study.sampling.n)
    report.table(["KPI", "variable", "S1 [-]", "S1 95 % interval [-]", "ST [-]",
                  "ST 95 % interval [-]", "flag", "n needed"],
                 [(c.kpi, c.variable, c.s1, f"+/- {format_number(c.s1_conf)}", c.st,
                   f"+/- {format_number(c.st_conf)}", "; ".join(c.problems) or "ok",
                   f"{c.n_needed:,d}")
                  for c in checks],
                 f"Sobol indices at n = {study.sampling.n}; flagged: an interval wider than "
                 f"+/- {WIDE:g}, or 0 <= S1 <= ST <= 1 broken beyond the intervals",
                 scales=[0, 0, 1, 0, 1])
    if result.sensitivity_warnings:
        report.paragraph("Not to be trusted yet: " + result.sensitivity_warnings[-1] + ".")
    else:
        report.paragraph(f"Every interval is within +/- {WIDE:g} and consistent with "
                         "0 <= S1 <= ST <= 1.")


def _trends(report: HtmlReport, study: Study, result, summary: pd.DataFrame, kpis: list[str]):
    from twin.orchestration.whatif.run import rerun_with_series

    ok = summary[summary.status == "ok"]
    if study.base.kind == "function" or ok.empty:
        return
    rank = study.output.rank_by or kpis[0]
    ordered = ok[~ok[NOMINAL]].sort_values(rank, ascending=not study.output.maximize)
    picks = {}
    if len(ordered):
        picks["best"] = ordered.iloc[0]
        picks["worst"] = ordered.iloc[-1]
    nominal = ok[ok[NOMINAL]]
    if len(nominal):
        picks["nominal"] = nominal.iloc[0]
    names = list(dict.fromkeys(k.variable for k in study.kpi if k.variable))[:4]
    model = result_model(study)
    var_units = ({v.name: v.unit for g in (model.states, model.inputs, model.outputs) for v in g}
                 if model is not None else {})
    series = {}
    for label, row in picks.items():
        path = result.folder / "timeseries" / f"scenario-{int(row[ID]):06d}.parquet"
        frame = _saved_series(path)
        if frame is None:
            frame = rerun_with_series(study, {c: row[c] for c in summary.columns
                                              if c in [ID, NOMINAL] + study.variable_names})
        if frame is not None:
            series[label] = frame
    if series and not names:  # KPIs on no single variable: show the first columns
        first = next(iter(series.values()))
        truth = [c.removesuffix(".plant") for c in first.columns if c.endswith(".plant")]
        names = (truth or [c for c in first.columns if c != "time" and "." not in c])[:4]
    if not series or not names:
        report.paragraph("No time series to show.")
        return
    fig, axes = plt.subplots(len(names), 1, figsize=(8, 2.4 * len(names)), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        for label, frame in series.items():
            col = f"{name}.plant" if f"{name}.plant" in frame else name
            if col in frame:
                ax.plot(frame["time"], frame[col], label=f"{label} (scenario "
                        f"{int(picks[label][ID])})")
        ax.set_ylabel(labelled(name, var_units.get(name, "")))
    from twin.orchestration.whatif.scenarios import time_unit

    axes[0, 0].legend(fontsize=7)
    unit = time_unit(study)
    axes[-1, 0].set_xlabel(f"time [{unit}]" if unit else "time")
    fig.tight_layout()
    report.figure(fig, "trends", f"Best and worst scenarios by {rank} "
                                 f"({'highest' if study.output.maximize else 'lowest'} is best), "
                                 "and the nominal scenario")


def write_study_report(study: Study, result, summary: pd.DataFrame, sens: pd.DataFrame,
                       seconds: np.ndarray) -> None:
    """Write ``report.html`` and its PNGs into the study folder; fills ``result``."""
    report = HtmlReport(study.title or "What-if study", result.folder)
    s = study.sampling
    kpi_unit, var_unit = kpi_units(study), variable_units(study)
    ok = summary[summary.status == "ok"]
    ran = result.scenarios - result.resumed
    report.table(["quantity", "value"], [
        ("scenarios planned", f"{result.scenarios:,d}"
                              + (" (with the nominal one)" if nominal_appended(study) else "")),
        ("scenarios run now", f"{ran:,d}"),
        ("finished before --resume", f"{result.resumed:,d}"),
        ("succeeded", f"{len(ok):,d}"), ("failed", f"{result.failed:,d}"),
        ("sampling", s.method), ("sample size n", f"{s.n or len(summary) - int(nominal_appended(study)):,d}"),
        ("seed", str(study.seed)),
        ("variables", ", ".join(labelled(n, var_unit.get(n, "")) for n in study.variable_names)),
        ("wall time", with_unit(result.seconds, "s")),
        ("median time per scenario", with_unit(float(np.median(seconds)) if len(seconds)
                                               else None, "s"))],
        "Study")
    kpis = result.kpis
    if len(ok):
        stats = [(labelled(k, kpi_unit.get(k, "")), float(ok[k].mean()),
                  float(ok[k].std()) if len(ok) > 1 else 0.0,
                  *[float(np.percentile(ok[k], q)) for q in (0, 5, 50, 95, 100)]) for k in kpis]
        report.table(["KPI", "mean", "std", "min", "p5", "median", "p95", "max"], stats,
                     f"KPIs over the {len(ok):,d} successful scenarios (in each KPI's unit)")
        report.heading("Distributions")
        _distributions(report, ok, kpis, kpi_unit)
        report.heading("KPIs against inputs")
        _scatter(report, ok, kpis[:4], study.variable_names[:6], {**var_unit, **kpi_unit})
    report.heading("Sensitivity")
    if sens.empty:
        report.paragraph(result.sensitivity_note or "No sensitivity analysis.")
    elif "S1" in set(sens.measure):
        _sensitivity_chart(report, sens, kpis)
        _sobol_tables(report, study, result, sens)
    else:
        _sensitivity_chart(report, sens, kpis)
        report.table(["KPI", "variable", "Spearman rank correlation [-]"],
                     [(r.kpi, r.variable, float(r.value)) for r in sens.itertuples()],
                     scales=[0, 0, 1])
    report.heading("Trends")
    _trends(report, study, result, summary, kpis)
    failed = summary[summary.status != "ok"]
    if len(failed):
        report.heading("Failed scenarios")
        report.table(["scenario", *[labelled(n, var_unit.get(n, "")) for n in study.variable_names],
                      "error"],
                     [(int(r[ID]), *[float(r[n]) for n in study.variable_names], r["error"])
                      for _, r in failed.head(50).iterrows()],
                     f"{len(failed):,d} of {result.scenarios:,d} scenarios failed"
                     + (" (the first 50)" if len(failed) > 50 else ""))
    result.report = report.write()
    result.figures = list(report.figures)
