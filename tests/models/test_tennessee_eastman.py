"""The Tennessee Eastman model against Downs & Vogel's base case and an independent simulator.

The oracle is ``tep-studio`` (the revised C simulator of Bathelt, Ricker &
Jelali, compiled when it is installed with the test extra); the model never
imports it. Its states are in lbmol and MMBtu, ours in kmol and MJ.
"""

from __future__ import annotations

import numpy as np
import pytest

from plant_models.tennessee_eastman import MODEL
from te_oracle import NO_NOISE, TO_ORACLE, native_kernel
from twin.core.ops import MATH

DV_XMEAS = (0.25052, 3664.0, 4509.3, 9.3477, 26.902, 42.339, 2705.0, 75.000, 120.40, 0.33712,
            80.109, 50.000, 2633.7, 25.160, 50.000, 3102.2, 22.949, 65.731, 230.31, 341.43,
            94.599, 77.297, 32.188, 8.8933, 26.383, 6.8820, 18.776, 1.6567, 32.958, 13.823,
            23.978, 1.2565, 18.579, 2.2633, 4.8436, 2.2986, 0.01787, 0.83570, 0.09858, 53.724,
            43.828)
"""XMEAS 1-41 of the base case, Downs & Vogel (1993) Table 4."""
DV_XMV = (63.053, 53.980, 24.644, 61.302, 22.210, 40.064, 38.100, 46.534, 47.446, 41.106,
          18.114, 50.000)
"""XMV 1-12 of the base case [%], Downs & Vogel (1993) Table 3."""
DV_COST = 170.6
"""Operating cost of the base case [$/h], Downs & Vogel (1993)."""
TEMPERATURES = {8, 10, 17, 20, 21}
"""0-based XMEAS indices of temperatures (checked to 0.2 degC)."""

X0, U0, P0 = MODEL.x0(), MODEL.u0(), MODEL.p0()


def outputs(x, u=U0):
    return dict(zip(MODEL.outputs.names, MODEL.evaluate_outputs(list(x), list(u), list(P0), MATH)))


def test_the_base_case_measurements_are_downs_and_vogels():
    y = outputs(X0)
    names = MODEL.outputs.names[:41]
    for i, (name, reported) in enumerate(zip(names, DV_XMEAS)):
        if i in TEMPERATURES:
            assert abs(y[name] - reported) <= 0.2, (name, y[name], reported)
        assert abs(y[name] - reported) <= 0.005 * abs(reported), (name, y[name], reported)


def test_the_base_case_valves_and_operating_cost_are_downs_and_vogels():
    xmv = U0[:12]
    assert np.allclose(xmv, DV_XMV, atol=0.0015), xmv
    assert abs(outputs(X0)["operating_cost"] - DV_COST) <= 0.005 * DV_COST
    # Mode 1 makes G and H 50/50 by mass
    assert outputs(X0)["product_G_to_H"] == pytest.approx(1.0, abs=0.005)


def _steady_state_at_base_levels():
    """The steady state with separator and stripper levels at 50 %, their valves free.

    Open loop the stripper's inventory is an integrator (its product leaves
    at the valve's flow whatever its level) and the separator's nearly one:
    with every valve fixed the steady states form a line. Holding both
    levels at the base case's 50 % with the separator and stripper valves
    (XMV 7, 8) as unknowns makes the steady state unique.
    """
    from scipy.optimize import least_squares

    names = MODEL.outputs.names
    valves = [MODEL.inputs.index("separator_valve"), MODEL.inputs.index("stripper_valve")]
    positions = [MODEL.states.index("pos_separator_valve"), MODEL.states.index("pos_stripper_valve")]
    levels = [names.index("separator_level"), names.index("stripper_level")]
    scale = np.concatenate([np.maximum(np.abs(X0), 1e-3), U0[valves]])

    def split(z):
        x, u = z[:-2] * scale[:-2], U0.copy()
        u[valves] = z[-2:] * scale[-2:]
        return x, u

    def residual(z):
        x, u = split(z)
        f = np.array(MODEL.evaluate_rhs(list(x), list(u), list(P0), MATH)) / scale[:-2]
        y = np.array(MODEL.evaluate_outputs(list(x), list(u), list(P0), MATH))
        return np.append(f, (y[levels] - 50.0) / 50.0)

    fit = least_squares(residual, np.concatenate([X0, U0[valves]]) / scale, xtol=1e-15,
                        ftol=1e-15, gtol=1e-15)
    x, u = split(fit.x)
    assert np.allclose(x[positions], u[valves])
    return x, u


def test_the_base_case_is_a_steady_state_of_the_model():
    """Downs & Vogel's state is steady to 2e-3 of each state per hour; the exact one is beside it."""
    x, u = _steady_state_at_base_levels()
    f = np.array(MODEL.evaluate_rhs(list(x), list(u), list(P0), MATH))
    assert np.max(np.abs(f) / np.abs(x)) < 1e-6  # relative, per hour
    drift = np.array(MODEL.evaluate_rhs(list(X0), list(U0), list(P0), MATH))
    assert np.max(np.abs(drift) / np.abs(X0)) < 2e-3  # the reported state: steady to 2e-3/h
    assert np.max(np.abs(x - X0) / np.abs(X0)) < 0.01
    assert np.allclose(u[:12], DV_XMV, atol=0.05), u[:12]
    y = outputs(x, u)
    for name, reported in zip(MODEL.outputs.names[:41], DV_XMEAS):
        assert abs(y[name] - reported) <= 0.005 * abs(reported), (name, y[name], reported)


