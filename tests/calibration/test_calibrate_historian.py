"""A historian export (long form, zoned time stamps, tags, a temperature in K) calibrates like the
wide CSV of the same samples."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from support import run_twin
from twin.orchestration.synthetic_data import cstr_calibration_data, write_wide_csv

TAGS = {"F [1/h]": "FIC-7.OP", "Q_dot [kJ/h]": "QC-7.OP", "T_R [degC]": "TI-701.PV",
        "T_K [degC]": "TI-702.PV", "C_b [mol/L]": "AI-703.PV"}
TAGMAP = """
[tags."FIC-7.OP"]
variable = "F"
unit = "1/h"
role = "mv"
[tags."QC-7.OP"]
variable = "Q_dot"
unit = "kJ/h"
role = "mv"
[tags."TI-701.PV"]
variable = "T_R"
unit = "K"
to_unit = "degC"
role = "cv"
[tags."TI-702.PV"]
variable = "T_K"
unit = "degC"
role = "cv"
[tags."AI-703.PV"]
variable = "C_b"
unit = "mol/L"
role = "cv"
"""


def test_long_form_with_a_tag_map_gives_the_wide_estimates(capsys, tmp_path):
    frame = cstr_calibration_data(t_end=1.0, dt=30 / 3600)
    start = pd.Timestamp("2026-11-30T08:00:00+01:00")
    rows = [(tag, (start + pd.Timedelta(seconds=float(t))).isoformat(),
             v + 273.15 if tag == "TI-701.PV" else v, "Good")
            for column, tag in TAGS.items() for t, v in zip(frame["time"], frame[column])
            if np.isfinite(v)]
    pd.DataFrame(rows, columns=["tag", "timestamp", "value", "quality"]).to_csv(
        tmp_path / "history.csv", index=False)
    (tmp_path / "map.toml").write_text(TAGMAP)
    write_wide_csv(frame, tmp_path / "wide.csv")
    found = []
    for args in (["history.csv", "--tagmap", str(tmp_path / "map.toml")], ["wide.csv"]):
        code, out, err = run_twin(capsys, "calibrate", "cstr", str(tmp_path / args[0]), *args[1:],
                                  "--estimate", "alpha,beta", "--x0-free", "C_a", "--json",
                                  "--out", str(tmp_path / f"{args[0]}.toml"))
        assert code == 0, err
        found.append(json.loads(out))
    history, wide = found
    for a, b in zip(history["estimates"], wide["estimates"]):
        assert a["value"] == pytest.approx(b["value"], rel=1e-5)  # K round trip, solver tolerance
    assert history["fit"]["C_b"]["samples"] == 13  # the analyser's samples, none taken for spikes
    assert any(note.startswith("tag map: 5 tags") for note in history["notes"])


def test_the_bad_data_rules_of_data_inspect_apply_before_fitting(capsys, tmp_path):
    """The shipped quadruple-tank history has 5 Bad h1 samples, 29 frozen h1 and one h2 spike:
    none of them is fitted, and the rules' lines are on stderr."""
    from twin.orchestration.examples import file_or_example

    history, tagmap = file_or_example("qt_history.csv"), file_or_example("qt_tagmap.toml")
    code, out, err = run_twin(capsys, "calibrate", "quadruple_tank", str(history), "--tagmap",
                              str(tagmap), "--estimate", "a1", "--param-set", "P-", "--out",
                              str(tmp_path / "a1.toml"), "--json")
    assert code == 0, err
    fit = json.loads(out)["fit"]
    # h1: 241 samples read, 5 Bad and 29 frozen rejected; h2: 229 read, 1 spike rejected
    assert fit["h1"]["samples"] == 207 and fit["h2"]["samples"] == 228
    assert "note: data rule quality: 5 of 952 values" in err
    assert "(h1 29)" in err and "note: data rule spikes: 1 of 436 values" in err
