"""Lesson 04, reference layer: HTTPS.

What the layer guarantees (OWASP ASVS 5.0 V12 secure communication, 3.4.1, 4.1.2, 4.1.3;
API8:2023 security misconfiguration):

- a local certificate authority and a server certificate for ``localhost`` and ``127.0.0.1``,
  made in Python with ``cryptography``, kept in the data folder (folder 0700, every file 0600)
  and reused while they are valid. The server certificate is valid for 90 days (the contract
  allows at most 366), names both hosts in a non-critical subjectAltName, is for TLS servers
  only (not a CA), and is signed by the local CA, which may only vouch for loopback names;
- the TLS server context accepts TLS 1.2 and 1.3 only, AEAD cipher suites only, and ECDHE key
  exchange on X25519/P-256 only: Mozilla's "intermediate" profile. Python's default server
  context also accepts CBC suites and more groups, so it is hardened here;
- the plain-HTTP listener redirects browser page loads (GET/HEAD without ``Authorization``) to
  HTTPS with 308 and refuses everything else with 403, without ever reaching a route;
- ``Strict-Transport-Security`` goes on HTTPS responses only;
- ``X-Forwarded-*`` headers are believed only from known proxy addresses, and removed from
  every other request so that nothing further in can be fooled by them.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import ssl
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lessons.context import Service
from lessons.settings import Settings, ensure_private_dir, write_private_file
from lessons.wiring import LessonLayer

# -- certificates ------------------------------------------------------------------------------

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


# -- the TLS server context --------------------------------------------------------------------

# TLS 1.2 suites of Mozilla's "intermediate" profile: ECDHE key exchange (forward secrecy) and
# AEAD encryption (GCM, ChaCha20-Poly1305) only. Python's default also allows CBC suites.
# The DHE suites of the profile are left out: they would need DH parameters, and nothing
# needs them. TLS 1.3 suites are not set here: all of them are AEAD already.
AEAD_CIPHERS = ":".join((
    "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
))
KEY_EXCHANGE_GROUPS = "X25519:prime256v1"
FALLBACK_GROUP = "prime256v1"


def harden(context: ssl.SSLContext) -> ssl.SSLContext:
    """Restrict a server context to the Mozilla "intermediate" profile; returns it."""
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(AEAD_CIPHERS)
    context.options |= ssl.OP_NO_COMPRESSION  # no TLS compression (CRIME); already Python's default
    _limit_key_exchange(context)
    return context


def _limit_key_exchange(context: ssl.SSLContext) -> None:
    """Key exchange on the profile's groups only. OpenSSL 3 would also accept X448 and P-521.

    Python 3.15 adds ``SSLContext.set_groups``, which takes a list. Before it, the only knob is
    ``set_ecdh_curve``, which allows exactly one group: P-256, which every client supports
    (X25519 is newer than some of the profile's oldest clients)."""
    set_groups = getattr(context, "set_groups", None)
    if set_groups is not None:
        try:
            set_groups(KEY_EXCHANGE_GROUPS)
            return
        except (ValueError, ssl.SSLError):
            pass
    context.set_ecdh_curve(FALLBACK_GROUP)


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A hardened server context holding the server certificate and key."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.certfile, files.keyfile)
    return harden(context)


def uvicorn_context(config: Any, default: Callable[[], ssl.SSLContext]) -> ssl.SSLContext:
    """For uvicorn's ``ssl_context_factory``: uvicorn's own context (certificate, key and
    ALPN, from ``ssl_certfile``/``ssl_keyfile``), hardened. A module-level function, so that
    ``--workers`` can hand it to worker processes."""
    return harden(default())


def https_options(files: TlsFiles) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run``/``uvicorn.Config`` that serve the hardened TLS."""
    return {"ssl_certfile": str(files.certfile), "ssl_keyfile": str(files.keyfile),
            "ssl_context_factory": uvicorn_context}


# -- clients -----------------------------------------------------------------------------------


def client_context(ca_file: Path) -> ssl.SSLContext:
    """A client context that trusts the local CA only, and checks the host name."""
    return ssl.create_default_context(cafile=str(ca_file))


def tls_client(base_url: str, ca_file: Path) -> httpx2.Client:
    """An HTTP client for ``base_url`` that verifies the server against the local CA."""
    return httpx2.Client(base_url=base_url, verify=client_context(ca_file), timeout=10)


def tls_error(error: BaseException) -> str:
    """A short, stable description of why a TLS connection failed (no traceback, no paths)."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, ssl.SSLError):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"{type(error).__name__}: certificate verify failed: {cause.verify_message}"
    if isinstance(cause, ssl.SSLError):
        return f"{type(error).__name__}: {cause.reason or cause.strerror}"
    return f"{type(error).__name__}: {error}"


@dataclass(frozen=True)
class Handshake:
    offered: str
    accepted: bool
    outcome: str

    def __str__(self) -> str:
        verdict = "accepted" if self.accepted else "refused "
        return f"{self.offered:<48} {verdict}  {self.outcome}"


def try_handshake(host: str, port: int, ca_file: Path, *,
                  version: ssl.TLSVersion | None = None, ciphers: str | None = None,
                  legacy: bool = False) -> Handshake:
    """One TLS handshake from Python's ``ssl`` module, offering only ``version`` (and only
    ``ciphers``) when given; reports what was agreed or why it failed.

    Python's client cannot offer TLS 1.0 or 1.1 as it comes: its cipher list leaves out the
    SHA-1 suites, the only ones those versions can use. ``legacy=True`` makes it an
    old-fashioned client (OpenSSL's DEFAULT list, at security level 0 so that it would accept
    the old handshake too), so that the question really reaches the server.
    """
    context = client_context(ca_file)
    offered = version.name if version else "TLS 1.2 or 1.3"
    if ciphers:
        offered += f" with {ciphers}"
    if legacy:
        offered += " (legacy client)"
    with warnings.catch_warnings():
        # Python deprecates naming TLS 1.0/1.1 at all; this probe names them on purpose.
        warnings.simplefilter("ignore", DeprecationWarning)
        if version is not None:
            context.minimum_version = context.maximum_version = version
        if ciphers or legacy:
            context.set_ciphers((ciphers or "DEFAULT") + (":@SECLEVEL=0" if legacy else ""))
    try:
        with socket.create_connection((host, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            agreed = f"{tls.version()} {tls.cipher()[0]}"  # type: ignore[index]
        return Handshake(offered, True, agreed)
    except ssl.SSLError as error:
        return Handshake(offered, False, f"{type(error).__name__}: {error.reason}")


def sslyze_command(port: int, ca_file: Path, host: str = "127.0.0.1") -> list[str]:
    """``sslyze --mozilla_config intermediate --certinfo_ca_file CA HOST:PORT``, run with this
    Python, so that the sslyze of the workbook's environment is the one used."""
    return [sys.executable, "-m", "sslyze", "--mozilla_config", "intermediate",
            "--certinfo_ca_file", str(ca_file), f"{host}:{port}"]


def mozilla_compliance(port: int, ca_file: Path, host: str = "127.0.0.1") -> list[str]:
    """The compliance lines of an sslyze scan against Mozilla's "intermediate" profile, with
    the sets in them sorted (sslyze prints Python sets, whose order changes from run to run)."""
    command = sslyze_command(port, ca_file, host)  # a fixed argument list, no shell
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,  # noqa: S603
                            check=False)
    verdict = result.stdout.split("COMPLIANCE AGAINST TLS CONFIGURATION")[-1]
    lines = [line.strip() for line in verdict.splitlines()
             if line.strip().startswith((f"{host}:", "*"))]
    return [re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m[1].split(", "))) + "}",
                   line) for line in lines] or [f"sslyze did not finish: {result.stderr[-300:]}"]


