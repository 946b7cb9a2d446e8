"""State-space realisation of an impulse response (Ho-Kalman / ERA).

The eigensystem realisation algorithm (Juang and Pappa 1985) turns the
Markov parameters of an FIR model into a low-order discrete-time
``A, B, C, D`` through the SVD of their block Hankel matrix; the Hankel
singular values show how many states the data support.
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from twin.core.errors import InputError


def hankel_singular_values(impulse: np.ndarray, rows: int | None = None) -> np.ndarray:
    """Singular values of the block Hankel matrix of ``impulse`` (p, m, taps), largest first."""
    with threadpool_limits(limits=1, user_api="blas"):
        return np.linalg.svd(_hankel(impulse, rows)[0], compute_uv=False)


def _hankel(impulse: np.ndarray, rows: int | None):
    p, m, taps = impulse.shape
    rows = rows or taps // 2
    cols = taps - rows
    if rows < 1 or cols < 2:
        raise InputError(f"realisation: an impulse response of {taps} samples is too short")
    markov = np.transpose(impulse, (2, 0, 1))  # (taps, p, m): markov[k] = C A^k B
    index = np.arange(rows)[:, None] + np.arange(cols)[None, :]
    big = markov[index].transpose(0, 2, 1, 3).reshape(rows * p, cols * m)
    return big[:, :m * (cols - 1)], big[:, m:], rows, cols


def realize(impulse: np.ndarray, order: int, rows: int | None = None):
    """Discrete-time ``(A, B, C, D)`` of ``order`` states whose impulse response fits ``impulse``.

    ``impulse[i, j, k]`` is the response of output ``i`` at lag ``k+1`` to
    a unit pulse of input ``j`` (no direct feed-through: ``D = 0``).

    Raises
    ------
    InputError
        An order the Hankel matrix cannot carry.
    """
    return realizations(impulse, [order], rows)[order]


def realizations(impulse: np.ndarray, orders, rows: int | None = None) -> dict:
    """:func:`realize` for several orders, from one SVD: ``{order: (A, B, C, D)}``."""
    p, m, _ = impulse.shape
    big, shifted, rows, _ = _hankel(impulse, rows)
    for order in orders:
        if not 1 <= order <= min(big.shape):
            raise InputError(f"realisation: order {order} must be between 1 and {min(big.shape)}")
    with threadpool_limits(limits=1, user_api="blas"):
        u_mat, sigma, vt = np.linalg.svd(big, full_matrices=False)
    out = {}
    for order in orders:
        u_r, s_r, v_r = u_mat[:, :order], sigma[:order], vt[:order].T
        root = np.sqrt(s_r)
        a = (u_r / root).T @ shifted @ (v_r / root)
        b = (root[:, None] * v_r.T)[:, :m]
        c = (u_r * root)[:p]
        out[order] = (a, b, c, np.zeros((p, m)))
    return out


def order_from_singular_values(sigma: np.ndarray, max_order: int, ratio: float = 0.02) -> int:
    """Smallest order whose next Hankel singular value is below ``ratio`` of the largest."""
    count = int(np.sum(sigma[:max_order] > ratio * sigma[0]))
    return max(1, count)
