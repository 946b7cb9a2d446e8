"""``run_study`` resuming in-process: what runs again, the counts, the progress, the stamp.

A function study of four scenarios (y = 2 x), one chunk per scenario, no
report: each run takes a fraction of a second, so every resume path is
run for real.
"""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest

from twin.core.errors import InputError
from twin.orchestration.whatif.run import run_study
from twin.orchestration.whatif.study import load_study

pytestmark = pytest.mark.timeout(20)  # a defect that loops forever fails, it does not hang

MODULE = '''
def response(x):
    return {"y": 2.0 * x}
'''

STUDY = """
title = "doubling"
[base]
kind = "function"
function = "resume_response:response"
[[variable]]
name = "x"
[sampling]
method = "list"
scenarios = [ { x = 1.0 }, { x = 2.0 }, { x = 3.0 }, { x = 4.0 } ]
"""


@pytest.fixture
def study(write_study, tmp_path, monkeypatch):
    """The study, its function module importable afresh from the test's folder."""
    (tmp_path / "resume_response.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "resume_response", raising=False)
    return load_study(write_study(STUDY))


def _run(study, out, resume=False):
    """Run ``study`` into ``out``; its result and the progress fractions it reported."""
    seen: list = []
    result = run_study(study, out, resume=resume, chunk_size=1, progress=seen.append,
                       report=False)
    assert all((u.total, u.unit, u.failed) == (4, "scenarios", 0) for u in seen)
    return result, [u.fraction for u in seen]


def test_a_fresh_run_reports_progress_per_chunk_and_resumes_nothing(study, tmp_path):
    result, seen = _run(study, tmp_path / "out")
    assert seen == [0.25, 0.5, 0.75, 1.0]
    assert (result.scenarios, result.resumed, result.failed) == (4, 0, 0)
    summary = pd.read_parquet(result.summary)
    assert list(summary.scenario) == [0, 1, 2, 3] and list(summary.y) == [2.0, 4.0, 6.0, 8.0]
    stamp = json.loads((tmp_path / "out" / "study.json").read_text())
    assert stamp == {"fingerprint": study.fingerprint(_digest(study)),
                     "title": "doubling", "study": repr(study)}


def _digest(study) -> str:
    from twin.orchestration.whatif.scenarios import digest

    return digest(study)


def test_resume_runs_only_the_missing_scenarios(study, tmp_path):
    out = tmp_path / "out"
    first, _ = _run(study, out)
    reference = pd.read_parquet(first.summary)
    (out / "parts" / "part-000000002.parquet").unlink()  # as if killed before writing it
    result, seen = _run(study, out, resume=True)
    assert seen == [0.75, 1.0]  # where it stood, then the one chunk run again
    assert (result.scenarios, result.resumed, result.failed) == (4, 3, 0)
    pd.testing.assert_frame_equal(pd.read_parquet(result.summary), reference, check_exact=True)
    assert json.loads((out / "parts" / "part-000000002.json").read_text())["ids"] == [2]


def test_resuming_a_finished_study_runs_nothing(study, tmp_path):
    out = tmp_path / "out"
    _run(study, out)
    result, seen = _run(study, out, resume=True)
    assert seen == [1.0] and result.resumed == 4 and result.scenarios == 4


def test_a_finished_folder_is_not_rerun_without_resume(study, tmp_path):
    out = tmp_path / "out"
    _run(study, out)
    with pytest.raises(InputError, match="holds an earlier study run: add --resume"):
        run_study(study, out, chunk_size=1, report=False)  # not resumed unless asked


def test_a_changed_function_is_a_different_study(study, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _run(study, out)
    (out / "parts" / "part-000000003.parquet").unlink()
    (tmp_path / "resume_response.py").write_text(MODULE.replace("2.0 * x", "3.0 * x"))
    monkeypatch.delitem(sys.modules, "resume_response", raising=False)
    changed = load_study(tmp_path / "study.toml")
    with pytest.raises(InputError, match="holds a run of a different study"):
        _run(changed, out, resume=True)
    assert not (out / "parts" / "part-000000003.parquet").exists()  # nothing was run into it


def test_the_report_of_a_resumed_study_says_how_many_scenarios_were_resumed(study, tmp_path):
    out = tmp_path / "out"
    _run(study, out)
    (out / "parts" / "part-000000000.parquet").unlink()
    run_study(study, out, resume=True, chunk_size=1, report=True)
    assert "<td>finished before --resume</td><td>3</td>" in (out / "report.html").read_text()
