"""``twin serve-opcua``, ``twin deploy`` and ``twin trust``: the OPC UA side of the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import signal
import sys
from pathlib import Path

import click

from twin.core.errors import InputError

DEFAULT_SERVER_DIR = Path.home() / ".config" / "process-twin" / "opcua-server"


def register(cli: click.Group, emit, json_option, progress_bar) -> None:
    """Add the OPC UA commands to the ``twin`` group."""

    @cli.command("serve-opcua")
    @click.argument("model_name", metavar="[MODEL]", required=False)
    @click.option("--config", "config_file", type=click.Path(path_type=Path), default=None,
                  help="Server file: [plant] (as in loop files), [server], [[fault]].")
    @click.option("--tick", type=float, default=None, help="Plant tick [model time unit].")
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
    @click.option("--add-user", default=None, metavar="NAME",
                  help="Add a user (password from stdin) with --role, then exit.")
    @click.option("--role", type=click.Choice(["apc", "operator", "viewer"]), default="apc")
    @json_option
    def serve_opcua(model_name, config_file, tick, speed, endpoint, config_dir, insecure,
                    hold_until_apc, duration, add_user, role, as_json):
        """Serve the twin as simulated hardware over OPC UA, stepping in real time."""
        from twin.orchestration.opcua import security
        from twin.orchestration.opcua.serve_config import load_serve_config
        from twin.orchestration.opcua.server import SimulatedHardware

        if add_user is not None:
            password = sys.stdin.readline().rstrip("\n")
            security.add_user(config_dir, add_user, role, password)
            emit({"user": add_user, "role": role}, as_json, f"user '{add_user}' ({role}) added")
            return
        config = load_serve_config(config_file, model_name, tick, speed=speed, endpoint=endpoint,
                                   insecure=insecure, hold_until_apc=hold_until_apc)
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
                       f"{security.certificate_thumbprint(security.Pki(config_dir).cert.read_bytes())}",
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
                "timing": hardware.timing(), "events": hardware.events}
        events = "".join(f"\n  {e}" for e in hardware.events)
        emit(data, as_json, f"stopped after {hardware.ticks} ticks; tick jitter "
                            f"{json.dumps(hardware.timing())}"
                            + (f"\nevents:{events}" if events else ""))

    @cli.command()
    @click.argument("config", type=click.Path(path_type=Path))
    @click.option("--out", type=click.Path(path_type=Path), default=None,
                  help="Folder for the cycle log and Parquet export (default: deploy-<config>).")
    @click.option("--force", is_flag=True,
                  help="Write into an --out folder that holds files, replacing that run.")
    @json_option
    def deploy(config: Path, out: Path | None, force: bool, as_json: bool) -> None:
        """Run the APC (and RTO) against an OPC UA server, with its watchdog."""
        from twin.orchestration.loop.kpis import compute_kpis
        from twin.orchestration.opcua.deploy import run_deploy
        from twin.orchestration.opcua.deploy_config import load_deploy

        from twin.core.errors import TwinError
        from twin.orchestration.out_folder import check_out_folder, remove_unused_run

        cfg = load_deploy(config)
        folder = check_out_folder(out or Path(f"deploy-{config.stem}"), force)
        new_folder = not folder.exists()
        with progress_bar(1000, f"deployed loop {config.stem}") as progress:
            try:
                result = run_deploy(cfg, folder, progress, fresh=force)
            except KeyboardInterrupt:
                raise click.exceptions.Exit(130) from None
            except TwinError:
                if new_folder:  # refused before its first cycle: leave no empty run behind
                    remove_unused_run(folder)
                raise
        from twin.orchestration.loop.store import CycleStore

        store = CycleStore(result.store)
        try:
            store.run_id = store.db.execute("SELECT MAX(id) FROM run").fetchone()[0]
            frame = store.to_frame()
            parquet = store.export_parquet(Path(folder) / "cycles.parquet")
            events = store.events()
        finally:
            store.close()
        kpis = compute_kpis(frame, cfg.controller)
        sheds = int((events.kind == "shed").sum())
        data = {"folder": folder, "store": result.store, "parquet": parquet,
                "cycles": result.cycles, "sheds": sheds, "kpis": kpis}
        emit(data, as_json, f"{result.cycles} cycles against {cfg.url}; sheds {sheds}; "
                            f"records in {result.store}")

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
