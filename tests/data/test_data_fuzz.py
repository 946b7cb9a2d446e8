"""Hostile plant data files and tag maps: read and inspected, or refused in one line.

Hypothesis cuts rows out of a small export, puts odd text into its cells
(numbers, stamps, empty, NaN, huge values, control characters) and mutates
the tag map; every outcome must be a table whose inspection runs, or a
one-line :class:`InputError`, never another exception.
"""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin.core.data import load_data
from twin.core.data.summary import inspect_data
from twin.core.errors import InputError

FUZZ = settings(max_examples=120, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ROWS = [["tag", "time", "value", "quality"]] + [
    [tag, f"2026-11-30T08:00:{s:02d}+01:00", f"{v + 0.1 * s:.3f}", q]
    for s in range(0, 40, 2) for tag, v, q in (("LI1", 50.0, "Good"), ("FI1", 2.0, "Bad"))]
CELLS = st.one_of(st.sampled_from(["", "nan", "inf", "-1e308", "1e309", "0x80000000", "Good",
                                   "2026-11-30T08:00:00", "2026-11-30T08:00:00Z", "00:01", "1",
                                   "\x1b[31m", "tag", "time", "h1 [degC]", "h1 [", "[cm]"]),
                  st.text(max_size=12), st.floats(allow_nan=True).map(repr))
TAGMAPS = st.sampled_from([
    None, '[tags.LI1]\nunit = "cm"\n', '[tags.LI1]\nunit = "degC"\nto_unit = "K"\n',
    '[tags.LI1]\nvariable = "time"\n', '[tags.FI1]\nunit = "m3/h"\nto_unit = "L/min"\nrole = "mv"\n',
    '[tags.LI1]\nscale = 1e308\n', '[tags]\n', "not toml ["])


def _one_line(exc: InputError) -> bool:
    return "\n" not in str(exc) and str(exc).strip() != ""


@FUZZ
@given(drop=st.sets(st.integers(0, len(ROWS) - 1), max_size=30),
       edits=st.lists(st.tuples(st.integers(0, len(ROWS) - 1), st.integers(0, 3), CELLS),
                      max_size=4),
       tagmap=TAGMAPS, parquet=st.booleans())
def test_mutated_exports_are_read_and_inspected_or_refused_in_one_line(tmp_path, drop, edits, tagmap,
                                                                     parquet):
    rows = [list(r) for r in ROWS]
    for row, col, text in edits:
        rows[row][col] = text
    rows = [r for i, r in enumerate(rows) if i not in drop or i == 0 and 0 not in drop]
    path = tmp_path / "export.csv"
    frame = pd.DataFrame(rows[1:], columns=rows[0] if rows else None, dtype=object) if rows \
        else pd.DataFrame()
    if parquet:
        path = tmp_path / "export.parquet"
        frame.astype(str).to_parquet(path) if not frame.columns.duplicated().any() \
            else path.write_bytes(b"PAR1")
    else:
        frame.to_csv(path, index=False)
    options = {}
    if tagmap is not None:
        (tmp_path / "map.toml").write_text(tagmap)
        options["tagmap"] = tmp_path / "map.toml"
    try:
        data = load_data(path, **options)
        result = inspect_data(data)
    except InputError as exc:
        assert _one_line(exc), str(exc)
        return
    assert all(math.isfinite(t) for t in data.time)
    assert len(result.tags) == len(data.names)
