"""What the RTO earned: the plant's profit cycle by cycle against the plant's true optimum.

The true optimum is the economic optimum of the plant's own model with the
plant's own parameters (as :func:`twin.orchestration.rto_run.rto_run` uses
for its reference), computed again after every event that changes a plant
parameter. The RTO itself only knows its model and its estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rto.economics import EconomicOptimizer
from rto.plant_data import ProfitMeter
from twin.orchestration.loop.config import LoopConfig
from twin.orchestration.loop.verdict import FINAL_FRACTION
from twin.orchestration.registry import load_model
from rto.economics_spec import economics_for


@dataclass(frozen=True)
class ProfitRecord:
    """Profit per cycle and the true optimum in force at that time [economics unit]."""

    frame: pd.DataFrame
    """Columns ``time``, ``profit`` (plant, at its true state and the MVs), ``optimum``."""
    unit: str
    achieved: float
    """Mean profit over the last ``FINAL_FRACTION`` of the run."""
    optimum: float
    """The plant's true optimum at the end of the run."""

    @property
    def fraction(self) -> float:
        """Achieved over optimum [-] (NaN when the optimum is not positive)."""
        return self.achieved / self.optimum if self.optimum > 0 else float("nan")

    @property
    def gap(self) -> float:
        """Optimum minus achieved [economics unit]."""
        return self.optimum - self.achieved


def profit_record(config: LoopConfig, frame: pd.DataFrame,
                  fraction: float = FINAL_FRACTION) -> ProfitRecord | None:
    """The profit record of a loop run with an ``[rto]`` table on a model plant, else None."""
    if config.rto is None or config.plant.is_fmu or frame.empty:
        return None
    economics = economics_for(config.rto.economics)
    pc = config.plant
    changes = sorted(((e.time, e.plant_parameters) for e in config.event if e.plant_parameters),
                     key=lambda item: item[0])
    parameters = dict(pc.parameters)
    phases = [(0.0, dict(parameters))]
    for t, p in changes:
        parameters = {**parameters, **p}
        phases.append((t, dict(parameters)))
    optima, meters = [], []
    for _, params in phases:
        model = load_model(pc.model, params, pc.parameter_set)
        optima.append(EconomicOptimizer(model, economics).optimize().profit)
        meters.append(ProfitMeter(model, economics))
    model = load_model(pc.model, pc.parameters, pc.parameter_set)
    t = frame["time"].to_numpy(dtype=float)
    phase = np.searchsorted([p[0] for p in phases], t, side="right") - 1
    profit = np.full(t.size, np.nan)
    states = [n for n in model.states.names if f"{n}.plant" in frame]
    inputs = [n for n in model.inputs.names if n in frame]
    for i, row in enumerate(frame[[f"{n}.plant" for n in states] + inputs].itertuples(index=False)):
        values = dict(zip(states + inputs, map(float, row)))
        if all(np.isfinite(list(values.values()))):
            profit[i] = meters[phase[i]]({n: values[n] for n in states},
                                         {n: values[n] for n in inputs})
    optimum = np.asarray(optima, dtype=float)[phase]
    tail = profit[len(profit) - max(1, int(round(fraction * len(profit)))):]
    tail = tail[np.isfinite(tail)]
    return ProfitRecord(pd.DataFrame({"time": t, "profit": profit, "optimum": optimum}),
                        economics.unit, float(tail.mean()) if tail.size else float("nan"),
                        float(optimum[-1]))
