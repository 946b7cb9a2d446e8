"""A step test on an exported FMU, run through FmuPlant without the model's equations."""

from __future__ import annotations

import numpy as np
import pytest

from twin.core.config import parse_toml
from twin.core.data import load_data
from twin.orchestration.steptest import run_step_test, spec_from_dict

STEPTEST = """
[plant]
model = "{fmu}"
[test]
signal = "gbn"
sample_time = 0.005
settling_time = 0.1
duration = 0.5
lead_in = 0.05
seed = 2
[[mv]]
name = "F"
amplitude = 1.5
low = 3.0
high = 35.0
[[mv]]
name = "Q_dot"
amplitude = 500.0
max_rate = 1e5
[[cv]]
name = "T_R"
noise_std = 0.05
[[cv]]
name = "C_b"
noise_std = 0.005
"""


def test_step_test_on_the_exported_cstr_fmu_gives_identification_data(exported, tmp_path):
    fmu = exported("cstr")
    spec = spec_from_dict(parse_toml(STEPTEST.format(fmu=fmu.as_posix()), "t"))
    result = run_step_test(spec, tmp_path / "run")
    assert result.time_unit == "h"
    data = load_data(result.csv)
    assert data.names == ["F", "Q_dot", "T_R", "C_b"]
    assert data.units == {"F": "1/h", "Q_dot": "kJ/h", "T_R": "degC", "C_b": "mol/L"}
    assert data.interval() == pytest.approx(18.0)  # 0.005 h in seconds
    n_lead = 10
    assert len(data.time) == n_lead + 100
    mv = data.values(["F", "Q_dot"])
    # the FMU's start inputs are the base point; lead-in at base, then GBN of +-1.5 1/h, +-500 kJ/h
    assert np.all(mv[:n_lead] == mv[0])
    assert np.allclose(np.unique(np.round(mv[n_lead:, 0] - mv[0, 0], 9)), [-1.5, 1.5])
    assert np.all(np.abs(np.diff(mv[:, 1])) <= 1e5 * 0.005 + 1e-9)
    # the CVs answer the moves: T_R moves by degrees, far beyond its 0.05 K noise
    cv = data.values(["T_R", "C_b"])
    assert np.all(np.isfinite(cv))
    assert np.ptp(cv[n_lead:, 0]) > 1.0 and np.ptp(cv[n_lead:, 1]) > 0.02
    # and a larger dilution rate lowers T_R: the FMU responds with the sign of the model
    f_dev = mv[n_lead:-1, 0] - mv[0, 0]
    dT = np.diff(cv[n_lead:, 0])
    assert np.corrcoef(f_dev, dT)[0, 1] < -0.3
