"""Controller performance figures from a cycle store (``twin monitor``, the console, the report).

What a performance-monitoring package reports for a running controller,
computed over a window of the run and compared with a reference window:

- **service factor**: share of the window's cycles ON and not shed;
- **active constraints**: per MV, share of cycles at its low or high limit
  (saturation) and its travel (sum of absolute moves); per CV, share of cycles
  whose steady-state target (the measurement where there is no target) sits
  at or beyond its soft low or high limit;
- **variability**: each CV's standard deviation in the window and in the
  reference window, and their ratio;
- **model quality**: each measured CV's prediction error (measurement minus
  its one-cycle prediction) as an RMS per block of the window; a block is
  flagged when it exceeds :data:`DEGRADED_RATIO` times the reference RMS;
- **solver**: solves by status, solve time median, p99 and largest, iterations;
- **sheds** and their causes (the store's ``shed`` and ``error`` events).

Times are in the run's time unit. A value "at" a limit is within
:data:`AT_LIMIT` of its magnitude (at least 1) of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from twin.core.errors import InputError
from twin.orchestration.loop.store import CycleStore

AT_LIMIT = 1e-6
"""Relative distance within which a value counts as at its limit."""
DEGRADED_RATIO = 3.0
"""A block's prediction-error RMS above this multiple of the reference flags the CV's model."""
REFERENCE_SHARE = (0.1, 0.35)
"""Default reference window: this share of the run (after the estimator's start-up)."""
BLOCKS = 10
"""Default number of blocks the window is cut into for the model-quality flags."""


@dataclass(frozen=True)
class Window:
    """A span of run time ``[start, end]`` [run time unit]."""

    start: float
    end: float

    @classmethod
    def parse(cls, text: str, what: str) -> "Window":
        """``START:END`` (either may be empty: from the start, to the end)."""
        parts = str(text).split(":")
        if len(parts) != 2:
            raise InputError(f"{what} {text!r}: give START:END in the run's time unit")
        try:
            start = float(parts[0]) if parts[0].strip() else -math.inf
            end = float(parts[1]) if parts[1].strip() else math.inf
        except ValueError:
            raise InputError(f"{what} {text!r}: START and END must be numbers") from None
        if math.isnan(start) or math.isnan(end) or start >= end:
            raise InputError(f"{what} {text!r}: START must be below END")
        return cls(start, end)

    def of(self, frame: pd.DataFrame) -> pd.DataFrame:
        return frame[(frame["time"] >= self.start) & (frame["time"] <= self.end)]


def _at(value: np.ndarray, limit: np.ndarray) -> np.ndarray:
    """Where ``value`` is at or beyond ``limit`` in the limit's direction is decided by the
    caller; this is the 'at' test: within AT_LIMIT of the limit's magnitude."""
    return np.abs(value - limit) <= AT_LIMIT * np.maximum(1.0, np.abs(limit))


def _column(frame: pd.DataFrame, name: str) -> np.ndarray | None:
    return frame[name].to_numpy(dtype=float) if name in frame else None


def _share(mask: np.ndarray) -> float:
    return float(np.mean(mask)) if mask.size else float("nan")


def _rms(x: np.ndarray | None) -> float:
    if x is None:
        return float("nan")
    x = x[np.isfinite(x)]
    return float(np.sqrt(np.mean(x ** 2))) if x.size else float("nan")


def constraint_shares(frame: pd.DataFrame, cvs: list[str], mvs: list[str]) -> dict[str, Any]:
    """Per MV and CV the share of cycles at (or beyond) its low and high limit."""
    out: dict[str, Any] = {}
    for name in mvs:
        value, lo, hi = (_column(frame, c) for c in (name, f"{name}.low", f"{name}.high"))
        if value is None:
            continue
        at_lo = _at(value, lo) | (value < lo) if lo is not None else np.zeros(len(value), bool)
        at_hi = _at(value, hi) | (value > hi) if hi is not None else np.zeros(len(value), bool)
        out[name] = {"low": _share(at_lo), "high": _share(at_hi),
                     "saturated": _share(at_lo | at_hi),
                     "travel": float(np.nansum(np.abs(np.diff(value)))) if len(value) > 1 else 0.0}
    for name in cvs:
        value = _column(frame, f"{name}.target")
        if value is None or np.all(np.isnan(value)):
            value = _column(frame, name)
        if value is None:
            continue
        row = {}
        for side, sign in (("low", -1.0), ("high", 1.0)):
            limit = _column(frame, f"{name}.{side}")
            if limit is None:
                row[side] = 0.0
                continue
            beyond = sign * (value - limit) > 0
            row[side] = _share((_at(value, limit) | beyond) & np.isfinite(limit))
        out[name] = row
    return out


def prediction_quality(frame: pd.DataFrame, cvs: list[str], reference: pd.DataFrame,
                       blocks: int) -> dict[str, Any]:
    """Per measured CV: reference RMS of the prediction error, RMS per block, flags."""
    out: dict[str, Any] = {}
    edges = np.linspace(frame["time"].min(), frame["time"].max(), blocks + 1) \
        if len(frame) else np.zeros(blocks + 1)
    for name in cvs:
        column = f"{name}.prediction_error"
        if column not in frame:
            continue
        ref = _rms(_column(reference, column))
        rows = []
        for k in range(blocks):
            last = k == blocks - 1
            part = frame[(frame["time"] >= edges[k]) &
                         ((frame["time"] <= edges[k + 1]) if last else
                          (frame["time"] < edges[k + 1]))]
            rms = _rms(_column(part, column))
            rows.append({"start": float(edges[k]), "end": float(edges[k + 1]), "rms": rms,
                         "ratio": rms / ref if ref > 0 else float("nan"),
                         "flag": bool(ref > 0 and rms > DEGRADED_RATIO * ref)})
        out[name] = {"reference_rms": ref, "rms": _rms(_column(frame, column)), "blocks": rows,
                     "flag": any(r["flag"] for r in rows),
                     "first_flag": next((r["start"] for r in rows if r["flag"]), None)}
    return out


def solver_statistics(frame: pd.DataFrame) -> dict[str, Any]:
    """Solves by status; solve time median, p99 and largest [ms]; mean iterations."""
    solved = frame[frame["solve_status"].notna() & (frame["solve_status"] != "off")]
    times = solved["solve_time"].to_numpy(dtype=float) * 1e3
    times = times[np.isfinite(times)]
    return {"by_status": {str(k): int(v) for k, v in solved["solve_status"].value_counts().items()},
            "solve_time_ms": {"median": float(np.median(times)) if times.size else None,
                              "p99": float(np.percentile(times, 99)) if times.size else None,
                              "max": float(times.max()) if times.size else None},
            "iterations_mean": float(solved["iterations"].mean()) if len(solved) else None}


def shed_causes(events: pd.DataFrame, window: Window) -> dict[str, Any]:
    """Sheds in the window and the reasons given in the same cycles."""
    ev = events[(events["t"] >= window.start) & (events["t"] <= window.end)]
    shed_cycles = set(ev.loc[ev["kind"] == "shed", "cycle"])
    causes: dict[str, int] = {}
    for _, e in ev[ev["cycle"].isin(shed_cycles) & (ev["kind"] != "shed")].iterrows():
        key = f"{e['kind']}: {e['message']}"[:160]
        causes[key] = causes.get(key, 0) + 1
    return {"count": len(shed_cycles), "causes": causes}


def monitor(store: CycleStore, window: Window | None = None, reference: Window | None = None,
            blocks: int = BLOCKS) -> dict[str, Any]:
    """The performance figures of the store's run over ``window`` (default: all of it),
    against ``reference`` (default: :data:`REFERENCE_SHARE` of the run)."""
    info = store.run_info()
    spec = info["config"].get("controller", {})
    frame = store.to_frame()
    if frame.empty:
        raise InputError(f"cycle log '{store.path}' has no cycle yet")
    return performance(frame, store.events(), [c["name"] for c in spec.get("cv", [])],
                       [m["name"] for m in spec.get("mv", [])],
                       {k: info[k] for k in ("kind", "model", "time_unit")}, window, reference,
                       blocks)


def performance(frame: pd.DataFrame, events: pd.DataFrame, cvs: list[str], mvs: list[str],
                run: dict[str, str], window: Window | None = None,
                reference: Window | None = None, blocks: int = BLOCKS) -> dict[str, Any]:
    """The figures of a pivoted cycle table and its events (see :func:`monitor`); ``run``
    names the run's ``kind``, ``model`` and ``time_unit``."""
    t0, t1 = float(frame["time"].min()), float(frame["time"].max())
    window = window or Window(t0, t1)
    if reference is None:
        span = t1 - t0
        reference = Window(t0 + REFERENCE_SHARE[0] * span, t0 + REFERENCE_SHARE[1] * span)
    part, ref = window.of(frame), reference.of(frame)
    if part.empty:
        raise InputError(f"window {window.start:g}:{window.end:g} holds no cycle; the run spans "
                         f"{t0:g} to {t1:g} {run['time_unit']}")
    on = (part["mode"] == "on") & (part["shed"] == 0)
    variability = {}
    for name in cvs:
        now, before = _column(part, name), _column(ref, name)
        if now is None:
            continue
        sd, sd_ref = float(np.nanstd(now)), float(np.nanstd(before)) if before is not None \
            and before.size else float("nan")
        variability[name] = {"std": sd, "reference_std": sd_ref,
                             "ratio": sd / sd_ref if sd_ref > 0 else float("nan")}
    return {"run": {**run, "window": [max(window.start, t0), min(window.end, t1)],
                    "reference": [reference.start, reference.end], "cycles": int(len(part))},
            "service_factor": _share(on.to_numpy()),
            "constraints": constraint_shares(part, cvs, mvs),
            "variability": variability,
            "prediction": prediction_quality(part, cvs, ref, blocks),
            "solver": solver_statistics(part),
            "sheds": shed_causes(events, window)}


def summary_lines(figures: dict[str, Any]) -> list[str]:
    """The figures in a few lines for a terminal."""
    run = figures["run"]
    lines = [f"{run['kind']} run of {run['model']}: {run['cycles']} cycles from "
             f"{run['window'][0]:g} to {run['window'][1]:g} {run['time_unit']}",
             f"service factor {100 * figures['service_factor']:.1f} %"]
    for name, c in figures["constraints"].items():
        extra = f", saturated {100 * c['saturated']:.1f} %, travel {c['travel']:.4g}" \
            if "saturated" in c else ""
        lines.append(f"  {name}: at low {100 * c['low']:.1f} %, at high {100 * c['high']:.1f} %"
                     + extra)
    for name, v in figures["variability"].items():
        lines.append(f"  {name}: std {v['std']:.4g} (reference {v['reference_std']:.4g})")
    for name, p in figures["prediction"].items():
        flag = f"DEGRADED from {p['first_flag']:g}" if p["flag"] else "ok"
        lines.append(f"  {name}: prediction error RMS {p['rms']:.4g} (reference "
                     f"{p['reference_rms']:.4g}): {flag}")
    s = figures["solver"]
    med = s["solve_time_ms"]["median"]
    lines.append("solver: " + ", ".join(f"{k} {v}" for k, v in s["by_status"].items())
                 + (f"; solve time median {med:.3g} ms, p99 {s['solve_time_ms']['p99']:.3g} ms"
                    if med is not None else ""))
    sheds = figures["sheds"]
    lines.append(f"sheds: {sheds['count']}" + "".join(f"\n  {k} ({n})"
                                                     for k, n in sheds["causes"].items()))
    return lines
