"""Lesson 04: the local certificate authority, the server certificate, and their files.

- A local CA and a server certificate for ``localhost`` and ``127.0.0.1``, made in Python with
  ``cryptography`` (no ``openssl`` binary needed).
- The server certificate is valid for 90 days (the contract allows at most 366), names both
  hosts in a non-critical subjectAltName, is for TLS servers only (not a CA), and is signed by
  the local CA, which may only vouch for loopback names (name constraints).
- Both are kept in the data folder (folder 0700, every file 0600) and reused while they are
  valid for a while yet (OWASP ASVS 5.0 12.2.2: a public CA in production; this one is for
  development).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lessons.settings import ensure_private_dir, write_private_file

HOSTS = ("localhost", "127.0.0.1")
CA_NAME = "FastAPI Security Workbook local CA"
CA_DAYS = 5 * 365
SERVER_DAYS = 90
MAX_SERVER_DAYS = 366  # the contract, and Mozilla's limit for the "intermediate" profile
RENEW_DAYS = 14  # a stored certificate with less left than this is replaced
# Clocks differ a little between machines: a certificate dated from "now" exactly could be
# "not yet valid" for a client whose clock is a minute behind.
CLOCK_SKEW = timedelta(minutes=5)

TLS_FOLDER = "tls"


@dataclass(frozen=True)
class Authority:
    """A certificate authority: its certificate (public) and its signing key (secret)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def __repr__(self) -> str:  # never print a key, even by accident
        return f"Authority({self.certificate.subject.rfc4514_string()!r})"


@dataclass(frozen=True)
class TlsFiles:
    """Where the certificates and keys live: ``<data folder>/tls``."""

    folder: Path

    @property
    def ca_file(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def certfile(self) -> Path:
        return self.folder / "server.pem"

    @property
    def keyfile(self) -> Path:
        return self.folder / "server-key.pem"


def new_private_key() -> ec.EllipticCurvePrivateKey:
    """An ECDSA key on P-256: accepted by every TLS client, and allowed by Mozilla's profile."""
    return ec.generate_private_key(ec.SECP256R1())


def create_authority(common_name: str = CA_NAME, days: int = CA_DAYS) -> Authority:
    """A new local certificate authority.

    Name constraints limit it to loopback names: you may tell your browser to trust this CA,
    and if its key ever leaked, it still could not vouch for your bank's site.
    """
    key = new_private_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=days))
        # A CA that may sign server certificates, but no further CAs (path length 0).
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.NameConstraints(
            permitted_subtrees=[x509.DNSName("localhost"),
                                x509.IPAddress(ipaddress.ip_network("127.0.0.0/8")),
                                x509.IPAddress(ipaddress.ip_network("::1/128"))],
            excluded_subtrees=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(certificate, key)


def subject_alternative_names(hosts: Iterable[str]) -> list[x509.GeneralName]:
    """IP addresses as IP entries, names as DNS entries: a client checks an address it
    connected to against IP entries only, so ``127.0.0.1`` as a DNS name would not match."""
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def issue_server_certificate(ca: Authority, public_key: ec.EllipticCurvePublicKey,
                             hosts: Sequence[str] = HOSTS) -> x509.Certificate:
    """A certificate for a TLS server reachable as each of ``hosts``, signed by ``ca``."""
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + timedelta(days=SERVER_DAYS))
        # Clients match the host name against this list only, never the common name.
        .add_extension(x509.SubjectAlternativeName(subject_alternative_names(hosts)),
                       critical=False)
        # Not a CA: whoever holds the server key cannot sign certificates with it.
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        # An ECDSA key signs the handshake; nothing else.
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def certificate_problems(certificate: x509.Certificate, ca_certificate: x509.Certificate,
                         hosts: Sequence[str] = HOSTS,
                         now: datetime | None = None) -> list[str]:
    """What is wrong with a server certificate under the contract; empty when nothing is."""
    now = now or datetime.now(UTC)
    problems = []
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        problems.append("it has no subjectAltName extension")
    else:
        if san.critical:
            problems.append("its subjectAltName is marked critical")
        missing = [str(name.value) for name in subject_alternative_names(hosts)
                   if name not in san.value]
        if missing:
            problems.append(f"its subjectAltName does not name {', '.join(missing)}")
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    if lifetime > timedelta(days=MAX_SERVER_DAYS):
        problems.append(f"it is valid for {lifetime.days} days, more than {MAX_SERVER_DAYS}")
    if not certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc:
        problems.append("it is not valid now")
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature) as error:
        problems.append(f"it is not signed by the local CA ({type(error).__name__})")
    return problems


