"""Gauss-Newton statistics against textbook least squares, and data in other units."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from plant_models.cstr import MODEL
from twin.core.calibration import calibrate
from twin.core.calibration.statistics import statistics
from twin.core.data import load_data
from twin.orchestration.calibrate_run import align
from twin.orchestration.synthetic_data import cstr_calibration_data, write_wide_csv


def test_straight_line_intervals_match_scipy_linregress():
    rng = np.random.default_rng(3)
    t = np.linspace(0.0, 10.0, 40)
    y = 2.0 + 0.5 * t + rng.normal(0.0, 0.3, t.size)
    fit = sps.linregress(t, y)
    residuals = y - (fit.intercept + fit.slope * t)
    J = np.column_stack([np.ones_like(t), t])  # weights 1: the residual variance scales it
    st = statistics(("a", "b"), np.array([fit.intercept, fit.slope]), J, residuals)
    assert st.std[0] == pytest.approx(fit.intercept_stderr, rel=1e-9)
    assert st.std[1] == pytest.approx(fit.stderr, rel=1e-9)
    half = sps.t.ppf(0.975, t.size - 2) * fit.stderr
    assert st.high[1] - st.low[1] == pytest.approx(2 * half, rel=1e-9)
    # intercept and slope of a line over 0..10 are correlated: -sum(t)/sqrt(n sum t^2)
    expected = -t.sum() / np.sqrt(t.size * (t ** 2).sum())
    assert st.correlation[0, 1] == pytest.approx(expected, rel=1e-9)
    assert st.warnings == ()


def test_duplicated_column_is_named_not_identifiable():
    t = np.linspace(0.0, 1.0, 20)
    J = np.column_stack([t, 2 * t, np.ones_like(t)])
    st = statistics(("k1", "k2", "c"), np.ones(3), J, np.full(20, 0.1))
    assert st.not_identifiable == ("k1", "k2")
    assert np.isinf(st.std[:2]).all() and np.isfinite(st.std[2])
    assert st.correlation[0, 1] == pytest.approx(-1.0)  # k1 up, k2 down: the same fit


def test_data_in_kelvin_and_seconds_give_the_same_estimates(tmp_path):
    frame = cstr_calibration_data(t_end=1.0, dt=30 / 3600)
    degc = write_wide_csv(frame, tmp_path / "degc.csv")
    kelvin = frame.rename(columns={"T_R [degC]": "T_R [K]", "T_K [degC]": "T_K [K]"})
    kelvin[["T_R [K]", "T_K [K]"]] += 273.15
    kelvin = write_wide_csv(kelvin, tmp_path / "kelvin.csv")
    results = []
    for path in (degc, kelvin):
        data, notes = align(MODEL, load_data(path))
        assert data.t[-1] == pytest.approx(1.0)  # 3600 s is 1 h, the CSTR's time unit
        assert data.names == ("T_R", "T_K", "C_b") and notes == []
        results.append(calibrate(MODEL, data, ["alpha", "beta"], ["C_a"]))
    np.testing.assert_allclose(results[0].values, results[1].values, rtol=1e-5)
    assert results[0].values[0] == pytest.approx(1.05, abs=0.002)


def test_analyser_gaps_and_missing_input_samples(tmp_path):
    frame = cstr_calibration_data(t_end=1.0, dt=30 / 3600)
    frame.loc[5:7, "F [1/h]"] = np.nan  # a logger gap in an input: held
    path = write_wide_csv(frame.assign(extra=1.0), tmp_path / "gaps.csv")
    data, notes = align(MODEL, load_data(path))
    assert "input F: 3 missing samples held at the previous value" in notes
    assert "columns not in model 'cstr', ignored: extra" in notes
    assert np.all(data.u[5:8, 0] == data.u[4, 0])
    analyser = np.isfinite(data.y[:, 2])
    assert analyser.sum() == 13 and np.isfinite(data.y[:, 0]).all()
    assert isinstance(frame, pd.DataFrame)


def test_shipped_example_data_is_what_the_generator_makes(tmp_path):
    shipped = pd.read_csv(_shipped("cstr_plant_data.csv"))
    made = pd.read_csv(write_wide_csv(cstr_calibration_data(t_end=1.0, dt=30 / 3600),
                                      tmp_path / "made.csv"))
    assert list(shipped.columns) == list(made.columns) and len(shipped) == 121
    np.testing.assert_allclose(shipped.to_numpy(), made.to_numpy(), rtol=1e-7, equal_nan=True)


def _shipped(name: str):
    from twin.orchestration.examples import FOLDER

    return FOLDER / name
