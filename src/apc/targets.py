"""Steady-state target calculation with ranked constraint give-up.

Before each dynamic move, industrial APC computes where the plant can
settle: MV and CV targets at a steady state of the model (with the current
disturbance and bias estimates) that satisfy the hard limits, then as many
soft CV limits as possible in order of rank, then the setpoints as closely
as possible. Soft limits are handled lexicographically: the violations of
rank 1 are minimised first and frozen, then rank 2 within that, and so on,
so a lower-ranked limit is always given up before a higher-ranked one.
Setpoints come after all limits. Every limit or setpoint that could not be
met is reported in :attr:`TargetResult.given_up`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from apc.bounded import InProcess, SolveTimeout
from apc.problem import ControlProblem

GIVE_UP_TOL = 1e-6
"""Violations below this fraction of a CV's magnitude count as met."""


@dataclass(frozen=True)
class GivenUp:
    """A limit or setpoint the steady state cannot meet.

    Attributes
    ----------
    cv : str
    kind : str
        ``"low"``, ``"high"`` (soft limits) or ``"setpoint"``.
    rank : int
        Rank of the limit (setpoints rank after all limits: 0 here).
    violation : float
        By how much the target misses it [CV unit].
    """

    cv: str
    kind: str
    rank: int
    violation: float


@dataclass
class TargetResult:
    """Steady-state targets of one cycle.

    ``frozen``, ``condition`` and ``weakest`` come from the linear
    controller's steady-state optimiser (:mod:`apc.linear.steady_state`): one
    line per input direction of the gain matrix it did not move, the
    condition number of the scaled gain matrix and its weakest direction.
    """

    ok: bool
    x: np.ndarray
    u: np.ndarray
    cv: np.ndarray
    given_up: list[GivenUp] = field(default_factory=list)
    message: str = ""
    frozen: list[str] = field(default_factory=list)
    condition: float = float("nan")
    weakest: str = ""


