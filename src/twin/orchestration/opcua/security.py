"""OPC UA security: certificates, users and the trust store, kept in a configuration folder.

Layout of a configuration folder (created on first start, private to its owner)::

    own/cert.der, own/key.pem      this application's certificate and key (key mode 0600)
    trusted/                       peer certificates trusted deliberately (``twin trust``)
    rejected/                      peer certificates seen but not trusted, for inspection
    users.toml                     server only: users, roles and scrypt password hashes
    <user>.password                server only: the generated password of each first user (0600)

Servers offer Basic256Sha256 with SignAndEncrypt and username/password
users and accept only client certificates in their ``trusted/``
(:mod:`~.client_trust`); clients validate the server certificate against
their ``trusted/`` and never fall back to an unsecured endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
import socket
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from twin.core.config import read_toml
from twin.core.errors import InputError

ROLES = ("apc", "operator", "engineer", "viewer")
"""apc: read, write remote setpoints and its heartbeat; operator: also call the plant's
methods (modes, faults); engineer: as operator on the plant, and in the console also tuning
and validity ranges; viewer: read only."""
FIRST_USERS = (("apc", "apc"), ("operator", "operator"))
SECURITY_POLICY = "Basic256Sha256"
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
USER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
"""Allowed user names: 1 to 32 ASCII letters, digits, ``_``, ``.`` and ``-``, starting with a
letter."""
USER_NAME_RULE = "1-32 ASCII letters, digits, '_', '.' or '-', starting with a letter"
_HASH = re.compile(r"scrypt\$[0-9a-f]{32}\$[0-9a-f]{128}")
_USERS_HEADER = ("# Users of the simulated hardware: role apc, operator, engineer or viewer; scrypt hashes.\n"
                 "# Add one with: twin serve-opcua --add-user NAME --role ROLE (password from stdin).\n")


def _write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (mode 0600 from creation on)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)  # an existing file keeps its mode through os.open


@dataclass(frozen=True)
class Pki:
    """The certificate files of one application in a configuration folder."""

    folder: Path

    @property
    def cert(self) -> Path:
        return self.folder / "own" / "cert.der"

    @property
    def key(self) -> Path:
        return self.folder / "own" / "key.pem"

    @property
    def trusted(self) -> Path:
        return self.folder / "trusted"

    @property
    def rejected(self) -> Path:
        return self.folder / "rejected"

    def make_folders(self) -> None:
        for sub in (self.folder, self.folder / "own", self.trusted, self.rejected):
            sub.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)


def application_uri(kind: str) -> str:
    """Application URI of this machine's server or client (also in the certificate)."""
    return f"urn:process-twin:{kind}:{socket.gethostname()}"


