"""Compiled integrators (public API of the Cython kernels).

Same signatures as :mod:`twin.core.kernels.reference`; ``functions`` comes
from :func:`twin.core.kernels.functions.model_functions`. When the model
could not be compiled (no C compiler), every function here runs the
Python reference instead, with CasADi evaluating the model.
"""

from __future__ import annotations

import os

import numpy as np

from twin.core.kernels import _kernels, reference
from twin.core.kernels.results import BatchResult, StepStats, check_method, raise_for_status


def _f64(a) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float64)


def integrate(functions, method: str, x0, u, p, t_end: float, rtol: float = 1e-6,
              atol: float = 1e-9, n_sub: int = 1, max_steps: int = 100_000, h0: float = 0.0):
    """One instance over ``[0, t_end]`` by ``method``; returns ``(x, StepStats)``."""
    check_method(method)
    if functions.kernel is None:
        return reference.integrate(functions, method, x0, u, p, t_end, rtol, atol, n_sub,
                                   max_steps, h0)
    x = np.array(x0, dtype=np.float64)
    status, counts, h = _kernels.integrate(functions.kernel, method, x, _f64(u), _f64(p),
                                           float(t_end), rtol, atol, int(n_sub), int(max_steps),
                                           float(h0))
    raise_for_status(status, functions.model.name, method=method)
    return x, StepStats(*counts, h)


def rk4(functions, x0, u, p, h: float, n_steps: int) -> np.ndarray:
    """``n_steps`` classical RK4 steps of size ``h`` from ``x0``."""
    x, _ = integrate(functions, "rk4", x0, u, p, h * n_steps, n_sub=n_steps)
    return x


def dopri5(functions, x0, u, p, t_end: float, rtol: float = 1e-6, atol: float = 1e-9,
           h0: float = 0.0, max_steps: int = 100_000):
    """Adaptive Dormand-Prince 5(4) over ``[0, t_end]``; returns ``(x, StepStats)``."""
    return integrate(functions, "dopri5", x0, u, p, t_end, rtol, atol, 1, max_steps, h0)


def bdf(functions, x0, u, p, t_end: float, rtol: float = 1e-6, atol: float = 1e-9,
        h0: float = 0.0, max_steps: int = 100_000):
    """Adaptive variable-order BDF over ``[0, t_end]``; returns ``(x, StepStats)``."""
    return integrate(functions, "bdf", x0, u, p, t_end, rtol, atol, 1, max_steps, h0)


def default_threads() -> int:
    """Threads for batch stepping: ``$TWIN_THREADS`` or the usable cores."""
    env = os.environ.get("TWIN_THREADS")
    if env:
        return max(1, int(env))
    return max(1, len(os.sched_getaffinity(0)))


def integrate_batch(functions, method: str, X0, U, P, dt: float, rtol: float = 1e-6,
                    atol: float = 1e-9, n_sub: int = 1, max_steps: int = 100_000,
                    threads: int | None = None, chunk: int = 0) -> BatchResult:
    """N instances over K intervals of ``dt``, in parallel across ``threads``.

    ``X0`` (N, n_x), ``U`` (N, K, n_u) inputs per interval, ``P`` (N, n_p).
    Each instance has its own step-size control; results are bitwise the
    same for any ``threads`` and ``chunk`` (instances per scheduling block,
    0 for an even split).
    """
    check_method(method)
    if functions.kernel is None:
        return reference.integrate_batch(functions, method, X0, U, P, dt, rtol, atol, n_sub,
                                         max_steps)
    X0, U, P = _f64(X0), _f64(U), _f64(P)
    N, K = U.shape[0], U.shape[1]
    if X0.shape[0] != N or P.shape[0] != N:
        raise ValueError(f"X0, U and P need the same number of instances ({X0.shape[0]}, {N}, "
                         f"{P.shape[0]})")
    out = np.empty((N, K + 1, X0.shape[1]))
    status = np.zeros(N, dtype=np.int32)
    stats = np.zeros((N, 6), dtype=np.int64)
    threads = default_threads() if threads is None else max(1, int(threads))
    _kernels.integrate_batch(functions.kernel, method, X0, U, P, float(dt), rtol, atol, int(n_sub),
                             int(max_steps), out, status, stats, min(threads, max(N, 1)),
                             int(chunk))
    return BatchResult(out, status, stats)


def stepper(functions, method, x0, p, dt, rtol, atol, n_sub, max_steps, lower, upper, on_error):
    """The compiled equivalent of :class:`reference.Stepper` (or the reference itself)."""
    check_method(method)
    if functions.kernel is None:
        return reference.Stepper(functions, method, x0, p, dt, rtol, atol, n_sub, max_steps,
                                 lower, upper, on_error)
    return _kernels.Stepper(functions.kernel, method, x0, p, dt, rtol, atol, n_sub, max_steps,
                            lower, upper, on_error)
