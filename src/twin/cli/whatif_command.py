"""``twin whatif``: a what-if study from a TOML file, on local processes or a Dask cluster."""

from __future__ import annotations

from pathlib import Path

import click

from twin.cli.duration_option import duration_option, shortened_study


def register(cli: click.Group, emit, json_option, progress_bar) -> None:
    """Add ``whatif`` to the CLI."""

    @cli.command()
    @click.argument("study_file", metavar="STUDY.toml", type=click.Path(path_type=Path))
    @click.option("--workers", type=int, default=1, show_default=True,
                  help="Local worker processes.")
    @click.option("--scheduler", default=None, metavar="ADDRESS",
                  help="Run on this Dask scheduler (tcp://host:port) instead.")
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Output folder (default: whatif-<study>).")
    @click.option("--resume", is_flag=True, help="Finish an interrupted study in --out.")
    @click.option("--force", is_flag=True,
                  help="Write into an --out folder that holds files, replacing that run.")
    @click.option("--chunk-size", type=int, default=None,
                  help="Scenarios per task (default: by base case and workers).")
    @duration_option("run each scenario for this long instead of the study's duration")
    @json_option
    def whatif(study_file, workers, scheduler, out, resume, force, chunk_size, duration,
               as_json) -> None:
        """Run a what-if study: scenarios, KPIs, sensitivity, a report.

        STUDY.toml is a study file, or the name of a shipped example
        (cstr_kinetics_ensemble.toml, cstr_apc_rto_sobol.toml).

        Exit status: 0 when at least one scenario succeeded (failed ones are
        rows of the summary with their error); 1 when every scenario failed
        (the outputs are written, and one line on stderr gives the first
        error); 2 for bad input.
        """
        from twin.cli.progress_display import progress_display
        from twin.orchestration.whatif import load_study, run_study

        study = load_study(study_file)
        if duration is not None:
            study = shortened_study(study, duration)
        folder = out or Path(f"whatif-{study_file.stem}")
        try:
            with progress_display(f"what-if {study_file.stem}", as_json, "study") as progress:
                result = run_study(study, folder, workers=workers, scheduler=scheduler,
                                   resume=resume, chunk_size=chunk_size, progress=progress,
                                   force=force)
        except KeyboardInterrupt:
            click.echo(f"\ninterrupted: finished scenarios are kept in {folder}; add --resume "
                       "to finish the study", err=True)
            raise click.exceptions.Exit(130) from None
        data = {"folder": result.folder, "summary": result.summary, "report": result.report,
                "scenarios": result.scenarios, "failed": result.failed,
                "resumed": result.resumed, "seconds": round(result.seconds, 3),
                "sensitivity": result.sensitivity, "sensitivity_note": result.sensitivity_note,
                "sensitivity_warnings": result.sensitivity_warnings}
        for line in result.sensitivity_warnings:
            click.echo(f"warning: {line}", err=True)
        indices = (["Sobol indices (95 % intervals):", *result.sensitivity_lines]
                   if result.sensitivity_lines else [])
        emit(data, as_json, "\n".join([*indices, f"{result.scenarios} scenarios ({result.failed} "
                                        f"failed) in {result.seconds:.1f} s; summary "
                                        f"{result.summary}; report {result.report}"]))
        if result.scenarios and result.failed == result.scenarios:
            first = " ".join(result.first_error.split())
            click.echo(f"twin: error: every scenario of the study failed (the first: {first}); "
                       f"see {result.summary}", err=True)
            raise click.exceptions.Exit(1)
