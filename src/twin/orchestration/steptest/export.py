"""A step test's data as plant data, wide CSV and Parquet (the exchange form of the data commands).

The table has ``time`` [s] since the start of the test and one column per
MV (the values written) and CV (the measurements; NaN where a reading was
Bad), headed ``name [unit]`` in the CSV, so
:func:`twin.core.data.load_data` and ``twin identify`` read it as it is.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from twin.core.data.table import PlantData
from twin.core.units import convert_array


def seconds(time: np.ndarray, time_unit: str) -> np.ndarray:
    """Times in the plant's ``time_unit`` as seconds [s]."""
    if time_unit in ("s", "second", ""):
        return np.asarray(time, dtype=float)
    return convert_array(time, time_unit, "s", "step-test time")


def plant_data(result) -> PlantData:
    """The MVs written and CVs measured of a :class:`StepTestResult` as :class:`PlantData`."""
    columns = {name: result.mv[:, j] for j, name in enumerate(result.mv_names)}
    columns.update({name: result.cv[:, i] for i, name in enumerate(result.cv_names)})
    frame = pd.DataFrame(columns, index=pd.Index(seconds(result.time, result.time_unit),
                                                 name="time"))
    units = {name: result.units.get(name, "-") or "-" for name in frame.columns}
    source = str(result.csv) if result.csv is not None else f"step test on {result.spec.plant_name}"
    pauses = int(result.paused.sum())
    return PlantData(frame, units, None, source,
                     (f"step test: {len(frame)} samples, {result.pauses} safety pauses, "
                      f"{pauses} samples at the base point (lead-in or paused)",))


def write_csv(data: PlantData, path: str | Path) -> Path:
    """``data`` as wide CSV: ``time`` then ``name [unit]`` per column."""
    path = Path(path)
    frame = data.frame.copy()
    frame.columns = [f"{name} [{data.unit(name)}]" for name in data.names]
    frame.to_csv(path, index=True, index_label="time", float_format="%.10g")
    return path


def write_outputs(result) -> None:
    """The CSV, Parquet and HTML report of a finished test, next to its cycle store."""
    from twin.orchestration.steptest.report import write_report

    folder = result.folder
    result.csv = folder / "steptest.csv"
    data = plant_data(result)
    write_csv(data, result.csv)
    result.parquet = folder / "steptest.parquet"
    table = data.frame.reset_index()
    table["paused"] = result.paused
    table.to_parquet(result.parquet, index=False)
    result.report = write_report(result, folder / "report.html")
