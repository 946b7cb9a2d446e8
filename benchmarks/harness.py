"""Benchmark harness: figures with baselines measured in the same run, as JSON.

A figure is a function ``fn(ctx) -> FigureResult`` registered with
:func:`benchmark`. It times our code and each baseline with the helpers of
:class:`BenchContext` and adds details (accuracy, counts, targets). The
harness prints for each figure the median and p99 (p99 only from at least
100 samples), the unit, and the ratio of our median to each baseline's
median (below 1: ours is faster). Timing never fails a run; exceptions do.
"""

from __future__ import annotations

import importlib
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twin.core.errors import UnknownNameError

P99_MIN_SAMPLES = 100
"""Fewer samples than this give no p99."""


@dataclass
class Samples:
    """Repeated measurements of one quantity.

    Attributes
    ----------
    values : list of float
        One value per sample [unit].
    unit : str
        Unit of the values, e.g. ``"ns/step"``, ``"us/call"``, ``"ms/run"``.
    """

    values: list[float]
    unit: str

    def summary(self) -> dict[str, Any]:
        """Median, p99 (or why not), sample count, min and max."""
        v = sorted(self.values)
        out: dict[str, Any] = {"unit": self.unit, "samples": len(v),
                               "median": statistics.median(v) if v else None,
                               "min": v[0] if v else None, "max": v[-1] if v else None}
        if len(v) >= P99_MIN_SAMPLES:
            out["p99"] = v[min(len(v) - 1, math.ceil(0.99 * len(v)) - 1)]
        else:
            out["p99"] = None
            out["p99_note"] = f"p99 needs at least {P99_MIN_SAMPLES} samples, have {len(v)}"
        return out

    @property
    def median(self) -> float:
        return statistics.median(self.values)


@dataclass
class FigureResult:
    """What one figure measured.

    Attributes
    ----------
    value : Samples
        Our measurement.
    baselines : dict
        Baseline name to its :class:`Samples` (same unit), measured in the same run.
    details : dict
        Anything else worth printing: accuracy, counts, settings.
    targets : dict
        Target name to ``{"target": text, "value": number, "met": bool}``.
    """

    value: Samples
    baselines: dict[str, Samples] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def target(self, name: str, text: str, value: float, met: bool) -> None:
        """Record whether a target was met (reported, never enforced)."""
        self.targets[name] = {"target": text, "value": value, "met": bool(met)}

    def to_json(self) -> dict[str, Any]:
        out = self.value.summary()
        out["baselines"] = {k: s.summary() for k, s in self.baselines.items()}
        out["ratio_to_baseline"] = {k: self.value.median / s.median
                                    for k, s in self.baselines.items() if s.median}
        out["details"] = self.details
        out["targets"] = self.targets
        return out


@dataclass(frozen=True)
class Benchmark:
    """A registered figure."""

    name: str
    description: str
    quick_budget_s: float
    run: Callable[["BenchContext"], FigureResult]


REGISTRY: dict[str, Benchmark] = {}


def benchmark(name: str, description: str, quick_budget_s: float):
    """Register ``fn(ctx) -> FigureResult`` as figure ``name``."""
    def register(fn: Callable[["BenchContext"], FigureResult]):
        REGISTRY[name] = Benchmark(name, description, quick_budget_s, fn)
        return fn
    return register


@dataclass
class BenchContext:
    """What a figure may use: the mode, and timers.

    Attributes
    ----------
    quick : bool
        True for the short CI run: figures shrink sample counts and sizes.
    """

    quick: bool

    def size(self, quick: int, full: int) -> int:
        """``quick`` or ``full``, by mode."""
        return quick if self.quick else full

    @staticmethod
    def time_calls(fn: Callable[[], Any], samples: int, per_sample: int = 1,
                   scale: float = 1e9, warmup: int = 1) -> list[float]:
        """Time ``samples`` runs of ``per_sample`` calls; values are seconds x ``scale`` per call."""
        for _ in range(warmup):
            fn()
        clock = time.perf_counter_ns
        values = []
        for _ in range(samples):
            t0 = clock()
            for _ in range(per_sample):
                fn()
            values.append((clock() - t0) * 1e-9 * scale / per_sample)
        return values


def load_figures() -> dict[str, Benchmark]:
    """Import the figure modules and return the registry."""
    from twin_benchmarks import FIGURE_MODULES

    for module in FIGURE_MODULES:
        importlib.import_module(module)
    return REGISTRY


def run(only: Iterable[str] | None = None, quick: bool = False,
        progress: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Run the selected figures; return the JSON-ready report."""
    figures = load_figures()
    names = list(only) if only else list(figures)
    for name in names:
        if name not in figures:
            raise UnknownNameError("benchmark", name, list(figures))
    ctx = BenchContext(quick=quick)
    report: dict[str, Any] = {"quick": quick, "machine": _machine(), "figures": {}}
    started = time.perf_counter()
    for name in names:
        bench = figures[name]
        progress(f"{name}: {bench.description}")
        t0 = time.perf_counter()
        result = bench.run(ctx).to_json()
        elapsed = time.perf_counter() - t0
        result["description"] = bench.description
        result["elapsed_s"] = round(elapsed, 3)
        if quick:
            result["quick_budget_s"] = bench.quick_budget_s
            result["within_quick_budget"] = elapsed <= bench.quick_budget_s
        report["figures"][name] = result
    report["elapsed_s"] = round(time.perf_counter() - started, 3)
    return report


def _machine() -> dict[str, Any]:
    from importlib import metadata

    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {"python": platform.python_version(), "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cores": len(os.sched_getaffinity(0)),
            "versions": {p: version(p) for p in ("casadi", "numpy", "scipy", "cython")}}
