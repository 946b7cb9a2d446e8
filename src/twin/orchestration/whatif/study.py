"""The study file (TOML), validated on load; errors name the bad key.

::

    title = "CSTR kinetics uncertainty"
    seed = 1
    duration = 1.0                    # model time units

    [base]
    kind = "open_loop"                # open_loop | closed_loop | function
    model = "cstr"                    # a model name, or a path to an FMU
    dt = 0.005                        # result interval [model time unit]
    u = { F = 18.83, Q_dot = -4495.7 }
    # closed_loop: loop_file = "cstr_rto_apc.toml" (a `twin control` file)
    # function:    function = "ishigami" (or "module:function")

    [[base.step]]                     # open-loop input schedule (zero-order hold)
    time = 0.5
    inputs = { F = 20.0 }

    [[variable]]
    name = "beta"
    kind = "parameter"                # parameter | initial_state | input | input_step | setpoint
    low = 0.9
    high = 1.1

    [sampling]
    method = "lhs"                    # list | grid | lhs | sobol
    n = 2000

    [[kpi]]
    name = "C_b_final"
    kind = "final"                    # final | mean | min | max | iae | profit |
    variable = "C_b"                  # violation_time | expression
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from twin.core.config import Count, NonNegative, build, read_toml
from twin.core.errors import InputError
from twin.core.units import ModelValue, check_texts
from twin.core.model_ref import with_resolved_model

MAX_SCENARIOS = 10_000_000
"""Largest sample size of a study."""

VariableKind = Literal["parameter", "initial_state", "input", "input_step", "setpoint"]
KpiKind = Literal["final", "mean", "min", "max", "iae", "profit", "violation_time", "expression"]


RESERVED_COLUMNS = ("scenario", "nominal", "status", "error", "seconds", "time")
"""Columns of the summary that no KPI or function output may be called."""


@dataclass(frozen=True)
class InputStep:
    """Inputs that change at ``time`` [model time unit] and hold (zero-order hold)."""

    time: NonNegative
    inputs: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BaseCase:
    """What every scenario starts from.

    Attributes
    ----------
    kind : str
        ``open_loop`` (a model or FMU with an input schedule), ``closed_loop``
        (a ``twin control`` loop file: plant, APC, optional RTO) or
        ``function`` (a Python function of the scenario variables).
    model : str
        Model reference (a name, a model file ``./reactor.py[:NAME]`` relative to
        the study file, or ``module:ATTRIBUTE``) or a path to an ``.fmu`` (open loop).
    parameter_set, parameters
        Model parameters of the base case.
    u : dict
        Constant inputs (open loop); missing ones keep the model's nominal values.
    x0 : dict
        The initial state, by name: with a steady start, the states given
        here replace those of the steady state (as ``initial_state``
        variables do); missing ones: see ``steady_start``.
    steady_start : bool or "scenario", optional
        ``true``: start at the steady state of the nominal scenario (computed
        once); ``"scenario"``: each scenario at its own steady state (its
        parameters, its inputs at time 0); ``false``: from ``x0`` and the
        model's nominal state. Default ``true`` for a model, refused for an
        FMU (it starts from its own start values and ``x0``). A closed loop
        takes its start from the loop file (``plant.steady_start``).
    guess : dict
        Starting point of the steady-state solver, by name over the nominal
        state.
    dt : float
        Interval of the results and of the input schedule [model time unit].
    method : str, optional
        Integration method (default: the model's).
    step : list of InputStep
        Open-loop input schedule.
    loop_file : str
        The loop file of a closed-loop base case.
    loop_events : bool
        Keep the ``[[event]]`` entries of the loop file (closed loop).
    function : str
        ``ishigami`` or ``module:function`` (keyword arguments: the scenario
        variables; returns a mapping of named outputs).
    """

    kind: Literal["open_loop", "closed_loop", "function"]
    model: str = ""
    parameter_set: str | None = None
    parameters: dict[str, ModelValue] = field(default_factory=dict)
    u: dict[str, ModelValue] = field(default_factory=dict)
    x0: dict[str, ModelValue] = field(default_factory=dict)
    steady_start: bool | Literal["scenario"] | None = None
    guess: dict[str, ModelValue] = field(default_factory=dict)
    dt: NonNegative = 0.0
    method: Literal["rk4", "dopri5", "bdf"] | None = None
    step: tuple[InputStep, ...] = ()
    loop_file: str = ""
    loop_events: bool = True
    function: str = ""

    def __post_init__(self) -> None:
        need = {"open_loop": ("model", "dt"), "closed_loop": ("loop_file",),
                "function": ("function",)}[self.kind]
        for key in need:
            if not getattr(self, key):
                raise InputError(f"base: kind '{self.kind}' needs '{key}'")
        if self.dt < 0:
            raise InputError("base.dt must be positive")
        for key in ("parameters", "u", "x0"):
            check_texts(getattr(self, key), f"base.{key}", model_plant=not self.is_fmu)
        if self.is_fmu and self.steady_start:
            raise InputError("base.steady_start needs a model: an FMU starts from its own start "
                             "values (give x0 instead)")
        if self.kind != "open_loop":
            given = [k for k in ("x0", "steady_start", "guess") if getattr(self, k) not in
                     (None, {})]
            if given:
                raise InputError(f"base.{given[0]} applies to an open-loop base case; "
                                 + ("a closed loop starts as its loop file says (plant.x0, "
                                    "plant.steady_start, plant.guess)" if self.kind == "closed_loop"
                                    else "a function has no state"))
        if self.guess and not self.starts_steady:
            raise InputError("base.guess is the steady-state solver's starting point and needs a "
                             "steady start (base.steady_start); the initial state is base.x0")

    @property
    def starts_steady(self) -> bool:
        """True when scenarios start at a steady state (the nominal one, or their own)."""
        return (not self.is_fmu) if self.steady_start is None else bool(self.steady_start)

    @property
    def steady_per_scenario(self) -> bool:
        """True when each scenario starts at its own steady state."""
        return self.steady_start == "scenario"

    @property
    def is_fmu(self) -> bool:
        return self.model.lower().endswith(".fmu")


@dataclass(frozen=True)
class ScenarioVariable:
    """One uncertain quantity of the scenarios.

    Attributes
    ----------
    name : str
        A parameter, state, input or CV name (or a function argument).
    kind : str
        ``parameter``, ``initial_state``, ``input`` (constant over the run),
        ``input_step`` (the input's value from ``at`` on), ``setpoint`` (a CV
        setpoint of the closed loop).
    low, high : float
        Range sampled by ``lhs`` and ``sobol`` (and ``grid`` with ``levels``).
    values : list of float
        Values of a ``grid``.
    levels : int
        Evenly spaced grid values between low and high.
    nominal : float, optional
        Value of the nominal scenario (default: the middle of the range).
    at : float
        Time of an ``input_step`` [model time unit].
    """

    name: str
    kind: VariableKind = "parameter"
    low: float | None = None
    high: float | None = None
    values: tuple[float, ...] = ()
    levels: Count(0, 10_000) = 0
    nominal: float | None = None
    at: NonNegative = 0.0

    def __post_init__(self) -> None:
        if self.levels < 0:
            raise InputError(f"variable '{self.name}': levels must be at least 1")
        if (self.low is None) != (self.high is None):
            raise InputError(f"variable '{self.name}': give both low and high")
        if self.low is not None and not self.low < self.high:
            raise InputError(f"variable '{self.name}': low must be below high")

    @property
    def has_nominal(self) -> bool:
        return self.nominal is not None or self.low is not None or bool(self.values)

    @property
    def nominal_value(self) -> float:
        if self.nominal is not None:
            return float(self.nominal)
        if self.low is not None:
            return 0.5 * (self.low + self.high)
        if self.values:
            return float(sorted(self.values)[len(self.values) // 2])
        raise InputError(f"variable '{self.name}': give nominal, low/high or values")


@dataclass(frozen=True)
class Sampling:
    """How scenarios are drawn.

    Attributes
    ----------
    method : str
        ``list`` (``scenarios``), ``grid`` (every combination of each
        variable's values), ``lhs`` (Latin hypercube of ``n``), ``sobol``
        (Saltelli's scheme by SALib: ``n`` base samples, ``n (2 D + 2)``
        scenarios with ``second_order``, else ``n (D + 2)``).
    n : int
        Sample size (lhs, sobol; a power of two for sobol).
    second_order : bool
        Sobol second-order indices too.
    scenarios : list of tables
        Explicit scenarios (``list``): variable name -> value.
    """

    method: Literal["list", "grid", "lhs", "sobol"] = "lhs"
    n: Count(0, MAX_SCENARIOS) = 0
    second_order: bool = False
    scenarios: tuple[dict[str, float], ...] = ()

    def __post_init__(self) -> None:
        if self.method in ("lhs", "sobol") and self.n < 1:
            raise InputError(f"sampling.n must be at least 1 for '{self.method}'")
        if self.method == "sobol" and self.n & (self.n - 1):
            raise InputError(f"sampling.n = {self.n}: Sobol sampling needs a power of two")
        if self.method == "list" and not self.scenarios:
            raise InputError("sampling: method 'list' needs scenarios")


@dataclass(frozen=True)
class KpiSpec:
    """A key performance indicator of each scenario.

    Attributes
    ----------
    name : str
    kind : str
        ``final``, ``mean``, ``min``, ``max`` of ``variable``; ``iae`` (integral
        of |variable - setpoint|; closed loop: the CV's own setpoint column
        unless ``setpoint`` is given); ``profit`` (time integral of the profit
        of ``economics``, an RTO economics name or file); ``violation_time``
        (time ``variable`` spends above ``high`` or below ``low``);
        ``expression`` (an arithmetic expression over result columns,
        aggregated by ``of``).
    variable : str
    setpoint : float, optional
    economics : str
    low, high : float, optional
    expression : str
    of : str
        Aggregation of an expression: final, mean, min, max or integral.
    unit : str
        Unit shown in the report (default: derived from the variable's unit;
        give it for an expression, e.g. ``"-"``).
    """

    name: str
    kind: KpiKind = "final"
    variable: str = ""
    setpoint: float | None = None
    economics: str = ""
    low: float | None = None
    high: float | None = None
    expression: str = ""
    of: Literal["final", "mean", "min", "max", "integral"] = "mean"
    unit: str = ""

    def __post_init__(self) -> None:
        need = {"final": "variable", "mean": "variable", "min": "variable", "max": "variable",
                "iae": "variable", "violation_time": "variable", "profit": "economics",
                "expression": "expression"}[self.kind]
        if not getattr(self, need):
            raise InputError(f"kpi '{self.name}': kind '{self.kind}' needs '{need}'")
        if self.kind == "violation_time" and self.low is None and self.high is None:
            raise InputError(f"kpi '{self.name}': violation_time needs low and/or high")


@dataclass(frozen=True)
class OutputSettings:
    """What is written besides the summary.

    Attributes
    ----------
    timeseries : bool, optional
        Per-scenario time series in Parquet (default: for studies of at
        most 1000 scenarios).
    rank_by : str
        KPI that picks the best and worst scenarios of the report (default:
        the first KPI); ``maximize`` says which end is best.
    """

    timeseries: bool | None = None
    rank_by: str = ""
    maximize: bool = True


@dataclass(frozen=True)
class Study:
    """A what-if study."""

    base: BaseCase
    variable: tuple[ScenarioVariable, ...]
    sampling: Sampling
    kpi: tuple[KpiSpec, ...] = ()
    duration: NonNegative = 0.0
    seed: Count(0, 2 ** 32 - 1) = 0
    title: str = ""
    output: OutputSettings = OutputSettings()
    folder: str = ""
    """Folder of the study file: relative paths are relative to it."""

    def __post_init__(self) -> None:
        if not self.variable:
            raise InputError("study: give at least one [[variable]]")
        names = [v.name for v in self.variable]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise InputError(f"variable '{twice[0]}' is given twice")
        kpis = [k.name for k in self.kpi]
        if len(set(kpis)) != len(kpis):
            raise InputError("kpi names must be unique")
        for name in kpis:
            if name in names or name in RESERVED_COLUMNS:
                raise InputError(f"kpi '{name}': the name is taken by a "
                                 f"{'variable' if name in names else 'summary column'}")
        if self.base.dt and self.duration > 0:
            steps = self.duration / self.base.dt
            if abs(steps - round(steps)) > 1e-9 * max(1.0, steps):
                raise InputError(f"duration {self.duration:g} is not a whole number of base.dt = "
                                 f"{self.base.dt:g} intervals")
        for k in self.kpi:
            if k.kind == "iae" and k.setpoint is None and self.base.kind != "closed_loop":
                raise InputError(f"kpi '{k.name}': iae needs a setpoint (only a closed loop has "
                                 "its own)")
        if self.base.kind != "function":
            if not self.duration > 0:
                raise InputError("study: duration must be positive")
            if not self.kpi:
                raise InputError("study: give at least one [[kpi]]")
        if self.output.rank_by and self.output.rank_by not in kpis:
            raise InputError(f"output.rank_by '{self.output.rank_by}' is not a KPI; "
                             f"KPIs: {', '.join(kpis)}")
        for v in self.variable:
            if v.kind == "setpoint" and self.base.kind != "closed_loop":
                raise InputError(f"variable '{v.name}': setpoints vary only in a closed loop")
            if self.sampling.method in ("lhs", "sobol") and v.low is None:
                raise InputError(f"variable '{v.name}': {self.sampling.method} sampling needs "
                                 "low and high")
            if self.sampling.method == "grid" and not v.values and not (v.levels and v.low is
                                                                          not None):
                raise InputError(f"variable '{v.name}': a grid needs values, or levels with "
                                 "low and high")

    def resolve(self, path: str) -> Path:
        """A path of the study file, relative to its folder."""
        p = Path(path)
        return p if p.is_absolute() else Path(self.folder or ".") / p

    @property
    def variable_names(self) -> list[str]:
        return [v.name for v in self.variable]

    def fingerprint(self, *more: str) -> str:
        """Changes whenever the study's results would (title and report settings aside);
        ``more``: digests of what the study refers to (loop file, FMU, functions)."""
        from dataclasses import replace

        core = replace(self, title="", output=OutputSettings())
        return hashlib.sha256("\n".join((repr(core),) + more).encode()).hexdigest()[:16]


def load_study(path: str | Path) -> Study:
    """Read and check a study file."""
    from twin.orchestration.examples import file_or_example

    path = file_or_example(path)
    return study_from_dict(read_toml(path), path.resolve().parent, path.name)


def study_from_dict(data: dict[str, Any], base: str | Path | None = None,
                    where: str = "study") -> Study:
    """A checked :class:`Study` from a parsed table; its files (model files, loop file, FMU)
    are relative to ``base`` (default: the working folder)."""
    data = dict(data)
    data["folder"] = str(Path(base if base is not None else ".").resolve())
    if "base" in data:
        data["base"] = with_resolved_model(data["base"], data["folder"])
    return build(Study, data, where)
