"""``twin whatif``: sample, run in chunks, keep every finished chunk, summarise, report.

Output folder::

    study.json            the study and its fingerprint (``--resume`` checks it)
    scenarios.parquet     every scenario's variables
    parts/                one Parquet file per finished chunk (written atomically)
    summary.parquet       one row per scenario: variables, KPIs, status, error
    timing.parquet        seconds per scenario (kept apart: the summary is reproducible)
    timeseries/           scenario-<id>.parquet per scenario (when kept)
    sensitivity.parquet   Sobol indices or rank correlations per KPI and variable
    report.html, *.png    the report
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from twin.core.errors import InputError
from twin.orchestration.whatif.executors import run_chunks
from twin.orchestration.whatif.sampling import ID, NOMINAL, scenario_table
from twin.orchestration.whatif.scenarios import ERROR, SECONDS, STATUS, digest, prepare, run_chunk
from twin.orchestration.whatif.sensitivity import sensitivity
from twin.orchestration.whatif.study import Study

Progress = Callable[[float], None]


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


def default_chunk_size(study: Study, n: int, workers: int) -> int:
    """Scenarios per chunk: batches for compiled and function runs, single heavy runs."""
    base = study.base
    if base.kind == "closed_loop" or base.is_fmu:
        return 1
    per_worker = math.ceil(n / max(1, 4 * workers))
    return max(1, min(500 if base.kind == "open_loop" else 5000, per_worker))


def _atomic_parquet(frame: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _finished(folder: Path) -> pd.DataFrame:
    parts = sorted((folder / "parts").glob("part-*.parquet"))
    if not parts:
        return pd.DataFrame()
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def _prepare(study: Study, folder: Path, resume: bool) -> None:
    stamp = folder / "study.json"
    fingerprint = study.fingerprint(digest(study))
    started = any((folder / "parts").glob("part-*.parquet"))
    if stamp.exists() and started:
        before = json.loads(stamp.read_text()).get("fingerprint")
        if not resume:
            raise InputError(f"{folder} holds an earlier study run: add --resume to finish it, "
                             "or give another --out")
        if before != fingerprint:
            raise InputError(f"{folder} holds a run of a different study (the study or a file "
                             "it uses changed): give another --out")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "parts").mkdir(exist_ok=True)
    stamp.write_text(json.dumps({"fingerprint": fingerprint, "title": study.title,
                                 "study": repr(study)}, indent=1))


def run_study(study: Study, out: str | Path, workers: int = 1, scheduler: str | None = None,
              resume: bool = False, chunk_size: int | None = None,
              progress: Progress | None = None, report: bool = True) -> StudyResult:
    """Run every scenario of ``study`` (those not yet finished, with ``resume``)."""
    started = time.perf_counter()
    folder = Path(out)
    if workers < 1:
        raise InputError("--workers must be at least 1")
    table = scenario_table(study)
    prepare(study)
    _prepare(study, folder, resume)
    _atomic_parquet(table, folder / "scenarios.parquet")
    done = _finished(folder)
    done_ids = set(done[ID]) if not done.empty else set()
    todo = [r for r in table.to_dict("records") if r[ID] not in done_ids]
    keep = study.output.timeseries if study.output.timeseries is not None else len(table) <= 1000
    if keep or any(r[NOMINAL] for r in todo):
        (folder / "timeseries").mkdir(exist_ok=True)
    if chunk_size is not None and chunk_size < 1:
        raise InputError("--chunk-size must be at least 1")
    size = chunk_size or default_chunk_size(study, len(todo), workers)
    chunks = [todo[i:i + size] for i in range(0, len(todo), size)]
    finished = len(done_ids)
    if progress is not None and finished:
        progress(finished / len(table))
    for result in run_chunks(study, chunks, keep, workers, scheduler):
        for sid, frame in result.series.items():
            _atomic_parquet(frame, folder / "timeseries" / f"scenario-{sid:06d}.parquet")
        first = min(r[ID] for r in result.rows)
        _atomic_parquet(pd.DataFrame(result.rows), folder / "parts" / f"part-{first:09d}.parquet")
        finished += len(result.rows)
        if progress is not None:
            progress(finished / len(table))
    return _summarise(study, folder, table, len(done_ids), started, report)


def _summarise(study: Study, folder: Path, table: pd.DataFrame, resumed: int, started: float,
               report: bool) -> StudyResult:
    rows = _finished(folder).sort_values(ID, kind="stable")
    if rows[ID].duplicated().any() or len(rows) != len(table):
        raise InputError(f"{folder}/parts is inconsistent ({len(rows)} rows for {len(table)} "
                         "scenarios): run the study again into a new --out")
    rows = rows.reset_index(drop=True)
    kpis = [k.name for k in study.kpi] or [c for c in rows.columns if c not in table.columns
                                           and c not in (STATUS, ERROR, SECONDS)]
    for k in kpis:
        if k not in rows:
            rows[k] = float("nan")
    summary = rows[list(table.columns) + kpis + [STATUS, ERROR]]
    _atomic_parquet(summary, folder / "summary.parquet")
    _atomic_parquet(rows[[ID, SECONDS]], folder / "timing.parquet")
    sens, note = sensitivity(study, summary, kpis)
    sens_path = None
    if not sens.empty:
        sens_path = folder / "sensitivity.parquet"
        _atomic_parquet(sens, sens_path)
    result = StudyResult(folder, folder / "summary.parquet", len(summary),
                         int((summary[STATUS] != "ok").sum()), resumed,
                         time.perf_counter() - started, kpis, sens_path, note)
    if report:
        from twin.orchestration.whatif.report import write_study_report

        write_study_report(study, result, summary, sens, rows[SECONDS].to_numpy())
    return result


def rerun_with_series(study: Study, row: dict) -> pd.DataFrame | None:
    """One scenario again, keeping its time series (for the report's trends)."""
    result = run_chunk(study, [row], True)
    return result.series.get(int(row[ID]))