async def ensure_certificate(pki: Pki, kind: str, days: int = 365) -> None:
    """Generate the self-signed certificate and key on first use (and renew an expired one).

    Subject alternative names: the application URI, this host's name,
    ``localhost`` and ``127.0.0.1``. An existing key is kept on renewal.
    """
    import ipaddress
    from datetime import datetime, timezone

    from asyncua.crypto import cert_gen, uacrypto
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import ExtendedKeyUsageOID

    pki.make_folders()
    if pki.key.is_file() and pki.cert.is_file():
        cert = x509.load_der_x509_certificate(pki.cert.read_bytes())
        if cert.not_valid_after_utc > datetime.now(timezone.utc):
            return
    key = (await uacrypto.load_private_key(pki.key)) if pki.key.is_file() \
        else cert_gen.generate_private_key()
    if not pki.key.is_file():
        _write_private(pki.key, cert_gen.dump_private_key_as_pem(key))
    names = [x509.UniformResourceIdentifier(application_uri(kind)),
             x509.DNSName(socket.gethostname()), x509.DNSName("localhost"),
             x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    use = ExtendedKeyUsageOID.SERVER_AUTH if kind == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    cert = cert_gen.generate_self_signed_app_certificate(
        key, f"process-twin {kind}", {"organizationName": "process-twin"}, names, [use], days)
    pki.cert.write_bytes(cert.public_bytes(Encoding.DER))


# ------------------------------------------------------------------ users

def hash_password(password: str) -> str:
    """``scrypt$<salt>$<hash>`` of a password (hex)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    """True when ``password`` matches a hash from :func:`hash_password`.

    Costs one scrypt evaluation (tens of ms of CPU, the GIL released): the
    server calls it off its event loop (:mod:`~.login_guard`).
    """
    try:
        kind, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(errors="surrogatepass"), salt=bytes.fromhex(salt),
                         **_SCRYPT)
    return hmac.compare_digest(got.hex(), digest)


def valid_user_name(name: object) -> bool:
    """True for a user name of :data:`USER_NAME`."""
    return isinstance(name, str) and USER_NAME.fullmatch(name) is not None


@dataclass(frozen=True)
class UserEntry:
    """A user of the simulated hardware (name of :data:`USER_NAME`, a role of :data:`ROLES`)."""

    name: str
    role: str
    password_hash: str

    def __post_init__(self) -> None:
        if not valid_user_name(self.name):
            raise InputError(f"user name {_shown(self.name)}: use {USER_NAME_RULE}")
        if self.role not in ROLES:
            raise InputError(f"user '{self.name}': role {_shown(self.role)} is not one of "
                             f"{', '.join(ROLES)}")
        if not isinstance(self.password_hash, str) or not _HASH.fullmatch(self.password_hash):
            raise InputError(f"user '{self.name}': password is not a scrypt hash written by "
                             "twin serve-opcua (scrypt$<salt>$<hash>)")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def users_file(folder: Path) -> Path:
    return Path(folder) / "users.toml"


def load_users(folder: Path) -> dict[str, UserEntry]:
    """Users of a server configuration folder; the first users are created on first start."""
    path = users_file(folder)
    if not path.exists():
        create_first_users(folder)
    data = read_toml(path)
    where = f"users file '{path}'"
    unknown = [k for k in data if k != "users"]
    if unknown:
        raise InputError(f"{where}: unknown key {_shown(unknown[0])}; only [users.NAME] tables")
    table = data.get("users", {})
    if not isinstance(table, dict):
        raise InputError(f"{where}: 'users' must be a table of [users.NAME] tables")
    users = {}
    for name, entry in table.items():
        if not isinstance(entry, dict) or set(entry) != {"role", "password"}:
            raise InputError(f"{where}: user {_shown(name)} needs exactly a role "
                             f"({', '.join(ROLES)}) and a password hash")
        try:
            users[name] = UserEntry(name, entry["role"], entry["password"])
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None
    if not users:
        raise InputError(f"{where} defines no users")
    return users


def _write_users(folder: Path, users: dict[str, UserEntry]) -> None:
    data = {"users": {u.name: {"role": u.role, "password": u.password_hash}
                      for u in users.values()}}
    _write_private(users_file(folder), (_USERS_HEADER + tomli_w.dumps(data)).encode())


def create_first_users(folder: Path) -> None:
    """Create the users ``apc`` and ``operator`` with random passwords in ``<name>.password``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    users = {}
    for name, role in FIRST_USERS:
        password = secrets.token_urlsafe(18)
        _write_private(folder / f"{name}.password", (password + "\n").encode())
        users[name] = UserEntry(name, role, hash_password(password))
    _write_users(folder, users)


def add_user(folder: Path, name: str, role: str, password: str) -> None:
    """Add or replace a user of a server configuration folder."""
    if role not in ROLES:
        raise InputError(f"role '{role}': use one of {', '.join(ROLES)}")
    if not valid_user_name(name):
        raise InputError(f"user name {_shown(name)}: use {USER_NAME_RULE}")
    if len(password) < 8:
        raise InputError("the password must have at least 8 characters")
    users = load_users(folder)
    users[name] = UserEntry(name, role, hash_password(password))
    _write_users(folder, users)


# ------------------------------------------------------------------ trust

def certificate_thumbprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as colon-separated hex."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def file_thumbprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate as a file name stem (hex, no colons)."""
    return hashlib.sha256(der).hexdigest().upper()


def certificate_der(data: bytes, what: str = "certificate") -> bytes:
    """The DER form of a DER or PEM certificate; anything else is a one-line error."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        if data.lstrip().startswith(b"-----"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError as exc:
        reason = " ".join(str(exc).split()).split(" See https://")[0].split(": ParseError")[0]
        reason = reason[:100]
        raise InputError(f"{what}: not a DER or PEM certificate ({reason})") from None
    return cert.public_bytes(Encoding.DER)


def trust_certificate(pki: Pki, der_or_pem: bytes, name: str) -> Path:
    """Store a peer certificate in ``trusted/`` (DER); returns its path."""
    der = certificate_der(der_or_pem)
    pki.make_folders()
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    path = pki.trusted / f"{safe}-{hashlib.sha256(der).hexdigest()[:12]}.der"
    path.write_bytes(der)
    return path


def trust_rejected(pki: Pki, thumbprint: str) -> Path:
    """Move a certificate from ``rejected/`` to ``trusted/``, chosen by its SHA-256 thumbprint
    (colons optional, any unique prefix of at least 8 hex digits); returns its new path."""
    wanted = thumbprint.replace(":", "").strip().upper()
    if len(wanted) < 8 or not re.fullmatch(r"[0-9A-F]+", wanted):
        raise InputError(f"--rejected {_shown(thumbprint)}: give the SHA-256 thumbprint (at least "
                         "8 hex digits) of a certificate in rejected/")
    files = sorted(pki.rejected.glob("*.der")) if pki.rejected.is_dir() else []
    found = [p for p in files if file_thumbprint(p.read_bytes()).startswith(wanted)]
    if len(found) != 1:
        which = "no" if not found else f"{len(found)}"
        raise InputError(f"--rejected {thumbprint}: {which} certificates in '{pki.rejected}' have "
                         f"this thumbprint{'' if found else ' (seen: ' + _seen(files) + ')'}")
    der = certificate_der(found[0].read_bytes(), str(found[0]))
    path = trust_certificate(pki, der, _common_name(der) or "client")
    found[0].unlink()
    return path


def _seen(files: list[Path]) -> str:
    return ", ".join(file_thumbprint(p.read_bytes())[:16] for p in files[:5]) or "none"


def _common_name(der: bytes) -> str:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    names = x509.load_der_x509_certificate(der).subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


async def server_certificate_validator(pki: Pki):
    """A validator that accepts only server certificates in ``trusted/``, valid in time, with
    the server's application URI and server usage."""
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    pki.make_folders()
    if not any(p.suffix.lower() in (".der", ".pem") for p in pki.trusted.iterdir()):
        raise InputError(f"no trusted server certificate in '{pki.trusted}': add the server's "
                         "with `twin trust`")
    store = TrustStore([pki.trusted], [])
    await store.load()
    options = CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER
    return CertificateValidator(options, store)
