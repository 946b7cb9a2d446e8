"""Running scenarios: a chunk at a time, in whatever process the executor chose.

Open-loop model studies go through the batch kernels (every scenario of a
chunk in one compiled call, one thread: the executor parallelises); FMU,
closed-loop and function base cases run scenario by scenario. A scenario
that fails (integration failure, FMU error, solver failure, a NaN) becomes
a row with status ``failed`` and its message; it never stops the chunk.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from twin.core.errors import InputError, TwinError
from twin.core.model import Model
from twin.orchestration.loop.given_up import KINDS as GIVEN_UP_KINDS, ROLE as GIVEN_UP_ROLE
from twin.orchestration.loop.store import SPARSE_ROLES
from twin.orchestration.whatif.kpis import KpiEvaluator
from twin.orchestration.whatif.sampling import ID, NOMINAL, scenario_seed
from twin.orchestration.whatif.study import RESERVED_COLUMNS, Study

STATUS, ERROR, SECONDS = "status", "error", "seconds"


@dataclass
class ChunkResult:
    """Summary rows of a chunk, and the time series of its scenarios (when kept)."""

    rows: list[dict]
    series: dict[int, pd.DataFrame]


def _split(study: Study, row: Mapping[str, float]) -> dict[str, dict[str, float]]:
    """A scenario's variables by kind."""
    out: dict[str, dict[str, float]] = {k: {} for k in ("parameter", "initial_state", "input",
                                                       "input_step", "setpoint")}
    for v in study.variable:
        if v.name in row:
            out[v.kind][v.name] = float(row[v.name])
    return out


GIVEN_UP_ROLES = frozenset(GIVEN_UP_ROLE.format(kind=k) for k in GIVEN_UP_KINDS)
SPARSE = GIVEN_UP_ROLES | frozenset(SPARSE_ROLES)


def _nominal_row(study: Study) -> dict[str, float]:
    """The nominal values (a variable without one keeps the base case's value)."""
    return {v.name: v.nominal_value for v in study.variable if v.has_nominal}


def _annotation(name: str) -> bool:
    """A closed loop's log column that is empty (NaN) by meaning in some cycles: a cycle's miss
    of a given-up target (``C_b.given_up_setpoint``), NaN in the cycles where nothing is given
    up, and the roles of :data:`~twin.orchestration.loop.store.SPARSE_ROLES`."""
    return name.rpartition(".")[2] in SPARSE


def _non_finite(data: Mapping[str, np.ndarray]) -> str:
    """Which column first holds a NaN or an infinity, and when ("" if none; the annotation
    columns of a closed loop's log aside)."""
    for name, values in data.items():
        if _annotation(name):
            continue
        values = np.asarray(values, dtype=float)
        if not np.isfinite(values).all():
            i = int(np.argmin(np.isfinite(values)))
            return f"NaN or infinity in {name} at t = {float(np.asarray(data['time'])[i]):.6g}"
    return ""


def _columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    return {c: frame[c].to_numpy(dtype=float) for c in frame.columns}


