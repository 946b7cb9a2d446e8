"""Multiple shooting with the collocation condensed inside each interval: the QP of one SQP step.

The optimal-control problem is the one of :mod:`apc.transcription` (same
Radau collocation, costs, soft and hard limits, terminal cost, scaling);
only its layout differs. Stage ``k`` has as state ``s_k = (X_k, V_k)``
(node state and previous MV, scaled) and as control ``c_k = (U_k, E_lo,
E_hi)`` (MV and soft-limit slacks). The collocation states of an interval
are no variables: they are solved by Newton from ``(X_k, U_k)`` (casadi's
``fast_newton`` rootfinder, to ``NEWTON_TOL``), and the interval's map ``X_{k+1} = Phi(X_k, U_k)`` and the
collocation states' sensitivities come from the implicit-function theorem
(written out per interval, first and second order). At a converged point
this is the transcription's solution, collocation states included.

One casadi function, compiled to C once and cached (:func:`compiled`),
evaluates all intervals (``Function.map``) and gives the
stage-wise QP data in the deltas of the variables, ordered as hpipm wants
them (``[s_0, c_0, s_1, c_1, ..., s_N]``, each interval's gap rows followed
by its stage constraints); a second one assembles the QP and solves it by
hpipm. The Hessian is the exact Hessian of the Lagrangian per stage (the
least-squares costs contribute their Gauss-Newton part plus the curvature of
the CVs, the interval maps and the collocation-state bounds theirs);
:mod:`apc.sqp` makes each block positive semi-definite when hpipm refuses it. The
terminal cost is Gauss-Newton; the slack penalties are linear.
"""

from __future__ import annotations

import logging

import casadi as ca
import numpy as np

from apc.problem import ControlProblem
from apc.transcription import StructuredOCP, collocation_coefficients
from twin.core.errors import InputError
from twin.core.kernels.cache import CompilerUnavailable, compile_shared

_log = logging.getLogger(__name__)

NEWTON_TOL = 1e-13
"""Collocation residual [scaled states] the Newton iterations of an interval stop at; a
linearisation whose largest residual stays above 1e3 times this is refused."""
MAX_UNKNOWNS = 48
"""Most collocation states per interval (states x degree) the symbolic sensitivities take."""
OBJ_SCALE = 1e3
"""The QP objective is multiplied by this before hpipm sees it, so that its absolute stopping
tolerances are tighter relative to the problem (the multipliers are scaled back)."""
QP_TOL = 1e-10
"""hpipm's stopping tolerances (residuals of the scaled QP)."""
QP_TOL_LOOSE = 1e-8
"""The tolerances of the second attempt when hpipm does not meet ``QP_TOL``."""
QP_INF = 1e3
"""What hpipm is given for an absent bound of a step [scaled units] (it needs a number; with
1e8 its iterations stall, with 1e4 its tolerances are not met). A step that reaches it is
refused (:mod:`apc.sqp`)."""


