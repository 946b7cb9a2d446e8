"""Benchmark harness: figures with baselines measured in the same run, as JSON.

A figure is a function ``fn(ctx) -> FigureResult`` registered with
:func:`benchmark`. It times our code and each baseline with the helpers of
:class:`BenchContext` and adds details (accuracy, counts, targets). The
harness prints for each figure the median and p99 (p99 only from at least
100 samples), the unit, and the ratio of our median to each baseline's
median (below 1: ours is faster). Timing never fails a run.

One figure never loses the others: a figure that raises is recorded with
``status = "failed"`` and its error (one line), and the run goes on. A
baseline whose package is not installed (``pyomo_ripopt`` comes only with
the test extra) is skipped with one line saying what to install, through
:meth:`BenchContext.optional_module`; a figure whose own code needs a
missing package is ``status = "skipped"`` with the same hint.
"""

from __future__ import annotations

import importlib
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from twin.core.errors import UnknownNameError

log = logging.getLogger(__name__)

INSTALL_HINTS = {
    "pyomo_ripopt": "pyomo-ripopt (in the test extra: pip install -c constraints.txt '.[test]')",
    "pythonfmu": "pythonfmu (in the test extra: pip install -c constraints.txt '.[test]')",
}
"""What to install for an optional module a figure or a baseline imports."""

OUR_PACKAGES = frozenset({"twin", "apc", "rto", "plant_models", "twin_benchmarks", "twin_fmus"})
"""A missing module of ours is a failure, not a package to install."""


def install_hint(module: str) -> str:
    """What to install to get ``module`` (its top-level package)."""
    top = module.split(".")[0]
    return INSTALL_HINTS.get(top, f"the package that provides '{top}' (pip install {top})")

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

    def target(self, name: str, text: str, value: float | None, met: bool | None) -> None:
        """Record whether a target was met (reported, never enforced).

        ``value`` and ``met`` are None when the target could not be measured
        (its baseline was skipped).
        """
        self.targets[name] = {"target": text, "value": value,
                              "met": None if met is None else bool(met)}

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
    skipped: dict[str, str] = field(default_factory=dict)
    """Baseline name to why it was skipped (what to install), filled by :meth:`optional_module`."""

    def optional_module(self, module: str, baseline: str) -> ModuleType | None:
        """Import ``module`` for ``baseline``, or record the baseline as skipped and return None.

        Only the absence of ``module`` itself (or of its package) skips; an
        error inside an installed module is raised as usual.
        """
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not _is_missing(exc, module):
                raise
            self.skipped[baseline] = f"skipped: install {install_hint(module)}"
            return None

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
    """Run the selected figures; return the JSON-ready report.

    A Ctrl-C (KeyboardInterrupt) stops the run: the report holds the figures
    finished before it and ``interrupted``, the figure that was running.
    """
    figures = load_figures()
    names = list(only) if only else list(figures)
    for name in names:
        if name not in figures:
            raise UnknownNameError("benchmark", name, list(figures))
    report: dict[str, Any] = {"quick": quick, "machine": _machine(), "figures": {}}
    started = time.perf_counter()
    for name in names:
        bench = figures[name]
        progress(f"{name}: {bench.description}")
        t0 = time.perf_counter()
        try:
            result = run_figure(bench, BenchContext(quick=quick))
        except KeyboardInterrupt:  # Ctrl-C: keep what was measured so far
            report["interrupted"] = name
            progress(f"{name}: interrupted; the figures finished before it are kept")
            break
        elapsed = time.perf_counter() - t0
        for baseline, why in result.get("skipped_baselines", {}).items():
            progress(f"{name}: baseline {baseline} {why}")
        if result["status"] != "ok":
            progress(f"{name}: {result['status']}: {result['error']}")
        result["description"] = bench.description
        result["elapsed_s"] = round(elapsed, 3)
        if quick:
            result["quick_budget_s"] = bench.quick_budget_s
            result["within_quick_budget"] = elapsed <= bench.quick_budget_s
        report["figures"][name] = result
    report["elapsed_s"] = round(time.perf_counter() - started, 3)
    report["failed"] = [n for n, f in report["figures"].items() if f["status"] == "failed"]
    report["skipped"] = [n for n, f in report["figures"].items() if f["status"] == "skipped"]
    return report


def run_figure(bench: Benchmark, ctx: BenchContext) -> dict[str, Any]:
    """One figure's JSON result; an exception becomes ``status`` failed (or skipped) and its error.

    Status is ``"ok"``, ``"skipped"`` (the figure's own code needs a package
    that is not installed) or ``"failed"`` (anything else it raised), with
    ``error`` one line.
    """
    try:
        result = bench.run(ctx).to_json()
        result["status"] = "ok"
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] in OUR_PACKAGES:
            result = {"status": "failed", "error": _one_line(exc)}
        else:
            result = {"status": "skipped",
                      "error": f"needs '{exc.name}': install {install_hint(exc.name)}"}
    except Exception as exc:  # a figure's failure must not lose the others
        log.debug("figure %s failed", bench.name, exc_info=True)
        result = {"status": "failed", "error": _one_line(exc)}
    if ctx.skipped:
        result["skipped_baselines"] = dict(ctx.skipped)
    return result


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return f"{type(exc).__name__}: {text}"


def _is_missing(exc: ModuleNotFoundError, module: str) -> bool:
    """True when ``exc`` says ``module`` or one of its parent packages is not installed."""
    parts = module.split(".")
    return exc.name in {".".join(parts[:k]) for k in range(1, len(parts) + 1)}


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
