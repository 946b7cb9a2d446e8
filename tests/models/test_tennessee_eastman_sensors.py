"""The Tennessee Eastman measurements as the plant's instruments give them (``sensors()``).

Noise: the standard deviation of each of XMEAS 1-22 (reading minus truth
in the twin; noisy minus noise-free run in the oracle, tep-studio, from the
same start) agree. Analysers: a reading holds for a sampling interval and
reports the value sampled a dead time earlier.
"""

from __future__ import annotations

import numpy as np
import pytest

from plant_models.tennessee_eastman import MODEL
from plant_models.tennessee_eastman.declarations import XMEAS
from plant_models.tennessee_eastman.sensors import sensors
from te_oracle import NO_NOISE, NOISY
from twin.core.plant import SimulatedPlant

TICK = 0.002
"""Plant tick [h]."""
NAMES = [name for name, _, _ in XMEAS]


def _oracle_noise(steps: int) -> np.ndarray:
    """Standard deviation of XMEAS 1-22: the oracle's noisy run minus its noise-free run."""
    tep = pytest.importorskip("tep_studio")
    runs = []
    for flag in (NOISY, NO_NOISE):
        plant = tep.TennesseeEastmanProcess(ms_flag=flag)
        plant.reset(seed=5.0)
        valves = plant.state[38:50].copy()
        runs.append([plant.advance(valves, control_interval=TICK).measurements[:22]
                     for _ in range(steps)])
    return (np.array(runs[0]) - np.array(runs[1])).std(axis=0)


def test_the_continuous_measurements_have_the_oracles_noise():
    steps = 1000
    plant = SimulatedPlant(MODEL, TICK, sensors(), seed=3)
    errors = []
    for _ in range(steps):
        plant.step()
        readings, truth = plant.read(), plant.truth()
        errors.append([readings[n].value - truth[n] for n in NAMES])
    ours = np.array(errors).std(axis=0)
    theirs = _oracle_noise(steps)
    # 1000 samples each: the ratio of two standard deviations is within 1 +- 0.15 but once in
    # about 10^5 comparisons
    assert np.all(np.abs(ours / theirs - 1.0) < 0.15), dict(zip(NAMES, np.round(ours / theirs, 3)))


def test_an_analyser_holds_its_sample_and_reports_it_a_dead_time_later():
    plant = SimulatedPlant(MODEL, 0.01, sensors(noise=False))
    seen, truth = [], {}
    for k in range(60):  # 0.6 h
        plant.step()
        t = round(plant.time, 6)
        truth[t] = plant.truth()["product_G"]
        seen.append((t, plant.read()["product_G"].value, plant.read()["feed_A"].value))
    product = {t: v for t, v, _ in seen}
    # product analyser: sampled at 0.25 h, reported from 0.5 h until the next report at 0.75 h
    assert product[0.5] == product[0.59] == pytest.approx(truth[0.25], abs=1e-12)
    assert product[0.49] != product[0.5]
    changes = [t for (t, _, v), (_, _, before) in zip(seen[1:], seen[:-1]) if v != before]
    assert changes == pytest.approx([0.2, 0.3, 0.4, 0.5, 0.6])  # a feed analysis every 0.1 h