class ShootingQP:
    """The condensed multiple-shooting QP of a :class:`ControlProblem`.

    Attributes
    ----------
    ocp : StructuredOCP
        The lifted transcription (its index sets, parameter vector and bounds are shared).
    linearise : casadi.Function
        ``(w, zg, p, lbw, ubw, lbg, ubg, lam) -> (h, h_end, g, jac_next, jac_g, lba, uba, lbx,
        ubx, f, viol, z)``: every interval's collocation solved by Newton from the guesses
        ``zg``, and the QP data at ``w`` as dense stage blocks: the Hessian of the Lagrangian
        per stage (multipliers ``lam``, shape (n_s + n_g, N)), the terminal Hessian, the
        gradient, the Jacobians of the interval maps and stage constraints, the QP's bounds,
        the objective, the l1 infeasibility and the solved collocation states.
    step, step_loose : casadi.Function
        ``(h, h_end, g, jac_next, jac_g, lba, uba, lbx, ubx, dw0) -> (dw, lam)``: the QP,
        assembled in hpipm's layout and solved by hpipm (warm-started at ``dw0``), with the
        tolerances ``QP_TOL`` and ``QP_TOL_LOOSE``.
    """

    def __init__(self, problem: ControlProblem, qp_options: dict | None = None):
        self.problem = pb = problem
        if pb.n_x * pb.spec.collocation_degree > MAX_UNKNOWNS:
            raise InputError(
                f"solver.backend '{pb.spec.solver.backend}': {pb.n_x} states x collocation degree "
                f"{pb.spec.collocation_degree} is more than {MAX_UNKNOWNS} collocation unknowns per "
                "interval (their sensitivities are formed symbolically); use 'fatrop'")
        self.ocp = ocp = StructuredOCP(problem)
        spec = pb.spec
        self.N = N = ocp.N
        d = ocp.degree
        nx, nu = pb.n_x, pb.n_u
        self.nx, self.nu = nx, nu
        self.nlo, self.nhi = nlo, nhi = len(ocp.soft_lo), len(ocp.soft_hi)
        self.ns = ns = nx + nu  # stage state (X, V)
        self.nc = nc = nu + nlo + nhi  # stage control (U, E_lo, E_hi)
        self.nz = nz = ns + nc
        x_lo, x_hi = ocp._state_bounds()
        self.zb = zb = [i for i in range(nx) if np.isfinite(x_lo[i]) or np.isfinite(x_hi[i])]
        self.n_block = nu if ocp.blocked else 0
        self.nrow = {"soft_lo": nlo, "soft_hi": nhi, "hard": len(ocp.hard_rows),
                     "rate": len(ocp.rated), "block": self.n_block, "zb": len(zb) * d}
        self.ng = ng = sum(self.nrow.values())
        self.n_w = N * nz + ns
        self.n_a = N * (ns + ng)
        self.d = d

        # -- one interval: collocation by Newton; map, sensitivities and curvature by the IFT -----
        tau, C, D = collocation_coefficients(d)
        xs, us = pb.x_scale, pb.u_scale
        n_par = ocp.nlp["p"].shape[0]
        parts = ocp._p_parts
        X, V, U = ca.SX.sym("X", nx), ca.SX.sym("V", nu), ca.SX.sym("U", nu)
        Elo, Ehi = ca.SX.sym("Elo", nlo), ca.SX.sym("Ehi", nhi)
        Z = ca.SX.sym("Z", nx * d)
        Ps = ca.SX.sym("P", n_par)
        _, _, w_, p_, bias_, cvt_, ut_, cvw_, uw_, uo_ = (
            Ps[int(a):int(b)] for a, b in zip(parts[:-1], parts[1:]))
        ws, ps = ca.SX.sym("w", pb.n_w), ca.SX.sym("p", pb.model.n_p)
        os_ = ca.SX.sym("u_offset", nu)  # estimated MV offsets: the model sees U * us + offset
        y = ca.vertcat(X, U)
        pts = [X] + [Z[j * nx:(j + 1) * nx] for j in range(d)]
        res = []
        for j in range(1, d + 1):
            slope = sum(C[r, j] * pts[r] for r in range(d + 1))
            res.append(ocp.dt * pb.f(pts[j] * xs, U * us + os_, ws, ps) / xs - slope)
        G = ca.vertcat(*res)
        residual = ca.Function("colloc_residual", [Z, ca.vertcat(X, U, ws, ps, os_)], [G])
        self.newton = ca.rootfinder("colloc_newton", "fast_newton", residual,
                                    {"abstol": NEWTON_TOL, "abstolStep": 1e-15, "max_iter": 30})
        G = ca.substitute(G, ca.vertcat(ws, ps, os_), ca.vertcat(w_, p_, uo_))
        phi = D[0] * X + sum(D[j] * Z[(j - 1) * nx:j * nx] for j in range(1, d + 1))
        cvk = pb.cv(X * xs, U * us + uo_, w_, p_)
        if pb.n_bias:
            cvk = cvk + ca.mtimes(ca.DM(pb.cv_bias), bias_)
        move_w = np.array([m.move_weight for m in spec.mv])
        resid = ca.vertcat(ca.sqrt(cvw_) * (cvk - cvt_), np.sqrt(move_w) * (U - V),
                           ca.sqrt(uw_) * (U - ut_ / us))
        pen_lo = np.array([spec.cv[i].penalty for i in ocp.soft_lo])
        pen_hi = np.array([spec.cv[i].penalty for i in ocp.soft_hi])
        rows = []
        if nlo:
            rows.append(cvk[ocp.soft_lo] + Elo)
        if nhi:
            rows.append(cvk[ocp.soft_hi] - Ehi)
        if ocp.hard_rows:
            rows.append(cvk[ocp.hard_rows])
        if ocp.rated:
            rows.append((U[ocp.rated] - V[ocp.rated]) * us[ocp.rated])
        if self.n_block:
            rows.append(U - V)
        if zb:
            rows.append(ca.vertcat(*[Z[j * nx:(j + 1) * nx][zb] for j in range(d)]))
        gk = ca.vertcat(*rows) if rows else ca.SX(0, 1)
        z = ca.vertcat(X, V, U, Elo, Ehi)
        nxt = ca.vertcat(phi, U)
        fk = ca.sumsqr(resid) + (ca.dot(pen_lo, Elo) if nlo else 0) + \
            (ca.dot(pen_hi, Ehi) if nhi else 0)
        lam_gap, lam_g = ca.SX.sym("lam_gap", ns), ca.SX.sym("lam_g", ng)
        # Z(y) solves G(Z, y) = 0: Z_y = -G_Z^-1 G_y; the curvature of a'Z(y) is T' H(mu'G) T
        # with T = [I; Z_y] and the adjoint mu = -G_Z^-T a (implicit-function theorem)
        GZ_inv = ca.solve(ca.jacobian(G, Z), ca.SX.eye(nx * d))
        Zy = -ca.mtimes(GZ_inv, ca.jacobian(G, y))
        Sy = np.zeros((nx + nu, nz))
        Sy[:nx, :nx] = np.eye(nx)
        Sy[nx:, ns:ns + nu] = np.eye(nu)
        dZ = ca.mtimes(Zy, Sy)  # dZ/dz

        def total_jacobian(expr):
            return ca.jacobian(expr, z) + ca.mtimes(ca.jacobian(expr, Z), dZ)

        lagr = fk + ca.dot(lam_gap, nxt) + ca.dot(lam_g, gk)
        a = ca.jacobian(lagr, Z).T  # lagr is linear in Z
        mu = -ca.mtimes(GZ_inv.T, a)
        mu_s = ca.SX.sym("mu", nx * d)
        Hmu = ca.hessian(ca.dot(mu_s, G), ca.vertcat(y, Z))[0]
        T = ca.vertcat(ca.SX.eye(nx + nu), Zy)
        Hy = ca.substitute(ca.mtimes([T.T, Hmu, T]), mu_s, mu)
        hess = ca.hessian(lagr, z)[0] + ca.mtimes([Sy.T, Hy, Sy])
        stage = ca.Function(
            "shooting_stage", [X, V, U, Elo, Ehi, Z, Ps, lam_gap, lam_g],
            [nxt, total_jacobian(nxt), gk, total_jacobian(gk), hess, ca.gradient(fk, z), fk,
             ca.norm_inf(G)],
            ["x", "v", "u", "elo", "ehi", "z", "p", "lam_gap", "lam_g"],
            ["next", "jac_next", "g", "jac_g", "h", "q", "f", "residual"])
        self.stage = stage
        # terminal cost: tracking at (X_N, V_N), weighted by terminal_weight
        cvN = pb.cv(X * xs, V * us + uo_, w_, p_)
        if pb.n_bias:
            cvN = cvN + ca.mtimes(ca.DM(pb.cv_bias), bias_)
        rN = np.sqrt(spec.terminal_weight) * ca.sqrt(cvw_) * (cvN - cvt_)
        sN_ = ca.vertcat(X, V)
        JN = ca.jacobian(rN, sN_)
        terminal = ca.Function("shooting_terminal", [X, V, Ps],
                               [2 * ca.mtimes(JN.T, JN), 2 * ca.mtimes(JN.T, rN), ca.sumsqr(rN)])

        # -- the QP's layout: hpipm's sparsity, filled by one gather from the stage blocks ------
        self.h_sparsity, self.h_index, self.a_sparsity, self.a_index = self._layout()

        # -- the whole horizon: one call evaluates every interval --------------------------------
        w = ca.MX.sym("w", self.n_w)
        zg = ca.MX.sym("zg", nx * d, N)
        P = ca.MX.sym("P", n_par)
        lbw, ubw = ca.MX.sym("lbw", self.n_w), ca.MX.sym("ubw", self.n_w)
        lbg, ubg = ca.MX.sym("lbg", ng, N), ca.MX.sym("ubg", ng, N)
        lam = ca.MX.sym("lam", ns + ng, N)
        W = ca.reshape(w[:N * nz], nz, N)
        sN = w[N * nz:]
        Xa, Va, Ua = W[:nx, :], W[nx:ns, :], W[ns:ns + nu, :]
        Eloa, Ehia = W[ns + nu:ns + nu + nlo, :], W[ns + nu + nlo:, :]
        wp = ca.repmat(ca.vertcat(P[int(parts[2]):int(parts[4])], P[int(parts[9]):int(parts[10])]),
                       1, N)
        z_all = self.newton.map(N, "serial")(zg, ca.vertcat(Xa, Ua, wp))
        nxt_all, jn, g_all, jg, h_all, q_all, f_all, res_all = stage.map(N, "serial")(
            Xa, Va, Ua, Eloa, Ehia, z_all, P, lam[:ns, :], lam[ns:, :])
        hN, qN, fN = terminal(sN[:nx], sN[nx:], P)
        s_next = ca.horzcat(W[:ns, 1:], sN) if N > 1 else sN
        defect = nxt_all - s_next  # (ns, N)
        lba = ca.vec(ca.vertcat(-defect, lbg - g_all))
        uba = ca.vec(ca.vertcat(-defect, ubg - g_all))
        g_rows = ca.vec(g_all)
        viol = (ca.sum1(ca.sum2(ca.fabs(defect)))
                + ca.sum1(ca.fmax(ca.vec(lbg) - g_rows, 0) + ca.fmax(g_rows - ca.vec(ubg), 0))
                + ca.sum1(ca.fmax(lbw - w, 0) + ca.fmax(w - ubw, 0)))
        h_nz = ca.vertcat(ca.vec(h_all), ca.vec(hN))[self.h_index.tolist()]
        a_nz = ca.vertcat(ca.vec(jn), ca.vec(jg), -1)[self.a_index.tolist()]
        self.linearise = compiled(ca.Function(
            "shooting_linearise", [w, zg, P, lbw, ubw, lbg, ubg, lam],
            [h_all, hN, ca.vertcat(ca.vec(q_all), qN), h_nz, a_nz, lba, uba, lbw - w, ubw - w,
             ca.sum2(f_all) + fN, viol, z_all, ca.mmax(res_all)],
            ["w", "zg", "p", "lbw", "ubw", "lbg", "ubg", "lam"],
            ["h", "h_end", "g", "h_nz", "a_nz", "lba", "uba", "lbx", "ubx", "f", "viol", "z",
             "residual"]))

        # -- the QP, solved by hpipm ---------------------------------------------------------------
        hq, aq = ca.MX.sym("h_nz", self.h_sparsity.nnz()), ca.MX.sym("a_nz", self.a_sparsity.nnz())
        gq = ca.MX.sym("g", self.n_w)
        lbas, ubas = ca.MX.sym("lba", self.n_a), ca.MX.sym("uba", self.n_a)
        lbx, ubx, dw0 = (ca.MX.sym(n, self.n_w) for n in ("lbx", "ubx", "dw0"))
        names_in = ["h_nz", "g", "a_nz", "lba", "uba", "lbx", "ubx", "dw0"]
        qp_in = ca.Function("shooting_qp_data", [hq, gq, aq, lbas, ubas, lbx, ubx, dw0],
                            [ca.MX(self.h_sparsity, OBJ_SCALE * hq), OBJ_SCALE * gq,
                             ca.MX(self.a_sparsity, aq), lbas, ubas, lbx, ubx, dw0])
        xq, lq = ca.MX.sym("x", self.n_w), ca.MX.sym("lam_a", self.n_a)
        qp_out = ca.Function("shooting_qp_result", [xq, lq],
                             [xq, ca.reshape(lq, ns + ng, N) / OBJ_SCALE])

        def qp_function(name: str, tol: float) -> ca.Function:
            opts = {"N": N, "nx": [ns] * (N + 1), "nu": [nc] * N + [0], "ng": [ng] * N + [0],
                    "inf": QP_INF, "error_on_fail": True, "print_time": False,
                    "hpipm": {"mode": "speed", "iter_max": 100, "warm_start": 1,
                              "res_g_max": tol, "res_b_max": tol, "res_d_max": tol,
                              "res_m_max": tol, **(qp_options or {})}}
            return QPStep(name, names_in, qp_in.serialize(), qp_out.serialize(),
                          self.h_sparsity.serialize(), self.a_sparsity.serialize(), opts)

        self.step_recipe = qp_function("shooting_qp", QP_TOL)
        self.step_loose_recipe = qp_function("shooting_qp_loose", QP_TOL_LOOSE)
        self.step = self.step_recipe.build()
        self.step_loose = self.step_loose_recipe.build()

    def _layout(self):
        """hpipm's sparsity of the Hessian and the constraint matrix, and where each of their
        nonzeros comes from: ``vec(h), vec(h_end)`` and ``vec(jac_next), vec(jac_g), -1``
        (the -1 of the next stage's state in each gap row)."""
        N, nz, ns, ng = self.N, self.nz, self.ns, self.ng
        n_hb, n_jn, n_jg = nz * nz * N, ns * nz * N, ng * nz * N
        codes = 2 + np.arange(n_hb + ns * ns + n_jn + n_jg, dtype=float)  # 2, 3, ...: not -1
        hb = ca.DM(codes[:n_hb].reshape(nz, nz * N, order="F"))
        hN = ca.DM(codes[n_hb:n_hb + ns * ns].reshape(ns, ns, order="F"))
        o = n_hb + ns * ns
        jn = codes[o:o + n_jn].reshape(ns, nz * N, order="F")
        jg = codes[o + n_jn:].reshape(ng, nz * N, order="F")
        H = ca.diagcat(*[hb[:, k * nz:(k + 1) * nz] for k in range(N)], hN)
        rows = []
        for k in range(N):
            left, right = k * nz, self.n_w - k * nz - nz - ns
            gap = np.hstack([np.zeros((ns, left)), jn[:, k * nz:(k + 1) * nz], -np.eye(ns),
                             np.zeros((ns, right))])
            rows.append(ca.sparsify(ca.DM(gap)))
            if ng:
                rows.append(ca.sparsify(ca.DM(np.hstack([
                    np.zeros((ng, left)), jg[:, k * nz:(k + 1) * nz], np.zeros((ng, ns + right))]))))
        A = ca.vertcat(*rows)
        h_src = np.array(H.nonzeros(), dtype=int) - 2
        a_vals = np.array(A.nonzeros())
        a_src = np.where(a_vals == -1, n_jn + n_jg, a_vals.astype(int) - 2 - n_hb - ns * ns)
        return H.sparsity(), h_src, A.sparsity(), a_src

    # -- data -----------------------------------------------------------------------------------
    def slices(self):
        """Positions of X, V, U, E_lo, E_hi of stage ``k`` in the flat vector (function of k)."""
        nz, ns, nx, nu, nlo = self.nz, self.ns, self.nx, self.nu, self.nlo

        def at(k):
            o = k * nz
            return (slice(o, o + nx), slice(o + nx, o + ns), slice(o + ns, o + ns + nu),
                    slice(o + ns + nu, o + ns + nu + nlo), slice(o + ns + nu + nlo, o + nz))
        return at


