"""NMPC by sequential quadratic programming on condensed-collocation multiple shooting.

Two modes of :class:`SqpNMPC` (``solver.backend``):

- ``"sqp"``: SQP iterations to convergence, each one QP by hpipm on the
  Lagrangian's quadratic model (:class:`apc.shooting.ShootingQP`), globalised by a
  backtracking line search on the l1 exact-penalty merit function; the
  converged point is the solution of the transcription fatrop solves
  (:mod:`apc.transcription`), to the tolerance ``solver.tol`` on the step;
- ``"rti"``: the real-time iteration, one QP per cycle. After each cycle the
  shifted trajectory is linearised (preparation); when the next state
  arrives only the initial-state bounds change and one QP gives the move
  (feedback). When the problem data other than the initial state and the
  previous MV changed in between (targets, weights, biases, limits), the
  feedback linearises again first.

The QP Hessian is the exact Hessian of the Lagrangian, each stage block
made positive semi-definite by mirroring its negative eigenvalues (numpy).
Economic stage costs are refused by these backends (the specification
says so when it is read). Python per step is kept small: preallocated
vectors, two casadi calls per iteration (one evaluates every interval's
collocation, sensitivities and curvature, one assembles and solves the
QP), numpy for the rest.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from apc.bounded import InProcess, SolveTimeout
from apc.nmpc import Data, Plan, SolveStatus, _last_line
from apc.problem import ControlProblem
from apc.shooting import NEWTON_TOL, QP_INF, ShootingQP

ARMIJO = 1e-4
"""Sufficient decrease of the merit function, as a fraction of its directional derivative."""
_log = logging.getLogger(__name__)

MIN_STEP = 1e-6
"""Smallest line-search step before the solve is declared failed."""
STEP_FLOOR = 1e-6
"""Smallest step [scaled variables] taken as converged, whatever ``solver.tol``: the accuracy
of hpipm's QP solutions (with quadratic convergence the point after such a step is within
about its square of the solution, up to that accuracy)."""
MERIT_NOISE = 1e-10
"""Relative change of the merit function below rounding: such a step is accepted."""


class SqpNMPC:
    """NMPC solved by SQP (``mode="sqp"``) or by the real-time iteration (``mode="rti"``).

    Attributes
    ----------
    profile : numpy.ndarray
        Seconds spent since construction in evaluating the intervals (collocation,
        sensitivities, curvature), in QPs (assembly and hpipm) and in the rest of
        :meth:`solve` (Python).
    """

    def __init__(self, problem: ControlProblem, mode: str = "sqp"):
        self.problem = pb = problem
        self.mode = mode
        self.shoot = sh = ShootingQP(problem)
        ocp = sh.ocp
        s = pb.spec.solver
        self.tol, self.max_iter, self.budget = s.tol, s.max_iter, s.time_budget
        self.warm_start = s.warm_start
        self.step_tol = max(float(np.sqrt(s.tol)), STEP_FLOOR)
        N, nz, ns, nx, nu, ng = sh.N, sh.nz, sh.ns, sh.nx, sh.nu, sh.ng
        self.runner = InProcess()
        # preallocated data vectors and views into them (no dicts in the hot path)
        self._lbw = np.full(sh.n_w, -np.inf)
        self._ubw = np.full(sh.n_w, np.inf)
        x_lo, x_hi = ocp._state_bounds()
        xs, us = pb.x_scale, pb.u_scale
        self._xs, self._us = xs, us
        stages_lo = self._lbw[:N * nz].reshape(N, nz)
        stages_hi = self._ubw[:N * nz].reshape(N, nz)
        stages_lo[1:, :nx] = x_lo / xs
        stages_hi[1:, :nx] = x_hi / xs
        stages_lo[:, ns + nu:] = 0.0
        self._lbU, self._ubU = stages_lo[:, ns:ns + nu], stages_hi[:, ns:ns + nu]
        self._lb0, self._ub0 = self._lbw[:ns], self._ubw[:ns]
        self._lbg = np.full((ng, N), -np.inf)
        self._ubg = np.full((ng, N), np.inf)
        r = np.cumsum([0] + list(sh.nrow.values()))
        rows = dict(zip(sh.nrow, zip(r[:-1], r[1:])))
        self._r_lo, self._r_hi = slice(*rows["soft_lo"]), slice(*rows["soft_hi"])
        self._r_hard, self._r_rate = slice(*rows["hard"]), slice(*rows["rate"])
        if sh.n_block:
            a = rows["block"][0]
            self._lbg[a:a + nu, ocp.blocked] = 0.0
            self._ubg[a:a + nu, ocp.blocked] = 0.0
        if sh.zb:
            a, b = rows["zb"]
            self._lbg[a:b, :N - 1] = np.tile(x_lo[sh.zb] / xs[sh.zb], sh.d)[:, None]
            self._ubg[a:b, :N - 1] = np.tile(x_hi[sh.zb] / xs[sh.zb], sh.d)[:, None]
        self._soft_lo, self._soft_hi = ocp.soft_lo, ocp.soft_hi
        self._hard, self._rated = ocp.hard_rows, ocp.rated
        at = sh.slices()
        self._iX = np.concatenate([np.arange(N + 1)[:, None] * nz + np.arange(nx)], axis=None)
        self._iU = (np.arange(N)[:, None] * nz + ns + np.arange(nu)).ravel()
        self._elo = np.concatenate([np.arange(N * nz)[at(k)[3]] for k in range(N)])
        self._ehi = np.concatenate([np.arange(N * nz)[at(k)[4]] for k in range(N)])
        self._w = np.zeros(sh.n_w)
        self._zg = np.zeros((nx * sh.d, N))
        self._dw = np.zeros(sh.n_w)
        self._lbx, self._ubx = np.zeros(sh.n_w), np.zeros(sh.n_w)
        keep = np.ones(ocp.nlp["p"].shape[0], dtype=bool)
        keep[int(ocp._p_parts[0]):int(ocp._p_parts[2])] = False  # x0 and u_prev
        self._p_keep = keep
        self._P = np.zeros(keep.size)
        self._lam = np.zeros((ns + ng, N))
        self._hb = np.zeros((nz, nz * N))
        self._started = False
        self._prepared = None  # RTI: (P, lbw, ubw, lbg, ubg, linearisation outputs)
        self.mu = 1.0  # penalty of the l1 merit function, raised to the largest multiplier
        self.profile = np.zeros(3)

    @property
    def functions(self) -> list:
        """The solver functions (for a :class:`~apc.bounded.BoundedSolves`)."""
        return [self.shoot.linearise, self.shoot.step_recipe, self.shoot.step_loose_recipe]

    def reset(self) -> None:
        """Forget the warm start."""
        self._started = False
        self._prepared = None

    # -- data ----------------------------------------------------------------------------------
    def _load(self, data: Data) -> np.ndarray:
        """Write the limits into the preallocated bounds; the parameter vector."""
        sh = self.shoot
        x0s, u0s = data.x0 / self._xs, data.u_prev / self._us
        self._lb0[:sh.nx] = x0s
        self._ub0[:sh.nx] = x0s
        self._lb0[sh.nx:] = u0s
        self._ub0[sh.nx:] = u0s
        self._lbU[:] = data.u_lo / self._us
        self._ubU[:] = data.u_hi / self._us
        if self._soft_lo:
            self._lbg[self._r_lo] = data.soft_lo[self._soft_lo][:, None]
        if self._soft_hi:
            self._ubg[self._r_hi] = data.soft_hi[self._soft_hi][:, None]
        if self._hard:
            self._lbg[self._r_hard] = data.hard_lo[self._hard][:, None]
            self._ubg[self._r_hard] = data.hard_hi[self._hard][:, None]
        if self._rated:
            self._lbg[self._r_rate] = -data.max_move[self._rated][:, None]
            self._ubg[self._r_rate] = data.max_move[self._rated][:, None]
        self._P = sh.ocp.parameters(data.x0, data.u_prev, data.w, data.p, data.bias,
                                    data.cv_target, data.u_target, data.cv_weight, data.u_weight,
                                    data.u_offset)
        return self._P

    def _start(self, data: Data) -> None:
        """The initial guess: the shifted previous solution, else x0 and u_prev everywhere."""
        sh, w = self.shoot, self._w
        N, nz, ns = sh.N, sh.nz, sh.ns
        if self._started and self.warm_start:
            self._shift()
        else:
            x0s, u0s = data.x0 / self._xs, data.u_prev / self._us
            stages = w[:N * nz].reshape(N, nz)
            stages[:, :sh.nx] = x0s
            stages[:, sh.nx:ns] = u0s
            stages[:, ns:ns + sh.nu] = u0s
            stages[:, ns + sh.nu:] = 0.0
            w[N * nz:N * nz + sh.nx] = x0s
            w[N * nz + sh.nx:] = u0s
            self._zg[:] = np.tile(x0s, sh.d)[:, None]
            self._lam[:] = 0.0
        np.clip(w, self._lbw, self._ubw, out=w)

    def _shift(self) -> None:
        """Trajectory, collocation guesses and multipliers moved one interval ahead (the last
        stage's MV and slacks kept, its state taken from the end of the horizon)."""
        sh, w = self.shoot, self._w
        N, nz, ns = sh.N, sh.nz, sh.ns
        w[:(N - 1) * nz] = w[nz:N * nz].copy()
        w[(N - 1) * nz:(N - 1) * nz + ns] = w[N * nz:]
        self._zg[:, :-1] = self._zg[:, 1:].copy()
        self._lam[:, :-1] = self._lam[:, 1:].copy()

    def _call(self, fn, *args) -> list:
        """One casadi evaluation (through the bounded runner when a budget is set); in this
        process the outputs stay casadi matrices (what the next call takes as it is)."""
        if self.runner.bounded:
            out, _ = self.runner(fn, **dict(zip(fn.name_in(), args)))
            return [np.asarray(out[n], dtype=float).reshape(fn.size_out(i))
                    for i, n in enumerate(fn.name_out())]
        return fn(*args)

    def _linearise(self, P: np.ndarray) -> list:
        """The QP data at the current point; the collocation states become the next guesses."""
        t0 = time.perf_counter()
        lin = self._call(self.shoot.linearise, self._w, self._zg, P, self._lbw, self._ubw,
                         self._lbg, self._ubg, self._lam)
        t1 = time.perf_counter()
        self.profile[0] += t1 - t0
        self._zg[:] = np.asarray(lin[11]).reshape(self._zg.shape)
        if not _scalar(lin[12]) <= 1e3 * NEWTON_TOL:
            raise RuntimeError("colloc_newton: no convergence")
        return lin

    def _convexify(self, h, h_end) -> np.ndarray:
        """The QP Hessian's nonzeros with each stage block's negative eigenvalues mirrored."""
        sh = self.shoot
        h = np.asarray(h, dtype=float)
        blocks = h.reshape(sh.nz, sh.N, sh.nz).transpose(1, 0, 2)
        ev, vec = np.linalg.eigh(blocks)
        fixed = np.einsum("kij,kj,klj->kil", vec, np.abs(ev), vec)
        h = fixed.transpose(1, 0, 2).reshape(sh.nz, sh.N * sh.nz)
        source = np.concatenate([h.ravel(order="F"), np.asarray(h_end, float).ravel(order="F")])
        return source[sh.h_index]

    def _qp(self, lin: list, lbx, ubx) -> np.ndarray:
        """The QP step; its multipliers become the current ones."""
        t0 = time.perf_counter()
        args = [lin[3], lin[2], lin[4], lin[5], lin[6], lbx, ubx, self._dw]
        try:
            dw, lam = self._call(self.shoot.step, *args)
        except RuntimeError:  # not convex enough, or tolerances not met: convexified, looser
            args[0] = self._convexify(lin[0], lin[1])
            dw, lam = self._call(self.shoot.step_loose, *args)
        self.profile[1] += time.perf_counter() - t0
        dw = np.asarray(dw).ravel()
        if np.max(np.abs(dw)) >= 0.9 * QP_INF:
            raise RuntimeError(f"QP step reached the bound of {QP_INF:g} given for absent limits "
                               "(badly scaled variables?)")
        self._lam[:] = np.asarray(lam).reshape(self._lam.shape)
        return dw

    # -- solve ---------------------------------------------------------------------------------
    def solve(self, data: Data) -> Plan:
        t0 = time.perf_counter()
        spent = self.profile[0] + self.profile[1]
        try:
            if self.mode == "rti" and self._started:
                iterations, message, ok, f = self._rti(data)
            else:
                iterations, message, ok, f = self._sqp(data)
            elapsed = time.perf_counter() - t0
            if self.budget is not None and elapsed > self.budget:
                return self._failed(SolveStatus.TIMEOUT, "time budget exceeded", t0)
            if not ok:
                return self._failed(SolveStatus.FAILED, message, t0, iterations)
            plan = self._plan(message, iterations, elapsed, f)
            if self.mode == "rti":
                self._prepare(self._P)  # for the next cycle (not part of this cycle's answer)
        except SolveTimeout as exc:
            return self._failed(SolveStatus.TIMEOUT, str(exc), t0)
        except RuntimeError as exc:  # QP or Newton failure inside casadi
            return self._failed(SolveStatus.FAILED, _failure(exc), t0)
        self.profile[2] += time.perf_counter() - t0 - (self.profile[0] + self.profile[1] - spent)
        self._started = True
        return plan

    def _failed(self, status: SolveStatus, message: str, t0: float, iterations: int = 0) -> Plan:
        pb, N = self.problem, self.shoot.N
        self._started = False
        self._prepared = None
        return Plan(np.full((N, pb.n_u), np.nan), np.full((N + 1, pb.n_x), np.nan), status,
                    message, iterations, time.perf_counter() - t0, np.nan, np.zeros((pb.n_cv, 2)))

    def _plan(self, message: str, iterations: int, elapsed: float, f: float) -> Plan:
        sh, w, pb = self.shoot, self._w, self.problem
        u = w[self._iU].reshape(sh.N, sh.nu) * self._us
        x = w[self._iX].reshape(sh.N + 1, sh.nx) * self._xs
        slack = np.zeros((pb.n_cv, 2))
        if self._soft_lo:
            slack[self._soft_lo, 0] = np.maximum(w[self._elo].reshape(sh.N, -1).max(axis=0), 0.0)
        if self._soft_hi:
            slack[self._soft_hi, 1] = np.maximum(w[self._ehi].reshape(sh.N, -1).max(axis=0), 0.0)
        return Plan(u, x, SolveStatus.OK, message, iterations, elapsed, f, slack)

    def _sqp(self, data: Data):
        """SQP to convergence: (iterations, message, converged, objective). Converged: a step
        (infinity norm, scaled variables) and an l1 infeasibility both below
        ``max(sqrt(solver.tol), STEP_FLOOR)``."""
        P = self._load(data)
        self._start(data)
        w = self._w
        w_acc = w.copy()
        lam_acc = self._lam.copy()
        dw = self._dw
        dw[:] = 0.0
        phi = slope = 0.0
        alpha, step = 1.0, np.inf
        for it in range(1, self.max_iter + 1):
            lin = self._linearise(P)
            f, viol = _scalar(lin[9]), _scalar(lin[10])
            _log.debug("sqp %d: f %.12g viol %.3g alpha %.3g step %.3g", it, f, viol, alpha, step)
            if it > 1:
                merit = f + self.mu * viol
                if merit > phi + ARMIJO * alpha * slope and \
                        merit - phi > MERIT_NOISE * max(1.0, abs(phi)):
                    if alpha <= MIN_STEP:
                        return it, f"line search failed (merit {merit:.6g} > {phi:.6g})", False, f
                    alpha *= 0.5
                    np.add(w_acc, alpha * dw, out=w)
                    self._lam[:] = lam_acc + alpha * (self._lam - lam_acc)
                    continue
            w_acc[:] = w
            lam_acc[:] = self._lam
            dw[:] = self._qp(lin, lin[7], lin[8])
            lam_max = float(np.max(np.abs(self._lam))) if self._lam.size else 0.0
            self.mu = max(self.mu, 1.1 * lam_max)
            phi = f + self.mu * viol
            slope = float(np.dot(np.asarray(lin[2]).ravel(), dw)) - self.mu * viol
            step = float(np.max(np.abs(dw)))
            w += dw
            if step <= self.step_tol and viol <= self.step_tol:
                return it, "converged", True, f
            alpha = 1.0
        return self.max_iter, f"no convergence in {self.max_iter} SQP iterations (step " \
            f"{step:.3g})", False, float("nan")

    def _rti(self, data: Data):
        """One QP on the linearisation prepared at the shifted trajectory."""
        P = self._load(data)
        prepared = self._prepared
        if prepared is None or not self._same_data(prepared, P):
            self._shift()
            lin = self._linearise(P)
            w_bar = self._w
        else:  # feedback: only the initial state and the previous MV are new
            lin, w_bar = prepared[4], prepared[5]
            self._w[:] = w_bar
        np.subtract(self._lbw, w_bar, out=self._lbx)
        np.subtract(self._ubw, w_bar, out=self._ubx)
        self._dw[:] = self._qp(lin, self._lbx, self._ubx)
        self._w += self._dw
        return 1, "real-time iteration", True, _scalar(lin[9])

    def _same_data(self, prepared, P: np.ndarray) -> bool:
        """True when only the initial state and the previous MV differ from the prepared data."""
        ns = self.shoot.ns
        return (np.array_equal(prepared[0], P[self._p_keep])
                and np.array_equal(prepared[1], self._lbw[ns:])
                and np.array_equal(prepared[2], self._ubw[ns:])
                and np.array_equal(prepared[3][0], self._lbg)
                and np.array_equal(prepared[3][1], self._ubg))

    def _prepare(self, P: np.ndarray) -> None:
        """RTI preparation: linearise at the shifted trajectory for the next cycle."""
        ns = self.shoot.ns
        self._shift()
        lin = self._linearise(P)
        self._prepared = (P[self._p_keep].copy(), self._lbw[ns:].copy(), self._ubw[ns:].copy(),
                          (self._lbg.copy(), self._ubg.copy()), lin, self._w.copy())


def _scalar(value) -> float:
    """A 1 x 1 casadi matrix or array as a float."""
    return float(np.asarray(value).item())


def _failure(exc: BaseException) -> str:
    """One line for a failure inside casadi (the QP solver's or the collocation Newton's)."""
    text = str(exc)
    if "_hpipm" in text or "conic" in text:
        return "QP (hpipm) failed: infeasible linearisation or iteration limit"
    if "colloc_newton" in text or "rootfinder" in text.lower():
        return "collocation Newton iteration failed on an interval"
    return _last_line(exc)