@pytest.fixture(scope="module")
def oracle():
    return native_kernel()


def test_the_initial_state_is_the_oracles(oracle):
    _, state = oracle
    assert np.allclose(X0 * TO_ORACLE, state, rtol=1e-12, atol=0)


def test_derivatives_agree_with_the_oracle_away_from_the_base_case(oracle):
    kernel, state = oracle
    rng = np.random.default_rng(7)
    worst = 0.0
    for k in range(30):
        x = state * (1 + 0.05 * rng.standard_normal(50))
        x[38:] = np.clip(state[38:] + 5 * rng.standard_normal(12), 0, 100)
        xmv = np.clip(state[38:] + 10 * rng.standard_normal(12), 0, 100)
        kernel.set_inputs(xmv, np.zeros(28))
        theirs = kernel.derivatives(1e-3 * (k + 1), x)  # the oracle recomputes at a new time only
        u = U0.copy()
        u[:12] = xmv
        ours = np.array(MODEL.evaluate_rhs(list(x / TO_ORACLE), list(u), list(P0), MATH)) * TO_ORACLE
        size = np.abs(theirs) + 1e-3 * np.abs(x) + 1e-9
        worst = max(worst, float(np.max(np.abs(ours - theirs) / size)))
    # the oracle rounds its constants to single precision (relative 6e-8); sums of nearly equal
    # flows amplify that, so agreement is to a small fraction, not to machine precision
    assert worst < 2e-3, worst


def test_the_measurements_agree_with_the_oracle_away_from_the_base_case(oracle):
    kernel, state = oracle
    rng = np.random.default_rng(11)
    names = MODEL.outputs.names[:41]
    for k in range(10):
        x = state * (1 + 0.02 * rng.standard_normal(50))
        x[38:] = state[38:]
        kernel.set_inputs(state[38:], np.zeros(28))
        kernel.derivatives(0.5 + 1e-3 * k, x)
        theirs = kernel.outputs(0.5 + 1e-3 * k, x)["measurements"][:22]
        y = outputs(x / TO_ORACLE)
        for i in range(22):
            assert abs(y[names[i]] - theirs[i]) <= 1e-5 * max(abs(theirs[i]), 1.0), (names[i], y[names[i]], theirs[i])


def test_the_constants_table_in_the_docs_is_the_one_the_model_reads():
    import csv
    from pathlib import Path

    from plant_models.tennessee_eastman.constants import TABLE

    doc = (Path(__file__).parents[2] / "docs" / "tennessee-eastman.md").read_text(encoding="utf-8")
    section = doc.split("\n## Constants\n", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip().strip("`") for c in line.strip().strip("|").split("|")]
            for line in section.splitlines() if line.startswith("| `")]
    with TABLE.open(encoding="utf-8", newline="") as handle:
        table = [[r["key"], r["value"], r["unit"], r["source"], r["conversion"]]
                 for r in csv.DictReader(handle)]
    assert rows == table


def _oracle_run(hours: float, idv: int | None, interval: float = 0.01):
    """The oracle's XMEAS 1-22 every ``interval`` h from the base case, open loop, noise off."""
    tep = pytest.importorskip("tep_studio")
    # LSODA at 1e-9: the oracle's default fixed-step RK4 reuses its second stage's derivative for
    # the third (the C routine recomputes only at a new time), which alone moves the reactor
    # temperature 13 K in the hour after IDV 4; the oracle's own model integrated accurately
    # is what is compared
    process = tep.TennesseeEastmanProcess(ms_flag=NO_NOISE, solver_method="LSODA", rtol=1e-9,
                                          atol=1e-11)
    _, info = process.reset()
    xmv = process.state[38:50].copy()
    disturbances = np.zeros(28)
    if idv is not None:
        disturbances[idv - 1] = 1.0
    rows, times = [], []
    for k in range(int(round(hours / interval))):
        result = process.advance(xmv, control_interval=interval, disturbances=disturbances)
        rows.append(result.measurements[:22])
        times.append(result.time)
        if result.shutdown_status["terminated"]:
            break
    return np.array(times), np.array(rows)


def _our_run(hours: float, idv: int | None, interval: float = 0.01, model=MODEL) -> np.ndarray:
    """``model``'s outputs (XMEAS 1-22 first) every ``interval`` h from its base case, open loop
    (up to a shutdown: the outputs at the time a limit is passed, between two of those, left
    out)."""
    from plant_models.tennessee_eastman.disturbances import signals
    from twin.core.simulation import simulate

    inputs = dict(zip(model.inputs.names, model.u0()))
    if idv is not None:
        inputs.update({k: float(v[0]) for k, v in signals({idv: 1.0}, [0.0]).items()})
    run = simulate(model, hours, interval, inputs=inputs)
    on_grid = np.isclose(run.t / interval, np.round(run.t / interval), rtol=0, atol=1e-6)
    return run.y[1:][on_grid[1:]]


