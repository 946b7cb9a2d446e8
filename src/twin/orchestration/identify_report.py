"""What ``twin identify`` prints and its HTML report (fit, residual tests, step responses with bands)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from twin.orchestration.identify_run import IdentifyRun
from twin.orchestration.plots import plt
from twin.orchestration.report import HtmlReport


def _matrix(rows, cols, cells) -> list[str]:
    """Aligned text table: row names, then one column per name of ``cols``."""
    width = max(len(str(c)) for c in [*cols, *(v for row in cells for v in row)]) + 2
    first = max(len(r) for r in rows) + 2
    lines = [" " * first + "".join(f"{c:>{width}}" for c in cols)]
    for name, row in zip(rows, cells):
        lines.append(f"{name:<{first}}" + "".join(f"{v:>{width}}" for v in row))
    return lines


def summary_text(run: IdentifyRun, result: dict[str, Any]) -> str:
    """The human summary: fit, gains +- std, RGA, singular values, condition number, warnings."""
    m, g = run.model, run.gains
    lines = [f"identified {', '.join(m.outputs)} from {', '.join(m.inputs)} "
             f"({result['method']}, {m.A.shape[0]} states, dt {m.dt:g} s)"]
    fits = ", ".join(f"{n} {f:.1f} %" for n, f in result["fit_percent"].items())
    lines.append(f"fit ({result['fit_kind']}): {fits}")
    cells = [[f"{v:.4g} +- {s:.2g}" for v, s in zip(row, srow)] for row, srow in zip(g.gain, g.gain_std)]
    lines.append("steady-state gains (FIR, +- one standard deviation):")
    lines += _matrix(g.outputs, g.inputs, cells)
    if g.rga is not None:
        lines.append("relative gain array (95 % interval):")
        cells = [[f"{v:.3g} [{lo:.3g}, {hi:.3g}]" for v, lo, hi in zip(r, rl, rh)]
                 for r, rl, rh in zip(g.rga, g.rga_low, g.rga_high)]
        lines += _matrix(g.outputs, g.inputs, cells)
    sv = ", ".join(f"{v:.4g} [{lo:.4g}, {hi:.4g}]" for v, lo, hi in zip(g.singular_values, g.sv_low, g.sv_high))
    lines.append(f"singular values: {sv}")
    lines.append(f"condition number: {g.condition:.4g} [{g.condition_low:.4g}, {g.condition_high:.4g}]")
    lines += result["warnings"]
    if result.get("model_file"):
        lines.append(f"model: {result['model_file']}")
    if result.get("report"):
        lines.append(f"report: {result['report']}")
    return "\n".join(lines)


def write_report(run: IdentifyRun, path: str | Path) -> Path:
    """An HTML page with the figures of ``run``; ``path`` is the HTML file."""
    path = Path(path)
    report = HtmlReport(f"Identification: {run.model.name}", path.parent)
    result = run.summary()
    report.paragraph(summary_text(run, result).splitlines()[0])
    for line in result["warnings"]:
        report.paragraph(line)
    report.heading("Fit on the held-out data" if run.split < len(run.time)
                   else "Fit on the estimation data (nothing held out)")
    report.table(["CV", "fit [%]", "residual white", "independent of inputs"],
                 [[n, f, str(result["residual_white"][n]),
                   str(all(result["input_residual_independent"][n].values()))]
                  for n, f in result["fit_percent"].items()],
                 caption=f"NRMSE fit of the model simulated from the inputs alone; residual tests "
                         f"at lags up to {run.validation.lags} against the 99 % band")
    report.figure(_prediction_figure(run), "prediction", "predicted vs measured (shaded: held out)")
    report.heading("Steady-state gains")
    g = run.gains
    report.table(["CV", *g.inputs], [[o, *[f"{v:.4g} ± {s:.2g}" for v, s in zip(r, sr)]]
                                     for o, r, sr in zip(g.outputs, g.gain, g.gain_std)])
    report.mapping_table({"condition number": g.condition,
                          "condition number, 95 % interval": f"{g.condition_low:.4g} to {g.condition_high:.4g}",
                          "singular values": ", ".join(f"{v:.4g}" for v in g.singular_values)})
    report.figure(_step_figure(run), "steps", "FIR step responses with 95 % bands")
    report.write(path.name)
    return path


def _prediction_figure(run: IdentifyRun):
    outputs = run.model.outputs
    fig, axes = plt.subplots(len(outputs), 1, figsize=(9, 2.4 * len(outputs)), squeeze=False)
    for i, name in enumerate(outputs):
        ax = axes[i, 0]
        ax.plot(run.time, run.y[:, i], lw=0.6, color="0.5", label="measured")
        ax.plot(run.time, run.simulated[:, i], lw=1.0, color="C0", label="model")
        if run.split < len(run.time):
            ax.axvspan(run.time[run.split], run.time[-1], color="C1", alpha=0.08)
        ax.set_ylabel(f"{name} [{run.model.output_units[i]}]")
        ax.legend(loc="upper right", fontsize=8)
    axes[-1, 0].set_xlabel("time [s]")
    fig.tight_layout()
    return fig


def _step_figure(run: IdentifyRun):
    fir, model = run.fir, run.model
    steps, std = fir.step_responses(), fir.step_std()
    p, m, taps = steps.shape
    lag = np.arange(1, taps + 1) * fir.dt
    fig, axes = plt.subplots(p, m, figsize=(3.2 * m, 2.3 * p), squeeze=False)
    for i in range(p):
        for j in range(m):
            ax = axes[i, j]
            ax.fill_between(lag, steps[i, j] - 1.96 * std[i, j], steps[i, j] + 1.96 * std[i, j],
                            color="C0", alpha=0.25)
            ax.plot(lag, steps[i, j], color="C0")
            ax.set_title(f"{model.outputs[i]} / {model.inputs[j]}", fontsize=9)
    fig.tight_layout()
    return fig
