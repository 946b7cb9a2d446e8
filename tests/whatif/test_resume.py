"""An interrupted study resumes: no duplicate and no missing rows, the same summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from whatif_support import CSTR_STUDY
from support import run_twin

STUDY = """
seed = 4
[base]
kind = "function"
function = "study_functions:gated_square"
[[variable]]
name = "x"
low = 0.0
high = 1.0
[sampling]
method = "lhs"
n = 80
"""


def test_kill_midway_then_resume(write_study, tmp_path, capsys):
    """Killed while computing its sixth chunk (the function waits there for the kill), the
    study has exactly five parts; resumed, it has every scenario once, as a whole run."""
    path = write_study(STUDY)
    out, gate = tmp_path / "out", tmp_path / "gate"
    gate.mkdir()
    env = {**os.environ, "STUDY_GATE": str(gate), "STUDY_GATE_AFTER": "15",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent),
                                          os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-m", "twin.cli.main", "whatif", str(path),
                                "--out", str(out), "--chunk-size", "3"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 300
        while not (gate / "blocked").exists():  # written once the first 15 scenarios are done
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "the study never reached its 16th scenario"
            time.sleep(0.01)
        assert (gate / "blocked").read_text() == str(process.pid)  # the study's own process
    finally:
        process.kill()
        process.wait()
        process.stderr.close()
    parts = sorted(p.name for p in (out / "parts").glob("part-*.parquet"))
    assert parts == [f"part-{i:09d}.parquet" for i in (0, 3, 6, 9, 12)]
    assert not (out / "summary.parquet").exists()

    code, _, err = run_twin(capsys, "whatif", str(path), "--out", str(out))
    assert code == 2 and "add --resume" in err
    code, out_text, _ = run_twin(capsys, "whatif", str(path), "--out", str(out), "--resume",
                                 "--json")
    assert code == 0 and json.loads(out_text)["resumed"] == 15
    summary = pd.read_parquet(out / "summary.parquet")
    assert list(summary.scenario) == list(range(81))  # none missing, none twice
    assert (summary.status == "ok").all()
    assert np.allclose(summary.y, summary.x ** 2, rtol=0, atol=1e-15)
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
