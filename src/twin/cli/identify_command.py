"""``twin identify``: a linear model of the plant from its data."""

from __future__ import annotations

from pathlib import Path

import click


def _names(values: tuple[str, ...]) -> list[str]:
    """``--mv a,b --mv c`` -> ``[a, b, c]``."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``identify`` to the CLI."""

    @cli.command()
    @click.argument("data_file", metavar="DATA")
    @click.option("--mv", "mvs", multiple=True, required=True, metavar="NAME[,NAME]",
                  help="Manipulated variable column(s) (repeatable).")
    @click.option("--cv", "cvs", multiple=True, required=True, metavar="NAME[,NAME]",
                  help="Controlled variable column(s) (repeatable).")
    @click.option("--dv", "dvs", multiple=True, metavar="NAME[,NAME]",
                  help="Measured disturbance column(s) (repeatable).")
    @click.option("--method", type=click.Choice(["fir", "tf", "subspace"]), default="fir",
                  show_default=True, help="Model to save: FIR realised as a state space, transfer "
                  "functions per pair, or subspace state space.")
    @click.option("--order", type=click.IntRange(1, 40), default=None,
                  help="States of the fir/subspace model (default: chosen by fit).")
    @click.option("--structure", type=click.Choice(["fopdt", "sopdt", "integrating"]),
                  default="sopdt", show_default=True, help="Transfer functions of --method tf.")
    @click.option("--settling", type=float, default=None, metavar="SECONDS",
                  help="Longest settling time to cover [s] (default: a sixth of the estimation data).")
    @click.option("--holdout", type=float, default=0.3, show_default=True,
                  help="Fraction of the record, at its end, kept for validation.")
    @click.option("--tagmap", type=click.Path(path_type=Path), default=None, metavar="MAP.toml",
                  help="Tag map of a historian export: tags to variables, units, scaling.")
    @click.option("--time-unit", default=None, metavar="UNIT",
                  help="Unit of a numeric time column: s (default), min or h.")
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Write the identified model file here (TOML; every command takes it as a model).")
    @click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
                  help="Write an HTML report (fit, residual tests, step responses with bands).")
    @json_option
    def identify(data_file, mvs, cvs, dvs, method, order, structure, settling, holdout, tagmap,
                 time_unit, out, report_path, as_json) -> None:
        """Identify a linear model of the CVs from the MVs (and DVs) in DATA.

        DATA is a plant-data file (wide CSV: ``time`` [s], then one column
        per variable; with --tagmap a historian export) or the name of a
        shipped example, read as `twin data inspect` reads it: Bad quality,
        frozen values and spikes are rejected (a note on stderr per rule). Prints the fit on
        the held-out data, the gain matrix with its uncertainty, the
        relative gain array, singular values and condition number, and a
        WARNING when the gains are ill-conditioned.

        Exit status: 0 when identified; 2 for bad input.
        """
        from twin.core.data.clean import load_clean
        from twin.core.errors import InputError
        from twin.orchestration.examples import file_or_example
        from twin.orchestration.identify_run import identify as run_identify
        from twin.orchestration.identify_report import summary_text, write_report

        cleaning = load_clean(file_or_example(data_file), tagmap=tagmap, time_unit=time_unit,
                              inputs=[*_names(mvs), *_names(dvs)])
        data = cleaning.data
        for line in cleaning.rule_lines:
            click.echo(f"note: data rule {line}", err=True)
        if settling is not None and not settling > 0:
            raise InputError(f"--settling {settling}: expected a positive number of seconds")
        run = run_identify(data, _names(mvs), _names(cvs), _names(dvs), method=method, order=order,
                           holdout=holdout, settling=settling, structure=structure)
        result = run.summary()
        if out is not None:
            run.model.save(out)
            result["model_file"] = str(out)
        if report_path is not None:
            result["report"] = str(write_report(run, report_path))
        emit(result, as_json, summary_text(run, result))
