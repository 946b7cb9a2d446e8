"""``twin``: the command line of the process digital twin.

Every subcommand has ``--help`` and ``--json``. Long commands draw their
progress on stderr when it is a terminal and ``--json`` is not given;
stdout carries only the result (see :mod:`twin.cli.progress_display`).
Bad input exits with status 2 and one line on stderr naming what is
wrong; no traceback. A command that ran but failed (an optimisation that
found no optimum, a what-if study none of whose scenarios succeeded)
prints its results and exits with status 1, with one line on stderr
saying why.
"""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

import click

from twin.cli.bench_command import register as register_bench
from twin.cli.calibrate_command import register as register_calibrate
from twin.cli.console_command import console_beside, console_options
from twin.cli.console_command import register as register_console
from twin.cli.data_command import register as register_data
from twin.cli.examples_command import register as register_examples
from twin.cli.identify_command import register as register_identify
from twin.cli.loop_summary import loop_summary
from twin.cli.opcua_commands import register as register_opcua
from twin.cli.progress_display import progress_display
from twin.cli.report_command import register as register_report
from twin.cli.steptest_command import register as register_steptest
from twin.cli.whatif_command import register as register_whatif
from twin.cli.model_commands import register as register_model_commands
from twin.cli.duration_option import duration_option, shortened_loop
from twin.cli.parsing import assignments, checked, warnings_on_stderr
from twin.core.errors import InputError, TwinError

USAGE_ERROR = 2
RUN_FAILED = 1
"""Exit status of a command that ran but failed (its results are still printed)."""


