"""Figures of identification: ident_fir_2x2 and ident_subspace_quadruple_tank."""

from __future__ import annotations


import numpy as np
from scipy import signal

from twin_benchmarks.harness import BenchContext, FigureResult, Samples, benchmark

FIR_PLANT = (((2.0, 10.0), (0.5, 20.0)), ((-1.0, 15.0), (1.5, 8.0)))
"""2x2 test plant of the FIR figure: (gain [-], time constant [samples]) per CV-MV pair."""
FIR_TAPS = 120
"""Impulse-response length of the FIR figure [samples] (six time constants of the slowest pair: its truncated tail is 0.25 % of its gain)."""


def _gbn(samples: int, inputs: int, switching: float, rng) -> np.ndarray:
    switches = rng.random((samples, inputs)) < 1.0 / switching
    return np.where(np.cumsum(switches, axis=0) % 2 == 0, 1.0, -1.0)


def _fir_data(samples: int, seed: int = 3):
    rng = np.random.default_rng(seed)
    u = _gbn(samples, 2, 10.0, rng)
    y = np.zeros((samples, 2))
    for i, row in enumerate(FIR_PLANT):
        for j, (gain, tau) in enumerate(row):
            pole = np.exp(-1.0 / tau)
            y[:, i] += signal.lfilter([0.0, gain * (1 - pole)], [1.0, -pole], u[:, j])
    return u, y + rng.normal(0.0, 0.1, y.shape)


def _plain_least_squares(u, y, taps):
    """Unregularised FIR: numpy.linalg.lstsq on the lagged inputs, single-threaded like ours."""
    from threadpoolctl import threadpool_limits

    from apc.ident.fir import regressors

    phi = regressors(u - u.mean(axis=0), taps)
    phi = np.column_stack([phi, np.ones(phi.shape[0])])
    with threadpool_limits(limits=1, user_api="blas"):
        theta = np.linalg.lstsq(phi, y[taps:], rcond=None)[0]
    return theta[:-1].T.reshape(y.shape[1], u.shape[1], taps)


@benchmark("ident_fir_2x2", "s per regularised (TC kernel, marginal likelihood) FIR identification "
           "of a 2x2 plant, 120 taps per pair, from 100,000 samples (quick 20,000), vs plain "
           "least squares (numpy.linalg.lstsq) on the same data", quick_budget_s=6)
def ident_fir_2x2(ctx: BenchContext) -> FigureResult:
    from apc.ident.fir import fit_fir

    samples = ctx.size(20_000, 100_000)
    u, y = _fir_data(samples)
    truth = np.array([[g for g, _ in row] for row in FIR_PLANT])
    ours = ctx.time_calls(lambda: fit_fir(u, y, 1.0, FIR_TAPS), samples=ctx.size(2, 5), scale=1.0,
                          warmup=0)
    plain = ctx.time_calls(lambda: _plain_least_squares(u, y, FIR_TAPS), samples=ctx.size(1, 3),
                           scale=1.0, warmup=0)
    fir = fit_fir(u, y, 1.0, FIR_TAPS)
    plain_gains = _plain_least_squares(u, y, FIR_TAPS).sum(axis=2)
    result = FigureResult(Samples(ours, "s/fit"), {"numpy_lstsq_unregularised": Samples(plain, "s/fit")})
    result.details.update(samples=samples, taps=FIR_TAPS,
                          max_gain_error_ours=float(np.max(np.abs(fir.gains() - truth))),
                          max_gain_error_lstsq=float(np.max(np.abs(plain_gains - truth))),
                          max_gain_std_ours=float(np.sqrt(np.max(np.diag(fir.gain_covariance())))))
    median = float(np.median(ours))
    if samples == 100_000:
        result.target("fir_100k", "FIR of a 2x2 plant from 10^5 samples < 1 s", median, median < 1.0)
    return result


def _quadruple_tank_data(samples: int, seed: int = 1):
    from twin.core.simulator import Simulator
    from twin.core.steady import find_steady_state
    from twin.orchestration.registry import load_model

    rng = np.random.default_rng(seed)
    model = load_model("quadruple_tank", parameter_set="P-")
    steady = find_steady_state(model)
    u = steady.u + 0.3 * _gbn(samples, 2, 120.0, rng)
    sim = Simulator(model, 1.0, steady.x)
    y = np.empty((samples, 2))
    for k in range(samples):
        y[k] = sim.x[:2]
        sim.step(u[k])
    return u, y + rng.normal(0.0, 0.05, y.shape), steady


def _nfoursid_library(u, y, order, block_rows):
    """nfoursid end to end: its subspace step and its own system_identification."""
    import pandas as pd
    from nfoursid.nfoursid import NFourSID

    u0, y0 = u.mean(axis=0), y.mean(axis=0)
    frame = pd.DataFrame(np.hstack([u - u0, y - y0]), columns=["u0", "u1", "y0", "y1"])
    solver = NFourSID(frame, output_columns=["y0", "y1"], input_columns=["u0", "u1"],
                      num_block_rows=block_rows)
    solver.subspace_identification()
    model, _ = solver.system_identification(rank=order)
    return model.a, model.b, model.c, model.d, u0, y0


@benchmark("ident_subspace_quadruple_tank", "s per subspace identification of the 4-state quadruple "
           "tank (P-, 1 s sampling, level noise 0.05 cm, GBN on both pumps; 5,000 samples, quick "
           "2,000), order 4: ours (nfoursid's subspace step, output-error B and D) vs nfoursid end "
           "to end, with the fit of each", quick_budget_s=9)
def ident_subspace_quadruple_tank(ctx: BenchContext) -> FigureResult:
    from apc.ident.subspace import fit_subspace, simulate_state_space
    from apc.ident.validation import nrmse_fit

    samples = ctx.size(2_000, 5_000)   # nfoursid's full SVD needs N^2 doubles: 200 MB at 5,000
    u, y, steady = _quadruple_tank_data(samples)
    lin = steady.linearization
    truth = (-np.linalg.solve(lin.A, lin.B))[:2]
    ours = ctx.time_calls(lambda: fit_subspace(u, y, 1.0, order=4), samples=3, scale=1.0, warmup=0)
    library = ctx.time_calls(lambda: _nfoursid_library(u, y, 4, 20), samples=ctx.size(1, 3),
                             scale=1.0, warmup=0)
    model = fit_subspace(u, y, 1.0, order=4)
    a, b, c, d, u0, y0 = _nfoursid_library(u, y, 4, 20)
    library_fit = nrmse_fit(y, simulate_state_space(a, b, c, d, u - u0) + y0)
    library_gain = c @ np.linalg.solve(np.eye(4) - a, b) + d
    result = FigureResult(Samples(ours, "s/fit"), {"nfoursid_end_to_end": Samples(library, "s/fit")})
    result.details.update(
        samples=samples,
        fit_percent_ours=nrmse_fit(y, model.simulate(u)).round(2).tolist(),
        fit_percent_nfoursid=library_fit.round(2).tolist(),
        max_gain_error_percent_ours=float(100 * np.max(np.abs(model.gains() / truth - 1))),
        max_gain_error_percent_nfoursid=float(100 * np.max(np.abs(library_gain / truth - 1))))
    return result
