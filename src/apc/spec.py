"""Controller specification: plain data, checked when built (describe, then build).

A :class:`ControllerSpec` says what the APC controls and how: controlled
variables (CVs) with setpoints, ranked soft limits and hard limits;
manipulated variables (MVs) with hard limits, rate limits and move
suppression; measured disturbances (DVs); measurements and the estimator;
the horizon, control horizon or move blocking; terminal and economic
costs; optional robust multi-stage scenarios; solver settings and the
failure policy. Load one from TOML with :func:`load_spec` (unknown keys are
errors naming the valid ones), then :meth:`ControllerSpec.check` it against
the model it will control.

Units are those of the model's variables; times are in the model's time
unit, except ``solver.time_budget`` [s of wall-clock time].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from apc.spec_disturbance import DisturbanceSpec
from apc.spec_linear import LinearSpec, SteadyStateSpec
from twin.core.config import Count, Domain, NonNegative, Positive, build, check_domains, read_toml
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.model_ref import with_resolved_model

Weight = Annotated[float, Domain(ge=0, le=1e12)]
"""A cost weight: finite, >= 0 and at most 1e12 (beyond, the optimisation is ill-conditioned)."""
Cost = Annotated[float, Domain(ge=-1e12, le=1e12)]
"""An economic cost per unit of a variable at steady state (negative: a value)."""
Horizon = Count(1, 1000)
"""A number of control intervals."""
MAX_DELAY_INTERVALS = 1000
"""Longest analyser sample interval or dead time [control intervals]."""


def _check(item, kind: str) -> None:
    """Declared domains of one CV, MV or measurement, errors naming it."""
    try:
        check_domains(item)
    except InputError as exc:
        raise InputError(f"{kind} '{item.name}': {exc}") from None


@dataclass(frozen=True)
class CVSpec:
    """A controlled variable: a state or output of the model.

    Attributes
    ----------
    name : str
        State or output name.
    setpoint : float, optional
        Target value; without one the CV is kept within its range only.
    low, high : float, optional
        Soft operating limits, given up in rank order when not all can be met.
    rank : int
        Priority of the soft limits: rank 1 is given up last.
    penalty : float
        Weight of a soft-limit violation in the dynamic problem [1/CV unit].
    hard_low, hard_high : float, optional
        Physical limits, never given up.
    weight : float
        Setpoint tracking weight [1/CV unit^2].
    critical : bool
        A critical CV whose measurement goes bad sheds the controller; a
        non-critical one is dropped from control while bad.
    cost : float
        Linear controller: economic cost per CV unit at steady state, minimised
        by the steady-state optimiser within the limits [objective unit / CV unit].
    ramp : bool
        Linear controller: an integrating CV (a level): its steady state is a
        zero rate of change, its gains are rates [CV unit / time unit / MV unit].
    """

    name: str
    setpoint: float | None = None
    low: float | None = None
    high: float | None = None
    rank: Count(1, 100) = 1
    penalty: Weight = 1e2
    hard_low: float | None = None
    hard_high: float | None = None
    weight: Weight = 1.0
    critical: bool = False
    cost: Cost = 0.0
    ramp: bool = False

    def __post_init__(self) -> None:
        _check(self, "cv")
        for lo, hi, what in ((self.low, self.high, "low/high"),
                             (self.hard_low, self.hard_high, "hard_low/hard_high")):
            if lo is not None and hi is not None and lo > hi:
                raise InputError(f"cv '{self.name}': {what} has low > high")


@dataclass(frozen=True)
class MVSpec:
    """A manipulated variable: a manipulated input of the model.

    Attributes
    ----------
    name : str
        Input name.
    low, high : float, optional
        Hard limits (default: the model's input bounds).
    max_move : float, optional
        Largest change per control interval, a hard constraint.
    move_weight : float
        Move suppression: weight of (change / scale)^2 per interval.
    target_weight : float
        Weight of (MV - steady-state target)^2 / scale^2 in the dynamic problem.
    scale : float
        Scaling of the MV in the optimisation (a typical magnitude).
    safe_value : float, optional
        Value written when the controller sheds; by default the last value is held.
    cost : float
        Linear controller: economic cost per MV unit at steady state
        [objective unit / MV unit].
    ideal : float, optional
        Linear controller with a QP steady-state objective: the MV's ideal
        resting value [MV unit].
    """

    name: str
    low: float | None = None
    high: float | None = None
    max_move: Positive | None = None
    move_weight: Weight = 0.0
    target_weight: Weight = 0.0
    scale: Positive = 1.0
    safe_value: float | None = None
    cost: Cost = 0.0
    ideal: float | None = None

    def __post_init__(self) -> None:
        _check(self, "mv")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InputError(f"mv '{self.name}': low > high")


@dataclass(frozen=True)
class DVSpec:
    """A measured disturbance: a disturbance input of the model."""

    name: str


@dataclass(frozen=True)
class MeasurementSpec:
    """A measured state or output, as the estimator sees it.

    Attributes
    ----------
    name : str
        State or output name.
    noise_std : float
        Standard deviation of the measurement noise (estimator tuning).
    sample_interval : float
        Time between new values (0: every control interval).
    dead_time : float
        Age of a value when it arrives (analysers).
    bias : bool
        Estimate a constant bias (disturbance) on this measurement, which
        makes control offset-free under constant plant-model mismatch.
    accept_uncertain : bool
        Use values of quality UNCERTAIN as if good (else they are ignored).
    """

    name: str
    noise_std: NonNegative = 0.0
    sample_interval: NonNegative = 0.0
    dead_time: NonNegative = 0.0
    bias: bool = True
    accept_uncertain: bool = False

    def __post_init__(self) -> None:
        _check(self, "measurement")


@dataclass(frozen=True)
class EstimatorSpec:
    """State and disturbance estimation.

    Attributes
    ----------
    kind : str
        ``"ekf"``, ``"mhe"`` or ``"state_feedback"`` (the plant state is measured).
    process_noise : float
        Standard deviation of the state noise per interval, relative to each
        state's nominal magnitude.
    bias_noise : float
        Standard deviation of the bias random walk per interval, relative to
        each measurement's noise (or nominal magnitude when noise-free).
    initial_std : float
        Initial state uncertainty, relative to nominal magnitudes.
    horizon : int
        MHE window [control intervals].
    """

    kind: Literal["ekf", "mhe", "state_feedback"] = "ekf"
    process_noise: Annotated[float, Domain(gt=0, le=1e3)] = 1e-4
    bias_noise: Annotated[float, Domain(ge=0, le=1e6)] = 1.0
    initial_std: Annotated[float, Domain(gt=0, le=1e3)] = 0.05
    horizon: Count(1, 200) = 10

    def __post_init__(self) -> None:
        check_domains(self)


@dataclass(frozen=True)
class RobustSpec:
    """Multi-stage robust MPC over uncertain parameters (do-mpc's scenario tree).

    ``parameters`` maps model parameter names to their scenario values, the
    first being the nominal one; ``n_robust`` is the robust horizon.
    """

    parameters: dict[str, tuple[float, ...]]
    n_robust: Count(1, 5) = 1

    def __post_init__(self) -> None:
        check_domains(self)


@dataclass(frozen=True)
class SolverSpec:
    """The dynamic optimisation and what happens when it fails.

    Attributes
    ----------
    backend : str
        ``"auto"`` (``fatrop`` for nominal problems, ``do-mpc`` for robust
        ones), ``"fatrop"`` (structure-exploiting interior point on a
        stage-wise transcription), ``"do-mpc"`` (do-mpc's NLP with IPOPT),
        ``"sqp"`` (SQP to convergence on multiple shooting with the
        collocation condensed per interval, QPs by hpipm; the same solution
        as ``fatrop``) or ``"rti"`` (the real-time iteration of that SQP:
        one QP per cycle on the shifted linearisation). ``sqp`` and ``rti``
        take nominal problems with least-squares costs (no ``economic``).
    tol : float
        Convergence tolerance.
    max_iter : int
        Iteration limit.
    time_budget : float, optional
        Wall-clock limit of one cycle's optimisations (targets, MHE, NMPC
        together) [s], a guarantee whatever the backend: the solves run in a
        child process that is abandoned when the budget passes; the cycle
        then applies the next move of the last feasible plan and counts a
        timeout. Without a budget the solves run in this process.
    max_failures : int
        Consecutive failures after which the controller sheds (K).
    warm_start : bool
        Start from the shifted previous solution, primal and dual.
    """

    backend: Literal["auto", "fatrop", "do-mpc", "sqp", "rti"] = "auto"
    tol: Annotated[float, Domain(gt=0, le=1)] = 1e-8
    max_iter: Count(1, 100_000) = 300
    time_budget: Annotated[float, Domain(gt=0, le=86400)] | None = None
    max_failures: Count(1, 1000) = 3
    warm_start: bool = True

    def __post_init__(self) -> None:
        check_domains(self)


@dataclass(frozen=True)
class ControllerSpec:
    """Everything that defines one APC application.

    Attributes
    ----------
    model : str
        The internal model: a shipped or registered name (``"cstr"``), a model
        file (``"./reactor.py"``, relative to the file that names it) or
        ``"module:ATTR"``.
    parameter_set : str, optional
        Published parameter set of the internal model.
    parameters : dict
        Parameter overrides of the internal model (plant-model mismatch is normal).
    sample_time : float
        Control interval [model time unit].
    prediction_horizon : int
        Prediction horizon [intervals].
    control_horizon : int, optional
        Intervals with free moves; later moves equal the last free one.
    move_blocking : tuple of int, optional
        Lengths of the blocks of equal moves, summing to the prediction horizon
        (instead of ``control_horizon``).
    collocation_degree : int
        Degree of the Radau collocation polynomial per interval.
    terminal_weight : float
        Weight of the terminal tracking cost relative to one stage.
    target_calculation : bool
        Compute reachable steady-state targets before each move (with ranked
        give-up of soft limits); without it the setpoints are tracked directly.
    economic : str, optional
        Economic stage cost, an expression in model variable names (minimised).
    scaling : dict
        Typical magnitudes of states for the optimisation.
    safe_state : str
        On shedding: ``"hold"`` the last MVs, or ``"safe_values"`` of the MVs.
    type : str
        ``"nonlinear"`` (NMPC on the model), ``"linear"`` (linear MPC on the
        model's linear form, with the LP/QP steady-state optimiser), or
        ``"auto"``: linear for an identified model file, nonlinear otherwise.
    linear : LinearSpec
        Prediction and QP solver of the linear controller.
    steady_state : SteadyStateSpec
        The linear controller's steady-state optimiser.
    disturbances : tuple of DisturbanceSpec
        Integrating disturbance states on inputs or parameters, beside the
        measurement biases (offset-free control under input and parameter error).
    """

    model: str
    sample_time: Positive
    prediction_horizon: Horizon
    cv: tuple[CVSpec, ...]
    mv: tuple[MVSpec, ...]
    dv: tuple[DVSpec, ...] = ()
    measurements: tuple[MeasurementSpec, ...] = ()
    estimator: EstimatorSpec = field(default_factory=EstimatorSpec)
    solver: SolverSpec = field(default_factory=SolverSpec)
    robust: RobustSpec | None = None
    parameter_set: str | None = None
    parameters: dict[str, float] = field(default_factory=dict)
    control_horizon: Horizon | None = None
    move_blocking: tuple[Horizon, ...] | None = None
    collocation_degree: Count(1, 9) = 2
    terminal_weight: Weight = 1.0
    target_calculation: bool = True
    economic: str | None = None
    scaling: dict[str, Positive] = field(default_factory=dict)
    safe_state: Literal["hold", "safe_values"] = "hold"
    type: Literal["auto", "nonlinear", "linear"] = "auto"
    linear: LinearSpec = field(default_factory=LinearSpec)
    steady_state: SteadyStateSpec = field(default_factory=SteadyStateSpec)
    disturbances: tuple[DisturbanceSpec, ...] = ()

    def __post_init__(self) -> None:
        check_domains(self)
        if not self.cv or not self.mv:
            raise InputError("at least one cv and one mv are needed")
        if self.control_horizon is not None and self.move_blocking is not None:
            raise InputError("give either control_horizon or move_blocking, not both")
        if self.control_horizon is not None and not 1 <= self.control_horizon <= self.prediction_horizon:
            raise InputError("control_horizon must be between 1 and prediction_horizon")
        if self.move_blocking is not None:
            if any(b < 1 for b in self.move_blocking) or sum(self.move_blocking) != self.prediction_horizon:
                raise InputError("move_blocking lengths must be positive and sum to prediction_horizon")
        for kind, items in (("cv", self.cv), ("mv", self.mv), ("dv", self.dv),
                            ("measurement", self.measurements), ("disturbance", self.disturbances)):
            names = [i.name for i in items]
            dup = sorted({n for n in names if names.count(n) > 1})
            if dup:
                raise InputError(f"{kind} '{dup[0]}' is listed twice")
        if self.safe_state == "safe_values" and any(m.safe_value is None for m in self.mv):
            raise InputError("safe_state 'safe_values' needs a safe_value for every mv")
        if self.disturbances and self.estimator.kind == "state_feedback":
            raise InputError("disturbances are estimated states: they need estimator.kind 'ekf' "
                             "or 'mhe', not 'state_feedback'")
        if self.robust is not None:
            both = [d.name for d in self.disturbances
                    if d.kind == "parameter" and d.name in self.robust.parameters]
            if both:
                raise InputError(f"parameter '{both[0]}' is both a robust scenario parameter and "
                                 "an estimated disturbance: choose one")
        if self.solver.backend in ("fatrop", "sqp", "rti") and self.robust is not None:
            raise InputError(f"solver.backend '{self.solver.backend}' handles nominal problems; "
                             "robust needs 'do-mpc'")
        if self.solver.backend in ("sqp", "rti") and self.economic:
            raise InputError(f"solver.backend '{self.solver.backend}' takes least-squares costs "
                             "only; an economic cost needs 'fatrop' or 'do-mpc'")
        if self.controller_type() == "linear":
            if self.robust is not None:
                raise InputError("robust scenarios need the nonlinear controller (type = 'nonlinear')")
            if self.economic:
                raise InputError("economic applies to the nonlinear controller; the linear "
                                 "controller's economics are the cv and mv costs")
            if any(d.kind == "parameter" for d in self.disturbances):
                raise InputError("parameter disturbances need the nonlinear controller "
                                 "(a linear model's parameters are its matrices)")
        else:
            costly = [v.name for v in self.cv + self.mv if v.cost != 0.0] + \
                [c.name for c in self.cv if c.ramp] + [m.name for m in self.mv if m.ideal is not None]
            if costly:
                raise InputError(f"'{costly[0]}': cost, ramp and ideal belong to the linear "
                                 "controller (type = 'linear')")

    # -- derived ------------------------------------------------------------
    def blocks(self) -> tuple[int, ...]:
        """Move blocks over the prediction horizon (each block shares one move)."""
        n = self.prediction_horizon
        if self.move_blocking is not None:
            return self.move_blocking
        if self.control_horizon is not None and self.control_horizon < n:
            return (1,) * (self.control_horizon - 1) + (n - self.control_horizon + 1,)
        return (1,) * n

    def controller_type(self) -> str:
        """``"linear"`` or ``"nonlinear"``: ``type``, with ``"auto"`` resolved by the model
        (linear for an identified model file)."""
        if self.type != "auto":
            return self.type
        return "linear" if self.model.lower().endswith(".toml") else "nonlinear"

    def backend(self) -> str:
        """The NMPC backend in effect."""
        if self.solver.backend != "auto":
            return self.solver.backend
        return "do-mpc" if self.robust is not None else "fatrop"

    def check(self, model: Model) -> None:
        """Raise one-line errors for names the model does not have or roles it does not allow."""
        where = f"controller for model '{model.name}'"
        signals = model.states.names + model.outputs.names
        for cv in self.cv:
            if cv.name not in signals:
                raise UnknownNameError("cv", cv.name, signals, where)
        manipulated = [v.name for v in model.manipulated]
        for mv in self.mv:
            if mv.name not in manipulated:
                raise UnknownNameError("mv", mv.name, manipulated, where)
        disturbances = [v.name for v in model.disturbances]
        for dv in self.dv:
            if dv.name not in disturbances:
                raise UnknownNameError("dv", dv.name, disturbances, where)
        for m in self.measurements:
            if m.name not in signals:
                raise UnknownNameError("measurement", m.name, signals, where)
            for what, value in (("sample_interval", m.sample_interval), ("dead_time", m.dead_time)):
                if value and abs(value / self.sample_time - round(value / self.sample_time)) > 1e-9:
                    raise InputError(f"measurement '{m.name}': {what} {value} is not a multiple of "
                                     f"sample_time {self.sample_time}")
                if value / self.sample_time > MAX_DELAY_INTERVALS:
                    raise InputError(f"measurement '{m.name}': {what} {value} is more than "
                                     f"{MAX_DELAY_INTERVALS} sample times")
        if self.robust is not None:
            for name, values in self.robust.parameters.items():
                if name not in model.parameters:
                    raise UnknownNameError("robust parameter", name, model.parameters.names, where)
                if not values:
                    raise InputError(f"robust parameter '{name}' needs at least one value")
        for name in self.scaling:
            if name not in model.states and name not in model.inputs:
                raise UnknownNameError("scaling variable", name,
                                       model.states.names + model.inputs.names, where)
        inputs, parameters = model.inputs.names, model.parameters.names
        for d in self.disturbances:
            names = inputs if d.kind == "input" else parameters
            if d.name not in names:
                raise UnknownNameError(f"{d.kind} disturbance", d.name, names, where)
        if self.estimator.kind != "state_feedback" and not self.measurements:
            raise InputError(f"estimator '{self.estimator.kind}' needs measurements")

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for logs and reports)."""
        from dataclasses import asdict

        return asdict(self)


def spec_from_dict(data: dict[str, Any], where: str = "controller") -> ControllerSpec:
    """A checked :class:`ControllerSpec` from a parsed TOML table."""
    return build(ControllerSpec, data, where)


def load_spec(path: str | Path) -> ControllerSpec:
    """Read a controller specification from TOML (see :class:`ControllerSpec`)."""
    return spec_from_dict(with_resolved_model(read_toml(path), Path(path).parent), Path(path).name)
