"""The report of a run folder, built from its cycle log alone (``twin report``, ``twin deploy``).

Everything a loop report shows is in the cycle log (``cycles.sqlite``):
the run row keeps the configuration, every cycle is committed before it
acts. So a report can be (re)built for any run, simulated or deployed,
after it ended, stopped on an error or Ctrl-C, or while it still runs: the
log is opened read-only and what is committed is reported.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apc.spec import ControllerSpec, spec_from_dict
from twin.core.errors import InputError, TwinError
from twin.orchestration.loop.given_up import units_of
from twin.orchestration.loop.kpis import compute_kpis
from twin.orchestration.loop.report import write_loop_report
from twin.orchestration.loop.store import CycleStore

log = logging.getLogger(__name__)

STORE = "cycles.sqlite"


class NoCycles(InputError):
    """The cycle log has no committed cycle yet: there is nothing to report."""


@dataclass
class RunReport:
    """A report built from a cycle log, and what it summarises."""

    folder: Path
    report: Path
    kind: str
    cycles: int
    kpis: dict[str, Any] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    time_unit: str = ""
    sheds: int = 0
    parquet: Path | None = None


def report_run(folder: str | Path, spec: ControllerSpec | None = None,
               units: dict[str, str] | None = None, title: str | None = None) -> RunReport:
    """Write ``report.html`` and ``cycles.parquet`` in ``folder`` from its cycle log (its
    last run).

    ``spec``, ``units`` and ``title`` default to what the log's run row
    records (the configuration the run started with).
    """
    folder = Path(folder)
    if not (folder / STORE).is_file():
        what = ("does not exist" if not folder.exists() else "is not a folder"
                if not folder.is_dir() else f"has no cycle log ({STORE})")
        raise InputError(f"{folder} {what}; give the folder of a `twin control` or "
                         "`twin deploy` run")
    store = CycleStore.read_only(folder / STORE)
    try:
        info = store.run_info()
        frame, events = store.to_frame(), store.events()
        if frame.empty:
            raise NoCycles(f"the cycle log in {folder} has no cycle yet: nothing to report")
        frame.to_parquet(folder / "cycles.parquet", index=False)
    finally:
        store.close()
    config = info["config"]
    if spec is None:
        spec = _spec(config, folder)
    if units is None:
        units = _units(spec)
    kind, time_unit = info["kind"], info["time_unit"] or ""
    kpis = compute_kpis(frame, spec, events, units)
    deployed = kind == "deployed"
    if title is None:
        title = config.get("title") or (f"Deployed loop against {info['model']}" if deployed
                                        else f"Closed loop: {info['model']}")
    path = write_loop_report(folder, frame, spec, kpis, events, units, time_unit, title,
                             deployed=deployed)
    sheds = int((events["kind"] == "shed").sum()) if not events.empty else 0
    return RunReport(folder, path, kind, len(frame), kpis, units, time_unit, sheds,
                     folder / "cycles.parquet")


def _spec(config: dict[str, Any], folder: Path) -> ControllerSpec:
    try:
        return spec_from_dict(_plain(config["controller"]), "controller")
    except (KeyError, TypeError, TwinError) as exc:
        raise InputError(f"the cycle log in {folder} has no usable controller configuration "
                         f"({exc})") from None


def _plain(value: Any) -> Any:
    """The logged configuration as a TOML table would give it: no None values."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _units(spec: ControllerSpec) -> dict[str, str]:
    from twin.orchestration.registry import load_model

    try:
        return units_of(load_model(spec.model, parameter_set=spec.parameter_set))
    except TwinError as exc:
        log.warning("report without units: model '%s' cannot be loaded (%s)", spec.model, exc)
        return {}
