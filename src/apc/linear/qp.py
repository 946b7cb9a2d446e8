"""The dynamic problem of the linear MPC as a condensed QP, built once.

The same optimal-control problem as :class:`apc.transcription.StructuredOCP`
(tracking ``cv_weight (cv_k - target)^2`` at ``k = 0..N-1`` from ``(x_k, u_k)``,
the terminal term ``terminal_weight`` times the tracking at ``(x_N, u_{N-1})``,
move suppression ``move_weight ((u_k - u_{k-1}) / scale)^2``, the MV-target
term ``target_weight ((u_k - u_target) / scale)^2``, soft CV limits with one
slack per stage and limit (at the block ends one per limit for all of them)
and a linear penalty, hard CV limits, MV hard and
rate limits, move blocking; the CV limits at the stages ``linear.cv_limits``
says, see :func:`cv_limit_form`), with the states condensed out: the CVs over the
horizon are ``cv = f + G u`` (``f`` the free response of this cycle, ``G``
the constant block lower-triangular matrix of step-response differences),
so the QP's variables are the scaled MVs of each move block and the slacks.

Everything constant is built once with numpy: ``G``, the constraint
matrix, the Hessian (rebuilt only when the weights change, e.g. when a CV is
dropped). Per cycle only the gradient and the bounds are computed, and the
QP is solved by a solver of the casadi wheel through ``casadi.conic``,
warm-started from the previous solution.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import os
import sys

import casadi as ca
import numpy as np

from apc.bounded import InProcess
from apc.linear.daqp_workspace import DaqpWorkspace
from apc.linear.model import for_products
from apc.problem import ControlProblem

SLACK_REGULARISATION = 1e-9
"""Quadratic weight on the slacks (relative to their penalty) that keeps the QP strictly
convex for the active-set solvers; it moves a violation by at most this fraction."""
MV_REGULARISATION = 1e-12
"""Quadratic weight on the scaled MVs that keeps the Hessian definite when an MV has no cost."""
SOLVERS = ("daqp", "qpoases", "hpipm", "osqp")
DAQP_SETTINGS = {"iter_limit": 5000, "primal_tol": 1e-10}
"""daqp's settings: a tight primal tolerance. The daqp package's own default adds a proximal
term only where the Hessian's factorisation needs one (the slacks' tiny weights beside
Column A's move weights: a factorisation without it is refused as "not convex"); CasADi's
daqp plugin is given none (``eps_prox = 0``)."""
BIG = np.inf
"""Stands for an absent bound (the solvers' infinity)."""


def _vector(value) -> np.ndarray:
    """A casadi result (or an array from the solver process) as a flat float array."""
    return value.full().ravel() if hasattr(value, "full") else np.asarray(value, float).ravel()


def choose_solver(n_var: int, n_con: int) -> str:
    """The QP solver for a condensed problem of this size (README, "Linear MPC").

    daqp (dual active set, dense) was fastest on every condensed problem
    measured by the ``lmpc_column_a`` benchmark, from 20 variables (Column A
    with a control horizon of 10) to 300 (150 free moves), ahead of qpOASES,
    OSQP and hpipm; beyond :data:`DENSE_LIMIT` variables OSQP (sparse ADMM)
    is chosen, where a dense active-set method's factorisations grow with the
    cube of the size (not measured here).
    """
    return "daqp" if n_var <= DENSE_LIMIT else "osqp"


DENSE_LIMIT = 2000
"""Largest condensed QP (variables) given to daqp by ``qp_solver = "auto"``."""


def cv_limit_form(spec, n_moves: int, n_limits: int) -> str:
    """``linear.cv_limits`` in effect (:class:`apc.spec_linear.LinearSpec`).

    ``"auto"``: every stage ``0..N-1`` (as the NMPC) while the QP stays within
    :data:`DENSE_LIMIT` variables (``n_moves`` free moves plus ``n_limits``
    slacks per stage); beyond (the 40 x 80 example would have 9,600 slacks),
    DMC's coincidence points, the ends of the move blocks.
    """
    form = spec.linear.cv_limits
    if form != "auto":
        return form
    fits = n_moves + spec.prediction_horizon * n_limits <= DENSE_LIMIT
    return "every_stage" if fits else "block_ends"


def check_stages(N: int, blocks: tuple[int, ...], form: str) -> np.ndarray:
    """Stages at which the CV limits of the dynamic QP are checked: every stage
    ``0..N-1``, or (``"block_ends"``) the ends of the move blocks, the last one at
    ``N - 1``."""
    if form == "every_stage":
        return np.arange(N)
    return np.unique(np.minimum(np.cumsum(blocks), N - 1))


@contextlib.contextmanager
def _quiet_stdout():
    """Silence qpOASES's banner (printed when a solver memory is first used): casadi sends
    its plugins' printing to Python's ``sys.stdout``, plain C code to file descriptor 1."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as null, contextlib.redirect_stdout(io.StringIO()):
        os.dup2(null.fileno(), 1)
        try:
            yield
        finally:
            _libc_flush()  # what C buffered goes to /dev/null too, not out later
            os.dup2(saved, 1)
            os.close(saved)


def _libc_flush() -> None:
    """Flush C's stdio buffers (``fflush(NULL)``), where the C library can be loaded."""
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


class CondensedQP:
    """The condensed QP of one controller (module docstring).

    Parameters
    ----------
    problem : ControlProblem
    G : numpy.ndarray
        CV responses to the MVs, shape ((N + 1) n_cv, N n_mv): row ``k n_cv + i``
        is CV ``i`` at stage ``k``, column ``j n_mv + m`` MV ``m`` at move ``j``
        (unscaled); stage ``N`` is the terminal one (the MV held at ``u_{N-1}``).
    solver : str
        One of :data:`SOLVERS` or ``"auto"``.
    """

    def __init__(self, problem: ControlProblem, G: np.ndarray, solver: str = "auto"):
        self.problem = pb = problem
        spec = pb.spec
        self.N = N = spec.prediction_horizon
        nu, ncv = pb.n_u, pb.n_cv
        us = pb.u_scale
        blocks = spec.blocks()
        self.nb = nb = len(blocks)
        T = np.zeros((N * nu, nb * nu))  # move k takes the value of its block
        block_of = np.repeat(np.arange(nb), blocks)
        for k in range(N):
            T[k * nu:(k + 1) * nu, block_of[k] * nu:(block_of[k] + 1) * nu] = np.diag(us)
        self.G = G
        self.Gz = Gz = G @ T  # CVs per scaled block value
        self.nz = nz = nb * nu
        self.soft_lo = [i for i, c in enumerate(spec.cv) if c.low is not None]
        self.soft_hi = [i for i, c in enumerate(spec.cv) if c.high is not None]
        nlo, nhi = len(self.soft_lo), len(self.soft_hi)
        self.cv_limits = cv_limit_form(spec, nb * nu, nlo + nhi)
        self.stages = check_stages(N, blocks, self.cv_limits)
        # one slack per CV side and stage; at the block ends one per CV side for all of them
        # (the largest violation is penalised: a QP of 400 variables instead of 1,200 on the
        # 40 x 80 example)
        self._n_sets = Ns = len(self.stages) if self.cv_limits == "every_stage" else 1
        self.n_slack = Ns * (nlo + nhi)
        self.n_var = nz + self.n_slack
        # -- constant constraint rows
        rows, self._rate, self._lo_rows, self._hi_rows, self._hard = [], [], [], [], []
        rated = [j for j, m in enumerate(spec.mv) if m.max_move is not None]
        self.rated = np.array(rated, dtype=int)
        for b in range(nb):
            for j in rated:
                r = np.zeros(self.n_var)
                r[b * nu + j] = us[j]
                if b:
                    r[(b - 1) * nu + j] = -us[j]
                rows.append(r)
        self.n_rate = len(rows)
        self._lo_idx = np.array([k * ncv + i for k in self.stages for i in self.soft_lo], dtype=int)
        self._hi_idx = np.array([k * ncv + i for k in self.stages for i in self.soft_hi], dtype=int)
        for s, idx in enumerate(self._lo_idx):  # (stage by stage, the CVs within a stage)
            r = np.zeros(self.n_var)
            r[:nz] = Gz[idx]
            r[nz + (s if Ns > 1 else s % nlo)] = 1.0
            rows.append(r)
        for s, idx in enumerate(self._hi_idx):
            r = np.zeros(self.n_var)
            r[:nz] = Gz[idx]
            r[nz + Ns * nlo + (s if Ns > 1 else s % nhi)] = -1.0
            rows.append(r)
        hard = []
        for i, c in enumerate(spec.cv):
            if c.hard_low is None and c.hard_high is None:
                continue
            # a plain state is bounded at the nodes 1..N-1 (as the NMPC's state bounds),
            # any other CV at its stages 0..N-1 (as the NMPC's constraint rows)
            first = 1 if pb.cv_is_plain_state(c) else 0
            hard += [(k * ncv + i, i) for k in self.stages if k >= first]
        self._hard_idx = np.array([h[0] for h in hard], dtype=int)
        self._hard_cv = np.array([h[1] for h in hard], dtype=int)
        for idx in self._hard_idx:
            r = np.zeros(self.n_var)
            r[:nz] = Gz[idx]
            rows.append(r)
        self.A = np.array(rows) if rows else np.zeros((0, self.n_var))
        self.n_con = self.A.shape[0]
        # -- cost pieces
        stage = np.ones(N + 1)
        stage[N] = spec.terminal_weight
        self._stage = np.repeat(stage, ncv)
        move_w = np.array([m.move_weight for m in spec.mv])
        Dm = np.eye(N * nu) - np.eye(N * nu, k=-nu)  # u_k - u_{k-1} (scaled), u_{-1} apart
        DT = Dm @ (T / np.tile(us, N)[:, None])
        self._DT = DT
        # the move term's gradient: only u_{-1} (the first n_mv entries of v) is not zero
        self._DT_prev = 2 * DT[:nu].T * move_w
        self._mw = np.tile(move_w, N)
        self._H_move = 2 * DT.T @ (self._mw[:, None] * DT)
        self._Tz = T / np.tile(us, N)[:, None]  # scaled MV per stage from z
        # the maps multiplied every cycle, sparse where they are mostly zero
        self._GzT, self._TzT = for_products(Gz.T), for_products(self._Tz.T)
        self._T = for_products(T)
        penalty = np.array([spec.cv[i].penalty for i in self.soft_lo] * Ns
                           + [spec.cv[i].penalty for i in self.soft_hi] * Ns)
        self._g_slack = penalty
        self._h_slack = 2 * SLACK_REGULARISATION * np.maximum(penalty, 1e-6)
        self._weights_key: bytes | None = None
        self._H = np.zeros((self.n_var, self.n_var))
        # -- solver
        self.solver_name = choose_solver(self.n_var, self.n_con) if solver == "auto" else solver
        with _quiet_stdout():
            self.solver = self._make_solver()
            self._indices()
        # in this process daqp keeps its workspace between cycles; the casadi function
        # above serves the solver process of a time budget
        self._daqp = DaqpWorkspace(self.A, DAQP_SETTINGS) if self.solver_name == "daqp" else None
        self._x = None
        self._lam_x = self._lam_a = None
        self._first = True

    def _make_solver(self) -> ca.Function:
        n, m = self.n_var, self.n_con
        h_sp = ca.Sparsity.dense(n, n)
        a_sp = ca.sparsify(ca.DM(self.A)).sparsity() if m else ca.Sparsity(0, n)
        name = self.solver_name
        opts: dict = {"error_on_fail": False}
        if name == "daqp":
            opts["daqp"] = {**DAQP_SETTINGS, "eps_prox": 0.0}
        elif name == "qpoases":
            opts.update(printLevel="none", sparse=False, CPUtime=-1.0)
        elif name == "hpipm":
            opts.update(N=1, nx=[0, 0], nu=[n, 0], ng=[m, 0],
                        hpipm={"iter_max": 200, "warm_start": 1, "mode": "robust",
                               "res_g_max": 1e-8, "res_b_max": 1e-8, "res_d_max": 1e-8,
                               "res_m_max": 1e-8})
        elif name == "osqp":
            opts["osqp"] = {"verbose": False, "eps_abs": 1e-9, "eps_rel": 1e-9,
                            "max_iter": 20000, "polish": False}
            opts["warm_start_primal"] = True
            opts["warm_start_dual"] = True
        self._a_dm = ca.DM(a_sp, self.A.T[self.A.T != 0]) if m else ca.DM(0, n)
        return ca.conic(f"lmpc_{name}", name, {"h": h_sp, "a": a_sp}, opts)

    # -- per cycle -------------------------------------------------------------
    def hessian(self, cv_weight: np.ndarray, u_weight: np.ndarray) -> np.ndarray:
        """The Hessian for these weights (cached: rebuilt when they change)."""
        key = np.concatenate([cv_weight, u_weight]).tobytes()
        if key != self._weights_key:
            N, nz = self.N, self.nz
            wv = np.tile(cv_weight, N + 1) * self._stage
            H = 2 * self.Gz.T @ (wv[:, None] * self.Gz) + self._H_move
            uw = np.tile(u_weight, N)
            H += 2 * self._Tz.T @ (uw[:, None] * self._Tz)
            H += MV_REGULARISATION * np.eye(nz)
            self._H[:nz, :nz] = H
            self._H[nz:, nz:] = np.diag(self._h_slack)
            self._weights_key = key
            self._wv = wv
            self._uw = uw
        return self._H

    def solve(self, f: np.ndarray, u_prev, cv_target, u_target, cv_weight, u_weight, u_lo, u_hi,
              max_move, soft_lo, soft_hi, hard_lo, hard_hi, runner):
        """Solve for the free response ``f`` ((N + 1) n_cv) and this cycle's data.

        Returns ``(z, objective, stats)`` with ``z`` the scaled block values and
        slacks (``None`` when the solver raised), the objective of the OCP and
        the solver's statistics.
        """
        pb, nz, ix = self.problem, self.nz, self._ix
        us = pb.u_scale
        H = self.hessian(cv_weight, u_weight)
        wv, uw = self._wv, self._uw
        err = f - cv_target[ix["row_cv"]]
        v = self._v
        v[:pb.n_u] = u_prev / us
        ut = (u_target / us)[ix["stage_mv"]]
        g = self._g
        g[:nz] = self._GzT @ (2 * wv * err) - self._DT_prev @ v[:pb.n_u]
        if uw.any():
            g[:nz] -= 2 * (self._TzT @ (uw * ut))
        const = float(wv @ (err * err) + self._mw @ (v * v) + uw @ (ut * ut))
        lbx, ubx, lba, uba = self._lbx, self._ubx, self._lba, self._uba
        lbx[:nz] = np.maximum(u_lo / us, -BIG)[ix["z_mv"]]
        ubx[:nz] = np.minimum(u_hi / us, BIG)[ix["z_mv"]]
        r = self.n_rate
        if r:
            mm = max_move[self.rated][ix["rate"]]
            first = self._first_rate
            first[:len(self.rated)] = u_prev[self.rated]
            lba[:r], uba[:r] = first - mm, first + mm
        nlo, nhi = len(self._lo_idx), len(self._hi_idx)
        if nlo:
            lba[r:r + nlo] = soft_lo[ix["lo_cv"]] - f[self._lo_idx]
        r += nlo
        if nhi:
            uba[r:r + nhi] = soft_hi[ix["hi_cv"]] - f[self._hi_idx]
        r += nhi
        if len(self._hard_idx):
            fh = f[self._hard_idx]
            lba[r:] = hard_lo[self._hard_cv] - fh
            uba[r:] = hard_hi[self._hard_cv] - fh
        np.clip(lba, -BIG, BIG, out=lba)
        np.clip(uba, -BIG, BIG, out=uba)
        quiet = _quiet_stdout() if self._first else contextlib.nullcontext()
        self._first = False
        with quiet:
            # (hpipm, warm-started through the buffer interface, drifts to wrong solutions
            # after a few cycles on Column A: it gets its arguments the ordinary way)
            if isinstance(runner, InProcess) and self._daqp is not None:
                z, stats = self._daqp.solve(H, self._weights_key, g, lbx, ubx, lba, uba)
                lam_x, lam_a = self._lam_x, self._lam_a
            elif isinstance(runner, InProcess) and self.solver_name != "hpipm":
                z, lam_x, lam_a, stats = self._call_buffer(H)
            else:  # in the solver process (a time budget): the arguments travel as arrays
                args = dict(h=H, g=g, a=self._a_dm, lbx=lbx, ubx=ubx, lba=lba, uba=uba)
                if self._x is not None:
                    args.update(x0=self._x, lam_x0=self._lam_x, lam_a0=self._lam_a)
                result, stats = runner(self.solver, **args)
                z, lam_x, lam_a = (_vector(result[k]) for k in ("x", "lam_x", "lam_a"))
        ok = bool(stats.get("success", False)) and np.all(np.isfinite(z))
        if ok:
            self._x, self._lam_x, self._lam_a = z, lam_x, lam_a
        objective = float(0.5 * z @ (H @ z) + g @ z + const) if ok else float("nan")
        return z, objective, {**stats, "success": ok}

    def _call_buffer(self, H: np.ndarray):
        """The solver through casadi's buffer interface: the inputs are read from (and the
        results written to) arrays bound once, so a call costs the solve and ~10 us, not
        the ~130 us of converting ten arguments (Column A, daqp: 24 us of solving)."""
        b = self._bufs
        if self._weights_key != self._h_key:
            b["h"][:] = H.ravel(order="F")
            self._h_key = self._weights_key
        if self._x is None:
            b["x0"][:] = 0.0
            b["lam_x0"][:] = 0.0
            b["lam_a0"][:] = 0.0
        else:
            b["x0"][:], b["lam_x0"][:], b["lam_a0"][:] = self._x, self._lam_x, self._lam_a
        self._eval()
        raw = self._buffer.stats()
        stats = {k: raw[k] for k in ("success", "return_status", "iter_count") if k in raw}
        out = self._outs
        return out["x"].copy(), out["lam_x"].copy(), out["lam_a"].copy(), stats

    def _indices(self) -> None:
        """Index arrays and buffers of the per-cycle work (no tiling in the cycle)."""
        pb, N, nb = self.problem, self.N, self.nb
        nu, ncv = pb.n_u, pb.n_cv
        self._ix = {"row_cv": np.tile(np.arange(ncv), N + 1), "stage_mv": np.tile(np.arange(nu), N),
                    "z_mv": np.tile(np.arange(nu), nb),
                    "rate": np.tile(np.arange(len(self.rated)), nb),
                    "lo_cv": np.tile(np.array(self.soft_lo, dtype=int), len(self.stages)),
                    "hi_cv": np.tile(np.array(self.soft_hi, dtype=int), len(self.stages))}
        self._v = np.zeros(N * nu)
        self._g = np.empty(self.n_var)
        self._g[self.nz:] = self._g_slack
        self._lbx = np.zeros(self.n_var)
        self._ubx = np.full(self.n_var, BIG)
        self._lba = np.full(self.n_con, -BIG)
        self._uba = np.full(self.n_con, BIG)
        self._first_rate = np.zeros(self.n_rate)
        # casadi's buffer interface: each input and output bound once to an array
        self._buffer, self._eval = self.solver.buffer()
        n = self.n_var
        self._bufs = {"h": np.zeros(n * n), "g": self._g,
                      "a": np.array(self._a_dm.nonzeros(), dtype=float),
                      "lba": self._lba, "uba": self._uba, "lbx": self._lbx, "ubx": self._ubx,
                      "x0": np.zeros(n), "lam_x0": np.zeros(n), "lam_a0": np.zeros(self.n_con)}
        self._h_key = None
        for i, name in enumerate(self.solver.name_in()):
            if name in self._bufs:
                self._buffer.set_arg(i, memoryview(self._bufs[name]))
        self._outs = {name: np.zeros(self.solver.nnz_out(i))
                      for i, name in enumerate(self.solver.name_out())}
        for i, name in enumerate(self.solver.name_out()):
            self._buffer.set_res(i, memoryview(self._outs[name]))

    def reset(self) -> None:
        """Forget the warm start."""
        self._x = self._lam_x = self._lam_a = None
        if self._daqp is not None:
            self._daqp.reset()

    def moves(self, z: np.ndarray) -> np.ndarray:
        """The MVs per stage, shape (N, n_mv) [MV units]."""
        return (self._T @ z[:self.nz]).reshape(self.N, self.problem.n_u)

    def slacks(self, z: np.ndarray) -> np.ndarray:
        """Largest soft-limit violation per CV (low, high) over the horizon, shape (n_cv, 2)."""
        pb, N, nz = self.problem, self._n_sets, self.nz
        out = np.zeros((pb.n_cv, 2))
        nlo = len(self.soft_lo)
        if nlo:
            out[self.soft_lo, 0] = np.maximum(z[nz:nz + N * nlo].reshape(N, nlo).max(axis=0), 0.0)
        if self.soft_hi:
            e = z[nz + N * nlo:].reshape(N, len(self.soft_hi))
            out[self.soft_hi, 1] = np.maximum(e.max(axis=0), 0.0)
        return out
