"""Plant data refusals and conversions: time header units, extra fields,
unknown header units, absurd magnitudes."""

from __future__ import annotations

import pytest

from twin.core.data import load_data
from twin.core.errors import InputError


def _write(tmp_path, text, name="w.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("unit, seconds", [("s", [0.0, 1.0, 2.5]), ("min", [0.0, 60.0, 150.0]),
                                           ("h", [0.0, 3600.0, 9000.0]),
                                           ("ms", [0.0, 0.001, 0.0025])])
def test_the_time_header_unit_converts_the_time_to_seconds(tmp_path, unit, seconds):
    data = load_data(_write(tmp_path, f"time [{unit}],h1 [cm]\n0,1\n1,2\n2.5,3\n"))
    assert data.time.tolist() == pytest.approx(seconds, rel=1e-12)
    assert data.units == {"h1": "cm"}
    assert data.reports[0].startswith(f"time: numeric time in {unit} (header);")


def test_a_time_unit_that_agrees_with_the_header_is_accepted(tmp_path):
    data = load_data(_write(tmp_path, "time [min],h1\n0,1\n1,2\n"), time_unit="min")
    assert data.time.tolist() == [0.0, 60.0]


@pytest.mark.parametrize("text, kwargs, message", [
    ("time [cm],h1\n0,1\n1,2\n", {}, "time column unit 'cm' is not a unit of time"),
    ("time [zz],h1\n0,1\n1,2\n", {}, "time column: unit 'zz' is not a known unit"),
    ("time [min],h1\n0,1\n1,2\n", {"time_unit": "h"},
     "time unit 'h' disagrees with the time column's header unit 'min'"),
    ("time,h1 [cmm],v1 [V]\n0,1,2\n1,2,3\n", {}, "column 'h1': unit 'cmm' is not a known unit"),
    ("time,h1,v1\n0,1,2,9\n1,2,3,9\n", {}, "line 2 has 4 fields but the header has 3"),
    ("time,h1,v1\n0,1,2\n1,2,3,9\n", {}, "Expected 3 fields in line 3, saw 4"),
    ("time,h1,v1\n0,1,2\n1,1e300,3\n", {},
     "column 'h1' row 2: 1e+300 exceeds the largest magnitude a value may have (1e+15)"),
    ("time,h1,v1\n0,1,-2e15\n1,1,3\n", {}, "column 'v1' row 1: -2e+15 exceeds"),
    ("tag,time,value\nh1,0,1\nh1,1,1e16\n", {}, "row 2: 1e+16 exceeds"),
    ("tag,time,value\nh1 [cmm],0,1\n", {}, "tag 'h1': unit 'cmm' is not a known unit"),
])
def test_malformed_files_are_one_line_refusals(tmp_path, text, kwargs, message):
    with pytest.raises(InputError) as err:
        load_data(_write(tmp_path, text), **kwargs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_value_at_the_bound_is_kept(tmp_path):
    data = load_data(_write(tmp_path, "time,h1\n0,1e15\n1,-1e15\n"))
    assert data.values(["h1"]).ravel().tolist() == [1e15, -1e15]


def test_inspect_prints_min_and_max_each_at_its_own_scale(tmp_path, capsys):
    from support import run_twin

    path = _write(tmp_path, "time,h1 [cm]\n0,1.5\n1,1e15\n2,2\n3,1.5\n4,2\n")
    code, out, _ = run_twin(capsys, "data", "inspect", str(path))
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("h1"))
    assert code == 0 and row[1] == "cm" and row[5:7] == ["1.5", "1.000e+15"]


def test_a_cli_refusal_of_a_bad_header_unit_is_one_line_and_exit_2(tmp_path, capsys):
    from support import run_twin, the_error_line

    path = _write(tmp_path, "time,h1 [cmm]\n0,1\n1,2\n")
    code, _, err = run_twin(capsys, "data", "inspect", str(path))
    assert code == 2 and "column 'h1': unit 'cmm' is not a known unit" in the_error_line(err)
