"""Lesson 04 checks: the learner's server certificate meets the contract and works in a real
TLS handshake; the learner's client trusts the local CA and nothing else; the learner's
plain-HTTP answer redirects page loads and refuses API calls. The capture and silent-redirect
attacks run against real servers on loopback and must fail."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from lessons import tls
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson04 as attacks
from lessons.checks import Fail, Report, Suite, Trial, expect
from lessons.server import BackgroundServer
from lessons.settings import ensure_private_dir, write_private_file

suite = Suite(4, "HTTPS")

HTTPS_PORT = 8443


# -- helpers: the learner's certificate, as files a server can load ----------------------------


def _learner_certificate(trial: Trial, ca: tls.Authority,
                         hosts: tuple[str, ...] = tls.HOSTS) -> tuple[x509.Certificate, Any]:
    key = tls.new_private_key()
    certificate = trial.issue_server_certificate(ca, key.public_key(), hosts)
    expect(isinstance(certificate, x509.Certificate),
           "issue_server_certificate should return the signed certificate (the result of "
           f"CertificateBuilder().sign(...)), not {type(certificate).__name__}.")
    return certificate, key


def _files(trial: Trial, name: str, ca: tls.Authority, certificate: x509.Certificate,
           key: Any) -> tls.TlsFiles:
    files = tls.TlsFiles(ensure_private_dir(trial.root / name))
    pem = serialization.Encoding.PEM
    write_private_file(files.ca_file, ca.certificate.public_bytes(pem))
    write_private_file(files.certfile, certificate.public_bytes(pem))
    write_private_file(files.keyfile, key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def _reference_files(trial: Trial, name: str, ca: tls.Authority | None = None,
                     hosts: tuple[str, ...] = tls.HOSTS) -> tls.TlsFiles:
    ca = ca or tls.create_authority()
    key = tls.new_private_key()
    return _files(trial, name, ca, tls.issue_server_certificate(ca, key.public_key(), hosts), key)


def _https_server(trial: Trial, files: tls.TlsFiles, app: Any = None) -> BackgroundServer:
    app = app if app is not None else trial.app()
    return BackgroundServer(app, certfile=files.certfile, keyfile=files.keyfile)


# -- the certificate ---------------------------------------------------------------------------


@suite.check("issue_server_certificate names localhost and 127.0.0.1 (subjectAltName)")
def names_both_hosts(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, _ = _learner_certificate(trial, ca)
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise Fail("No subjectAltName extension: clients match the host name against it, never "
                   "against the common name. Add x509.SubjectAlternativeName([...]).") from None
    expect(not san.critical,
           "Mark the subjectAltName non-critical (critical=False): it is critical only in "
           "certificates whose subject is empty.")
    expect(x509.DNSName("localhost") in san.value,
           "The subjectAltName should contain x509.DNSName('localhost').")
    expect(x509.IPAddress(ipaddress.ip_address("127.0.0.1")) in san.value,
           "127.0.0.1 must be an IP entry: x509.IPAddress(ipaddress.ip_address('127.0.0.1')). "
           "A client compares the address it dialled with IP entries only, never DNS names.")


@suite.check("the server certificate is valid now, for at most 366 days")
def short_lived(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, _ = _learner_certificate(trial, ca)
    now = datetime.now(UTC)
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    expect(lifetime <= timedelta(days=tls.MAX_SERVER_DAYS),
           f"It is valid for {lifetime.days} days. The contract (and Mozilla's profile) allow at "
           "most 366: use not_valid_after(now + timedelta(days=90)), for example.")
    expect(certificate.not_valid_before_utc <= now,
           "It is not valid yet: start its validity at (or a few minutes before) now, in UTC.")
    expect(certificate.not_valid_after_utc > now + timedelta(days=1),
           "It expires within a day: give it weeks, not hours.")


@suite.check("the server certificate is signed by the local CA")
def chained(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, _ = _learner_certificate(trial, ca)
    expect(certificate.issuer == ca.certificate.subject,
           "Its issuer should be the CA's subject: issuer_name(ca.certificate.subject).")
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except Exception:  # InvalidSignature, ValueError or TypeError: all mean "not by this CA"
        raise Fail("The CA's key did not sign it: finish with .sign(ca.key, hashes.SHA256()), "
                   "not with the server's own key.") from None


@suite.check("the server certificate is for a TLS server, not a CA")
def server_only(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, _ = _learner_certificate(trial, ca)
    extensions = certificate.extensions
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
        expect(not constraints.ca, "BasicConstraints says ca=True: a server certificate must "
               "never be able to sign other certificates. Use ca=False.")
    except x509.ExtensionNotFound:
        pass
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise Fail("Add a KeyUsage extension (critical) allowing digital_signature only: "
                   "that is all an ECDSA server key does in a handshake.") from None
    expect(usage.digital_signature and not usage.key_cert_sign and not usage.crl_sign,
           "KeyUsage should allow digital_signature, and neither key_cert_sign nor crl_sign.")
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise Fail("Add ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]): the certificate "
                   "is for a TLS server and nothing else.") from None
    expect(ExtendedKeyUsageOID.SERVER_AUTH in purposes,
           "ExtendedKeyUsage should include ExtendedKeyUsageOID.SERVER_AUTH.")


@suite.check("clients of the local CA accept a server using your certificate")
def handshake_works(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, key = _learner_certificate(trial, ca)
    files = _files(trial, "learner", ca, certificate, key)
    with _https_server(trial, files) as server:
        for host in tls.HOSTS:
            handshake = tls.try_handshake(host, server.port, files.ca_file)
            expect(handshake.accepted,
                   f"A client connecting to {host} refused your certificate "
                   f"({handshake.outcome}). Look at the checks above for what is missing.")


# -- the client --------------------------------------------------------------------------------


def _client(trial: Trial, base_url: str, ca_file: Path) -> httpx2.Client:
    client = trial.tls_client(base_url, ca_file)
    expect(isinstance(client, httpx2.Client),
           f"tls_client should return an httpx2.Client, not {type(client).__name__}.")
    return client


@suite.check("tls_client connects to the HTTPS service, trusting the local CA")
def client_trusts_local_ca(trial: Trial) -> None:
    files = _reference_files(trial, "service")
    with _https_server(trial, files) as server:
        with _client(trial, server.url, files.ca_file) as client:
            try:
                response = client.get("/health")
            except httpx2.ConnectError as error:
                raise Fail(f"The connection failed ({tls.tls_error(error)}). Pass "
                           "verify=ssl.create_default_context(cafile=ca_file): the system's "
                           "trust store does not know the local CA.") from None
    expect(response.status_code == 200, f"GET /health answered {response.status_code}; "
           "did you set base_url?")


def _refused(client: httpx2.Client) -> bool:
    try:
        client.get("/health")
    except httpx2.ConnectError:
        return True
    return False


@suite.check("tls_client refuses a server the local CA did not certify")
def client_refuses_strangers(trial: Trial) -> None:
    local = _reference_files(trial, "local")
    stranger = _reference_files(trial, "stranger")  # another CA, as a man in the middle has
    with _https_server(trial, stranger) as server, \
            _client(trial, server.url, local.ca_file) as client:
        expect(_refused(client),
               "It accepted a certificate from a CA you never trusted: anyone on the path could "
               "impersonate the server. Do not pass verify=False; verify against the CA file.")


@suite.check("tls_client checks the host name in the certificate")
def client_checks_host_name(trial: Trial) -> None:
    ca = tls.create_authority()
    files = _reference_files(trial, "localhost-only", ca, hosts=("localhost",))
    with _https_server(trial, files) as server, \
            _client(trial, server.url, files.ca_file) as client:  # dials 127.0.0.1
        expect(_refused(client),
               "It accepted a certificate for localhost when it dialled 127.0.0.1. Keep "
               "check_hostname on (ssl.create_default_context does that for you).")


@suite.check("the capture attack reads no password or token over your TLS")
def capture_fails(trial: Trial) -> None:
    ca = tls.create_authority()
    certificate, key = _learner_certificate(trial, ca)
    files = _files(trial, "learner", ca, certificate, key)
    app = trial.app()
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    with _https_server(trial, files, app) as server:
        try:
            result = attacks.run_capture(server.url, "alice", alice.password,
                                         lambda url: _client(trial, url, files.ca_file))
        except httpx2.TransportError as error:  # the learner's client could not talk TLS
            raise Fail(f"Your tls_client could not talk to the HTTPS service "
                       f"({type(error).__name__}: {error}); see the checks above.") from None
    expect(not result.succeeded, f"The relay read {result.evidence}.")
    expect("did not succeed" not in result.evidence,
           "The client could not log in over TLS, so nothing was tested; see the checks above.")


# -- plain HTTP --------------------------------------------------------------------------------


class _Guarded:
    """The learner's answer, called inside a server: an exception is kept for the check to
    report, instead of becoming a 500 and a traceback on the server's log."""

    def __init__(self, answer: tls.PlainHttpAnswer) -> None:
        self.answer = answer
        self.error: BaseException | None = None

    def __call__(self, request: Request, https_port: int) -> Response:
        try:
            response = self.answer(request, https_port)
        except Exception as error:  # NotImplementedError too: "not attempted"
            self.error = error
            return PlainTextResponse("", status_code=500)
        if not isinstance(response, Response):
            self.error = TypeError(f"answer_plain_http returned {type(response).__name__}, "
                                   "not a Starlette Response")
            return PlainTextResponse("", status_code=500)
        return response

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _plain(trial: Trial) -> tuple[TestClient, _Guarded]:
    guarded = _Guarded(trial.answer_plain_http)
    listener = tls.PlainHttpListener(https_port=HTTPS_PORT, answer=guarded)
    return TestClient(listener, base_url="http://localhost:8080", follow_redirects=False), guarded