class _Case:
    """What a worker prepares once per study: model, compiled functions, start state."""

    def __init__(self, study: Study):
        self.study = study
        base = study.base
        self.model: Model | None = None  # open loop: the model integrated
        self.plant_model: Model | None = None  # closed loop: the plant's model
        self.fmu = None  # the FMU description (open loop, or the loop's plant)
        self.loop = None
        self.function = None
        self.n_steps = max(1, round(study.duration / base.dt)) if base.dt else 0
        if base.kind == "open_loop" and not base.is_fmu:
            from twin.core.kernels.functions import model_functions
            from twin.core.simulation import DEFAULT_TOLERANCES, default_method
            from twin.orchestration.registry import load_model

            self.model = load_model(base.model, base.parameters, base.parameter_set)
            self.study = study = _base_in_declared_units(study, self.model)
            base = study.base
            self.functions = model_functions(self.model)
            self.method = base.method or default_method(self.model)
            self.rtol, self.atol = DEFAULT_TOLERANCES["kernel"]
            self.x_start = self._start_state()
        elif base.kind == "open_loop":
            from twin.core.fmu.description import describe_fmu

            self.fmu = describe_fmu(study.resolve(base.model))
        elif base.kind == "closed_loop":
            from twin.orchestration.loop.config import load_loop

            self.loop = load_loop(study.resolve(base.loop_file))
            if self.loop.plant.model.lower().endswith(".fmu"):
                from twin.core.fmu.description import describe_fmu

                self.fmu = describe_fmu(study.resolve(self.loop.plant.model))
            else:
                self.plant_model = self._loop_model(self.loop.plant.parameters)
        elif base.kind == "function":
            from twin.orchestration.whatif.functions import resolve_function

            self.function = resolve_function(base.function)
        model = self.result_model
        self.kpis = KpiEvaluator(study.kpi, model, study.folder,
                                 held=self.fmu.inputs if self.fmu is not None and model is None
                                 else ())
        self._check_names(model)

    def _check_names(self, model) -> None:
        """Every variable and KPI names something the base case has (one line if not)."""
        from twin.core import expressions
        from twin.core.errors import UnknownNameError

        study = self.study
        if study.base.kind == "function":
            import inspect

            try:
                inspect.signature(self.function).bind(**{n: 0.0 for n in study.variable_names})
            except TypeError as exc:
                raise InputError(f"function '{study.base.function}' does not take the study's "
                                 f"variables ({', '.join(study.variable_names)}): {exc}") from None
            except ValueError:
                pass  # no signature to check (a builtin): the call will tell
            return
        d = self.fmu
        if model is None and d is not None:
            known = {"parameter": list(d.variables), "initial_state": list(d.variables),
                     "input": d.inputs, "input_step": d.inputs}
            if study.base.kind == "closed_loop" and self.loop.plant.steady_start and any(
                    v.kind == "initial_state" for v in study.variable):
                raise InputError("initial states cannot vary: the loop's FMU plant starts at "
                                 "steady state")
            if study.base.kind == "closed_loop":
                known["setpoint"] = [c.name for c in self.loop.controller.cv]
            columns = list(dict.fromkeys(d.states + d.outputs + d.inputs))
        else:
            known = {"parameter": model.parameters.names, "initial_state": model.states.names,
                     "input": model.inputs.names, "input_step": model.inputs.names}
            if study.base.kind == "closed_loop":
                known["setpoint"] = [c.name for c in self.loop.controller.cv]
            columns = model.states.names + model.inputs.names + model.outputs.names
        for v in study.variable:
            if v.name not in known[v.kind]:
                raise UnknownNameError(v.kind.replace("_", " "), v.name, known[v.kind],
                                       f"variable '{v.name}'")
        for k in study.kpi:
            if k.variable and k.variable not in columns:
                raise UnknownNameError("variable", k.variable, columns, f"kpi '{k.name}'")
            if k.kind == "expression":
                expressions.parse(k.expression, columns + ["time"], f"kpi '{k.name}'")

    @property
    def result_model(self) -> Model | None:
        """The model whose variables the results hold (none for an FMU or a function)."""
        return self.model if self.model is not None else self.plant_model

    def _loop_model(self, parameters):
        from twin.orchestration.registry import load_model

        plant = self.loop.plant
        return load_model(plant.model, parameters, plant.parameter_set)

    # ---------------------------------------------------------------- open loop

    def _input_changes(self, split) -> list[tuple[int, dict[str, float]]]:
        """(first interval, inputs) of every input step of a scenario, in time order."""
        base = self.study.base
        t = np.arange(self.n_steps) * base.dt
        changes = [(s.time, s.inputs) for s in base.step]
        changes += [(v.at, {v.name: split["input_step"][v.name]}) for v in self.study.variable
                    if v.name in split["input_step"]]
        return [(int(np.searchsorted(t, at - 1e-12 * max(1.0, abs(at)))), values)
                for at, values in sorted(changes, key=lambda c: c[0])]

    def _inputs(self, split) -> np.ndarray:
        """Inputs per interval (K, n_u) of one scenario."""
        base, model = self.study.base, self.model
        U = np.tile(model.u0({**base.u, **split["input"]}), (self.n_steps, 1))
        for k, values in self._input_changes(split):
            for name, value in values.items():
                U[k:, model.inputs.index(name)] = value
        return U

    def _parameters(self, split) -> np.ndarray:
        p = self.model.p0().copy()
        for name, value in split["parameter"].items():
            p[self.model.parameters.index(name)] = value
        return p

    def _start_state(self) -> np.ndarray:
        """The start of every scenario: ``x0`` over the nominal state, or over the steady
        state of the nominal scenario (per-scenario steady starts: see :meth:`_x0`)."""
        base, model = self.study.base, self.model
        x = model.x0(base.x0)
        if base.starts_steady and not base.steady_per_scenario:
            split = _split(self.study, _nominal_row(self.study))
            x = self._steady(split, "the nominal scenario")
        return x

    def _steady(self, split, which: str) -> np.ndarray:
        """The steady state of one scenario (its parameters, its inputs at time 0), with the
        states of ``base.x0`` replaced."""
        from twin.core.errors import SteadyStateError
        from twin.core.steady import find_steady_state

        base, model = self.study.base, self.model
        scenario = model.with_parameters(split["parameter"]) if split["parameter"] else model
        u = self._inputs(split)[0]
        try:
            x = find_steady_state(scenario, u, x_guess=base.guess or None,
                                  hint="give base.guess (a starting point), other base.u, or "
                                       "base.steady_start = false with base.x0").x
        except SteadyStateError as exc:
            raise SteadyStateError(f"base.steady_start, {which}: {exc}") from None
        for name, value in base.x0.items():
            x[model.states.index(name)] = value
        return x

    def _x0(self, split, scenario: int | None = None) -> np.ndarray:
        if self.study.base.steady_per_scenario:
            x = self._steady(split, f"scenario {scenario}")
        else:
            x = self.x_start.copy()
        for name, value in split["initial_state"].items():
            x[self.model.states.index(name)] = value
        return x

    def open_loop_batch(self, rows: Sequence[Mapping], keep: bool) -> ChunkResult:
        from twin.core import ops
        from twin.core.kernels.integrators import integrate_batch
        from twin.core.kernels.results import status_text

        model, base = self.model, self.study.base
        started = time.perf_counter()
        splits, kept, out = [], [], ChunkResult([], {})
        for r in rows:
            split = _split(self.study, r)
            try:
                x0 = self._x0(split, int(r[ID]))
            except TwinError as exc:  # this scenario has no steady start: a failed row
                out.rows.append(_failed(r, str(exc), 0.0))
                continue
            splits.append((split, x0))
            kept.append(r)
        rows = kept
        if not rows:
            return out
        X0 = np.array([x0 for _, x0 in splits])
        U = np.array([self._inputs(s) for s, _ in splits])
        P = np.array([self._parameters(s) for s, _ in splits])
        result = integrate_batch(self.functions, self.method, X0, U, P, base.dt, self.rtol,
                                 self.atol, threads=1)
        share = (time.perf_counter() - started) / max(len(rows), 1)
        t = np.arange(self.n_steps + 1) * base.dt
        for i, row in enumerate(rows):
            t0 = time.perf_counter()
            if result.status[i]:
                out.rows.append(_failed(row, f"integration failed: "
                                              f"{status_text(int(result.status[i]), self.method)}",
                                        share))
                continue
            u_at = np.vstack([U[i], U[i][-1:]])
            data = {"time": t}
            data.update(zip(model.states.names, result.x[i].T))
            data.update(zip(model.inputs.names, u_at.T))
            if model.n_y:
                y = model.evaluate_outputs(list(result.x[i].T), list(u_at.T), list(P[i]),
                                           ops.NUMPY)
                data.update(zip(model.outputs.names, y))
            params = dict(zip(model.parameters.names, P[i]))
            out.rows.append(self._finish(row, data, params, share + time.perf_counter() - t0,
                                         out, keep or bool(row.get(NOMINAL))))
        return out

    def _finish(self, row, data: Mapping[str, np.ndarray], parameters, seconds: float,
                out: ChunkResult, keep: bool) -> dict:
        """KPIs of a finished run (or why it counts as failed)."""
        problem = _non_finite(data)
        if problem:
            return _failed(row, problem, seconds)
        try:
            kpis = self.kpis(data, parameters)
        except TwinError as exc:
            return _failed(row, str(exc), seconds)
        bad = [k for k, v in kpis.items() if not math.isfinite(v)]
        if bad:
            return _failed(row, f"KPI {bad[0]} is not finite", seconds)
        if keep:
            out.series[int(row[ID])] = pd.DataFrame(data)
        return {**dict(row), **kpis, STATUS: "ok", ERROR: "", SECONDS: seconds}

    # ---------------------------------------------------------------- one by one

    def fmu_run(self, row, keep: bool, out: ChunkResult) -> dict:
        from twin.core.fmu.plant import FmuPlant

        study, base = self.study, self.study.base
        split = _split(study, row)
        start = {**base.parameters, **split["parameter"], **base.x0, **split["initial_state"]}
        due: dict[int, dict[str, float]] = {}
        for k, values in self._input_changes(split):
            due.setdefault(k, {}).update(values)
        started = time.perf_counter()
        with FmuPlant(study.resolve(base.model), base.dt, start=start) as plant:
            plant.write({**base.u, **split["input"]})
            plant.latch()
            records = []
            for k in range(self.n_steps):
                if k in due:
                    plant.write(due[k])
                    plant.latch()
                # each row: the state at t and the inputs held over [t, t + dt)
                records.append({"time": plant.time, **plant.truth(), **plant.inputs()})
                plant.step()
            records.append({"time": plant.time, **plant.truth(), **plant.inputs()})
        frame = pd.DataFrame(records)
        return self._finish(row, _columns(frame), start, time.perf_counter() - started, out, keep)

    def closed_loop_run(self, row, keep: bool, out: ChunkResult) -> dict:
        from twin.orchestration.loop.config import EventConfig
        from twin.orchestration.loop.runner import ClosedLoop

        study, loop = self.study, self.loop
        split = _split(study, row)
        steady_then_set = bool(split["initial_state"]) and loop.plant.steady_start
        plant = replace(loop.plant, parameters={**loop.plant.parameters, **split["parameter"]},
                        x0=loop.plant.x0 if steady_then_set else {**loop.plant.x0,
                                                                  **split["initial_state"]},
                        u0={**loop.plant.u0, **split["input"]},
                        seed=scenario_seed(study.seed, int(row[ID])))
        if steady_then_set:
            if self.plant_model is None:
                raise InputError("initial states of an FMU plant that starts at steady state "
                                 "cannot vary")
            from twin.core.steady import find_steady_state

            model = self._loop_model(plant.parameters)
            ss = find_steady_state(model, u=model.inputs.vector(plant.u0),
                                   x_guess=loop.plant.guess or None,
                                   hint="give plant.guess (a starting point) in the loop file, "
                                        "or other plant.u0").x
            plant = replace(plant, x0={**dict(zip(model.states.names, map(float, ss))),
                                       **split["initial_state"]}, steady_start=False, guess={})
        controller = loop.controller
        if split["setpoint"]:
            cvs = tuple(replace(c, setpoint=split["setpoint"].get(c.name, c.setpoint))
                        for c in controller.cv)
            controller = replace(controller, cv=cvs)
        events = (loop.event if study.base.loop_events else ()) + tuple(EventConfig(time=v.at, inputs={v.name: split["input_step"]
                                                                   [v.name]})
                                    for v in study.variable if v.kind == "input_step")
        config = replace(loop, plant=plant, controller=controller,
                         run=replace(loop.run, duration=study.duration),
                         event=tuple(sorted(events, key=lambda e: e.time)))
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="twin-whatif-") as tmp:
            closed = ClosedLoop(config, tmp)
            try:
                closed.run()
                frame = closed.store.to_frame()
            finally:
                closed.close()
        frame = frame.drop(columns=[c for c in frame.columns
                                    if not pd.api.types.is_numeric_dtype(frame[c])])
        params = (dict(zip(self.plant_model.parameters.names,
                           self._loop_model(plant.parameters).p0()))
                  if self.plant_model is not None else dict(plant.parameters))
        return self._finish(row, _columns(frame), params, time.perf_counter() - started, out,
                            keep)

    def function_run(self, row, keep: bool, out: ChunkResult) -> dict:
        started = time.perf_counter()
        value = self.function(**{v.name: float(row[v.name]) for v in self.study.variable})
        outputs = value if isinstance(value, Mapping) else {"y": value}
        outputs = {k: float(v) for k, v in outputs.items()}
        seconds = time.perf_counter() - started
        taken = [k for k in outputs if k in self.study.variable_names or k in RESERVED_COLUMNS]
        if taken and not self.study.kpi:
            return _failed(row, f"output '{taken[0]}' is named like a variable or summary column",
                           seconds)
        bad = [k for k, v in outputs.items() if not math.isfinite(v)]
        if bad:
            return _failed(row, f"NaN or infinity in output {bad[0]}", seconds)
        if self.study.kpi:
            data = {"time": np.zeros(1), **{k: np.array([v]) for k, v in outputs.items()}}
            return self._finish(row, data, {}, seconds, out, False)
        return {**dict(row), **outputs, STATUS: "ok", ERROR: "", SECONDS: seconds}


