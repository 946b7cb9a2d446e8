"""``twin control``: run a closed-loop scenario and write its records and report."""

from __future__ import annotations

from pathlib import Path

from twin.orchestration.loop.config import LoopConfig, load_loop
from twin.orchestration.loop.kpis import compute_kpis
from twin.orchestration.loop.report import write_loop_report
from twin.orchestration.loop.runner import ClosedLoop, LoopResult
from twin.orchestration.progress import Progress


def run_control(config: LoopConfig | str | Path, folder: str | Path,
                progress: Progress | None = None, report: bool = True,
                fresh: bool = False, pace: float | None = None,
                predictions: bool = False) -> LoopResult:
    """Run the scenario; write ``cycles.sqlite``, ``cycles.parquet`` and ``report.html``
    (``fresh``: replace an earlier run's cycle log in ``folder``).

    ``progress`` is called after every cycle (see :mod:`twin.orchestration.progress`);
    ``pace`` and ``predictions`` as for :class:`ClosedLoop`.
    """
    if not isinstance(config, LoopConfig):
        config = load_loop(config)
    loop = ClosedLoop(config, folder, fresh=fresh, pace=pace, predictions=predictions)
    try:
        result = loop.run(progress)
        frame = loop.store.to_frame()
        result.parquet = loop.store.export_parquet(Path(folder) / "cycles.parquet")
        events = loop.store.events()
        result.kpis = compute_kpis(frame, config.controller, events, result.units)
        if report:
            plant = loop.plant
            result.report = write_loop_report(
                Path(folder), frame, config.controller, result.kpis, events,
                result.units, plant.time_unit, config.title or f"Closed loop: {plant.title}")
    finally:
        loop.close()
    return result
