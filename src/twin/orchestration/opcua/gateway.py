"""The deployed loop's OPC UA client: secure connection, reads with status, checked writes.

Every value read passes one quality gate (:func:`gate`) before it is used:
its OPC UA status, a null value, the wrong type and a non-finite number
all make it a Bad sample (its ``value`` is ``nan``, its ``status`` says
why), never an exception; the deployed loop decides what a Bad value means.

Reads are **polled**: one Read request per cycle returns every tag with its
status and server timestamp, plus the server heartbeat (and tick), so each
cycle works on one consistent snapshot and proves by itself that data
flows (a subscription may come back empty after a server freeze; a poll
cannot). Staleness is judged on the server's clock: a tag's server
timestamp against the heartbeat's, never against the source timestamp or
our own clock.

Security: Basic256Sha256 SignAndEncrypt with a client certificate made on
first use, a username and password, and the server certificate validated
against the trust store; there is no fallback to an unsecured endpoint
(``insecure`` must be asked for). asyncua's own auto-reconnect keeps the
session; :meth:`Gateway.rebuild` replaces it when data stops flowing.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from twin.core.errors import InputError, TwinError
from twin.core.quality import Quality
from twin.orchestration.opcua import security
from twin.orchestration.opcua.deploy_config import GatewaySettings
from twin.orchestration.opcua.tagmap import TagMap

log = logging.getLogger(__name__)


SERVER_START_TIME = "i=2257"
"""Server_ServerStatus_StartTime, a standard node every OPC UA server has."""
SESSION_TIMEOUT_MS = 600_000
"""Session lifetime asked of the server; a server may revise it (noted, not a problem)."""


def _session_timeout_revision(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Requested session timeout")


logging.getLogger("asyncua.client.client").addFilter(_session_timeout_revision)

IDENTITY_FAULTS = ("BadUserAccessDenied", "BadIdentityTokenRejected", "BadIdentityTokenInvalid")
"""A refused user or password: :func:`describe_connect_error` says so in one line."""


REFUSED_CERTIFICATE = "BadCertificateUntrusted"
"""The server refused this client's certificate: :func:`describe_connect_error` says so."""


def _identity_fault(record: logging.LogRecord) -> bool:
    """Drop asyncua's ServiceFault warning for a refused login or client certificate (the
    clean error follows)."""
    return not (record.getMessage().startswith("ServiceFault (")
                and any(f"ServiceFault ({name}," in record.getMessage()
                        for name in (*IDENTITY_FAULTS, REFUSED_CERTIFICATE)))


logging.getLogger("asyncua.client.ua_client.UASocketProtocol").addFilter(_identity_fault)


LOOP_MODES = ("MANUAL", "AUTO", "CASCADE")
"""Modes a base loop may report; anything else is an unreadable mode."""


class GatewayError(TwinError, RuntimeError):
    """The gateway cannot be reached, refuses us, or a request failed."""


@dataclass(frozen=True)
class Sample:
    """One value read, through the quality gate.

    Attributes
    ----------
    value : float
        The value [model units]; ``nan`` when the sample is Bad.
    quality : Quality
        From the OPC UA status; BAD also for a null, non-numeric or non-finite value.
    status : str
        The OPC UA status name, or why the value is unusable.
    server_time : datetime, optional
        The server's timestamp.
    """

    value: float
    quality: Quality
    status: str
    server_time: datetime | None

    @property
    def good(self) -> bool:
        """True when the value may be used as is (quality GOOD)."""
        return self.quality is Quality.GOOD


@dataclass(frozen=True)
class Snapshot:
    """What one cycle read."""

    heartbeat: int | None
    heartbeat_time: datetime | None
    tick: int | None
    tags: dict[str, Sample]
    modes: dict[str, str | None]
    """Base-loop modes (upper case); ``None`` when unreadable or Bad."""
    setpoints: dict[str, Sample]
    """The setpoints the base loops act on [model units]."""
    remote_setpoints: dict[str, Sample]
    server_start: datetime | None = None
    """The server's ServerStatus.StartTime: a new one means the server restarted."""


