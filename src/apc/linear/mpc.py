"""The linear MPC: the parts :class:`apc.controller.Controller` plugs in for ``type = "linear"``.

:func:`make_linear` builds, from the controller's :class:`ControlProblem`,
the linear model at the control interval (:mod:`apc.linear.model`), the
feedback (:mod:`apc.linear.predictors`: Kalman filter or DMC prediction
vector, used as the controller's estimator), the dynamic QP
(:class:`LinearMPC`, used as its ``nmpc``) and the steady-state targets
(:class:`LinearTargets`). ``Controller.step`` is unchanged: modes,
statuses, dropped and critical CVs, failures and the fallback plan, shed,
clamp and the time budget all work as for the NMPC.
"""

from __future__ import annotations

import time

import numpy as np

from apc.bounded import InProcess, SolveTimeout
from apc.linear.model import LinearModel, linearise, operating_point
from apc.linear.pair_steps import pair_steps
from apc.linear.predictors import (KalmanPredictor, StateFeedbackPredictor,
                                   StepResponsePredictor, dynamic_matrix)
from apc.linear.qp import CondensedQP
from apc.nmpc import Data, Plan, SolveStatus
from apc.problem import ControlProblem
from apc.linear.steady_state import SteadyStateOptimiser
from apc.targets import TargetResult
from twin.core.errors import InputError

STATE_MATRIX_SIZE = 4_000_000
"""Largest matrix of state predictions kept (entries); beyond, they are simulated."""
STEP_RESPONSE_STATES = 100
"""``linear.form = "auto"`` predicts with step responses (DMC) above this many model states."""


def choose_form(problem: ControlProblem) -> str:
    """``linear.form`` in effect (README, "Linear MPC").

    ``"auto"``: the state-space form (Kalman filter) when the plant state is
    measured, when input disturbances are configured (only the filter
    estimates them), or when the model has at most :data:`STEP_RESPONSE_STATES`
    states; else the step-response form, whose cost per cycle does not grow
    with the number of states (identified FIR models have many).
    """
    spec = problem.spec
    form = spec.linear.form
    if form != "auto":
        return form
    if spec.estimator.kind == "state_feedback" or any(d.kind == "input" for d in spec.disturbances):
        return "state_space"
    return "state_space" if problem.n_x <= STEP_RESPONSE_STATES else "step_response"


def _check(problem: ControlProblem, form: str) -> None:
    spec = problem.spec
    if spec.estimator.kind == "mhe":
        raise InputError("estimator 'mhe' needs the nonlinear controller; the linear controller "
                         "uses kind 'ekf' (its Kalman filter) or 'state_feedback'")
    if spec.linear.qp_solver == "hpipm" and spec.solver.time_budget is not None:
        raise InputError("linear.qp_solver 'hpipm' cannot run under solver.time_budget (casadi "
                         "cannot hand it to the solver process); choose daqp, qpoases or osqp")
    if spec.linear.qp_solver == "hpipm":
        lo, hi = problem.mv_bounds()
        open_ = [m.name for m, a, b in zip(spec.mv, lo, hi)
                 if not (np.isfinite(a) and np.isfinite(b))]
        if open_:
            raise InputError(f"mv '{open_[0]}': linear.qp_solver 'hpipm' needs finite low and high "
                             "limits on every MV (it fails on infinite bounds)")
    if form == "step_response":
        if spec.estimator.kind == "state_feedback":
            raise InputError("linear.form 'step_response' corrects with measured outputs; "
                             "estimator 'state_feedback' needs form 'state_space'")
        if spec.disturbances:
            raise InputError(f"disturbance '{spec.disturbances[0].name}': input disturbances "
                             "need linear.form 'state_space' (DMC corrects with output biases)")
        for m in spec.measurements:
            if m.dead_time:
                raise InputError(f"measurement '{m.name}': dead_time needs the nonlinear "
                                 "controller's estimator (type = 'nonlinear')")


