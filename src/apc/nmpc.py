"""The dynamic NMPC: one optimisation per control interval, two formulations.

- :class:`StructuredNMPC` solves the stage-wise transcription
  (:mod:`apc.transcription`) with fatrop (default) or IPOPT;
- :class:`DoMpcNMPC` builds the problem with do-mpc (needed for robust
  multi-stage MPC over a scenario tree) and adds what do-mpc lacks as
  constraints on its NLP: hard rate limits and move blocking.

Both give the same solution for the same specification (tested), and both
return a :class:`Plan`. Warm starts use the shifted previous solution,
primal and dual.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass

import casadi as ca
import numpy as np

from apc._dompc import do_mpc, quiet
from apc.bounded import InProcess, SolveTimeout
from apc.problem import ControlProblem
from apc.solve_failure import describe_failure
from apc.transcription import StructuredOCP

BIG = 1e20
"""Stands for an absent limit where a finite number is needed."""


class SolveStatus(enum.Enum):
    """Outcome of one optimisation."""

    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass
class Plan:
    """The optimal moves and predictions of one solve.

    Attributes
    ----------
    u : numpy.ndarray
        Planned MVs, shape (N, n_mv) [MV units].
    x : numpy.ndarray
        Predicted states at the interval ends, shape (N + 1, n_x).
    status : SolveStatus
    message : str
        The solver's own return status.
    iterations : int
    solve_time : float
        Wall-clock time of the solve [s].
    objective : float
    slack : numpy.ndarray
        Largest soft-limit violation over the horizon per CV (low, high), shape (n_cv, 2).
    """

    u: np.ndarray
    x: np.ndarray
    status: SolveStatus
    message: str
    iterations: int
    solve_time: float
    objective: float
    slack: np.ndarray


@dataclass
class Data:
    """Everything a solve depends on besides the structure (unscaled, by vector)."""

    x0: np.ndarray
    u_prev: np.ndarray
    w: np.ndarray
    p: np.ndarray
    bias: np.ndarray
    cv_target: np.ndarray
    u_target: np.ndarray
    cv_weight: np.ndarray
    u_weight: np.ndarray
    u_lo: np.ndarray
    u_hi: np.ndarray
    max_move: np.ndarray
    soft_lo: np.ndarray
    soft_hi: np.ndarray
    hard_lo: np.ndarray
    hard_hi: np.ndarray
    u_offset: np.ndarray | None = None
    """Estimated offsets of the MVs (input disturbances): the model sees ``u + u_offset``
    [MV units]; ``None`` for none. Estimated parameters are in ``p``, offsets of other
    inputs in ``w``."""


def _last_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return lines[-1][:120]


def _classify(stats: dict, elapsed: float, budget: float | None) -> SolveStatus:
    if budget is not None and elapsed > budget:
        return SolveStatus.TIMEOUT
    status = str(stats.get("return_status", ""))
    if "WallTime" in status or "Maximum_CpuTime" in status:
        return SolveStatus.TIMEOUT
    return SolveStatus.OK if stats.get("success", False) else SolveStatus.FAILED


class StructuredNMPC:
    """NMPC on the stage-wise transcription, solved by fatrop or IPOPT."""

    def __init__(self, problem: ControlProblem, solver: str = "fatrop"):
        self.problem = problem
        self.ocp = ocp = StructuredOCP(problem)
        s = problem.spec.solver
        self.solver_name = solver
        self.budget = s.time_budget
        if solver == "fatrop":
            base = {"structure_detection": "manual", "N": ocp.N, "nx": ocp.layout.nx,
                    "nu": ocp.layout.nu, "ng": ocp.layout.ng, "equality": ocp.layout.equality,
                    "expand": True, "print_time": False}
            fat = {"print_level": 0, "tolerance": s.tol, "max_iter": s.max_iter}
            self._cold = ca.nlpsol("nmpc_fatrop", "fatrop", ocp.nlp, {**base, "fatrop": fat})
            warm = {**fat, "mu_init": 1e-8, "bound_push": 1e-9}
            self._warm = ca.nlpsol("nmpc_fatrop_warm", "fatrop", ocp.nlp, {**base, "fatrop": warm}) \
                if s.warm_start else self._cold
        else:
            ipopt = {"ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False, "expand": True,
                     "ipopt.tol": s.tol, "ipopt.max_iter": s.max_iter}
            if s.time_budget is not None:
                ipopt["ipopt.max_wall_time"] = s.time_budget
            self._cold = ca.nlpsol("nmpc_ipopt", "ipopt", ocp.nlp, ipopt)
            self._warm = ca.nlpsol("nmpc_ipopt_warm", "ipopt", ocp.nlp, {
                **ipopt, "ipopt.warm_start_init_point": "yes", "ipopt.mu_init": 1e-8,
                "ipopt.warm_start_bound_push": 1e-9, "ipopt.warm_start_mult_bound_push": 1e-9,
            }) if s.warm_start else self._cold
        self._last = None  # (w, lam_x, lam_g) of the last successful solve
        self.runner = InProcess()

    @property
    def functions(self) -> list:
        """The solver functions (for a :class:`~apc.bounded.BoundedSolves`)."""
        return [self._cold] if self._warm is self._cold else [self._cold, self._warm]

    def reset(self) -> None:
        """Forget the warm start."""
        self._last = None

    def solve(self, data: Data) -> Plan:
        ocp = self.ocp
        p = ocp.parameters(data.x0, data.u_prev, data.w, data.p, data.bias, data.cv_target,
                           data.u_target, data.cv_weight, data.u_weight, data.u_offset)
        lbx, ubx, lbg, ubg = ocp.bounds(data.u_lo, data.u_hi, data.max_move, data.soft_lo,
                                        data.soft_hi, data.hard_lo, data.hard_hi)
        args = dict(p=p, lbx=lbx, ubx=ubx, lbg=lbg, ubg=ubg)
        if self._last is not None:
            w0, lx, lg = ocp.shift(*self._last)
            solver = self._warm
            args.update(x0=np.clip(w0, lbx, ubx), lam_x0=lx, lam_g0=lg)
        else:
            solver = self._cold
            args.update(x0=np.clip(ocp.initial_guess(data.x0, data.u_prev), lbx, ubx))
        t0 = time.perf_counter()
        try:
            r, stats = self.runner(solver, **args)
        except SolveTimeout as exc:
            r, stats = None, {"success": False, "return_status": "Maximum_WallTime_Exceeded",
                              "timeout": str(exc)}
        except RuntimeError as exc:  # evaluation errors inside the solver
            r, stats = None, {"success": False, "return_status": _last_line(exc)}
        elapsed = time.perf_counter() - t0
        status = _classify(stats, elapsed, self.budget)
        if r is None:
            n = self.problem
            return Plan(np.full((ocp.N, n.n_u), np.nan), np.full((ocp.N + 1, n.n_x), np.nan),
                        status, stats["return_status"], 0, elapsed, np.nan,
                        np.zeros((n.n_cv, 2)))
        w = np.array(r["x"]).ravel()
        if status is SolveStatus.OK:
            self._last = (w, np.array(r["lam_x"]).ravel(), np.array(r["lam_g"]).ravel())
        parts = ocp.unpack(w)
        slack = np.zeros((self.problem.n_cv, 2))
        if ocp.soft_lo:
            slack[ocp.soft_lo, 0] = np.maximum(parts["slack_lo"].max(axis=0), 0.0)
        if ocp.soft_hi:
            slack[ocp.soft_hi, 1] = np.maximum(parts["slack_hi"].max(axis=0), 0.0)
        message = str(stats.get("return_status", ""))
        if self.solver_name == "fatrop" and status is SolveStatus.FAILED:
            message = describe_failure(stats, ocp, r, (lbx, ubx, lbg, ubg))
        return Plan(parts["u"], parts["x"], status, message,
                    int(stats.get("iter_count", 0)), elapsed, float(r["f"]), slack)


class DoMpcNMPC:
    """NMPC built with do-mpc (IPOPT), including robust multi-stage scenario trees."""

    def __init__(self, problem: ControlProblem):
        with quiet():
            self._build(problem)

    def _build(self, problem: ControlProblem) -> None:
        dm = do_mpc()
        self.problem = pb = problem
        spec, model = pb.spec, pb.model
        robust = spec.robust
        uncertain = list(robust.parameters) if robust else []
        self._uncertain_index = [model.parameters.index(n) for n in uncertain]
        self._fixed_index = [i for i in range(model.n_p) if i not in self._uncertain_index]
        m = dm.model.Model("continuous", "SX")
        xs = [m.set_variable("_x", n) for n in model.states.names]
        us = [m.set_variable("_u", mv.name) for mv in spec.mv]
        tv = {name: m.set_variable("_tvp", name, shape=(size, 1)) for name, size in (
            ("w", pb.n_w), ("p_fixed", len(self._fixed_index)), ("bias", pb.n_bias),
            ("cv_target", pb.n_cv), ("u_target", pb.n_u), ("cv_weight", pb.n_cv),
            ("u_weight", pb.n_u), ("soft_lo", pb.n_cv), ("soft_hi", pb.n_cv),
            ("hard_lo", pb.n_cv), ("hard_hi", pb.n_cv), ("u_offset", pb.n_u)) if size}
        ps = [m.set_variable("_p", n) for n in uncertain]
        p_full = [None] * model.n_p
        for k, i in enumerate(self._fixed_index):
            p_full[i] = tv["p_fixed"][k]
        for k, i in enumerate(self._uncertain_index):
            p_full[i] = ps[k]
        x = ca.vertcat(*xs)
        u = ca.vertcat(*us)
        w = tv.get("w", ca.SX(0, 1))
        p = ca.vertcat(*p_full)
        # the model sees the MVs plus their estimated offsets (input disturbances)
        for name, expr in zip(model.states.names, ca.vertsplit(pb.f(x, u + tv["u_offset"], w, p))):
            m.set_rhs(name, expr)
        m.setup()
        # after setup, expressions must use the model's own (restructured) symbols
        x = ca.vertcat(*[m.x[n] for n in model.states.names])
        u = ca.vertcat(*[m.u[mv.name] for mv in spec.mv])
        tv = {name: m.tvp[name] for name in tv}
        w = tv.get("w", ca.SX(0, 1))
        p_full = [None] * model.n_p
        for k, i in enumerate(self._fixed_index):
            p_full[i] = tv["p_fixed"][k]
        for k, (i, n) in enumerate(zip(self._uncertain_index, uncertain)):
            p_full[i] = m.p[n]
        p = ca.vertcat(*p_full)
        cv = pb.cv(x, u + tv["u_offset"], w, p)
        if pb.n_bias:
            cv = cv + ca.mtimes(pb.cv_bias, tv["bias"])
        self._tvp_names = list(tv)
        mpc = dm.controller.MPC(m)
        opts = {"ipopt.print_level": 0, "ipopt.sb": "yes", "print_time": False,
                "ipopt.tol": spec.solver.tol, "ipopt.max_iter": spec.solver.max_iter}
        if spec.solver.time_budget is not None:
            opts["ipopt.max_wall_time"] = spec.solver.time_budget
        self._warm_opts = {"ipopt.warm_start_init_point": "yes", "ipopt.mu_init": 1e-8,
                           "ipopt.warm_start_bound_push": 1e-9,
                           "ipopt.warm_start_mult_bound_push": 1e-9}
        mpc.set_param(n_horizon=spec.prediction_horizon, t_step=spec.sample_time,
                      n_robust=robust.n_robust if robust else 0, open_loop=False,
                      state_discretization="collocation", collocation_type="radau",
                      collocation_deg=spec.collocation_degree, collocation_ni=1,
                      store_full_solution=False, nlpsol_opts=opts)
        for name, value in spec.scaling.items():
            if name in model.states:
                mpc.scaling["_x", name] = value
        for mv in spec.mv:
            mpc.scaling["_u", mv.name] = mv.scale
        err = cv - tv["cv_target"]
        track = ca.dot(tv["cv_weight"], err * err)
        lterm = track + ca.dot(tv["u_weight"], ((u - tv["u_target"]) / pb.u_scale) ** 2)
        if spec.economic:
            lterm = lterm + self._economic(x, u, w, p)
        mterm_cv = ca.substitute(cv, u, tv["u_target"])  # do-mpc's terminal cost cannot see u
        err_n = mterm_cv - tv["cv_target"]
        mpc.set_objective(mterm=spec.terminal_weight * ca.dot(tv["cv_weight"], err_n * err_n),
                          lterm=lterm)
        mpc.set_rterm(**{mv.name: mv.move_weight for mv in spec.mv})
        lo, hi = pb.mv_bounds()
        for j, mv in enumerate(spec.mv):
            mpc.bounds["lower", "_u", mv.name] = lo[j]
            mpc.bounds["upper", "_u", mv.name] = hi[j]
        for i, c in enumerate(spec.cv):
            if pb.cv_is_plain_state(c):
                if c.hard_low is not None:
                    mpc.bounds["lower", "_x", c.name] = c.hard_low
                if c.hard_high is not None:
                    mpc.bounds["upper", "_x", c.name] = c.hard_high
            else:
                if c.hard_low is not None:
                    mpc.set_nl_cons(f"{c.name}__hard_lo", tv["hard_lo"][i] - cv[i], ub=0.0)
                if c.hard_high is not None:
                    mpc.set_nl_cons(f"{c.name}__hard_hi", cv[i] - tv["hard_hi"][i], ub=0.0)
            if c.low is not None:
                mpc.set_nl_cons(f"{c.name}__soft_lo", tv["soft_lo"][i] - cv[i], ub=0.0,
                                soft_constraint=True, penalty_term_cons=c.penalty)
            if c.high is not None:
                mpc.set_nl_cons(f"{c.name}__soft_hi", cv[i] - tv["soft_hi"][i], ub=0.0,
                                soft_constraint=True, penalty_term_cons=c.penalty)
        if robust:
            mpc.set_uncertainty_values(**{n: np.array(v) for n, v in robust.parameters.items()})
        self._tvp = mpc.get_tvp_template()
        mpc.set_tvp_fun(lambda t: self._tvp)
        mpc.prepare_nlp()
        self._rate_rows = self._add_move_constraints(mpc)
        mpc.create_nlp()
        self.mpc = mpc
        # SX expansion of do-mpc's MX problem makes each function evaluation cheaper
        self._cold = ca.nlpsol("S_cold", "ipopt", mpc.nlp, {**opts, "expand": True})
        self._warm = ca.nlpsol("S_warm", "ipopt", mpc.nlp, {**opts, "expand": True,
                                                             **self._warm_opts}) \
            if spec.solver.warm_start else self._cold
        self._index()
        self._started = False
        self.runner = InProcess()

    @property
    def functions(self) -> list:
        """The solver functions (for a :class:`~apc.bounded.BoundedSolves`)."""
        return [self._cold] if self._warm is self._cold else [self._cold, self._warm]

    def _economic(self, x, u, w, p):
        from twin.core import expressions, ops

        pb, model = self.problem, self.problem.model
        names = model.states.names + model.inputs.names + model.outputs.names + model.parameters.names
        expr = expressions.parse(pb.spec.economic, names, "economic")
        uf = pb.full_inputs(u, w)
        values = {**dict(zip(model.states.names, ca.vertsplit(x))),
                  **dict(zip(model.inputs.names, ca.vertsplit(uf))),
                  **dict(zip(model.parameters.names, ca.vertsplit(p)))}
        if model.n_y:
            values.update(zip(model.outputs.names, model.evaluate_outputs(
                ca.vertsplit(x), ca.vertsplit(uf), ca.vertsplit(p), ops.CASADI)))
        return expr(values, ops.CASADI)

    def _add_move_constraints(self, mpc) -> list[tuple[int, int]]:
        """Hard rate limits and move blocking as constraints on do-mpc's NLP."""
        pb = self.problem
        spec = pb.spec
        opt_x, opt_p = mpc._opt_x, mpc._opt_p
        scale = pb.u_scale
        _, n_scenarios, _, parent, _ = mpc._setup_scenario_tree()
        starts = set(np.cumsum((0,) + spec.blocks()[:-1]).tolist())
        rated = [j for j, m in enumerate(spec.mv) if m.max_move is not None]
        rows: list[tuple[int, int]] = []  # (first row, k) of each rate block
        n_rows = sum(int(np.prod(c.shape)) for c in mpc._nlp_cons)
        for k in range(spec.prediction_horizon):
            for s in range(n_scenarios[k]):
                u_k = opt_x["_u", k, s]
                u_before = opt_p["_u_prev"] / scale if k == 0 else opt_x["_u", k - 1, parent[k][s]]
                move = (u_k - u_before) * scale
                if rated:
                    mpc._nlp_cons.append(move[rated])
                    mpc._nlp_cons_lb.append(-pb.max_moves()[rated])
                    mpc._nlp_cons_ub.append(pb.max_moves()[rated])
                    rows.append((n_rows, len(rated)))
                    n_rows += len(rated)
                if k not in starts:
                    mpc._nlp_cons.append(move)
                    mpc._nlp_cons_lb.append(np.zeros(pb.n_u))
                    mpc._nlp_cons_ub.append(np.zeros(pb.n_u))
                    n_rows += pb.n_u
        return rows

    def reset(self) -> None:
        """Forget the warm start."""
        self._started = False
        self.mpc.flags["initial_run"] = False

    def solve(self, data: Data) -> Plan:
        with quiet():
            return self._solve(data)

    def _index(self) -> None:
        """Flat positions in do-mpc's NLP vector, computed once (struct access is slow)."""
        mpc, pb = self.mpc, self.problem
        N = pb.spec.prediction_horizon
        f = mpc._opt_x.f
        self._u_idx = np.array([f["_u", k, 0] for k in range(N)], dtype=int)
        self._x_idx = np.array([f["_x", k, 0, -1] for k in range(N + 1)], dtype=int)
        n = mpc._opt_x.shape[0]
        shift = np.arange(n)
        for key in ("_x", "_u", "_eps"):
            if key not in mpc._opt_x.keys():
                continue
            stages = len(mpc.opt_x_num[key])
            for k in range(stages - 1):
                src = np.ravel(f[key, k + 1]).astype(int)
                dst = np.ravel(f[key, k]).astype(int)
                if len(src) == len(dst):
                    shift[dst] = src
        self._shift_idx = shift
        self._u_all = np.ravel(f["_u"]).astype(int)
        fp = mpc._opt_p.f
        self._p_x0 = np.ravel(fp["_x0"]).astype(int)
        self._p_u_prev = np.ravel(fp["_u_prev"]).astype(int)
        self._p_tvp = {name: np.array([np.ravel(fp["_tvp", k, name]) for k in range(N + 1)],
                                      dtype=int) for name in self._tvp_names}
        base = mpc._opt_p(0)
        base["_p"] = mpc.p_fun(0.0)["_p"]
        self._p_base = np.array(base.cat).ravel()
        self._eps_idx: dict[tuple[int, int], np.ndarray] = {}
        if mpc.n_eps:
            eps = mpc.opt_x_num["_eps"]
            for i, c in enumerate(pb.spec.cv):
                for col, suffix in ((0, "soft_lo"), (1, "soft_hi")):
                    key = f"{c.name}__{suffix}"
                    if key in mpc._eps.keys():
                        self._eps_idx[(i, col)] = np.array(
                            [f["_eps", k, s, key] for k in range(len(eps))
                             for s in range(len(eps[k]))], dtype=int).ravel()

    def _solve_dompc(self) -> dict:
        """do-mpc's ``MPC.solve`` through the runner: the same arguments and the same
        attributes updated (primal, constraint values and multipliers for the warm start)."""
        mpc = self.mpc
        args = dict(x0=mpc.opt_x_num, lbx=mpc._lb_opt_x, ubx=mpc._ub_opt_x, lbg=mpc.nlp_cons_lb,
                    ubg=mpc.nlp_cons_ub, p=mpc.opt_p_num)
        if mpc.flags["initial_run"]:
            args.update(lam_x0=mpc.lam_x_num, lam_g0=mpc.lam_g_num)
        args = {k: np.array(ca.DM(v.cat if hasattr(v, "cat") else v)).ravel()
                for k, v in args.items()}
        r, stats = self.runner(mpc.S, **args)
        mpc.opt_x_num.master = ca.DM(r["x"])
        mpc.opt_x_num_unscaled.master = ca.DM(r["x"]) * mpc.opt_x_scaling
        mpc.opt_g_num = ca.DM(r["g"])
        mpc.lam_g_num = ca.DM(r["lam_g"])
        mpc.lam_x_num = ca.DM(r["lam_x"])
        mpc.solver_stats = stats
        mpc.flags["initial_run"] = True
        return stats

    def _shift(self) -> None:
        """Move the previous solution one interval ahead (primal and dual)."""
        mpc = self.mpc
        x = np.array(mpc.opt_x_num.cat).ravel()
        mpc.opt_x_num.master = ca.DM(x[self._shift_idx])
        if mpc.lam_x_num is not None:
            lam = np.array(mpc.lam_x_num).ravel()
            mpc.lam_x_num = ca.DM(lam[self._shift_idx])

    def _solve(self, data: Data) -> Plan:
        pb, mpc = self.problem, self.mpc
        values = {"w": data.w, "p_fixed": data.p[self._fixed_index], "bias": data.bias,
                  "cv_target": data.cv_target, "u_target": data.u_target,
                  "cv_weight": data.cv_weight, "u_weight": data.u_weight,
                  "soft_lo": np.nan_to_num(data.soft_lo, neginf=-BIG, posinf=BIG),
                  "soft_hi": np.nan_to_num(data.soft_hi, neginf=-BIG, posinf=BIG),
                  "hard_lo": np.nan_to_num(data.hard_lo, neginf=-BIG, posinf=BIG),
                  "hard_hi": np.nan_to_num(data.hard_hi, neginf=-BIG, posinf=BIG),
                  "u_offset": np.zeros(pb.n_u) if data.u_offset is None else data.u_offset}
        p_vec = self._p_base.copy()  # flat writes: casadi.tools struct access is slow
        for name in self._tvp_names:
            p_vec[self._p_tvp[name]] = values[name]
        p_vec[self._p_x0] = data.x0
        p_vec[self._p_u_prev] = data.u_prev
        mpc.opt_p_num.master = ca.DM(p_vec)
        scale = pb.u_scale
        n_u_entries = self._u_all.size // pb.n_u
        lbx = np.array(mpc._lb_opt_x.cat).ravel()
        ubx = np.array(mpc._ub_opt_x.cat).ravel()
        lbx[self._u_all] = np.tile(data.u_lo / scale, n_u_entries)
        ubx[self._u_all] = np.tile(data.u_hi / scale, n_u_entries)
        mpc._lb_opt_x.master, mpc._ub_opt_x.master = ca.DM(lbx), ca.DM(ubx)
        lb = np.array(mpc.nlp_cons_lb).ravel()
        ub = np.array(mpc.nlp_cons_ub).ravel()
        for first, n in self._rate_rows:
            rated = [j for j, m in enumerate(pb.spec.mv) if m.max_move is not None]
            lb[first:first + n] = -data.max_move[rated]
            ub[first:first + n] = data.max_move[rated]
        mpc._nlp_cons_lb, mpc._nlp_cons_ub = ca.DM(lb), ca.DM(ub)
        if not self._started:
            mpc.opt_x_num["_x"] = data.x0 / pb.x_scale
            mpc.opt_x_num["_u"] = data.u_prev / scale
            mpc.S = self._cold
            self._started = True
        elif mpc.flags["initial_run"]:
            self._shift()
            mpc.S = self._warm
        t0 = time.perf_counter()
        try:
            stats = self._solve_dompc()
        except SolveTimeout as exc:
            stats = {"success": False, "return_status": "Maximum_WallTime_Exceeded",
                     "timeout": str(exc)}
        except RuntimeError as exc:
            stats = {"success": False, "return_status": _last_line(exc)}
        elapsed = time.perf_counter() - t0
        status = _classify(stats, elapsed, pb.spec.solver.time_budget)
        solution = np.array(mpc.opt_x_num.cat).ravel()
        u = solution[self._u_idx] * scale
        x = solution[self._x_idx] * pb.x_scale
        slack = np.zeros((pb.n_cv, 2))
        for (i, col), idx in self._eps_idx.items():
            slack[i, col] = max(float(solution[idx].max()), 0.0) if idx.size else 0.0
        if status is not SolveStatus.OK:
            mpc.flags["initial_run"] = False  # do not warm start from a failed point
            mpc.S = self._cold
        objective = float("nan")
        return Plan(u, x, status, str(stats.get("return_status", "")),
                    int(stats.get("iter_count", 0)), elapsed, objective, slack)


def make_nmpc(problem: ControlProblem):
    """The NMPC of the backend the specification asks for."""
    backend = problem.spec.backend()
    if backend == "do-mpc":
        return DoMpcNMPC(problem)
    if backend in ("sqp", "rti"):
        from apc.sqp import SqpNMPC

        return SqpNMPC(problem, backend)
    return StructuredNMPC(problem, "fatrop")
