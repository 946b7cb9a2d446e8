"""``twin simulate plant.fmu``: an FMU over a time grid with an input schedule.

:func:`simulate_fmu` advances the FMU from output point to output point,
splitting communication steps at the changes of the input schedule (so
input steps fall on step boundaries, never interpolated), and returns an
:class:`FmuResult` with the same columns, files and plots as a model run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from twin.core.errors import InputError, UnknownNameError
from twin.core.fmu.description import FmuDescription, describe_fmu
from twin.core.fmu.instance import FmuInstance
from twin.core.fmu.isolated import IsolatedFmu
from twin.core.results import TIME_COLUMN, write_frame
from twin.core.schedule import InputSchedule


class FmuInputs:
    """The inputs of an FMU, with the interface an :class:`InputSchedule` uses.

    FMU names need not be identifiers (``"valve.opening"``), so this is not
    a :class:`~twin.core.variables.VariableSet`; bounds are the FMU's to check.
    """

    kind = "input"

    def __init__(self, description: FmuDescription):
        self.owner = f"FMU '{description.name}'"
        self.names = description.inputs
        self._start = np.array([description.variables[n].start for n in self.names], dtype=float)

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise UnknownNameError("input", name, self.names, self.owner) from None

    def vector(self, values: Mapping[str, float] | None = None,
               base: np.ndarray | None = None) -> np.ndarray:
        out = (self._start if base is None else np.asarray(base, dtype=float)).copy()
        for name, value in (values or {}).items():
            out[self.index(name)] = float(value)
        return out

    def check_bounds(self, vector: Sequence[float], what: str) -> None:
        bad = [n for n, v in zip(self.names, vector) if not np.isfinite(v)]
        if bad:
            raise InputError(f"{what}: input '{bad[0]}' of {self.owner} has no finite value "
                             "(the FMU declares no start value: give one)")

    def to_dict(self, vector: Sequence[float]) -> dict[str, float]:
        return {n: float(v) for n, v in zip(self.names, vector)}


@dataclass(frozen=True)
class FmuResult:
    """Trajectories of an FMU run on an output grid.

    Attributes
    ----------
    description : FmuDescription
    t : numpy.ndarray
        Output times, shape (n,) [FMU time unit].
    signals : dict
        States and outputs by name, each shape (n,).
    inputs : dict
        Inputs in force from each ``t`` on, by name.
    time_unit : str
    """

    description: FmuDescription
    t: np.ndarray
    signals: dict[str, np.ndarray]
    inputs: dict[str, np.ndarray]
    time_unit: str = ""
    title: str = field(default="")

    @property
    def name(self) -> str:
        return self.description.name

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs)

    def plot_names(self) -> list[str]:
        """Variables a default trend plot shows: outputs, states (up to 8), inputs."""
        d = self.description
        states = d.states if len(d.states) <= 8 else []
        return list(dict.fromkeys(states + d.outputs)) + self.input_names

    def column(self, name: str) -> np.ndarray:
        if name == TIME_COLUMN:
            return self.t
        if name in self.signals:
            return self.signals[name]
        if name in self.inputs:
            return self.inputs[name]
        raise UnknownNameError("variable", name, [*self.signals, *self.inputs],
                               f"FMU '{self.name}'")

    def unit(self, name: str) -> str:
        return self.description.variables[name].unit or "-"

    def final(self) -> dict[str, float]:
        return {n: float(v[-1]) for n, v in {**self.signals, **self.inputs}.items()}

    def to_pandas(self):
        """``time``, states, inputs, other signals (the column order of a model run)."""
        import pandas as pd

        states = {n: v for n, v in self.signals.items() if n in self.description.states}
        others = {n: v for n, v in self.signals.items() if n not in states}
        frame = pd.DataFrame({TIME_COLUMN: self.t, **states, **self.inputs, **others})
        frame.attrs["units"] = {TIME_COLUMN: self.time_unit,
                                **{n: self.description.variables[n].unit
                                   for n in [*self.signals, *self.inputs]}}
        frame.attrs["model"] = self.name
        return frame

    def write(self, path: str | Path) -> Path:
        """Write Parquet or CSV, chosen by suffix (as a model run)."""
        return write_frame(self.to_pandas(), path, self.name)


def simulate_fmu(path, t_end: float, dt: float, start: Mapping[str, float] | None = None,
                 inputs: InputSchedule | Mapping[str, float] | None = None,
                 interface: str = "auto", isolate: bool = True, me_method: str = "dopri5",
                 rtol: float = 1e-8, atol: float = 1e-10, time_unit: str = "",
                 progress: Callable[[float], None] | None = None) -> FmuResult:
    """Run an FMU over ``[0, t_end]``, reporting every ``dt`` [FMU time unit].

    Parameters
    ----------
    path : path
        The ``.fmu`` file.
    start : mapping, optional
        Start values of parameters and states by name.
    inputs : InputSchedule or mapping, optional
        Input schedule (build it over :class:`FmuInputs`), or constant inputs by name.
    interface, isolate, me_method, rtol, atol :
        As for :class:`~twin.core.fmu.plant.FmuPlant`.
    """
    from twin.core.simulation import output_grid

    d = describe_fmu(path, interface)
    grid = output_grid(t_end, dt)
    names = FmuInputs(d)
    if not isinstance(inputs, InputSchedule):
        inputs = InputSchedule.constant(names.vector(inputs))
    names.check_bounds(inputs.base, "inputs")
    watch = list(dict.fromkeys(d.states + d.outputs))
    u = inputs.at(0.0)
    options = dict(watch=watch, start={**(start or {}), **names.to_dict(u)}, me_method=me_method,
                   rtol=rtol, atol=atol, time_unit=time_unit)
    fmu = IsolatedFmu(d, **options) if isolate else FmuInstance(d, **options)
    try:
        ys = np.empty((grid.size, len(watch)))
        us = np.empty((grid.size, len(names)))
        ys[0], us[0] = fmu.read(), u
        for k in range(1, grid.size):
            t0, t1 = grid[k - 1], grid[k]
            cuts = np.concatenate([[t0], inputs.change_times(t0, t1), [t1]])
            for a, b in zip(cuts[:-1], cuts[1:]):
                u_next = inputs.at(a)
                changed = {n: float(v) for n, v, old in zip(names.names, u_next, u) if v != old}
                ys[k] = fmu.exchange(changed, b - a)
                u = u_next
            us[k] = inputs.at(t1)
            if progress is not None:
                progress(k / (grid.size - 1))
    finally:
        fmu.close()
    return FmuResult(d, grid, {n: ys[:, j] for j, n in enumerate(watch)},
                     {n: us[:, j] for j, n in enumerate(names.names)},
                     d.time_unit or time_unit, d.title)