def _failed(row: Mapping, message: str, seconds: float) -> dict:
    return {**dict(row), STATUS: "failed", ERROR: message, SECONDS: seconds}


def failed_row(row: Mapping, message: str) -> dict:
    """The summary row of a scenario that failed outside any run (its process died)."""
    return _failed(row, message, 0.0)


_CASES: dict[str, _Case] = {}


def _case(study: Study) -> _Case:
    key = study.fingerprint()
    if key not in _CASES:
        _CASES.clear()
        _CASES[key] = _Case(study)
    return _CASES[key]


def _file_digest(path) -> str:
    import hashlib

    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _model_digest(model: Model) -> str:
    """A model's equations and variables (names, units, nominal values, bounds)."""
    import json

    from twin.core.symbolic import casadi_form

    form = casadi_form(model)
    return "\n".join((str(form.xdot), str(form.y), f"stiff={model.stiff}",
                      json.dumps(model.describe(), sort_keys=True, default=str)))


def digest(study: Study) -> str:
    """What the study refers to, beyond its own file: models (their equations, so a changed
    ``module:ATTRIBUTE`` model counts, and the source of model files), loop, FMU, economics,
    function source."""
    from twin.orchestration.registry import model_file

    case = _case(study)
    parts = [_model_digest(m) for m in (case.model, case.plant_model) if m is not None]
    references = [study.base.model]
    if case.loop is not None:
        from twin.orchestration.registry import load_model

        spec = case.loop.controller
        parts.append(_model_digest(load_model(spec.model, spec.parameters, spec.parameter_set)))
        parts.append(repr(case.loop))
        references += [case.loop.plant.model, spec.model]
    files = {model_file(r) for r in references} - {None}
    parts += [_file_digest(f) for f in sorted(files) if f.is_file()]
    if case.fmu is not None:
        parts.append(_file_digest(case.fmu.path))
    parts += [repr(spec) for spec in case.kpis.economics.values()]
    if case.loop is not None and case.loop.rto is not None:
        from rto.economics_spec import economics_for

        parts.append(repr(economics_for(case.loop.rto.economics)))
    if case.function is not None:
        import inspect

        try:
            parts.append(inspect.getsource(inspect.getmodule(case.function)))
        except (OSError, TypeError):
            parts.append(repr(case.function))
    return "\n".join(parts)


