"""``twin identify --method tf --out``: the transfer functions' file loads and runs as a Model.

Each dead time is saved as a Padé approximation realised in continuous
time and sampled exactly (apc.ident.dead_time), so the file has a
continuous equivalent: ``twin steady`` and ``twin simulate`` run on it,
its steady gains are the identified gains, and its step response is the
identified transfer functions' (with their exact dead time) within the
stated tolerance.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from apc.ident.dead_time import (TOLERANCE, exact_step, pade_state_space, realise, sample,
                               step_error)
from apc.ident.model_file import IdentifiedModel
from apc.ident.transfer import PairModel, TransferModel
from ident_support import gbn
from support import run_twin
from twin.orchestration.identify_run import simulate_from_rest

STEP = 0.3
"""Input step of the step-response checks [input unit]."""


def _pairs(details: dict, cvs, mvs) -> list[list[PairModel]]:
    found = details["transfer_functions"]
    return [[PairModel(f["structure"], f["gain"], tuple(f["time_constants_s"]), f["dead_time_s"])
             for f in (found[f"{cv}/{mv}"] for mv in mvs)] for cv in cvs]


def _identify_and_check(capsys, tmp_path, data: str, mvs, cvs, t_end: float) -> dict:
    """Identify with --method tf --out, then check steady, simulate and step response of the file."""
    target = tmp_path / "tf.toml"
    code, out, err = run_twin(capsys, "identify", data, "--mv", ",".join(mvs), "--cv", ",".join(cvs),
                              "--method", "tf", "--out", str(target), "--json")
    assert code == 0, err
    result = json.loads(out)
    pairs = _pairs(result["details"], cvs, mvs)
    model = IdentifiedModel.load(target)
    assert model.provenance["dead_time"]["tolerance"] == TOLERANCE
    # the steady gains are the identified transfer functions' gains
    gains = np.array([[pair.gain for pair in row] for row in pairs])
    assert np.max(np.abs(model.steady_gain() - gains)) < 1e-6 * np.max(np.abs(gains))
    # twin steady on the file: the outputs move by the gains
    moved = model.u0 + np.array([STEP] + [0.0] * (len(mvs) - 1))
    code, out, err = run_twin(capsys, "steady", str(target), "--json",
                              *[f"--u={name}={float(value)!r}" for name, value in zip(mvs, moved)])
    assert code == 0, err
    steady = json.loads(out)["outputs"]
    for i, cv in enumerate(cvs):
        assert steady[cv] == pytest.approx(model.y0[i] + STEP * gains[i, 0], abs=1e-6 * abs(gains[i, 0]))
    # twin simulate on the file: a step in the first MV from the operating point
    csv = tmp_path / "step.csv"
    code, _, err = run_twin(capsys, "simulate", str(target), "--t-end", str(t_end), "--dt", "1",
                            "--out", str(csv), *[f"--u={name}={float(value)!r}" for name, value in zip(mvs, moved)])
    assert code == 0, err
    trend = pd.read_csv(csv)
    time = trend["time"].to_numpy()
    errors = {}
    for i, cv in enumerate(cvs):
        pair = pairs[i][0]
        expected = model.y0[i] + STEP * exact_step(pair, time)
        errors[cv] = float(np.max(np.abs(trend[cv].to_numpy() - expected)) / abs(STEP * pair.gain))
        assert errors[cv] <= TOLERANCE
        assert errors[cv] <= model.provenance["dead_time"]["step_error"][f"{cv}/{mvs[0]}"] + 1e-4
    result["step_errors"] = errors
    result["model"] = model
    return result


def test_tf_model_of_the_shipped_step_test_loads_and_runs(capsys, tmp_path, monkeypatch):
    """Quadruple tank step test (dead times near 0): the file once refused (A eigenvalue 0) runs."""
    monkeypatch.chdir(tmp_path)
    result = _identify_and_check(capsys, tmp_path, "quadruple_tank_steptest.csv", ["v1", "v2"],
                                 ["h1", "h2"], 600.0)
    model = result["model"]
    assert np.min(np.abs(np.linalg.eigvals(model.A))) > 1e-12
    assert model.to_model().n_x == model.n_states
    print(f"\nshipped step test, tf: {model.n_states} states, step errors {result['step_errors']}, "
          f"fit {result['fit_percent']}")


def test_tf_model_with_dead_times_is_saved_with_pade_approximations(capsys, tmp_path):
    """2x2 SOPDT with dead times of 2 to 6 samples (2 s sampling): Padé states, step within 0.5 %,
    the whole record within the noise of the transfer functions' own discrete simulation."""
    dt, samples = 2.0, 3000
    truth = [[PairModel("sopdt", 2.0, (40.0, 10.0), 6.0), PairModel("sopdt", 0.8, (60.0, 15.0), 12.0)],
             [PairModel("sopdt", -1.2, (30.0, 8.0), 4.0), PairModel("sopdt", 1.5, (50.0, 12.0), 9.0)]]
    rng = np.random.default_rng(14)
    u = 0.5 * gbn(samples, 2, dt, 120.0, rng)
    y = np.column_stack([sum(pair.response(u[:, j], dt) for j, pair in enumerate(row)) for row in truth])
    y = y + np.array([10.0, 20.0]) + rng.normal(0.0, 0.01, y.shape)
    frame = pd.DataFrame({"time": dt * np.arange(samples), "u1": u[:, 0] + 5.0, "u2": u[:, 1] + 5.0,
                          "y1": y[:, 0], "y2": y[:, 1]})
    path = tmp_path / "dead_time.csv"
    frame.to_csv(path, index=False)
    result = _identify_and_check(capsys, tmp_path, str(path), ["u1", "u2"], ["y1", "y2"], 400.0)
    found = result["details"]["transfer_functions"]
    orders = {name: f["pade_order"] for name, f in found.items()}
    assert all(order >= 1 for order in orders.values()), orders
    for i, cv in enumerate(["y1", "y2"]):
        for j, mv in enumerate(["u1", "u2"]):
            assert found[f"{cv}/{mv}"]["gain"] == pytest.approx(truth[i][j].gain, rel=0.02)
    assert all(f > 95 for f in result["fit_percent"].values())
    assert not [w for w in result["warnings"] if "dead time" in w]
    # over the whole record, the saved model follows the identified transfer functions (with
    # their exact discrete dead time) to within the measurement noise (std 0.01)
    model = result["model"]
    pairs = _pairs(result["details"], ["y1", "y2"], ["u1", "u2"])
    identified = TransferModel(tuple(tuple(row) for row in pairs), dt, model.u0, model.y0)
    inputs = frame[["u1", "u2"]].to_numpy()
    a, b, c, d = identified.state_space()
    gap = np.abs(simulate_from_rest(model.A, model.B, model.C, model.D, inputs, model.u0, model.y0)
                 - simulate_from_rest(a, b, c, d, inputs, model.u0, model.y0)).max(axis=0)
    assert np.all(gap < 0.01), gap
    print(f"\ndead-time data, tf: {result['model'].n_states} states, Padé orders {orders}, step errors "
          f"{result['step_errors']}, dead times "
          f"{ {k: round(f['dead_time_s'], 2) for k, f in found.items()} }, fit {result['fit_percent']}, "
          f"largest gap to the transfer functions {gap.round(4).tolist()}")