def ensure_certificates(data_dir: Path, hosts: Sequence[str] = HOSTS) -> TlsFiles:
    """The local CA and server certificate under ``data_dir/tls``: reused while they are valid
    for a while yet, made (or renewed) otherwise. Folder 0700, files 0600."""
    files = TlsFiles(ensure_private_dir(Path(data_dir) / TLS_FOLDER))
    ca = _load_authority(files)
    if ca is None:
        ca = create_authority()
        _write(files.ca_key, _key_pem(ca.key))
        _write(files.ca_file, ca.certificate.public_bytes(serialization.Encoding.PEM))
    if not _server_certificate_usable(files, ca, hosts):
        key = new_private_key()
        certificate = issue_server_certificate(ca, key.public_key(), hosts)
        _write(files.keyfile, _key_pem(key))
        _write(files.certfile, certificate.public_bytes(serialization.Encoding.PEM))
    for path in (files.ca_key, files.keyfile, files.ca_file, files.certfile):
        path.chmod(0o600)  # also tightens files someone copied in with looser permissions
    return files


def load_certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(Path(path).read_bytes())


def load_authority(files: TlsFiles) -> Authority:
    ca = _load_authority(files)
    if ca is None:
        raise FileNotFoundError(f"No usable local CA in {files.folder}")
    return ca


def _load_authority(files: TlsFiles) -> Authority | None:
    try:
        certificate = load_certificate(files.ca_file)
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or \
            key.public_key() != certificate.public_key() or \
            _days_left(certificate) < RENEW_DAYS:
        return None
    return Authority(certificate, key)


def _server_certificate_usable(files: TlsFiles, ca: Authority, hosts: Sequence[str]) -> bool:
    try:
        certificate = load_certificate(files.certfile)
        key = serialization.load_pem_private_key(files.keyfile.read_bytes(), password=None)
    except (OSError, ValueError):
        return False
    return (key.public_key() == certificate.public_key()
            and not certificate_problems(certificate, ca.certificate, hosts)
            and _days_left(certificate) >= RENEW_DAYS)


def _days_left(certificate: x509.Certificate) -> float:
    return (certificate.not_valid_after_utc - datetime.now(UTC)) / timedelta(days=1)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    # Unencrypted, as development servers keep them; the 0600 file mode is the protection.
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with a new 0600 file in one step, so no reader sees half a key."""
    partial = path.with_suffix(path.suffix + ".new")
    partial.unlink(missing_ok=True)
    write_private_file(partial, data)
    os.replace(partial, path)


def describe(certificate: x509.Certificate) -> str:
    """The parts of a certificate that matter here, one per line, without dates or serials."""
    lines = [f"subject:  {certificate.subject.rfc4514_string()}",
             f"issuer:   {certificate.issuer.rfc4514_string()}"]
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    lines.append(f"lifetime: {lifetime.days} days")
    for extension in certificate.extensions:
        value = extension.value
        if isinstance(value, x509.SubjectAlternativeName):
            text = ", ".join(f"{type(n).__name__}:{n.value}" for n in value)
        elif isinstance(value, x509.BasicConstraints):
            text = f"ca={value.ca}" + (f", path_length={value.path_length}" if value.ca else "")
        elif isinstance(value, x509.KeyUsage):
            text = ", ".join(usage for usage in ("digital_signature", "key_cert_sign", "crl_sign",
                                                 "key_encipherment") if getattr(value, usage))
        elif isinstance(value, x509.ExtendedKeyUsage):
            text = ", ".join(getattr(oid, "_name", oid.dotted_string) for oid in value)
        elif isinstance(value, x509.NameConstraints):
            text = "permitted " + ", ".join(str(n.value) for n in value.permitted_subtrees or [])
        else:
            continue  # key identifiers: random-looking, and not what this lesson is about
        critical = " (critical)" if extension.critical else ""
        lines.append(f"{type(value).__name__}{critical}: {text}")
    return "\n".join(lines)