def result_model(study: Study) -> Model | None:
    """The model whose variables the study's results hold (None for an FMU or a function)."""
    return _case(study).result_model


def kpi_economics(study: Study) -> dict:
    """The economics spec of each profit KPI, by KPI name."""
    return dict(_case(study).kpis.economics)


def time_unit(study: Study) -> str:
    """The time unit of the study's results ("" when the base case does not say)."""
    model = _case(study).result_model
    return model.time_unit if model is not None else ""


def prepare(study: Study) -> None:
    """Build and check the base case here, before any scenario runs (errors are one line).

    Built afresh: the files the study uses may have changed since this process last ran it.
    """
    _CASES.clear()
    _case(study)


def run_chunk(study: Study, rows: Sequence[Mapping], keep_series: bool) -> ChunkResult:
    """Run the scenarios ``rows`` (dicts of scenario id, variables, nominal flag)."""
    case = _case(study)
    base = study.base
    if base.kind == "open_loop" and not base.is_fmu:
        return case.open_loop_batch(rows, keep_series)
    out = ChunkResult([], {})
    run = {"open_loop": case.fmu_run, "closed_loop": case.closed_loop_run,
           "function": case.function_run}[base.kind]
    for row in rows:
        keep = keep_series or bool(row.get(NOMINAL))
        try:
            out.rows.append(run(row, keep, out))
        except Exception as exc:  # noqa: BLE001 - a scenario's failure is data, not a crash
            message = str(exc) if isinstance(exc, TwinError) else f"{type(exc).__name__}: {exc}"
            out.rows.append(_failed(row, message.splitlines()[0] if message else
                                    type(exc).__name__, 0.0))
    return out


def _base_in_declared_units(study: Study, model: Model) -> Study:
    """The study with its base case's input and initial-state values (text with units
    allowed in the file) as numbers in the model's declared units."""
    from twin.core.units import to_declared_values

    base = study.base
    return replace(study, base=replace(
        base, u=to_declared_values(model.inputs, base.u, "base.u"),
        x0=to_declared_values(model.states, base.x0, "base.x0")))
