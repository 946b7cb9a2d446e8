"""Which client certificates the simulated hardware accepts: those in its ``trusted/`` folder.

asyncua calls :class:`ClientCertificates` at every CreateSession with the
client's certificate and application description. A certificate must be
valid now, name the client's application URI in its subject alternative
names, allow client use, and be one of the certificates in ``trusted/``
(exact match: OPC UA application certificates are self-signed). Otherwise
the session is refused with the OPC UA status saying why.

First contact: an unknown (but otherwise valid) certificate is refused and
stored in ``rejected/<SHA-256>.der``; the server logs how to trust it
(``twin trust --rejected <SHA-256> --config-dir <folder>``, or ``twin trust
--cert FILE``). ``trusted/`` is read again whenever it changes, so trusting
needs no restart.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextvars import ContextVar

from twin.core.errors import InputError
from twin.orchestration.opcua import security

log = logging.getLogger(__name__)

MAX_REJECTED = 200
"""Certificates kept in ``rejected/`` at most (anyone can make certificates: the folder is bounded)."""

peer_address: ContextVar[str] = ContextVar("peer_address", default="unknown address")
"""The address of the client whose request is being served (set by :mod:`~.guarded_server`)."""


class ClientCertificates:
    """A certificate validator (asyncua's ``CertificateValidatorMethod``) over ``trusted/``.

    Parameters
    ----------
    pki : security.Pki
        The server's configuration folder.
    on_event : callable
        Called with a one-line text for each refusal worth an administrator's attention.
    """

    def __init__(self, pki: security.Pki, on_event: Callable[[str], None]):
        from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

        self.pki = pki
        self.on_event = on_event
        options = CertificateValidatorOptions.EXT_VALIDATION | CertificateValidatorOptions.PEER_CLIENT
        self._checks = CertificateValidator(options)
        self._signature: tuple = ()
        self._trusted: frozenset[str] = frozenset()
        self._reported: set[tuple[str, str]] = set()

    def trusted(self) -> frozenset[str]:
        """SHA-256 thumbprints of the certificates in ``trusted/`` (read again when it changed)."""
        try:
            entries = sorted((e.name, e.stat().st_mtime_ns, e.stat().st_size)
                             for e in os.scandir(self.pki.trusted) if e.is_file())
        except FileNotFoundError:
            entries = []
        if entries != self._signature:
            found = set()
            for name, _, _ in entries:
                path = self.pki.trusted / name
                if path.suffix.lower() not in (".der", ".pem"):
                    continue
                try:
                    found.add(security.file_thumbprint(security.certificate_der(path.read_bytes())))
                except (InputError, OSError) as exc:
                    log.warning("trusted certificate %s ignored: %s", path, exc)
            self._signature, self._trusted = entries, frozenset(found)
        return self._trusted

    async def __call__(self, cert, app_description) -> None:
        from asyncua import ua
        from asyncua.common.utils import ServiceError
        from cryptography.hazmat.primitives.serialization import Encoding

        der = cert.public_bytes(Encoding.DER)
        thumb = security.file_thumbprint(der)
        uri = getattr(app_description, "ApplicationUri", None)
        who = f"client certificate {thumb[:16]} ({_subject(cert)}, application URI {uri!r}) " \
              f"from {peer_address.get()}"
        try:
            await self._checks.validate(cert, app_description)
        except ServiceError as exc:
            status = ua.StatusCode(exc.code).name
            self._report(thumb, status, f"{who} refused: {status} ({_REASONS.get(status, '')})")
            raise
        if thumb in self.trusted():
            return
        stored = self._store_rejected(der, thumb)
        where = f"stored as {stored}" if stored else f"not stored ({self.pki.rejected} is full)"
        self._report(thumb, "BadCertificateUntrusted",
                     f"{who} refused: not trusted; {where}; to trust it: twin trust --rejected "
                     f"{thumb} --config-dir {self.pki.folder}")
        raise ServiceError(ua.StatusCodes.BadCertificateUntrusted)

    def _store_rejected(self, der: bytes, thumb: str):
        path = self.pki.rejected / f"{thumb}.der"
        try:
            if not path.exists():
                self.pki.make_folders()
                if sum(1 for _ in self.pki.rejected.iterdir()) >= MAX_REJECTED:
                    return None
                path.write_bytes(der)
        except OSError as exc:
            log.warning("cannot store rejected certificate %s: %s", path, exc)
            return None
        return path

    def _report(self, thumb: str, status: str, text: str) -> None:
        """Log every refusal; an event for the first of each certificate and reason."""
        if (thumb, status) in self._reported:
            log.debug("%s", text)  # again: a client retrying should not flood the log
            return
        if len(self._reported) < 10 * MAX_REJECTED:
            self._reported.add((thumb, status))
        log.warning("%s", text)
        self.on_event(text)


_REASONS = {
    "BadCertificateTimeInvalid": "expired or not yet valid",
    "BadCertificateUriInvalid": "the certificate does not name the client's application URI",
    "BadCertificateUseNotAllowed": "not a client certificate",
    "BadCertificateInvalid": "missing subject alternative names or key usage",
}


def _subject(cert) -> str:
    from cryptography.x509.oid import NameOID

    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return f"CN {str(names[0].value)[:60]!r}" if names else "no common name"
