"""OPC UA security: certificates, users and the trust store, kept in a configuration folder.

Layout of a configuration folder (created on first start, private to its owner)::

    own/cert.der, own/key.pem      this application's certificate and key (key mode 0600)
    trusted/                       peer certificates trusted deliberately (``twin trust``)
    rejected/                      peer certificates seen but not trusted, for inspection
    users.toml                     server only: users, roles and scrypt password hashes
    <user>.password                server only: the generated password of each first user (0600)

Servers offer Basic256Sha256 with SignAndEncrypt and username/password
users; clients validate the server certificate against ``trusted/`` and
never fall back to an unsecured endpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import socket
import tomllib
from dataclasses import dataclass
from pathlib import Path

from twin.core.errors import InputError

ROLES = ("apc", "operator", "viewer")
"""apc: read, write remote setpoints and its heartbeat; operator: also call the plant's
methods (modes, faults); viewer: read only."""
FIRST_USERS = (("apc", "apc"), ("operator", "operator"))
SECURITY_POLICY = "Basic256Sha256"
_SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


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
    """True when ``password`` matches a hash from :func:`hash_password`."""
    try:
        kind, salt, digest = stored.split("$")
    except ValueError:
        return False
    if kind != "scrypt":
        return False
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(got.hex(), digest)


@dataclass(frozen=True)
class UserEntry:
    name: str
    role: str
    password_hash: str


def users_file(folder: Path) -> Path:
    return Path(folder) / "users.toml"


def load_users(folder: Path) -> dict[str, UserEntry]:
    """Users of a server configuration folder; the first users are created on first start."""
    path = users_file(folder)
    if not path.exists():
        create_first_users(folder)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"users file '{path}': {exc}") from None
    users = {}
    for name, entry in data.get("users", {}).items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES or "password" not in entry:
            raise InputError(f"users file '{path}': user '{name}' needs a role ({', '.join(ROLES)}) "
                             "and a password hash")
        users[name] = UserEntry(name, entry["role"], entry["password"])
    if not users:
        raise InputError(f"users file '{path}' defines no users")
    return users


def create_first_users(folder: Path) -> None:
    """Create the users ``apc`` and ``operator`` with random passwords in ``<name>.password``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["# Users of the simulated hardware: role apc, operator or viewer; scrypt hashes.",
             "# Add one with: twin serve-opcua --add-user NAME --role ROLE (password from stdin)."]
    for name, role in FIRST_USERS:
        password = secrets.token_urlsafe(18)
        secret = folder / f"{name}.password"
        _write_private(secret, (password + "\n").encode())
        lines += [f"[users.{name}]", f'role = "{role}"', f'password = "{hash_password(password)}"']
    path = users_file(folder)
    _write_private(path, ("\n".join(lines) + "\n").encode())


def add_user(folder: Path, name: str, role: str, password: str) -> None:
    """Add or replace a user of a server configuration folder."""
    if role not in ROLES:
        raise InputError(f"role '{role}': use one of {', '.join(ROLES)}")
    if not name.isidentifier():
        raise InputError(f"user name '{name}' must be letters, digits and underscores")
    if len(password) < 8:
        raise InputError("the password must have at least 8 characters")
    users = load_users(folder)
    users[name] = UserEntry(name, role, hash_password(password))
    lines = ["# Users of the simulated hardware: role apc, operator or viewer; scrypt hashes."]
    for u in users.values():
        lines += [f"[users.{u.name}]", f'role = "{u.role}"', f'password = "{u.password_hash}"']
    path = users_file(folder)
    _write_private(path, ("\n".join(lines) + "\n").encode())


# ------------------------------------------------------------------ trust

def certificate_thumbprint(der: bytes) -> str:
    """SHA-256 fingerprint of a DER certificate, as colon-separated hex."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def trust_certificate(pki: Pki, der_or_pem: bytes, name: str) -> Path:
    """Store a peer certificate in ``trusted/`` (DER); returns its path."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    try:
        cert = (x509.load_pem_x509_certificate(der_or_pem) if der_or_pem.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(der_or_pem))
    except ValueError as exc:
        raise InputError(f"not a certificate: {exc}") from None
    pki.make_folders()
    der = cert.public_bytes(Encoding.DER)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    path = pki.trusted / f"{safe}-{hashlib.sha256(der).hexdigest()[:12]}.der"
    path.write_bytes(der)
    return path


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
