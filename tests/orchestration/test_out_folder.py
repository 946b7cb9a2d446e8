"""One overwrite policy for every command writing a folder: refuse files already there
unless --force; a refused configuration leaves no folder behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from support import CSTR_LOOP, run_twin
from twin.orchestration.loop.store import CycleStore

LOOP = CSTR_LOOP.format(plant="u0 = { F = 14.19, Q_dot = -1113.5 }\nsteady_start = true")

STUDY = """
duration = 0.02
[base]
kind = "open_loop"
model = "cstr"
dt = 0.01
[[variable]]
name = "{name}"
[sampling]
method = "list"
scenarios = [ {{ {name} = 0.9 }}, {{ {name} = 1.1 }} ]
[[kpi]]
name = "C_b_end"
variable = "C_b"
"""


def _refusal(folder: Path) -> str:
    return (f"twin: error: --out {folder} already holds files (an earlier run?): give another "
            "--out, or add --force to replace that run\n")


def test_control_refuses_an_earlier_run_and_force_replaces_its_log(tmp_path, capsys):
    loop = tmp_path / "loop.toml"
    loop.write_text(LOOP)
    out = tmp_path / "run"
    out.mkdir()
    earlier = CycleStore(out / "cycles.sqlite")  # an earlier run's log
    earlier.start_run("SIL", "earlier", "h", {})
    earlier.close()
    (out / "notes.txt").write_text("mine")
    code, _, err = run_twin(capsys, "control", str(loop), "--out", str(out))
    assert (code, err) == (2, _refusal(out))
    code, _, err = run_twin(capsys, "control", str(loop), "--out", str(out), "--force", "--json")
    assert code == 0, err
    with sqlite3.connect(out / "cycles.sqlite") as db:
        # the old log is gone: one run, this one
        assert db.execute("SELECT model FROM run").fetchall() == [("cstr",)]
    assert (out / "notes.txt").read_text() == "mine"  # what is not ours stays


def test_a_config_refused_by_the_plant_check_leaves_no_folder(tmp_path, capsys):
    loop = tmp_path / "loop.toml"
    loop.write_text(LOOP.replace('name = "F"', 'name = "F_in"'))
    out = tmp_path / "run"
    code, _, err = run_twin(capsys, "control", str(loop), "--out", str(out))
    assert code == 2 and "F_in" in err
    assert not out.exists()


def test_whatif_refuses_an_earlier_run_unless_resume_or_force(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(name="beta"))
    out = tmp_path / "study"
    assert run_twin(capsys, "whatif", str(study), "--out", str(out), "--json")[0] == 0
    code, _, err = run_twin(capsys, "whatif", str(study), "--out", str(out))
    assert code == 2 and err == (f"twin: error: {out} holds an earlier study run: add --resume to "
                                 "finish it, --force to replace it, or give another --out\n")
    code, _, err = run_twin(capsys, "whatif", str(study), "--out", str(out), "--force", "--json")
    assert code == 0, err
    code, _, err = run_twin(capsys, "whatif", str(study), "--out", str(out), "--force", "--resume")
    assert (code, err) == (2, "twin: error: --force starts afresh and --resume finishes an earlier "
                              "run: give one\n")
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    assert run_twin(capsys, "whatif", str(study), "--out", str(other)) == (2, "", _refusal(other))


def test_a_study_refused_by_its_checks_leaves_no_folder(tmp_path, capsys):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(name="betta"))
    out = tmp_path / "study"
    code, _, err = run_twin(capsys, "whatif", str(study), "--out", str(out))
    assert code == 2 and "unknown parameter 'betta'" in err
    assert not out.exists()


def test_demo_and_deploy_refuse_a_folder_with_files(tmp_path, capsys):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "report.html").write_text("old")
    assert run_twin(capsys, "demo", "--out", str(out)) == (2, "", _refusal(out))
    DATA = Path(__file__).parents[1] / "deployment" / "data"
    deploy = tmp_path / "deploy.toml"
    deploy.write_text(f'controller_file = "{DATA / "controller.toml"}"\n'
                      f'tags_file = "{DATA / "node_tags.toml"}"\n'
                      '[gateway]\npassword_env = "TWIN_TEST_PASSWORD"\n[run]\nduration = 1.0\n')
    assert run_twin(capsys, "deploy", str(deploy), "--out", str(out)) == (2, "", _refusal(out))
    assert (out / "report.html").read_text() == "old"
