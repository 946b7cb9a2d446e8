"""A transfer-function model file as a sparse continuous-time :class:`~twin.core.model.Model`.

Each pair ``K e^{-theta s} / ((tau1 s + 1)(tau2 s + 1))`` of a
:class:`apc.ident.tf_file.TransferFunctionFile` is realised on its own, in
series:

* its dead time as the diagonal Padé approximation of order ``N``
  (unit gain, all-pass), the order chosen for the file's sample time exactly
  as ``twin identify --method tf`` chooses it (:func:`apc.ident.dead_time.choose_order`:
  the lowest order within 0.5 % of the gain of the exact delayed step
  response, poles usable at the sample time), or the pair's ``pade_order``
  in the file (a few ms a pair saved at every load); its ``N`` states ``z`` in the
  input's unit: ``dz/dt = (a_N z + b_N v) / theta``, ``w = c_N z + d_N v``
  with ``v = u - u0`` and the balanced Padé realisation ``(a_N, b_N, c_N,
  d_N)`` of ``e^{-s}`` (numbers fixed by ``N``);
* its lags as a chain: ``dx1/dt = (K w - x1) / tau1``, ``dx2/dt = (x1 - x2) / tau2``
  (integrating: ``dx2/dt = x1``), in the CV's unit (the first state of an
  integrating pair in CV unit per second).

An output is ``y0`` plus the last state of each of its pairs. So the model
has a few states per pair, each equation a handful of terms (the state
matrix is block diagonal, never stored dense), steady-state gains exactly
``K``, and its parameters are the pairs' own numbers: ``K_<cv>_<mv>``
[CV unit / input unit; integrating: per s], ``tau1_<cv>_<mv>``,
``tau2_<cv>_<mv>`` and ``theta_<cv>_<mv>`` [s], ``u0_<input>``, ``y0_<output>``;
``--set K_y1_u1=2`` changes a gain (a changed ``theta`` keeps the Padé
order chosen for the file's value). States are named
``<cv>_<mv>_d1 .. dN`` (dead time) and ``<cv>_<mv>_x1, x2`` (lags).
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from apc.ident.continuous import _ratio
from apc.ident.dead_time import DeadTimeChoice, choose_order, pade_state_space
from twin.core.errors import InputError
from twin.core.model import Model
from twin.core.units import difference_unit, is_offset, parse_unit
from twin.core.variables import Variable, disturbance, manipulated, output, parameter, state

if TYPE_CHECKING:
    from apc.ident.tf_file import TransferFunctionFile

Shape = tuple[tuple[int, int, int, int, bool], ...]
"""Per pair: CV index, input index, Padé order, number of lags, integrating."""


def transfer_function_model(tf: "TransferFunctionFile") -> Model:
    """The sparse continuous-time :class:`Model` of ``tf`` (module docstring)."""
    orders = pade_orders(tf)
    tags = [f"{p.cv}_{p.mv}" for p in tf.pairs]
    states: list[Variable] = []
    shape = []
    for pair, tag, order in zip(tf.pairs, tags, orders):
        i, j = tf.outputs.index(pair.cv), tf.inputs.index(pair.mv)
        in_unit, out_unit = _delta(tf.input_units[j]), _delta(tf.output_units[i])
        states += [state(f"{tag}_d{k + 1}", in_unit, f"Padé state {k + 1} of the dead time of "
                         f"{pair.cv}/{pair.mv}", 0.0) for k in range(order)]
        first = _per_second(out_unit) if pair.integrating else out_unit
        states.append(state(f"{tag}_x1", first, f"first lag of {pair.cv}/{pair.mv}", 0.0))
        if len(pair.time_constants) == 2 or pair.integrating:
            what = "integral" if pair.integrating else "second lag"
            states.append(state(f"{tag}_x2", out_unit, f"{what} of {pair.cv}/{pair.mv}", 0.0))
        shape.append((i, j, order, len(pair.time_constants), pair.integrating))
    names = [v.name for v in states] + list(tf.inputs) + list(tf.outputs)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"identified model '{tf.name}': state names {', '.join(twice[:5])} "
                         "clash with an input or output (or each other); rename them")
    params = _parameters(tf, tags)
    rhs, outputs = _equations(tuple(shape), tuple(tags), tf.inputs, tf.outputs)
    _FORMS[rhs] = tf
    prov = tf.provenance
    described = ", ".join(f"{k} {prov[k]}" for k in ("method", "data", "generator") if k in prov)
    return Model(
        name=tf.name,
        title=(f"Identified linear model {tf.name} ({len(tf.pairs)} transfer-function pairs, "
               f"{len(states)} states)"),
        source=f"transfer functions{': ' + described if described else ''}",
        time_unit="s",
        states=states,
        inputs=[_input(tf, k) for k in range(len(tf.inputs))],
        parameters=params,
        outputs=[output(y, u, f"identified output {y}: y0 plus its pairs' responses")
                 for y, u in zip(tf.outputs, tf.output_units)],
        rhs=rhs, output_map=outputs,
    )


_FORMS: dict[Callable[..., Any], "TransferFunctionFile"] = {}
"""The file each realised pair structure came from (keyed by the shared ``rhs``)."""


def pair_form(model: Model) -> "TransferFunctionFile | None":
    """The transfer-function pairs ``model`` realises, with its current parameter values.

    ``model`` is a :func:`transfer_function_model` (or a variant of one with
    other parameter values, e.g. a controller's ``parameters``): the pairs'
    gains, lags, dead times and the operating point are read from its
    parameters, so what the exact step responses of the result
    (:meth:`~apc.ident.tf_file.TransferFunctionFile.step_coefficients`) describe is
    the model itself, without its Padé realisation. ``None`` for any other model.
    """
    from dataclasses import replace

    tf = _FORMS.get(model.rhs)
    if tf is None or model.output_map is None:
        return None
    p = dict(zip(model.parameters.names, model.p0()))
    pairs = []
    for pair in tf.pairs:
        tag = f"{pair.cv}_{pair.mv}"
        taus = tuple(float(p[f"tau{k + 1}_{tag}"]) for k in range(len(pair.time_constants)))
        theta = float(p.get(f"theta_{tag}", 0.0))
        pairs.append(replace(pair, gain=float(p[f"K_{tag}"]), time_constants=taus,
                             dead_time=theta, pade_order=None))
    return replace(tf, pairs=tuple(pairs), u0=np.array([p[f"u0_{u}"] for u in tf.inputs]),
                   y0=np.array([p[f"y0_{y}"] for y in tf.outputs]))


def pade_orders(tf: "TransferFunctionFile") -> tuple[int, ...]:
    """Padé order of each pair's dead time: the file's ``pade_order``, or chosen for its sample time."""
    return tuple(p.pade_order if p.pade_order is not None else choose_pade(p.transfer(), tf.dt).order
                 for p in tf.pairs)


@functools.lru_cache(maxsize=4096)
def choose_pade(pair: Any, dt: float) -> DeadTimeChoice:
    """:func:`apc.ident.dead_time.choose_order` of one pair, remembered (a few ms each)."""
    return choose_order(pair, dt)


@functools.lru_cache(maxsize=16)
def _pade(order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Balanced ``(a, b, c, d)`` of the Padé approximation of ``e^{-s}`` (theta = 1)."""
    a, b, c, d = pade_state_space(1.0, order)
    return a, b[:, 0], c[0], float(d[0, 0])


def _delta(unit: str) -> str:
    parsed = parse_unit(unit, "identified model unit")
    return str(difference_unit(parsed)) if is_offset(parsed) else unit


def _per_second(unit: str) -> str:
    return "1/s" if unit == "-" else f"({unit})/s"


def _input(tf: "TransferFunctionFile", k: int) -> Variable:
    name, unit, nominal = tf.inputs[k], tf.input_units[k], float(tf.u0[k])
    if name in tf.disturbances:
        return disturbance(name, unit, f"disturbance {name} of the identified model", nominal)
    return manipulated(name, unit, f"input {name} of the identified model", nominal)


def _parameters(tf: "TransferFunctionFile", tags: list[str]) -> list[Variable]:
    found: list[Variable] = []
    for pair, tag in zip(tf.pairs, tags):
        ratio = _ratio(tf.output_units[tf.outputs.index(pair.cv)],
                       tf.input_units[tf.inputs.index(pair.mv)])
        unit = _per_second(ratio) if pair.integrating else ratio
        found.append(parameter(f"K_{tag}", unit, f"gain of {pair.cv}/{pair.mv}"
                               f"{' (integrating)' if pair.integrating else ''}", pair.gain))
        found += [parameter(f"tau{k + 1}_{tag}", "s", f"time constant {k + 1} of {pair.cv}/{pair.mv}",
                            tau) for k, tau in enumerate(pair.time_constants)]
        if pair.dead_time > 0:
            found.append(parameter(f"theta_{tag}", "s", f"dead time of {pair.cv}/{pair.mv}",
                                   pair.dead_time))
    found += [parameter(f"u0_{u}", unit, f"operating point of input {u}", float(v))
              for u, unit, v in zip(tf.inputs, tf.input_units, tf.u0)]
    found += [parameter(f"y0_{y}", unit, f"operating point of output {y}", float(v))
              for y, unit, v in zip(tf.outputs, tf.output_units, tf.y0)]
    names = [v.name for v in found]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise InputError(f"identified model '{tf.name}': parameter names {', '.join(twice[:5])} "
                         "are made twice from CV and input names; rename them")
    return found


@functools.lru_cache(maxsize=16)
def _equations(shape: Shape, tags: tuple[str, ...], inputs: tuple[str, ...],
               outputs: tuple[str, ...]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """``rhs`` and ``output_map`` of a model of this pair structure (shared by equal shapes)."""
    layout = []   # per pair: first state index, Padé order, lags, integrating
    at = 0
    for (_, _, order, lags, integrating) in shape:
        layout.append((at, order, lags, integrating))
        at += order + 1 + (lags == 2 or integrating)
    last = [start + order + (lags == 2 or integrating)
            for start, order, lags, integrating in layout]
    names = _state_names(shape, tags)

    def rhs(x, u, p, ops):
        """Padé dead time then lags, pair by pair [state unit/s]."""
        out: dict[int, Any] = {}
        for (i, j, _, _, _), tag, (start, order, lags, integrating) in zip(shape, tags, layout):
            v = u[j] - p[f"u0_{inputs[j]}"]
            w = v
            if order:
                a, b, c, d = _pade(order)
                z = [x[start + k] for k in range(order)]
                theta = p[f"theta_{tag}"]
                for r in range(order):
                    out[start + r] = _sum([a[r, k] * z[k] for k in range(order) if a[r, k] != 0]
                                          + [b[r] * v]) / theta
                w = _sum([c[k] * z[k] for k in range(order) if c[k] != 0] + [d * v])
            x1 = start + order
            out[x1] = (p[f"K_{tag}"] * w - x[x1]) / p[f"tau1_{tag}"]
            if integrating:
                out[x1 + 1] = x[x1]
            elif lags == 2:
                out[x1 + 1] = (x[x1] - x[x1 + 1]) / p[f"tau2_{tag}"]
        return {name: out[k] for k, name in enumerate(names)}

    def output_map(x, u, p, ops):
        """``y = y0 +`` the last state of each of the output's pairs [output units]."""
        terms: list[list[Any]] = [[] for _ in outputs]
        for (i, *_), k in zip(shape, last):
            terms[i].append(x[k])
        return {y: _sum([p[f"y0_{y}"], *terms[i]]) for i, y in enumerate(outputs)}

    return rhs, output_map


def _state_names(shape: Shape, tags: tuple[str, ...]) -> list[str]:
    names = []
    for (_, _, order, lags, integrating), tag in zip(shape, tags):
        names += [f"{tag}_d{k + 1}" for k in range(order)] + [f"{tag}_x1"]
        if lags == 2 or integrating:
            names.append(f"{tag}_x2")
    return names


def _sum(terms: list[Any]) -> Any:
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total
