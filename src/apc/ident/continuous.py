"""An identified discrete-time model as a continuous-time :class:`~twin.core.model.Model`.

The discrete model ``x[k+1] = A x[k] + B du[k]`` (inputs held between samples)
is the exact zero-order-hold sampling of ``dx/dt = Ac x + Bc du`` when

    expm([[Ac, Bc], [0, 0]] dt) = [[A, B], [0, I]],

so ``[[Ac, Bc], [0, 0]] = logm([[A, B], [0, I]]) / dt`` (principal matrix
logarithm, :func:`scipy.linalg.logm`). A real one exists when ``A`` has no
eigenvalue on the closed negative real axis; one there (an oscillation at
the Nyquist frequency, or 0) has no continuous equivalent, and the model is
refused with what to do.

The model (time unit s) has the deviation states ``x1 .. xn`` [-], the
inputs named as in the file with ``u0`` as nominal values, and the outputs
``y = y0 + C x + D (u - u0)``. Its matrices and operating point are its
parameters (``A_i_j`` [1/s], ``B_i_k`` [1/s per input unit], ``C_i_j``
[output unit], ``D_i_k`` [output unit per input unit], ``u0_<input>``,
``y0_<output>``; indices from 1), so the equations are the same for every
model of one shape and names (compiled kernels are shared), the dimension
check sees the units, and ``--set A_1_1=...`` works as for any parameter.
The states have no physical meaning (any invertible change of coordinates
gives the same input-output behaviour), so they are unbounded; limits
belong on the outputs, in the controller's CVs.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
from scipy.linalg import expm, logm

from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.units import difference_unit, is_offset, parse_unit
from twin.core.variables import Variable, disturbance, manipulated, output, parameter, state

if TYPE_CHECKING:
    from apc.ident.model_file import IdentifiedModel

NEGATIVE_AXIS_TOL = 1e-9
"""An eigenvalue of A whose imaginary part is below this times its modulus (at least 1)
counts as on the real axis [-]."""


def continuous_matrices(model: "IdentifiedModel") -> tuple[np.ndarray, np.ndarray]:
    """``(Ac, Bc)`` [1/s, input unit/s] whose zero-order-hold sampling at ``dt`` is ``(A, B)``.

    Raises :class:`InputError` when ``A`` has an eigenvalue on the closed
    negative real axis (no zero-order-hold equivalent).
    """
    n, m = model.B.shape
    for lam in np.linalg.eigvals(model.A):
        if abs(lam.imag) <= NEGATIVE_AXIS_TOL * max(1.0, abs(lam)) and lam.real <= 0.0:
            raise InputError(
                f"identified model '{model.name}': A has the eigenvalue {lam.real:.4g}, on the "
                "negative real axis or at 0, so no continuous-time model sampled with a "
                "zero-order hold gives it; identify it again with --method fir or subspace at a "
                "lower --order, or another sample time (a --method tf file written before dead "
                "times were saved as Padé approximations: run twin identify --method tf again)")
    block = np.zeros((n + m, n + m))
    block[:n, :n], block[:n, n:], block[n:, n:] = model.A, model.B, np.eye(m)
    log = np.asarray(logm(block))
    if np.iscomplexobj(log):
        if np.max(np.abs(log.imag)) > 1e-8 * max(1.0, np.max(np.abs(log.real))):
            raise InputError(f"identified model '{model.name}': the matrix logarithm of "
                             "[[A, B], [0, I]] is not real; no continuous-time equivalent")
        log = log.real
    generator = log / model.dt
    if not np.allclose(expm(generator * model.dt), block, rtol=1e-8, atol=1e-10):
        raise InputError(f"identified model '{model.name}': no accurate continuous-time "
                         "equivalent (the matrix logarithm does not invert the sampling); "
                         "A is too close to singular")
    return generator[:n, :n], generator[:n, n:]


def continuous_model(model: "IdentifiedModel", source: str = "") -> Model:
    """The continuous-time, deviation-variable :class:`Model` of ``model`` (module docstring).

    ``source`` says where the model comes from (default: its provenance).
    """
    ac, bc = continuous_matrices(model)
    n = model.n_states
    states = tuple(f"x{i + 1}" for i in range(n))
    clash = sorted(set(states) & set(model.inputs + model.outputs))
    if clash:
        raise InputError(f"identified model '{model.name}': {', '.join(clash)} names the model's "
                         "deviation states x1..xn; rename that input or output")
    params = _parameters(model, ac, bc, states)
    rhs, outputs = _equations(states, model.inputs, model.outputs)
    prov = model.provenance
    described = ", ".join(f"{k} {prov[k]}" for k in ("method", "data") if k in prov)
    return Model(
        name=model.name,
        title=f"Identified linear model {model.name} ({n} states, sampled at {model.dt:g} s)",
        source=source or f"identified from plant data{': ' + described if described else ''}",
        time_unit="s",
        states=[state(x, "-", f"deviation state {i + 1} (no physical meaning)", 0.0)
                for i, x in enumerate(states)],
        inputs=[_input(model, k) for k in range(len(model.inputs))],
        parameters=params,
        outputs=[output(y, u, f"identified output {y} = y0 + C x + D (u - u0)")
                 for y, u in zip(model.outputs, model.output_units)],
        rhs=rhs, output_map=outputs,
    )


def _input(model: "IdentifiedModel", k: int) -> Variable:
    name, unit, nominal = model.inputs[k], model.input_units[k], float(model.u0[k])
    if name in model.disturbances:
        return disturbance(name, unit, f"disturbance {name} of the identified model", nominal)
    return manipulated(name, unit, f"input {name} of the identified model", nominal)


def _parameters(model: "IdentifiedModel", ac: np.ndarray, bc: np.ndarray,
                states: tuple[str, ...]) -> list[Variable]:
    ins, outs = model.input_units, model.output_units
    n, m, p = len(states), len(ins), len(outs)
    found: list[Variable] = []
    for i in range(n):
        found += [parameter(f"A_{i + 1}_{j + 1}", "1/s", f"state matrix entry ({i + 1}, {j + 1})",
                            float(ac[i, j])) for j in range(n)]
    for i in range(n):
        found += [parameter(f"B_{i + 1}_{k + 1}", _ratio("1/s", ins[k]),
                            f"input matrix entry ({i + 1}, {k + 1}), input {model.inputs[k]}",
                            float(bc[i, k])) for k in range(m)]
    for i in range(p):
        found += [parameter(f"C_{i + 1}_{j + 1}", _ratio(outs[i], "-"),
                            f"output matrix entry ({i + 1}, {j + 1}), output {model.outputs[i]}",
                            float(model.C[i, j])) for j in range(n)]
    for i in range(p):
        found += [parameter(f"D_{i + 1}_{k + 1}", _ratio(outs[i], ins[k]),
                            f"feed-through ({i + 1}, {k + 1}), {model.inputs[k]} to "
                            f"{model.outputs[i]}", float(model.D[i, k])) for k in range(m)]
    found += [parameter(f"u0_{u}", unit, f"operating point of input {u}", float(v))
              for u, unit, v in zip(model.inputs, ins, model.u0)]
    found += [parameter(f"y0_{y}", unit, f"operating point of output {y}", float(v))
              for y, unit, v in zip(model.outputs, outs, model.y0)]
    return found


def _ratio(numerator: str, denominator: str) -> str:
    """The unit ``numerator / denominator`` as text, with degC and degF as differences."""

    def text(unit: str) -> str | None:
        parsed = parse_unit(unit, "identified model unit")
        if parsed.dimensionless and math.isclose(
                float((1 * parsed).to("dimensionless").magnitude), 1.0):
            return None
        return str(difference_unit(parsed)) if is_offset(parsed) else unit

    def group(unit: str) -> str:
        return unit if unit.replace("_", "").isalnum() else f"({unit})"

    top, bottom = text(numerator), text(denominator)
    if bottom is None:
        return top or "-"
    plain = top is None or top == "1/s" or top.replace("_", "").isalnum()
    return f"{top or '1'}/{group(bottom)}" if plain else f"({top})/{group(bottom)}"


@functools.lru_cache(maxsize=64)
def _equations(states: tuple[str, ...], inputs: tuple[str, ...],
               outputs: tuple[str, ...]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``rhs`` and ``output_map`` of a linear model of these names (one pair per shape)."""
    n = len(states)

    def deviations(u: Any, p: Any) -> list[Any]:
        return [u[name] - p[f"u0_{name}"] for name in inputs]

    def rhs(x, u, p, ops):
        """``dx/dt = Ac x + Bc (u - u0)`` [1/s]."""
        du = deviations(u, p)
        return {states[i]: _sum([p[f"A_{i + 1}_{j + 1}"] * x[j] for j in range(n)]
                                + [p[f"B_{i + 1}_{k + 1}"] * d for k, d in enumerate(du)])
                for i in range(n)}

    def output_map(x, u, p, ops):
        """``y = y0 + C x + D (u - u0)`` [output units]."""
        du = deviations(u, p)
        return {y: p[f"y0_{y}"] + _sum([p[f"C_{i + 1}_{j + 1}"] * x[j] for j in range(n)]
                                        + [p[f"D_{i + 1}_{k + 1}"] * d for k, d in enumerate(du)])
                for i, y in enumerate(outputs)}

    return rhs, output_map


def _sum(terms: list[Any]) -> Any:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
