"""Progress on a terminal, given-up targets, summaries and ``twin report``: the real ``twin``.

``twin control`` and ``twin whatif`` run as subprocesses with stdout and
stderr each on its own pseudo-terminal, as in an engineer's shell; what
they draw is read back. With ``--json`` (or stdout not a terminal) stdout
is one JSON document and nothing else.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from terminal_support import run_on_ptys
from twin.orchestration.examples import example


def loop_file(folder: Path, name: str, duration: float, setpoint: float) -> Path:
    """The shipped CSTR example, shortened to ``duration`` [h], C_b setpoint ``setpoint``."""
    text = example("cstr_apc.toml").read_text()
    text = text.replace("duration = 0.6", f"duration = {duration}")
    text = text.replace("[[event]]\ntime = 0.3\nsetpoint = { C_b = 0.7 }\n", "")
    text = text.replace("setpoint = 0.6\n", f"setpoint = {setpoint}\n")
    assert f"duration = {duration}" in text and "[[event]]" not in text
    path = folder / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory):
    """``twin control`` on a terminal with the C_b setpoint at 9.6 mol/L (unreachable)."""
    folder = tmp_path_factory.mktemp("unreachable")
    loop_file(folder, "sp96.toml", 0.25, 9.6)
    status, out, err = run_on_ptys(["control", "sp96.toml", "--out", "run"], folder)
    return folder, status, out, err


def test_control_on_a_terminal_draws_cycles_done_elapsed_eta_and_counters(unreachable):
    folder, status, out, err = unreachable
    assert status == 0, out + err
    counts = {int(m) for m in re.findall(r"(\d+)/51 cycles", err)}
    assert len(counts) >= 3 and max(counts) == 51, err[-2000:]  # several updates, then done
    assert re.search(r"0:0\d:\d\d", err) and "ETA" in err
    assert re.search(r"failures 0, sheds 0, given-up targets 1", err)
    # the result is on stdout, formatted with units; no progress there
    assert "cycles" in out and "/51" not in out
    assert re.search(r"IAE: C_b [\d.]+ mol/L·h", out)


def test_an_unreachable_setpoint_is_one_episode_with_its_size_and_one_warning(unreachable):
    folder, status, out, err = unreachable
    warnings = [line for line in err.splitlines() if "twin: warning:" in line]
    assert len(warnings) == 1 and "cannot reach the C_b setpoint" in warnings[0]
    miss = float(re.search(r"misses it by ([\d.]+) mol/L", warnings[0])[1])
    assert 8.0 < miss < 9.6  # C_b cannot get near 9.6 mol/L: at most ~1.3 is reachable
    assert "given-up targets: 1 episode\n" in out.replace("\r", "")
    line = re.search(r"C_b setpoint given up from t = 0 to 0\.25 h \(until the end of the run\), "
                     r"51 cycles; largest miss ([\d.]+) mol/L", out)
    assert line and float(line[1]) >= miss
    # the cycle log: one event for the episode, every cycle's miss kept as a value
    import sqlite3

    db = sqlite3.connect(folder / "run" / "cycles.sqlite")
    try:
        kinds = [k for (k,) in db.execute("SELECT kind FROM event")]
        misses = db.execute("SELECT COUNT(*), MAX(value) FROM value "
                            "WHERE role = 'given_up_setpoint' AND name = 'C_b'").fetchone()
    finally:
        db.close()
    assert kinds.count("given_up") == 1 and misses[0] == 51
    assert misses[1] == pytest.approx(float(line[1]), rel=1e-3)


def test_twin_report_rebuilds_the_report_from_what_the_log_has_committed(unreachable, capsys):
    """Rebuilt while a writer holds the log with a cycle not yet committed (as a running loop
    does): the report has the committed cycles."""
    import sqlite3

    from twin.cli.main import cli

    folder = unreachable[0] / "run"
    (folder / "report.html").unlink()
    writer = sqlite3.connect(folder / "cycles.sqlite", isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # the write lock, as a run's commit in progress holds it
        writer.execute("INSERT INTO cycle (run, cycle, t, mode) VALUES (1, 51, 0.255, 'on')")
        with pytest.raises(SystemExit) as done:
            cli(["report", str(folder), "--json"], prog_name="twin")
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert done.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["kind"], data["cycles"], data["sheds"]) == ("SIL", 51, 0)
    [episode] = data["kpis"]["given_up"]
    assert (episode["cv"], episode["kind"], episode["cycles"], episode["unit"]) == \
        ("C_b", "setpoint", 51, "mol/L")
    page = (folder / "report.html").read_text()
    for section in ("Controlled variables", "Key performance indicators", "Given-up targets",
                    "Sheds", "Events"):
        assert f"<h2>{section}</h2>" in page
    assert "C_b setpoint</td>" in page and "still given up" in page


@pytest.mark.parametrize("where,message", [
    ("empty", "has no cycle log (cycles.sqlite)"), ("missing", "does not exist"),
    ("no-cycle", "has no cycle yet: nothing to report")])
def test_twin_report_without_cycles_to_report_is_one_line(where, message, tmp_path, capsys):
    from twin.cli.main import cli
    from twin.orchestration.loop.store import CycleStore

    folder = tmp_path / where
    if where != "missing":
        folder.mkdir()
    if where == "no-cycle":  # a run that stopped before its first cycle
        store = CycleStore(folder / "cycles.sqlite")
        store.start_run("deployed", "opc.tcp://127.0.0.1:4840/twin", "s", {})
        store.close()
    with pytest.raises(SystemExit) as done:
        cli(["report", str(folder)], prog_name="twin")
    out, err = capsys.readouterr()
    assert done.value.code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("twin: error: ") and message in err
    assert not (folder / "report.html").exists()


def test_control_with_json_on_terminals_prints_one_json_document_and_no_progress(tmp_path):
    loop_file(tmp_path, "short.toml", 0.05, 0.6)
    status, out, err = run_on_ptys(["control", "short.toml", "--out", "run", "--json"], tmp_path)
    assert status == 0, out + err
    data = json.loads(out)  # the whole of stdout
    assert data["cycles"] == 11 and data["kpis"]["given_up"] == []  # reachable: no episode
    assert err == ""


def test_whatif_on_a_terminal_draws_scenarios_done_failed_and_rate(tmp_path):
    text = example("cstr_kinetics_ensemble.toml").read_text().replace("n = 4000", "n = 12")
    (tmp_path / "small.toml").write_text(text)
    status, out, err = run_on_ptys(["whatif", "small.toml", "--out", "run", "--chunk-size", "1"],
                                   tmp_path)
    assert status == 0, out + err
    counts = {int(m) for m in re.findall(r"(\d+)/13 scenarios", err)}  # 12 and the nominal
    assert len(counts) >= 3 and max(counts) == 13, err[-2000:]
    assert re.search(r"failed 0, [\d.]+ scenarios/s", err) and "ETA" in err
    assert out.strip().startswith("13 scenarios (0 failed)") and "/13" not in out


def test_the_servers_stop_line_gives_its_tick_timing_with_units():
    from twin.cli.opcua_commands import _jitter

    timing = {"ticks": 40, "period_ms": 31.25, "jitter_p50_ms": 0.41, "jitter_p99_ms": 2.5,
              "jitter_max_ms": 3.75, "overruns": 0, "resyncs": 1}
    assert _jitter(timing) == ("tick period 31.25 ms, jitter p50 0.41 ms, p99 2.5 ms, max 3.75 ms; "
                               "overruns 0, re-alignments 1")
    assert _jitter({"ticks": 0}) == "no tick timed"
    assert _jitter({"ticks": 12, "clock": "virtual"}) == "virtual clock: 12 ticks stepped on request"
