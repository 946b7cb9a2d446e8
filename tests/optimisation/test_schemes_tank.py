"""Both RTO schemes on two tanks in series, every logged figure checked against its closed form.

The plant: ``dh1/dt = q - k1 h1``, ``dh2/dt = k1 h1 - k2 h2``; only ``h1`` is
measured (noise 1e-6 m), ``h2`` is not. The profit ``p q - c h1^2`` [$/s]
at the steady state ``h1 = q / k1`` is ``p q - c q^2 / k1^2``, so

- its optimum is ``q* = p k1^2 / (2 c)``;
- the plant gradient over a forward step ``s`` is ``p - c (2 q + s) / k1^2``;
- the model's (central differences, exact for a quadratic) is ``p - 2 c q / k1m^2``;
- the modified model optimum, ``max p v - c v^2 / k1m^2 + lam (v - q)``, is
  ``v = (p + lam) k1m^2 / (2 c)``.

The plant has ``k1 = 0.5``, the RTO's model ``k1 = 0.4`` (a wrong parameter):
with p = 1 and c = 0.05 the plant optimum is q = 2.5 m3/s, the model's 1.6 m3/s.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from rto.economics import EconomicsSpec
from rto.schemes import run_rto
from rto.spec import ConsistencySpec, ModifierSpec, RTOSpec, SteadyStateSpec
from twin.core.model import Model
from twin.core.plant import SimulatedPlant
from twin.core.sensors import SensorSpec
from twin.core.variables import manipulated, parameter, state

P, C, K1_PLANT, K1_MODEL = 1.0, 0.05, 0.5, 0.4
NOISE = 1e-6


def _tanks(k1: float) -> Model:
    return Model(name="rto_tanks", title="two tanks", source="test", time_unit="s",
                 states=[state("h1", "m", "level of tank 1", 1.0, 0.0, 20.0),
                         state("h2", "m", "level of tank 2", 1.0, 0.0, 20.0)],
                 inputs=[manipulated("q", "m3/s", "inflow", 1.0, 0.0, 5.0)],
                 parameters=[parameter("k1", "m2/s", "outflow coefficient 1", k1),
                             parameter("k2", "m2/s", "outflow coefficient 2", 1.0)],
                 rhs=lambda x, u, p, ops: {"h1": u.q - p.k1 * x.h1,
                                           "h2": p.k1 * x.h1 - p.k2 * x.h2})


PLANT, MODEL = _tanks(K1_PLANT), _tanks(K1_MODEL)
ECONOMICS = EconomicsSpec(model="rto_tanks", profit="p * q - c * h1 * h1", unit="$/s",
                          prices={"p": P, "c": C}, bounds={"q": (0.5, 4.0)})


def _spec(scheme: str, start: float, iterations: int = 3, **changes) -> RTOSpec:
    spec = RTOSpec(plant="rto_tanks", model="rto_tanks", economics="tanks",
                   measurements={"h1": NOISE}, scheme=scheme, estimate=("k1",), fit=("h1",),
                   start={"q": start}, iterations=iterations, tick=0.5,
                   steady_state=SteadyStateSpec(window=20, threshold=1.0, sample_interval=0.5,
                                                max_wait=500.0))
    return replace(spec, **changes)


def _plant(start: float) -> SimulatedPlant:
    return SimulatedPlant(PLANT, 0.5, [SensorSpec("h1", NOISE)], u0={"q": start},
                          steady_start=True, seed=3)


def _profit(q: float, k1: float = K1_PLANT) -> float:
    return P * q - C * (q / k1) ** 2


def _check_window(it, q: float) -> None:
    """The steady state measured at ``q``: its level, profit and detection statistics."""
    assert it.measured["h1"] == pytest.approx(q / K1_PLANT, abs=1e-6)
    assert it.plant_profit == pytest.approx(_profit(q), abs=1e-5)
    assert it.steady_state["samples"] == 20 and it.steady_state["drift"]["h1"] <= 1.0
    assert it.steady_state["time"] > 0


def test_two_step_estimates_the_plant_and_moves_to_its_optimum():
    plant = _plant(2.0)
    result = run_rto(_spec("two-step", 2.0), plant, MODEL, ECONOMICS)
    assert result.scheme == "two-step" and result.unit == "$/s"
    assert [it.k for it in result.iterations] == [0, 1, 2]
    q = 2.0
    for it in result.iterations:
        assert it.accepted is True and it.note == ""
        assert it.inputs == {"q": pytest.approx(q, abs=1e-9)}
        _check_window(it, q)
        assert it.parameters["k1"] == pytest.approx(K1_PLANT, rel=1e-5)
        assert it.modifiers == {} and it.plant_gradient == {}
        q = P * it.parameters["k1"] ** 2 / (2 * C)  # the optimum of the estimated model
        assert it.next_inputs == {"q": pytest.approx(q, abs=1e-6)}
    assert result.final_inputs == {"q": pytest.approx(2.5, abs=1e-4)}
    assert result.final_profit_measured == pytest.approx(_profit(2.5), abs=1e-5)
    assert result.plant_time == plant.time
    times = [it.steady_state["time"] for it in result.iterations]
    assert times == sorted(times) and result.plant_time > times[-1]  # one more steady state


def test_modifier_adaptation_follows_its_update_rule_step_by_step():
    """Default probe steps (1 % of the input, at least 0.01 m3/s), gradient filter 0.5."""
    ma = ModifierSpec(gradient_filter=0.5, input_filter=0.8)
    result = run_rto(_spec("modifier-adaptation", 0.8, 4, modifier_adaptation=ma), _plant(0.8),
                     MODEL, ECONOMICS)
    assert result.scheme == "modifier-adaptation"
    q, lam = 0.8, 0.0
    for k, it in enumerate(result.iterations):
        assert it.k == k and it.accepted is True and it.note == ""
        assert it.inputs == {"q": pytest.approx(q, abs=1e-9)}
        _check_window(it, q)
        assert it.steady_state["profit_probes"] == 1
        s = 0.01 * max(q, 1.0)
        assert it.plant_gradient["q"] == pytest.approx(P - C * (2 * q + s) / K1_PLANT ** 2,
                                                       abs=2e-4)
        model_gradient = P - 2 * C * q / K1_MODEL ** 2
        lam = 0.5 * lam + 0.5 * (it.plant_gradient["q"] - model_gradient)
        assert it.modifiers == {"q": pytest.approx(lam, abs=1e-6)}
        target = min(max((P + lam) * K1_MODEL ** 2 / (2 * C), 0.5), 4.0)
        q = q + 0.8 * (target - q)
        assert it.next_inputs == {"q": pytest.approx(q, abs=1e-6)}
        assert it.parameters == {}
    assert result.final_inputs == {"q": pytest.approx(q, abs=1e-9)}
    # on its way (noise-free: 0.8, 1.554, 1.870, 2.060, 2.189) to its fixed point 2.4875 m3/s,
    # where the forward-difference plant gradient vanishes (2.5 - s/2), not to the model's 1.6
    assert q == pytest.approx(2.1891, abs=1e-3)


def test_the_probe_step_is_the_one_configured_and_the_gradient_filter_keeps_the_old_modifier():
    ma = ModifierSpec(perturbation={"q": 0.1}, gradient_filter=0.25, input_filter=1.0)
    result = run_rto(_spec("modifier-adaptation", 2.0, 2, modifier_adaptation=ma), _plant(2.0),
                     MODEL, ECONOMICS)
    lam = 0.0
    for it in result.iterations:
        q = it.inputs["q"]
        assert it.plant_gradient["q"] == pytest.approx(P - C * (2 * q + 0.1) / K1_PLANT ** 2,
                                                       abs=2e-5)
        lam = 0.75 * lam + 0.25 * (it.plant_gradient["q"] - (P - 2 * C * q / K1_MODEL ** 2))
        assert it.modifiers["q"] == pytest.approx(lam, abs=1e-6)
        assert it.next_inputs["q"] == pytest.approx((P + lam) * K1_MODEL ** 2 / (2 * C), abs=1e-6)


def test_a_steady_state_that_fails_the_consistency_check_is_logged_and_not_acted_on():
    check = ConsistencySpec("h1", 0.0, 3.0)  # the level at q = 2 m3/s is 4 m: a gross error
    for scheme in ("two-step", "modifier-adaptation"):
        result = run_rto(_spec(scheme, 2.0, 2, consistency=(check,)), _plant(2.0), MODEL,
                         ECONOMICS)
        for k, it in enumerate(result.iterations):
            assert it.k == k and it.accepted is False
            assert it.note == "gross error: h1 = 4 outside [0, 3]"
            assert it.inputs == it.next_inputs == {"q": 2.0}
            _check_window(it, 2.0)
            assert it.parameters == it.modifiers == it.plant_gradient == {}
        assert result.final_inputs == {"q": 2.0}
        assert result.final_profit_measured == pytest.approx(_profit(2.0), abs=1e-5)


def test_a_probe_that_fails_the_consistency_check_rejects_the_iteration():
    """The probe step raises the level from 4 m to 5 m, above the 4.5 m the check accepts."""
    ma = ModifierSpec(perturbation={"q": 0.5})
    spec = _spec("modifier-adaptation", 2.0, 2, modifier_adaptation=ma,
                 consistency=(ConsistencySpec("h1", 0.0, 4.5),))
    result = run_rto(spec, _plant(2.0), MODEL, ECONOMICS)
    for k, it in enumerate(result.iterations):
        assert it.k == k and it.accepted is False
        assert it.note == "gross error: h1 = 5 outside [0, 4.5] (probe of q)"
        assert it.inputs == it.next_inputs == {"q": 2.0}
        _check_window(it, 2.0)  # the base steady state, not the probe's
        assert "profit_probes" not in it.steady_state
        assert it.modifiers == it.plant_gradient == {}
    assert result.final_inputs == {"q": 2.0}