# -- plain HTTP: redirect page loads, refuse API calls -----------------------------------------

PAGE_METHODS = ("GET", "HEAD")


def answer_plain_http(request: Request, https_port: int) -> Response:
    """What the plain-HTTP listener answers (ASVS 5.0 4.1.2).

    A browser typing the address gets a 308 to the same path on HTTPS. An API call does not:
    its credentials (or its body) have already crossed the network in clear, and a redirect
    that the client follows silently would hide that mistake forever. It fails loudly instead.
    """
    if request.method not in PAGE_METHODS or "authorization" in request.headers:
        return JSONResponse(
            {"detail": "This API is served over HTTPS only. Anything you sent over plain HTTP "
                       "may have been read on the way: change any credential it carried."},
            status_code=403,
        )
    return RedirectResponse(request.url.replace(scheme="https", port=https_port),
                            status_code=308)


def answer_plain_http_naive(request: Request, https_port: int) -> Response:
    """VULNERABLE, for the lesson-04 attacks: redirect everything, as many tutorials do.

    A client that follows redirects sends its password or token in clear, gets a 307, sends
    it again over HTTPS and succeeds: nobody ever learns that the first copy was exposed.
    """
    return RedirectResponse(request.url.replace(scheme="https", port=https_port),
                            status_code=307)