def test_pade_order_is_the_lowest_within_tolerance_and_below_nyquist():
    """The lowest Padé order within 0.5 %; when none is below the Nyquist frequency, the best."""
    sopdt = PairModel("sopdt", 1.5, (30.0, 8.0), 5.0)
    choice = realise(TransferModel(((sopdt,),), 1.0, np.zeros(1), np.zeros(1))).choices[0][0]
    assert choice.order == 2 and choice.error <= TOLERANCE        # 0.16 % (measured)
    assert step_error(sopdt, 1) > TOLERANCE                         # 0.63 %: order 1 is not enough
    assert step_error(sopdt, 0) > 0.05                              # dropping the delay: 10 %
    # FOPDT, tau 10 s, theta 5 s at 1 s: order 9 would put poles above 0.9 x Nyquist
    pair = PairModel("fopdt", 2.0, (10.0,), 5.0)
    realised = realise(TransferModel(((pair,),), 1.0, np.zeros(1), np.zeros(1)))
    choice = realised.choices[0][0]
    assert choice.order == 8 and choice.error == pytest.approx(0.0101, abs=0.0005)
    assert step_error(pair, 9) < choice.error
    assert abs(np.linalg.eigvals(realised.Ac)).max() * 1.0 < 25
    assert abs(np.linalg.eigvals(realised.Ac).imag).max() * 1.0 < 0.9 * np.pi
    # the Padé approximation has unit gain and is all-pass: |G(i w)| = 1
    a, b, c, d = pade_state_space(5.0, 4)
    for w in (0.0, 0.1, 1.0, 10.0):
        g = (c @ np.linalg.solve(1j * w * np.eye(4) - a, b) + d)[0, 0]
        assert abs(g) == pytest.approx(1.0, abs=1e-9)
    # sampling keeps the gain; the continuous form comes back from the file's matrices
    back = IdentifiedModel("fopdt", realised.A, realised.B, realised.C, realised.D, 1.0, ("u",), ("y",),
                           ("-",), ("-",), np.zeros(1), np.zeros(1)).to_model()
    a_11 = back.parameters.nominal()[back.parameters.index("A_1_1")]
    assert a_11 == pytest.approx(realised.Ac[0, 0], rel=1e-9)


