"""Result tables: names at the boundary, units kept in the files."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

import twin
from twin.core.errors import InputError


@pytest.fixture(scope="module")
def run():
    return twin.simulate(twin.load_model("quadruple_tank"), t_end=10.0, dt=1.0)


def test_frame_has_time_and_every_variable(run):
    frame = run.to_pandas()
    assert list(frame.columns) == ["time", "h1", "h2", "h3", "h4", "v1", "v2", "y1", "y2"]
    assert frame.attrs["units"]["h1"] == "cm" and frame.attrs["units"]["time"] == "s"
    assert run.final()["h1"] == frame["h1"].iloc[-1]


def test_parquet_keeps_units_and_csv_round_trips(run, tmp_path):
    run.write(tmp_path / "r.parquet")
    meta = pq.read_schema(tmp_path / "r.parquet").metadata
    assert json.loads(meta[b"twin.units"])["v1"] == "V"
    assert meta[b"twin.model"] == b"quadruple_tank"
    run.write(tmp_path / "r.csv")
    back = pd.read_csv(tmp_path / "r.csv")
    pd.testing.assert_frame_equal(back, pd.read_parquet(tmp_path / "r.parquet"))


def test_bad_output_paths(run, tmp_path):
    with pytest.raises(InputError, match="use a .parquet or .csv"):
        run.write(tmp_path / "r.xlsx")
    with pytest.raises(InputError, match="does not exist"):
        run.write(tmp_path / "nowhere" / "r.csv")
    with pytest.raises(InputError, match="unknown state 'h9'"):
        run.column("h9")
