"""``twin whatif``: sample, run in chunks, keep every finished chunk, summarise, report.

Output folder::

    study.json            the study and its fingerprint (``--resume`` checks it)
    scenarios.parquet     every scenario's variables
    parts/                one Parquet file per finished chunk and its manifest (checksum),
                          each written atomically and verified before reuse (:mod:`.parts`)
    summary.parquet       one row per scenario: variables, KPIs, status, error
    timing.parquet        seconds per scenario (kept apart: the summary is reproducible)
    timeseries/           scenario-<id>.parquet per scenario (when kept)
    sensitivity.parquet   Sobol indices or rank correlations per KPI and variable
    report.html, *.png    the report
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from twin.core.errors import InputError
from twin.orchestration.progress import Progress, ProgressUpdate
from twin.orchestration.whatif import parts
from twin.orchestration.whatif.executors import run_chunks
from twin.orchestration.whatif.parts import atomic_parquet
from twin.orchestration.whatif.sampling import ID, NOMINAL, scenario_table
from twin.orchestration.whatif.scenarios import ERROR, SECONDS, STATUS, digest, prepare, run_chunk
from twin.orchestration.whatif.sensitivity import sensitivity, sobol_warnings
from twin.orchestration.whatif.study import Study


@dataclass
class StudyResult:
    """Where a study's outputs are, and its counts."""

    folder: Path
    summary: Path
    scenarios: int
    failed: int
    resumed: int
    seconds: float
    kpis: list[str]
    sensitivity: Path | None = None
    sensitivity_note: str = ""
    report: Path | None = None
    figures: list[Path] = field(default_factory=list)
    first_error: str = ""
    """The error of the first failed scenario ("" when none failed)."""
    sensitivity_warnings: list[str] = field(default_factory=list)
    """Sobol indices not to be trusted, and the sample size that would do (one line each)."""
    sensitivity_lines: list[str] = field(default_factory=list)
    """Sobol indices with their confidence half-widths, one line per KPI and variable."""


def default_chunk_size(study: Study, n: int, workers: int) -> int:
    """Scenarios per chunk: batches for compiled and function runs, single heavy runs."""
    base = study.base
    if base.kind == "closed_loop" or base.is_fmu:
        return 1
    per_worker = math.ceil(n / max(1, 4 * workers))
    return max(1, min(500 if base.kind == "open_loop" else 5000, per_worker))


def run_study(study: Study, out: str | Path, workers: int = 1, scheduler: str | None = None,
              resume: bool = False, chunk_size: int | None = None,
              progress: Progress | None = None, report: bool = True,
              force: bool = False) -> StudyResult:
    """Run every scenario of ``study`` (those not yet finished, with ``resume``; ``force``:
    into a folder that holds files, replacing an earlier run).

    ``progress`` is called after every finished chunk with the scenarios done
    and failed so far (see :mod:`twin.orchestration.progress`).
    """
    started = time.perf_counter()
    folder = Path(out)
    if workers < 1:
        raise InputError("--workers must be at least 1")
    if chunk_size is not None and chunk_size < 1:
        raise InputError("--chunk-size must be at least 1")
    table = scenario_table(study)
    prepare(study)
    fingerprint = study.fingerprint(digest(study))
    parts.open_folder(folder, fingerprint, study.title, repr(study), resume, force)
    atomic_parquet(table, folder / "scenarios.parquet")
    required = list(table.columns) + [STATUS, ERROR, SECONDS]
    todo = parts.unfinished(folder, fingerprint, table, required, ID)
    resumed = len(table) - len(todo)
    keep = study.output.timeseries if study.output.timeseries is not None else len(table) <= 1000
    if keep or any(r[NOMINAL] for r in todo):
        (folder / "timeseries").mkdir(exist_ok=True)
    size = chunk_size or default_chunk_size(study, len(todo), workers)
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    finished, failed = resumed, 0
    if progress is not None and finished:
        progress(ProgressUpdate(finished, len(table), "scenarios"))
    for result in run_chunks(study, chunks, keep, workers, scheduler):
        for sid, frame in result.series.items():
            atomic_parquet(frame, folder / "timeseries" / f"scenario-{sid:06d}.parquet")
        parts.write_part(folder, result.rows, fingerprint, ID)
        finished += len(result.rows)
        failed += sum(r.get(STATUS) != "ok" for r in result.rows)
        if progress is not None:
            progress(ProgressUpdate(finished, len(table), "scenarios", failed))
    rows = parts.collect(folder, fingerprint, table, required, ID)
    return _summarise(study, folder, table, rows, resumed, started, report)


def _summarise(study: Study, folder: Path, table: pd.DataFrame, rows: pd.DataFrame,
               resumed: int, started: float, report: bool) -> StudyResult:
    kpis = [k.name for k in study.kpi] or [c for c in rows.columns if c not in table.columns
                                           and c not in (STATUS, ERROR, SECONDS)]
    for k in kpis:
        if k not in rows:
            rows[k] = float("nan")
    summary = rows[list(table.columns) + kpis + [STATUS, ERROR]]
    atomic_parquet(summary, folder / "summary.parquet")
    atomic_parquet(rows[[ID, SECONDS]], folder / "timing.parquet")
    sens, note = sensitivity(study, summary, kpis)
    sens_path = None
    if not sens.empty:
        sens_path = folder / "sensitivity.parquet"
        atomic_parquet(sens, sens_path)
    failed = summary[summary[STATUS] != "ok"]
    result = StudyResult(folder, folder / "summary.parquet", len(summary), len(failed), resumed,
                         time.perf_counter() - started, kpis, sens_path, note,
                         first_error=_named(failed.iloc[0]) if len(failed) else "")
    result.sensitivity_lines, result.sensitivity_warnings = sobol_warnings(
        study, sens, rows[SECONDS].to_numpy())
    if report:
        from twin.orchestration.whatif.report import write_study_report

        write_study_report(study, result, summary, sens, rows[SECONDS].to_numpy())
    return result


def _named(row) -> str:
    """A failed scenario's error, saying which scenario it is."""
    error, sid = str(row[ERROR]), int(row[ID])
    return error if f"scenario {sid}:" in error else f"scenario {sid}: {error}"


def rerun_with_series(study: Study, row: dict) -> pd.DataFrame | None:
    """One scenario again, keeping its time series (for the report's trends)."""
    result = run_chunk(study, [row], True)
    return result.series.get(int(row[ID]))