class TargetCalculator:
    """Lexicographic steady-state optimisation over ranked soft limits (IPOPT).

    Variables: states, MVs, and per CV a low and a high slack (scaled by the
    CV magnitude). The objective weights the slacks of the rank being
    resolved, or the setpoint errors in the final pass; slacks of ranks
    already resolved are bounded by what was achievable.
    """

    def __init__(self, problem: ControlProblem):
        self.problem = pb = problem
        n_x, n_u, n_cv = pb.n_x, pb.n_u, pb.n_cv
        x = ca.SX.sym("x", n_x)
        u = ca.SX.sym("u", n_u)
        s_lo = ca.SX.sym("s_lo", n_cv)
        s_hi = ca.SX.sym("s_hi", n_cv)
        w = ca.SX.sym("w", pb.n_w)
        p = ca.SX.sym("p", pb.model.n_p)
        bias = ca.SX.sym("bias", pb.n_bias)
        a_lo = ca.SX.sym("a_lo", n_cv)      # weights of the slacks being resolved
        a_hi = ca.SX.sym("a_hi", n_cv)
        a_sp = ca.SX.sym("a_sp", n_cv)      # weights of setpoint errors
        sp = ca.SX.sym("sp", n_cv)
        u_ref = ca.SX.sym("u_ref", n_u)
        u_off = ca.SX.sym("u_off", n_u)     # estimated MV offsets (input disturbances)
        self.mag = mag = pb.cv_magnitudes()
        xs, us = pb.x_scale, pb.u_scale
        X, Uv = x * xs, u * us
        cv = pb.cv(X, Uv + u_off, w, p) + (ca.mtimes(pb.cv_bias, bias) if pb.n_bias else 0)
        cvn = cv / mag
        f = pb.f(X, Uv + u_off, w, p) / xs
        # a faint pull towards the current MVs picks one steady state where several meet the
        # targets; it is normalised by the MV range so it never competes with a setpoint
        lo, hi = pb.mv_bounds()
        u_range = np.where(np.isfinite(hi - lo), np.maximum(hi - lo, us), us)
        # linear + quadratic violation cost: the linear part makes "met" exact (zero slack),
        # the quadratic part spreads an unavoidable violation within a rank
        objective = (ca.dot(a_lo, s_lo + s_lo ** 2) + ca.dot(a_hi, s_hi + s_hi ** 2)
                     + ca.dot(a_sp, ((cv - sp) / mag) ** 2)
                     + 1e-8 * ca.sumsqr((Uv - u_ref) / u_range))
        g = ca.vertcat(f, cvn + s_lo, cvn - s_hi, cvn)
        self.n = (n_x, n_u, n_cv)
        self.solver = ca.nlpsol("targets", "ipopt", {
            "x": ca.vertcat(x, u, s_lo, s_hi), "f": objective, "g": g,
            "p": ca.vertcat(w, p, bias, u_off, a_lo, a_hi, a_sp, sp, u_ref)},
            {"ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False, "expand": True,
             "ipopt.tol": 1e-10, "ipopt.max_iter": 200})
        self._cv_fn = ca.Function("cv", [x, u, w, p, bias, u_off], [cv])
        self.runner = InProcess()

    def reset(self) -> None:
        """Nothing to forget: each solve starts from the estimate."""

    def solve(self, x_guess: np.ndarray, u_now: np.ndarray, w: np.ndarray, p: np.ndarray,
              bias: np.ndarray, active: np.ndarray, u_lo: np.ndarray, u_hi: np.ndarray,
              soft_lo: np.ndarray, soft_hi: np.ndarray, hard_lo: np.ndarray, hard_hi: np.ndarray,
              setpoints: np.ndarray, u_offset: np.ndarray | None = None) -> TargetResult:
        """Targets for the current estimates and limits.

        ``active`` masks the CVs in control (dropped CVs are ignored);
        ``setpoints`` holds ``nan`` for CVs without one; ``p`` the parameters with
        any estimated ones, ``w`` the other inputs with their estimated offsets and
        ``u_offset`` the estimated MV offsets (the model sees ``u + u_offset``).
        """
        pb = self.problem
        n_x, n_u, n_cv = self.n
        mag = self.mag
        spec_cv = pb.spec.cv
        # the limits in force now (an operator may set one the specification does not have)
        ranks = sorted({c.rank for c, a, lo, hi in zip(spec_cv, active, soft_lo, soft_hi)
                        if a and (np.isfinite(lo) or np.isfinite(hi))})
        has_sp = active & np.isfinite(setpoints)
        lo_n = np.where(active & np.isfinite(soft_lo), soft_lo / mag, -np.inf)
        hi_n = np.where(active & np.isfinite(soft_hi), soft_hi / mag, np.inf)
        hlo_n = np.where(active & np.isfinite(hard_lo), hard_lo / mag, -np.inf)
        hhi_n = np.where(active & np.isfinite(hard_hi), hard_hi / mag, np.inf)
        lbg = np.concatenate([np.zeros(n_x), lo_n, np.full(n_cv, -np.inf), hlo_n])
        ubg = np.concatenate([np.zeros(n_x), np.full(n_cv, np.inf), hi_n, hhi_n])
        state_lo = pb.model.states.lower() / pb.x_scale
        state_hi = pb.model.states.upper() / pb.x_scale
        lbx = np.concatenate([state_lo, u_lo / pb.u_scale, np.zeros(2 * n_cv)])
        cap = np.full(2 * n_cv, np.inf)
        limited = np.concatenate([np.isfinite(lo_n), np.isfinite(hi_n)])
        # start from where the plant is, so the nearest steady state is found (the
        # CSTR's gain changes sign: far-away branches reach the same setpoint)
        x0 = np.concatenate([x_guess / pb.x_scale, u_now / pb.u_scale, np.zeros(2 * n_cv)])
        sp = np.where(has_sp, setpoints, 0.0)
        u_offset = np.zeros(n_u) if u_offset is None else np.asarray(u_offset, float)
        base = [w, p, bias, u_offset]

        def run(a_lo, a_hi, a_sp, start, slack_cap):
            ubx = np.concatenate([state_hi, u_hi / pb.u_scale, slack_cap])
            try:
                return self.runner(self.solver, x0=np.clip(start, lbx, ubx), lbx=lbx, ubx=ubx,
                                   lbg=lbg, ubg=ubg,
                                   p=np.concatenate([*base, a_lo, a_hi, a_sp, sp, u_now]))
            except SolveTimeout:
                return None, {"success": False, "return_status": "time budget exceeded"}
            except RuntimeError as exc:  # e.g. inconsistent limits set by an operator
                return None, {"success": False, "return_status": str(exc).splitlines()[-1][:120]}

        def fitted(z):
            """``z`` with the slacks set to the violations of its point (0 where no limit)."""
            cvn = np.array(self._cv_fn(z[:n_x], z[n_x:n_x + n_u], w, p, bias, u_offset)).ravel() / mag
            need = np.concatenate([np.maximum(lo_n - cvn, 0.0), np.maximum(cvn - hi_n, 0.0)])
            return np.concatenate([z[:n_x + n_u], np.where(limited, np.minimum(need, cap), 0.0)])

        sol, stats = None, {"success": True, "return_status": "no ranked limits"}
        start = x0
        for rank in ranks:
            in_rank = np.array([c.rank == rank for c in spec_cv]) & active
            a_lo = np.where(in_rank & np.isfinite(soft_lo), 1.0, 0.0)
            a_hi = np.where(in_rank & np.isfinite(soft_hi), 1.0, 0.0)
            # a ranked pass has slacks only for the limits in force and starts with the
            # violations its point has: slacks left free drift off (to ~1e5), and a pass
            # starting there can end in a worse local optimum (a lower-ranked limit given up
            # by 6.3 K where 4.1 K would do, in a CSTR)
            sol, stats = run(a_lo, a_hi, np.zeros(n_cv), fitted(start),
                             np.where(limited, cap, 0.0))
            if not stats["success"]:
                break
            z = np.array(sol["x"]).ravel()
            s = z[n_x + n_u:]
            mask = np.concatenate([a_lo, a_hi]) > 0
            cap[mask] = np.maximum(s[mask], 0.0) * (1 + 1e-6) + 1e-9
            start = z
        if stats["success"]:
            sol, stats = run(np.zeros(n_cv), np.zeros(n_cv),
                             np.where(has_sp, np.array([max(c.weight, 1e-3) for c in spec_cv]), 0.0),
                             start, cap)
        if not stats["success"]:
            return TargetResult(False, x_guess, u_now, np.full(n_cv, np.nan),
                                message=str(stats["return_status"]))
        z = np.array(sol["x"]).ravel()
        x = z[:n_x] * pb.x_scale
        u = z[n_x:n_x + n_u] * pb.u_scale
        cv = np.array(self._cv_fn(z[:n_x], z[n_x:n_x + n_u], w, p, bias, u_offset)).ravel()
        given: list[GivenUp] = []
        for i, c in enumerate(spec_cv):
            if not active[i]:
                continue
            for kind, limit, miss in (("low", soft_lo[i], soft_lo[i] - cv[i]),
                                      ("high", soft_hi[i], cv[i] - soft_hi[i])):
                if np.isfinite(limit) and miss > GIVE_UP_TOL * mag[i]:
                    given.append(GivenUp(c.name, kind, c.rank, float(miss)))
            if has_sp[i] and abs(cv[i] - setpoints[i]) > max(GIVE_UP_TOL * mag[i], 1e-4 * mag[i]):
                given.append(GivenUp(c.name, "setpoint", 0, float(abs(cv[i] - setpoints[i]))))
        return TargetResult(True, x, u, cv, given, str(stats["return_status"]))
