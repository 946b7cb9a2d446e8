"""The steady-state optimiser of the linear controller: lexicographic LPs (DMC3-style) or a QP.

On the model's steady-state gains ``G`` [CV unit / MV unit] and the current
prediction, the steady state reached by an MV change ``du`` from the MVs now
is ``cv_ss = cv_free + G du``, where ``cv_free`` is where the prediction
settles with the MVs held (for a ramp CV: its rate of change now, and
``G`` holds rate gains). The optimiser resolves, in this order, each
stage's optimum frozen before the next (as :mod:`apc.targets` does for the
nonlinear controller):

1. hard MV limits (bounds) and hard CV limits, always (a hard CV limit
   that cannot be held gives no targets); then the ramp CVs' rates as
   close to zero as the limits allow (a rate that cannot be balanced is
   reported);
2. the soft CV limits by rank, rank 1 first: the sum of the violations of a
   rank [in units of the CV magnitude] is minimised, then each violation is
   frozen (as :mod:`apc.targets` does), so a lower-ranked limit is always given up first (each reported
   as :class:`apc.targets.GivenUp`);
3. the setpoints, as close as possible (weighted absolute errors; reported
   when missed);
4. the economics: ``objective = "lp"`` minimises ``sum(cost x value)`` over
   MVs and CVs (a negative cost is a value), then, among equally good
   points, the smallest MV move (an L1 norm in MV scales), so that an LP
   with several optima does not jump between vertices; ``"qp"`` adds
   ``1/2 ((MV - ideal) / scale)^2`` per MV with an ``ideal`` (RMPCT-style
   resting values: an MV away from its limits rests at
   ``ideal - cost x scale^2``), and a faint pull to the MVs now for the others.

Ramp CVs take part only through their rate: their limits and setpoints are
levels, held by the dynamic controller. With ``steady_state.target_filter``
the targets approach each cycle's optimum through a first-order filter.
Directions of the gain matrix
whose singular value is below ``steady_state.min_singular_value`` times
the largest are not moved (:mod:`apc.linear.ss_conditioning`).

Each stage is an LP on one HiGHS model kept between stages and cycles
(:mod:`apc.linear.ss_highs`: hot-started dual simplex); a stage whose
optimum the current point already reaches (no violation) is not solved,
so a plant inside all its limits with no costs costs no LP at all, and
the smallest-move LP runs only when the economic optimum is not unique.
The QP stage is a small dense QP in the MV moves alone (DAQP through
CasADi), the frozen violations folded into the CV rows' bounds. Beyond
the target filter, MV targets are not limited per cycle: the dynamic
controller's rate limits and move suppression pace the moves; the target
filter damps the swing a plant whose gains change between operating
points gives (the README's steady-state optimiser section), and frozen
weak directions keep targets still where the model cannot be trusted at all.
"""

from __future__ import annotations

import logging
import math

import casadi as ca
import numpy as np

from apc.linear.ss_conditioning import Conditioning, analyse
from apc.linear.ss_highs import HighsLP
from apc.spec import ControllerSpec
from apc.targets import GIVE_UP_TOL, GivenUp, TargetResult
from twin.core.errors import InputError

log = logging.getLogger(__name__)

FREEZE_TOL = 1e-9
"""A frozen stage optimum may grow by this fraction (plus :data:`FREEZE_ABS`) in later stages."""
FREEZE_ABS = 1e-9
"""... and by this much [scaled units]."""
QP_PULL = 1e-6
"""Weight of the pull to the MVs now, for MVs without an ideal, in the QP objective."""
_N_SLACK = 6  # per CV: hard low, hard high, soft low, soft high, setpoint +, setpoint -
_LOWER = np.array([[True], [False], [True], [False], [True]])   # rows with a lower bound
_UPPER = np.array([[False], [True], [False], [True], [True]])   # rows with an upper bound


