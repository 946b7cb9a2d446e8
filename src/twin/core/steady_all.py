"""Every steady state of a model within its state bounds (multi-start).

A reactor with an exothermic reaction can have several steady states at
the same inputs (the classic three of a CSTR: cold, middle, hot, the
middle one unstable). One solve from one guess finds one of them; this
module starts :func:`twin.core.steady.find_steady_state` from a scrambled
Sobol set of points spread over the state bounds, keeps every point that
converged, and merges points closer than a tolerance. Each steady state
carries its Jacobian eigenvalues, so it is labelled stable or unstable.

The search is a sample, not a proof: a steady state whose basin of
attraction (for the solver) misses every starting point is not found.
More starting points (``starts``) make that less likely.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from twin.core.errors import InputError, SteadyStateError
from twin.core.model import Model
from twin.core.steady import SteadyState, find_steady_state

log = logging.getLogger(__name__)

DEFAULT_STARTS = 64
"""Starting points of the search (a power of two: a balanced Sobol set)."""
DEFAULT_TOLERANCE = 1e-6
"""Two solutions are one steady state when every state differs by less than this
fraction of its range (or of ``1 + |x|`` for a state without finite bounds) [-]."""


def search_box(model: Model) -> tuple[np.ndarray, np.ndarray]:
    """Where the starting points are drawn: the state bounds; a side without a finite
    bound is 10 times ``max(|nominal|, 1)`` away from the nominal value [state units]."""
    nominal = model.x0()
    reach = 10.0 * np.maximum(np.abs(nominal), 1.0)
    lower, upper = model.states.lower(), model.states.upper()
    lower = np.where(np.isfinite(lower), lower, nominal - reach)
    upper = np.where(np.isfinite(upper), upper, nominal + reach)
    return lower, upper


def starting_points(model: Model, starts: int, seed: int = 0) -> np.ndarray:
    """``starts`` points (rows) of a scrambled Sobol sequence in :func:`search_box`, the
    nominal state first [state units]."""
    from scipy.stats import qmc

    lower, upper = search_box(model)
    sampler = qmc.Sobol(d=model.n_x, scramble=True, seed=np.random.default_rng(seed))
    m = max(0, int(np.ceil(np.log2(max(starts - 1, 1)))))
    unit = sampler.random_base2(m)[: max(starts - 1, 0)]
    points = qmc.scale(unit, lower, upper) if len(unit) else np.empty((0, model.n_x))
    return np.vstack([np.clip(model.x0(), lower, upper), points])


def find_all_steady_states(model: Model, u: Mapping[str, float] | np.ndarray | None = None,
                           starts: int = DEFAULT_STARTS, tolerance: float = DEFAULT_TOLERANCE,
                           seed: int = 0) -> list[SteadyState]:
    """Every steady state found from ``starts`` starting points within the state bounds.

    Parameters
    ----------
    model : Model
        The model, with its parameter values.
    u : mapping or array, optional
        Inputs (by name over the nominal inputs, or a full vector).
    starts : int
        Number of starting points (at least 1; the nominal state is the first).
    tolerance : float
        Merge distance, as a fraction of each state's range (see
        :data:`DEFAULT_TOLERANCE`) [-].
    seed : int
        Seed of the scrambled Sobol set (the result is reproducible).

    Returns
    -------
    list of SteadyState
        Sorted by the first state, then the next ones; each has ``stable``.

    Raises
    ------
    SteadyStateError
        When no start converged to a steady state within the bounds.
    """
    if not 1 <= starts <= 100_000:
        raise InputError(f"starts {starts}: give 1 to 100000 starting points")
    if not 0 < tolerance < 1:
        raise InputError(f"tolerance {tolerance:g}: give a fraction between 0 and 1")
    lower, upper = search_box(model)
    scale = np.where(np.isfinite(model.states.upper() - model.states.lower()), upper - lower, 0.0)
    found: list[SteadyState] = []
    failures = 0
    for x in starting_points(model, starts, seed):
        try:
            ss = find_steady_state(model, u=u, x_guess=x)
        except SteadyStateError:
            failures += 1
            continue
        width = tolerance * np.where(scale > 0, scale, 1.0 + np.abs(ss.x))
        if not any(np.all(np.abs(ss.x - other.x) <= width) for other in found):
            found.append(ss)
    log.info("%s: %d steady states from %d starts (%d did not converge)", model.name,
             len(found), starts, failures)
    if not found:
        raise SteadyStateError(f"no steady state of '{model.name}' found within the state bounds "
                               f"from {starts} starting points; try other inputs or more starts")
    return sorted(found, key=lambda s: tuple(s.x))