_warned: list[str] = []


def compiled(fn: ca.Function) -> ca.Function:
    """``fn`` as C compiled once and cached per user (:mod:`twin.core.kernels.cache`); without
    a C compiler ``fn`` itself, said once in the log."""
    try:
        generator = ca.CodeGenerator(fn.name(), {"with_header": False})
        generator.add(fn)
        return ca.external(fn.name(), str(compile_shared(generator.dump(), "nmpc_" + fn.name())))
    except CompilerUnavailable as exc:
        if not _warned:
            _warned.append(str(exc))
            _log.warning("NMPC evaluations not compiled (%s); CasADi evaluates them", exc)
        return fn


class QPStep:
    """How to build a QP step function: hpipm cannot be serialised by casadi, so a child
    process (:mod:`apc.bounded`) receives this picklable recipe and builds the function."""

    def __init__(self, name: str, names_in: list[str], data: str, result: str, h: str, a: str,
                 options: dict):
        self._name, self.names_in = name, names_in
        self.data, self.result, self.h, self.a, self.options = data, result, h, a, options

    def name(self) -> str:
        return self._name

    def serialize(self) -> QPStep:
        return self

    def build(self) -> ca.Function:
        """``(h, h_end, g, jac_next, jac_g, lba, uba, lbx, ubx, dw0) -> (dw, lam)``."""
        data = ca.Function.deserialize(self.data)
        result = ca.Function.deserialize(self.result)
        qp = ca.conic(f"{self._name}_hpipm", "hpipm", {"h": ca.Sparsity.deserialize(self.h),
                                                      "a": ca.Sparsity.deserialize(self.a)},
                      self.options)
        args = data.mx_in()
        h, g, a, lba, uba, lbx, ubx, x0 = data(*args)
        sol = qp(h=h, g=g, a=a, lba=lba, uba=uba, lbx=lbx, ubx=ubx, x0=x0)
        return ca.Function(self._name, args, result(sol["x"], sol["lam_a"]), self.names_in,
                           ["dw", "lam"])