class SteadyStateOptimiser:
    """Steady-state targets of the linear controller.

    Parameters
    ----------
    spec : ControllerSpec
        CV and MV tables (``cost``, ``ideal``, ``rank``, ``weight``, MV
        ``scale``) and ``steady_state`` (objective, ``min_singular_value``).
    gains : numpy.ndarray
        Steady-state gains, (n_cv, n_mv) [CV unit / MV unit; rate gains for ramp CVs].
    ramp : numpy.ndarray of bool
        Which CVs are ramps (integrating), (n_cv,).
    cv_magnitude : numpy.ndarray
        Typical magnitude of each CV [CV unit] (of its rate, for a ramp):
        limit violations and setpoint errors are compared in these units.
    """

    def __init__(self, spec: ControllerSpec, gains: np.ndarray, ramp: np.ndarray,
                 cv_magnitude: np.ndarray):
        n_cv, n_mv = len(spec.cv), len(spec.mv)
        g = np.asarray(gains, dtype=float)
        if g.shape != (n_cv, n_mv):
            raise InputError(f"steady-state gains have shape {g.shape}, expected ({n_cv}, {n_mv}) "
                             "(cvs x mvs)")
        if not np.all(np.isfinite(g)):
            i, j = np.argwhere(~np.isfinite(g))[0]
            raise InputError(f"steady-state gain of cv '{spec.cv[i].name}' to mv "
                             f"'{spec.mv[j].name}' is not finite")
        ramp = np.asarray(ramp, dtype=bool).ravel()
        mag = np.asarray(cv_magnitude, dtype=float).ravel()
        if ramp.shape != (n_cv,) or mag.shape != (n_cv,):
            raise InputError(f"ramp and cv_magnitude need one value per cv ({n_cv}), got "
                             f"{ramp.size} and {mag.size}")
        bad = np.flatnonzero(~(np.isfinite(mag) & (mag > 0)))
        if bad.size:
            raise InputError(f"cv '{spec.cv[bad[0]].name}': magnitude {mag[bad[0]]} must be "
                             "finite and > 0")
        self.spec, self.gains, self.ramp, self.mag = spec, g, ramp, mag
        self.n_cv, self.n_mv = n_cv, n_mv
        self.mv_names = [m.name for m in spec.mv]
        self.scale = np.array([m.scale for m in spec.mv])
        self.gn = g / mag[:, None] * self.scale[None, :]   # scaled CV change per scaled MV move
        self.cost_mv = np.array([m.cost for m in spec.mv])
        self.cost_cv = np.array([c.cost for c in spec.cv])
        self.ideal = np.array([np.nan if m.ideal is None else m.ideal for m in spec.mv])
        self.weight = np.array([max(c.weight, 1e-3) for c in spec.cv])
        self.rank = np.array([c.rank for c in spec.cv])
        self.objective = spec.steady_state.objective
        self.min_ratio = spec.steady_state.min_singular_value
        self._conditioning: dict[bytes, Conditioning] = {}
        self._frozen_rows: Conditioning | None = None   # whose directions the LP's rows hold
        tf = spec.steady_state.target_filter
        self.filter_fraction = 1.0 - math.exp(-spec.sample_time / tf) if tf > 0 else 1.0
        self._target: np.ndarray | None = None          # last targets (the filter's state)
        self._any_ramp = bool(ramp.any())
        self._costs = bool(np.any(self.cost_mv) or np.any(self.cost_cv))
        self._sp_inverse: dict[bytes, np.ndarray | None] = {}   # setpoint rows -> inverse gains
        self._sign6 = np.repeat([-1.0, 1.0, -1.0, 1.0, 1.0, -1.0], n_cv)
        self._rep6 = np.tile(np.arange(n_cv), _N_SLACK)
        self._lbx_tail = np.concatenate([np.zeros(_N_SLACK * n_cv + n_mv), np.full(n_cv, -np.inf)])
        self._build()

    # -- the LP/QP -----------------------------------------------------------
    def _build(self) -> None:
        """One LP for every stage: variables, rows, and the solvers.

        Variables: the scaled MV move ``du / scale`` (n), six slacks per CV
        (6 m), the absolute values of the moves (n), the scaled CVs ``e`` (m).
        Rows: the CVs, ``Gn du - e = -f`` (m, the only rows with the gains);
        five per CV on ``e`` and one slack (hard low, hard high, soft low,
        soft high, setpoint); n rows for frozen directions; one economic
        row; 2 n rows bounding the absolute moves. With the gains in one
        block of rows the basis factorises fast (on a 40 x 80 problem: a
        third of the time of limits written on ``Gn du`` directly).
        """
        n, m = self.n_mv, self.n_cv
        self.col_abs = n + _N_SLACK * m
        self.col_e = self.col_abs + n
        self.n_var = nv = self.col_e + m
        self.row_cv = 5 * m
        self.row_frozen = 6 * m
        self.row_econ = self.row_frozen + n
        self.row_abs = self.row_econ + 1
        n_row = self.row_abs + 2 * n
        a = np.zeros((n_row, nv))
        pattern = np.zeros((n_row, nv), dtype=bool)
        s0, e0 = n, self.col_e
        eye = np.arange(m)
        # hard lo: e + h_lo >= lo; hard hi: e - h_hi <= hi; soft likewise; setpoint: e - p + q = sp
        for block, signs in enumerate(((1.0,), (-1.0,), (1.0,), (-1.0,), (-1.0, 1.0))):
            rows = block * m + eye
            a[rows, e0 + eye] = 1.0
            for k, sign in enumerate(signs):
                a[rows, s0 + (block + k) * m + eye] = sign
        a[self.row_cv:self.row_cv + m, :n] = self.gn
        a[self.row_cv + eye, e0 + eye] = -1.0
        pattern[a != 0] = True
        pattern[self.row_frozen:self.row_frozen + n, :n] = True
        pattern[self.row_econ, :n] = True
        for j in range(n):                                         # a_j - du_j >= 0, a_j + du_j >= 0
            for k, sign in enumerate((-1.0, 1.0)):
                r = self.row_abs + 2 * j + k
                a[r, j], a[r, self.col_abs + j] = sign, 1.0
                pattern[r, [j, self.col_abs + j]] = True
        self.n_row = n_row
        self._lp = HighsLP(a, pattern)
        self._qp = None
        if self.objective == "qp":
            # the QP stage on the MV moves alone: the frozen slacks fold into the CV rows' bounds
            qa = ca.Sparsity.dense(m + n, n)
            self._qp = ca.conic("ss_qp", "daqp", {"a": qa, "h": ca.Sparsity.diag(n)},
                                {"error_on_fail": False})

    def conditioning(self, active: np.ndarray) -> Conditioning:
        """SVD analysis of the gains of the ``active`` CVs (cached per set of active CVs)."""
        key = np.asarray(active, dtype=bool).tobytes()
        if key not in self._conditioning:
            if len(self._conditioning) >= 64:           # CVs dropped and back in many patterns
                self._conditioning.clear()
            rows = np.asarray(active, dtype=bool)
            self._conditioning[key] = analyse(self.gains[rows] * self.scale[None, :],
                                              self.mv_names, self.min_ratio)
        return self._conditioning[key]

    # -- one cycle -------------------------------------------------------------
    def solve(self, cv_free: np.ndarray, u_now: np.ndarray, active: np.ndarray,
              u_lo: np.ndarray, u_hi: np.ndarray, soft_lo: np.ndarray, soft_hi: np.ndarray,
              hard_lo: np.ndarray, hard_hi: np.ndarray, setpoints: np.ndarray) -> TargetResult:
        """Targets for this cycle.

        ``cv_free`` [CV unit; CV unit per time unit for ramps]: where the
        prediction settles with the MVs held at ``u_now``; ``active`` masks
        the CVs in control; limits are ``-inf``/``inf`` and setpoints ``nan``
        where there are none. Inconsistent limits or a non-finite prediction
        give ``ok = False`` with a one-line message. The result's ``x`` is
        empty (the linear layer has no model states at steady state); ``cv``
        holds the steady-state CVs (rates for ramp CVs). With
        ``steady_state.target_filter``, ``u`` and ``cv`` are the filtered
        targets, while ``given_up`` names what the optimum itself misses.
        """
        n, m = self.n_mv, self.n_cv
        active = np.asarray(active, dtype=bool)
        u_now = np.asarray(u_now, dtype=float)
        cv_free = np.asarray(cv_free, dtype=float)
        problem = self._check(cv_free, u_now, active, u_lo, u_hi, soft_lo, soft_hi, hard_lo,
                              hard_hi)
        if problem:
            return self._failed(u_now, problem)
        cond = self.conditioning(active)
        lim = active & ~self.ramp                       # CVs whose limits and setpoints count here
        f = np.where(active, cv_free, 0.0) / self.mag
        sp = np.where(self.ramp, 0.0, setpoints)
        has_sp = (lim & np.isfinite(sp)) | (active & self.ramp)
        # the five kinds of row per CV (hard low, hard high, soft low, soft high, setpoint), scaled
        bounds = np.array([hard_lo, hard_hi, soft_lo, soft_hi, sp], dtype=float) / self.mag
        limited = np.isfinite(bounds) & np.array([lim, lim, lim, lim, has_sp])
        du_lo = (u_lo - u_now) / self.scale
        du_hi = (u_hi - u_now) / self.scale
        c_s = (self.cost_mv + self.cost_cv[lim] @ self.gains[lim]) * self.scale \
            if self._costs else np.zeros(n)
        k = cond.directions.shape[0]                    # directions not moved
        exact = self._exact_setpoints(limited, lim, k, bounds, f, du_lo, du_hi)
        if exact is not None and self.objective == "lp" and not c_s.any():
            # every stage's optimum reached, no limit or setpoint missed: no LP
            return self._result(exact, u_now, u_lo, u_hi, cv_free, active, soft_lo, soft_hi,
                                setpoints, 0, cond, missed=False)
        lba = np.full(self.n_row, -np.inf)
        uba = np.full(self.n_row, np.inf)
        lba[:5 * m] = np.where(limited & _LOWER, bounds, -np.inf).ravel()
        uba[:5 * m] = np.where(limited & _UPPER, bounds, np.inf).ravel()
        lba[self.row_cv:self.row_cv + m] = uba[self.row_cv:self.row_cv + m] = -f
        lba[self.row_abs:] = 0.0                        # a_j -+ du_j >= 0: a_j >= |du_j|
        du = np.clip(0.0, du_lo, du_hi) if exact is None else exact   # exact: the setpoints met
        a_frozen = np.zeros((n, n))                     # rows of the directions not moved
        if k:
            rows = slice(self.row_frozen, self.row_frozen + k)
            a_frozen[:k] = cond.directions
            lba[rows] = uba[rows] = cond.directions @ du
        if self._frozen_rows is not cond:               # the kept LP's rows of another set
            for r in range(n):
                self._lp.set_row(self.row_frozen + r, a_frozen[r])
            self._frozen_rows = cond
        s0 = n
        lim6 = np.concatenate([limited.ravel(), limited[4]])
        cap = np.where(lim6, np.inf, 0.0)
        lbx = np.concatenate([du_lo, self._lbx_tail])
        b6 = np.where(lim6, np.concatenate([bounds.ravel(), bounds[4]]), 0.0)
        sign6, rep6 = self._sign6, self._rep6

        def fitted(d):
            """Variables at move ``d``: slacks equal to the violations, absolute moves."""
            e = f + self.gn @ d
            s = np.maximum(sign6 * (e[rep6] - b6), 0.0) * lim6
            return np.concatenate([d, s, np.abs(d), e])

        solved = 0
        state = {"du": du}

        def stage(name, weights, h_diag=None, skip=True):
            """Minimise ``weights . z`` (+ 1/2 z' H z) within the frozen optima: (message, optimum)."""
            nonlocal solved
            z = fitted(state["du"])
            if skip and h_diag is None and weights @ z <= 1e-12:
                return None, 0.0                        # the point reaches the optimum already
            ubx = np.concatenate([du_hi, cap, np.full(n + m, np.inf)])
            if h_diag is None:
                z, cost, status = self._lp.solve(weights, lba, uba, lbx, ubx, name)
            else:
                z, status = self._solve_qp(weights, h_diag, a_frozen, lba, uba, du_lo, du_hi, cap)
                cost = 0.0
            solved += 1
            if z is None:
                if "nbounded" in status:
                    free = [self.mv_names[j] for j in range(n)
                            if not (np.isfinite(du_lo[j]) and np.isfinite(du_hi[j]))]
                    return (f"steady-state {name}: unbounded; give limits to mv "
                            f"'{free[0] if free else self.mv_names[0]}'"), 0.0
                return f"steady-state {name}: {status}", 0.0
            state["du"] = z[:n]
            return None, cost

        def freeze(slack_blocks, mask):
            z = fitted(state["du"])[s0:s0 + _N_SLACK * m]
            for blk in slack_blocks:
                idx = slice(blk * m, (blk + 1) * m)
                cap[idx] = np.where(mask, z[idx] * (1 + FREEZE_TOL) + FREEZE_ABS, cap[idx])

        def slack_weights(blocks, w):
            g = np.zeros(self.n_var)
            for blk in blocks:
                g[s0 + blk * m:s0 + (blk + 1) * m] = w
            return g

        any_limit = limited.any(axis=1)
        passes = []
        if any_limit[0] or any_limit[1]:
            passes.append(("hard limits", (0, 1), lim * 1.0))
        if np.any(active & self.ramp):
            passes.append(("ramp balance", (4, 5), (active & self.ramp) * 1.0))
        if any_limit[2] or any_limit[3]:
            for r in np.unique(self.rank[limited[2] | limited[3]]):
                passes.append((f"rank {r} limits", (2, 3), (lim & (self.rank == r)) * 1.0))
        if np.any(limited[4] & lim):
            passes.append(("setpoints", (4, 5), np.where(lim, self.weight, 0.0)))
        for name, blocks, w in passes:
            problem, _ = stage(name, slack_weights(blocks, w))
            if problem:
                return self._failed(u_now, problem, cond)
            freeze(blocks, w > 0)
            if name == "hard limits":
                z = fitted(state["du"])
                miss = np.flatnonzero((z[s0:s0 + m] + z[s0 + m:s0 + 2 * m]) > GIVE_UP_TOL)
                if miss.size:
                    i = miss[0]
                    which = "hard_low" if z[s0 + i] > GIVE_UP_TOL else "hard_high"
                    return self._failed(u_now, f"cv '{self.spec.cv[i].name}': {which} cannot be "
                                        "held within the mv limits", cond)
        g = np.zeros(self.n_var)
        problem = None
        if self.objective == "qp":
            has_ideal = np.isfinite(self.ideal)
            g[:n] = c_s + np.where(has_ideal, (u_now - np.nan_to_num(self.ideal)) / self.scale, 0.0)
            problem, _ = stage("economics QP", g, h_diag=np.where(has_ideal, 1.0, QP_PULL))
        else:
            if np.any(c_s != 0):
                g[:n] = c_s
                problem, opt = stage("economics LP", g, skip=False)
                self._lp.set_row(self.row_econ, c_s)
                uba[self.row_econ] = opt + FREEZE_TOL * abs(opt) + FREEZE_ABS
            # the smallest move among equal optima, when the last LP solved has several
            if solved and not problem and not self._lp.unique(self.col_abs, self.row_abs):
                g[:] = 0.0
                g[self.col_abs:self.col_e] = 1.0
                problem, _ = stage("smallest move", g, skip=False)
        if problem:
            return self._failed(u_now, problem, cond)
        return self._result(state["du"], u_now, u_lo, u_hi, cv_free, active, soft_lo, soft_hi,
                            setpoints, solved, cond)

    def _result(self, du_scaled, u_now, u_lo, u_hi, cv_free, active, soft_lo, soft_hi,
                setpoints, solved: int, cond: Conditioning, missed: bool = True) -> TargetResult:
        """The targets at the scaled move ``du_scaled`` (filtered), with what they miss
        (``missed=False``: known to miss nothing)."""
        du = du_scaled * self.scale
        u = u_now + du
        cv = cv_free + self.gains @ du
        given = []
        if missed:
            ramp_missed = []
            if self._any_ramp:
                rate = cv / self.mag
                ramp_missed = [GivenUp(self.spec.cv[i].name, "ramp", 0, float(abs(cv[i])))
                               for i in range(self.n_cv) if active[i] and self.ramp[i]
                               and abs(rate[i]) > GIVE_UP_TOL]
            given = self.given_up(cv, active, soft_lo, soft_hi, setpoints, ramp_missed)
        message = f"{solved} {self._kind()} solved"
        if self.filter_fraction < 1.0:
            last = u_now if self._target is None else self._target
            u = np.clip(last + self.filter_fraction * (u - last), u_lo, u_hi)
            cv = cv_free + self.gains @ (u - u_now)
            message += ", targets filtered"
        self._target = u
        return TargetResult(True, np.zeros(0), u, cv, given, message,
                            frozen=list(cond.frozen), condition=cond.condition,
                            weakest=cond.weakest)

    def _exact_setpoints(self, limited, lim, n_frozen, bounds, f, du_lo, du_hi
                         ) -> np.ndarray | None:
        """The scaled move meeting every setpoint exactly, when there is one and only one (as
        many setpoints as MVs, gains nonsingular, no frozen direction, no ramp) and it is within
        every MV and CV limit by 1e-12 (so nothing is given up): every stage's optimum is then
        reached. ``None`` otherwise."""
        rows = limited[4] & lim
        if n_frozen or self._any_ramp or np.count_nonzero(rows) != self.n_mv:
            return None
        key = rows.tobytes()
        if key not in self._sp_inverse:                 # the setpoint rows rarely change
            if len(self._sp_inverse) >= 64:
                self._sp_inverse.clear()
            try:
                self._sp_inverse[key] = np.linalg.inv(self.gn[rows])
            except np.linalg.LinAlgError:
                self._sp_inverse[key] = None
        inverse = self._sp_inverse[key]
        if inverse is None:
            return None
        d = inverse @ (bounds[4, rows] - f[rows])
        if (d < du_lo).any() or (d > du_hi).any():
            return None
        e = f + self.gn @ d
        if (limited[0:4:2] & (bounds[0:4:2] - e > 1e-12)).any() or \
                (limited[1:4:2] & (e - bounds[1:4:2] > 1e-12)).any():
            return None
        return d

    def reset(self) -> None:
        """Forget the last targets (the target filter starts again from the MVs now)."""
        self._target = None

    def _check(self, cv_free, u_now, active, u_lo, u_hi, soft_lo, soft_hi, hard_lo,
               hard_hi) -> str:
        """One line naming what makes this cycle's data unusable, or ``""``."""
        bad = ~np.isfinite(u_now) | (u_lo > u_hi)
        if bad.any():
            j = int(np.argmax(bad))
            if not np.isfinite(u_now[j]):
                return f"mv '{self.mv_names[j]}': value now {u_now[j]} is not finite"
            return f"mv '{self.mv_names[j]}': low {u_lo[j]:g} > high {u_hi[j]:g}"
        bad = active & (~np.isfinite(cv_free) | (soft_lo > soft_hi) | (hard_lo > hard_hi))
        if bad.any():
            i = int(np.argmax(bad))
            name = self.spec.cv[i].name
            if not np.isfinite(cv_free[i]):
                return f"cv '{name}': predicted steady state {cv_free[i]} is not finite"
            if soft_lo[i] > soft_hi[i]:
                return f"cv '{name}': low/high {soft_lo[i]:g} > {soft_hi[i]:g}"
            return f"cv '{name}': hard_low/hard_high {hard_lo[i]:g} > {hard_hi[i]:g}"
        return ""

    def _failed(self, u_now: np.ndarray, message: str, cond: Conditioning | None = None
                ) -> TargetResult:
        log.warning("steady-state targets: %s", message)
        extra = {} if cond is None else {"frozen": list(cond.frozen), "condition": cond.condition,
                                         "weakest": cond.weakest}
        return TargetResult(False, np.zeros(0), np.array(u_now, dtype=float),
                            np.full(self.n_cv, np.nan), message=message, **extra)

    def _kind(self) -> str:
        return "QP/LPs" if self.objective == "qp" else "LPs"

    def _solve_qp(self, g: np.ndarray, h_diag: np.ndarray, a_frozen: np.ndarray,
                  lba: np.ndarray, uba: np.ndarray, du_lo: np.ndarray, du_hi: np.ndarray,
                  cap: np.ndarray) -> tuple[np.ndarray | None, str]:
        """The QP stage in the MV moves: each CV row bounded by its limits widened by the frozen slacks."""
        n, m = self.n_mv, self.n_cv
        c = cap.reshape(_N_SLACK, m)
        f = -lba[self.row_cv:self.row_cv + m]
        lo = np.maximum.reduce([lba[0:m] - c[0], lba[2 * m:3 * m] - c[2],
                                lba[4 * m:5 * m] - c[5]]) - f
        hi = np.minimum.reduce([uba[m:2 * m] + c[1], uba[3 * m:4 * m] + c[3],
                                uba[4 * m:5 * m] + c[4]]) - f
        hi = np.maximum(hi, lo)                         # equal up to rounding where a setpoint is met
        rows = slice(self.row_frozen, self.row_frozen + n)
        sol = self._qp(h=ca.DM(ca.Sparsity.diag(n), h_diag), g=g[:n],
                       a=np.vstack([self.gn, a_frozen]),
                       lba=np.concatenate([lo, lba[rows]]), uba=np.concatenate([hi, uba[rows]]),
                       lbx=du_lo, ubx=du_hi)
        stats = self._qp.stats()
        if not stats["success"]:
            return None, str(stats["return_status"])
        return np.array(sol["x"]).ravel(), str(stats["return_status"])

    def given_up(self, cv: np.ndarray, active: np.ndarray, soft_lo, soft_hi, setpoints,
                 ramp_missed: list[GivenUp]) -> list[GivenUp]:
        """The limits and setpoints the targets miss (as :meth:`apc.targets.TargetCalculator.solve`)."""
        out = list(ramp_missed)
        counted = np.asarray(active, dtype=bool) & ~self.ramp
        soft_lo, soft_hi, setpoints = (np.asarray(a, dtype=float)
                                       for a in (soft_lo, soft_hi, setpoints))
        with np.errstate(invalid="ignore"):               # a CV out of control may be inf
            low, high = soft_lo - cv, cv - soft_hi
            off = np.abs(cv - setpoints)
            low_missed = counted & np.isfinite(soft_lo) & (low > GIVE_UP_TOL * self.mag)
            high_missed = counted & np.isfinite(soft_hi) & (high > GIVE_UP_TOL * self.mag)
            sp_missed = counted & np.isfinite(setpoints) & (off > 1e-4 * self.mag)
        for i in np.flatnonzero(low_missed | high_missed | sp_missed):   # the few that miss
            c = self.spec.cv[i]
            if low_missed[i]:
                out.append(GivenUp(c.name, "low", c.rank, float(low[i])))
            if high_missed[i]:
                out.append(GivenUp(c.name, "high", c.rank, float(high[i])))
            if sp_missed[i]:
                out.append(GivenUp(c.name, "setpoint", 0, float(off[i])))
        return out
