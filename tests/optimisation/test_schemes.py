"""RTO schemes on the Williams–Otto plant with the approximate model; detection; gross errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from support import run_twin
from rto.ssd import SteadyStateDetector
from twin.orchestration.rto_run import rto_run, rto_spec


@pytest.fixture(scope="module")
def modifier_adaptation():
    return rto_run(rto_spec("williams_otto", scheme="modifier-adaptation", iterations=20))


@pytest.fixture(scope="module")
def two_step():
    return rto_run(rto_spec("williams_otto", scheme="two-step", iterations=20))


def test_modifier_adaptation_reaches_the_plant_optimum(modifier_adaptation):
    result, truth = modifier_adaptation
    assert len(result.iterations) <= 20
    assert truth["plant_optimum_profit"] == pytest.approx(190.98, rel=1e-3)
    print(f"modifier adaptation: final {result.final_inputs}, plant profit "
          f"{truth['plant_profit_at_final_inputs']:.4f} = {100 * truth['fraction_of_optimum']:.3f} %")
    assert truth["fraction_of_optimum"] >= 0.995
    it = result.iterations[-1]
    assert set(it.modifiers) == set(it.plant_gradient) == {"F_B", "T_R"}
    assert it.steady_state["samples"] == 120 and max(it.steady_state["drift"].values()) <= 1.0


def test_two_step_stops_at_a_suboptimal_fixed_point(two_step):
    result, truth = two_step
    last = [it.next_inputs for it in result.iterations[-3:]]
    for a, b in zip(last, last[1:]):  # converged: successive inputs agree
        assert abs(a["F_B"] - b["F_B"]) < 0.01 and abs(a["T_R"] - b["T_R"]) < 0.1
    print(f"two-step: final {result.final_inputs}, plant profit "
          f"{truth['plant_profit_at_final_inputs']:.4f} = {100 * truth['fraction_of_optimum']:.3f} %")
    assert truth["fraction_of_optimum"] <= 0.99
    assert set(result.iterations[-1].parameters) == {"k0_1", "k0_2"}


def test_gross_error_is_rejected_and_logged():
    spec = rto_spec("williams_otto", scheme="two-step", iterations=2)
    # a sensor with a gross error: X_P reads 0.05 too high, so the fractions sum above 1
    from twin.core.plant import SimulatedPlant
    from twin.core.sensors import SensorSpec
    from twin.orchestration.registry import load_model
    from twin.orchestration.rto_run import economics_for
    from rto.schemes import run_rto

    sensors = [SensorSpec(n, s, bias=0.05 if n == "X_P" else 0.0)
               for n, s in spec.measurements.items()]
    plant = SimulatedPlant(load_model("williams_otto"), spec.tick, sensors, u0=spec.start,
                           steady_start=True)
    result = run_rto(spec, plant, load_model(spec.model), economics_for(spec.economics))
    assert [it.accepted for it in result.iterations] == [False, False]
    assert "gross error: X_A + X_B + X_E + X_G + X_P" in result.iterations[0].note
    assert result.final_inputs == spec.start  # nothing acted on bad data


def test_steady_state_detector():
    rng = np.random.default_rng(0)
    d = SteadyStateDetector(["y"], window=50, threshold=1.0, noise={"y": 0.1})
    found = [d.add(float(t), {"y": 1.0 + rng.normal(0, 0.1)}) for t in range(150)]
    assert all(w is None for w in found[:49])  # a full window first
    steady = [w for w in found if w is not None]
    assert len(steady) > 50 and steady[0].means["y"] == pytest.approx(1.0, abs=0.05)
    d.reset()
    ramp = [d.add(float(t), {"y": 0.01 * t + rng.normal(0, 0.1)}) for t in range(150)]
    assert all(w is None for w in ramp) and d.statistics().drift["y"] > 3


def test_twin_rto_cli(capsys):
    code, out, err = run_twin(capsys, "rto", "williams_otto", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["profit"] == pytest.approx(190.98, rel=1e-3)
    code, out, err = run_twin(capsys, "rto", "--plant", "williams_otto", "--scheme", "two-step",
                              "--iterations", "3", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["iterations"]) == 3 and 0.5 < data["fraction_of_optimum"] < 1.0
    code, _, err = run_twin(capsys, "rto")
    assert code == 2 and "give a MODEL" in err
    code, _, err = run_twin(capsys, "rto", "--plant", "column")
    assert code == 2 and "unknown RTO set-up 'column'" in err