PlainHttpAnswer = Callable[[Request, int], Response]


class PlainHttpListener:
    """The ASGI app of the plain-HTTP port. It never forwards to the service's routes: every
    request gets ``answer(request, https_port)``, or 400 for a host the certificate does not
    name (so the Host header cannot aim the redirect at another site)."""

    def __init__(self, https_port: int, answer: PlainHttpAnswer = answer_plain_http,
                 hosts: Sequence[str] = HOSTS) -> None:
        self.https_port = https_port
        self.answer = answer
        self.hosts = frozenset(hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope, receive)
        if request.url.hostname not in self.hosts:
            response: Response = PlainTextResponse("Unknown host", status_code=400)
        else:
            response = self.answer(request, self.https_port)
        await response(scope, receive, send)


def sample_request(method: str = "GET", path: str = "/docs", query: str = "",
                   headers: dict[str, str] | None = None,
                   host: str = "localhost:8080") -> Request:
    """A request as the plain-HTTP listener would receive it, to try an answer by hand."""
    fields = [(b"host", host.encode())] + [(name.lower().encode("latin-1"), value.encode(
        "latin-1")) for name, value in (headers or {}).items()]
    return Request({"type": "http", "method": method, "path": path, "raw_path": path.encode(),
                    "query_string": query.encode(), "scheme": "http", "http_version": "1.1",
                    "server": (host.split(":")[0], 8080), "headers": fields})


PLAIN_HTTP_EXAMPLES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("GET", "/docs?tab=notes", {}),
    ("HEAD", "/health", {}),
    ("GET", "/users/me", {"Authorization": "Bearer demo-token"}),
    ("POST", "/auth/token", {}),
    ("DELETE", "/notes/1", {}),
)


def plain_http_answers(answer: PlainHttpAnswer, https_port: int = 8443) -> str:
    """How ``answer`` treats a few typical requests to http://localhost:8080, one per line."""
    from starlette.testclient import TestClient

    client = TestClient(PlainHttpListener(https_port, answer), base_url="http://localhost:8080",
                        follow_redirects=False)
    lines = []
    for method, path, headers in PLAIN_HTTP_EXAMPLES:
        response = client.request(method, path, headers=headers)
        label = f"{method} {path}" + (" + Authorization" if headers else "")
        lines.append(f"{label:<34} -> {response.status_code} "
                     f"{response.headers.get('location', '')}".rstrip())
    return "\n".join(lines)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


# -- HSTS and forwarded headers: pure ASGI middleware ------------------------------------------

HSTS = "max-age=63072000; includeSubDomains"


