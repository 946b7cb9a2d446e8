"""Write the shipped identification example: a GBN step test of the quadruple tank.

    python tools/make_steptest_example.py

Quadruple tank, parameter set ``P-``, from its steady state: both pumps
moved by +-0.3 V in uncorrelated generalized binary noise (mean time
between switches 120 s), 2 h sampled every 2 s, levels ``h1`` and ``h2``
measured with white noise of 0.05 cm. Writes
``src/twin/orchestration/examples/quadruple_tank_steptest.csv`` (wide CSV:
``time [s]``, then ``v1 [V]``, ``v2 [V]``, ``h1 [cm]``, ``h2 [cm]``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import twin
from twin.core.simulator import Simulator
from twin.core.steady import find_steady_state

OUT = Path(__file__).resolve().parent.parent / "src/twin/orchestration/examples/quadruple_tank_steptest.csv"
DT, SAMPLES, AMPLITUDE, SWITCHING, NOISE = 2.0, 3600, 0.3, 120.0, 0.05


def main() -> None:
    rng = np.random.default_rng(1)
    model = twin.load_model("quadruple_tank", parameter_set="P-")
    steady = find_steady_state(model)
    switches = rng.random((SAMPLES, 2)) < DT / SWITCHING
    signs = np.where(np.cumsum(switches, axis=0) % 2 == 0, 1.0, -1.0)
    u = steady.u + AMPLITUDE * signs
    sim = Simulator(model, DT, steady.x)
    levels = np.empty((SAMPLES, 2))
    for k in range(SAMPLES):
        levels[k] = sim.x[:2]
        sim.step(u[k])
    levels += rng.normal(0.0, NOISE, levels.shape)
    frame = pd.DataFrame({"time [s]": DT * np.arange(SAMPLES), "v1 [V]": u[:, 0], "v2 [V]": u[:, 1],
                          "h1 [cm]": levels[:, 0].round(3), "h2 [cm]": levels[:, 1].round(3)})
    frame.to_csv(OUT, index=False)
    print(f"wrote {OUT} ({SAMPLES} samples)")


if __name__ == "__main__":
    main()
