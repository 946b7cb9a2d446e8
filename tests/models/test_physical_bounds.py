"""Plant models stay within their physical bounds; values outside them are read Bad."""

from __future__ import annotations

import asyncio
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import plant_models
from draining_tank import MODEL as DRAINING
from support import run_twin
from twin.core import ops
from twin.core.errors import InputError
from twin.core.plant import SimulatedPlant
from twin.core.quality import Quality
from twin.core.sensors import SensorSpec, physical_limits
from twin.core.simulator import Simulator
from twin.core.symbolic import casadi_form
from twin.core.variables import VariableSet, state
from twin.orchestration.registry import load_model, model_names

STEPS = 40
"""Output points per simulated horizon."""


# -- declarations ------------------------------------------------------------

def test_tank_levels_are_physically_nonnegative_and_operated_below_20_cm():
    model = load_model("quadruple_tank")
    assert model.states.physical_lower().tolist() == [0.0] * 4
    assert model.states.physical_upper().tolist() == [math.inf] * 4
    # The operating bounds the MPC and target calculation use are unchanged.
    assert model.states.lower().tolist() == [0.0] * 4
    assert model.states.upper().tolist() == [20.0] * 4
    assert model.describe()["states"][0]["physical"] == [0.0, None]


@pytest.mark.parametrize("name", model_names())
def test_every_state_of_a_shipped_model_declares_its_physical_bounds(name):
    model = load_model(name)
    undeclared = [v.name for v in model.states if v.physical is None]
    assert undeclared == [], f"{name}: states without physical bounds: {undeclared}"


def test_mass_fractions_declare_their_whole():
    model = load_model("williams_otto")
    assert model.states.fraction_groups() == {"reactor contents": list(range(6))}
    assert model.states["X_P"].physical == (0.0, 1.0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(physical=(1.0, 0.0)), "physical bounds (1, 0) are not low <= high"),
    (dict(physical=(0.0, math.nan)), "physical bounds (0, nan) are not low <= high"),
    (dict(physical=(0.0,)), "physical bounds must be two numbers (low, high), got (0.0,)"),
    (dict(physical="low"), "physical bounds must be two numbers (low, high), got 'low'"),
    (dict(lower=-1.0, physical=(0.0, math.inf)),
     "bounds [-1, 20] reach outside the physical bounds [0, inf]"),
    (dict(nominal=-0.5, lower=-math.inf, physical=(0.0, math.inf)),
     "nominal value -0.5 is outside the physical bounds [0, inf]"),
])
def test_inconsistent_physical_bounds_are_one_line_errors(kwargs, message):
    args = dict(nominal=1.0, lower=0.0, upper=20.0) | kwargs
    with pytest.raises(InputError) as err:
        state("h", "cm", "level", args.pop("nominal"), args.pop("lower"), args.pop("upper"),
              **args)
    assert str(err.value) == f"variable 'h': {message}"


# -- the reported case: an empty tank went on draining ------------------------

def test_an_empty_upper_tank_stays_empty_from_the_command_line(capsys, tmp_path):
    out = tmp_path / "run.csv"
    code, _, err = run_twin(capsys, "simulate", "quadruple_tank", "--x0", "h1=12.4",
                            "--x0", "h2=12.7", "--x0", "h3=1.8", "--x0", "h4=1.4",
                            "--u", "v1=0", "--u", "v2=3", "--t-end", "3000", "--dt", "100",
                            "--out", str(out))
    assert code == 0, err
    run = pd.read_csv(out)
    # Pump 1 is off: tank 4 empties and stays empty (it reached -12819 cm before).
    assert run["h4"].min() >= -1e-9
    assert run["h4"].iloc[-1] < 1e-3
    # Tank 2 then settles where pump 2 alone holds it (Torricelli), not at 5105 cm.
    model = load_model("quadruple_tank")
    p = model.parameters.to_dict(model.p0())
    h2 = (p["gamma_2"] * p["k2"] * 3.0 / p["a2"]) ** 2 / (2 * p["g"])
    assert h2 == pytest.approx(5.704, abs=1e-3)
    assert run["h2"].iloc[-1] == pytest.approx(h2, rel=1e-4)
    assert run["h2"].between(h2 - 1e-6, 12.7 + 1e-9).all()


