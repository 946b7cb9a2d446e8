"""Trend plots of simulation results (matplotlib, no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from twin.core.results import SimulationResult  # noqa: E402


def trend_figure(result: SimulationResult, variables: Sequence[str] | None = None,
                 title: str | None = None) -> "plt.Figure":
    """One panel per variable against time, inputs drawn as steps.

    ``result`` is a model run or an FMU run (anything with ``t``,
    ``column``, ``unit``, ``input_names``, ``plot_names``, ``time_unit``, ``title``).
    """
    names = list(variables) if variables else result.plot_names()
    inputs = set(result.input_names)
    ncols = 2 if len(names) > 3 else 1
    nrows = -(-len(names) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 1.9 * nrows + 0.6),
                             sharex=True, squeeze=False)
    for ax, name in zip(axes.flat, names):
        data = result.column(name)
        if name in inputs:
            ax.step(result.t, data, where="post", color="tab:orange")
        else:
            ax.plot(result.t, data, color="tab:blue")
        ax.set_ylabel(f"{name} [{result.unit(name)}]")
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel(f"time [{result.time_unit}]")
    fig.suptitle(title or result.title, fontsize=11)
    fig.tight_layout()
    return fig


def save_figure(fig: "plt.Figure", path: str | Path) -> Path:
    """Write a PNG and release the figure."""
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
