"""The Van de Vusse CSTR as an FMI 2.0 Co-Simulation slave, built by pythonfmu.

A second, independent implementation of the equations of Klatt & Engell
(1998) in the parameterisation of do-mpc's CSTR example (activation
temperatures, uncertainty factors ``alpha`` and ``beta``), integrated by
SciPy's LSODA inside ``do_step``. It serves as an FMU from another exporter
in the tests. Two parameters inject failures: from ``fail_after`` on
``do_step`` reports failure, from ``nan_after`` the outputs are NaN
[h; negative: never].
"""

import math

from pythonfmu import Fmi2Causality, Fmi2Slave, Fmi2Variability, Real
from pythonfmu.enums import Fmi2Status
from scipy.integrate import solve_ivp

STATES = ("C_a", "C_b", "T_R", "T_K")
PARAMETERS = {
    "k0_ab": 1.287e12, "k0_bc": 1.287e12, "k0_ad": 9.043e9, "E_ab": 9758.3, "E_bc": 9758.3,
    "E_ad": 8560.0, "H_ab": 4.2, "H_bc": -11.0, "H_ad": -41.85, "rho": 0.9342, "c_p": 3.01,
    "c_pk": 2.0, "A_R": 0.215, "V_R": 10.01, "m_k": 5.0, "k_w": 4032.0, "T_in": 130.0,
    "C_A0": 5.1, "alpha": 1.0, "beta": 1.0,
}


class CstrPy(Fmi2Slave):
    author = "process-twin tests"
    description = "Van de Vusse CSTR (independent SciPy implementation)"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.C_a, self.C_b, self.T_R, self.T_K = 0.8, 0.5, 134.14, 130.0
        self.F, self.Q_dot = 14.19, -1113.5
        for name, value in PARAMETERS.items():
            setattr(self, name, value)
        self.fail_after = -1.0
        self.nan_after = -1.0
        self.rtol = 1e-10
        for name in STATES:
            self.register_variable(Real(name, causality=Fmi2Causality.output,
                                        variability=Fmi2Variability.continuous))
        for name in ("F", "Q_dot"):
            self.register_variable(Real(name, causality=Fmi2Causality.input,
                                        variability=Fmi2Variability.continuous))
        for name in [*PARAMETERS, "fail_after", "nan_after", "rtol"]:
            self.register_variable(Real(name, causality=Fmi2Causality.parameter,
                                        variability=Fmi2Variability.tunable))

    def _rhs(self, t, x):
        c_a, c_b, t_r, t_k = x
        t_abs = t_r + 273.15
        k1 = self.beta * self.k0_ab * math.exp(-self.E_ab / t_abs)
        k2 = self.k0_bc * math.exp(-self.E_bc / t_abs)
        k3 = self.k0_ad * math.exp(-self.alpha * self.E_ad / t_abs)
        heat = k1 * c_a * self.H_ab + k2 * c_b * self.H_bc + k3 * c_a * c_a * self.H_ad
        rcp = self.rho * self.c_p
        return [
            self.F * (self.C_A0 - c_a) - k1 * c_a - k3 * c_a * c_a,
            -self.F * c_b + k1 * c_a - k2 * c_b,
            -heat / rcp + self.F * (self.T_in - t_r) + self.k_w * self.A_R * (t_k - t_r)
            / (rcp * self.V_R),
            (self.Q_dot + self.k_w * self.A_R * (t_r - t_k)) / (self.m_k * self.c_pk),
        ]

    def do_step(self, current_time, step_size):
        end = current_time + step_size
        if 0 <= self.fail_after <= end:
            self.log(f"injected failure in do_step at t = {current_time:g}", Fmi2Status.error)
            return False
        x0 = [getattr(self, n) for n in STATES]
        sol = solve_ivp(self._rhs, (current_time, end), x0, method="LSODA", rtol=self.rtol,
                        atol=self.rtol * 1e-2)
        if not sol.success:
            self.log(f"LSODA failed: {sol.message}", Fmi2Status.error)
            return False
        values = sol.y[:, -1]
        if 0 <= self.nan_after <= end:
            values = [float("nan")] * len(STATES)
        for name, value in zip(STATES, values):
            setattr(self, name, float(value))
        return True
