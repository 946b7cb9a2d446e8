"""Sobol indices with their confidence: flags for wide or inconsistent indices, the n needed."""

from __future__ import annotations

import json
import re

import pandas as pd

from report_checks import table_with
from support import run_twin
from test_sobol import STUDY
from twin.orchestration.whatif.sobol_quality import TARGET, check_indices, needed_n, warnings


def _sens(rows):
    """Long sensitivity table from (kpi, variable, S1, conf, ST, conf) rows."""
    out = []
    for kpi, var, s1, c1, st, ct in rows:
        out += [(kpi, var, "S1", s1, c1), (kpi, var, "ST", st, ct)]
    return pd.DataFrame(out, columns=["kpi", "variable", "measure", "value", "confidence"])


def test_flags_and_the_sample_size_needed_on_hand_chosen_indices():
    checks = {(c.kpi, c.variable): c for c in check_indices(_sens([
        ("y", "a", 0.30, 0.02, 0.40, 0.03),    # fine
        ("y", "b", 2.25, 0.50, 0.90, 0.40),    # S1 = 2.25: above 1 and above ST, wide
        ("y", "c", -0.30, 0.05, 0.10, 0.04),   # negative beyond its interval, narrow
        ("y", "d", 0.10, 0.12, 0.20, 0.05),    # only wide
    ]), n=4)}
    assert checks["y", "a"].problems == () and checks["y", "a"].n_needed == 4
    b = checks["y", "b"].problems
    assert any("S1 > 1" in p for p in b) and any("S1 > ST" in p for p in b) \
        and any("wide" in p for p in b)
    assert checks["y", "b"].n_needed == 512          # 4 (0.5 / 0.05)^2 = 400 -> 512
    assert checks["y", "c"].problems == ("S1 < 0 beyond its interval",)
    assert checks["y", "c"].n_needed == 8             # narrow, but wrong: at least twice n
    assert checks["y", "d"].problems == ("wide interval (+/- 0.12 > 0.1)",)
    assert checks["y", "d"].n_needed == 32            # 4 (0.12 / 0.05)^2 = 23.04 -> 32
    assert needed_n(list(checks.values()), 4) == 512
    lines = warnings(list(checks.values()), 4, dimensions=4, second_order=False,
                     seconds_per_scenario=3.0)
    assert len(lines) == 4 and lines[-1].startswith("3 of 4 Sobol indices flagged: n = 512 "
                                                    "(3,072 scenarios)")
    assert "about 2.6 h at the measured 3 s per scenario" in lines[-1]   # 3072 x 3 s
    assert TARGET == 0.05


def test_a_tiny_sobol_study_is_flagged_with_the_n_it_needs(capsys, tmp_path):
    study = tmp_path / "tiny.toml"
    study.write_text(STUDY.replace("n = 8192", "n = 4"))
    code, out, err = run_twin(capsys, "whatif", str(study), "--out", str(tmp_path / "o"))
    assert code == 0, err
    assert "Sobol indices (95 % intervals):" in out
    assert re.search(r"y on x1 +S1 = +-?\d\.\d{3} \+/- \d\.\d{3} +ST = ", out)
    warns = [line for line in err.splitlines() if line.startswith("warning: ")]
    sens = pd.read_parquet(tmp_path / "o" / "sensitivity.parquet")
    widest = sens.confidence.max()
    assert widest > 0.1
    need = 1 << (int(4 * (widest / 0.05) ** 2) - 1).bit_length()     # next power of two
    assert warns[-1].startswith(f"warning: {sum(1 for w in warns[:-1])} of 3 Sobol indices "
                                f"flagged: n = {need} ({need * 5:,d} scenarios)")
    page = (tmp_path / "o" / "report.html").read_text()
    table = table_with(page, "Sobol indices at n = 4")
    assert table.header[-2:] == ["flag", "n needed"]
    assert sum(r[-2] != "ok" for r in table.rows) == len(warns) - 1 >= 1
    assert f"n = {need}" in page
    code, out, _ = run_twin(capsys, "whatif", str(study), "--out", str(tmp_path / "j"), "--json")
    data = json.loads(out)                       # stdout is one JSON document
    same = warns[-1].removeprefix("warning: ").split(", about")[0]  # the timing differs
    assert data["sensitivity_warnings"][-1].split(", about")[0] == same


def test_an_index_without_an_interval_is_flagged_not_passed():
    (check,) = check_indices(_sens([("y", "a", 0.3, float("nan"), 0.4, 0.02)]), n=4)
    assert check.problems == ("no estimate or no interval (too few distinct samples)",)
    assert check.n_needed == 16
    line = warnings([check], 4, dimensions=1, second_order=False)[0]
    assert "+/- n/a" in line and "nan" not in line
