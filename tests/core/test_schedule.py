"""Input schedules: zero-order hold, files, and every malformed-input error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import twin
from twin.core.errors import InputError, UnknownNameError
from twin.core.schedule import InputSchedule

CSTR = twin.load_model("cstr")
BASE = CSTR.u0()


def test_zero_order_hold():
    s = InputSchedule.from_table(CSTR.inputs, BASE, {"time": [0.1, 0.3], "F": [20.0, 30.0]})
    assert s.at(0.0)[0] == BASE[0]
    assert s.at(0.1)[0] == 20.0 and s.at(0.2999)[0] == 20.0
    assert s.at(0.3)[0] == 30.0 and s.at(5.0)[0] == 30.0
    assert np.all(s.values[:, 1] == BASE[1])  # unscheduled input keeps its base value
    assert list(s.change_times(0.0, 0.3)) == [0.1]


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_files(tmp_path, suffix):
    frame = pd.DataFrame({"time": [0.0, 0.5], "Q_dot": [-2000.0, -3000.0]})
    path = tmp_path / f"s{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    s = InputSchedule.read(path, CSTR.inputs, BASE)
    assert s.at(0.7)[1] == -3000.0


@pytest.mark.parametrize("columns,message", [
    ({"t": [0.0], "F": [1.0]}, "no 'time' column"),
    ({"time": [0.0]}, "no input columns"),
    ({"time": [0.0], "G": [1.0]}, "unknown input 'G'"),
    ({"time": [0.2, 0.1], "F": [10.0, 11.0]}, "strictly increasing"),
    ({"time": [0.0, 0.1], "F": [10.0, np.nan]}, "column 'F' has empty, NaN or infinite"),
    ({"time": [0.0], "F": ["ten"]}, "column 'F' has non-numeric values"),
    ({"time": [0.0], "F": [500.0]}, "input 'F' = 500 1/h is outside its bounds"),
    ({"time": [], "F": []}, "has no rows"),
])
def test_malformed_tables(columns, message):
    with pytest.raises(InputError, match=message):
        InputSchedule.from_table(CSTR.inputs, BASE, columns)


def test_file_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        InputSchedule.read(tmp_path / "missing.csv", CSTR.inputs, BASE)
    (tmp_path / "s.txt").write_text("time,F\n0,10\n")
    with pytest.raises(InputError, match="use a .csv or .parquet file"):
        InputSchedule.read(tmp_path / "s.txt", CSTR.inputs, BASE)
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(InputError, match="cannot be read"):
        InputSchedule.read(tmp_path / "bad.parquet", CSTR.inputs, BASE)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="cannot be read"):
        InputSchedule.read(tmp_path / "empty.csv", CSTR.inputs, BASE)


def test_unknown_name_error_lists_valid_inputs():
    with pytest.raises(UnknownNameError, match="valid: F, Q_dot"):
        InputSchedule.from_steps(CSTR.inputs, BASE, [(0.1, {"Fx": 1.0})])


@pytest.mark.parametrize("text, sep", [
    ("time;F\n0;14.19\n0.5;20\n", "';'"),
    ("time;F\n0;14,19\n0,5;20\n", "';'"),  # a spreadsheet's decimal commas as well
    ("time\tF\n0\t14.19\n", "tab"),
])
def test_a_csv_with_another_separator_is_refused_with_a_hint(tmp_path, text, sep):
    path = tmp_path / "steps.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        InputSchedule.read(path, CSTR.inputs, BASE)
    header = text.splitlines()[0].replace("\t", "\\t")
    assert str(caught.value) == (f"inputs file '{path}' looks {sep}-separated (header: {header}): "
                                 "write it comma-separated, with '.' as the decimal point")
