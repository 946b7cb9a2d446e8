"""The linear controller's model from a transfer-function-form model file's exact step responses.

A model loaded from an identified model file in transfer-function form
(:mod:`apc.ident.tf_file`) is realised with Padé states for its dead
times: the 40 MV x 80 CV example has 1,172 states. Linearising that
realisation (:func:`apc.linear.model.linearise`) takes minutes and its
``(I - A)^-1`` is badly conditioned; the step-response (DMC) form of the
controller needs neither. :class:`PairSteps` stands in for the
:class:`~apc.linear.model.LinearModel` of the step-response form: its step
responses are the pairs' exact ones (dead time exact,
:meth:`~apc.ident.tf_file.TransferFunctionFile.step_coefficients`) and its
steady-state gains the pairs' gains ``K`` (an integrating pair's ``K`` is
the CV's rate per unit input [CV unit / s / input unit], the CV must be
``ramp = true``). The plant in a loop is still the realised model.

The pair form has no state: the DMC prediction vector starts from the CVs of
the given model state with every CV at rest (as a plant at its operating
point), and :meth:`PairSteps.next_state` keeps the state it is given (the
controller's state estimate stays the start state).
"""

from __future__ import annotations

import numpy as np

from apc.ident.tf_file import TransferFunctionFile
from apc.ident.tf_model import pair_form
from apc.problem import ControlProblem
from twin.core.errors import InputError

SETTLED = 1e-4
"""A step response has settled when its slowest lag has decayed to this fraction."""
MAX_SETTLING = 10_000
"""Longest step response computed [control intervals]."""


def pair_steps(problem: ControlProblem) -> "PairSteps | None":
    """The pair form of the controller's model, or ``None`` when it has none.

    ``None`` also when a CV is not an output of the file (a CV on a Padé
    state has no pair form).
    """
    tf = pair_form(problem.model)
    if tf is None or any(c.name not in tf.outputs for c in problem.spec.cv):
        return None
    return PairSteps(problem, tf)


class PairSteps:
    """Exact step responses and gains of the CVs from a file's pairs (module docstring).

    Parameters
    ----------
    problem : ControlProblem
    tf : TransferFunctionFile
        The pairs, with the controller model's parameter values.
    """

    def __init__(self, problem: ControlProblem, tf: TransferFunctionFile):
        self.problem, self.tf = problem, tf
        self.dt = float(problem.spec.sample_time)
        inputs = problem.model.inputs.names
        self._rows = np.array([tf.outputs.index(c.name) for c in problem.spec.cv], dtype=int)
        self._cols = np.array([tf.inputs.index(inputs[i]) for i in
                               np.concatenate([problem.mv_index, problem.other_index]).astype(int)],
                              dtype=int)
        self.n_mv = len(problem.mv_index)
        self.x_op = problem.model.states.nominal()
        self._cv = problem.cv
        self._p = problem.model.p0()
        self._cache: np.ndarray | None = None

    @property
    def n_x(self) -> int:
        """States of the realised model (not used by the step-response form)."""
        return self.problem.n_x

    def settling_intervals(self) -> int:
        """Intervals for the slowest pair to settle to :data:`SETTLED` (at least 1)."""
        end = max(p.dead_time + sum(p.time_constants) * np.log(1.0 / SETTLED)
                  for p in self.tf.pairs)
        return int(min(MAX_SETTLING, max(1, np.ceil(end / self.dt))))

    def step_responses(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Unit-step responses of the CVs, ``k = 0..n``, as
        :meth:`apc.linear.model.LinearModel.step_responses` (``S[0] = 0``: no pair
        passes an input straight through)."""
        if self._cache is None or self._cache.shape[0] < n + 1:
            S = self.tf.step_coefficients(self.dt, max(int(n), 1))
            S = np.concatenate([np.zeros((1, *S.shape[1:])), S])
            self._cache = S[:, self._rows][:, :, self._cols]
        S = self._cache[:n + 1]
        return S[:, :, :self.n_mv].copy(), S[:, :, self.n_mv:].copy()

    def gains(self, ramp: np.ndarray, names: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Steady-state gains of the CVs to the MVs and other inputs: the pairs' ``K``
        (ramp CVs: the integrating pairs' rates, 0 for their other pairs).

        Raises :class:`InputError` when a CV with an integrating pair is not ``ramp``.
        """
        K = self.tf.gain_matrix()[self._rows][:, self._cols]
        integrating = np.zeros_like(K, dtype=bool)
        for pair in self.tf.pairs:
            if pair.integrating:
                rows = self._rows == self.tf.outputs.index(pair.cv)
                cols = self._cols == self.tf.inputs.index(pair.mv)
                integrating[np.ix_(rows, cols)] = True
        for i, name in enumerate(names):
            if integrating[i].any() and not ramp[i]:
                raise InputError(f"cv '{name}' integrates (it has an integrating pair in the "
                                 "model file): mark it ramp = true")
        G = np.where(np.asarray(ramp, bool)[:, None], np.where(integrating, K, 0.0), K)
        return G[:, :self.n_mv], G[:, self.n_mv:]

    def cv_values(self, x: np.ndarray, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """CV values of the realised model at state ``x`` [CV units]."""
        return np.array(self._cv(x, u, w, self._p), dtype=float).ravel()

    def next_state(self, x: np.ndarray, u: np.ndarray, w: np.ndarray) -> np.ndarray:
        """The state unchanged (the pair form has none; module docstring)."""
        return x
