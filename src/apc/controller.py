"""The APC controller: estimation, targets, NMPC, and industrial operating semantics.

One :meth:`Controller.step` per control interval (a template method for
stepping): read the measurements with their quality, update
the estimate, compute steady-state targets and the dynamic move, clamp it
to hard and rate limits, and decide what to write. The semantics:

- modes OFF (nothing is computed or written; the estimator tracks),
  WARM (computes, writes nothing) and ON (writes); switching to ON is
  bumpless: the move history starts from the current MVs, so the first
  write differs from them by at most one allowed move;
- per-variable status GOOD, BAD, CLAMPED (at a hard or rate limit) or
  DROPPED (a bad, non-critical CV is taken out of control until good);
  a bad critical CV sheds the controller;
- a solver failure or timeout applies the next move of the last feasible
  plan and is counted; after ``max_failures`` in a row the controller
  sheds to its safe state (hold, or configured safe values) and goes OFF;
- a failed (or timed-out) MHE solve gives the EKF's estimate, with an event;
- the NMPC warm-starts from the shifted previous solution;
- with ``solver.time_budget`` the cycle's optimisations (targets, MHE,
  NMPC) run in a child process and share the budget as a wall-clock
  guarantee (:mod:`apc.bounded`): when it passes, whatever the solver is
  doing, the solve is abandoned and counts as a timeout.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from apc.bounded import BoundedSolves, InProcess
from apc.estimation import MHE, StateFeedback, make_estimator
from apc.linear.mpc import make_linear
from apc.nmpc import Data, Plan, SolveStatus, make_nmpc
from apc.problem import ControlProblem
from apc.spec import ControllerSpec
from apc.targets import TargetCalculator, TargetResult
from twin.core.errors import InputError, UnknownNameError
from twin.core.model import Model
from twin.core.quality import Quality, Reading

log = logging.getLogger(__name__)


class Mode(enum.Enum):
    """Controller mode."""

    OFF = "off"
    WARM = "warm"
    ON = "on"


class VarStatus(enum.Enum):
    """Status of one CV or MV in a cycle."""

    GOOD = "good"
    BAD = "bad"
    CLAMPED = "clamped"
    DROPPED = "dropped"
    OUT_OF_SERVICE = "out of service"


@dataclass
class Output:
    """What one controller cycle decided and why.

    Attributes
    ----------
    mv : dict
        MV values to write (only when ``write`` is true) [MV units].
    write : bool
        True when the MVs are to be written to the plant.
    mode : Mode
        Mode after this cycle (OFF after a shed).
    shed : bool
        True in the cycle the controller shed.
    disturbance : dict
        Estimated disturbance models by name: an input's offset [input unit]
        or a parameter's value [parameter unit].
    cv_target, mv_target : dict
        What the move aimed at: steady-state targets, the setpoints while no
        target has been found (``mv_target`` then empty) [CV, MV units].
    conditioning : str
        The linear controller's steady-state gains in one line: condition
        number, weakest direction, the directions not moved (empty for the
        nonlinear controller); logged as an event whenever it changes.
    cv_predicted : dict
        Each CV's planned trajectory, one value per sample from now to the
        end of the horizon [CV units]; only with ``record_predictions`` set.
    prediction_error : dict
        Each used measurement minus its prediction from the last cycle (the
        estimator's innovation) [measurement units]: the model-quality signal.
    """

    t: float
    mode: Mode
    write: bool
    mv: dict[str, float]
    mv_status: dict[str, VarStatus]
    cv_status: dict[str, VarStatus]
    solve_status: str
    solver_message: str = ""
    iterations: int = 0
    solve_time: float = 0.0
    consecutive_failures: int = 0
    shed: bool = False
    x_estimate: dict[str, float] = field(default_factory=dict)
    bias: dict[str, float] = field(default_factory=dict)
    disturbance: dict[str, float] = field(default_factory=dict)
    cv_predicted: dict[str, list[float]] = field(default_factory=dict)
    prediction_error: dict[str, float] = field(default_factory=dict)
    cv_target: dict[str, float] = field(default_factory=dict)
    mv_target: dict[str, float] = field(default_factory=dict)
    setpoints: dict[str, float] = field(default_factory=dict)
    given_up: list[dict[str, Any]] = field(default_factory=list)
    conditioning: str = ""
    soft_violation: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)


class Controller:
    """An APC application: build once from a spec and the internal model, then step.

    Parameters
    ----------
    spec : ControllerSpec
    model : Model
        The internal model (the spec's ``parameters`` overrides are applied).
    x0 : array, optional
        Initial state estimate (default: the model's nominal state).
    u0 : array, optional
        Current values of all model inputs (default: nominal).
    """

    def __init__(self, spec: ControllerSpec, model: Model, x0=None, u0=None):
        if spec.parameters:
            model = model.with_parameters(spec.parameters)
        self.spec = spec
        self.problem = pb = ControlProblem(model, spec)
        self.model = model
        u_full = model.inputs.vector(u0)
        self.u_now, self.w = pb.split_inputs(u_full)
        self.p = model.p0()
        if spec.controller_type() == "linear":
            self.nmpc, self.estimator, self.targets = make_linear(
                pb, model.states.vector(x0), self.u_now, self.w)
        else:
            self.estimator = make_estimator(pb, model.states.vector(x0), self.u_now, self.w,
                                            self.p)
            self.nmpc = make_nmpc(pb)
            self.targets = TargetCalculator(pb) if spec.target_calculation else None
        self.detectability = self._check_detectable(model.states.vector(x0))
        self.mode = Mode.OFF
        self.setpoints = np.array([np.nan if c.setpoint is None else c.setpoint for c in spec.cv])
        self.soft_lo = np.array([-np.inf if c.low is None else c.low for c in spec.cv])
        self.soft_hi = np.array([np.inf if c.high is None else c.high for c in spec.cv])
        self.hard_lo = np.array([-np.inf if c.hard_low is None else c.hard_low for c in spec.cv])
        self.hard_hi = np.array([np.inf if c.hard_high is None else c.hard_high for c in spec.cv])
        self.u_lo, self.u_hi = pb.mv_bounds()
        self.max_move = pb.max_moves()
        self._cv_weight = np.array([c.weight for c in spec.cv], dtype=float)
        self._u_target_weight = np.array([m.target_weight for m in spec.mv], dtype=float)
        self.dropped = np.zeros(pb.n_cv, dtype=bool)
        self.cv_out_of_service = np.zeros(pb.n_cv, dtype=bool)
        self.mv_out_of_service: dict[int, tuple[float, float]] = {}
        """MVs taken out of service: index to the limits they had (held at their value)."""
        self.record_predictions = False
        """Compute ``Output.cv_predicted`` each cycle (for a console's trends)."""
        self.failures = 0
        self._plan: Plan | None = None
        self._plan_age = 0
        self._target: TargetResult | None = None
        self._conditioning = ""
        self.n_solves = self.n_failures = self.n_sheds = 0
        self.runner = self._runner()

    def _check_detectable(self, x0: np.ndarray):
        """The disturbance model's detectability at the operating point (refused with one
        line if undetectable); its warnings are the first cycle's events."""
        self._startup_events: list[str] = []
        check = getattr(self.estimator, "check_detectable", None)
        if check is None:  # (the plant state is measured: nothing to detect)
            return None
        report = check(x0, self.u_now, self.w, self.p)
        log.info("%s", report.summary())
        self._startup_events = [f"estimator: {w}" for w in report.warnings]
        return report

    def model_inputs(self, estimate) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``w``, ``p`` and the MV offsets the optimisers predict with: the estimated
        input offsets and parameters (disturbance models) applied."""
        w, p, u_offset = self.w, self.p, None
        if estimate.u_offset is not None:
            mv_offset, w_offset = self.problem.split_inputs(estimate.u_offset)
            w, u_offset = self.w + w_offset, mv_offset
        if estimate.p is not None:
            p = estimate.p
        return w, p, u_offset

    def _runner(self):
        """Where the optimisations run: in a bounded child process when a budget is set."""
        budget = self.spec.solver.time_budget
        if budget is None:
            return InProcess()
        parts = [self.nmpc]
        functions = list(self.nmpc.functions)
        if self.targets is not None and self.targets.solver is not None:
            parts.append(self.targets)
            functions.append(self.targets.solver)
        if isinstance(self.estimator, MHE):
            parts.append(self.estimator)
            functions.append(self.estimator.solver)
        runner = BoundedSolves(functions, budget)
        for part in parts:
            part.runner = runner
        return runner

    def close(self) -> None:
        """Release the solver process, if any (also done when the controller is collected)."""
        self.runner.close()

    # -- operator actions ---------------------------------------------------------
    def set_mode(self, mode: Mode | str, mv_current: np.ndarray | None = None) -> None:
        """Change mode; entering WARM or ON starts the move history at the current MVs."""
        if not isinstance(mode, Mode):
            if mode not in [m.value for m in Mode]:
                raise UnknownNameError("mode", mode, [m.value for m in Mode])
            mode = Mode(mode)
        if mv_current is not None:
            mv_current = np.asarray(mv_current, dtype=float)
            if mv_current.shape != (self.problem.n_u,):
                raise InputError(f"set_mode: mv_current needs {self.problem.n_u} values")
            self.u_now = mv_current.copy()
        if mode is not Mode.OFF and self.mode is Mode.OFF:
            self.failures = 0
            self._plan = None
            self.nmpc.reset()
            if self.targets is not None:
                self.targets.reset()
        self.mode = mode

    def setpoint(self, cv: str) -> float:
        """Current setpoint of a CV (``nan`` when it has none)."""
        return float(self.setpoints[self._cv_index(cv)])

    def set_setpoint(self, cv: str, value: float | None) -> None:
        """Change (or remove, with ``None``) a CV setpoint."""
        self.setpoints[self._cv_index(cv)] = np.nan if value is None else float(value)

    def set_limits(self, name: str, **limits: float | None) -> None:
        """Change limits at run time: ``low``, ``high``, ``hard_low``, ``hard_high`` of a CV, or
        ``low``, ``high``, ``max_move`` of an MV (``None`` removes a soft/hard CV limit)."""
        mvs = [m.name for m in self.spec.mv]
        if name in mvs:
            j = mvs.index(name)
            targets = {"low": self.u_lo, "high": self.u_hi, "max_move": self.max_move}
            index = j
        else:
            index = self._cv_index(name)
            targets = {"low": self.soft_lo, "high": self.soft_hi, "hard_low": self.hard_lo,
                       "hard_high": self.hard_hi}
        new: dict[str, float] = {}
        for key, value in limits.items():
            if key not in targets:
                raise UnknownNameError("limit", key, list(targets), f"'{name}'")
            if value is None:
                value = -np.inf if key in ("low", "hard_low") else np.inf
            new[key] = float(value)
            if np.isnan(new[key]) or (key == "max_move" and not new[key] > 0):
                raise InputError(f"limit {key} of '{name}': {value!r} is not "
                                 f"{'a number > 0' if key == 'max_move' else 'a number'}")
        for low, high in (("low", "high"), ("hard_low", "hard_high")):
            if low in targets and (low in new or high in new):
                lo = new.get(low, targets[low][index])
                hi = new.get(high, targets[high][index])
                if lo > hi:
                    raise InputError(f"limits of '{name}': {low} {lo:g} is above {high} {hi:g}")
        for key, value in new.items():  # all checked: applied together or not at all
            targets[key][index] = value

    def limit(self, name: str, key: str) -> float:
        """A limit now in force: ``low``, ``high``, ``hard_low``, ``hard_high`` of a CV, or
        ``low``, ``high``, ``max_move`` of an MV (``-inf``/``inf`` where there is none)."""
        mvs = [m.name for m in self.spec.mv]
        if name in mvs:
            limits, index = {"low": self.u_lo, "high": self.u_hi,
                             "max_move": self.max_move}, mvs.index(name)
        else:
            limits, index = {"low": self.soft_lo, "high": self.soft_hi, "hard_low": self.hard_lo,
                             "hard_high": self.hard_hi}, self._cv_index(name)
        if key not in limits:
            raise UnknownNameError("limit", key, list(limits), f"'{name}'")
        return float(limits[key][index])

    def cv_weight(self, cv: str) -> float:
        """A CV's setpoint weight now in force."""
        return float(self._cv_weight[self._cv_index(cv)])

    def set_cv_weight(self, cv: str, weight: float) -> None:
        """Change a CV's setpoint weight (a finite number >= 0)."""
        if not (np.isfinite(weight) and weight >= 0):
            raise InputError(f"weight of '{cv}': {weight!r} is not a number >= 0")
        self._cv_weight[self._cv_index(cv)] = float(weight)

    def set_service(self, name: str, in_service: bool, mv_current: float | None = None) -> None:
        """Take a CV or MV out of service, or back in.

        A CV out of service is left out of control as a dropped one is; an
        MV out of service is held at ``mv_current`` (its limits closed on it)
        and gets its limits back when returned to service.
        """
        mvs = [m.name for m in self.spec.mv]
        if name not in mvs:
            self.cv_out_of_service[self._cv_index(name)] = not in_service
            return
        j = mvs.index(name)
        if not in_service and j not in self.mv_out_of_service:
            value = float(self.u_now[j] if mv_current is None else mv_current)
            if not np.isfinite(value):
                raise InputError(f"MV '{name}' has no finite value to be held at")
            self.mv_out_of_service[j] = (float(self.u_lo[j]), float(self.u_hi[j]))
            self.u_lo[j] = self.u_hi[j] = value
        elif in_service and j in self.mv_out_of_service:
            self.u_lo[j], self.u_hi[j] = self.mv_out_of_service.pop(j)

    def in_service(self, name: str) -> bool:
        """Whether a CV or MV is in service."""
        mvs = [m.name for m in self.spec.mv]
        if name in mvs:
            return mvs.index(name) not in self.mv_out_of_service
        return not bool(self.cv_out_of_service[self._cv_index(name)])

    def _cv_index(self, name: str) -> int:
        names = [c.name for c in self.spec.cv]
        if name not in names:
            raise UnknownNameError("cv", name, names)
        return names.index(name)

    # -- the cycle ----------------------------------------------------------------
    def step(self, t: float, readings: Mapping[str, Reading], mv_current: np.ndarray,
             dv: Mapping[str, float] | None = None, x_plant: np.ndarray | None = None) -> Output:
        """One control cycle at time ``t`` [model time unit].

        ``readings`` are the measurements by name; ``mv_current`` the MV values
        the plant has now; ``dv`` the measured disturbances by name;
        ``x_plant`` the plant state, used only by the state-feedback estimator.
        """
        pb, spec = self.problem, self.spec
        events: list[str] = self._startup_events
        self._startup_events = []
        self.runner.begin_cycle()
        mv_current = np.asarray(mv_current, dtype=float)
        if mv_current.shape != (pb.n_u,):
            raise InputError(f"mv_current needs {pb.n_u} values ({', '.join(m.name for m in spec.mv)})")
        self._update_disturbances(dv or {})
        cv_status, shed_now = self._cv_statuses(readings, events)
        if isinstance(self.estimator, StateFeedback):
            if x_plant is None:
                raise InputError("the state-feedback estimator needs the plant state (x_plant)")
            self.estimator.set_state(x_plant)
        estimate = self.estimator.correct(readings)
        if isinstance(self.estimator, MHE) and self.estimator.failure:
            events.append(f"estimator: MHE {self.estimator.failure}; using the EKF estimate")
        if self.mode is Mode.OFF:
            self.u_now = mv_current.copy()
            self.estimator.predict(mv_current, self.w, self.p)
            return self._output(t, estimate, cv_status, {}, False, "off", events=events)
        if shed_now:
            return self._shed(t, estimate, cv_status, mv_current, events, "critical CV bad")
        u_prev = self.u_now if self.mode is Mode.ON else mv_current
        active = ~self.dropped
        w_model, p_model, u_offset = self.model_inputs(estimate)
        cv_target, u_target, u_weight = self._targets(estimate, u_prev, active, events,
                                                      (w_model, p_model, u_offset))
        data = Data(x0=estimate.x, u_prev=u_prev, w=w_model, p=p_model, bias=estimate.bias,
                    cv_target=cv_target, u_target=u_target,
                    cv_weight=np.where(active & np.isfinite(cv_target), self._cv_weight, 0.0),
                    u_weight=u_weight, u_lo=self.u_lo, u_hi=self.u_hi, max_move=self.max_move,
                    soft_lo=np.where(active, self.soft_lo, -np.inf),
                    soft_hi=np.where(active, self.soft_hi, np.inf),
                    hard_lo=np.where(active, self.hard_lo, -np.inf),
                    hard_hi=np.where(active, self.hard_hi, np.inf), u_offset=u_offset)
        data.cv_target = np.where(np.isnan(cv_target), 0.0, cv_target)   # no setpoint: weight 0
        plan = self.nmpc.solve(data)
        self.n_solves += 1
        if plan.status is SolveStatus.OK:
            self.failures = 0
            self._plan, self._plan_age = plan, 0
            u_next = plan.u[0]
        else:
            self.failures += 1
            self.n_failures += 1
            events.append(f"solver {plan.status.value} ({plan.message}); failure {self.failures} of "
                          f"{spec.solver.max_failures}")
            if self.failures >= spec.solver.max_failures:
                return self._shed(t, estimate, cv_status, mv_current, events,
                                  f"{self.failures} consecutive solver failures", plan)
            hold = False
            if self._plan is not None and self._plan_age + 1 < len(self._plan.u):
                self._plan_age += 1
                u_next = self._plan.u[self._plan_age]
                events.append(f"applied move {self._plan_age} of the last feasible plan")
            else:
                u_next, hold = u_prev.copy(), True
                events.append("no feasible plan left: holding the MVs")
        u_next, mv_status = self._clamp(u_next, u_prev)
        write = self.mode is Mode.ON and not (plan.status is not SolveStatus.OK and hold)
        applied = u_next if write else mv_current
        if write:
            self.u_now = u_next.copy()
        self.estimator.predict(applied, self.w, self.p)
        return self._output(t, estimate, cv_status, mv_status, write, plan.status.value,
                            u_next=u_next, plan=plan, events=events, cv_target=cv_target,
                            u_target=u_target, data=data)

    def _update_disturbances(self, dv: Mapping[str, float]) -> None:
        names = [self.model.inputs.names[i] for i in self.problem.other_index]
        for name, value in dv.items():
            if name not in names:
                raise UnknownNameError("disturbance", name, names)
            if not np.isfinite(value):
                raise InputError(f"disturbance '{name}' is not a finite number")
            self.w[names.index(name)] = float(value)

    def _cv_statuses(self, readings, events) -> tuple[dict[str, VarStatus], bool]:
        from apc.estimation import usable

        meas = {m.name: m for m in self.spec.measurements}
        status: dict[str, VarStatus] = {}
        shed = False
        for i, c in enumerate(self.spec.cv):
            if self.cv_out_of_service[i]:
                self.dropped[i] = True
                status[c.name] = VarStatus.OUT_OF_SERVICE
                continue
            m = meas.get(c.name)
            reading = readings.get(c.name)
            bad = m is not None and reading is not None and not usable(m, reading) and reading.fresh
            bad = bad or (m is not None and reading is not None and reading.quality is Quality.BAD)
            if bad:
                if c.critical:
                    shed = True
                    status[c.name] = VarStatus.BAD
                    events.append(f"critical CV '{c.name}' is {reading.quality.value}")
                else:
                    if not self.dropped[i]:
                        events.append(f"CV '{c.name}' dropped: measurement {reading.quality.value}")
                    self.dropped[i] = True
                    status[c.name] = VarStatus.DROPPED
            else:
                if self.dropped[i]:
                    events.append(f"CV '{c.name}' back in control")
                self.dropped[i] = False
                status[c.name] = VarStatus.GOOD
        return status, shed

    def _targets(self, estimate, u_prev, active, events, inputs):
        pb = self.problem
        if self.targets is None:
            return (self.setpoints.copy(), np.zeros(pb.n_u), np.zeros(pb.n_u))
        w_model, p_model, u_offset = inputs  # (the model's inputs this cycle: model_inputs)
        result = self.targets.solve(estimate.x, u_prev, w_model, p_model, estimate.bias, active,
                                    self.u_lo, self.u_hi, self.soft_lo, self.soft_hi,
                                    self.hard_lo, self.hard_hi, self.setpoints, u_offset)
        if result.ok:
            self._target = result
            text = _conditioning_text(result)
            if text != self._conditioning:
                self._conditioning = text
                events.append(f"steady-state gains: {text}")
        elif self._target is None:
            events.append(f"no steady-state target ({result.message}); tracking setpoints")
            return (self.setpoints.copy(), np.zeros(pb.n_u), np.zeros(pb.n_u))
        else:
            events.append(f"steady-state target failed ({result.message}); keeping the last one")
        target = self._target
        has_sp = np.isfinite(self.setpoints)
        cv_target = np.where(has_sp, target.cv, np.nan)
        return cv_target, target.u, self._u_target_weight.copy()

    def _clamp(self, u, u_prev):
        status = {}
        lo = np.maximum(self.u_lo, u_prev - self.max_move)
        hi = np.minimum(self.u_hi, u_prev + self.max_move)
        lo = np.minimum(lo, self.u_hi)
        hi = np.maximum(hi, self.u_lo)
        clamped = np.clip(u, lo, hi)
        for j, m in enumerate(self.spec.mv):
            at = abs(clamped[j] - u[j]) > 1e-9 * max(1.0, abs(u[j])) or \
                clamped[j] <= self.u_lo[j] or clamped[j] >= self.u_hi[j]
            status[m.name] = VarStatus.CLAMPED if at else VarStatus.GOOD
        return clamped, status

    def _shed(self, t, estimate, cv_status, mv_current, events, reason, plan=None) -> Output:
        spec = self.spec
        self.n_sheds += 1
        self.mode = Mode.OFF
        self._plan = None
        events.append(f"shed: {reason}; safe state '{spec.safe_state}'")
        if spec.safe_state == "safe_values":
            u_safe = np.array([m.safe_value for m in spec.mv], dtype=float)
            u_safe, _ = self._clamp(u_safe, u_safe)
            self.u_now = u_safe
            self.estimator.predict(u_safe, self.w, self.p)
            return self._output(t, estimate, cv_status, {}, True, "shed", u_next=u_safe,
                                plan=plan, events=events, shed=True)
        self.u_now = mv_current.copy()
        self.estimator.predict(mv_current, self.w, self.p)
        return self._output(t, estimate, cv_status, {}, False, "shed", plan=plan, events=events,
                            shed=True)

    def _cv_prediction(self, plan: Plan, data: Data) -> dict[str, list[float]]:
        """Each CV's planned trajectory, from the plan's states with the biases [CV units]
        (nonlinear controllers; a linear controller's plan has no CV trajectory here)."""
        if self.spec.controller_type() == "linear":
            return {}
        pb = self.problem
        u = np.vstack([plan.u, plan.u[-1:]])
        if data.u_offset is not None:
            u = u + np.asarray(data.u_offset).reshape(1, -1)
        cv = np.array(pb.cv(plan.x.T, u.T, data.w, data.p)).T
        if pb.n_bias:
            cv = cv + (np.array(pb.cv_bias) @ np.asarray(data.bias)).reshape(1, -1)
        return {c.name: [float(v) for v in cv[:, i]] for i, c in enumerate(self.spec.cv)}

    def _output(self, t, estimate, cv_status, mv_status, write, solve_status, u_next=None,
                plan: Plan | None = None, events=(), cv_target=None, u_target=None,
                shed=False, data: Data | None = None) -> Output:
        pb, spec = self.problem, self.spec
        mv_names = [m.name for m in spec.mv]
        cv_names = [c.name for c in spec.cv]
        out = Output(t=t, mode=self.mode, write=write,
                     mv={n: float(v) for n, v in zip(mv_names, u_next)} if u_next is not None else {},
                     mv_status=mv_status or {n: VarStatus.GOOD for n in mv_names},
                     cv_status=cv_status, solve_status=solve_status,
                     consecutive_failures=self.failures, shed=shed,
                     x_estimate=self.model.states.to_dict(estimate.x),
                     bias={n: float(v) for n, v in zip(pb.bias_names, estimate.bias)},
                     disturbance=dict(estimate.disturbance),
                     setpoints={n: float(v) for n, v in zip(cv_names, self.setpoints)
                                if np.isfinite(v)},
                     prediction_error=dict(estimate.innovation),
                     events=list(events))
        for j in self.mv_out_of_service:
            out.mv_status[mv_names[j]] = VarStatus.OUT_OF_SERVICE
        if plan is not None:
            out.solver_message, out.iterations, out.solve_time = plan.message, plan.iterations, plan.solve_time
            if plan.status is SolveStatus.OK and self.record_predictions and data is not None:
                out.cv_predicted = self._cv_prediction(plan, data)
            if plan.status is SolveStatus.OK:
                out.soft_violation = {n: float(max(plan.slack[i])) for i, n in enumerate(cv_names)
                                      if max(plan.slack[i]) > 0}
        if cv_target is not None:
            out.cv_target = {n: float(v) for n, v in zip(cv_names, cv_target) if np.isfinite(v)}
        if u_target is not None and self._target is not None and self.targets is not None:
            # (tracking setpoints without any steady-state target: there is no MV target)
            out.mv_target = {n: float(v) for n, v in zip(mv_names, u_target)}
        if self._target is not None and self.targets is not None:
            out.given_up = [g.__dict__.copy() for g in self._target.given_up]
            out.conditioning = self._conditioning
        return out


def _conditioning_text(result: TargetResult) -> str:
    """One line on the steady-state gains of a linear controller's targets ("" otherwise)."""
    if not result.weakest:
        return ""
    text = f"condition number {result.condition:.3g}; weakest direction {result.weakest}"
    if result.frozen:
        text += "; not moved: " + "; ".join(result.frozen)
    return text