class TwinGroup(click.Group):
    """A click group whose errors are one line and exit with status 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            with warnings_on_stderr():
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            _fail("aborted", 1)
        except click.ClickException as exc:
            _fail(exc.format_message(), USAGE_ERROR if isinstance(exc, click.UsageError)
                  else exc.exit_code)
        except TwinError as exc:
            _fail(str(exc), exc.exit_code)
        except OSError as exc:
            _fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc),
                  USAGE_ERROR)
        sys.exit(rv if isinstance(rv, int) else 0)


def _fail(message: str, code: int) -> None:
    line = " ".join(str(message).split())
    click.echo(f"twin: error: {line}", err=True)
    sys.exit(code)


def _emit(data: dict[str, Any], as_json: bool, human: str) -> None:
    if as_json:
        click.echo(json.dumps(_jsonable(data), indent=2))
    else:
        click.echo(human)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item"):
        return value.item()
    return value


force_option = click.option("--force", is_flag=True,
                            help="Write into an --out folder that holds files, replacing that run.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print a machine-readable JSON summary.")
set_option = click.option("--set", "sets", multiple=True, metavar="P=V",
                          help="Override a parameter (repeatable).")
param_set_option = click.option("--param-set", default=None, metavar="NAME|FILE",
                                help="Apply a published parameter set of the model (see `twin models "
                                     "MODEL`) or a parameter-set file (.toml, e.g. from `twin calibrate`).")
u_option = click.option("--u", "us", multiple=True, metavar="U=V",
                        help="Set a constant input value (repeatable).")


def _model(name: str, sets: tuple[str, ...], param_set: str | None):
    from twin.orchestration.registry import load_model

    return load_model(name, assignments(sets, "--set"), param_set)


@click.group(cls=TwinGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="process-twin", prog_name="twin")
def cli() -> None:
    """Process digital twin with APC and RTO: plant models, simulation, steady states."""


@cli.command()
@click.argument("name", required=False)
@json_option
def models(name: str | None, as_json: bool) -> None:
    """List the plant models (shipped, and registered by installed packages) with where they
    come from, or show one model's variables, units and defaults.

    MODEL is a model name, a model file (./reactor.py or ./reactor.py:NAME),
    an identified model file (./quad_id.toml) or package.module:ATTRIBUTE.
    """
    from twin.orchestration.registry import available, load_model, origin

    if name is None:
        described = []
        for entry in available():
            try:
                d = load_model(entry.name).describe()
            except TwinError as exc:
                d = {"name": entry.name, "title": f"(cannot load: {exc})", "states": [],
                     "inputs": [], "time_unit": "?"}
            described.append({**d, "name": entry.name, "from": entry.origin})
        rows = [(d["name"], f"{len(d['states'])} states", f"{len(d['inputs'])} inputs",
                 f"[{d['time_unit']}]", d["title"], f"({d['from']})") for d in described]
        _emit({"models": described}, as_json, _columns(rows, right=(1, 2)))
        return
    d = {**load_model(name).describe(), "from": origin(name)}
    lines = [f"{d['title']}", f"from: {d['from']}", f"source: {d['source']}",
             f"time unit: {d['time_unit']}"]
    if d["parameter_sets"]:
        lines.append("parameter sets: " + ", ".join(f"{s['name']} ({s['description']})"
                                                    for s in d["parameter_sets"]))
    groups = ("states", "inputs", "parameters", "outputs")
    rows = [("", "nominal", "unit", "range", "")]
    for v in (v for group in groups for v in d[group]):
        role = f" ({v['role']})" if v.get("role") else ""
        rows.append((v["name"], "" if v["nominal"] is None else f"{v['nominal']:g}", v["unit"],
                     bounds_text(v["lower"], v["upper"]), v["description"] + role))
    table = _columns(rows, right=(1,), indent="  ").splitlines()
    lines.append(table[0].rstrip())
    k = 1
    for group in groups:
        lines.append(f"{group}:")
        lines += table[k:k + len(d[group])]
        k += len(d[group])
    _emit(d, as_json, "\n".join(lines))


def bounds_text(lower: float | None, upper: float | None) -> str:
    """A range as an engineer reads it: ``[0, 5.1]``, ``>= 0``, ``<= 1``, or ``any`` when
    unbounded (``None``: no bound on that side)."""
    from twin.core.ranges import range_text

    return range_text(lower, upper)


def _columns(rows, right: tuple[int, ...] = (), indent: str = "") -> str:
    """Rows of cells as aligned text columns (``right``: right-aligned columns)."""
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    return "\n".join(indent + " ".join(c.rjust(w) if j in right else c.ljust(w)
                                        for j, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)


@cli.command()
@click.argument("model_name", metavar="MODEL")
@set_option
@param_set_option
@u_option
@click.option("--guess", "guesses", multiple=True, metavar="X=V",
              help="Starting point of the solver for a state (repeatable).")
@click.option("--x0", "x0s", multiple=True, hidden=True)
@click.option("--all", "find_all", is_flag=True,
              help="Find every steady state within the state bounds (multi-start), each "
                   "labelled stable or unstable.")
@click.option("--starts", type=click.IntRange(1, 100_000), default=None, metavar="N",
              help="With --all: number of starting points (default 64).")
@json_option
def steady(model_name: str, sets, param_set, us, guesses, x0s, find_all: bool, starts,
           as_json: bool) -> None:
    """Find the steady state of MODEL at given inputs (or every one, with --all)."""
    from twin.core.steady import find_steady_state

    if x0s:
        raise InputError("twin steady: --x0 is an initial state (of twin simulate); the "
                         "steady-state solver's starting point is --guess X=V")
    if starts is not None and not find_all:
        raise InputError("--starts applies with --all")
    if find_all and guesses:
        raise InputError("--guess and --all: --all starts from points spread over the state "
                         "bounds; give one or the other")
    model = _model(model_name, sets, param_set)
    u = checked(model.inputs, assignments(us, "--u"), "--u")
    if find_all:
        from twin.cli.steady_all import show_all

        show_all(model, u, starts, as_json, _emit)
        return
    guess = checked(model.states, assignments(guesses, "--guess"), "--guess")
    ss = find_steady_state(model, u=u, x_guess=guess, hint="try another --guess or other --u")
    d = ss.as_dict()
    units = d["units"]
    lines = [f"steady state of {model.name} ({'stable' if d['stable'] else 'unstable'}, "
             f"largest |rhs| {d['residual']:.2g}):"]
    for group in ("states", "outputs", "inputs"):
        lines += [f"  {k:<12} {v:>14.6g} {units[k]}" for k, v in d[group].items()]
    _emit(d, as_json, "\n".join(lines))


@cli.command()
@click.argument("model_name", metavar="MODEL|FMU")
@click.option("--t-end", type=float, required=True, help="Simulated time [model time unit].")
@click.option("--dt", type=float, required=True, help="Output interval [model time unit].")
@set_option
@param_set_option
@click.option("--x0", "x0s", multiple=True, metavar="X=V", help="Initial state value (repeatable).")
@u_option
@click.option("--inputs", "inputs_file", type=click.Path(path_type=Path), default=None,
              help="Input schedule (.csv or .parquet): a 'time' column and one column per input.")
@click.option("--steady-start", is_flag=True,
              help="Start from the steady state at the initial inputs (instead of --x0).")
@click.option("--guess", "guesses", multiple=True, metavar="X=V",
              help="With --steady-start: starting point of the steady-state solver (repeatable).")
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="Result file, .parquet or .csv.")
@click.option("--plot", type=click.Path(path_type=Path), default=None, help="Write a PNG of the trends.")
@click.option("--backend", type=click.Choice(["kernel", "reference"]), default="kernel",
              show_default=True, help="Compiled kernels, or CVODES (the correctness reference).")
@click.option("--method", type=click.Choice(["rk4", "dopri5", "bdf"]), default=None,
              help="Kernel method (default: bdf for stiff models, else dopri5).")
@click.option("--rtol", type=float, default=None,
              help="Relative tolerance (default: 1e-8 kernel, 1e-10 reference).")
@click.option("--atol", type=float, default=None,
              help="Absolute tolerance (default: 1e-10 kernel, 1e-12 reference).")
@click.option("--interface", type=click.Choice(["auto", "cs", "me"]), default="auto",
              show_default=True,
              help="FMU only: Co-Simulation, or Model Exchange integrated by --method.")
@click.option("--isolate/--no-isolate", default=True, show_default=True,
              help="FMU only: run it in a child process, so a crash is an error.")
@json_option
def simulate(model_name, t_end, dt, sets, param_set, x0s, us, inputs_file, steady_start, guesses,
             out, plot, backend, method, rtol, atol, interface, isolate, as_json) -> None:
    """Simulate MODEL (a plant model, or an FMU file) and write the trajectories."""
    from twin.core.schedule import InputSchedule
    from twin.core.simulation import output_grid, simulate as run_simulation
    from twin.core.steady import find_steady_state

    _check_result_files(out, plot)
    if steady_start and x0s:
        raise InputError("--x0 and --steady-start both set the initial state (--x0 is always the "
                         "initial state); the steady-state solver's starting point is --guess")
    if guesses and not steady_start:
        raise InputError("--guess is the steady-state solver's starting point and needs "
                         "--steady-start; the initial state is --x0")
    if model_name.lower().endswith(".fmu"):
        if steady_start or param_set or backend != "kernel":
            raise InputError("--steady-start, --param-set and --backend apply to models, "
                             "not to FMUs")
        _simulate_fmu(Path(model_name), t_end, dt, sets, x0s, us, inputs_file, out, plot,
                      method, rtol, atol, interface, isolate, as_json)
        return
    model = _model(model_name, sets, param_set)
    x0 = model.x0(checked(model.states, assignments(x0s, "--x0"), "--x0"))
    u0 = model.u0(checked(model.inputs, assignments(us, "--u"), "--u", bounds=False))
    model.inputs.check_bounds(u0, "--u")
    schedule = (InputSchedule.read(inputs_file, model.inputs, u0) if inputs_file
                else InputSchedule.constant(u0))
    if steady_start:
        guess = checked(model.states, assignments(guesses, "--guess"), "--guess")
        x0 = find_steady_state(model, u=schedule.at(0.0), x_guess=guess,
                               hint="try another --guess or other inputs").x
    n = output_grid(t_end, dt).size - 1
    with _progress_bar(n, f"simulating {model.name}") as progress:
        result = run_simulation(model, t_end, dt, x0=x0, inputs=schedule, rtol=rtol, atol=atol,
                                progress=progress, backend=backend, method=method)
    _write_run(result, out, plot, {"model": model.name, "backend": backend}, as_json)


def _check_result_files(out: Path, plot: Path | None) -> None:
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError(f"--out {out}: use a .parquet or .csv file")
    if plot is not None and plot.suffix.lower() != ".png":
        raise InputError(f"--plot {plot}: use a .png file")
    for path, option in ((out, "--out"), (plot, "--plot")):
        if path is not None and not path.resolve().parent.is_dir():
            raise InputError(f"{option} {path}: folder '{path.parent}' does not exist")


@contextlib.contextmanager
def _progress_bar(n: int, label: str):
    """A progress bar on stderr, as a ``progress(fraction)`` callback.

    The bar appears with the first progress report, so an error while
    setting up stays the only line on stderr.
    """
    with contextlib.ExitStack() as stack:
        bars: list = []
        done = [0]

        def progress(fraction: float) -> None:
            if not bars:
                bars.append(stack.enter_context(click.progressbar(
                    length=n, label=label, file=sys.stderr)))
            k = round(fraction * n)
            bars[0].update(k - done[0])
            done[0] = k

        yield progress


def _write_run(result, out: Path, plot: Path | None, summary: dict, as_json: bool) -> None:
    """Write a model or FMU run, its plot, and the summary."""
    result.write(out)
    if plot is not None:
        from twin.orchestration.plots import save_figure, trend_figure

        save_figure(trend_figure(result), plot)
    summary = {**summary, "out": out, "plot": plot, "points": int(result.t.size),
               "t_end": float(result.t[-1]), "time_unit": result.time_unit,
               "final": result.final()}
    human = (f"{result.name}: {result.t.size} points over {result.t[-1]:g} {result.time_unit} "
             f"written to {out}" + (f", plot {plot}" if plot else ""))
    _emit(summary, as_json, human)


def _simulate_fmu(path: Path, t_end, dt, sets, x0s, us, inputs_file, out, plot, method, rtol,
                  atol, interface, isolate, as_json) -> None:
    from twin.core.fmu.description import describe_fmu
    from twin.core.fmu.simulation import FmuInputs, simulate_fmu
    from twin.core.schedule import InputSchedule
    from twin.core.simulation import output_grid

    d = describe_fmu(path, interface)
    start = {}
    for option, items, kind, allowed in (("--set", sets, "parameter", d.parameters),
                                         ("--x0", x0s, "state", d.states)):
        for name, value in assignments(items, option).items():
            if name not in allowed:
                raise InputError(f"{option} {name}: not a {kind} of FMU '{d.name}'; "
                                 f"valid: {', '.join(allowed) or '(none)'}")
            start[name] = _fmu_value(d, name, value, option)
    names = FmuInputs(d)
    u0 = names.vector({n: _fmu_value(d, n, v, "--u") if n in d.variables else v
                       for n, v in assignments(us, "--u").items()})
    schedule = (InputSchedule.read(inputs_file, names, u0) if inputs_file
                else InputSchedule.constant(u0))
    n = output_grid(t_end, dt).size - 1
    with _progress_bar(n, f"simulating {d.name}") as progress:
        result = simulate_fmu(path, t_end, dt, start, schedule, interface=interface,
                              isolate=isolate, me_method=method or "dopri5",
                              rtol=rtol or 1e-8, atol=atol or 1e-10, progress=progress)
    _write_run(result, out, plot, {"fmu": str(path), "interface": d.interface}, as_json)


def _fmu_value(d, name: str, value: float | str, option: str) -> float:
    """A value for an FMU variable, converted to the unit the FMU declares for it."""
    from twin.core.units import to_declared

    return to_declared(value, d.variables[name].unit or "-", f"{option} {name}")


@cli.group()
def fmu() -> None:
    """FMI: export plant models as FMUs, inspect FMUs."""


@fmu.command("export")
@click.argument("model_name", metavar="MODEL")
@set_option
@param_set_option
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="The FMU file to write (*.fmu).")
@json_option
def fmu_export(model_name, sets, param_set, output: Path, as_json: bool) -> None:
    """Write MODEL as an FMI 2.0 FMU (Model Exchange and Co-Simulation)."""
    from twin_fmus.export import export_fmu

    model = _model(model_name, sets, param_set)
    path = export_fmu(model, output)
    _emit({"model": model.name, "fmu": path, "bytes": path.stat().st_size}, as_json,
          f"{model.name}: FMI 2.0 FMU (ME + CS) written to {path}")


@fmu.command("info")
@click.argument("path", type=click.Path(path_type=Path))
@json_option
def fmu_info(path: Path, as_json: bool) -> None:
    """Show an FMU's interfaces, states, inputs, outputs and parameters with units."""
    from twin.core.fmu.description import describe_fmu

    d = describe_fmu(path, runnable=False)
    md = d.model_description
    kinds = [k for k, v in (("Co-Simulation", md.coSimulation), ("Model Exchange",
                                                                  md.modelExchange)) if v]
    groups = {"states": d.states, "inputs": d.inputs, "outputs": d.outputs,
              "parameters": d.parameters}
    data = {"fmu": str(path), "fmi_version": md.fmiVersion, "interfaces": kinds,
            "generation_tool": d.generation_tool, "time_unit": d.time_unit,
            "event_indicators": d.event_indicators,
            **{g: [{"name": n, "unit": d.variables[n].unit, "start": d.variables[n].start,
                    "description": d.variables[n].description} for n in names]
               for g, names in groups.items()}}
    lines = [f"{d.name}: FMI {md.fmiVersion}, {', '.join(kinds)}"
             + (f", by {d.generation_tool}" if d.generation_tool else ""),
             f"time unit: {d.time_unit or '(not declared)'}"]
    for g, names in groups.items():
        lines.append(f"{g}:")
        lines += [f"  {n:<14} {d.variables[n].start:>12.6g} {d.variables[n].unit:<12} "
                  f"{d.variables[n].description}" for n in names]
    _emit(data, as_json, "\n".join(lines))


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("twin-demo"), show_default=True,
              help="Folder for the report, its figures and the run data.")
