"""RTO schemes on a plant: two-step RTO and modifier adaptation.

Both act only at steady states detected on the plant's readings, never on
a model of the plant. Each iteration is logged (:class:`rto.log.RTOIteration`).

- **Two-step**: detect the steady state, check the data for gross errors,
  re-estimate the model parameters from it, re-optimise the model, apply.
- **Modifier adaptation**: measure the plant's profit gradient by perturbing
  each input in turn (one steady state per input, each checked for gross
  errors like the first: a bad one rejects the iteration), correct the model's
  profit with first-order modifiers (filtered), re-optimise, and move
  towards the new optimum through an input filter.
"""

from __future__ import annotations

from collections.abc import Callable

from rto.economics import EconomicOptimizer, EconomicsSpec
from rto.estimation import ParameterEstimator
from rto.log import RTOIteration, RTOResult
from rto.plant_data import ProfitMeter, SteadyStateCollector, consistent
from rto.spec import RTOSpec
from twin.core.model import Model
from twin.core.plant import PlantIO
from twin.core.steady import find_steady_state

Progress = Callable[[RTOIteration], None]


def run_rto(spec: RTOSpec, plant: PlantIO, model: Model, economics: EconomicsSpec,
            progress: Progress | None = None) -> RTOResult:
    """Run ``spec.iterations`` RTO iterations of ``spec.scheme`` on ``plant``."""
    optimizer = EconomicOptimizer(model, economics)
    collector = SteadyStateCollector(plant, spec.measurements, spec.steady_state)
    meter = ProfitMeter(model, economics)
    u = {**{n: model.inputs[n].nominal for n in optimizer.decisions}, **spec.start}
    names = list(spec.measurements)
    step = _two_step if spec.scheme == "two-step" else _modifier_adaptation
    state = {"parameters": {}, "modifiers": {n: 0.0 for n in optimizer.decisions}}
    if spec.scheme == "two-step":
        state["estimator"] = ParameterEstimator(model, spec.estimate, spec.fit)
    iterations: list[RTOIteration] = []
    for k in range(spec.iterations):
        window = collector.settle(u)
        ok, note = consistent(window.means, spec.consistency, names)
        profit = meter(window.means, u)
        stats = {"time": window.time, "samples": window.samples, "drift": window.drift}
        if not ok:
            it = RTOIteration(k, dict(u), window.means, profit, dict(u), stats, accepted=False,
                              note=note)
        else:
            it = step(spec, k, u, window, profit, stats, optimizer, collector, meter, model, state)
        iterations.append(it)
        if progress is not None:
            progress(it)
        u = it.next_inputs
    window = collector.settle(u)
    return RTOResult(spec.scheme, iterations, dict(u), meter(window.means, u), economics.unit,
                     float(plant.time))


def _two_step(spec, k, u, window, profit, stats, optimizer, collector, meter, model, state):
    estimates, ok = state["estimator"](window.means, u, state["parameters"] or None)
    if not ok:
        return RTOIteration(k, dict(u), window.means, profit, dict(u), stats, accepted=False,
                            note="parameter estimation failed")
    state["parameters"] = estimates
    result = optimizer.optimize(parameters=estimates,
                                start={n: window.means[n] for n in model.states.names
                                       if n in window.means})
    next_u = {n: result.inputs[n] for n in optimizer.decisions} if result.ok else dict(u)
    return RTOIteration(k, dict(u), window.means, profit, next_u, stats, parameters=estimates,
                        note="" if result.ok else f"optimisation: {result.status}")


def _model_gradient(optimizer: EconomicOptimizer, model: Model, u: dict[str, float],
                    step: dict[str, float]) -> dict[str, float]:
    """d(model profit at steady state)/du by central differences on the model's steady states."""
    meter = ProfitMeter(model, optimizer.spec)

    def profit(inputs):
        ss = find_steady_state(model, u=inputs)
        measured = model.states.to_dict(ss.x)
        return meter(measured, inputs)

    grad = {}
    for n in optimizer.decisions:
        h = 0.1 * step[n]
        up, down = dict(u), dict(u)
        up[n] += h
        down[n] -= h
        grad[n] = (profit(up) - profit(down)) / (2 * h)
    return grad


def _modifier_adaptation(spec, k, u, window, profit, stats, optimizer, collector, meter, model,
                         state):
    ma = spec.modifier_adaptation
    decisions = optimizer.decisions
    steps = {n: ma.perturbation.get(n, 0.01 * max(abs(u[n]), 1.0)) for n in decisions}
    plant_grad = {}
    for n in decisions:
        probe = dict(u)
        probe[n] += steps[n]
        w = collector.settle(probe)
        ok, note = consistent(w.means, spec.consistency, list(spec.measurements))
        if not ok:  # a gradient from bad data would move the plant: act on nothing
            return RTOIteration(k, dict(u), window.means, profit, dict(u), stats, accepted=False,
                                note=f"{note} (probe of {n})")
        plant_grad[n] = (meter(w.means, probe) - profit) / steps[n]
    model_grad = _model_gradient(optimizer, model, u, steps)
    K = ma.gradient_filter
    modifiers = {n: (1 - K) * state["modifiers"][n] + K * (plant_grad[n] - model_grad[n])
                 for n in decisions}
    state["modifiers"] = modifiers
    result = optimizer.optimize(modifiers=modifiers, u_ref=u)
    if result.ok:
        next_u = {n: u[n] + ma.input_filter * (result.inputs[n] - u[n]) for n in decisions}
        note = ""
    else:
        next_u, note = dict(u), f"optimisation: {result.status}"
    stats["profit_probes"] = len(decisions)
    return RTOIteration(k, dict(u), window.means, profit, next_u, stats, modifiers=modifiers,
                        plant_gradient=plant_grad, note=note)

