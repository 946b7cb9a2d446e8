"""``twin report FOLDER``: (re)build the HTML report of a run folder from its cycle log."""

from __future__ import annotations

from pathlib import Path

import click

from twin.cli.loop_summary import loop_summary


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``report`` to the CLI."""

    @cli.command()
    @click.argument("folder", type=click.Path(path_type=Path))
    @json_option
    def report(folder: Path, as_json: bool) -> None:
        """(Re)build report.html of a run folder from its cycle log (cycles.sqlite).

        FOLDER is the output folder of `twin control` or `twin deploy`. The
        log is read, never written, so this works while a run is still
        going: the report shows the cycles committed so far.
        """
        from twin.orchestration.loop.run_report import report_run

        built = report_run(folder)
        data = {"folder": built.folder, "report": built.report, "kind": built.kind,
                "cycles": built.cycles, "sheds": built.sheds, "kpis": built.kpis}
        lines = loop_summary(built.cycles, built.kpis, built.units, built.time_unit,
                             f"{built.kind} run in {folder}", built.sheds)
        emit(data, as_json, "\n".join(lines + [f"report written to {built.report}"]))
