"""``twin serve-opcua``, ``twin deploy`` and ``twin trust``: the OPC UA side of the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import sys
from pathlib import Path

import click

from twin.cli.loop_summary import loop_summary
from twin.core.errors import InputError, RunStopped

DEFAULT_SERVER_DIR = Path.home() / ".config" / "process-twin" / "opcua-server"


def register(cli: click.Group, emit, json_option, progress_bar) -> None:
    """Add the OPC UA commands to the ``twin`` group."""
    from twin.cli.console_command import console_beside, console_options

    @cli.command("serve-opcua")
    @click.argument("model_name", metavar="[MODEL]", required=False)
    @click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
                  help="Server file: [plant] (as in loop files), [server], [[fault]].")
    @click.option("--tick", type=float, default=None, help="Plant tick [model time unit, or server.time_unit of --config].")
    @click.option("--speed", type=float, default=None,
                  help="Run plant time this many times faster than real time.")
    @click.option("--endpoint", default=None, help="opc.tcp://host:port/path to listen on.")
    @click.option("--config-dir", type=click.Path(path_type=Path), default=DEFAULT_SERVER_DIR,
                  show_default=True,
                  help="Certificates, users and the written tag map (tags.toml).")
    @click.option("--insecure", is_flag=True, default=None,
                  help="Also offer an unsecured endpoint (never by default).")
    @click.option("--hold-until-apc", is_flag=True, default=None,
                  help="Do not step until the APC heartbeat first changes (HIL runs).")
    @click.option("--duration", type=float, default=None,
                  help="Stop after this many seconds of real time (default: until stopped).")
    @click.option("--history", default=None, metavar="FILE|off",
                  help="History database of the plant variables (OPC UA HistoryRead), or off "
                       "[default: history.file of --config, else ./opcua-history.sqlite].")
    @click.option("--add-user", default=None, metavar="NAME",
                  help="Add a user (password from stdin) with --role, then exit.")
    @click.option("--role", type=click.Choice(["apc", "operator", "engineer", "viewer"]),
                  default="apc")
    @json_option
    def serve_opcua(model_name, config_file, tick, speed, endpoint, config_dir, insecure,
                    hold_until_apc, duration, history, add_user, role, as_json):
        """Serve the twin as simulated hardware over OPC UA, stepping in real time."""
        from twin.orchestration.opcua import security
        from twin.orchestration.opcua.serve_config import load_serve_config
        from twin.orchestration.opcua.server import SimulatedHardware

        if add_user is not None:
            password = sys.stdin.readline().rstrip("\n")
            security.add_user(config_dir, add_user, role, password)
            emit({"user": add_user, "role": role}, as_json, f"user '{add_user}' ({role}) added")
            return
        config = load_serve_config(config_file, model_name, tick, history, speed=speed,
                                   endpoint=endpoint, insecure=insecure,
                                   hold_until_apc=hold_until_apc)
        if duration is not None and not (math.isfinite(duration) and duration > 0):
            raise InputError(f"--duration {duration}: give a positive number of seconds")
        hardware = SimulatedHardware(config, config_dir)

        async def main():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await hardware.start()
            click.echo(f"serving {hardware.model.name} at {hardware.endpoint} "
                       f"(Basic256Sha256 SignAndEncrypt{', and unsecured' if config.server.insecure else ''});"
                       f" users in {security.users_file(config_dir)}, tag map "
                       f"{Path(config_dir) / 'tags.toml'}; certificate SHA-256 "
                       f"{security.certificate_thumbprint(security.Pki(config_dir).cert.read_bytes())}"
                       + (f"; history in {config.history.file}" if config.history.enabled else ""),
                       err=True)
            click.echo("READY", err=True)
            try:
                await asyncio.wait_for(stop.wait(), timeout=duration)
            except asyncio.TimeoutError:
                pass
            await hardware.stop()

        with _log_to_stderr():
            asyncio.run(main())
        data = {"endpoint": hardware.endpoint, "ticks": hardware.ticks,
                "timing": hardware.timing(), "events": hardware.events,
                "history": config.history.file if config.history.enabled else None,
                "history_csv": list(hardware.exported) if hardware.exported else None}
        events = "".join(f"\n  {e}" for e in hardware.events)
        exported = f"\nhistory exported to {hardware.exported[0]} and {hardware.exported[1]}" \
            if hardware.exported else ""
        emit(data, as_json, f"stopped after {hardware.ticks} ticks; {_jitter(hardware.timing())}"
                            + (f"\nevents:{events}" if events else "") + exported)

    @cli.command()
    @click.argument("config", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Folder for the cycle log, Parquet export and report "
                       "(default: deploy-<config>).")
    @click.option("--force", is_flag=True,
                  help="Write into an --out folder that holds files, replacing that run.")
    @console_options
    @json_option
    def deploy(config: Path, out: Path | None, force: bool, console_at, as_json: bool) -> None:
        """Run the APC (and RTO) against an OPC UA server, with its watchdog.

        The run folder gets the cycle log, its Parquet export and report.html,
        also when the run stops on an error or Ctrl-C (`twin report FOLDER`
        rebuilds the report at any time, also during the run).
        """
        from twin.cli.progress_display import progress_display
        from twin.core.errors import TwinError
        from twin.orchestration.opcua.deploy import run_deploy
        from twin.orchestration.opcua.deploy_config import load_deploy
        from twin.orchestration.out_folder import check_out_folder, remove_unused_run

        cfg = load_deploy(config)
        folder = check_out_folder(out or Path(f"deploy-{config.stem}"), force)
        new_folder = not folder.exists()
        result = None
        with _report_at_end(folder, cfg) as report:
            with progress_display(f"deployed loop {config.stem}", as_json, "deploy") as progress:
                try:
                    with console_beside(folder, console_at, config):
                        result = run_deploy(cfg, folder, progress, fresh=force,
                                            predictions=console_at is not None)
                except KeyboardInterrupt:
                    pass
                except TwinError:
                    if new_folder:  # refused before its first cycle: leave no empty run behind
                        remove_unused_run(folder)
                    raise
        if result is None:  # Ctrl-C: what was committed is recorded and reported
            where = f"; report {report['run'].report}" if "run" in report else ""
            click.echo(f"interrupted: the records are in {Path(folder) / 'cycles.sqlite'}{where}",
                       err=True)
            raise click.exceptions.Exit(130)
        if "run" not in report:
            raise RunStopped(f"the deployed loop ran {result.cycles} cycles, but its report "
                             f"could not be written; the records are in {result.store}")
        built = report["run"]
        data = {"folder": folder, "store": result.store, "parquet": built.parquet,
                "report": built.report, "cycles": result.cycles, "sheds": built.sheds,
                "kpis": built.kpis}
        lines = loop_summary(result.cycles, built.kpis, built.units, built.time_unit,
                             f"deployed loop against {cfg.url}", built.sheds)
        emit(data, as_json, "\n".join(lines + [f"records in {result.store}",
                                               f"report written to {built.report}"]))

    @cli.command()
    @click.argument("url", required=False)
    @click.option("--cert", type=click.Path(path_type=Path), default=None,
                  help="Trust this certificate file (DER or PEM) instead of fetching it.")
    @click.option("--rejected", default=None, metavar="SHA256",
                  help="Trust the certificate of rejected/ with this thumbprint (a server's "
                       "config dir: a client it refused).")
    @click.option("--config-dir", type=click.Path(path_type=Path), required=True,
                  help="The client configuration folder (gateway.config_dir of the deploy file), "
                       "or the server's (serve-opcua --config-dir) to trust a client.")
    @click.option("--yes", is_flag=True, help="Trust without asking (after checking the thumbprint).")
    @json_option
    def trust(url, cert, rejected, config_dir, yes, as_json) -> None:
        """Trust a peer's certificate deliberately: a server's (fetched from URL, or --cert) in a
        client's folder, or a client's (--cert, or --rejected) in a server's folder."""
        from twin.orchestration.opcua import security

        if sum(x is not None for x in (url, cert, rejected)) != 1:
            raise InputError("give one of URL, --cert FILE or --rejected SHA256")
        pki = security.Pki(config_dir)
        if rejected is not None:
            path = security.trust_rejected(pki, rejected)
            thumb = security.certificate_thumbprint(path.read_bytes())
            emit({"trusted": path, "sha256": thumb}, as_json, f"trusted {thumb} as {path}")
            return
        if cert is not None:
            if not cert.is_file():
                raise InputError(f"--cert {cert}: file not found")
            der, name = security.certificate_der(cert.read_bytes(), f"--cert {cert}"), cert.stem
        else:
            der, name = asyncio.run(_fetch_certificate(url)), url.split("//")[-1].split("/")[0]
            der = security.certificate_der(der, f"the certificate of {url}")
        thumb = security.certificate_thumbprint(der)
        if not yes:
            if not sys.stdin.isatty():
                raise InputError(f"certificate SHA-256 {thumb}: check it, then add --yes")
            click.confirm(f"Trust certificate SHA-256 {thumb}?", abort=True, err=True)
        path = security.trust_certificate(pki, der, name.replace(":", "_"))
        emit({"trusted": path, "sha256": thumb}, as_json, f"trusted {thumb} as {path}")


