"""The asyncua server of the simulated hardware, with guarded session set-up.

asyncua checks a login by calling the user manager's ``get_user``
synchronously inside ActivateSession, on the event loop. Here each
connection's message processor checks the user name and password first,
awaiting :class:`~.login_guard.LoginGuard` (a thread pool, delays,
lockouts), and ``get_user`` only hands over that verdict (a context
variable of the connection's task). The processor also makes CreateSession
on a secured channel present the channel's own client certificate, so the
certificate validator (:mod:`~.client_trust`) cannot be bypassed by leaving
the certificate out, and names the client's address for the events.

Only :meth:`GuardedServer.start` differs from asyncua's ``Server.start``:
it listens with a :class:`_BinaryServer` whose connections use
:class:`_Processor`.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from contextvars import ContextVar

from asyncua import Server, ua
from asyncua.common.utils import ServiceError
from asyncua.crypto import uacrypto
from asyncua.server.binary_server_asyncio import BinaryServer, OPCUAProtocol
from asyncua.server.uaprocessor import UaProcessor
from asyncua.ua.ua_binary import struct_from_binary

from twin.orchestration.opcua.client_trust import peer_address
from twin.orchestration.opcua.login_guard import Busy, LoginGuard

log = logging.getLogger(__name__)

_UNCHECKED = object()
_verdict: ContextVar[object] = ContextVar("login_verdict", default=_UNCHECKED)
"""(user name, UserEntry or None) of the ActivateSession being processed by this task."""

_CREATE = ua.NodeId(ua.ObjectIds.CreateSessionRequest_Encoding_DefaultBinary)
_ACTIVATE = ua.NodeId(ua.ObjectIds.ActivateSessionRequest_Encoding_DefaultBinary)


class UserManager:
    """asyncua's user manager: the verdict :class:`_Processor` reached for this login."""

    def get_user(self, iserver, username=None, password=None, certificate=None):
        from asyncua.crypto.permission_rules import User, UserRole

        verdict = _verdict.get()
        if verdict is _UNCHECKED or verdict[0] != username:
            log.error("login of %r without a password check refused", str(username)[:40])
            return None
        entry = verdict[1]
        return None if entry is None else User(role=UserRole.User, name=entry.name)


class _Processor(UaProcessor):
    """asyncua's processor of one connection, with guarded CreateSession and ActivateSession.

    Until its session is activated, a connection's messages are processed one per turn of
    the event loop (``gate``, one per server): a burst of connections then cannot run many
    handshake steps (about 1 ms each: RSA, parsing) back to back ahead of the plant's tick,
    which gets its turn between any two. The gate is not held while a password is checked or
    a failure delayed.
    """

    guard: LoginGuard
    gate: asyncio.Lock
    _gated = False

    async def process(self, header, body):
        if self.session is not None and self.session.is_activated():
            return await super().process(header, body)
        await self.gate.acquire()
        self._gated = True
        try:
            await asyncio.sleep(0)  # the others queue on the gate: one step per loop turn
            return await super().process(header, body)
        finally:
            if self._gated:  # (not when cancelled while _login waited to take it back)
                self._gated = False
                self.gate.release()

    async def _process_message(self, typeid, requesthdr, seqhdr, body):
        peer_address.set(str(self.name[0]) if isinstance(self.name, tuple) else str(self.name))
        if typeid == _CREATE:
            self._check_channel_certificate(struct_from_binary(ua.CreateSessionParameters,
                                                               body.copy()))
        elif typeid == _ACTIVATE:
            params = struct_from_binary(ua.ActivateSessionParameters, body.copy())
            token = _verdict.set(await self._login(requesthdr, params))
            try:
                return await super()._process_message(typeid, requesthdr, seqhdr, body)
            finally:
                _verdict.reset(token)
        return await super()._process_message(typeid, requesthdr, seqhdr, body)

    def _check_channel_certificate(self, params) -> None:
        channel = self._connection.security_policy.peer_certificate  # b"" when unsecured
        if channel and params.ClientCertificate != channel:
            log.warning("CreateSession from %s refused: its certificate is not the secure "
                        "channel's", peer_address.get())
            raise ServiceError(ua.StatusCodes.BadCertificateInvalid)

    async def _login(self, requesthdr, params):
        id_token = params.UserIdentityToken
        if not isinstance(id_token, ua.UserNameIdentityToken):
            return _UNCHECKED  # asyncua refuses the token type itself
        session = self.session or self.iserver.lookup_external_session(
            requesthdr.AuthenticationToken)
        if session is None or session.nonce is None:
            return _UNCHECKED  # asyncua refuses the unknown session itself
        try:
            username, password = self.iserver.decrypt_user_token(session, id_token)
        except Exception:  # noqa: BLE001 - asyncua refuses the token again (BadIdentityTokenInvalid)
            return _UNCHECKED
        gated, self._gated = self._gated, False
        if gated:  # others' handshakes go on while this password is checked
            self.gate.release()
        try:
            entry = await self.guard.check(username, password, peer_address.get())
        except Busy:
            raise ServiceError(ua.StatusCodes.BadTooManyOperations) from None
        finally:
            if gated:
                await self.gate.acquire()
                self._gated = True
        return (username, entry)


class _Protocol(OPCUAProtocol):
    guard: LoginGuard
    gate: asyncio.Lock

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        if self.processor is not None:  # not refused at max_connections: use ours
            processor = _Processor(self.iserver, self.transport, self.limits)
            processor.guard, processor.gate = self.guard, self.gate
            processor.set_policies(self.policies)
            self.processor = processor


class _BinaryServer(BinaryServer):
    guard: LoginGuard
    gate: asyncio.Lock

    def _make_protocol(self) -> OPCUAProtocol:
        protocol = _Protocol(iserver=self.iserver, policies=self._policies, clients=self.clients,
                             closing_tasks=self.closing_tasks, limits=self.limits)
        protocol.guard, protocol.gate = self.guard, self.gate
        return protocol


class GuardedServer(Server):
    """asyncua's ``Server`` whose logins go through ``guard`` and whose client certificates
    go through ``certificate_validator``."""

    def __init__(self, guard: LoginGuard, certificate_validator):
        super().__init__(user_manager=UserManager())
        self.guard = guard
        self.set_certificate_validator(certificate_validator)

    async def start(self) -> None:
        """Listen (as ``Server.start``, with the guarded connections)."""
        if self.iserver.certificate is not None:
            uacrypto.check_certificate(self.iserver.certificate, self._application_uri,
                                       socket.gethostname())
        await self._setup_server_nodes()
        await self.iserver.start()
        try:
            host, port = self._get_bind_socket_info()
            bserver = _BinaryServer(self.iserver, host, port, self.limits)
            bserver.guard, bserver.gate = self.guard, asyncio.Lock()
            bserver.set_policies(self._policies)
            self.bserver = bserver
            await bserver.start()
        except Exception:
            await self.iserver.stop()
            raise

