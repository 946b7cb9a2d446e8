"""``twin deploy`` writes the loop report (with sheds and communication statistics) into its
run folder when the run ends, also on Ctrl-C, and shows a live status line on a terminal."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hil_support import deploy_text
from local_support import write_deploy
from terminal_support import run_on_ptys

SECTIONS = ("Controlled variables", "Manipulated variables", "Key performance indicators",
            "Given-up targets", "Sheds", "Communication", "Events")


def _deploy_file(server_factory, tmp_path, duration: float) -> Path:
    server = server_factory()
    client_dir = tmp_path / "client"
    server.trust_into(client_dir)
    path = tmp_path / "deploy.toml"
    path.write_text(deploy_text(server, client_dir, duration))
    return path


def _communication(page: str) -> dict[str, str]:
    part = page.split("<h2>Communication</h2>")[1].split("</table>")[0]
    return dict(re.findall(r"<tr><td>([^<]+)</td><td>([^<]*)</td></tr>", part))


def test_deploy_writes_the_loop_report_with_sheds_and_communication(plant, tmp_path, capsys):
    """Short form (a real asyncua server in this process): the report at the end of a run."""
    from twin.cli.main import cli

    path = write_deploy(tmp_path / "cfg", url=plant.url, seconds_per_time_unit=0.05,
                        watchdog={"max_overruns": 1000, "heartbeat_timeout": 60.0,
                                  "stale_after": 60.0},  # a loaded machine: no shed
                        extra="[run]\nduration = 3.0\n")
    with pytest.raises(SystemExit) as done:
        cli(["deploy", str(path), "--out", str(tmp_path / "run"), "--json"], prog_name="twin")
    assert done.value.code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cycles"] == 4 and data["kpis"]["cycles"] == 4 and data["sheds"] == 0
    assert data["report"] == str(tmp_path / "run" / "report.html")
    assert Path(data["parquet"]).is_file() and data["kpis"]["given_up"] == []
    page = (tmp_path / "run" / "report.html").read_text()
    assert [s for s in SECTIONS if f"<h2>{s}</h2>" not in page] == []
    comm = _communication(page)
    assert (comm["cycles"], comm["cycles with setpoints written"]) == ("4", "4")
    assert comm["cycles without data from the server"] == "0"
    median, largest = (float(comm[f"cycle interval {k} [s]"]) for k in ("median", "max"))
    # seconds, not milliseconds: cycles start on a 0.05 s schedule (a late one is followed by
    # cycles that catch up, so the median may be shorter, never the longest)
    assert 0.0 < median <= largest < 5.0 and largest > 0.02
    assert f"Deployed loop against {plant.url}" in page
    # `twin report` rebuilds it from the log alone (the controller from the logged configuration)
    (tmp_path / "run" / "report.html").unlink()
    with pytest.raises(SystemExit) as done:
        cli(["report", str(tmp_path / "run"), "--json"], prog_name="twin")
    rebuilt = json.loads(capsys.readouterr().out)
    assert (done.value.code, rebuilt["kind"], rebuilt["cycles"]) == (0, "deployed", 4)
    assert rebuilt["kpis"]["iae"] == pytest.approx(data["kpis"]["iae"], rel=1e-12)
    assert _communication((tmp_path / "run" / "report.html").read_text())["cycles"] == "4"


@pytest.mark.slow
def test_deploy_on_a_terminal_shows_its_status_and_reports_after_ctrl_c(server_factory,
                                                                       tmp_path):
    """Against `twin serve-opcua`: the live status line, then Ctrl-C, then the report."""
    config = _deploy_file(server_factory, tmp_path, 1000.0)
    status, out, err = run_on_ptys(["deploy", str(config), "--out", "run"], tmp_path,
                                   interrupt=r"cycle 6/1001")
    assert status == 130, out + err
    cycles = {int(n) for n in re.findall(r"cycle (\d+)/1001, t = ", err)}
    assert len(cycles) >= 3, err[-2000:]
    assert re.search(r"active \(on\); h1 [\d.]+ \(sp 12\.26\) cm, h2 [\d.]+ \(sp 12\.78\) cm; "
                     r"solve [\d.]+ ms; failures 0, sheds 0", err), err[-2000:]
    assert re.search(r"interrupted: the records are in run/cycles\.sqlite; report "
                     r"run/report\.html", err)
    page = (tmp_path / "run" / "report.html").read_text()
    assert [s for s in SECTIONS if f"<h2>{s}</h2>" not in page] == []
    assert int(_communication(page)["cycles"]) >= 6