def test_integrating_pair_with_dead_time_loads_as_a_model():
    """K/(s (tau s + 1)) e^{-theta s}: the sampled A has an eigenvalue at 1; its logarithm is 0."""
    pair = PairModel("integrating", 0.02, (5.0,), 3.0)
    realised = realise(TransferModel(((pair,),), 1.0, np.zeros(1), np.zeros(1)))
    assert np.isclose(np.abs(np.linalg.eigvals(realised.A)), 1.0).sum() == 1
    model = IdentifiedModel("level", realised.A, realised.B, realised.C, realised.D, 1.0, ("u",),
                            ("y",), ("-",), ("-",), np.zeros(1), np.zeros(1))
    from apc.ident.continuous import continuous_matrices

    ac, bc = continuous_matrices(model)
    assert ac == pytest.approx(realised.Ac, abs=1e-9) and bc == pytest.approx(realised.Bc, abs=1e-9)
    a2, b2 = sample(ac, bc, 1.0)
    assert a2 == pytest.approx(realised.A, abs=1e-12)
    assert realised.choices[0][0].error <= TOLERANCE


def test_a_dead_time_long_beside_its_lag_is_saved_with_a_warning_saying_what_to_do():
    """FOPDT, tau 3 s, theta 6 s, 1 s sampling: Padé 10 reaches 3.3 %, above 2 %; the run warns."""
    from twin.core.data.table import PlantData
    from twin.orchestration.identify_run import identify

    dt, samples = 1.0, 2000
    rng = np.random.default_rng(3)
    u = gbn(samples, 1, dt, 20.0, rng)[:, 0]
    y = 2.0 + PairModel("fopdt", 1.0, (3.0,), 6.0).response(u, dt) + rng.normal(0, 0.005, samples)
    frame = pd.DataFrame({"u": u, "y": y}, index=pd.Index(dt * np.arange(samples), name="time"))
    run = identify(PlantData(frame, {"u": "-", "y": "-"}, None, "fopdt"), ["u"], ["y"],
                   method="tf", structure="fopdt")
    found = run.details["transfer_functions"]["y/u"]
    assert found["dead_time_s"] == pytest.approx(6.0, abs=0.1) and found["pade_order"] == 10
    assert found["step_error"] == pytest.approx(0.033, abs=0.003)
    warning = [w for w in run.warnings() if "dead time" in w]
    assert warning == ["WARNING: the saved model's step response of y/u is off by up to 3.3 % of the "
                       "gain (y/u): a dead time long beside its lag and the sample time; use "
                       "--method fir or subspace, or data sampled faster"]
    assert run.model.provenance["dead_time"]["step_error"]["y/u"] == pytest.approx(found["step_error"],
                                                                                  abs=1e-6)
    assert run.model.to_model().n_x == 11
