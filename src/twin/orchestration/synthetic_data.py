"""Synthetic plant data: a model run as the "plant", with measurement noise, as a wide CSV.

Used to make the shipped calibration example, the calibration tests and
the benchmark: the true parameters are known, so an estimate can be
checked against them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.schedule import InputSchedule
from twin.core.simulation import simulate
from twin.core.units import convert_array


def random_steps(model: Model, t_end: float, every: float, ranges: Mapping[str, tuple[float, float]],
                 seed: int = 0) -> list[tuple[float, dict[str, float]]]:
    """Input moves every ``every`` [model time unit]: each named input uniform in its range."""
    rng = np.random.default_rng(seed)
    times = np.arange(every, t_end, every)
    return [(float(t), {n: float(rng.uniform(*ranges[n])) for n in ranges}) for t in times]


def plant_run(model: Model, t_end: float, dt: float,
              steps: Sequence[tuple[float, Mapping[str, float]]] = (),
              noise: Mapping[str, float] | None = None, every: Mapping[str, int] | None = None,
              warmup: float = 0.0, seed: int = 0) -> pd.DataFrame:
    """Simulated plant data in the wide form (``time`` [s], ``name [unit]`` columns).

    Parameters
    ----------
    model : Model
        The "plant": the model with the true parameter values.
    t_end, dt : float
        Duration and sampling interval [model time unit].
    steps : sequence of (time, {input: value})
        Input moves [model time unit, declared units], moved to the nearest sample.
    noise : mapping
        Measured variable (state or output) -> noise standard deviation [its
        unit]; only these are written, with Gaussian noise added.
    every : mapping
        Measured variable -> sample every k-th interval (an analyser); NaN between.
    warmup : float
        Run this long [model time unit] at the first inputs before ``t = 0``
        (to start near a steady state).
    seed : int
        Seed of the noise.
    """
    noise = dict(noise or {})
    if not noise:
        raise InputError("synthetic plant data: name at least one measured variable with its noise")
    u0 = model.u0()
    x0 = model.x0()
    if warmup > 0:
        x0 = simulate(model, warmup, warmup, x0, dict(zip(model.inputs.names, u0))).x[-1]
    # moves land on samples (as a logged input does): the same float as the output grid's time
    snapped = [(dt * round(t / dt), values) for t, values in steps]
    schedule = InputSchedule.from_steps(model.inputs, u0, snapped)
    result = simulate(model, t_end, dt, x0, schedule)
    rng = np.random.default_rng(seed)
    seconds = convert_array(result.t, model.time_unit, "s", "time")
    columns: dict[str, np.ndarray] = {"time": np.round(seconds, 9)}
    for name in model.inputs.names:
        columns[f"{name} [{model.inputs[name].unit}]"] = result.u[:, model.inputs.index(name)]
    for name, std in noise.items():
        values = result.column(name) + rng.normal(0.0, float(std), result.t.size)
        k = int((every or {}).get(name, 1))
        if k > 1:
            values = np.where(np.arange(values.size) % k == 0, values, np.nan)
        columns[f"{name} [{model.variable(name).unit}]"] = values
    return pd.DataFrame(columns)


def write_wide_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write a wide table as CSV (NaN as empty cells, 8 significant digits)."""
    path = Path(path)
    frame.to_csv(path, index=False, float_format="%.8g")
    return path


CSTR_TRUTH = {"alpha": 1.05, "beta": 0.9}
"""The "plant" CSTR's true parameters (the shipped model has 1 and 1)."""

CSTR_NOISE = {"T_R": 0.2, "T_K": 0.2, "C_b": 0.005}
"""Measurement noise of the CSTR data [K, K, mol/L]: thermocouples and a C_b analyser."""


def cstr_calibration_data(t_end: float = 2.0, dt: float = 10 / 3600, analyser: float = 5 / 60,
                          seed: int = 1) -> pd.DataFrame:
    """CSTR plant data with :data:`CSTR_TRUTH` (``plant_models.cstr``, do-mpc set).

    Every 10 min both inputs move to random values (F 5..40 1/h, Q_dot
    -6000..0 kJ/h) after an hour at the nominal inputs; ``T_R`` and ``T_K`` are
    sampled every ``dt``, ``C_b`` every ``analyser`` [h], with :data:`CSTR_NOISE`.
    """
    from plant_models.cstr import MODEL

    truth = MODEL.with_parameters(CSTR_TRUTH)
    steps = random_steps(MODEL, t_end, 1 / 6, {"F": (5.0, 40.0), "Q_dot": (-6000.0, 0.0)}, seed)
    every = max(1, round(analyser / dt))
    return plant_run(truth, t_end, dt, steps, CSTR_NOISE, {"C_b": every}, warmup=1.0,
                     seed=seed + 100)
