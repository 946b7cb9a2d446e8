"""Identified models of the quadruple tank for the tests of model files and of the NMPC.

Two ways to an :class:`~apc.ident.model_file.IdentifiedModel` of the
quadruple tank ``P-`` at its operating point (v1 = v2 = 3 V):

- :func:`linearised_model`: the exact zero-order-hold discretisation of the
  twin's own linearisation (a cross-check of the loading, not an identification);
- :func:`identified_model`: identified from a simulated step test with
  noisy levels: independent random binary signals on both pumps, levels
  h1 and h2 sampled every second with Gaussian noise, and a MISO
  output-error model per level (second order with real poles, common
  denominator) fitted by least squares on the simulation error and put in
  observer canonical form. (A plain ARX fit, the equation error, is biased
  by the level noise at this sample time: it gave gains 20-40 % off and a
  pole at -0.47.) This small identification lives in the tests until the
  shared identification (``twin identify``) is on main, and is then to be
  replaced by it.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.linalg import expm
from scipy.optimize import minimize
from scipy.signal import lfilter

from apc.ident.model_file import IdentifiedModel
from twin.core.simulation import make_integrator
from twin.core.steady import find_steady_state
from twin.core.symbolic import casadi_form
from twin.orchestration.registry import load_model

DT = 1.0
"""Sample time of the identification data [s]."""
NOISE_STD = 0.05
"""Standard deviation of the level measurement noise [cm]."""
AMPLITUDE = 0.5
"""Amplitude of the binary pump-voltage signals around 3 V [V]."""
MEAN_HOLD = 60.0
"""Mean time between switches of each binary signal [s]."""
SLOT = 10.0
"""The binary signals switch only at multiples of this time [s] (their shortest hold)."""
ORDER = 2
"""Order of each MISO ARX model (states per level)."""


def operating_point():
    """The quadruple tank P- and its steady state at v1 = v2 = 3 V."""
    model = load_model("quadruple_tank", parameter_set="P-")
    return model, find_steady_state(model, u=model.u0())


def linearised_model() -> IdentifiedModel:
    """The exact ZOH discretisation at 1 s of the twin's linearisation (outputs h1, h2)."""
    model, ss = operating_point()
    lin = casadi_form(model).linearize(ss.x, ss.u, model.p0())
    n, m = lin.B.shape
    block = np.zeros((n + m, n + m))
    block[:n, :n], block[:n, n:] = lin.A, lin.B
    sampled = expm(block * DT)
    c = np.zeros((2, n))
    c[0, model.states.index("h1")] = c[1, model.states.index("h2")] = 1.0
    return IdentifiedModel(
        name="quad_lin", A=sampled[:n, :n], B=sampled[:n, n:], C=c, D=np.zeros((2, m)), dt=DT,
        inputs=("v1", "v2"), outputs=("h1", "h2"), input_units=("V", "V"),
        output_units=("cm", "cm"), u0=ss.u, y0=c @ ss.x,
        provenance={"data": "linearisation of quadruple_tank P-", "method": "exact ZOH"})


