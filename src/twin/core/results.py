"""Simulation results: arrays inside, named columns at the boundary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from twin.core.errors import InputError
from twin.core.model import Model

if TYPE_CHECKING:
    import pandas as pd

TIME_COLUMN = "time"
MAX_PLOTTED_STATES = 8
"""Plot every state by default only for models with at most this many states."""


@dataclass(frozen=True)
class SimulationResult:
    """Trajectories on an output grid.

    Attributes
    ----------
    model : Model
        The simulated model (with its parameter values).
    t : numpy.ndarray
        Output times, shape (n,) [model time unit].
    x : numpy.ndarray
        States at ``t``, shape (n, n_x).
    u : numpy.ndarray
        Inputs in force from each ``t`` on, shape (n, n_u).
    y : numpy.ndarray
        Outputs at ``t``, shape (n, n_y).
    event : str
        Why the run ended before its end time ('' when it did not): the
        shutdown limit that tripped (:mod:`twin.core.trips`).
    """

    model: Model
    t: np.ndarray
    x: np.ndarray
    u: np.ndarray
    y: np.ndarray
    event: str = ""

    def column(self, name: str) -> np.ndarray:
        """One trajectory by variable name (state, input or output)."""
        m = self.model
        if name == TIME_COLUMN:
            return self.t
        for group, data in ((m.states, self.x), (m.inputs, self.u), (m.outputs, self.y)):
            if name in group:
                return data[:, group.index(name)]
        return self.x[:, m.states.index(name)]  # raises, naming the valid names

    def final(self) -> dict[str, float]:
        """Last values of states, inputs and outputs, by name."""
        m = self.model
        return {**m.states.to_dict(self.x[-1]), **m.inputs.to_dict(self.u[-1]),
                **m.outputs.to_dict(self.y[-1])}

    def to_pandas(self) -> "pd.DataFrame":
        """One column per variable plus ``time``; units in ``frame.attrs['units']``."""
        import pandas as pd

        m = self.model
        data = {TIME_COLUMN: self.t}
        for group, arr in ((m.states, self.x), (m.inputs, self.u), (m.outputs, self.y)):
            for j, name in enumerate(group.names):
                data[name] = arr[:, j]
        frame = pd.DataFrame(data)
        frame.attrs["units"] = {TIME_COLUMN: m.time_unit,
                                **{v.name: v.unit for g in (m.states, m.inputs, m.outputs)
                                   for v in g}}
        frame.attrs["model"] = m.name
        return frame

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def time_unit(self) -> str:
        return self.model.time_unit

    @property
    def title(self) -> str:
        return self.model.title

    @property
    def input_names(self) -> list[str]:
        return list(self.model.inputs.names)

    def unit(self, name: str) -> str:
        """Unit of a column."""
        return self.model.variable(name).unit

    def plot_names(self) -> list[str]:
        """Variables a default trend plot shows: outputs, states (small models), inputs."""
        m = self.model
        names = list(m.outputs.names)
        if m.n_x <= MAX_PLOTTED_STATES:
            names = list(m.states.names) + [n for n in names if n not in m.states.names]
        return names + list(m.inputs.names)

    def write(self, path: str | Path) -> Path:
        """Write Parquet (``.parquet``) or CSV (``.csv``), chosen by suffix.

        Parquet files carry the units and the model name as schema metadata.
        """
        return write_frame(self.to_pandas(), path, self.model.name)


def write_frame(frame: "pd.DataFrame", path: str | Path, name: str) -> Path:
    """Write a trajectory table (units in ``frame.attrs['units']``) as Parquet or CSV."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".csv"):
        raise InputError(f"output file '{path}': use a .parquet or .csv file")
    if not path.parent.exists():
        raise InputError(f"output folder '{path.parent}' does not exist")
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        import json

        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"twin.units"] = json.dumps(frame.attrs["units"]).encode()
        meta[b"twin.model"] = name.encode()
        pq.write_table(table.replace_schema_metadata(meta), path)
    return path
