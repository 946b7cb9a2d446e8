"""Counters and outcomes shared by the compiled kernels and their Python reference."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.core.errors import SimulationError

METHODS = ("rk4", "dopri5", "bdf")
"""Integration methods: fixed-step RK4, adaptive Dormand-Prince 5(4), adaptive BDF."""

STATUS_TEXT = {
    1: "the step limit was reached before the end of the interval",
    2: "the step size fell below the resolution of time (the solution blows up, or a stiff "
       "model needs method 'bdf')",
    3: "the model returned non-finite values",
}


@dataclass(frozen=True)
class StepStats:
    """Counters of one integration call.

    Attributes
    ----------
    steps, rejected : int
        Accepted and rejected steps.
    rhs_evals, jac_evals, lu_decomps : int
        Right-hand side and Jacobian evaluations, LU factorisations.
    order : int
        Order of the method at the end (BDF: 1..5).
    h : float
        Step size proposed for the next call [model time unit].
    """

    steps: int
    rejected: int
    rhs_evals: int
    jac_evals: int
    lu_decomps: int
    order: int
    h: float


@dataclass(frozen=True)
class BatchResult:
    """States of N instances at K + 1 interval ends.

    Attributes
    ----------
    x : numpy.ndarray
        Shape (N, K + 1, n_x); ``x[i, 0]`` is the initial state.
    status : numpy.ndarray
        Shape (N,): 0 for success, else the failure code (see :data:`STATUS_TEXT`).
    stats : numpy.ndarray
        Shape (N, 6): steps, rejected, rhs_evals, jac_evals, lu_decomps, order.
    """

    x: np.ndarray
    status: np.ndarray
    stats: np.ndarray

    @property
    def ok(self) -> np.ndarray:
        """Mask of the instances that finished."""
        return self.status == 0


def check_method(method: str) -> None:
    """Raise a one-line error for an unknown method name."""
    if method not in METHODS:
        from twin.core.errors import UnknownNameError

        raise UnknownNameError("integration method", method, METHODS)


BDF_TOO_SMALL = ("the step size fell below the resolution of time (the solution blows up, or "
                 "the model is not smooth enough for the Newton iterations of 'bdf' to converge)")
"""Status 2 of method ``bdf``: the general text would advise the method that failed."""


def status_text(status: int, method: str = "") -> str:
    """What a kernel status code means (for ``method``, when known)."""
    if status == 2 and method == "bdf":
        return BDF_TOO_SMALL
    return STATUS_TEXT.get(status, f"status {status}")


def raise_for_status(status: int, model_name: str, what: str = "", method: str = "") -> None:
    """Turn a kernel status code into a :class:`SimulationError`."""
    if status:
        raise SimulationError(f"'{model_name}'{what}: {status_text(status, method)}")
