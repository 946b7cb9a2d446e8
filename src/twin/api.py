"""The Python API of the work the command line does: closed loops, RTO, what-if studies, FMUs.

Each function takes what the matching command takes (a TOML file, or the
same content as a dict), calls the same orchestration code as the command,
and returns a result object whose ``to_pandas()`` gives the data::

    import twin

    run = twin.run_loop("cstr_apc.toml", "runs/apc")     # like `twin control`
    run.kpis["iae"], run.to_pandas()["C_b.plant"]

    rto = twin.run_rto("williams_otto", iterations=3)       # like `twin rto --plant`
    study = twin.run_study("my_study.toml", "runs/study")   # like `twin whatif`
    twin.export_fmu("./reactor.py", "reactor.fmu")           # like `twin fmu export`

From plant data to models::

    test = twin.run_step_test("qt_steptest.toml", "runs/test")  # like `twin steptest`
    data = twin.load_plant_data("runs/test/steptest.csv")       # like `twin data inspect`
    found = twin.identify(data, mv=["v1", "v2"], cv=["h1", "h2"], out="qt_id.toml")
    fit = twin.calibrate("cstr", "cstr_plant_data.csv", ["alpha", "beta"], out="fit.toml")

Errors are :class:`twin.TwinError` with one-line messages, as on the
command line. This module sits above the FMU export layer (it may use every
layer below the CLI); ``import twin`` loads it on first use of one of its names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from twin.core.errors import InputError
from twin.core.model import Model

Config = str | Path | Mapping[str, Any]
"""A TOML file (its path, or a shipped example's name), or its content as a dict."""

__all__ = ["LoopRun", "RTORun", "StudyRun", "calibrate", "export_fmu", "identify", "load_plant_data",
           "run_loop", "run_rto", "run_step_test", "run_study"]


@dataclass(frozen=True)
class LoopRun:
    """A closed-loop run: where its records are, its KPIs, and the cycle log as a DataFrame."""

    folder: Path
    report: Path | None
    cycles: int
    kpis: dict[str, Any]
    parquet: Path | None

    def to_pandas(self) -> pd.DataFrame:
        """The cycle log: one row per controller cycle (``time`` [model time unit]; columns
        ``<cv>.plant``, ``<cv>.setpoint``, ``<cv>.estimate``, ``<mv>``, solve status, ...)."""
        if self.parquet is None:
            raise InputError(f"the run in {self.folder} wrote no cycle log")
        return pd.read_parquet(self.parquet)


@dataclass(frozen=True)
class RTORun:
    """An RTO run on a simulated plant, with the true plant's figures."""

    scheme: str
    final_inputs: dict[str, float]
    unit: str
    plant_profit_at_final_inputs: float
    plant_optimum_profit: float
    fraction_of_optimum: float
    ok: bool
    failures: list[str]
    iterations: list[dict[str, Any]] = field(repr=False)

    def to_pandas(self) -> pd.DataFrame:
        """One row per iteration: ``k``, ``plant_profit`` [profit unit], ``accepted``, ``note``,
        and a column per input (``inputs.F_B``), next input and estimated parameter."""
        rows = []
        for it in self.iterations:
            row = {k: v for k, v in it.items() if not isinstance(v, dict)}
            for group in ("inputs", "next_inputs", "parameters", "modifiers"):
                row.update({f"{group}.{k}": v for k, v in it.get(group, {}).items()})
            rows.append(row)
        return pd.DataFrame(rows)


@dataclass(frozen=True)
class StudyRun:
    """A what-if study: counts, where its outputs are, and the scenario summary."""

    folder: Path
    summary: Path
    report: Path | None
    scenarios: int
    failed: int
    seconds: float
    sensitivity: Path | None

    def to_pandas(self) -> pd.DataFrame:
        """One row per scenario: its variables, KPIs, ``status`` and ``error``."""
        return pd.read_parquet(self.summary)

    def sensitivity_to_pandas(self) -> pd.DataFrame | None:
        """Sensitivity indices (``None`` when the sampling gives none)."""
        return pd.read_parquet(self.sensitivity) if self.sensitivity is not None else None


def run_loop(config: Config, out: str | Path, *, report: bool = True,
             progress: Callable[[float], None] | None = None) -> LoopRun:
    """Run a closed loop (twin + APC), as ``twin control`` does.

    Parameters
    ----------
    config : path, example name, dict or LoopConfig
        A loop file, or its content (model files in a dict are relative to
        the working folder).
    out : path
        Folder for ``cycles.sqlite``, ``cycles.parquet`` and ``report.html``.
    report : bool
        Write the HTML report.
    progress : callable, optional
        Called with the fraction done [0..1].
    """
    from twin.orchestration.examples import file_or_example
    from twin.orchestration.loop.config import LoopConfig, load_loop, loop_from_dict
    from twin.orchestration.loop.control import run_control

    if isinstance(config, LoopConfig):
        loop = config
    elif isinstance(config, Mapping):
        loop = loop_from_dict(dict(config), Path.cwd())
    else:
        loop = load_loop(file_or_example(config))
    result = run_control(loop, out, progress, report=report)
    return LoopRun(Path(result.folder), result.report, result.cycles, result.kpis, result.parquet)


def run_rto(plant: str | None = None, *, config: Config | None = None, model: str | None = None,
            scheme: str | None = None, iterations: int | None = None,
            progress: Callable[[Any], None] | None = None) -> RTORun:
    """Run an RTO scheme on a simulated plant, as ``twin rto --plant`` does.

    Parameters
    ----------
    plant : str, optional
        A plant with a shipped RTO set-up (``"williams_otto"``); or give ``config``.
    config : path or dict, optional
        An RTO file, or its content (its ``plant``, ``model``, ``economics``, ...).
    model, scheme, iterations : optional
        Override the set-up's model, scheme (``"two-step"``,
        ``"modifier-adaptation"``) and number of iterations.
    progress : callable, optional
        Called with each finished iteration.
    """
    from dataclasses import replace

    from rto.spec import rto_from_dict
    from twin.orchestration import rto_run

    if isinstance(config, Mapping):
        spec = rto_from_dict(dict(config), "rto", Path.cwd())
        changes = {k: v for k, v in (("model", model), ("scheme", scheme),
                                     ("iterations", iterations)) if v is not None}
        spec = replace(spec, **changes) if changes else spec
    elif plant is None and config is None:
        raise InputError("run_rto: give a plant with a shipped RTO set-up, or a config")
    else:
        spec = rto_run.rto_spec(plant or "", model, scheme, iterations,
                                str(config) if config is not None else None)
    result, truth = rto_run.rto_run(spec, progress)
    data = result.as_dict()
    return RTORun(result.scheme, dict(result.final_inputs), result.unit,
                  truth["plant_profit_at_final_inputs"], truth["plant_optimum_profit"],
                  truth["fraction_of_optimum"], truth["ok"], list(truth["failures"]),
                  data["iterations"])


def run_study(study: Config, out: str | Path, *, workers: int = 1, scheduler: str | None = None,
              resume: bool = False, report: bool = True,
              progress: Callable[[float], None] | None = None) -> StudyRun:
    """Run a what-if study, as ``twin whatif`` does.

    Parameters
    ----------
    study : path, example name, dict or Study
        A study file, or its content (its files relative to the working folder).
    out : path
        Output folder (summary, time series, sensitivity, report).
    workers : int
        Local worker processes; ``scheduler``: a Dask scheduler address instead.
    resume : bool
        Finish an interrupted study in ``out``.
    """
    from twin.orchestration.whatif import Study, load_study, run_study as run, study_from_dict

    if isinstance(study, Study):
        spec = study
    elif isinstance(study, Mapping):
        spec = study_from_dict(study)
    else:
        spec = load_study(study)
    result = run(spec, out, workers=workers, scheduler=scheduler, resume=resume,
                 progress=progress, report=report)
    return StudyRun(Path(result.folder), Path(result.summary), result.report, result.scenarios,
                    result.failed, result.seconds, result.sensitivity)


def export_fmu(model: str | Model, path: str | Path, *,
               parameters: Mapping[str, float] | None = None,
               parameter_set: str | None = None) -> Path:
    """Write a model as an FMI 2.0 FMU (Model Exchange and Co-Simulation), as
    ``twin fmu export`` does; returns the FMU's path.

    ``model`` is a model reference (``"cstr"``, ``"./reactor.py"``, ...) or a
    :class:`~twin.core.model.Model`; ``parameters`` and ``parameter_set`` set its start values.
    """
    from twin.orchestration.registry import load_model
    from twin_fmus.export import export_fmu as export

    if isinstance(model, Model):
        from twin.core.equation_check import check_equations

        if parameter_set:
            model = model.with_parameter_set(parameter_set)
        if parameters:
            model = model.with_parameters(parameters)
        check_equations(model)
    else:
        model = load_model(model, parameters, parameter_set)
    return export(model, path)


def load_plant_data(source: str | Path, *, rules: bool = True, **options: Any):
    """Plant data as every data command reads it (``twin data inspect``, ``twin identify``,
    ``twin calibrate``): a :class:`~twin.core.data.table.PlantData` (time [s] since the first
    sample, a column per variable, units, the one-line reports of the data rules applied).

    ``source`` is a CSV or Parquet file (wide or long form) or an ``opc.tcp://`` URL of a
    server with history; ``options`` are :func:`twin.core.data.load_data`'s (``tagmap``,
    ``time_unit``, ``timezone``, ``form``, ...); ``rules``: apply the bad-data rules
    (quality, frozen values, spikes set missing; gaps reported) with their defaults, as the
    commands do.
    """
    from twin.core.data.clean import apply_rules
    from twin.orchestration.plant_data import load_plant_data as load

    data = load(source, **options)
    return apply_rules(data).data if rules else data


def run_step_test(config: Config, out: str | Path | None = None, *, fresh: bool = False):
    """Design and run a step test, as ``twin steptest`` does; the
    :class:`~twin.orchestration.steptest.runner.StepTestResult` (``to_plant_data()`` gives the
    data as :func:`load_plant_data` would read its CSV export).

    ``config``: a step-test file (or a shipped example's name) or its content as a dict;
    ``out``: folder for the cycle store, ``steptest.csv``/``.parquet`` and ``report.html``
    (``None``: nothing written); ``fresh``: replace an earlier test in ``out``.
    """
    from twin.orchestration.examples import file_or_example
    from twin.orchestration.steptest.config import load_steptest, spec_from_dict
    from twin.orchestration.steptest.runner import run_step_test as run

    if isinstance(config, Mapping):
        spec = spec_from_dict(dict(config), Path.cwd())
    else:
        spec = load_steptest(file_or_example(config))
    return run(spec, out, fresh=fresh)


def identify(data: Any, mv: list[str], cv: list[str], dv: list[str] = (), *,
             out: str | Path | None = None, **options: Any):
    """Identify a linear model of ``cv`` from ``mv`` (and measured ``dv``), as ``twin identify``
    does; the :class:`~twin.orchestration.identify_run.IdentifyRun` (model, FIR analysis, gains
    with RGA and conditioning, held-out validation).

    ``data``: a :class:`~twin.core.data.table.PlantData` or anything :func:`load_plant_data`
    reads; ``out``: write the model file, which every command and :func:`twin.load_model`
    take by its path; ``options`` are ``method`` (``fir``, ``tf``, ``subspace``), ``order``,
    ``holdout`` [-], ``settling`` [s], ``structure``, ``name``.
    """
    from twin.core.data.table import PlantData
    from twin.orchestration.identify_run import identify as run

    table = data if isinstance(data, PlantData) else load_plant_data(data)
    found = run(table, list(mv), list(cv), list(dv), **options)
    if out is not None:
        found.model.save(out)
    return found


def calibrate(model: str, data: str | Path, estimate: list[str], *, out: str | Path | None = None,
              **options: Any):
    """Estimate parameters of ``model`` from plant data, as ``twin calibrate`` does; the
    :class:`~twin.core.calibration.Calibration` (estimates, covariance, 95 % intervals,
    correlations, identifiability warnings).

    ``out``: the parameter-set file every command takes with ``--param-set FILE`` (and
    :func:`twin.load_model` with ``parameter_set=FILE``); ``options`` are those of
    :func:`twin.orchestration.calibrate_run.run_calibration` (``x0_free``, ``sets``,
    ``param_set``, ``sigma``, ``bounds``, ``report``, ``tagmap``, ``time_unit``). When the
    estimates are not identifiable the file is not written (a logged warning says so) unless
    ``write_unidentifiable=True``.
    """
    import logging

    from twin.orchestration.calibrate_run import run_calibration

    result, summary = run_calibration(model, data, list(estimate), out=out, **options)
    if summary.get("withheld"):
        logging.getLogger(__name__).warning("%s", summary["withheld"])
    return result
