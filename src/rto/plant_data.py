"""Plant data for RTO: drive the plant to a detected steady state, check the data, price it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from rto.economics_spec import EconomicsSpec
from rto.spec import ConsistencySpec, SteadyStateSpec
from twin.core.ssd import SteadyStateDetector, SteadyWindow
from twin.core import expressions, ops
from twin.core.errors import SimulationError
from twin.core.model import Model
from twin.core.plant import PlantIO
from twin.core.quality import Quality


class SteadyStateCollector:
    """Applies inputs to a plant and waits for a steady state detected on its readings."""

    def __init__(self, plant: PlantIO, noise: Mapping[str, float], spec: SteadyStateSpec):
        self.plant, self.spec = plant, spec
        self.detector = SteadyStateDetector(list(noise), spec.window, spec.threshold, noise)

    def settle(self, inputs: Mapping[str, float]) -> SteadyWindow:
        """Write ``inputs`` and sample until the readings are steady."""
        self.plant.write(dict(inputs))
        self.detector.reset()
        waited = 0.0
        while waited <= self.spec.max_wait:
            self.plant.advance(self.spec.sample_interval)
            waited += self.spec.sample_interval
            readings = self.plant.read()
            values = {}
            for name in self.detector.names:
                r = readings[name]
                if r.quality is Quality.BAD or not np.isfinite(r.value):
                    self.detector.reset()  # bad data breaks the window
                    break
                values[name] = r.value
            else:
                window = self.detector.add(self.plant.time, values)
                if window is not None:
                    return window
        raise SimulationError(f"no steady state within {self.spec.max_wait:g} after applying "
                              f"{dict(inputs)}")


def consistent(means: Mapping[str, float], checks: tuple[ConsistencySpec, ...],
               names: list[str]) -> tuple[bool, str]:
    """Whether the steady-state means pass every consistency check (gross-error test)."""
    for check in checks:
        expr = expressions.parse(check.expression, names, "consistency")
        value = float(expr(dict(means), ops.MATH))
        if not check.low <= value <= check.high:
            return False, (f"gross error: {check.expression} = {value:.6g} outside "
                           f"[{check.low:g}, {check.high:g}]")
    return True, ""


class ProfitMeter:
    """The profit of a plant steady state, from measurements, inputs and known parameters."""

    def __init__(self, model: Model, economics: EconomicsSpec):
        self.model, self.economics = model, economics
        names = (model.states.names + model.inputs.names + model.outputs.names
                 + model.parameters.names + list(economics.prices))
        self.expr = expressions.parse(economics.profit, names, "economics.profit")

    def __call__(self, measured: Mapping[str, float], inputs: Mapping[str, float]) -> float:
        m = self.model
        values: dict[str, float] = {**m.parameters.to_dict(m.p0()), **dict(self.economics.prices),
                                    **m.inputs.to_dict(m.u0(dict(inputs)))}
        x = m.x0({k: v for k, v in measured.items() if k in m.states})
        if m.n_y:
            y = m.evaluate_outputs(list(x), list(m.u0(dict(inputs))), list(m.p0()), ops.MATH)
            values.update(zip(m.outputs.names, map(float, y)))
        values.update(measured)
        return float(self.expr(values, ops.MATH))
