"""``twin calibrate MODEL DATA --estimate NAME,...``: grey-box parameter estimation from plant data."""

from __future__ import annotations

import math
from pathlib import Path

import click

from twin.core.errors import InputError


def _names(text: str | None, option: str) -> list[str]:
    names = [n.strip() for n in (text or "").split(",") if n.strip()]
    if text is not None and not names:
        raise InputError(f"{option}: expected NAME[,NAME...]")
    return names


def _bounds(items: tuple[str, ...]) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for item in items:
        name, sep, text = item.partition("=")
        low, colon, high = text.partition(":")
        try:
            pair = (float(low), float(high))
        except ValueError:
            pair = (math.nan, math.nan)
        if not sep or not colon or not name.strip() or any(math.isnan(v) for v in pair) \
                or pair[0] > pair[1]:
            raise InputError(f"--bound {item}: expected NAME=LOW:HIGH with numbers LOW <= HIGH")
        out[name.strip()] = pair
    return out


def register(cli: click.Group, emit, json_option, set_option, param_set_option, assignments) -> None:
    """Add ``calibrate`` to the CLI."""

    @cli.command()
    @click.argument("model_name", metavar="MODEL")
    @click.argument("data", metavar="DATA")
    @click.option("--estimate", required=True, metavar="NAME,...",
                  help="Parameters to estimate (comma-separated).")
    @click.option("--x0-free", "x0_free", is_flag=False, flag_value="*", default=None,
                  metavar="[NAME,...]",
                  help="Estimate these initial states too (alone or 'all': all states).")
    @set_option
    @param_set_option
    @click.option("--sigma", "sigmas", multiple=True, metavar="NAME=STD",
                  help="Noise standard deviation of a measured variable [its unit] (repeatable; "
                       "default: estimated from the data).")
    @click.option("--bound", "bound_items", multiple=True, metavar="NAME=LOW:HIGH",
                  help="Bounds of an estimated parameter [its unit] (repeatable; default: the "
                       "model's declared bounds).")
    @click.option("--tagmap", type=click.Path(path_type=Path), default=None, metavar="MAP.toml",
                  help="Tag map of a historian export: tags to model variables, units, scaling.")
    @click.option("--time-unit", default=None, metavar="UNIT",
                  help="Unit of a numeric time column: s (default), min or h.")
    @click.option("--substeps", type=int, default=None,
                  help="RK4 steps per sample interval (default: from the model's fastest mode).")
    @click.option("--out", type=click.Path(path_type=Path), default=None, metavar="PARAMS.toml",
                  help="Parameter-set file to write (default: MODEL_calibrated.toml).")
    @click.option("--force", is_flag=True, help="Replace an existing --out file; write it even "
                  "when the estimates are not identifiable.")
    @click.option("--report", "report_path", type=click.Path(path_type=Path), default=None,
                  metavar="OUT.html", help="Also write an HTML report (figures beside it).")
    @json_option
    def calibrate(model_name, data, estimate, x0_free, sets, param_set, sigmas, bound_items,
                  tagmap, time_unit, substeps, out, force, report_path, as_json) -> None:
        """Estimate parameters of MODEL from plant DATA (grey box).

        DATA is plant data as `twin data inspect` reads it (a wide CSV with
        `time` [s] and `name [unit]` columns, the long form, Parquet; with
        --tagmap for historian tags): variables named like the model's inputs
        are held between samples; those named like states or outputs are
        measurements (missing samples are skipped, so a slow analyser is fine). Multiple shooting in CasADi with IPOPT;
        95 % intervals, correlations and identifiability warnings are
        reported. The estimates are written as a parameter-set file that
        every command takes with --param-set FILE.

        Exit status: 0 with estimates; 1 when the optimisation found no
        solution or the estimates are not identifiable (the parameter-set
        file is then not written unless --force); 2 for bad input.
        """
        from twin.core.errors import RunStopped
        from twin.orchestration.calibrate_run import run_calibration

        names = _names(estimate, "--estimate")
        free: list[str] | bool = (True if x0_free == "*" or (x0_free or "").strip().lower() == "all"
                                  else _names(x0_free, "--x0-free"))
        sigma = {k: float(v) if not isinstance(v, str) else math.nan
                 for k, v in assignments(sigmas, "--sigma").items()}
        if any(not (v > 0) for v in sigma.values()):
            raise InputError("--sigma: noise standard deviations must be positive numbers "
                             "in the variable's unit")
        target = out or Path(f"{Path(model_name.split(':')[0]).stem}_calibrated.toml")
        if target.exists() and not force:
            raise InputError(f"--out {target}: the file exists; add --force to replace it")
        _, summary = run_calibration(model_name, data, names, x0_free=free,
                                     sets=assignments(sets, "--set"), param_set=param_set,
                                     sigma=sigma or None, bounds=_bounds(bound_items), out=target,
                                     report=report_path, substeps=substeps, tagmap=tagmap,
                                     time_unit=time_unit, write_unidentifiable=force)
        for line in summary["data_rules"]:
            click.echo(f"note: data rule {line}", err=True)
        emit(summary, as_json, _human(summary))
        if summary.get("withheld"):
            raise RunStopped(summary["withheld"])


def _human(summary: dict) -> str:
    lines = [f"{'name':<12} {'estimate':>12} {'95 % interval':>27}  unit"]
    for e in summary["estimates"]:
        interval = ("not identifiable" if e["low95"] is None
                    else f"[{e['low95']:.6g}, {e['high95']:.6g}]")
        lines.append(f"{e['name']:<12} {e['value']:>12.6g} {interval:>27}  {e['unit']}")
    for name, f in summary["fit"].items():
        lines.append(f"fit {name}: {f['samples']} samples, RMSE {f['rmse']:.4g} {f['unit']} "
                     f"(noise {f['sigma']:.4g})")
    lines += [f"warning: {w}" for w in summary["warnings"]]
    lines += [f"note: {n}" for n in summary["notes"]]
    if summary.get("parameter_file"):
        lines.append(f"parameter set written to {summary['parameter_file']} (use --param-set "
                     f"{summary['parameter_file']})")
    if "report" in summary:
        lines.append(f"report: {summary['report']}")
    return "\n".join(lines)
