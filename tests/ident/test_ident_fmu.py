"""Black box: identification from a step test on the exported CSTR FMU, without the equations.

The FMU (``twin fmu export cstr``) is the plant, run through
:class:`~twin.core.fmu.plant.FmuPlant` from its own start values: it is
settled with the inputs held, then given a GBN test on the dilution rate
``F`` and the jacket heat ``Q_dot``; ``C_b`` and ``T_R`` are read with
added noise (0.001 mol/L, 0.02 K). Only the check at the end uses the model's linearisation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import twin
from ident_support import gbn, linear_gains
from twin.core.data.table import PlantData
from twin.core.fmu.plant import FmuPlant
from twin.core.steady import find_steady_state
from twin.orchestration.identify_run import identify

TICK = 10.0
"""Sample time [s]."""


def test_identify_cstr_fmu_black_box(exported):
    path = exported("cstr")
    rng = np.random.default_rng(7)
    mvs, cvs = ["F", "Q_dot"], ["C_b", "T_R"]
    samples, settle = 3000, 600
    moves = gbn(samples, 2, TICK, 300.0, rng) * np.array([0.5, 200.0])
    with FmuPlant(path, TICK / 3600, isolate=False) as plant:
        base = plant.inputs()
        for _ in range(settle):                       # let the FMU settle at its start inputs
            plant.step()
        u, y = np.empty((samples, 2)), np.empty((samples, 2))
        for k in range(samples):
            values = {name: base[name] + moves[k, j] for j, name in enumerate(mvs)}
            truth = plant.truth()
            u[k] = [values[name] for name in mvs]
            y[k] = [truth[name] for name in cvs]
            plant.write(values)
            plant.step()
    y += rng.normal(0, 1, y.shape) * np.array([0.001, 0.02])
    frame = pd.DataFrame(np.hstack([u, y]), columns=[*mvs, *cvs],
                         index=pd.Index(TICK * np.arange(samples), name="time"))
    data = PlantData(frame, {"F": "1/h", "Q_dot": "kJ/h", "C_b": "mol/L", "T_R": "degC"}, None,
                     str(path))
    run = identify(data, mvs, cvs, settling=1500.0)

    model = twin.load_model("cstr")                  # the check only
    truth = linear_gains(find_steady_state(model, u=base), mvs, cvs)
    error = run.gains.gain / truth - 1
    print(f"\nCSTR FMU: gains {np.round(run.gains.gain, 5).tolist()} vs linearisation "
          f"{np.round(truth, 5).tolist()} ({np.round(100 * error, 1).tolist()} %), "
          f"+- {np.round(100 * run.gains.gain_std / np.abs(truth), 1).tolist()} %, "
          f"held-out fit {run.summary()['fit_percent']}, condition number {run.gains.condition:.1f}")
    assert np.all(np.abs(error) < 0.10)
    assert all(f > 85 for f in run.validation.fit)
