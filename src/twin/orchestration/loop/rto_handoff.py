"""RTO above the APC in the closed loop: economic setpoints at detected steady states.

Whenever the plant's measurements are steady (:class:`rto.ssd.SteadyStateDetector`)
and at least ``min_interval`` has passed since the last execution, the RTO
re-estimates the configured model parameters from the steady-state means
(two-step RTO), optimises the economics with the updated model, and hands
the optimum to the APC as setpoints of the configured CVs: clamped to
their ranges, limited to ``max_change`` per execution, and limited to what
the APC's own steady-state target calculation reports as reachable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from twin.core.ssd import SteadyStateDetector
from twin.core.config import Count, Filter, NonNegative, Positive
from twin.core.errors import InputError
from twin.core.quality import Quality, Reading

if TYPE_CHECKING:   # the loop's configuration reads this module: no controller, no Pyomo
    from apc.controller import Controller


@dataclass(frozen=True)
class RTOLoopSpec:
    """The ``[rto]`` table of a loop file.

    Attributes
    ----------
    economics : str
        Shipped economics name or file.
    setpoints : tuple of str
        CVs whose setpoints the RTO sets.
    estimate, fit : tuple of str
        Parameters re-estimated (log scale) from the steady-state means of ``fit``.
    max_change : dict
        Largest setpoint change per RTO execution, per CV.
    clamp : dict
        ``[low, high]`` range of each setpoint.
    window, threshold, tolerance : steady-state detection (control cycles; drift in noise
        standard deviations, or in engineering units per variable).
    min_interval : float
        Shortest time between executions [model time unit].
    parameter_filter : float
        Fraction (0..1] of each new estimate taken over the previous one.
    """

    economics: str
    setpoints: tuple[str, ...]
    estimate: tuple[str, ...] = ()
    fit: tuple[str, ...] = ()
    max_change: dict[str, Positive] = field(default_factory=dict)
    clamp: dict[str, tuple[float, ...]] = field(default_factory=dict)
    window: Count(2, 100_000) = 30
    threshold: Positive = 1.0
    tolerance: dict[str, Positive] = field(default_factory=dict)
    min_interval: NonNegative = 0.0
    parameter_filter: Filter = 1.0


class RTOSupervisor:
    """Runs the economic optimisation above a :class:`Controller` at steady states."""

    def __init__(self, spec: RTOLoopSpec, controller: Controller, economics):
        from rto.economics import EconomicOptimizer
        from rto.estimation import ParameterEstimator

        self.spec, self.controller = spec, controller
        model = controller.model
        cv_names = [c.name for c in controller.spec.cv]
        for name in spec.setpoints:
            if name not in cv_names:
                raise InputError(f"rto.setpoints: '{name}' is not a CV of the controller "
                                 f"(CVs: {', '.join(cv_names)})")
        self.optimizer = EconomicOptimizer(model, economics)
        self.estimator = ParameterEstimator(model, spec.estimate, spec.fit) if spec.estimate else None
        noise = {m.name: m.noise_std for m in controller.spec.measurements if m.noise_std > 0}
        self.mv_names = [m.name for m in controller.spec.mv]
        watched = (list(spec.fit) or [m.name for m in controller.spec.measurements]) + self.mv_names
        self.detector = SteadyStateDetector(watched, spec.window, spec.threshold, noise,
                                            spec.tolerance)
        self.last_run = -np.inf
        self.parameters: dict[str, float] = {}
        self.n_runs = 0

    def observe(self, t: float, readings: dict[str, Reading],
                mv: dict[str, float]) -> list[tuple[str, str]]:
        """Feed one cycle's readings and MVs; run the RTO when steady and due. Returns log events."""
        values = dict(mv)
        for name in self.detector.names:
            if name in mv:
                continue
            r = readings.get(name)
            if r is None or r.quality is Quality.BAD or not np.isfinite(r.value):
                self.detector.reset()
                return []
            if not r.fresh:
                return []
            values[name] = r.value
        window = self.detector.add(t, values)
        if window is None or t - self.last_run < self.spec.min_interval:
            return []
        self.last_run = t
        self.detector.reset()
        return self._execute(window)

    def _execute(self, window) -> list[tuple[str, str]]:
        c = self.controller
        events: list[tuple[str, str]] = []
        u_mean = {n: window.means[n] for n in self.mv_names}  # inputs over the steady window
        if self.estimator is not None:
            inputs = {**c.model.inputs.to_dict(c.problem.full_inputs(c.u_now, c.w)), **u_mean}
            estimates, ok = self.estimator(window.means, inputs, self.parameters or None)
            if not ok:
                return [("rto", "parameter estimation failed; setpoints unchanged")]
            K = self.spec.parameter_filter
            if self.parameters:
                estimates = {n: self.parameters[n] + K * (v - self.parameters[n])
                             for n, v in estimates.items()}
            self.parameters = estimates
            events.append(("rto", "estimated " + ", ".join(f"{k} = {v:.5g}"
                                                             for k, v in estimates.items())))
        result = self.optimizer.optimize(parameters=self.parameters)
        if not result.ok:
            return events + [("rto", f"economic optimisation {result.status}; setpoints unchanged")]
        self.n_runs += 1
        optimum = {**result.states, **result.outputs}
        wanted = {}
        for name in self.spec.setpoints:
            value = optimum[name]
            lo, hi = self.spec.clamp.get(name, (-np.inf, np.inf))
            value = min(max(value, lo), hi)
            current = c.setpoint(name)
            step = self.spec.max_change.get(name)
            if step is not None and np.isfinite(current):
                value = min(max(value, current - step), current + step)
            wanted[name] = value
        wanted = self._reachable(wanted, events)
        for name, value in wanted.items():
            c.set_setpoint(name, value)
        events.append(("rto", f"profit {result.profit:.5g} {result.unit} at the model optimum; "
                              "setpoints " + ", ".join(f"{k} = {v:.5g}" for k, v in wanted.items())))
        return events

    def _reachable(self, wanted: dict[str, float], events) -> dict[str, float]:
        """Limit the setpoints to what the APC's steady-state target calculation can reach."""
        c = self.controller
        if c.targets is None:
            return wanted
        estimate = c.estimator.estimate()
        setpoints = c.setpoints.copy()
        names = [cv.name for cv in c.spec.cv]
        for name, value in wanted.items():
            setpoints[names.index(name)] = value
        w, p, u_offset = c.model_inputs(estimate)
        target = c.targets.solve(estimate.x, c.u_now, w, p, estimate.bias, ~c.dropped,
                                 c.u_lo, c.u_hi, c.soft_lo, c.soft_hi, c.hard_lo, c.hard_hi,
                                 setpoints, u_offset)
        if not target.ok:
            events.append(("rto", f"APC target calculation failed ({target.message}); "
                                  "setpoints unchanged"))
            return {}
        out = dict(wanted)
        for g in target.given_up:
            if g.kind == "setpoint" and g.cv in out:
                out[g.cv] = float(target.cv[names.index(g.cv)])
                events.append(("rto", f"setpoint of {g.cv} limited to the reachable {out[g.cv]:.5g}"))
        return out
