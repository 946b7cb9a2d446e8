"""``twin steptest``: design and run a step test on the twin or an FMU, log and export it."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import click

from twin.cli.duration_option import duration_option
from twin.core.errors import InputError, RunStopped


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``steptest`` to the CLI."""

    @cli.command()
    @click.argument("config", metavar="CONFIG.toml", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Output folder (default: steptest-<config>).")
    @click.option("--force", is_flag=True,
                  help="Write into an --out folder that holds files, replacing that run.")
    @duration_option("run the test's signal for this long instead of the file's duration")
    @json_option
    def steptest(config: Path, out: Path | None, force: bool, duration: float | None,
                 as_json: bool) -> None:
        """Run a step test (GBN, PRBS, staircase or rotated moves) from a TOML file.

        CONFIG is a step-test file, or the name of a shipped example
        (qt_steptest.toml). Writes the cycle log (cycles.sqlite), the data
        as wide CSV and Parquet (steptest.csv, steptest.parquet, read by
        `twin identify`) and report.html to the --out folder.
        """
        from twin.cli.progress_display import progress_display
        from twin.orchestration.examples import file_or_example
        from twin.orchestration.out_folder import check_out_folder
        from twin.orchestration.steptest import load_steptest, run_step_test

        config = file_or_example(config)
        spec = load_steptest(config)
        if duration is not None:
            if not (math.isfinite(duration) and duration > 0):
                raise InputError(f"--duration {duration:g}: expected a number > 0")
            spec = replace(spec, test=replace(spec.test, duration=duration))
        folder = check_out_folder(out or Path(f"steptest-{config.stem}"), force)
        try:
            with progress_display(f"step test {config.stem}", as_json) as progress:
                result = run_step_test(spec, folder, fresh=force, progress=progress)
        except KeyboardInterrupt:
            kept = (folder / "steptest.csv").is_file()
            click.echo(f"\ninterrupted: the samples taken are in {folder}"
                       + (" (cycles.sqlite, steptest.csv, report.html)" if kept else ""),
                       err=True)
            raise click.exceptions.Exit(130) from None
        data = {"folder": result.folder, "store": result.store, "csv": result.csv,
                "parquet": result.parquet, "report": result.report,
                "samples": len(result.time), "pauses": result.pauses,
                "signal": spec.test.signal, "switch_time": result.design.switch_time,
                "amplitudes": dict(zip(result.mv_names, map(float, result.design.amplitudes))),
                "time_unit": result.time_unit}
        if result.pretest is not None:
            data["pretest"] = {"settling_time": result.pretest.settling_time,
                               "gains": {cv: dict(zip(result.mv_names, map(float, row)))
                                         for cv, row in zip(result.cv_names,
                                                            result.pretest.gains)}}
        emit(data, as_json, "\n".join([
            f"step test {config.stem}: {spec.test.signal} on {', '.join(result.mv_names)}, "
            f"{len(result.time)} samples, {result.pauses} safety pauses",
            f"data written to {result.csv} and {result.parquet}; report {result.report}"]))
        if not result.moved:
            raise RunStopped(f"step test {config.stem}: the MVs never moved "
                             f"({int(result.paused.sum())} of {len(result.time)} samples paused "
                             f"or shed); the data in {result.folder} excite nothing")
