"""Key performance indicators of a closed-loop run, from its cycle table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from apc.spec import ControllerSpec
from twin.orchestration.loop.given_up import episode_rows, episodes


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=float) if name in frame else None


def compute_kpis(frame: pd.DataFrame, spec: ControllerSpec, events: pd.DataFrame | None = None,
                 units: dict[str, str] | None = None) -> dict[str, Any]:
    """KPIs of a run (one row per cycle, see :meth:`CycleStore.to_frame`).

    CV values are the plant's true values where the run has them (SIL),
    else the measurements. Returned:

    - ``iae``: per CV with a setpoint, the integral of |CV - setpoint| [CV unit x time];
    - ``violation_integral``: per CV, the integral of the excursion beyond its
      soft limits [CV unit x time];
    - ``mv_travel``: per MV, the sum of |moves| [MV unit];
    - ``solve_time_p50_ms``, ``solve_time_p99_ms``: of the cycles that solved;
    - ``failures``, ``sheds``, ``cycles``, ``writes``;
    - ``final``: last CV values, ``final_error``: last CV minus setpoint;
    - ``given_up``: one row per episode of a given-up setpoint or limit (see
      :mod:`.given_up`; ``events`` reads runs logged before misses were values).
    """
    dt = spec.sample_time
    out: dict[str, Any] = {"iae": {}, "violation_integral": {}, "mv_travel": {}, "final": {},
                           "final_error": {}}
    for cv in spec.cv:
        values = _column(frame, f"{cv.name}.plant")
        if values is None:
            values = _column(frame, cv.name)
        if values is None:
            continue
        out["final"][cv.name] = float(values[-1])
        sp = _column(frame, f"{cv.name}.setpoint")
        if sp is not None and np.isfinite(sp).any():  # a CV without a setpoint has no IAE
            err = np.abs(values - sp)
            out["iae"][cv.name] = float(np.nansum(err) * dt)
            out["final_error"][cv.name] = float(values[-1] - sp[-1])
        excess = np.zeros_like(values)
        lo, hi = _column(frame, f"{cv.name}.low"), _column(frame, f"{cv.name}.high")
        if hi is not None:
            excess += np.nan_to_num(np.maximum(values - hi, 0.0))
        if lo is not None:
            excess += np.nan_to_num(np.maximum(lo - values, 0.0))
        out["violation_integral"][cv.name] = float(excess.sum() * dt)
    for mv in spec.mv:
        values = _column(frame, mv.name)
        if values is not None:
            out["mv_travel"][mv.name] = float(np.nansum(np.abs(np.diff(values))))
    solved = frame["solve_time"].to_numpy(dtype=float) if "solve_time" in frame else np.zeros(0)
    solved = solved[np.isfinite(solved) & (solved > 0)]
    out["solve_time_p50_ms"] = float(np.percentile(solved, 50) * 1e3) if solved.size else None
    out["solve_time_p99_ms"] = float(np.percentile(solved, 99) * 1e3) if solved.size else None
    status = frame["solve_status"].astype(str) if "solve_status" in frame else pd.Series([], dtype=str)
    out["failures"] = int(status.isin(["failed", "timeout"]).sum())
    out["sheds"] = int(frame["shed"].sum()) if "shed" in frame else 0
    out["cycles"] = int(len(frame))
    out["writes"] = int(frame["write"].sum()) if "write" in frame else 0
    out["given_up"] = episode_rows(episodes(frame, events), units or {})
    return out
