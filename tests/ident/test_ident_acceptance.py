"""Identification of the shipped plants from noisy step tests, against their linearisations.

Each test runs a generalized binary noise (GBN) test on a plant simulated
with the compiled kernel, identifies from the data alone (through the
same function as ``twin identify``), and only then compares with the
linearisation of the plant's equations at its steady state.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import twin
from ident_support import linear_gains, step_test
from twin.core.data.table import PlantData
from twin.orchestration.identify_run import identify


def _data(time, u, y, mvs, cvs, units, source) -> PlantData:
    frame = pd.DataFrame(np.hstack([u, y]), columns=[*mvs, *cvs],
                         index=pd.Index(np.asarray(time, float), name="time"))
    return PlantData(frame, units, None, source)


def test_quadruple_tank_p_minus_gains_and_time_constants():
    """P-, level noise 0.05 cm, 1 s sampling, 2 h GBN (0.3 V, mean switching 120 s) on both pumps.

    The FIR gains and those of the model saved (the FIR realised as a state
    space) within 5 % of the linearisation; the dominant time constants of
    the diagonal pairs' transfer functions (tanks 1 and 2) within 10 %; fit
    on the held-out 30 % reported; no ill-conditioning warning.
    """
    model = twin.load_model("quadruple_tank", parameter_set="P-")
    mvs, cvs = ["v1", "v2"], ["h1", "h2"]
    u, y, steady = step_test(model, mvs, cvs, 0.3, 7200, 1.0, 120.0, 0.05, seed=1)
    data = _data(np.arange(7200.0), u, y, mvs, cvs, {"v1": "V", "v2": "V", "h1": "cm", "h2": "cm"},
                 "quadruple_tank P- GBN")
    run = identify(data, mvs, cvs, method="fir")
    transfer = identify(data, mvs, cvs, method="tf")
    truth = linear_gains(steady, mvs, cvs)
    error = run.gains.gain / truth - 1
    lin = steady.linearization
    tank_tau = -1 / np.diag(lin.A)[:2]          # A is triangular: its diagonal holds the modes
    pairs = transfer.details["transfer_functions"]
    identified_tau = np.array([pairs["h1/v1"]["time_constants_s"][0],
                               pairs["h2/v2"]["time_constants_s"][0]])
    tau_error = identified_tau / tank_tau - 1
    print(f"\nquadruple tank P-: gain errors [%] {np.round(100 * error, 2).tolist()}, "
          f"gain std [%] {np.round(100 * run.gains.gain_std / truth, 2).tolist()}; "
          f"time constants {np.round(identified_tau, 1).tolist()} s vs {np.round(tank_tau, 1).tolist()} "
          f"({np.round(100 * tau_error, 1).tolist()} %); held-out fit {run.summary()['fit_percent']}; "
          f"condition number {run.gains.condition:.2f}; tf fit {transfer.summary()['fit_percent']}")
    assert np.all(np.abs(error) < 0.05)
    assert np.all(np.abs(tau_error) < 0.10)
    assert sorted(tank_tau) == pytest.approx(sorted(lin.time_constants()[:2]))
    assert all(f > 90 for f in run.validation.fit)
    assert run.gains.warning() is None and not run.gains.ill_conditioned
    # the model saved has the same gains
    a, b, c, d = run.model.A, run.model.B, run.model.C, run.model.D
    saved = c @ np.linalg.solve(np.eye(a.shape[0]) - a, b) + d
    assert np.all(np.abs(saved / truth - 1) < 0.05)


def test_column_a_gains_and_ill_conditioning_warning():
    """Column A (LV), composition noise 1e-5, 1 min sampling, GBN of +-0.0003 kmol/min on L and V.

    The column's slowest time constant is 194 min, so the test lasts 8000 min
    (a 1000 min response is identified). Gains within 5 % element-wise; the
    RGA, singular values and condition number come with 95 % intervals; the
    ill-conditioning warning names the weak direction, L and V together.
    """
    model = twin.load_model("distillation_a")
    mvs, cvs = ["L_T", "V_B"], ["x_D", "x_B"]
    u, y, steady = step_test(model, mvs, cvs, 0.0003, 8000, 1.0, 150.0, 1e-5, seed=3)
    data = _data(60.0 * np.arange(8000), u, y, mvs, cvs,
                 {"L_T": "kmol/min", "V_B": "kmol/min", "x_D": "-", "x_B": "-"}, "column A GBN")
    run = identify(data, mvs, cvs, settling=1000 * 60.0)
    truth = linear_gains(steady, mvs, cvs)     # steady-state gains do not depend on the time unit
    error = run.gains.gain / truth - 1
    g = run.gains
    true_rga = truth * np.linalg.inv(truth).T
    split = run.split
    scaled = truth * np.outer(1 / y[:split].std(axis=0), u[:split].std(axis=0))
    true_cond = np.linalg.cond(scaled)             # with the scales the identification used
    print(f"\ncolumn A: gain errors [%] {np.round(100 * error, 2).tolist()}; "
          f"RGA11 {g.rga[0, 0]:.1f} [{g.rga_low[0, 0]:.1f}, {g.rga_high[0, 0]:.1f}] (linearisation "
          f"{true_rga[0, 0]:.1f}); singular values {np.round(g.singular_values, 4).tolist()} "
          f"[{np.round(g.sv_low, 4).tolist()}, {np.round(g.sv_high, 4).tolist()}]; condition number "
          f"{g.condition:.0f} [{g.condition_low:.0f}, {g.condition_high:.0f}] (linearisation, same "
          f"scaling: {true_cond:.0f}; unscaled {np.linalg.cond(truth):.0f}); fit {run.summary()['fit_percent']}\n{g.warning()}")
    assert np.all(np.abs(error) < 0.05)
    assert g.ill_conditioned
    assert g.warning().startswith("WARNING: ill-conditioned gain matrix")
    assert "L_T" in g.warning() and "V_B" in g.warning()
    assert np.sign(g.weak_input[0]) == np.sign(g.weak_input[1])   # L and V moved together
    assert g.rga_low[0, 0] < g.rga[0, 0] < g.rga_high[0, 0]
    assert g.condition_low < g.condition < g.condition_high
    assert np.all(g.sv_low < g.singular_values) and np.all(g.singular_values < g.sv_high)
    assert g.rga[0, 0] > 10 and true_rga[0, 0] > 10