def quality_of(status) -> Quality:
    """OPC UA status -> quality: Good, Uncertain*, Bad*."""
    if status.is_good():
        return Quality.GOOD
    if status.is_uncertain():
        return Quality.UNCERTAIN
    return Quality.BAD


def gate(dv, scale: float = 1.0, offset: float = 0.0) -> Sample:
    """The quality gate of every numeric value read: status, null, type and finiteness.

    ``dv`` is an OPC UA DataValue (or ``None``); a usable number is
    converted to model units as ``scale * value + offset``.
    """
    if dv is None:
        return Sample(math.nan, Quality.BAD, "no value returned", None)
    status = dv.StatusCode
    stamp = dv.ServerTimestamp
    quality = quality_of(status)
    name = status.name
    raw = dv.Value.Value if dv.Value is not None else None
    if quality is Quality.BAD:
        return Sample(math.nan, Quality.BAD, name, stamp)
    if raw is None:
        return Sample(math.nan, Quality.BAD, f"{name}, null value", stamp)
    if isinstance(raw, bool) or not isinstance(raw, (int, float)):
        return Sample(math.nan, Quality.BAD, f"{name}, not a number ({type(raw).__name__})", stamp)
    try:
        value = scale * float(raw) + offset
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        return Sample(math.nan, Quality.BAD, f"{name}, not finite", stamp)
    return Sample(value, quality, name, stamp)


def gate_text(dv) -> str | None:
    """A Good string value in upper case, else ``None`` (the same gate for text)."""
    if dv is None or not dv.StatusCode.is_good() or dv.Value is None:
        return None
    raw = dv.Value.Value
    return raw.upper() if isinstance(raw, str) else None


def gate_count(dv) -> int | None:
    """A Good non-negative integer (a counter), else ``None``."""
    if dv is None or not dv.StatusCode.is_good() or dv.Value is None:
        return None
    raw = dv.Value.Value
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        return None
    return raw


CERTIFICATE_ERRORS = ("BadCertificateUntrusted", "BadCertificateInvalid", "BadCertificateUriInvalid",
                      "BadCertificateTimeInvalid", "BadCertificateUseNotAllowed")


def refused_by_us(exc: BaseException) -> bool:
    """True when our own validator refused the server's certificate (asyncua raises the status
    from the validator's ServiceError); False when the server refused ours."""
    from asyncua.common.utils import ServiceError

    return isinstance(exc.__cause__, ServiceError)


def describe_connect_error(exc: BaseException, url: str, username: str,
                           own_thumbprint: str = "") -> str:
    """One line saying why a connection failed, and what to do."""
    name = type(exc).__name__
    text = " ".join(str(exc).split())
    if name in IDENTITY_FAULTS:
        return f"{url} refused user '{username}' (wrong password or unknown user)"
    if name in CERTIFICATE_ERRORS and not refused_by_us(exc) and own_thumbprint:
        return (f"{url} refused this client's certificate ({name}); its administrator must trust "
                f"it: on the server, `twin trust --rejected {own_thumbprint} --config-dir "
                "SERVER_DIR`")
    if name in CERTIFICATE_ERRORS:
        return (f"the certificate of {url} is not trusted ({name}); check it and add it with "
                f"`twin trust {url}`")
    if name in ("BadSecurityModeRejected", "BadSecurityPolicyRejected") or "No matching endpoints" \
            in text:
        return (f"{url} offers no Basic256Sha256 SignAndEncrypt endpoint; an unsecured "
                "connection is refused (set gateway.insecure = true only if you mean it)")
    if isinstance(exc, ConnectionRefusedError):
        return f"cannot reach {url}: connection refused"
    if isinstance(exc, (OSError, asyncio.TimeoutError, TimeoutError)):
        return f"cannot reach {url}: {text or name}"
    return f"connecting to {url} failed: {name}: {text}"