class StrictTransportSecurity:
    """Add ``Strict-Transport-Security`` to HTTPS responses only (ASVS 5.0 3.4.1).

    Browsers ignore the header on plain HTTP (anyone on the path could have added or removed
    it), so it is only sent where it counts: on a connection that TLS protected.
    """

    def __init__(self, app: ASGIApp, value: str = HSTS) -> None:
        self.app = app
        self.value = value

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https":
            await self.app(scope, receive, send)
            return

        async def send_with_hsts(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["strict-transport-security"] = self.value
            await send(message)

        await self.app(scope, receive, send_with_hsts)


FORWARDED_HEADERS = frozenset({b"forwarded", b"x-forwarded-for", b"x-forwarded-proto",
                               b"x-forwarded-host", b"x-forwarded-port", b"x-real-ip"})
SCHEMES = {"http": ("http", "ws"), "https": ("https", "wss")}


class TrustedProxyHeaders:
    """Believe ``X-Forwarded-Proto`` and ``X-Forwarded-For`` from known proxies only
    (ASVS 5.0 4.1.3).

    Behind a TLS-terminating proxy every request reaches the app over plain HTTP; the proxy
    says in ``X-Forwarded-Proto`` whether the client used HTTPS. Anyone else can send the same
    header, so it counts only when the connection comes from a listed proxy address. From
    everyone else, all forwarding headers are removed before the app sees the request.
    """

    def __init__(self, app: ASGIApp, trusted: Iterable[str] = ()) -> None:
        self.app = app
        self.trusted = tuple(ipaddress.ip_network(item, strict=False) for item in trusted)

    def is_trusted(self, host: str | None) -> bool:
        try:
            address = ipaddress.ip_address(host or "")
        except ValueError:
            return False
        return any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            scope = self._rewrite(scope)
        await self.app(scope, receive, send)

    def _rewrite(self, scope: Scope) -> Scope:
        headers = scope["headers"]
        if not any(name in FORWARDED_HEADERS for name, _ in headers):
            return scope
        client = scope.get("client")
        if not self.is_trusted(client[0] if client else None):
            return {**scope, "headers": [(n, v) for n, v in headers if n not in FORWARDED_HEADERS]}
        scope = dict(scope)
        protos = [v.decode("latin-1") for n, v in headers if n == b"x-forwarded-proto"]
        proto = protos[-1].strip().lower() if protos else ""
        if proto in SCHEMES:
            scope["scheme"] = SCHEMES[proto][scope["type"] == "websocket"]
        chain = ",".join(v.decode("latin-1") for n, v in headers if n == b"x-forwarded-for")
        if chain:
            # Each proxy appends the address it saw; the first one from the right that is not
            # one of our proxies is the client. Entries further left are the client's claims.
            hops = [hop.strip() for hop in chain.split(",")]
            for hop in reversed(hops):
                if not self.is_trusted(hop):
                    scope["client"] = (hop, 0)
                    break
        return scope


def trusted_proxies(app: ASGIApp, service: Service) -> ASGIApp:
    """The trusted-proxies slot: forwarded headers believed from ``LESSONS_TRUSTED_PROXIES``."""
    return TrustedProxyHeaders(app, trusted=service.settings.trusted_proxies)


def hsts(app: ASGIApp, service: Service) -> ASGIApp:
    """The HSTS slot."""
    return StrictTransportSecurity(app)


def app_decides_proxies(settings: Settings) -> dict[str, Any]:
    """What ``serve`` needs from lesson 04: uvicorn's own proxy-header handling off. The app
    decides which peers may speak for clients (``LESSONS_TRUSTED_PROXIES``); uvicorn's default
    would also believe any process on this machine."""
    return {"proxy_headers": False}


LAYER = LessonLayer(
    middleware={"trusted_proxies": trusted_proxies, "hsts": hsts},
    serve={"proxy_headers": app_decides_proxies},
)
