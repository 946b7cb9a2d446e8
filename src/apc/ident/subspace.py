"""MIMO state-space models by subspace identification (PO-MOESP).

The subspace step, the LQ factorisation of the block Hankel matrices of
past and future inputs and outputs whose block ``R32`` spans the extended
observability matrix, is nfoursid's (``NFourSID.subspace_identification``).
From there this module goes its own way, because the library's
``system_identification`` falls short on plant data: per candidate order
it computes a *full* SVD of a (p i) x N matrix (an N x N factor: 400 MB
and ~10 s for two hours of 1 s data), and it estimates ``B`` and ``D`` by
one-step regression on the estimated states, which biases the gains with
noisy outputs. Here:

1. the oblique projection ``R32 R22^+ [U; Y]`` (economy SVD, ``U S V'``):
   the singular values ``S`` show the order, ``S_n^(1/2) V_n'`` is the
   state sequence, and ``A``, ``C`` follow from it by least squares (as in
   N4SID; more robust than the shift invariance of the observability
   matrix, which gave unstable modes on short noisy records);
2. ``B``, ``D`` and the initial state by linear least squares on the
   *simulated* output (output error), which is what the model is for;
3. order selection: each candidate order up to ``max_order`` is simulated
   from the inputs alone and the smallest order whose fit is within
   ``tolerance`` percentage points of the best is taken (parsimony).

nfoursid was chosen over sippy-unipi for the subspace step: on the same
data both give the same models (see the ``ident`` benchmark), and
nfoursid needs nothing beyond numpy and pandas, while sippy-unipi brings
sympy, python-control and tf2ss.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from apc.ident.validation import nrmse_fit
from twin.core.errors import InputError

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubspaceModel:
    """A discrete-time state-space model in deviation variables.

    Attributes
    ----------
    A, B, C, D : numpy.ndarray
        ``x[k+1] = A x[k] + B du[k]``, ``dy[k] = C x[k] + D du[k]``.
    dt : float
        Sample time [s].
    u0, y0 : numpy.ndarray
        Operating point (means of the estimation data).
    singular_values : numpy.ndarray
        Singular values of the subspace step, largest first (order selection).
    fits : dict
        Simulated fit [%] (mean over CVs) of each candidate order on the estimation data.
    """

    A: np.ndarray
    B: np.ndarray
    C: np.ndarray
    D: np.ndarray
    dt: float
    u0: np.ndarray
    y0: np.ndarray
    singular_values: np.ndarray
    fits: dict

    @property
    def order(self) -> int:
        """Number of states."""
        return int(self.A.shape[0])

    def gains(self) -> np.ndarray:
        """Steady-state gains ``C (I - A)^-1 B + D``, shape (p, m)."""
        return self.C @ np.linalg.solve(np.eye(self.order) - self.A, self.B) + self.D

    def time_constants(self) -> np.ndarray:
        """``-dt / ln|lambda|`` of each eigenvalue of ``A``, largest first [s]."""
        magnitude = np.abs(np.linalg.eigvals(self.A))
        with np.errstate(divide="ignore"):
            return np.sort(-self.dt / np.log(magnitude))[::-1]

    def simulate(self, u: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
        """Outputs for inputs ``u`` (samples, m) from state ``x0`` (default: rest)."""
        return simulate_state_space(self.A, self.B, self.C, self.D, np.asarray(u, float) - self.u0,
                                    x0) + self.y0


def simulate_state_space(a, b, c, d, du, x0=None) -> np.ndarray:
    """Output deviations of ``x[k+1] = A x + B du[k]``, ``dy = C x + D du`` from ``x0``."""
    x = np.zeros(a.shape[0]) if x0 is None else np.asarray(x0, float)
    states = np.empty((du.shape[0], a.shape[0]))
    drive = du @ b.T
    for k in range(du.shape[0]):
        states[k] = x
        x = a @ x + drive[k]
    return states @ c.T + du @ d.T


def fit_subspace(u: np.ndarray, y: np.ndarray, dt: float, order: int | None = None,
                 max_order: int = 8, block_rows: int = 20, tolerance: float = 1.0,
                 feedthrough: bool = False) -> SubspaceModel:
    """Subspace identification of a MIMO model from inputs (N, m) and outputs (N, p).

    Parameters
    ----------
    order : int, optional
        Number of states; chosen from ``1..max_order`` by simulated fit when not given.
    block_rows : int
        Block rows of the Hankel matrices (past and future horizon [samples]).
    tolerance : float
        Fit [percentage points] an order may lose against the best to be chosen.

    Raises
    ------
    InputError
        An order beyond what the block rows allow, or too few samples.
    """
    from nfoursid.nfoursid import NFourSID

    u, y = np.atleast_2d(np.asarray(u, float)), np.atleast_2d(np.asarray(y, float))
    m, p = u.shape[1], y.shape[1]
    top = p * block_rows
    if order is not None and not 1 <= order <= top:
        raise InputError(f"subspace: order {order} must be between 1 and {top} "
                         f"(outputs x block rows)")
    if u.shape[0] < 4 * block_rows * (m + p):
        raise InputError(f"subspace: {u.shape[0]} samples are too few for {block_rows} block rows")
    u0, y0 = u.mean(axis=0), y.mean(axis=0)
    frame = pd.DataFrame(np.hstack([u - u0, y - y0]),
                         columns=[f"u{j}" for j in range(m)] + [f"y{i}" for i in range(p)])
    with threadpool_limits(limits=1, user_api="blas"):
        solver = NFourSID(frame, output_columns=[f"y{i}" for i in range(p)],
                          input_columns=[f"u{j}" for j in range(m)], num_block_rows=block_rows)
        solver.subspace_identification()
        sigma, states = _state_sequence(solver, block_rows)
        candidates = [order] if order is not None else range(1, min(max_order, top - p) + 1)
        models, fits = {}, {}
        for n in candidates:
            a, c = _state_matrices(states[:n], u - u0, y - y0, block_rows)
            b, d = _input_matrices(a, c, u - u0, y - y0, feedthrough)
            models[n] = (a, b, c, d)
            fits[n] = float(np.mean(nrmse_fit(y - y0, simulate_state_space(a, b, c, d, u - u0))))
    best = max(fits.values())
    chosen = min(n for n in fits if fits[n] >= best - tolerance)
    LOG.info("subspace: order %d (fits by order %s)", chosen, fits)
    a, b, c, d = models[chosen]
    return SubspaceModel(a, b, c, d, float(dt), u0, y0, sigma, fits)


def _state_sequence(solver, block_rows: int):
    """Singular values and the scaled right singular vectors (state sequence, one state a row)."""
    from nfoursid.utils import Utils

    hankels = np.concatenate([Utils.block_hankel_matrix(solver.u_array, block_rows),
                              Utils.block_hankel_matrix(solver.y_array, block_rows)])
    projection = solver.R32 @ np.linalg.pinv(solver.R22) @ hankels
    _, sigma, vt = np.linalg.svd(projection, full_matrices=False)
    return sigma, np.sqrt(sigma)[:, None] * vt


def _state_matrices(states, du, dy, block_rows: int):
    """``A`` and ``C`` by least squares on ``x[k+1] = A x + B du``, ``dy = C x + D du``."""
    n = states.shape[0]
    count = min(states.shape[1], du.shape[0] - block_rows)
    states = states[:, :count]
    du_k, dy_k = du[block_rows:block_rows + count].T, dy[block_rows:block_rows + count].T
    regress = np.concatenate([states[:, :-1], du_k[:, :-1]])
    target = np.concatenate([states[:, 1:], dy_k[:, :-1]])
    theta = np.linalg.lstsq(regress.T, target.T, rcond=None)[0].T
    return theta[:n, :n], theta[n:, :n]


def _input_matrices(a, c, du, dy, feedthrough: bool):
    """``B`` (and ``D``) by least squares on the simulated output, with a free initial state."""
    count, m = du.shape
    n, p = a.shape[0], c.shape[0]
    columns = []
    # response of the outputs to B[s, j] = 1: C W_j[k] e_s, W_j[k+1] = A W_j[k] + du_j[k] I
    for j in range(m):
        w = np.zeros((n, n))
        stack = np.empty((count, n, n))
        for k in range(count):
            stack[k] = w
            w = a @ w
            w[np.diag_indices(n)] += du[k, j]
        columns.append(np.einsum("pn,kns->kps", c, stack))  # (count, p, n)
    free = [np.concatenate(columns, axis=2)]
    if feedthrough:
        eye = np.eye(p)
        free.append(np.einsum("km,pq->kpqm", du, eye).reshape(count, p, p * m))
    power, initial = np.eye(n), np.empty((count, p, n))
    for k in range(count):
        initial[k] = c @ power
        power = a @ power
    free.append(initial)
    design = np.concatenate(free, axis=2).reshape(count * p, -1)
    theta = np.linalg.lstsq(design, dy.reshape(-1), rcond=None)[0]
    b = theta[:n * m].reshape(m, n).T
    d = theta[n * m:n * m + p * m].reshape(p, m) if feedthrough else np.zeros((p, m))
    return b, d
