"""Limits of ``twin serve-opcua``: its speed, its endpoint; stopping at any speed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from hil_support import ServerProcess, wait_for_ready
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


@pytest.mark.parametrize("endpoint, why", [
    ("opc.tcp://127.0.0.1:99999/twin", " (Port out of range 0-65535)"),
    ("opc.tcp://127.0.0.1:48x0/twin", " (Port could not be cast to integer value as '48x0')"),
    ("opc.tcp://127.0.0.1/twin", " (a port 1-65535)"),
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


def test_at_the_highest_speed_the_server_still_stops_on_sigterm(tmp_path):
    """At MAX_SPEED every tick is behind its schedule; the tick loop must still let the
    signal in (it yields to the event loop every tick)."""
    server = ServerProcess(tmp_path / "hw", speed=MAX_SPEED).start()
    time.sleep(1.0)
    t0 = time.monotonic()
    server.process.terminate()
    try:
        out, _ = server.process.communicate(timeout=10)
    finally:
        server.stop()
    stopped = time.monotonic() - t0
    summary = json.loads(out)
    assert stopped < 2.0, stopped
    assert summary["ticks"] > 100 and summary["timing"]["overruns"] > 100
    resyncs = [e for e in summary["events"] if "resynchronised" in e]
    assert len(resyncs) == 1 and summary["timing"]["resyncs"] >= 1  # one event, then counted


def test_at_the_highest_speed_the_server_still_stops_after_its_duration(tmp_path):
    server = ServerProcess(tmp_path / "hw", speed=MAX_SPEED)
    log = tmp_path / "serve.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "twin.cli.main", "serve-opcua", "--config", str(server.config),
             "--config-dir", str(server.config_dir), "--duration", "1", "--json"],
            stdout=subprocess.PIPE, stderr=err, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_ready(process, log, "server", 60)
        t0 = time.monotonic()
        out, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert time.monotonic() - t0 < 1.0 + 2.0
    assert process.returncode == 0 and json.loads(out)["ticks"] > 100
