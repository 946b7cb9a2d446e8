"""``twin console`` (the browser console), ``twin monitor`` (performance figures), and the
``--console`` option of ``twin control`` and ``twin deploy``."""

from __future__ import annotations

import contextlib
import functools
import subprocess
import sys
from pathlib import Path

import click

from twin.cli.opcua_commands import DEFAULT_SERVER_DIR

CONSOLE_WAIT = 120.0
"""How long a console started with a loop waits for the loop's first record [s]."""


def console_options(command):
    """``--console``, ``--console-port`` and ``--config-dir`` of a loop command."""

    @click.option("--console", "console", is_flag=True,
                  help="Serve the browser console on this run while it runs (HTTPS on "
                       "127.0.0.1; users of --config-dir).")
    @click.option("--console-port", type=click.IntRange(1, 65535), default=8443,
                  show_default=True, help="Port of the console.")
    @click.option("--config-dir", "console_config_dir", type=click.Path(path_type=Path),
                  default=DEFAULT_SERVER_DIR, show_default=True,
                  help="Users (users.toml, shared with twin serve-opcua) and certificates of "
                       "the console.")
    @functools.wraps(command)
    def wrapped(*args, console: bool, console_port: int, console_config_dir: Path, **kwargs):
        kwargs["console_at"] = (console_port, console_config_dir) if console else None
        return command(*args, **kwargs)

    return wrapped


@contextlib.contextmanager
def console_beside(folder: Path, console_at: tuple[int, Path] | None,
                   plant_file: Path | None = None):
    """Run ``twin console FOLDER`` in its own process while the loop runs (so that browsers
    never take the loop's interpreter), and stop it with the loop; ``plant_file``: a deploy
    file whose server the console also shows."""
    if console_at is None:
        yield
        return
    from twin.orchestration.console.serve import ConsoleOptions

    port, config_dir = console_at
    ConsoleOptions(port=port).check()
    try:  # its lines go to stderr: the loop command's stdout is its own (--json)
        out = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        out = subprocess.DEVNULL
    child = subprocess.Popen([sys.executable, "-m", "twin", "console", str(folder), "--port",
                              str(port), "--config-dir", str(config_dir), "--wait",
                              str(CONSOLE_WAIT)]
                             + (["--plant", str(plant_file)] if plant_file else []), stdout=out)
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()


def register(cli: click.Group, emit, json_option) -> None:
    """Add ``console`` and ``monitor`` to the CLI."""

    @cli.command()
    @click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
    @click.option("--config-dir", type=click.Path(path_type=Path), default=DEFAULT_SERVER_DIR,
                  show_default=True,
                  help="Users (users.toml, shared with twin serve-opcua) and certificates.")
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="Address to listen on (loopback unless you choose otherwise).")
    @click.option("--port", type=click.IntRange(1, 65535), default=8443, show_default=True)
    @click.option("--insecure", is_flag=True,
                  help="Plain HTTP instead of HTTPS; allowed on a loopback address only.")
    @click.option("--wait", type=click.FloatRange(0, 3600), default=0.0,
                  help="Wait this long [s] for the folders' first records (a loop starting).")
    @click.option("--plant", "plant_file", type=click.Path(path_type=Path), default=None,
                  metavar="DEPLOY_FILE",
                  help="Also show the plant and base layer of this deploy file's OPC UA server "
                       "(read only, with the file's session settings).")
    @json_option
    def console(folders, config_dir, host, port, insecure, wait, plant_file, as_json) -> None:
        """Serve the browser console on run folders of twin control or twin deploy.

        Faceplates, live trends with the prediction, alarms, the audit trail,
        performance figures and reports of each FOLDER, running or finished.
        Operators and engineers change limits, setpoints, modes and tuning
        there; each change reaches the loop at its next cycle and is recorded
        in the folder's cycle log.
        """
        from twin.orchestration.console.serve import ConsoleOptions, serve_console

        options = ConsoleOptions(host, port, insecure)

        def ready(url, runs):
            names = ", ".join(r.key for r in runs)
            data = {"url": url, "runs": {r.key: str(r.folder) for r in runs},
                    "config_dir": str(config_dir)}
            emit(data, as_json, f"console at {url} serving {names}; users of {config_dir}; "
                                "Ctrl-C to stop")

        with contextlib.suppress(KeyboardInterrupt):
            serve_console(list(folders), config_dir, options, wait=wait, on_ready=ready,
                          plant_file=plant_file)

    @cli.command()
    @click.argument("folder", type=click.Path(path_type=Path))
    @click.option("--window", default=None, metavar="START:END",
                  help="Run time span to assess [run time unit] (default: the whole run).")
    @click.option("--reference", default=None, metavar="START:END",
                  help="Reference span for variability and prediction error (default: 10 % "
                       "to 35 % of the run).")
    @click.option("--blocks", type=click.IntRange(1, 1000), default=10, show_default=True,
                  help="Blocks of the window for the prediction-error flags.")
    @json_option
    def monitor(folder: Path, window, reference, blocks, as_json: bool) -> None:
        """Performance figures of a run: service factor, active constraints, variability,
        prediction error (model quality), solver statistics, sheds and their causes."""
        from twin.orchestration.loop.monitor import Window, monitor as figures, summary_lines
        from twin.orchestration.loop.store import CycleStore

        w = Window.parse(window, "--window") if window else None
        ref = Window.parse(reference, "--reference") if reference else None
        store = CycleStore.read_only(Path(folder) / "cycles.sqlite")
        try:
            data = figures(store, w, ref, blocks)
        finally:
            store.close()
        emit(data, as_json, "\n".join(summary_lines(data)))