def _ask(client: TestClient, guarded: _Guarded, method: str, path: str,
         **options: Any) -> httpx2.Response:
    response = client.request(method, path, **options)
    guarded.raise_error()
    return response


@suite.check("answer_plain_http redirects page loads to the same address on HTTPS (308)")
def redirects_pages(trial: Trial) -> None:
    client, guarded = _plain(trial)
    for method, path in (("GET", "/docs?tab=notes"), ("HEAD", "/health")):
        response = _ask(client, guarded, method, path)
        expect(response.status_code == 308,
               f"{method} {path} answered {response.status_code}. A page load without "
               "credentials gets 308 Permanent Redirect: browsers remember a permanent "
               "redirect, and unlike 301 it keeps the method.")
        target = f"https://localhost:{HTTPS_PORT}{path}"
        expect(response.headers.get("location") == target,
               f"{method} {path} redirected to {response.headers.get('location')!r}, not "
               f"{target!r}. Keep the host, path and query; change the scheme and the port: "
               "request.url.replace(scheme='https', port=https_port).")


@suite.check("answer_plain_http refuses API calls (400 or 403, no redirect)")
def refuses_api_calls(trial: Trial) -> None:
    client, guarded = _plain(trial)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/users/me", {"headers": {"Authorization": "Bearer demo-token"}}),
        ("HEAD", "/notes", {"headers": {"Authorization": "Basic ZGVtbzpkZW1v"}}),
        ("POST", "/auth/token", {"data": {"username": "alice", "password": "demo-password"}}),
        ("DELETE", "/notes/1", {}),
        ("PUT", "/notes/1", {"json": {"title": "t"}}),
        ("OPTIONS", "/notes", {}),
    ]
    for method, path, options in calls:
        response = _ask(client, guarded, method, path, **options)
        kind = "with Authorization" if "headers" in options else "(not a page load)"
        expect(response.status_code in (400, 403),
               f"{method} {path} {kind} answered {response.status_code}. Anything but a GET or "
               "HEAD without Authorization is an API call: refuse it with 403 (or 400) so the "
               "client's mistake shows, instead of redirecting it.")
        expect("location" not in response.headers,
               f"{method} {path} carries a Location header: a refusal redirects nowhere.")


@suite.check("the silent-redirect attack fails on your plain-HTTP port")
def silent_redirect_fails(trial: Trial) -> None:
    guarded = _Guarded(trial.answer_plain_http)
    # Not attempted yet? Find out here, before any server starts.
    guarded(tls.sample_request(), HTTPS_PORT)
    guarded.raise_error()
    files = _reference_files(trial, "service")
    app = trial.app()
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    with _https_server(trial, files, app) as secure, \
            BackgroundServer(tls.PlainHttpListener(secure.port, answer=guarded)) as plain:
        result = attacks.run_silent_redirect(plain.url, "alice", alice.password,
                                             verify=tls.client_context(files.ca_file))
    guarded.raise_error()
    expect(not result.succeeded,
           "The client logged in through your plain-HTTP port without noticing "
           f"({result.evidence}). A POST is an API call: refuse it.")


Answers = Callable[..., Any]


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "issue_server_certificate": tls.issue_server_certificate,
    "tls_client": tls.tls_client,
    "answer_plain_http": tls.answer_plain_http,
}


def check(**answers: Answers) -> Report:
    """Run the lesson-04 checks on your answers: ``check(issue_server_certificate=...,
    tls_client=..., answer_plain_http=...)``."""
    return suite.run(**answers)
