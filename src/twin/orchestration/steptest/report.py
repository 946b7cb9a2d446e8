"""HTML report of a step test: the signals' statistics, trends of MVs and CVs, pauses, events."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from apc.steptest.signals import cross_correlation
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport


def signal_statistics(result) -> list[dict[str, float]]:
    """Per MV: base, amplitude, range written, switches, mean time between them, largest move.

    Switches are counted on the designed signal (a rate-limited switch takes
    several samples of the values written); the mean switching time is the
    designed signal's length over its switches. Times in the plant's time unit.
    """
    dt = result.spec.test.sample_time
    rows = []
    for j, name in enumerate(result.mv_names):
        u, designed = result.mv[:, j], result.design_values[:, j]
        moves = np.diff(u)
        switches = int(np.count_nonzero(np.diff(designed) != 0))
        rows.append({"mv": name, "base": float(result.design.base[j]),
                     "amplitude": float(result.design.amplitudes[j]),
                     "min": float(u.min()), "max": float(u.max()), "switches": switches,
                     "mean_switch_time": len(designed) * dt / switches if switches
                     else float("nan"),
                     "largest_move": float(np.abs(moves).max()) if moves.size else 0.0})
    return rows


def write_report(result, path: str | Path) -> Path:
    """Write ``report.html`` (and its figures) for a finished step test."""
    path = Path(path)
    spec, unit = result.spec, result.time_unit
    report = HtmlReport(spec.title or f"Step test on {result.spec.plant_name}", path.parent)
    report.paragraph(f"{spec.test.signal} signal, sample time {spec.test.sample_time:g} {unit}, "
                     f"{len(result.time)} samples ({result.time[-1]:g} {unit}); designed mean "
                     f"switching time {result.design.switch_time:g} {unit}; seed {spec.test.seed}; "
                     f"{result.pauses} safety pauses.")
    report.heading("Signals")
    stats = signal_statistics(result)
    report.table(["MV", "unit", "base", "amplitude", "min", "max", "switches",
                  f"mean switching time [{unit}]", "largest move"],
                 [[s["mv"], result.units.get(s["mv"], "-"), s["base"], s["amplitude"], s["min"],
                   s["max"], s["switches"], s["mean_switch_time"], s["largest_move"]]
                  for s in stats], scales=[None, None, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    if len(result.mv_names) > 1:
        corr = cross_correlation(result.mv - result.design.base[None, :])
        report.table(["correlation of MV moves", *result.mv_names],
                     [[name, *map(float, corr[j])] for j, name in enumerate(result.mv_names)],
                     caption="near 0 off the diagonal: uncorrelated moves (rotated designs "
                             "correlate them on purpose)", scales=[None] + [1.0] * len(corr))
    if result.pretest is not None:
        found = result.pretest
        report.heading("Pre-test")
        report.paragraph(f"One step per MV, fitted with first order plus dead time; settling time "
                         f"{found.settling_time:.4g} {unit} (the test was designed from it).")
        report.table(["CV", "MV", "gain [CV unit / MV unit]", f"dead time [{unit}]",
                      f"time constant [{unit}]", f"settling time [{unit}]", "above the noise"],
                     [[cv, mv, f.gain, f.dead_time, f.time_constant, f.settling_time,
                       "yes" if found.significant[result.cv_names.index(cv),
                                                   result.mv_names.index(mv)] else "no"]
                      for (cv, mv), f in found.fits.items()],
                     scales=[None, None, 0.0, 0.0, 0.0, 0.0, None])
    report.heading("Trends")
    report.figure(_trends(result), "steptest_trends",
                  "MVs written (with the design and hard limits) and CVs measured (with their "
                  "safety limits); shaded: lead-in and safety pauses")
    report.heading("Events")
    report.table(["time", "kind", "message"],
                 [[t, kind, message] for t, kind, message in result.events] or [["-", "-", "none"]],
                 scales=[0.0, None, None])
    return report.write(path.name)


def _trends(result) -> "plt.Figure":
    spec, t = result.spec, result.time
    names = result.mv_names + result.cv_names
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.9 * len(names) + 0.6), sharex=True,
                             squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        if name in result.mv_names:
            j = result.mv_names.index(name)
            ax.step(t, result.design_values[:, j], where="post", color="0.6", lw=0.8,
                    label="design")
            ax.step(t, result.mv[:, j], where="post", color="tab:orange", lw=1.2, label="written")
            limits = (spec.mv[j].lower, spec.mv[j].upper)
        else:
            i = result.cv_names.index(name)
            ax.plot(t, result.cv[:, i], color="tab:blue", lw=0.6, marker=".", ms=1.5,
                    label="measured")
            limits = (spec.cv[i].lower, spec.cv[i].upper)
        _limits(ax, ax.get_lines(), limits)
        _shade(ax, t, result.paused)
        ax.set_ylabel(f"{name} [{result.units.get(name, '-')}]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="upper right")
    axes[-1, 0].set_xlabel(f"time [{result.time_unit}]")
    fig.tight_layout()
    return fig


def _limits(ax, lines, limits: tuple[float, float]) -> None:
    """Draw the limits near the data; name the far ones in the legend (the data keeps the scale)."""
    data = np.concatenate([np.asarray(line.get_ydata(), dtype=float) for line in lines])
    data = data[np.isfinite(data)]
    low, high = (float(data.min()), float(data.max())) if data.size else (0.0, 1.0)
    span = max(high - low, 1e-9)
    shown = [low, high]
    for limit, word in zip(limits, ("low", "high")):
        if not np.isfinite(limit):
            continue
        if low - span <= limit <= high + span:
            ax.axhline(limit, color="darkred", lw=0.8, label=f"{word} limit")
            shown.append(limit)
        else:
            ax.plot([], [], ls="none", label=f"{word} limit {limit:g} (off the scale)")
    pad = 0.08 * (max(shown) - min(shown) or 1.0)
    ax.set_ylim(min(shown) - pad, max(shown) + pad)


def _shade(ax, t: np.ndarray, paused: np.ndarray) -> None:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], paused.astype(int), [0]])))
    step = t[1] - t[0] if t.size > 1 else 1.0
    for a, b in zip(edges[::2], edges[1::2]):
        ax.axvspan(t[a], t[b - 1] + step, color="tab:red", alpha=0.08, lw=0)
