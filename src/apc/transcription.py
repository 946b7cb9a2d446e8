"""The dynamic optimal-control problem, transcribed stage by stage.

The same problem do-mpc builds (Radau collocation on each control
interval, tracking and move-suppression costs, soft limits with one slack
per stage, hard limits, the terminal cost), laid out so that every
constraint and cost term involves one stage only: stage ``k`` holds the
node state and the previous MV (lifted into the state, so move costs and
rate limits stay within the stage), and as controls the MV, the
collocation states and the slacks. That is the form the structure-exploiting
interior-point solver fatrop needs; IPOPT solves it too.

Variables are scaled as in do-mpc (states by ``spec.scaling``, MVs by
``mv.scale``); the problem's data (initial state, previous MV, disturbances,
parameters, biases, targets, weights, estimated MV offsets) are NLP parameters and its limits
are constraint bounds, so nothing is rebuilt at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from apc.problem import ControlProblem
from twin.core import expressions, ops


def collocation_coefficients(degree: int) -> tuple[list[float], np.ndarray, np.ndarray]:
    """Radau points (with 0 first), derivative matrix C and continuity vector D."""
    tau = [0.0] + list(ca.collocation_points(degree, "radau"))
    C = np.zeros((degree + 1, degree + 1))
    D = np.zeros(degree + 1)
    t = ca.SX.sym("t")
    for j in range(degree + 1):
        L = 1
        for r in range(degree + 1):
            if r != j:
                L *= (t - tau[r]) / (tau[j] - tau[r])
        D[j] = float(ca.Function("l", [t], [L])(1.0))
        dL = ca.Function("dl", [t], [ca.tangent(L, t)])
        for r in range(degree + 1):
            C[j, r] = float(dL(tau[r]))
    return tau, C, D


@dataclass
class Layout:
    """Where each quantity sits in the NLP vectors, stage by stage."""

    var: list[dict[str, slice]] = field(default_factory=list)
    con: list[dict[str, slice]] = field(default_factory=list)
    nx: list[int] = field(default_factory=list)
    nu: list[int] = field(default_factory=list)
    ng: list[int] = field(default_factory=list)
    equality: list[bool] = field(default_factory=list)


class StructuredOCP:
    """Builds the stage-wise NLP for a :class:`ControlProblem`.

    Attributes
    ----------
    nlp : dict
        ``{"x", "f", "g", "p"}`` for ``casadi.nlpsol``.
    layout : Layout
        Stage-wise positions (and fatrop's ``nx``, ``nu``, ``ng``, ``equality``).
    """

    def __init__(self, problem: ControlProblem):
        self.problem = pb = problem
        spec = pb.spec
        self.N = N = spec.prediction_horizon
        self.degree = d = spec.collocation_degree
        self.dt = spec.sample_time
        nx, nu, nw, ncv, nb = pb.n_x, pb.n_u, pb.n_w, pb.n_cv, pb.n_bias
        tau, C, D = collocation_coefficients(d)
        self.soft_lo = [i for i, c in enumerate(spec.cv) if c.low is not None]
        self.soft_hi = [i for i, c in enumerate(spec.cv) if c.high is not None]
        self.hard_rows = [i for i, c in enumerate(spec.cv)
                          if (c.hard_low is not None or c.hard_high is not None)
                          and not pb.cv_is_plain_state(c)]
        self.rated = [j for j, m in enumerate(spec.mv) if m.max_move is not None]
        starts = np.cumsum((0,) + spec.blocks()[:-1])
        self.blocked = [k for k in range(N) if k not in set(starts.tolist())]

        P = ca.SX.sym("P", nx + nu + nw + pb.model.n_p + nb + ncv + nu + ncv + nu + nu)
        parts = np.cumsum([0, nx, nu, nw, pb.model.n_p, nb, ncv, nu, ncv, nu, nu])
        x0, u_prev, w, p, bias, cv_target, u_target, cv_weight, u_weight, u_off = (
            P[int(a):int(b)] for a, b in zip(parts[:-1], parts[1:]))
        self._p_parts = parts
        xs, us = pb.x_scale, pb.u_scale
        econ = None
        if spec.economic:
            names = (pb.model.states.names + pb.model.inputs.names + pb.model.outputs.names
                     + pb.model.parameters.names)
            econ = expressions.parse(spec.economic, names, "economic")

        def cv_value(X, U):  # (the model sees the MVs plus their estimated offsets)
            return pb.cv(X * xs, U * us + u_off, w, p) + ca.mtimes(pb.cv_bias, bias) if nb else \
                pb.cv(X * xs, U * us + u_off, w, p)

        def tracking(X, U):
            err = cv_value(X, U) - cv_target
            return ca.dot(cv_weight, err * err)

        def economic(X, U):
            if econ is None:
                return 0
            xv, uf = X * xs, pb.full_inputs(U * us, w)
            model = pb.model
            values = {**dict(zip(model.states.names, ca.vertsplit(xv))),
                      **dict(zip(model.inputs.names, ca.vertsplit(uf))),
                      **dict(zip(model.parameters.names, ca.vertsplit(p)))}
            if model.n_y:
                ys = model.evaluate_outputs(ca.vertsplit(xv), ca.vertsplit(uf), ca.vertsplit(p),
                                            ops.CASADI)
                values.update(zip(model.outputs.names, ys))
            return econ(values, ops.CASADI)

        layout = Layout()
        w_sym, g_sym, obj = [], [], 0
        lbx, ubx = [], []
        x_lo, x_hi = self._state_bounds()
        u_lo, u_hi = pb.mv_bounds()
        n_var = n_con = 0
        move_w = np.array([m.move_weight for m in spec.mv])
        X = [ca.SX.sym(f"X{k}", nx) for k in range(N + 1)]
        V = [ca.SX.sym(f"V{k}", nu) for k in range(N + 1)]
        self._con_kinds: list[tuple[str, int]] = []  # (role, stage) per constraint block
        for k in range(N + 1):
            stage_vars: dict[str, slice] = {}

            def add_var(role, sym, lo, hi):
                nonlocal n_var
                stage_vars[role] = slice(n_var, n_var + sym.shape[0])
                n_var += sym.shape[0]
                w_sym.append(sym)
                lbx.extend(np.broadcast_to(lo, sym.shape[0]))
                ubx.extend(np.broadcast_to(hi, sym.shape[0]))

            bounded = 1 <= k <= N - 1
            add_var("x", X[k], x_lo / xs if bounded else -np.inf, x_hi / xs if bounded else np.inf)
            add_var("v", V[k], -np.inf, np.inf)
            stage_cons: dict[str, slice] = {}
            if k == N:
                obj += spec.terminal_weight * tracking(X[N], V[N])
                layout.var.append(stage_vars)
                layout.con.append(stage_cons)
                layout.nx.append(nx + nu)
                layout.nu.append(0)
                layout.ng.append(0)
                break
            U = ca.SX.sym(f"U{k}", nu)
            Z = ca.SX.sym(f"Z{k}", nx * d)
            Elo = ca.SX.sym(f"Elo{k}", len(self.soft_lo))
            Ehi = ca.SX.sym(f"Ehi{k}", len(self.soft_hi))
            add_var("u", U, u_lo / us, u_hi / us)
            colloc_bounded = k <= N - 2
            add_var("z", Z, np.tile(x_lo / xs, d) if colloc_bounded else -np.inf,
                    np.tile(x_hi / xs, d) if colloc_bounded else np.inf)
            add_var("elo", Elo, 0.0, np.inf)
            add_var("ehi", Ehi, 0.0, np.inf)

            def add_con(role, expr, equality):
                nonlocal n_con
                expr = ca.vec(expr)
                stage_cons[role] = slice(n_con, n_con + expr.shape[0])
                n_con += expr.shape[0]
                g_sym.append(expr)
                layout.equality.extend([equality] * expr.shape[0])

            pts = [X[k]] + [Z[j * nx:(j + 1) * nx] for j in range(d)]
            x_end = sum(D[r] * pts[r] for r in range(d + 1))
            add_con("gap_x", X[k + 1] - x_end, True)
            add_con("gap_v", V[k + 1] - U, True)
            if k == 0:
                add_con("init_x", X[0] - x0 / xs, True)
                add_con("init_v", V[0] - u_prev / us, True)
            colloc = []
            for j in range(1, d + 1):
                slope = sum(C[r, j] * pts[r] for r in range(d + 1))
                colloc.append(self.dt * pb.f(pts[j] * xs, U * us + u_off, w, p) / xs - slope)
            add_con("colloc", ca.vertcat(*colloc), True)
            cvk = cv_value(X[k], U)
            if self.soft_lo:
                add_con("soft_lo", cvk[self.soft_lo] + Elo, False)
            if self.soft_hi:
                add_con("soft_hi", cvk[self.soft_hi] - Ehi, False)
            if self.hard_rows:
                add_con("hard", cvk[self.hard_rows], False)
            if self.rated:
                add_con("rate", (U[self.rated] - V[k][self.rated]) * us[self.rated], False)
            if k in self.blocked:
                add_con("block", U - V[k], True)
            penalty_lo = np.array([spec.cv[i].penalty for i in self.soft_lo])
            penalty_hi = np.array([spec.cv[i].penalty for i in self.soft_hi])
            obj += (tracking(X[k], U) + ca.dot(move_w, (U - V[k]) ** 2)
                    + ca.dot(u_weight, (U - u_target / us) ** 2)
                    + (ca.dot(penalty_lo, Elo) if self.soft_lo else 0)
                    + (ca.dot(penalty_hi, Ehi) if self.soft_hi else 0)
                    + economic(X[k], U))
            layout.var.append(stage_vars)
            layout.con.append(stage_cons)
            layout.nx.append(nx + nu)
            layout.nu.append(nu + nx * d + len(self.soft_lo) + len(self.soft_hi))
            layout.ng.append(sum(s.stop - s.start for r, s in stage_cons.items()
                                 if not r.startswith("gap")))
        self.layout = layout
        self.nlp = {"x": ca.vertcat(*w_sym), "f": obj, "g": ca.vertcat(*g_sym), "p": P}
        self.lbx0, self.ubx0 = np.array(lbx, float), np.array(ubx, float)
        self.n_var, self.n_con = n_var, n_con

    # -- data ------------------------------------------------------------------
    def _state_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        pb = self.problem
        lo = np.full(pb.n_x, -np.inf)
        hi = np.full(pb.n_x, np.inf)
        for c in pb.spec.cv:
            if pb.cv_is_plain_state(c):
                i = pb.model.states.index(c.name)
                if c.hard_low is not None:
                    lo[i] = c.hard_low
                if c.hard_high is not None:
                    hi[i] = c.hard_high
        return lo, hi

    def parameters(self, x0, u_prev, w, p, bias, cv_target, u_target, cv_weight, u_weight,
                   u_offset=None) -> np.ndarray:
        """The NLP parameter vector (unscaled quantities; weights as in the cost).

        ``u_offset``: estimated offsets of the MVs (input disturbances), which the
        model adds to the MVs it is given (default zero) [MV units]."""
        if u_offset is None:
            u_offset = np.zeros(self.problem.n_u)
        return np.concatenate([np.ravel(a).astype(float) for a in
                               (x0, u_prev, w, p, bias, cv_target, u_target, cv_weight, u_weight,
                                u_offset)])

    def bounds(self, u_lo, u_hi, max_move, soft_lo, soft_hi, hard_lo, hard_hi):
        """``lbx, ubx, lbg, ubg`` for the current limits (arrays over MVs / CVs)."""
        pb = self.problem
        lbx, ubx = self.lbx0.copy(), self.ubx0.copy()
        lbg, ubg = np.zeros(self.n_con), np.zeros(self.n_con)
        for k in range(self.N):
            vs, cs = self.layout.var[k], self.layout.con[k]
            lbx[vs["u"]] = u_lo / pb.u_scale
            ubx[vs["u"]] = u_hi / pb.u_scale
            if "soft_lo" in cs:
                lbg[cs["soft_lo"]] = soft_lo[self.soft_lo]
                ubg[cs["soft_lo"]] = np.inf
            if "soft_hi" in cs:
                lbg[cs["soft_hi"]] = -np.inf
                ubg[cs["soft_hi"]] = soft_hi[self.soft_hi]
            if "hard" in cs:
                lbg[cs["hard"]] = hard_lo[self.hard_rows]
                ubg[cs["hard"]] = hard_hi[self.hard_rows]
            if "rate" in cs:
                lbg[cs["rate"]] = -max_move[self.rated]
                ubg[cs["rate"]] = max_move[self.rated]
        return lbx, ubx, lbg, ubg

    def initial_guess(self, x0: np.ndarray, u_prev: np.ndarray) -> np.ndarray:
        """States at ``x0`` and MVs at ``u_prev`` everywhere (do-mpc's initial guess)."""
        pb = self.problem
        w0 = np.zeros(self.n_var)
        xs, us = np.asarray(x0) / pb.x_scale, np.asarray(u_prev) / pb.u_scale
        for k, vs in enumerate(self.layout.var):
            w0[vs["x"]] = xs
            w0[vs["v"]] = us
            if "u" in vs:
                w0[vs["u"]] = us
                w0[vs["z"]] = np.tile(xs, self.degree)
        return w0

    def shift(self, w: np.ndarray, lam_x: np.ndarray, lam_g: np.ndarray):
        """The previous solution moved one interval ahead (the last stage repeated)."""
        w2, lx2, lg2 = w.copy(), lam_x.copy(), np.zeros_like(lam_g)
        var, con = self.layout.var, self.layout.con
        for k in range(self.N + 1):
            src = min(k + 1, self.N)
            for role, sl in var[k].items():
                s2 = var[src].get(role) if role in var[src] else var[self.N - 1][role]
                w2[sl] = w[s2]
                lx2[sl] = lam_x[s2]
            if k < self.N - 1:
                for role, sl in con[k].items():
                    if role in con[k + 1] and (con[k + 1][role].stop - con[k + 1][role].start) == (sl.stop - sl.start):
                        lg2[sl] = lam_g[con[k + 1][role]]
        return w2, lx2, lg2

    def unpack(self, w: np.ndarray) -> dict[str, np.ndarray]:
        """MV moves (N, n_mv), node states (N + 1, n_x) and slacks, unscaled."""
        pb = self.problem
        var = self.layout.var
        u = np.array([w[var[k]["u"]] for k in range(self.N)]) * pb.u_scale
        x = np.array([w[var[k]["x"]] for k in range(self.N + 1)]) * pb.x_scale
        elo = np.array([w[var[k]["elo"]] for k in range(self.N)])
        ehi = np.array([w[var[k]["ehi"]] for k in range(self.N)])
        return {"u": u, "x": x, "slack_lo": elo, "slack_hi": ehi}
