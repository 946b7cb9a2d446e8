"""The HTML report of a calibration: estimates, intervals, correlations, measured vs predicted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from twin.core.calibration import Calibration
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport


def write_report(result: Calibration, summary: dict[str, Any], path: str | Path) -> Path:
    """Write the report to ``path`` (an ``.html`` file; figures are PNG files beside it)."""
    path = Path(path)
    model = result.model
    report = HtmlReport(f"Calibration of {model.name} from {Path(summary['data']).name}",
                        path.parent if str(path.parent) else ".")
    report.paragraph(f"Multiple shooting with IPOPT ({result.iterations} iterations, "
                     f"{result.seconds:.2f} s) on {result.data.t.size} samples over "
                     f"{result.data.t[-1]:g} {model.time_unit}; noise {result.sigma_source}.")
    report.heading("Estimates (95 % confidence intervals, Student t)")
    report.table(["name", "estimate", "unit", "start", "std", "low 95 %", "high 95 %"],
                 [[e["name"], e["value"], e["unit"], e["initial"], _text(e["std"]),
                   _text(e["low95"]), _text(e["high95"])] for e in summary["estimates"]],
                 scales=[None, 0.0, None, 0.0, 0.0, 0.0, 0.0])
    report.heading("Identifiability and integration")
    for line in summary["warnings"] or ["no warning: the Fisher information is well conditioned, "
                                        "no pair of estimates is correlated beyond 0.95, and RK4 "
                                        "follows the adaptive integrator"]:
        report.paragraph(line)
    gap = summary["integration_error_sigma"]
    report.paragraph(f"RK4 with {summary['substeps']} steps per sample interval; largest gap to "
                     "the adaptive integrator: "
                     + ("not checked" if gap is None else f"{gap:.2g} noise std"))
    cond = summary["fisher_condition"]
    report.paragraph("Condition number of the normalised Fisher information: "
                     + ("infinite (singular)" if cond is None else f"{cond:.3g}"))
    names = summary["correlation"]["names"]
    report.table(["correlation", *names],
                 [[n, *row] for n, row in zip(names, summary["correlation"]["matrix"])],
                 scales=[None] + [1.0] * len(names))
    report.heading("Fit")
    report.table(["measured", "samples", "RMSE", "noise std", "fit [%]", "unit"],
                 [[n, f["samples"], f["rmse"], f["sigma"], _text(f["nrmse_fit_percent"]), f["unit"]]
                  for n, f in summary["fit"].items()], scales=[None, 0.0, 0.0, 0.0, 0.0, None])
    report.figure(validation_figure(result), f"{path.stem}_fit",
                  "Measured samples (dots) and the model's prediction with the estimates (line).")
    for note in summary["notes"]:
        report.paragraph(note)
    return report.write(path.name)


def _text(value: float | None) -> object:
    return "not identifiable" if value is None else value


def validation_figure(result: Calibration, label: str = "model",
                      height: float = 2.0) -> "plt.Figure":
    """Measured (dots, missing samples left out) against the calibrated model's prediction,
    one panel of ``height`` [in] per measured variable."""
    names = result.data.names
    fig, axes = plt.subplots(len(names), 1, figsize=(8, height * len(names) + 0.6), sharex=True,
                             squeeze=False)
    t = result.data.t
    for j, (ax, name) in enumerate(zip(axes[:, 0], names)):
        y = result.data.y[:, j]
        ok = np.isfinite(y)
        ax.plot(t[ok], y[ok], ".", ms=2.5 if ok.sum() > 100 else 6, color="tab:gray",
                label="measured")
        ax.plot(t, result.predicted[:, j], color="tab:blue", lw=1.2, label=label)
        ax.set_ylabel(f"{name} [{result.model.variable(name).unit}]")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8)
    axes[-1, 0].set_xlabel(f"time [{result.model.time_unit}]")
    fig.tight_layout()
    return fig
