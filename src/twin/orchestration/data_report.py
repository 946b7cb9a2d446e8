"""The HTML overview of a plant data file (``twin data inspect --html``).

One page: what was read (source, start, sampling), a table per tag
(unit, range, sampling, gaps, bad quality, frozen values, spikes), the
steady periods, every rule's report line, and trends of each tag with the
rejected samples marked and the steady periods shaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from twin.core.data.summary import Inspection
from twin.core.errors import InputError
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport

_MARKS = {"quality": ("Bad/Uncertain quality", "tab:red", "x"),
          "frozen": ("frozen", "tab:orange", "s"),
          "spikes": ("spike", "tab:purple", "o")}
"""Rejected samples in the trends: label, colour, marker."""


def write_overview(inspection: Inspection, path: str | Path) -> Path:
    """Write the overview page to ``path`` (an ``.html`` file; its trend PNG goes beside it)."""
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise InputError(f"--html {path}: give a file name ending in .html")
    if path.exists() and path.is_dir():
        raise InputError(f"--html {path}: a folder of that name exists")
    data = inspection.data
    report = HtmlReport(f"Plant data: {Path(data.source).name or data.source}",
                        path.parent if str(path.parent) else ".")
    overview = inspection.overview
    interval = overview["interval_s"]
    report.mapping_table({
        "source": data.source,
        "start (UTC)": overview["start"] or "not given (numeric time)",
        "time stamps": overview["samples"],
        "span [s]": overview["span_s"],
        "median interval [s]": interval["median"],
        "shortest / longest interval [s]": f"{interval['min']:.4g} / {interval['max']:.4g}",
        "intervals more than 1 % off the median [%]": interval["irregular_percent"],
    }, "What was read")
    report.heading("Tags")
    keys = ("name", "unit", "role", "samples", "missing", "min", "max", "mean", "interval_s",
            "gaps", "longest_gap_s", "bad_quality", "frozen", "spikes")
    report.table(["tag", "unit", "role", "samples", "missing", "min", "max", "mean",
                  "interval [s]", "gaps", "longest gap [s]", "bad quality", "frozen", "spikes"],
                 [[t[k] for k in keys] for t in inspection.tags],
                 scales=[None, None, None, 0.0, 0.0, None, None, None, 0.0, 0.0, 0.0, 0.0, 0.0,
                         0.0])
    report.heading("Steady periods")
    if inspection.steady:
        names = data.names
        report.table(["start [s]", "end [s]", "length [s]", *[f"mean {n}" for n in names]],
                     [[p["start_s"], p["end_s"], p["length_s"], *[p["means"][n] for n in names]]
                      for p in inspection.steady], scales=[0.0] * (3 + len(names)))
    else:
        report.paragraph("No steady period was found.")
    report.heading("Rules applied")
    for line in inspection.reports:
        report.paragraph(line)
    report.heading("Trends")
    report.figure(_trends(inspection), f"{path.stem}-trends",
                  "Samples as read; rejected samples marked; steady periods shaded green.")
    return report.write(path.name)


def _trends(inspection: Inspection) -> "plt.Figure":
    data = inspection.data
    names = data.names
    fig, axes = plt.subplots(len(names), 1, figsize=(9, 1.8 * len(names) + 0.8), sharex=True,
                             squeeze=False)
    time = data.time
    for ax, name in zip(axes[:, 0], names):
        values = data.frame[name].to_numpy(dtype=float)
        present = ~np.isnan(values)
        if data.roles.get(name) in ("mv", "dv"):
            ax.step(time[present], values[present], where="post", color="tab:orange", lw=1)
        else:
            ax.plot(time[present], values[present], color="tab:blue", lw=0.8)
        for kind, (label, colour, marker) in _MARKS.items():
            mask = inspection.masks[name][kind]
            if mask.any():
                ax.plot(time[mask], values[mask], marker, color=colour, ms=4, ls="none",
                        label=label)
        for period in inspection.steady:
            ax.axvspan(period["start_s"], period["end_s"], color="tab:green", alpha=0.12)
        ax.set_ylabel(f"{name} [{data.unit(name)}]")
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, loc="best")
    origin = f"{data.start:%Y-%m-%d %H:%M:%S} UTC" if data.start is not None else "the first sample"
    axes[-1, 0].set_xlabel(f"time since {origin} [s]")
    fig.tight_layout()
    return fig