async def connect_client(url: str, settings: GatewaySettings, **options):
    """An asyncua client with a session open on ``url`` as ``settings`` say: Basic256Sha256
    SignAndEncrypt, the client certificate (made on first use) and the server's validated
    against the trust store, user and password; unsecured only with ``insecure``.
    ``options`` go to asyncua's ``Client``. Any failure is a one-line :class:`GatewayError`."""
    from asyncua import Client

    pki = security.Pki(Path(settings.config_dir))
    password = settings.password()
    client = Client(url, timeout=settings.timeout, **options)
    client.session_timeout = SESSION_TIMEOUT_MS
    client.set_user(settings.username)
    client.set_password(password)
    if not settings.insecure:
        await security.ensure_certificate(pki, "client")
        client.application_uri = security.application_uri("client")
        client.certificate_validator = await security.server_certificate_validator(pki)
    try:
        if not settings.insecure:  # fetches the endpoints: only a secure one will do
            await client.set_security_string(
                f"{security.SECURITY_POLICY},SignAndEncrypt,{pki.cert},{pki.key}")
        await client.connect()
    except Exception as exc:  # noqa: BLE001 - every failure becomes one line
        ours = ""
        if type(exc).__name__ in CERTIFICATE_ERRORS:
            if refused_by_us(exc):
                await _keep_rejected(client, pki)
            elif pki.cert.is_file():
                ours = security.file_thumbprint(pki.cert.read_bytes())
        raise GatewayError(describe_connect_error(exc, url, settings.username, ours)) from None
    return client


async def _keep_rejected(client, pki: security.Pki) -> None:
    """Store the untrusted server certificate in ``rejected/`` for inspection."""
    try:
        endpoints = await client.connect_and_get_server_endpoints()
    except Exception:  # noqa: BLE001 - best effort
        return
    for ep in endpoints:
        if ep.ServerCertificate:
            pki.make_folders()
            der = bytes(ep.ServerCertificate)
            name = security.certificate_thumbprint(der).replace(":", "")[:16]
            (pki.rejected / f"{name}.der").write_bytes(der)
            return


