"""An interrupted study resumes: no duplicate and no missing rows, the same summary."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from whatif_support import CSTR_STUDY
from support import run_twin

STUDY = """
seed = 4
[base]
kind = "function"
function = "study_functions:slow_square"
[[variable]]
name = "x"
low = 0.0
high = 1.0
[sampling]
method = "lhs"
n = 80
"""


def test_kill_midway_then_resume(write_study, tmp_path, capsys):
    path = write_study(STUDY)
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                                         os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "twin.cli.main", "whatif", str(path),
                                "--out", str(out), "--chunk-size", "3"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parts = out / "parts"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))
                                              if parts.exists() else []) < 5:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = len(list(parts.glob("part-*.parquet")))
    assert 5 <= finished < 27 and not (out / "summary.parquet").exists()

    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(out))
    assert code == 2 and "add --resume" in err
    code, _, _ = run_twin(capsys, "whatif", str(path), "--out", str(out), "--resume", "--json")
    assert code == 0
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.scenario) == list(range(81))  # none missing, none twice
    code, _, _ = run_twin(capsys, "whatif", str(path), "--out", str(tmp_path / "whole"))
    pd.testing.assert_frame_equal(summary, pd.read_parquet(tmp_path / "whole" / "summary.parquet"),
                                  check_exact=True)


def test_a_profit_study_resumes_and_a_changed_economics_file_is_refused(write_study, tmp_path,
                                                                       capsys):
    from rto.economics import shipped_economics

    economics = tmp_path / "economics.toml"
    economics.write_text(shipped_economics("cstr").read_text())
    path = write_study(CSTR_STUDY.replace("duration = 1.0", "duration = 0.05")
                       .replace("n = 10", "n = 4")
                       .replace('name = "c"\nvariable = "C_b"',
                                f'name = "profit"\nkind = "profit"\neconomics = "{economics}"'))
    out = tmp_path / "out"
    assert run_twin(capsys, "whatif", str(path), "--out", str(out), "--chunk-size", "1")[0] == 0
    (out / "parts" / "part-000000002.parquet").unlink()  # as if killed before this chunk
    path.write_text("title = \"renamed\"\n" + path.read_text())  # a new title is no change
    assert run_twin(capsys, "whatif", str(path), "--out", str(out), "--resume")[0] == 0
    assert list(pd.read_parquet(out / "summary.parquet").scenario) == list(range(5))
    (out / "parts" / "part-000000002.parquet").unlink()
    economics.write_text(economics.read_text().replace("p_B = 1.0", "p_B = 5.0"))
    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(out), "--resume")
    assert code == 2 and "a file it uses changed" in err
