"""``twin control``: run a closed-loop scenario and write its records and report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from twin.orchestration.loop.config import LoopConfig, load_loop
from twin.orchestration.loop.kpis import compute_kpis
from twin.orchestration.loop.report import unit_map, write_loop_report
from twin.orchestration.loop.runner import ClosedLoop, LoopResult


def run_control(config: LoopConfig | str | Path, folder: str | Path,
                progress: Callable[[float], None] | None = None, report: bool = True,
                fresh: bool = False) -> LoopResult:
    """Run the scenario; write ``cycles.sqlite``, ``cycles.parquet`` and ``report.html``
    (``fresh``: replace an earlier run's cycle log in ``folder``)."""
    if not isinstance(config, LoopConfig):
        config = load_loop(config)
    loop = ClosedLoop(config, folder, fresh=fresh)
    try:
        result = loop.run(progress)
        frame = loop.store.to_frame()
        result.parquet = loop.store.export_parquet(Path(folder) / "cycles.parquet")
        result.kpis = compute_kpis(frame, config.controller)
        if report:
            plant = loop.plant
            result.report = write_loop_report(
                Path(folder), frame, config.controller, result.kpis, loop.store.events(),
                unit_map(loop.internal), plant.time_unit,
                config.title or f"Closed loop: {plant.title}")
    finally:
        loop.close()
    return result