def test_outflow_of_an_empty_tank_is_zero_with_finite_derivatives():
    model = load_model("quadruple_tank")
    form = casadi_form(model)
    u = np.zeros(2)
    for h in (-5.0, -1e-3, 0.0):
        x = np.full(4, h)
        assert np.array(form.f(x, u, model.p0())).ravel().tolist() == [0.0] * 4
        assert np.all(np.isfinite(np.array(form.jac_x(x, u, model.p0()))))
    # Just above empty (0.005 cm) tank 1 drains, more slowly than Torricelli's law, with a
    # slope no steeper than 1.39/sqrt(0.01 cm) times a1 sqrt(2 g)/A1 (the plain root: infinite).
    p = model.parameters.to_dict(model.p0())
    gain = p["a1"] * math.sqrt(2 * p["g"]) / p["A1"]
    x = np.array([5e-3, 0.0, 0.0, 0.0])
    rate, slope = float(form.f(x, u, model.p0())[0]), float(form.jac_x(x, u, model.p0())[0, 0])
    assert -gain * math.sqrt(5e-3) < rate < -0.5 * gain * math.sqrt(5e-3)
    assert -1.39 / math.sqrt(0.01) * gain < slope < 0.0


# -- property: from any valid start, every unit-scale model stays physical -------
# (the plant-wide Tennessee Eastman models: test_tennessee_eastman_bounds.py, up to a shutdown)

@pytest.fixture(scope="module")
def simulators():
    """One compiled simulator per shipped model, with its horizon [model time unit]."""
    made = {}
    for name in plant_models.NAMES:
        model = load_model(name)
        horizon = 5 * _slowest_time_constant(model)
        made[name] = (Simulator(model, horizon / STEPS), horizon)
    return made


def _slowest_time_constant(model) -> float:
    # of the linearisation at the nominal point: the horizon scales with the model
    jac = np.array(casadi_form(model).jac_x(model.x0(), model.u0(), model.p0()))
    rates = np.abs(np.linalg.eigvals(jac).real)
    return float(1 / rates[rates > 1e-9 * rates.max()].min())


def _valid_box(variables: VariableSet) -> tuple[np.ndarray, np.ndarray]:
    # operating bounds within the physical ones; unbounded sides: nominal +- 50 % (>= 1)
    lo = np.maximum(variables.lower(), variables.physical_lower())
    hi = np.minimum(variables.upper(), variables.physical_upper())
    nominal = variables.nominal()
    span = np.maximum(0.5 * np.abs(nominal), 1.0)
    return (np.where(np.isfinite(lo), lo, nominal - span),
            np.where(np.isfinite(hi), hi, nominal + span))


def _draw_within(data, variables: VariableSet, label: str) -> np.ndarray:
    lo, hi = _valid_box(variables)
    return np.array([data.draw(st.floats(a, b), label=f"{label} {v.name}")
                     for v, a, b in zip(variables, lo, hi)])


def _valid_state(data, model) -> np.ndarray:
    x = _draw_within(data, model.states, "x0")
    for positions in model.states.fraction_groups().values():
        total = x[positions].sum()
        x[positions] = x[positions] / total if total > 0 else 1.0 / len(positions)
    return x


def _outside(values: np.ndarray, names: list[str], limits: dict) -> list[str]:
    return [f"{n} = {v:.6g}" for n, v in zip(names, values)
            if n in limits and not limits[n][0] <= v <= limits[n][1]]