@force_option
@json_option
def demo(out: Path, force: bool, as_json: bool) -> None:
    """Run the main job end to end and write an HTML report."""
    from twin.orchestration.demo import run_demo
    from twin.orchestration.out_folder import check_out_folder

    check_out_folder(out, force)
    summary = run_demo(out, progress=lambda msg: click.echo(f"demo: {msg}", err=True),
                       fresh=force)
    data = {"folder": summary.folder, "report": summary.report,
            "files": [str(f) for f in summary.files], "figures": summary.figures}
    _emit(data, as_json, f"report written to {summary.report}")


@cli.command()
@click.argument("config", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Folder for the cycle log, Parquet export and report (default: control-<config>).")
@duration_option("run for this long instead of the file's run.duration (events after it "
                 "do not happen)")
@click.option("--pace", type=click.FloatRange(0, 3600, min_open=True), default=None,
              help="Wall-clock seconds per control cycle (default: as fast as it computes).")
@console_options
@force_option
@json_option
def control(config: Path, out: Path | None, duration: float | None, pace: float | None,
            console_at, force: bool, as_json: bool) -> None:
    """Run a closed loop (twin + APC) from a TOML file and report on it.

    CONFIG is a loop file, or the name of a shipped example
    (cstr_apc.toml, quadruple_tank_pplus.toml).
    """
    from twin.orchestration.examples import file_or_example
    from twin.orchestration.loop.config import load_loop
    from twin.orchestration.loop.control import run_control

    from twin.orchestration.out_folder import check_out_folder

    config = file_or_example(config)
    loop = load_loop(config)
    if duration is not None:
        loop = shortened_loop(loop, duration)
    folder = check_out_folder(out or Path(f"control-{config.stem}"), force)
    with console_beside(folder, console_at), \
            progress_display(f"closed loop {config.stem}", as_json) as progress:
        result = run_control(loop, folder, progress, fresh=force, pace=pace,
                             predictions=console_at is not None)
    data = {"folder": folder, "store": result.store, "parquet": result.parquet,
            "report": result.report, "cycles": result.cycles, "kpis": result.kpis,
            "shutdown": result.shutdown}
    lines = loop_summary(result.cycles, result.kpis, result.units, result.time_unit,
                         f"closed loop {config.stem}")
    lines += [f"the plant shut down: {result.shutdown}"] if result.shutdown else []
    _emit(data, as_json, "\n".join(lines + [f"report written to {result.report}"]))


@cli.command()
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--economics", default=None, metavar="NAME|FILE",
              help="Economics (shipped name or TOML file); default: the model's own.")