def _jitter(t: dict) -> str:
    """The server's tick timing as a line with units."""
    if t.get("clock") == "virtual":
        return f"virtual clock: {t['ticks']} ticks stepped on request"
    if not t.get("ticks"):
        return "no tick timed"
    return (f"tick period {t['period_ms']:.4g} ms, jitter p50 {t['jitter_p50_ms']:.3g} ms, "
            f"p99 {t['jitter_p99_ms']:.3g} ms, max {t['jitter_max_ms']:.3g} ms; "
            f"overruns {t['overruns']}, re-alignments {t['resyncs']}")


@contextlib.contextmanager
def _report_at_end(folder: Path, cfg):
    """Yields a dict that gets ``"run"``: the run folder's report (and Parquet export),
    written when the run ends however it ends; a failure to write it is one warning line,
    never hiding the run's own error."""
    from twin.orchestration.loop.run_report import STORE, NoCycles, report_run

    built: dict = {}
    try:
        yield built
    finally:
        if (Path(folder) / STORE).is_file():
            try:
                built["run"] = report_run(folder, cfg.controller, title=cfg.title or None)
            except NoCycles:  # stopped before its first cycle: its error line says why
                pass
            except Exception as exc:  # noqa: BLE001 - the run's own outcome comes first
                click.echo(f"twin: warning: no report written: {' '.join(str(exc).split())}",
                           err=True)


@contextlib.contextmanager
def _log_to_stderr():
    """The server's log (security events, refused calls) on stderr, with times, while serving."""
    logger = logging.getLogger("twin")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def _fetch_certificate(url: str) -> bytes:
    """The certificate a server presents in its endpoints (GetEndpoints needs no session)."""
    from asyncua import Client

    from twin.orchestration.opcua.gateway import describe_connect_error

    client = Client(url, timeout=5)
    try:
        endpoints = await client.connect_and_get_server_endpoints()
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise InputError(describe_connect_error(exc, url, "")) from None
    for ep in endpoints:
        if ep.ServerCertificate:
            return bytes(ep.ServerCertificate)
    raise InputError(f"{url} presents no certificate")