def make_linear(problem: ControlProblem, x0: np.ndarray, u: np.ndarray, w: np.ndarray):
    """``(mpc, estimator, targets)`` of a linear controller (``targets`` None when the
    spec has no target calculation).

    The step-response form on a transfer-function-form model file takes the
    file's exact step responses and gains (:mod:`apc.linear.pair_steps`)
    instead of linearising the model's realisation.
    """
    spec = problem.spec
    form = choose_form(problem)
    _check(problem, form)
    pairs = pair_steps(problem) if form == "step_response" else None
    if pairs is not None:  # the file's exact step responses, no linearisation
        lin, start = pairs, np.asarray(x0, float)
    else:
        x_op = operating_point(problem, x0, u, w)
        lin = linearise(problem, x_op, u, w)
        start = x_op if spec.linear.operating_point == "steady_state" else np.asarray(x0, float)
    if spec.estimator.kind == "state_feedback":
        predictor = StateFeedbackPredictor(problem, lin, start, u, w)
    elif form == "state_space":
        predictor = KalmanPredictor(problem, lin, start, u, w)
    else:
        length = spec.linear.settling_intervals or lin.settling_intervals()
        predictor = StepResponsePredictor(problem, lin, start, u, w, length)
    mpc = LinearMPC(problem, lin, predictor)
    targets = LinearTargets(problem, lin, predictor) if spec.target_calculation else None
    return mpc, predictor, targets


class LinearMPC:
    """The dynamic QP of the linear controller, with the interface of the NMPC.

    ``solve(Data) -> Plan``: the free response from the predictor, then the
    condensed QP (:class:`apc.linear.qp.CondensedQP`). A solver failure is a
    FAILED plan with the solver's one-line status.
    """

    def __init__(self, problem: ControlProblem, lin: LinearModel, predictor):
        self.problem = problem
        self.lin = lin
        self.predictor = predictor
        N = problem.spec.prediction_horizon
        S_u, _ = lin.step_responses(N)
        self.qp = CondensedQP(problem, dynamic_matrix(S_u, N), problem.spec.linear.qp_solver)
        self.budget = problem.spec.solver.time_budget
        self.runner = InProcess()
        self._state_matrices()

    @property
    def functions(self) -> list:
        """The solver functions (for a :class:`~apc.bounded.BoundedSolves`)."""
        return [self.qp.solver]

    def reset(self) -> None:
        """Forget the warm start."""
        self.qp.reset()

    def solve(self, data: Data) -> Plan:
        pb, qp = self.problem, self.qp
        N = qp.N
        t0 = time.perf_counter()
        f = self.predictor.free_response(data.x0, data.w, data.bias)
        d = self.predictor.input_disturbance.copy()
        try:
            z, objective, stats = qp.solve(f, data.u_prev, data.cv_target, data.u_target,
                                           data.cv_weight, data.u_weight, data.u_lo, data.u_hi,
                                           data.max_move, data.soft_lo, data.soft_hi,
                                           data.hard_lo, data.hard_hi, self.runner)
        except SolveTimeout as exc:
            z, objective, stats = None, np.nan, {"success": False, "timeout": str(exc),
                                                 "return_status": "time budget exceeded"}
        except RuntimeError as exc:
            lines = str(exc).strip().splitlines() or ["RuntimeError"]
            z, objective, stats = None, np.nan, {"success": False,
                                                 "return_status": lines[-1][:120]}
        elapsed = time.perf_counter() - t0
        message = f"{qp.solver_name}: {_status_text(qp.solver_name, stats)}"
        if "timeout" in stats or (self.budget is not None and elapsed > self.budget):
            status = SolveStatus.TIMEOUT
        else:
            status = SolveStatus.OK if stats["success"] else SolveStatus.FAILED
        iterations = max(int(stats.get("iter_count", 0) or 0), 0)
        if z is None or status is not SolveStatus.OK:
            return Plan(np.full((N, pb.n_u), np.nan), np.full((N + 1, pb.n_x), np.nan), status,
                        message, iterations, elapsed, np.nan, np.zeros((pb.n_cv, 2)))
        u = qp.moves(z)
        x0, w = np.array(data.x0, dtype=float), np.array(data.w, dtype=float)
        plan = LazyPlan(u, None, status, message, iterations, elapsed, objective, qp.slacks(z))
        plan.predict = lambda: self._states(x0, u, w, d)
        return plan

    def _state_matrices(self) -> None:
        """``x = Mx [x0, w, d, 1] + Gx u`` over the horizon, when small enough to keep."""
        lin, pred, N = self.lin, self.predictor, self.qp.N
        n, nu = lin.n_x, self.problem.n_u
        self._Mx = None
        size = (N + 1) * n * (n + N * nu)
        if isinstance(pred, StepResponsePredictor) or size > STATE_MATRIX_SIZE:
            return
        Bd = pred.Bd if isinstance(pred, KalmanPredictor) else np.zeros((n, 0))
        drive = np.hstack([lin.Bw, Bd, lin.e[:, None]])
        Mx = np.zeros(((N + 1) * n, n + drive.shape[1]))
        Gx = np.zeros(((N + 1) * n, N * nu))
        Ak, Sk = np.eye(n), np.zeros_like(drive)
        for k in range(N + 1):
            Mx[k * n:(k + 1) * n] = np.hstack([Ak, Sk])
            Ak, Sk = lin.A @ Ak, lin.A @ Sk + drive
            if k:  # x_k = A x_{k-1} + Bu u_{k-1} + ...
                Gx[k * n:(k + 1) * n, :(k - 1) * nu] = lin.A @ Gx[(k - 1) * n:k * n, :(k - 1) * nu]
                Gx[k * n:(k + 1) * n, (k - 1) * nu:k * nu] = lin.Bu
        self._Mx, self._Gx = Mx, Gx

    def _states(self, x0, u, w, d) -> np.ndarray:
        """Predicted model states at the interval ends (the open-loop state for DMC)."""
        lin, pred = self.lin, self.predictor
        N = self.qp.N
        if isinstance(pred, StepResponsePredictor):
            return np.tile(pred.x, (N + 1, 1))
        if self._Mx is not None:
            z = np.concatenate([x0, w, d, [1.0]])
            return (self._Mx @ z + self._Gx @ u.ravel()).reshape(N + 1, lin.n_x)
        dx = pred.Bd @ d if isinstance(pred, KalmanPredictor) else 0.0
        x = np.empty((N + 1, lin.n_x))
        x[0] = x0
        drive = lin.Bw @ w + lin.e + dx
        for k in range(N):
            x[k + 1] = lin.A @ x[k] + lin.Bu @ u[k] + drive
        return x