class Gateway:
    """A secure session with the server and the calls the deployed loop makes."""

    def __init__(self, tags: TagMap, settings: GatewaySettings, url: str | None = None):
        self.tags = tags
        self.settings = settings
        self.url = url or settings.url or tags.url
        self.pki = security.Pki(Path(settings.config_dir))
        self.client = None
        self._nodes: dict = {}
        self._read_params = None
        self._order: list[tuple[str, str]] = []

    # ------------------------------------------------------------ connection

    async def connect(self) -> None:
        """Open a secure session (refusing anything less), with auto-reconnect."""
        self.client = await connect_client(self.url, self.settings, watchdog_intervall=1.0,
                                           auto_reconnect=True, reconnect_max_delay=2.0,
                                           reconnect_request_timeout=self.settings.reconnect_wait)
        self._prepare()

    def _prepare(self) -> None:
        from asyncua import ua

        t = self.tags
        order = [("heartbeat", t.server_heartbeat), ("start", SERVER_START_TIME)]
        if t.tick:
            order.append(("tick", t.tick))
        order += [(f"tag:{n}", c.node) for n, c in t.tags.items()]
        for name, lp in t.loops.items():
            order += [(f"mode:{name}", lp.mode), (f"sp:{name}", lp.sp), (f"rsp:{name}", lp.rsp)]
        params = ua.ReadParameters()
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        try:
            params.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId.from_string(node),
                                                 AttributeId=ua.AttributeIds.Value)
                                  for _, node in order]
        except Exception as exc:  # noqa: BLE001 - a malformed NodeId in the tag map
            raise InputError(f"tag map: bad NodeId ({exc})") from None
        self._order = order
        self._read_params = params

    async def rebuild(self) -> None:
        """Replace the session (data stopped flowing although the client says connected)."""
        await self.close()
        await self.connect()

    @property
    def connected(self) -> bool:
        from asyncua.client.ua_client import UaClientState

        return self.client is not None and self.client.state is UaClientState.CONNECTED

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), timeout=self.settings.timeout)
            except Exception:  # noqa: BLE001 - the server may be gone already
                pass

    # ------------------------------------------------------------ reads and writes

    def _require(self):
        if self.client is None:
            raise GatewayError(f"not connected to {self.url}")
        return self.client

    async def _call(self, what: str, coro):
        try:
            return await asyncio.wait_for(coro, timeout=self.settings.timeout
                                          + self.settings.reconnect_wait)
        except TwinError:
            raise
        except Exception as exc:  # noqa: BLE001 - connection loss, timeouts, bad status
            text = " ".join(str(exc).split()) or type(exc).__name__
            raise GatewayError(f"{what} on {self.url} failed: {type(exc).__name__}: {text}") \
                from None

    async def read(self) -> Snapshot:
        """Every tag, loop mode and setpoint, and the heartbeat, in one Read request."""
        client = self._require()
        values = await self._call("read", client.uaclient.read(self._read_params))
        got = dict(zip((k for k, _ in self._order), values))
        tags = {name: gate(got.get(f"tag:{name}"), cfg.scale, cfg.offset)
                for name, cfg in self.tags.tags.items()}
        modes, sps, rsps = {}, {}, {}
        for name, lp in self.tags.loops.items():
            mode = gate_text(got.get(f"mode:{name}"))
            modes[name] = mode if mode in LOOP_MODES else None
            sps[name] = gate(got.get(f"sp:{name}"), lp.scale, lp.offset)
            rsps[name] = gate(got.get(f"rsp:{name}"), lp.scale, lp.offset)
        hb = gate_count(got.get("heartbeat"))
        start = got.get("start")
        start = start.Value.Value if start is not None and start.StatusCode.is_good() \
            and start.Value is not None else None
        return Snapshot(hb, got["heartbeat"].ServerTimestamp if hb is not None else None,
                        gate_count(got.get("tick")), tags, modes, sps, rsps,
                        start if isinstance(start, datetime) else None)

    async def missing_nodes(self) -> list[str]:
        """Tag-map entries whose node the server does not have (BadNodeIdUnknown and kin)."""
        client = self._require()
        values = await self._call("read", client.uaclient.read(self._read_params))
        return [f"{key} ({node}: {dv.StatusCode.name})" for (key, node), dv in
                zip(self._order, values)
                if dv.StatusCode.name in ("BadNodeIdUnknown", "BadNodeIdInvalid",
                                          "BadAttributeIdInvalid")]

    async def read_tick(self) -> int:
        """The server's tick counter (cycles aligned to server ticks wait on it)."""
        from asyncua import ua

        client = self._require()
        dv = await self._call("read", client.get_node(ua.NodeId.from_string(self.tags.tick))
                              .read_data_value(raise_on_bad_status=False))
        tick = gate_count(dv)
        if tick is None:
            raise GatewayError(f"the tick counter on {self.url} is unreadable "
                               f"({dv.StatusCode.name})")
        return tick

    async def write_setpoints(self, values: dict[str, float]) -> None:
        """Remote setpoints of base loops [model units], in one Write request."""
        from asyncua import ua

        if not values:
            return
        client = self._require()
        nodes, dvs = [], []
        for name, value in values.items():
            lp = self.tags.loops[name]
            nodes.append(client.get_node(ua.NodeId.from_string(lp.rsp)))
            dvs.append(ua.DataValue(ua.Variant(lp.to_server(value), ua.VariantType.Double)))
        await self._call("write", client.write_values(nodes, dvs))

    async def write_heartbeat(self, value: int) -> None:
        from asyncua import ua

        client = self._require()
        node = client.get_node(ua.NodeId.from_string(self.tags.apc_heartbeat))
        await self._call("write", node.write_value(ua.DataValue(
            ua.Variant(value % 2 ** 32, ua.VariantType.UInt32))))

    async def read_back(self, names: list[str]) -> dict[str, Sample]:
        """The remote setpoints as the server now holds them [model units], through the gate."""
        from asyncua import ua

        client = self._require()
        params = ua.ReadParameters()
        params.TimestampsToReturn = ua.TimestampsToReturn.Both
        params.NodesToRead = [ua.ReadValueId(NodeId=ua.NodeId.from_string(self.tags.loops[n].rsp),
                                             AttributeId=ua.AttributeIds.Value) for n in names]
        values = await self._call("read back", client.uaclient.read(params))
        return {n: gate(dv, self.tags.loops[n].scale, self.tags.loops[n].offset)
                for n, dv in zip(names, values)}