def step_test(duration: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(u, y, u0, y0)``: pump voltages [V] and noisy levels h1, h2 [cm] every second.

    ``u[k]`` is held over ``[k, k+1)`` s and ``y[k]`` is measured at ``k`` s.
    """
    model, ss = operating_point()
    rng = np.random.default_rng(seed)
    n, per_slot = int(duration / DT), int(SLOT / DT)
    switches = rng.random((-(-n // per_slot), 2)) < SLOT / MEAN_HOLD
    signs = np.where(np.cumsum(switches, axis=0) % 2 == 0, 1.0, -1.0)
    signs *= rng.choice([-1.0, 1.0], size=2)
    u = ss.u + AMPLITUDE * np.repeat(signs, per_slot, axis=0)[:n]
    integrator = make_integrator(model, rtol=1e-8, atol=1e-10)
    rows = [model.states.index("h1"), model.states.index("h2")]
    x, levels = ss.x.copy(), np.empty((n, 2))
    for k in range(n):
        levels[k] = x[rows]
        x = integrator.advance(x, u[k], DT, k * DT)
    y = levels + rng.normal(0.0, NOISE_STD, size=levels.shape)
    return u, y, ss.u, ss.x[rows]


def identified_model(duration: float = 7200.0, seed: int = 7) -> IdentifiedModel:
    """A 4-state model identified from a noisy step test of ``duration`` [s] (module doc)."""
    u, y, u0, y0 = step_test(duration, seed)
    du, dy = u - u0, y - y0
    blocks = [_oe_block(dy[:, i], du) for i in range(2)]
    n = ORDER * 2
    a, b, c = np.zeros((n, n)), np.zeros((n, 2)), np.zeros((2, n))
    for i, (ai, bi) in enumerate(blocks):
        rows = slice(ORDER * i, ORDER * (i + 1))
        a[rows, rows], b[rows] = ai, bi
        c[i, ORDER * i] = 1.0
    model = IdentifiedModel(
        name="quad_id", A=a, B=b, C=c, D=np.zeros((2, 2)), dt=DT, inputs=("v1", "v2"),
        outputs=("h1", "h2"), input_units=("V", "V"), output_units=("cm", "cm"), u0=u0, y0=y0,
        provenance={"data": f"simulated step test of quadruple_tank P-, {duration:g} s, "
                            f"noise {NOISE_STD} cm", "segment": [0.0, duration],
                    "method": f"MISO output error, order {ORDER}, real poles"})
    fit = validation_fit(model, duration, seed + 1)
    return replace(model, provenance={**model.provenance, "fit": fit,
                                      "fit_data": f"a second step test, seed {seed + 1}"})


def validation_fit(model: IdentifiedModel, duration: float, seed: int) -> dict[str, float]:
    """NRMSE fit [%] per output, ``100 (1 - |y - y_sim| / |y - mean y|)``, of the model's
    simulation on another step test (its own noise realisation and input signal)."""
    u, y, u0, y0 = step_test(duration, seed)
    x, simulated = np.zeros(model.n_states), np.empty_like(y)
    for k in range(len(u)):
        simulated[k] = model.C @ x + model.y0
        x = model.A @ x + model.B @ (u[k] - model.u0)
    return {name: round(float(100 * (1 - np.linalg.norm(y[:, i] - simulated[:, i])
                                      / np.linalg.norm(y[:, i] - y[:, i].mean()))), 2)
            for i, name in enumerate(model.outputs)}


def _oe_block(y: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Observer canonical form ``(A, B)`` of the output-error model of one level.

    ``y[k] = sum_j B_j(q) / ((1 - p1 q^-1)(1 - p2 q^-1)) u_j[k] + e[k]`` with
    ``B_j(q) = b1j q^-1 + b2j q^-2``: for given poles the simulated output is
    linear in the ``b``, solved by least squares (variable projection); the two
    time constants are found by Nelder-Mead on the simulation error.
    """

    def fit(log_taus: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        poles = np.exp(-DT / np.exp(log_taus))
        den = np.poly(poles)
        columns = [lfilter(np.eye(ORDER + 1)[lag], den, u[:, j])
                   for lag in range(1, ORDER + 1) for j in range(u.shape[1])]
        regressors = np.column_stack(columns)
        b, *_ = np.linalg.lstsq(regressors, y, rcond=None)
        return float(np.sum((y - regressors @ b) ** 2)), den, b

    best = minimize(lambda z: fit(z)[0], np.log([20.0, 80.0]), method="Nelder-Mead",
                    options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    _, den, b = fit(best.x)
    a = np.zeros((ORDER, ORDER))
    a[:, 0] = -den[1:]
    a[:-1, 1:] = np.eye(ORDER - 1)
    return a, b.reshape(ORDER, u.shape[1])