class LazyPlan(Plan):
    """A :class:`Plan` whose state predictions ``x`` are computed when first read
    (the controller's cycle does not need them; on an 82-state column they cost
    as much as the QP)."""

    predict = None

    @property
    def x(self) -> np.ndarray:
        if self._x is None and self.predict is not None:
            self._x = self.predict()
        return self._x

    @x.setter
    def x(self, value) -> None:
        self._x = value


_DAQP_FLAGS = {1: "optimal", 2: "optimal (soft)", -1: "infeasible", -2: "cycling",
               -3: "unbounded", -4: "iteration limit", -5: "not convex",
               -6: "infeasible start"}


def _status_text(solver: str, stats: dict) -> str:
    """The solver's return status in words (daqp reports a number)."""
    status = stats.get("return_status", "")
    if solver == "daqp":
        try:
            return _DAQP_FLAGS.get(int(status), f"exit flag {status}")
        except (TypeError, ValueError):
            return str(status)
    return str(status)


class LinearTargets:
    """Steady-state targets of the linear controller: the LP/QP steady-state optimiser
    (:class:`apc.linear.steady_state.SteadyStateOptimiser`) on the model's steady-state
    gains and where the current prediction settles.

    :attr:`gain` (n_cv x n_mv), :attr:`ramp` (mask of integrating CVs) and
    :attr:`cv_magnitude` are the optimiser's data; :meth:`cv_free_ss` is the
    steady state the current prediction reaches with the MVs held (ramp CVs:
    their rates), estimated disturbances and biases included. The optimiser
    solves LPs with HiGHS in this process, in milliseconds: it has no solver
    function for the time budget's child process (:attr:`solver` is None).
    """

    solver = None
    runner = None

    def __init__(self, problem: ControlProblem, lin: LinearModel, predictor):
        spec = problem.spec
        self.problem, self.lin, self.predictor = problem, lin, predictor
        self.ramp = problem.cv_ramp
        self.gain, self.gain_w = lin.gains(self.ramp, [c.name for c in spec.cv])
        self.cv_magnitude = problem.cv_magnitudes()
        self.optimiser = SteadyStateOptimiser(spec, self.gain, self.ramp, self.cv_magnitude)

    def cv_free_ss(self, u_now: np.ndarray, w: np.ndarray) -> np.ndarray:
        """CVs where the current prediction settles with the MVs held at ``u_now``."""
        return self.predictor.steady_state(w, u_now)

    def reset(self) -> None:
        """Forget the last targets (the optimiser's target filter restarts)."""
        self.optimiser.reset()

    def solve(self, x_guess, u_now, w, p, bias, active, u_lo, u_hi, soft_lo, soft_hi, hard_lo,
              hard_hi, setpoints, u_offset=None) -> TargetResult:
        """Targets for this cycle (the signature of :meth:`TargetCalculator.solve`; the
        estimated biases and input offsets are in the predictor's steady state already)."""
        return self.optimiser.solve(self.cv_free_ss(u_now, w), u_now, active, u_lo, u_hi,
                                    soft_lo, soft_hi, hard_lo, hard_hi, setpoints)