@pytest.mark.parametrize("name", plant_models.NAMES)
@settings(max_examples=40, deadline=5000, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_simulated_states_never_leave_their_physical_bounds(simulators, name, data):
    sim, horizon = simulators[name]
    base = load_model(name)
    sets = [s.name for s in base.parameter_sets] or [None]
    model = load_model(name, parameter_set=data.draw(st.sampled_from(sets), label="set"))
    sim.set_parameters(model.parameters.to_dict(model.p0()))
    x0 = _valid_state(data, model)
    inputs = [_draw_within(data, model.inputs, f"u{k}") for k in range(3)]
    sim.reset(x0)
    # physical bounds + 1e-6 of each variable's scale
    limits = {**model.states.physical_limits(), **model.outputs.physical_limits()}
    groups = model.states.fraction_groups().values()
    for k in range(STEPS):
        u = inputs[3 * k // STEPS]
        x = sim.step(u)
        y = np.array(model.evaluate_outputs(list(x), list(u), list(model.p0()), ops.MATH))
        t = (k + 1) * horizon / STEPS
        bad = (_outside(x, model.states.names, limits)
               + _outside(y, model.outputs.names, limits))
        assert not bad, f"{name} at t = {t:g} {model.time_unit}: {', '.join(bad)}"
        for positions in groups:
            assert x[positions].sum() == pytest.approx(1.0, abs=1e-6)


# -- the simulated hardware reads a non-physical value Bad ----------------------

def test_a_value_outside_its_physical_bounds_is_read_bad():
    plant = SimulatedPlant(DRAINING, 0.25, [SensorSpec("level"), SensorSpec("volume")])
    seen = []
    for _ in range(8):  # level = 1 - t [cm]
        readings = plant.read()
        seen.append((plant.time, round(readings["level"].value, 9),
                     readings["level"].quality, readings["volume"].quality))
        plant.advance(0.25)
    assert seen[0] == (0.0, 1.0, Quality.GOOD, Quality.GOOD)
    assert seen[4] == (1.0, 0.0, Quality.GOOD, Quality.GOOD)  # empty: still physical
    assert seen[5] == (1.25, -0.25, Quality.BAD, Quality.BAD)
    assert [s[2] for s in seen] == [Quality.GOOD] * 5 + [Quality.BAD] * 3


def test_noise_does_not_make_a_reading_bad_but_a_sampled_bad_value_stays_bad():
    sensors = [SensorSpec("level", noise_std=0.5),
               SensorSpec("volume", sample_interval=1.0, dead_time=0.5)]
    plant = SimulatedPlant(DRAINING, 0.25, sensors, seed=1)
    level, analyser = [], []
    for _ in range(12):
        plant.advance(0.25)
        r = plant.read()
        level.append((plant.x[0], r["level"].value, r["level"].quality))
        analyser.append((plant.time, r["volume"].timestamp, r["volume"].quality))
    physical = [(v, q) for truth, v, q in level if truth >= 0]
    assert any(v < 0 for v, _ in physical)  # a noisy reading below 0 cm ...
    assert all(q is Quality.GOOD for _, q in physical)  # ... of a physical level is Good
    # The analyser's sample taken at t = 1 (volume 0) is reported Good from t = 1.5; the
    # one taken at t = 2 (volume -2 cm3) Bad from t = 2.5, though the readings in between
    # come from the plant after the level went below 0.
    by_time = {t: (taken, q) for t, taken, q in analyser}
    assert by_time[2.25] == (1.0, Quality.GOOD)
    assert by_time[2.5] == (2.0, Quality.BAD)


def test_the_tolerance_follows_the_integrator():
    # 1e-6 of the scale (here the 20 cm operating bound), at least 10 times the rtol
    assert physical_limits(DRAINING) == {"level": (pytest.approx(-20e-6), math.inf),
                                         "volume": (pytest.approx(-1e-6), math.inf)}
    coarse = SimulatedPlant(DRAINING, 0.01, [SensorSpec("level")], rtol=1e-4)  # tol 0.02 cm
    coarse.advance(1.01)
    assert coarse.read()["level"].value == pytest.approx(-0.01)
    assert coarse.read()["level"].quality is Quality.GOOD
    coarse.advance(0.02)
    assert coarse.read()["level"].value == pytest.approx(-0.03)
    assert coarse.read()["level"].quality is Quality.BAD


def test_the_opcua_simulated_hardware_publishes_a_non_physical_value_bad(tmp_path, monkeypatch):
    from deployment.hil_support import ServerProcess

    # the server process imports the user model from this folder
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        filter(None, [str(Path(__file__).parent), os.environ.get("PYTHONPATH")])))
    server = ServerProcess(tmp_path / "hw", speed=2.0, hold=True)
    server.config.write_text(
        '[plant]\nmodel = "draining_tank:MODEL"\ntick = 0.25\nu0 = { drain = 1.0 }\n\n'
        '[[plant.sensors]]\nname = "level"\n\n'
        f'[server]\nendpoint = "{server.url}"\nspeed = 2.0\nhold_until_apc = true\n')
    server.start()
    try:
        statuses = asyncio.run(_level_statuses(server, t_end=2.0))
    finally:
        server.stop()
    # held at t = 0 until the APC's first heartbeat: the level is 1 cm, Good
    assert statuses[0] == (0.0, 1.0, "Good")
    # level = 1 - t: below 0 cm from t = 1 s on, published Bad (without a value)
    t, value, status = statuses[-1]
    assert t >= 2.0 and status.startswith("Bad") and (value is None or math.isnan(value))
    assert all(s == "Good" for t, _, s in statuses if t <= 1.0)


async def _level_statuses(server, t_end: float) -> list[tuple[float, float, str]]:
    """(plant time, published level, status) from the start until plant time ``t_end`` [s];
    a reading the plant ticked during (the time read again differs) is left out."""
    from asyncua import ua

    from deployment.hil_support import _client

    out = []
    async with _client(server, "apc") as client:
        ns = await client.get_namespace_index("urn:process-twin:simulated-hardware")
        level = client.get_node(f"ns={ns};s=Plant.level")
        clock = client.get_node(f"ns={ns};s=Diagnostics.Time")
        heartbeat = client.get_node(f"ns={ns};s=APC.Heartbeat")
        for k in range(400):
            t = await clock.read_value()
            dv = await level.read_data_value(raise_on_bad_status=False)
            one_instant = await clock.read_value() == t   # no tick between the two reads
            if one_instant:
                out.append((t, dv.Value.Value, dv.StatusCode.name))
            if k == 0:  # release the plant
                await heartbeat.write_value(ua.Variant(1, ua.VariantType.UInt32))
            if one_instant and t >= t_end:
                break
            await asyncio.sleep(0.05)
    return out
