"""The identification algorithms on systems whose answer is known exactly."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from apc.ident.fir import fit_fir, regressors
from apc.ident.gains import CONDITION_LIMIT, analyse_gains, rga
from apc.ident.realize import hankel_singular_values, realize
from apc.ident.subspace import fit_subspace
from apc.ident.transfer import PairModel, fit_transfer
from apc.ident.validation import nrmse_fit, validate
from ident_support import gbn
from twin.core.errors import InputError

RNG_SEED = 5


def _first_order(u, gain, pole, delay=0):
    """y[k+1] = pole y[k] + gain (1 - pole) u[k - delay]."""
    return signal.lfilter([0.0] * (delay + 1) + [gain * (1 - pole)], [1.0, -pole], u)


def test_fir_recovers_gains_with_honest_uncertainty():
    """Two inputs, one output: y = 2/(tau=10) u1 - 0.5/(tau=4, 3 samples delay) u2 + noise 0.05."""
    rng = np.random.default_rng(RNG_SEED)
    u = gbn(4000, 2, 1.0, 15.0, rng)
    y = 1.0 + _first_order(u[:, 0], 2.0, np.exp(-1 / 10)) + _first_order(u[:, 1], -0.5, np.exp(-1 / 4), 3)
    y = y + rng.normal(0, 0.05, y.size)
    fir = fit_fir(u, y[:, None], 1.0, 80)
    gains, std = fir.gains()[0], np.sqrt(np.diag(fir.gain_covariance()))
    assert gains == pytest.approx([2.0, -0.5], abs=4 * std.max())
    assert std.max() < 0.02
    assert fir.noise_std[0] == pytest.approx(0.05, rel=0.1)
    # dead time: the first three lags of u2 carry nothing
    assert np.all(np.abs(fir.impulse[0, 1, :3]) < 0.02) and fir.impulse[0, 1, 3] < -0.08
    # settling (95 %): 3 tau = 30 samples for u1, 3 + 12 for u2
    assert fir.settling_times()[0] == pytest.approx([30.0, 15.0], abs=3.0)
    # the step-response error is of the size of its standard deviation (errors along the
    # response are correlated: a cumulative sum)
    true_step = np.cumsum(_first_order(np.r_[1.0, np.zeros(80)], 2.0, np.exp(-1 / 10)))[1:]
    z = (fir.step_responses()[0, 0] - true_step) / fir.step_std()[0, 0]
    assert np.max(np.abs(z)) < 4 and np.mean(np.abs(z)) < 2


def test_fir_blocks_long_responses_and_refuses_what_it_cannot_fit():
    rng = np.random.default_rng(RNG_SEED)
    u = gbn(6000, 1, 1.0, 80.0, rng)
    y = _first_order(u[:, 0], 3.0, np.exp(-1 / 60))[:, None] + rng.normal(0, 0.02, (6000, 1))
    fir = fit_fir(u, y, 1.0, 400)
    assert fir.block == 4 and fir.taps == 400
    assert fir.gains()[0, 0] == pytest.approx(3.0, rel=0.03)
    assert regressors(np.arange(10.0)[:, None], 4, 2).tolist()[0] == [3 + 2, 1 + 0]
    with pytest.raises(InputError, match="too few"):
        fit_fir(u[:300], y[:300], 1.0, 400)
    with pytest.raises(InputError, match="never move"):
        fit_fir(np.column_stack([u[:, 0], np.ones(6000)]), y, 1.0, 50)


def test_transfer_functions_recover_structure_and_dead_time():
    """Noise-free SOPDT and FOPDT with a fractional dead time: parameters to 1 %."""
    rng = np.random.default_rng(RNG_SEED)
    dt = 2.0
    u = gbn(1500, 2, dt, 60.0, rng)
    true = [PairModel("sopdt", 1.5, (30.0, 8.0), 5.0), PairModel("sopdt", -0.7, (12.0, 1e-3), 9.0)]
    du = u - u[0]                                     # at rest at the first sample
    y = 4.0 + true[0].response(du[:, 0], dt) + true[1].response(du[:, 1], dt)
    model = fit_transfer(u, y[:, None], dt, "sopdt", guess_gain=np.array([[1.0, -1.0]]),
                         guess_settling=np.array([[150.0, 50.0]]))
    first, second = model.pairs[0]
    assert first.gain == pytest.approx(1.5, rel=0.01)
    assert first.time_constants == pytest.approx((30.0, 8.0), rel=0.01)
    assert first.dead_time == pytest.approx(5.0, abs=0.1)
    assert second.gain == pytest.approx(-0.7, rel=0.01) and second.time_constants[0] == pytest.approx(12.0, rel=0.01)
    assert second.dead_time + second.time_constants[1] == pytest.approx(9.0, abs=0.2)
    # its state space reproduces the transfer functions
    a, b, c, d = model.state_space()
    x, out = np.zeros(a.shape[0]), []
    for k in range(200):
        out.append(c @ x + d @ (u[k] - model.u0))
        x = a @ x + b @ (u[k] - model.u0)
    assert np.array(out)[:, 0] + model.y0[0] == pytest.approx(model.simulate(u[:200])[:, 0], abs=1e-9)


def test_integrating_pair():
    rng = np.random.default_rng(RNG_SEED)
    u = gbn(800, 1, 1.0, 20.0, rng)
    level = PairModel("integrating", 0.02, (5.0,), 2.0).response(u[:, 0] - u[0, 0], 1.0)
    model = fit_transfer(u, level[:, None], 1.0, "integrating", np.array([[0.5]]), np.array([[20.0]]))
    pair = model.pairs[0][0]
    assert pair.gain == pytest.approx(0.02, rel=0.01) and pair.time_constants[0] == pytest.approx(5.0, rel=0.02)


def test_realisation_and_subspace_find_the_modes():
    """A 2-input 2-output 3-state system: ERA from its impulse response, subspace from data."""
    a = np.diag([0.95, 0.8, 0.5])
    b = np.array([[1.0, 0.2], [0.0, 1.0], [0.5, -0.5]])
    c = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 1.0]])
    impulse = np.stack([c @ np.linalg.matrix_power(a, k) @ b for k in range(60)], axis=2)
    sigma = hankel_singular_values(impulse)
    assert sigma[3] < 1e-8 * sigma[0] < sigma[2]
    found = realize(impulse, 3)[0]
    assert np.sort(np.linalg.eigvals(found).real) == pytest.approx([0.5, 0.8, 0.95], abs=1e-8)

    rng = np.random.default_rng(RNG_SEED)
    u = gbn(3000, 2, 1.0, 10.0, rng)
    x, y = np.zeros(3), np.empty((3000, 2))
    for k in range(3000):
        y[k] = c @ x
        x = a @ x + b @ u[k]
    model = fit_subspace(u, y + rng.normal(0, 0.01, y.shape), 1.0, block_rows=10)
    assert model.order == 3
    assert np.sort(np.linalg.eigvals(model.A).real) == pytest.approx([0.5, 0.8, 0.95], abs=0.01)
    truth = c @ np.linalg.solve(np.eye(3) - a, b)
    assert model.gains() == pytest.approx(truth, rel=0.01)
    with pytest.raises(InputError, match="order 30"):
        fit_subspace(u, y, 1.0, order=30, block_rows=10)


def test_gain_analysis_rga_conditioning_and_warning():
    assert rga(np.array([[1.0, 2.0], [3.0, 4.0]])) == pytest.approx(np.array([[-2.0, 3.0], [3.0, -2.0]]))
    well = analyse_gains(np.array([[2.0, 0.5], [0.4, 1.5]]), np.eye(4) * 1e-4, ["a", "b"], ["y", "z"])
    assert not well.ill_conditioned and well.warning() is None
    assert well.condition == pytest.approx(np.linalg.cond([[2.0, 0.5], [0.4, 1.5]]))
    assert well.condition_low < well.condition < well.condition_high
    column = np.array([[0.878, -0.864], [1.082, -1.096]])   # Skogestad's column A, LV
    bad = analyse_gains(column, np.eye(4) * 1e-8, ["L", "V"], ["xD", "xB"])
    assert bad.condition > CONDITION_LIMIT and bad.rga[0, 0] == pytest.approx(35.1, abs=0.5)
    line = bad.warning()
    assert line.count("\n") == 0 and "+0.71 L +0.71 V" in line.replace("+0.70", "+0.71")
    # scaling by the moves changes the conditioning, not the RGA
    scaled = analyse_gains(column, np.eye(4) * 1e-8, ["L", "V"], ["xD", "xB"], [1.0, 1.0], [1.0, 100.0])
    assert scaled.rga == pytest.approx(bad.rga) and scaled.condition != pytest.approx(bad.condition)


def test_validation_figures():
    rng = np.random.default_rng(RNG_SEED)
    u = rng.normal(size=(2000, 1))
    clean = _first_order(u[:, 0], 1.0, 0.9)[:, None]
    noisy = clean + rng.normal(0, 0.1, clean.shape)
    assert nrmse_fit(clean, clean) == pytest.approx([100.0])
    assert nrmse_fit(clean, np.full_like(clean, clean.mean())) == pytest.approx([0.0], abs=1e-9)
    good = validate(u, noisy, clean)
    assert good.white()[0] and good.independent()[0, 0]
    missed = validate(u, noisy, 0.5 * clean)           # half the gain left in the residual
    assert not missed.independent()[0, 0] and not missed.white()[0]
