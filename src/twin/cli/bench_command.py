"""``twin bench``: the benchmark harness from the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from twin.core.errors import InputError

RUN_FAILED = 1
"""Exit status of a run in which a figure failed."""


def register(cli: click.Group, emit, json_option, jsonable, fail) -> None:
    """Add ``twin bench`` to ``cli`` (``emit``, ``jsonable``, ``fail``: the CLI's output helpers)."""

    @cli.command()
    @click.option("--quick", is_flag=True, help="Short run for CI (each figure has its own budget).")
    @click.option("--only", multiple=True, metavar="NAME", help="Run only this figure (repeatable).")
    @click.option("--list", "list_only", is_flag=True, help="List the figures and exit.")
    @click.option("--out", type=click.Path(path_type=Path), default=None, help="Also write the JSON here.")
    @json_option
    def bench(quick: bool, only: tuple[str, ...], list_only: bool, out: Path | None, as_json: bool) -> None:
        """Run the benchmark harness: medians, p99 and baselines from the same run."""
        from twin_benchmarks import harness

        if list_only:
            figures = harness.load_figures()
            data = {name: {"description": b.description, "quick_budget_s": b.quick_budget_s}
                    for name, b in figures.items()}
            emit(data, as_json, "\n".join(f"{n:<16} {d['description']}" for n, d in data.items()))
            return
        if out is not None and not out.resolve().parent.is_dir():
            raise InputError(f"--out {out}: folder '{out.parent}' does not exist")
        if out is not None and out.is_dir():
            raise InputError(f"--out {out}: is a folder; give the JSON file to write")
        report = harness.run(only or None, quick, progress=lambda msg: click.echo(f"bench: {msg}", err=True))
        text = json.dumps(jsonable(report), indent=2)
        if out is not None:
            out.write_text(text + "\n")
        if as_json:
            click.echo(text)
        else:
            click.echo("\n".join(_bench_line(name, fig) for name, fig in report["figures"].items()))
        if report.get("interrupted"):
            kept = f" (kept in {out})" if out is not None else ""
            done = len(report["figures"])
            click.echo(f"twin: error: interrupted during {report['interrupted']}; {done} "
                       f"figure{'' if done == 1 else 's'} finished before it{kept}", err=True)
            raise click.exceptions.Exit(130)
        if report["failed"]:
            first = report["failed"][0]
            fail(f"{len(report['failed'])} of {len(report['figures'])} benchmark figures failed "
                  f"(the others' results are kept): {first}: {report['figures'][first]['error']}",
                  RUN_FAILED)



def _bench_line(name: str, fig: dict[str, Any]) -> str:
    """One terminal line per figure: figures, ratios, targets, or why it did not run."""
    if fig["status"] != "ok":
        return f"{name:<14} {fig['status'].upper()}: {fig['error']}"
    p99 = f"{fig['p99']:.4g}" if fig.get("p99") is not None else "n/a"
    ratios = ", ".join(f"{k} {v:.3g}x" for k, v in fig["ratio_to_baseline"].items()) or "none"
    met = ", ".join(f"{k}: {_met(t['met'])}" for k, t in fig["targets"].items())
    skipped = "".join(f"; baseline {k} {why}" for k, why in fig.get("skipped_baselines", {}).items())
    return (f"{name:<14} median {fig['median']:.4g} p99 {p99} {fig['unit']}  "
            f"[ratio to baseline: {ratios}]  {met}{skipped}")


def _met(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "NOT met"
