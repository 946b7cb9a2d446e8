"""do-mpc's CSTR example, built with do-mpc alone: the stock baseline.

Written after do-mpc's ``examples/CSTR`` (template_model, template_mpc,
template_simulator, main) with the constants typed in here rather than
taken from ``plant_models.cstr``, so comparisons against it check our model
as well as our controller. Used by the ``mpc_cstr`` benchmark and by the
reproduction test of the APC layer.
"""

from __future__ import annotations

import warnings

import casadi as ca
import numpy as np

X0 = np.array([0.8, 0.5, 134.14, 130.0])


def _do_mpc():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import do_mpc
    return do_mpc



def model():
    do_mpc = _do_mpc()
    m = do_mpc.model.Model("continuous")
    C_a, C_b = m.set_variable("_x", "C_a"), m.set_variable("_x", "C_b")
    T_R, T_K = m.set_variable("_x", "T_R"), m.set_variable("_x", "T_K")
    F, Q_dot = m.set_variable("_u", "F"), m.set_variable("_u", "Q_dot")
    alpha, beta = m.set_variable("_p", "alpha"), m.set_variable("_p", "beta")
    K0_ab, K0_bc, K0_ad = 1.287e12, 1.287e12, 9.043e9
    E_A_ab, E_A_bc, E_A_ad = 9758.3, 9758.3, 8560.0
    H_R_ab, H_R_bc, H_R_ad = 4.2, -11.0, -41.85
    Rou, Cp, Cp_k, A_R, V_R, m_k, T_in, K_w = 0.9342, 3.01, 2.0, 0.215, 10.01, 5.0, 130.0, 4032.0
    C_A0 = (5.7 + 4.5) / 2.0
    K_1 = beta * K0_ab * ca.exp(-E_A_ab / (T_R + 273.15))
    K_2 = K0_bc * ca.exp(-E_A_bc / (T_R + 273.15))
    K_3 = K0_ad * ca.exp(-alpha * E_A_ad / (T_R + 273.15))
    m.set_rhs("C_a", F * (C_A0 - C_a) - K_1 * C_a - K_3 * C_a ** 2)
    m.set_rhs("C_b", -F * C_b + K_1 * C_a - K_2 * C_b)
    m.set_rhs("T_R", (K_1 * C_a * H_R_ab + K_2 * C_b * H_R_bc + K_3 * C_a ** 2 * H_R_ad) / (-Rou * Cp)
              + F * (T_in - T_R) + K_w * A_R * (T_K - T_R) / (Rou * Cp * V_R))
    m.set_rhs("T_K", (Q_dot + K_w * A_R * (T_R - T_K)) / (m_k * Cp_k))
    m.setup()
    return m


def mpc(m, robust: bool, tol: float, nlpsol_opts: dict | None = None):
    do_mpc = _do_mpc()
    c = do_mpc.controller.MPC(m)
    c.set_param(n_horizon=20, n_robust=1 if robust else 0, open_loop=0, t_step=0.005,
                state_discretization="collocation", collocation_type="radau", collocation_deg=2,
                collocation_ni=1, store_full_solution=True,
                nlpsol_opts={"ipopt.tol": tol, "ipopt.print_level": 0, "ipopt.sb": "yes",
                             "print_time": False, **(nlpsol_opts or {})})
    c.scaling["_x", "T_R"] = 100
    c.scaling["_x", "T_K"] = 100
    c.scaling["_u", "Q_dot"] = 2000
    c.scaling["_u", "F"] = 100
    c.set_objective(mterm=(m.x["C_b"] - 0.6) ** 2, lterm=(m.x["C_b"] - 0.6) ** 2)
    c.set_rterm(F=0.1, Q_dot=1e-3)
    for name, lo in (("C_a", 0.1), ("C_b", 0.1), ("T_R", 50), ("T_K", 50)):
        c.bounds["lower", "_x", name] = lo
    for name, hi in (("C_a", 2), ("C_b", 2), ("T_K", 140)):
        c.bounds["upper", "_x", name] = hi
    c.bounds["lower", "_u", "F"], c.bounds["upper", "_u", "F"] = 5, 100
    c.bounds["lower", "_u", "Q_dot"], c.bounds["upper", "_u", "Q_dot"] = -8500, 0.0
    c.set_nl_cons("T_R", m.x["T_R"], ub=140, soft_constraint=True, penalty_term_cons=1e2)
    if robust:
        c.set_uncertainty_values(alpha=np.array([1.0, 1.05, 0.95]), beta=np.array([1.0, 1.1, 0.9]))
    else:
        c.set_uncertainty_values(alpha=np.array([1.0]), beta=np.array([1.0]))
    c.setup()
    return c


def simulator(m):
    do_mpc = _do_mpc()
    s = do_mpc.simulator.Simulator(m)
    s.set_param(t_step=0.005, integration_opts={"abstol": 1e-10, "reltol": 1e-10})
    template = s.get_p_template()
    template["alpha"], template["beta"] = 1.0, 1.0
    s.set_p_fun(lambda t: template)
    s.setup()
    return s


def closed_loop(steps: int = 50, robust: bool = True, tol: float = 1e-12,
                nlpsol_opts: dict | None = None):
    """do-mpc's own closed loop from X0; returns (states after each step, inputs, solve times [s])."""
    import time

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # do-mpc applies NumPy to CasADi values
        return _closed_loop(steps, robust, tol, nlpsol_opts, time.perf_counter)


def _closed_loop(steps, robust, tol, nlpsol_opts, clock):
    m = model()
    c, s = mpc(m, robust, tol, nlpsol_opts), simulator(m)
    x0 = X0.reshape(-1, 1)
    c.x0, s.x0 = x0, x0
    c.set_initial_guess()
    xs, us, times = [], [], []
    for _ in range(steps):
        t0 = clock()
        u = c.make_step(x0)
        times.append(clock() - t0)
        x0 = s.make_step(u)
        xs.append(np.array(x0).ravel())
        us.append(np.array(u).ravel())
    return np.array(xs), np.array(us), np.array(times)