def _span(theirs: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each column's span over the run ``theirs``, at least 1 % of ``base`` (its base-case value)."""
    return np.maximum(theirs.max(axis=0) - theirs.min(axis=0), 0.01 * np.abs(base))


def _error_in_span(ours: np.ndarray, theirs: np.ndarray, base: np.ndarray) -> np.ndarray:
    """Each column's largest difference over the run, per :func:`_span` of ``theirs``."""
    return np.max(np.abs(ours - theirs) / _span(theirs, base), axis=0)


@pytest.mark.parametrize("idv", [None, 1, 2, 4, 5, 6, 7])
def test_one_hour_open_loop_follows_the_oracle(idv):
    times, theirs = _oracle_run(1.0, idv)
    ours = _our_run(1.0, idv)[:len(times), :22]
    assert len(times) - len(ours) <= 1, (len(times), len(ours))  # the same trip, if any
    theirs = theirs[:len(ours)]  # the oracle's row past a limit, if ours stopped before it
    names = MODEL.outputs.names[:22]
    error = _error_in_span(ours, theirs, np.array(DV_XMEAS[:22]))
    assert np.all(error <= 0.01), dict(zip(names, np.round(error, 4)))


def test_open_loop_the_reactor_pressure_trips_when_the_oracles_does():
    """Constant base-case XMVs: the run stops on high reactor pressure (DV93 Table 6) within 10 %
    of the oracle's time."""
    from twin.core.simulation import simulate

    times, theirs = _oracle_run(8.0, None, interval=0.01)
    assert theirs[-1, 6] > 3000.0  # the oracle stopped on high reactor pressure
    run = simulate(MODEL, 8.0, 0.01)
    assert run.event.startswith("shutdown at t = ") and "high reactor pressure" in run.event, run.event
    assert run.y[-1, 6] > 3000.0 >= run.y[-2, 6]
    assert abs(run.t[-1] - times[-1]) <= 0.1 * times[-1], (run.t[-1], times[-1])


@pytest.mark.parametrize("module", ["tennessee_eastman",
                                    pytest.param("tennessee_eastman_ricker", marks=pytest.mark.slow)])
def test_the_fmu_export_validates_and_steps_as_the_model(module, tmp_path):
    """FMI 2.0 export, checked by fmpy's validation; both interfaces reproduce 1 h from the base
    case (open loop, and under the decentralized control)."""
    # the closed-loop model's export (slow) adds the base layer's 22 states to the same plant
    import importlib

    import fmpy
    from fmpy.validation import validate_fmu

    import twin
    from twin.core.simulation import simulate

    model = importlib.import_module(f"plant_models.{module}").MODEL
    path = twin.export_fmu(model, tmp_path / f"{module}.fmu")
    assert validate_fmu(str(path)) == []
    names = ["reactor_pressure", "reactor_temperature", "separator_level", "stripper_level"]
    ours = simulate(model, 1.0, 0.01).y[:, [model.outputs.index(n) for n in names]]
    # co-simulation steps the model's own compiled integrator at its own tolerances: the same
    # numbers; model exchange is integrated by fmpy's CVODES (here at 1e-9)
    for kind, tol, options in (("CoSimulation", 1e-12, {}),
                               ("ModelExchange", 1e-4, {"relative_tolerance": 1e-9})):
        run = fmpy.simulate_fmu(str(path), stop_time=1.0, output_interval=0.01, fmi_type=kind,
                                output=names, **options)
        theirs = np.column_stack([run[n] for n in names])[:len(ours)]
        assert np.max(np.abs(theirs - ours) / np.abs(ours)) < tol, kind


def test_each_vessel_temperature_is_recovered_from_its_energy_within_60_K_of_the_start():
    from plant_models.tennessee_eastman import thermo
    from plant_models.tennessee_eastman.equations import T_START
    from twin.core.model import NamedValues

    p = NamedValues(MODEL.parameters, list(P0))
    worst = 0.0
    for v, phase in (("r", "liquid"), ("s", "liquid"), ("c", "liquid"), ("v", "gas")):
        n = np.array([X0[MODEL.states.index(f"N_{v}_{c}")] for c in "ABCDEFGH"])
        if v in "rs":
            n[:3] = 0.0  # A, B, C are gas there
        z = list(n / n.sum())
        for T in T_START[v] + np.linspace(-60.0, 60.0, 25):
            h = thermo.enthalpy(z, T, p, "liquid" if phase == "liquid" else "vapour")
            if phase == "gas":
                h -= p.R_e * (T + 273.15)
            worst = max(worst, abs(thermo.temperature(z, h, p, phase, T_START[v], MATH) - T))
    assert worst < 1e-12, worst


def test_the_units_of_every_equation_agree():
    from twin.core.dimensions import _check  # the check itself, not its once-per-process cache

    assert _check(MODEL) is False  # raises on a unit error; True would mean a warning