@set_option
@param_set_option
@click.option("--plant", default=None, help="Run an RTO scheme on this simulated plant instead.")
@click.option("--model", "rto_model", default=None, help="The RTO's model (with --plant).")
@click.option("--scheme", type=click.Choice(["two-step", "modifier-adaptation"]), default=None,
              help="RTO scheme (with --plant).")
@click.option("--iterations", type=click.IntRange(1, 1000), default=None,
              help="RTO iterations (with --plant).")
@click.option("--config", "rto_config", type=click.Path(path_type=Path), default=None,
              help="RTO set-up file (with --plant; default: the shipped one).")
@json_option
def rto(model_name, economics, sets, param_set, plant, rto_model, scheme, iterations, rto_config,
        as_json) -> None:
    """Economic optimum of MODEL, or an RTO run on a simulated --plant.

    Exit status: 0 when the optimum was found (every RTO iteration's
    estimation and optimisation succeeded); 1 when the command ran but an
    optimisation failed (the results are printed, "ok" is false, and one
    line on stderr says why); 2 for bad input.
    """
    from twin.orchestration import rto_run

    if plant is None:
        if model_name is None:
            raise InputError("give a MODEL for its economic optimum, or --plant for an RTO run")
        result = rto_run.optimum(model_name, economics, assignments(sets, "--set"), param_set)
        data = result.as_dict()
        lines = [f"economic optimum of {model_name}: profit {result.profit:.6g} {result.unit} "
                 f"({result.status})"]
        from twin.orchestration.numbers import format_number

        scales = rto_run.variable_scales(model_name, param_set)
        values = {**result.inputs, **result.states}
        width = max(8, *map(len, values))
        lines += [f"  {k:<{width}} {format_number(v, scales.get(k), 6):>12}"
                  for k, v in values.items()]
        lines.append("  active: " + (", ".join(result.active) or "none"))
        _emit(data, as_json, "\n".join(lines))
        if not result.ok:
            _fail(f"no economic optimum of {model_name} was found: the solver ended with "
                  f"'{result.status}' (the figures above are where it stopped)", RUN_FAILED)
        return
    if model_name is not None:
        raise InputError("give either MODEL or --plant, not both")
    spec = rto_run.rto_spec(plant, rto_model, scheme, iterations,
                            str(rto_config) if rto_config else None)
    result, truth = rto_run.rto_run(
        spec, progress=lambda it: click.echo(
            f"rto: iteration {it.k}: inputs {_short(it.inputs)} profit {it.plant_profit:.5g}"
            + ("" if it.accepted else f" ({it.note})"), err=True))
    data = {**result.as_dict(), **truth}
    human = (f"{spec.scheme} on {plant} with model {spec.model}: final inputs "
             f"{_short(result.final_inputs)}; plant profit {truth['plant_profit_at_final_inputs']:.6g} "
             f"{result.unit} = {100 * truth['fraction_of_optimum']:.2f} % of the optimum "
             f"{truth['plant_optimum_profit']:.6g}")
    _emit(data, as_json, human)
    if not truth["ok"]:
        failures = truth["failures"]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        _fail(f"the RTO run on {plant} failed: {failures[0]}{more}", RUN_FAILED)


def _short(values: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.5g}" for k, v in values.items())


register_opcua(cli, _emit, json_option, _progress_bar)
register_whatif(cli, _emit, json_option, _progress_bar)
register_report(cli, _emit, json_option)
register_console(cli, _emit, json_option)
register_model_commands(cli, _emit, json_option)
register_examples(cli, _emit, json_option)
register_data(cli, _emit, json_option)
register_bench(cli, _emit, json_option, _jsonable, _fail)
register_steptest(cli, _emit, json_option)
register_calibrate(cli, _emit, json_option, set_option, param_set_option, assignments)
register_identify(cli, _emit, json_option)


def main() -> None:
    """Console entry point."""
    cli(prog_name="twin")


if __name__ == "__main__":  # pragma: no cover
    main()
