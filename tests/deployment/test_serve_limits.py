"""Limits of ``twin serve-opcua``: its speed, its endpoint; stopping at any speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from hil_support import START_TIMEOUT, ServerProcess, wait_for_ready
from support import run_twin, the_error_line
from twin.orchestration.opcua.serve_config import MAX_SPEED


@pytest.mark.parametrize("speed, message", [
    ("1e6", "--speed: 1000000.0 is out of range (expected a number > 0 and <= 10000)"),
    ("inf", "--speed: expected a finite number, got inf"),
    ("0", "--speed: 0.0 is out of range (expected a number > 0 and <= 10000)"),
])
def test_a_speed_out_of_range_on_the_command_line_is_one_line(capsys, tmp_path, speed, message):
    code, _, err = run_twin(capsys, "serve-opcua", "quadruple_tank", "--tick", "0.5", "--speed",
                            speed, "--config-dir", str(tmp_path / "server"), "--duration", "1")
    assert code == 2
    assert the_error_line(err) == f"twin: error: {message}"


def test_a_speed_out_of_range_in_the_server_file_is_one_line(capsys, tmp_path):
    server = ServerProcess(tmp_path / "hw", speed=1e6)
    code, _, err = run_twin(capsys, "serve-opcua", "--config", str(server.config), "--config-dir",
                            str(server.config_dir), "--duration", "1")
    assert code == 2
    assert the_error_line(err) == ("twin: error: serve.toml.server.speed: 1000000.0 is out of "
                                   "range (expected a number > 0 and <= 10000)")


def test_a_time_unit_the_server_cannot_count_in_is_one_line(capsys, tmp_path):
    server = ServerProcess(tmp_path / "hw", settings='time_unit = "hours"')
    code, _, err = run_twin(capsys, "serve-opcua", "--config", str(server.config), "--config-dir",
                            str(server.config_dir), "--duration", "1")
    assert code == 2
    line = the_error_line(err)
    assert line.startswith("twin: error: serve.toml.server.time_unit: ") and "'hours'" in line, line


@pytest.mark.parametrize("endpoint, why", [
    ("opc.tcp://127.0.0.1:99999/twin", " (Port out of range 0-65535)"),
    ("opc.tcp://127.0.0.1:48x0/twin", " (Port could not be cast to integer value as '48x0')"),
    ("opc.tcp://127.0.0.1/twin", " (a port 1-65535, or 0 for any free port)"),
    ("opc.tcp://:4840/twin", ""),
    ("http://127.0.0.1:4840/twin", ""),
    ("opc.tcp://[::1:4840/twin", " (Invalid IPv6 URL)"),
])
def test_a_bad_endpoint_is_refused_at_load_with_one_line(capsys, tmp_path, endpoint, why):
    code, _, err = run_twin(capsys, "serve-opcua", "quadruple_tank", "--tick", "0.5",
                            "--endpoint", endpoint, "--config-dir", str(tmp_path / "server"))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: --endpoint '{endpoint}': use "
                                   f"opc.tcp://host:port/path{why}")
    server = ServerProcess(tmp_path / "hw")
    server.config.write_text(server.config.read_text().replace(server.url, endpoint))
    code, _, err = run_twin(capsys, "serve-opcua", "--config", str(server.config), "--config-dir",
                            str(server.config_dir))
    assert code == 2
    assert the_error_line(err) == (f"twin: error: serve.toml.server: server.endpoint "
                                   f"'{endpoint}': use opc.tcp://host:port/path{why}")


def _stop_on_sigterm(server: ServerProcess) -> tuple[float, dict]:
    """Seconds from SIGTERM to the server's exit, and its summary."""
    t0 = time.monotonic()
    server.process.terminate()
    try:
        out, _ = server.process.communicate(timeout=30)
    finally:
        server.stop()
    return time.monotonic() - t0, json.loads(out)


def _run_for_one_second(server: ServerProcess) -> tuple[float, subprocess.Popen, str]:
    """``--duration 1``: seconds from READY to the exit, the process and its output."""
    log = server.folder / "serve.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "twin.cli.main", "serve-opcua", "--config", str(server.config),
             "--config-dir", str(server.config_dir), "--duration", "1", "--json"],
            stdout=subprocess.PIPE, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_ready(process, log, "server", START_TIMEOUT)
        t0 = time.monotonic()
        out, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return time.monotonic() - t0, process, out


@pytest.fixture(scope="module")
def at_ease(tmp_path_factory):
    """How long a server at an easy speed takes to stop, on SIGTERM and after ``--duration 1``
    [s]: the yardstick of a machine that may be busy (its shutdown is the same work)."""
    folder = tmp_path_factory.mktemp("ease")
    on_sigterm, _ = _stop_on_sigterm(ServerProcess(folder / "a", speed=1.0).start())
    after_duration, _, _ = _run_for_one_second(ServerProcess(folder / "b", speed=1.0))
    return {"sigterm": on_sigterm, "duration": after_duration}


def test_at_the_highest_speed_the_server_still_stops_on_sigterm(tmp_path, at_ease):
    """At MAX_SPEED every tick is behind its schedule; the tick loop must still let the
    signal in (it yields to the event loop every tick): it stops within 2 s of what a server
    at an easy speed takes."""
    server = ServerProcess(tmp_path / "hw", speed=MAX_SPEED).start()
    time.sleep(1.0)  # a second of running behind
    stopped, summary = _stop_on_sigterm(server)
    print(f"stopped in {stopped:.2f} s after SIGTERM ({at_ease['sigterm']:.2f} s at speed 1)")
    assert stopped < at_ease["sigterm"] + 2.0, (stopped, at_ease)
    assert summary["ticks"] > 100 and summary["timing"]["overruns"] > 100
    resyncs = [e for e in summary["events"] if "resynchronised" in e]
    assert len(resyncs) == 1 and summary["timing"]["resyncs"] >= 1  # one event, then counted


def test_at_the_highest_speed_the_server_still_stops_after_its_duration(tmp_path, at_ease):
    seconds, process, out = _run_for_one_second(ServerProcess(tmp_path / "hw", speed=MAX_SPEED))
    print(f"stopped {seconds:.2f} s after READY ({at_ease['duration']:.2f} s at speed 1)")
    assert seconds < at_ease["duration"] + 2.0, (seconds, at_ease)
    assert process.returncode == 0 and json.loads(out)["ticks"] > 100
