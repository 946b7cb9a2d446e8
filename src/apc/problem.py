"""The model seen through a controller specification: what the optimisers share.

:class:`ControlProblem` fixes the index sets (which inputs are MVs, which
are disturbances or held constant, which signals are CVs and measurements,
which measurements carry a bias state) and builds the CasADi functions the
target calculation, both NMPC formulations and the estimators use. All of
them evaluate the one model definition, so there is nothing to retype.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import casadi as ca
import numpy as np

from apc.spec import ControllerSpec, CVSpec
from twin.core import ops
from twin.core.model import Model


def _magnitude(value: float) -> float:
    return max(abs(value), 1e-6) if np.isfinite(value) else 1.0


@dataclass(frozen=True, eq=False)
class ControlProblem:
    """Index sets and CasADi functions of one controller.

    Attributes
    ----------
    model : Model
        The internal model (spec parameters applied).
    spec : ControllerSpec
    mv_index : numpy.ndarray
        Positions of the MVs in the model's input vector.
    other_index : numpy.ndarray
        Positions of the other inputs (DVs and inputs held constant).
    x_scale, u_scale : numpy.ndarray
        Scaling of states and MVs in the optimisation.
    bias_names : list of str
        Measurements that carry a bias state, in bias-vector order.
    cv_bias : numpy.ndarray
        Shape (n_cv, n_bias): which bias adds to which CV (0/1).
    cv_ramp : numpy.ndarray of bool
        Which CVs are ramps (integrating), (n_cv,).
    f, cv, meas : casadi.Function
        ``f(x, u_mv, w, p)`` state derivatives; ``cv(x, u_mv, w, p)`` CV
        values without bias; ``meas(x, u_mv, w, p)`` measured signals without bias.
    """

    model: Model
    spec: ControllerSpec
    mv_index: np.ndarray = field(init=False)
    other_index: np.ndarray = field(init=False)
    x_scale: np.ndarray = field(init=False)
    u_scale: np.ndarray = field(init=False)
    bias_names: list[str] = field(init=False)
    cv_bias: np.ndarray = field(init=False)
    cv_ramp: np.ndarray = field(init=False)
    f: ca.Function = field(init=False)
    cv: ca.Function = field(init=False)
    meas: ca.Function = field(init=False)

    def __post_init__(self) -> None:
        model, spec = self.model, self.spec
        spec.check(model)
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        mv_names = [m.name for m in spec.mv]
        set_("mv_index", np.array([model.inputs.index(n) for n in mv_names], dtype=int))
        set_("other_index", np.array([i for i, n in enumerate(model.inputs.names)
                                      if n not in mv_names], dtype=int))
        set_("x_scale", np.array([spec.scaling.get(v.name, 1.0) for v in model.states]))
        set_("u_scale", np.array([m.scale for m in spec.mv]))
        biased = [m.name for m in spec.measurements if m.bias and spec.estimator.kind != "state_feedback"]
        set_("bias_names", biased)
        sel = np.zeros((len(spec.cv), len(biased)))
        for i, cv in enumerate(spec.cv):
            if cv.name in biased:
                sel[i, biased.index(cv.name)] = 1.0
        set_("cv_bias", sel)
        set_("cv_ramp", np.array([c.ramp for c in spec.cv], dtype=bool))
        x = ca.SX.sym("x", model.n_x)
        u = ca.SX.sym("u", len(mv_names))
        w = ca.SX.sym("w", len(self.other_index))
        p = ca.SX.sym("p", model.n_p)
        full_u = self.full_inputs(u, w)
        xs, us, ps = ca.vertsplit(x), ca.vertsplit(full_u), ca.vertsplit(p)
        xdot = ca.vertcat(*model.evaluate_rhs(xs, us, ps, ops.CASADI))
        ys = dict(zip(model.outputs.names, model.evaluate_outputs(xs, us, ps, ops.CASADI)))
        signal = {**dict(zip(model.states.names, xs)), **ys}
        cv = ca.vertcat(*[signal[c.name] for c in spec.cv])
        meas = ca.vertcat(*[signal[m.name] for m in spec.measurements]) if spec.measurements \
            else ca.SX(0, 1)
        args, names = [x, u, w, p], ["x", "u", "w", "p"]
        set_("f", ca.Function("f", args, [xdot], names, ["xdot"]))
        set_("cv", ca.Function("cv", args, [cv], names, ["cv"]))
        set_("meas", ca.Function("meas", args, [meas], names, ["y"]))

    # -- sizes and vectors -----------------------------------------------------
    @property
    def n_x(self) -> int:
        return self.model.n_x

    @property
    def n_u(self) -> int:
        return len(self.mv_index)

    @property
    def n_w(self) -> int:
        return len(self.other_index)

    @property
    def n_cv(self) -> int:
        return len(self.spec.cv)

    @property
    def n_bias(self) -> int:
        return len(self.bias_names)

    def full_inputs(self, u, w):
        """The model's input vector from MVs and other inputs (numbers or symbols)."""
        parts = [None] * self.model.n_u
        us = ca.vertsplit(u) if isinstance(u, (ca.SX, ca.MX)) else list(u)
        ws = ca.vertsplit(w) if isinstance(w, (ca.SX, ca.MX)) else list(w)
        for k, i in enumerate(self.mv_index):
            parts[i] = us[k]
        for k, i in enumerate(self.other_index):
            parts[i] = ws[k]
        if isinstance(u, (ca.SX, ca.MX)) or isinstance(w, (ca.SX, ca.MX)):
            return ca.vertcat(*parts)
        return np.array(parts, dtype=float)

    def split_inputs(self, u_full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MVs and other inputs from a full input vector."""
        u_full = np.asarray(u_full, dtype=float)
        return u_full[self.mv_index], u_full[self.other_index]

    def mv_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Hard MV limits (spec, else the model's input bounds)."""
        lo, hi = [], []
        for m in self.spec.mv:
            v = self.model.inputs[m.name]
            lo.append(v.lower if m.low is None else m.low)
            hi.append(v.upper if m.high is None else m.high)
        return np.array(lo), np.array(hi)

    def max_moves(self) -> np.ndarray:
        """Rate limits per interval (inf where none)."""
        return np.array([np.inf if m.max_move is None else m.max_move for m in self.spec.mv])

    def cv_is_plain_state(self, cv: CVSpec) -> bool:
        """True for a CV that is a state without a bias (its hard limits are variable bounds)."""
        return cv.name in self.model.states and cv.name not in self.bias_names

    def cv_magnitudes(self) -> np.ndarray:
        """Typical magnitude of each CV (scaling of the target calculation)."""
        out = []
        for c in self.spec.cv:
            if c.name in self.model.states:
                out.append(self.spec.scaling.get(c.name, _magnitude(self.model.states[c.name].nominal)))
            else:
                ref = [v for v in (c.setpoint, c.high, c.low, c.hard_high, c.hard_low) if v is not None]
                out.append(_magnitude(ref[0]) if ref else 1.0)
        return np.array(out)
