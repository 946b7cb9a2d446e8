"""RTO iterations that fail: what each logs, and that nothing is applied on a failure.

Every failure is produced for real on a simulated plant: a level transmitter
whose offset makes the reading impossible for the model (the estimation
fails), economics whose bounds no steady state meets (the optimisation
fails), and analysers with a gross error, from the start or from a time
inside an iteration (during the probes of modifier adaptation).
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from rto.economics import EconomicsSpec, load_economics, shipped_economics
from rto.schemes import run_rto
from rto.spec import RTOSpec, SteadyStateSpec
from twin.core.model import Model
from twin.core.plant import SimulatedPlant
from twin.core.sensors import SensorSpec
from twin.core.variables import manipulated, parameter, state
from twin.orchestration.registry import load_model
from twin.orchestration.rto_run import economics_for, rto_spec

TANK = Model(name="rto_tank", title="tank", source="test", time_unit="s",
             states=[state("h", "m", "level", 1.0, 0.0, 10.0)],
             inputs=[manipulated("q", "m3/s", "inflow", 0.5, 0.0, 1.0)],
             parameters=[parameter("k", "m2/s", "outflow coefficient", 0.5)],
             rhs=lambda x, u, p, ops: {"h": u.q - p.k * x.h})
"""dh/dt = q - k h: steady level q / k (1 m at the start)."""

TANK_ECONOMICS = EconomicsSpec(model="rto_tank", profit="p * q - c * h * h",
                               prices={"p": 1.0, "c": 1.0}, bounds={"q": (0.05, 1.0)})
"""Optimum q = p k^2 / (2 c) = 0.125 m3/s for k = 0.5."""


def _tank_rto(iterations: int = 2) -> RTOSpec:
    return RTOSpec(plant="rto_tank", model="rto_tank", economics="tank",
                   measurements={"h": 1e-3}, scheme="two-step", estimate=("k",), fit=("h",),
                   start={"q": 0.5}, iterations=iterations, tick=0.5,
                   steady_state=SteadyStateSpec(window=20, threshold=1.0, sample_interval=0.5,
                                                max_wait=500.0))


def test_two_step_on_the_tank_finds_its_optimum():
    """The set-up of the failure test below works when the transmitter is right."""
    plant = SimulatedPlant(TANK, 0.5, [SensorSpec("h", 1e-3)], u0={"q": 0.5}, steady_start=True)
    result = run_rto(_tank_rto(3), plant, TANK, TANK_ECONOMICS)
    assert all(it.accepted and not it.note for it in result.iterations)
    assert result.iterations[0].parameters["k"] == pytest.approx(0.5, rel=1e-3)
    assert result.final_inputs["q"] == pytest.approx(0.125, rel=5e-3)  # level noise: 0.2 %


def test_a_failed_estimation_is_logged_and_nothing_is_applied():
    # the level transmitter reads 1.2 m low: -0.2 m, a level no outflow coefficient explains
    plant = SimulatedPlant(TANK, 0.5, [SensorSpec("h", 1e-3, bias=-1.2)], u0={"q": 0.5},
                           steady_start=True)
    result = run_rto(_tank_rto(), plant, TANK, TANK_ECONOMICS)
    assert len(result.iterations) == 2
    for k, it in enumerate(result.iterations):
        assert it.k == k and it.accepted is False and it.note == "parameter estimation failed"
        assert it.plant_profit == pytest.approx(0.5 - 0.2 ** 2, abs=1e-3)  # p q - c h^2, as read
        assert it.steady_state["samples"] == 20 and it.steady_state["drift"]["h"] <= 1.0
        assert it.parameters == {}  # no estimate is recorded as if it were one
        assert it.inputs == it.next_inputs == {"q": 0.5}
        assert it.measured["h"] == pytest.approx(-0.2, abs=2e-3)
    assert result.final_inputs == {"q": 0.5}


class _TransmitterGlitch:
    """The plant, with its level transmitter reading ``offset`` from time ``start`` to ``end``."""

    def __init__(self, plant: SimulatedPlant, start: float, end: float, offset: float):
        self.plant, self.start, self.end, self.offset = plant, start, end, offset

    def __getattr__(self, name):
        return getattr(self.plant, name)

    def read(self):
        readings = self.plant.read()
        if self.start < self.plant.time <= self.end:
            r = readings["h"]
            readings["h"] = replace(r, value=r.value + self.offset)
        return readings


def test_two_step_recovers_from_a_failed_estimation_once_the_data_are_good_again():
    # a glitch is not a constant bias: the simulated transmitter cannot produce it, the
    # wrapper does. It reads 1.2 m low over the second steady state only (t 10..34 s).
    def plant():
        return SimulatedPlant(TANK, 0.5, [SensorSpec("h", 1e-3)], u0={"q": 0.5},
                              steady_start=True)

    result = run_rto(_tank_rto(4), _TransmitterGlitch(plant(), 10.0, 34.0, -1.2), TANK,
                     TANK_ECONOMICS)
    first, glitch, *after = result.iterations
    assert first.steady_state["time"] == 10.0 and first.accepted
    assert glitch.measured["h"] == pytest.approx(0.25 - 1.2, abs=2e-3)
    assert not glitch.accepted and glitch.note == "parameter estimation failed"
    assert glitch.next_inputs == glitch.inputs == first.next_inputs
    for it in after:  # the transmitter is right again: so are the estimates
        assert it.steady_state["time"] > 34.0 + 10.0 - 0.5  # a whole window after the glitch
        assert it.accepted and it.note == ""
        assert it.parameters["k"] == pytest.approx(0.5, rel=5e-3)
    assert result.final_inputs["q"] == pytest.approx(0.125, rel=5e-3)


def _williams_otto_plant(spec: RTOSpec, bias: dict[str, float] | None = None) -> SimulatedPlant:
    sensors = [SensorSpec(n, s, bias=(bias or {}).get(n, 0.0))
               for n, s in spec.measurements.items()]
    return SimulatedPlant(load_model(spec.plant), spec.tick, sensors, u0=spec.start,
                          steady_start=True, seed=spec.seed)


def _infeasible_economics(tmp_path) -> EconomicsSpec:
    """Williams-Otto economics asking for more product than any steady state has."""
    path = tmp_path / "economics.toml"
    path.write_text(shipped_economics("williams_otto").read_text().replace(
        "T_R = [70.0, 100.0] }", "T_R = [70.0, 100.0], X_P = [0.5, 0.6] }"))
    return load_economics(path)


@pytest.mark.parametrize("scheme", ["two-step", "modifier-adaptation"])
def test_a_failed_optimisation_is_logged_and_nothing_is_applied(tmp_path, scheme):
    spec = rto_spec("williams_otto", scheme=scheme, iterations=2)
    plant = _williams_otto_plant(spec)
    result = run_rto(spec, plant, load_model(spec.model), _infeasible_economics(tmp_path))
    for it in result.iterations:
        assert it.note == "optimisation: infeasible"
        assert it.accepted  # the data were good: only the optimisation failed
        assert it.next_inputs == it.inputs == spec.start
        assert it.plant_profit == pytest.approx(151.21, abs=0.6)  # noise-free 151.21 $/s
        if scheme == "two-step":  # the estimate from the good data is kept in the log
            assert it.parameters["k0_1"] == pytest.approx(1.78e8, rel=0.01)
            assert it.parameters["k0_2"] == pytest.approx(3.25e13, rel=0.01)
        else:  # the plant gradient was measured and the modifiers updated
            assert set(it.plant_gradient) == set(it.modifiers) == {"F_B", "T_R"}
            assert all(math.isfinite(v) and v != 0 for v in it.modifiers.values())
    assert result.final_inputs == spec.start


def test_a_gross_error_under_modifier_adaptation_is_rejected_and_logged():
    spec = rto_spec("williams_otto", scheme="modifier-adaptation", iterations=2)
    plant = _williams_otto_plant(spec, bias={"X_P": 0.05})
    result = run_rto(spec, plant, load_model(spec.model), economics_for(spec.economics))
    for it in result.iterations:
        assert not it.accepted
        assert it.note.startswith("gross error: X_A + X_B + X_E + X_G + X_P = 1.01")
        assert it.note.endswith("outside [0.9, 1.002]")
        assert it.modifiers == {} and it.plant_gradient == {}
        assert it.next_inputs == it.inputs == spec.start
    assert result.final_inputs == spec.start


class _AnalyserDrift:
    """The plant, with its X_P analyser reading ``bias`` too high from time ``at`` on."""

    def __init__(self, plant: SimulatedPlant, at: float, bias: float):
        self.plant, self.at, self.bias = plant, at, bias

    def __getattr__(self, name):
        return getattr(self.plant, name)

    def read(self):
        readings = self.plant.read()
        if self.plant.time > self.at:
            r = readings["X_P"]
            readings["X_P"] = replace(r, value=r.value + self.bias)
        return readings


def test_a_gross_error_during_the_probes_is_rejected_not_used_as_a_gradient():
    spec = rto_spec("williams_otto", scheme="modifier-adaptation", iterations=2)
    economics = economics_for(spec.economics)
    clean = run_rto(replace(spec, iterations=1), _williams_otto_plant(spec),
                    load_model(spec.model), economics)
    base_window_end = clean.iterations[0].steady_state["time"]
    # the analyser drifts right after the first steady state: the first probe reads it
    plant = _AnalyserDrift(_williams_otto_plant(spec), base_window_end, 0.05)
    result = run_rto(spec, plant, load_model(spec.model), economics)
    first, second = result.iterations
    assert first.steady_state["time"] == base_window_end
    assert first.measured == clean.iterations[0].measured  # the base data were good
    assert not first.accepted
    assert first.note.startswith("gross error: X_A + X_B + X_E + X_G + X_P = 1.01")
    assert first.note.endswith("(probe of F_B)")
    assert first.modifiers == {} and first.next_inputs == spec.start
    assert not second.accepted and second.note.startswith("gross error")
    assert result.final_inputs == spec.start  # nothing acted on the drifted analyser
