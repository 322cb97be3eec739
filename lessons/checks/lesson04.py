"""Lesson 04 checks: the learner's server certificate meets the contract and works in a real
TLS handshake; the learner's client trusts the local CA and nothing else; the learner's
plain-HTTP answer redirects page loads and refuses API calls; the learner's host check lets the
service answer for its own names only. The capture, silent-redirect and Host-header attacks
run against the learner's answers and must fail.

Each check uses the learner's answer to one exercise and the reference for everything else, so
it fails for the reason it names. The wrong answers that prove each check can fail are in
``lessons.checks.wrong_lesson04``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx2
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.testclient import TestClient

from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson04 as attacks
from lessons.checks import (
    Fail,
    Report,
    Rule,
    Suite,
    Trial,
    WrongAnswer,
    describe,
    expect,
    expect_type,
)
from lessons.checks import wrong_lesson04 as wrong
from lessons.server import BackgroundServer
from lessons.settings import ensure_private_dir, write_private_file
from lessons.tls import certificates, context, hosts, plain_http, probes
from lessons.tls.certificates import Authority, TlsFiles

suite = Suite(4, "HTTPS")

HTTPS_PORT = 8443


# -- the certificate ---------------------------------------------------------------------------


def _learner_certificate(trial: Trial, ca: Authority,
                         hosts_: tuple[str, ...] = certificates.HOSTS,
                         ) -> tuple[x509.Certificate, Any]:
    key = certificates.new_private_key()
    certificate = trial.issue_server_certificate(ca, key.public_key(), hosts_)
    expect_type(certificate, x509.Certificate, "issue_server_certificate",
                "the signed certificate, the result of CertificateBuilder()...sign(...)")
    return certificate, key


def _files(trial: Trial, name: str, ca: Authority, certificate: x509.Certificate,
           key: Any) -> TlsFiles:
    files = TlsFiles(ensure_private_dir(trial.root / name))
    pem = serialization.Encoding.PEM
    write_private_file(files.ca_file, ca.certificate.public_bytes(pem))
    write_private_file(files.certfile, certificate.public_bytes(pem))
    write_private_file(files.keyfile, key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return files


def _reference_files(trial: Trial, name: str, ca: Authority | None = None,
                     hosts_: tuple[str, ...] = certificates.HOSTS) -> TlsFiles:
    ca = ca or certificates.create_authority()
    key = certificates.new_private_key()
    return _files(trial, name, ca,
                  certificates.issue_server_certificate(ca, key.public_key(), hosts_), key)


def _https_server(trial: Trial, files: TlsFiles, app: Any = None) -> BackgroundServer:
    app = app if app is not None else trial.app()
    return BackgroundServer(app, certfile=files.certfile, keyfile=files.keyfile)


def _san(certificate: x509.Certificate) -> x509.Extension[x509.SubjectAlternativeName]:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        raise Fail("No subjectAltName extension: clients match the host name against it, never "
                   "against the common name. Add x509.SubjectAlternativeName([...]).") from None


# Another set of hosts the local CA may vouch for: the function must name what it is given.
OTHER_HOSTS = ("notes.localhost", "127.0.0.2")


@suite.check("cert_names", "issue_server_certificate names every host in its subjectAltName")
def cert_names(trial: Trial) -> None:
    ca = certificates.create_authority()
    for hosts_ in (certificates.HOSTS, OTHER_HOSTS):
        certificate, _ = _learner_certificate(trial, ca, hosts_)
        san = _san(certificate)
        expect(not san.critical,
               "Mark the subjectAltName non-critical (critical=False): it is critical only in "
               "certificates whose subject is empty.")
        for host in hosts_:
            try:
                wanted: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
            except ValueError:
                wanted = x509.DNSName(host)
            if isinstance(wanted, x509.IPAddress) and x509.DNSName(host) in san.value:
                raise Fail(f"{host} must be an IP entry: x509.IPAddress(ipaddress.ip_address("
                           f"{host!r})). A client compares the address it dialled with IP "
                           "entries only, never with DNS names.")
            expect(wanted in san.value,
                   f"Called with hosts={hosts_!r}, the subjectAltName does not name {host}. "
                   "Name every host you are given, not a fixed list.")


@suite.check("cert_lifetime", "the server certificate lives at most 366 days")
def cert_lifetime(trial: Trial) -> None:
    certificate, _ = _learner_certificate(trial, certificates.create_authority())
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    expect(lifetime <= timedelta(days=certificates.MAX_SERVER_DAYS),
           f"It is valid for {lifetime.days} days. The contract (and Mozilla's profile) allow at "
           "most 366: use not_valid_after(now + timedelta(days=90)), for example.")
    expect(lifetime > timedelta(days=1),
           "It expires within a day: give it weeks, not hours.")


@suite.check("cert_valid_now", "the server certificate is valid from now on")
def cert_valid_now(trial: Trial) -> None:
    certificate, _ = _learner_certificate(trial, certificates.create_authority())
    now = datetime.now(UTC)
    expect(certificate.not_valid_before_utc <= now,
           "It is not valid yet: start its validity a few minutes before now, in UTC "
           "(datetime.now(UTC)); a naive local time is read as UTC.")
    expect(now + timedelta(days=1) < certificate.not_valid_after_utc,
           "It is no longer valid (or will not be by tomorrow): count its lifetime from now.")


@suite.check("cert_signed", "the server certificate is issued and signed by the local CA")
def cert_signed(trial: Trial) -> None:
    ca = certificates.create_authority()
    certificate, _ = _learner_certificate(trial, ca)
    expect(certificate.issuer == ca.certificate.subject,
           "Its issuer should be the CA's subject: issuer_name(ca.certificate.subject).")
    try:
        certificate.verify_directly_issued_by(ca.certificate)
    except Exception:  # InvalidSignature, ValueError or TypeError: all mean "not by this CA"
        raise Fail("The CA's key did not sign it: finish with .sign(ca.key, hashes.SHA256()), "
                   "not with any other key.") from None


@suite.check("cert_serial", "each server certificate gets a new random serial number")
def cert_serial(trial: Trial) -> None:
    ca = certificates.create_authority()
    serials = [_learner_certificate(trial, ca)[0].serial_number for _ in range(3)]
    expect(len(set(serials)) == len(serials),
           f"Three certificates from one CA got the serial numbers {serials}. Serial numbers "
           "must never repeat under one CA (clients reject a second certificate with the same "
           "issuer and serial): use x509.random_serial_number().")
    expect(min(serials) >= 2 ** 32,
           f"Serial number {min(serials)} is small enough to guess or to count up to. Use "
           "x509.random_serial_number(): 159 random bits.")


@suite.check("cert_server_only", "the server certificate is for a TLS server, not a CA")
def cert_server_only(trial: Trial) -> None:
    certificate, _ = _learner_certificate(trial, certificates.create_authority())
    extensions = certificate.extensions
    try:
        constraints = extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    expect(constraints is None or not constraints.ca,
           "BasicConstraints says ca=True: a server certificate must never be able to sign "
           "other certificates. Use ca=False.")
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


@suite.check("cert_handshake", "clients of the local CA accept a server using your certificate")
def cert_handshake(trial: Trial) -> None:
    ca = certificates.create_authority()
    certificate, key = _learner_certificate(trial, ca)
    files = _files(trial, "learner", ca, certificate, key)
    with _https_server(trial, files) as server:
        for host in certificates.HOSTS:
            handshake = probes.try_handshake(host, server.port, files.ca_file)
            expect(handshake.accepted,
                   f"A client connecting to {host} refused your certificate "
                   f"({handshake.outcome}). Look at the checks above for what is missing.")


# -- the client --------------------------------------------------------------------------------


@contextmanager
def _client(trial: Trial, base_url: str, ca_file: Path) -> Iterator[httpx2.Client]:
    client = trial.tls_client(base_url, ca_file)
    expect_type(client, httpx2.Client, "tls_client", "an httpx2.Client")
    with client:
        yield client


def _get(client: httpx2.Client, path: str = "/health") -> httpx2.Response:
    """A request from the learner's client: its transport error is the learner's to fix."""
    try:
        return client.get(path)
    except httpx2.ConnectError as error:
        raise Fail(f"Your client could not connect ({context.tls_error(error)}). Pass "
                   "verify=ssl.create_default_context(cafile=ca_file): the system's trust "
                   "store does not know the local CA.") from None
    except (httpx2.HTTPError, httpx2.InvalidURL) as error:
        raise Fail(f"Your client's request failed ({type(error).__name__}: {error}). Make it "
                   "for base_url, over TLS: httpx2.Client(base_url=base_url, verify=...).") \
            from None


def _accepted(client: httpx2.Client) -> bool:
    """Did the learner's client accept the server's certificate, and get an answer?"""
    try:
        client.get("/health")
    except (httpx2.HTTPError, httpx2.InvalidURL):
        return False  # refused (or could not talk at all): either way it trusted nothing
    return True


@suite.check("client_trusts_ca", "tls_client connects to the HTTPS service, trusting the local CA")
def client_trusts_ca(trial: Trial) -> None:
    files = _reference_files(trial, "service")
    with _https_server(trial, files) as server, \
            _client(trial, server.url, files.ca_file) as client:
        response = _get(client)
    expect(response.status_code == 200,
           f"GET /health answered {response.status_code}, not 200: is the client for base_url?")


@suite.check("client_refuses_strangers",
             "tls_client refuses a server the local CA did not certify")
def client_refuses_strangers(trial: Trial) -> None:
    local = _reference_files(trial, "local")
    stranger = _reference_files(trial, "stranger")  # another CA, as a man in the middle has
    with _https_server(trial, stranger) as server, \
            _client(trial, server.url, local.ca_file) as client:
        expect(not _accepted(client),
               "It accepted a certificate from a CA you never trusted: anyone on the path could "
               "impersonate the server. Do not pass verify=False; verify against the CA file.")


@suite.check("client_checks_host", "tls_client checks the host name in the certificate")
def client_checks_host(trial: Trial) -> None:
    files = _reference_files(trial, "localhost-only", hosts_=("localhost",))
    with _https_server(trial, files) as server, \
            _client(trial, server.url, files.ca_file) as client:  # dials 127.0.0.1
        expect(not _accepted(client),
               "It accepted a certificate for localhost when it dialled 127.0.0.1. Keep "
               "check_hostname on (ssl.create_default_context does that for you).")


@suite.check("client_capture", "the capture attack reads nothing through your tls_client")
def client_capture(trial: Trial) -> None:
    files = _reference_files(trial, "service")
    app = trial.app()
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]

    def connect(base_url: str) -> httpx2.Client:
        client = trial.tls_client(base_url, files.ca_file)
        expect_type(client, httpx2.Client, "tls_client", "an httpx2.Client")
        return client

    with _https_server(trial, files, app) as server:
        try:
            result = attacks.run_capture(server.url, "alice", alice.password, connect)
        except (httpx2.HTTPError, httpx2.InvalidURL) as error:
            raise Fail(f"Your tls_client could not log in over TLS ({type(error).__name__}: "
                       f"{error}); see the checks above.") from None
    expect(not result.succeeded, f"The relay read {result.evidence}.")
    expect("did not succeed" not in result.evidence,
           "The client could not log in over TLS, so nothing was tested; see the checks above.")


# -- plain HTTP --------------------------------------------------------------------------------


class _Guarded:
    """The learner's answer, called inside a server: an exception (or an answer of the wrong
    shape) is kept for the check to report, instead of becoming a 500 and a traceback on the
    server's log."""

    def __init__(self, answer: plain_http.PlainHttpAnswer) -> None:
        self.answer = answer
        self.error: BaseException | None = None

    def __call__(self, request: Request, https_port: int) -> Response:
        try:
            response = self.answer(request, https_port)
        except Exception as error:  # NotImplementedError too: "not attempted"
            self.error = self.error or error
            return PlainTextResponse("", status_code=500)
        if not isinstance(response, Response):
            self.error = self.error or Fail(
                f"Your answer_plain_http returned {describe(response)} for {request.method} "
                f"{request.url.path}; it should return a Starlette Response "
                "(RedirectResponse or JSONResponse).")
            return PlainTextResponse("", status_code=500)
        return response

    def raise_error(self) -> None:
        if self.error is not None:
            raise self.error


def _plain(trial: Trial) -> tuple[TestClient, _Guarded]:
    guarded = _Guarded(trial.answer_plain_http)
    listener = plain_http.PlainHttpListener(https_port=HTTPS_PORT, answer=guarded)
    return TestClient(listener, base_url="http://localhost:8080", follow_redirects=False), guarded


def _ask(client: TestClient, guarded: _Guarded, method: str, path: str,
         **options: Any) -> httpx2.Response:
    response = client.request(method, path, **options)
    guarded.raise_error()
    return response


@suite.check("plain_redirects_pages",
             "answer_plain_http redirects page loads to the same address on HTTPS (308)")
def plain_redirects_pages(trial: Trial) -> None:
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


API_CALLS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("GET", "/users/me", {"headers": {"Authorization": "Bearer demo-token"}}),
    ("HEAD", "/notes", {"headers": {"Authorization": "Basic ZGVtbzpkZW1v"}}),
    ("POST", "/auth/token", {"data": {"username": "alice", "password": "demo-password"}}),
    ("DELETE", "/notes/1", {}),
    ("PUT", "/notes/1", {"json": {"title": "t"}}),
    ("OPTIONS", "/notes", {}),
)


@suite.check("plain_refuses_api", "answer_plain_http refuses API calls (403, JSON, no redirect)")
def plain_refuses_api(trial: Trial) -> None:
    client, guarded = _plain(trial)
    for method, path, options in API_CALLS:
        response = _ask(client, guarded, method, path, **options)
        kind = "with Authorization" if "headers" in options else "(not a page load)"
        expect(response.status_code in (400, 403),
               f"{method} {path} {kind} answered {response.status_code}. Anything but a GET or "
               "HEAD without Authorization is an API call: refuse it with 403 so the client's "
               "mistake shows, instead of redirecting it.")
        expect("location" not in response.headers,
               f"{method} {path} carries a Location header: a refusal redirects nowhere.")
        if method != "HEAD":  # a HEAD answer has no body
            try:
                detail = response.json().get("detail")
            except (ValueError, AttributeError):
                detail = None
            expect(isinstance(detail, str) and detail,
                   f"{method} {path} was refused with {response.text[:60]!r}. Say why in JSON, "
                   "as the rest of the API does: JSONResponse({'detail': '...'}, "
                   "status_code=403).")


@suite.check("plain_silent_redirect", "the silent-redirect attack fails on your plain-HTTP port")
def plain_silent_redirect(trial: Trial) -> None:
    guarded = _Guarded(trial.answer_plain_http)
    # Not attempted yet? Find out here, before any server starts.
    guarded(plain_http.sample_request(), HTTPS_PORT)
    guarded.raise_error()
    files = _reference_files(trial, "service")
    app = trial.app()
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    with _https_server(trial, files, app) as secure, \
            BackgroundServer(plain_http.PlainHttpListener(secure.port, answer=guarded)) as plain:
        result = attacks.run_silent_redirect(plain.url, "alice", alice.password,
                                             verify=context.client_context(files.ca_file))
    guarded.raise_error()
    expect(not result.succeeded,
           "The client logged in through your plain-HTTP port without noticing "
           f"({result.evidence}). A POST is an API call: refuse it.")


# -- the host check ----------------------------------------------------------------------------

ALLOWED = frozenset({"localhost", "127.0.0.1", "::1"})


def _host_answer(trial: Trial, host: str | None) -> bool:
    answer = trial.host_allowed(host, ALLOWED)
    expect_type(answer, bool, "host_allowed", f"True or False (it was asked about {host!r})")
    return bool(answer)


def _expect_hosts(trial: Trial, samples: tuple[str | None, ...], wanted: bool,
                  hint: str) -> None:
    for host in samples:
        expect(_host_answer(trial, host) is wanted,
               f"host_allowed({host!r}, {sorted(ALLOWED)}) returned {not wanted}. {hint}")


@suite.check("host_own", "host_allowed accepts each allowed name, with or without a port")
def host_own(trial: Trial) -> None:
    _expect_hosts(trial, ("localhost", "localhost:8443", "127.0.0.1", "127.0.0.1:8000",
                          "[::1]", "[::1]:8443"), True,
                  "A Host header is the name, then optionally ':' and the port; an IPv6 "
                  "address comes in brackets. Compare the name without the port.")


@suite.check("host_case", "host_allowed compares host names case-insensitively")
def host_case(trial: Trial) -> None:
    _expect_hosts(trial, ("LOCALHOST", "LocalHost"), True,
                  "Host names are case-insensitive (RFC 4343): compare name.lower().")


@suite.check("host_foreign", "host_allowed refuses other names and addresses, and None")
def host_foreign(trial: Trial) -> None:
    _expect_hosts(trial, ("evil.example", "evil.example:8443", "203.0.113.7",
                          "203.0.113.7:8443", "[2001:db8::1]:8443", None, ""), False,
                  "Only the names in the list are ours: another address is not one of them, "
                  "and None names no host at all.")


@suite.check("host_whole", "host_allowed compares whole names, not parts of them")
def host_whole(trial: Trial) -> None:
    _expect_hosts(trial, ("localhost.evil.example", "evil-localhost", "mylocalhost:8443",
                          "127.0.0.1.evil.example"), False,
                  "Compare the whole name with ==, or with 'in' on the set: a prefix, a "
                  "suffix or a part of a name is another site's name.")


@suite.check("host_strict", "host_allowed refuses a Host that is more than a name and a port")
def host_strict(trial: Trial) -> None:
    _expect_hosts(trial, ("evil.example@localhost", "localhost@evil.example",
                          "localhost/evil.example", "localhost:evil.example",
                          "localhost:8443:1", "localhost 8443", "::1", "[::1"), False,
                  "Parse the header strictly: a name (or [IPv6]), then optionally ':' and "
                  "digits, and nothing else. Do not let a URL parser find a host in it.")


@suite.check("host_service", "the service with your host_allowed answers 400 to other hosts")
def host_service(trial: Trial) -> None:
    _host_answer(trial, "localhost")  # not attempted? say so before building a service
    settings = trial.settings(allowed_hosts=tuple(ALLOWED))
    client = TestClient(trial.app(settings=settings, host_allowed=trial.host_allowed),
                        base_url="https://localhost")
    with client:
        own = client.get("/notes/", follow_redirects=False)
        expect(own.status_code == 307 and urlsplit(own.headers.get("location", "")).hostname
               == "localhost",
               f"GET /notes/ for localhost answered {own.status_code}: the service should "
               "answer its own name (here with Starlette's redirect to /notes).")
        for host in (attacks.FOREIGN_HOST, "203.0.113.7:8443"):
            response = attacks.aim_redirect(client, host)
            expect(response.status_code == 400 and "location" not in response.headers,
                   f"GET /notes/ with Host: {host} answered {response.status_code} "
                   f"{response.headers.get('location', '')}. The service answers only for its "
                   "own names: anything else gets 400, before a redirect can use the name.")


Answers = Callable[..., Any]

# The reference layer's answers to this lesson's exercises.
REFERENCE: dict[str, Answers] = {
    "issue_server_certificate": certificates.issue_server_certificate,
    "tls_client": context.tls_client,
    "answer_plain_http": plain_http.answer_plain_http,
    "host_allowed": hosts.host_allowed,
}


RULES: tuple[Rule, ...] = (
    # Exercise 1: issue_server_certificate
    Rule("cert_alt_names", "issue_server_certificate",
         "a subjectAltName, not critical, lists every host given: DNS entries for names, IP "
         "entries for addresses; clients match only this list", ("cert_names", "cert_handshake")),
    Rule("cert_lifetime", "issue_server_certificate",
         "valid for 90 days; the contract allows at most 366", ("cert_lifetime",)),
    Rule("cert_valid_now", "issue_server_certificate",
         "valid from a few minutes ago (clocks differ), in UTC",
         ("cert_valid_now", "cert_handshake")),
    Rule("cert_issuer", "issue_server_certificate",
         "the issuer is the CA's subject and the CA's key signs it, not any other key",
         ("cert_signed", "cert_handshake")),
    Rule("cert_serial", "issue_server_certificate", "a random serial number",
         ("cert_serial",)),
    Rule("cert_not_a_ca", "issue_server_certificate",
         "BasicConstraints(ca=False): the server key must never sign certificates",
         ("cert_server_only",)),
    Rule("cert_server_usage", "issue_server_certificate",
         "KeyUsage digital_signature only, ExtendedKeyUsage SERVER_AUTH",
         ("cert_server_only", "cert_handshake")),
    # Exercise 2: tls_client
    Rule("client_for_base_url", "tls_client", "an httpx2.Client for base_url",
         ("client_trusts_ca", "client_capture")),
    Rule("client_local_ca", "tls_client",
         "trusts the local CA in ca_file (the system's store does not know it)",
         ("client_trusts_ca", "client_capture")),
    Rule("client_nothing_else", "tls_client",
         "trusts nothing else: never verify=False, which accepts an attacker's certificate",
         ("client_refuses_strangers", "client_checks_host")),
    Rule("client_host_names", "tls_client", "checks host names (check_hostname stays on)",
         ("client_checks_host",)),
    # Exercise 3: answer_plain_http
    Rule("plain_permanent", "answer_plain_http",
         "a page load (GET or HEAD without Authorization) gets 308 Permanent Redirect",
         ("plain_redirects_pages",)),
    Rule("plain_same_address", "answer_plain_http",
         "the redirect keeps the host, path and query, on HTTPS at https_port",
         ("plain_redirects_pages",)),
    Rule("plain_refuse_methods", "answer_plain_http",
         "any other method is an API call: refused, never redirected",
         ("plain_refuses_api", "plain_silent_redirect")),
    Rule("plain_refuse_credentials", "answer_plain_http",
         "any request with Authorization is refused, a GET included", ("plain_refuses_api",)),
    Rule("plain_json_detail", "answer_plain_http", "a refusal is 403 with a short JSON detail",
         ("plain_refuses_api",)),
    Rule("plain_response", "answer_plain_http", "returns a Starlette response",
         ("plain_redirects_pages", "plain_refuses_api", "plain_silent_redirect")),
    # Exercise 4: host_allowed
    Rule("host_own_names", "host_allowed",
         "an allowed name is accepted with or without a port; an IPv6 address is in brackets",
         ("host_own", "host_service")),
    Rule("host_any_case", "host_allowed", "names are compared case-insensitively",
         ("host_case",)),
    Rule("host_others_refused", "host_allowed",
         "every other name or address is refused, and so is None (no single host named)",
         ("host_foreign", "host_service")),
    Rule("host_whole_names", "host_allowed",
         "whole names are compared: no prefix, suffix or part of a name", ("host_whole",)),
    Rule("host_strict_syntax", "host_allowed",
         "a Host that is not just a name (or [IPv6]) and a port is refused, not trimmed until "
         "it fits", ("host_strict",)),
)

WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    WrongAnswer("cert_alt_names", "the host in the common name only",
                {"issue_server_certificate": wrong.common_name_only},
                {"cert_names": "No subjectAltName", "cert_handshake": "refused your"}),
    WrongAnswer("cert_alt_names", "127.0.0.1 as a DNS name",
                {"issue_server_certificate": wrong.address_as_dns_name},
                {"cert_names": "must be an IP entry", "cert_handshake": "refused your"}),
    WrongAnswer("cert_alt_names", "a critical subjectAltName",
                {"issue_server_certificate": wrong.critical_alt_names},
                {"cert_names": "non-critical"}),
    WrongAnswer("cert_alt_names", "the lesson's two hosts, whatever it is asked for",
                {"issue_server_certificate": wrong.fixed_hosts},
                {"cert_names": "not a fixed list"}),
    WrongAnswer("cert_lifetime", "valid for ten years",
                {"issue_server_certificate": wrong.ten_years},
                {"cert_lifetime": "at most 366"}),
    WrongAnswer("cert_valid_now", "dated from a local clock ahead of UTC",
                {"issue_server_certificate": wrong.starts_in_the_future},
                {"cert_valid_now": "not valid yet", "cert_handshake": "refused your"}),
    WrongAnswer("cert_issuer", "names itself as its issuer",
                {"issue_server_certificate": wrong.self_named_issuer},
                {"cert_signed": "issuer should be", "cert_handshake": "refused your"}),
    WrongAnswer("cert_issuer", "signed with another key",
                {"issue_server_certificate": wrong.signed_by_another_key},
                {"cert_signed": "did not sign it", "cert_handshake": "refused your"}),
    WrongAnswer("cert_serial", "serial number 1 every time",
                {"issue_server_certificate": wrong.serial_one},
                {"cert_serial": "must never repeat"}),
    WrongAnswer("cert_not_a_ca", "BasicConstraints(ca=True)",
                {"issue_server_certificate": wrong.may_sign_certificates},
                {"cert_server_only": "ca=True"}),
    WrongAnswer("cert_server_usage", "key usage that allows signing certificates",
                {"issue_server_certificate": wrong.key_usage_of_a_ca},
                {"cert_server_only": "neither key_cert_sign"}),
    WrongAnswer("cert_server_usage", "a client certificate's purpose",
                {"issue_server_certificate": wrong.client_purpose},
                {"cert_server_only": "SERVER_AUTH", "cert_handshake": "refused your"}),
    WrongAnswer("client_for_base_url", "no base_url",
                {"tls_client": wrong.no_base_url},
                {"client_trusts_ca": "for base_url", "client_capture": "could not log in"}),
    WrongAnswer("client_for_base_url", "plain HTTP to the TLS port",
                {"tls_client": wrong.plain_http_instead},
                {"client_trusts_ca": "over TLS", "client_capture": "could not log in"}),
    WrongAnswer("client_local_ca", "the system's trust store",
                {"tls_client": wrong.system_trust},
                {"client_trusts_ca": "cafile=ca_file", "client_capture": "could not log in"}),
    WrongAnswer("client_nothing_else", "verify=False",
                {"tls_client": wrong.no_verification},
                {"client_refuses_strangers": "never trusted",
                 "client_checks_host": "check_hostname"}),
    WrongAnswer("client_host_names", "check_hostname turned off",
                {"tls_client": wrong.no_host_name_check},
                {"client_checks_host": "check_hostname"}),
    WrongAnswer("plain_permanent", "301 for page loads",
                {"answer_plain_http": wrong.moved_permanently},
                {"plain_redirects_pages": "308 Permanent Redirect"}),
    WrongAnswer("plain_permanent", "page loads refused too",
                {"answer_plain_http": wrong.refuse_everything},
                {"plain_redirects_pages": "308 Permanent Redirect"}),
    WrongAnswer("plain_same_address", "the plain-HTTP port kept",
                {"answer_plain_http": wrong.same_port},
                {"plain_redirects_pages": "change the scheme and the port"}),
    WrongAnswer("plain_same_address", "the query string dropped",
                {"answer_plain_http": wrong.path_only},
                {"plain_redirects_pages": "Keep the host, path and query"}),
    WrongAnswer("plain_refuse_methods", "a POST without Authorization redirected",
                {"answer_plain_http": wrong.refuse_tokens_only},
                {"plain_refuses_api": "(not a page load)",
                 "plain_silent_redirect": "A POST is an API call"}),
    WrongAnswer("plain_refuse_credentials", "a GET with a bearer token redirected",
                {"answer_plain_http": wrong.refuse_writes_only},
                {"plain_refuses_api": "with Authorization"}),
    WrongAnswer("plain_json_detail", "a plain-text refusal",
                {"answer_plain_http": wrong.refuse_in_plain_text},
                {"plain_refuses_api": "Say why in JSON"}),
    WrongAnswer("plain_response", "the refusal never returned",
                {"answer_plain_http": wrong.forgotten_return},
                {"plain_refuses_api": "returned None", "plain_silent_redirect": "returned None"}),
    WrongAnswer("host_own_names", "the port compared too",
                {"host_allowed": wrong.port_kept},
                {"host_own": "Compare the name without the port"}),
    WrongAnswer("host_own_names", "an IPv6 address compared with its brackets",
                {"host_allowed": wrong.brackets_kept},
                {"host_own": "comes in brackets"}),
    WrongAnswer("host_any_case", "a case-sensitive comparison",
                {"host_allowed": wrong.case_sensitive},
                {"host_case": "case-insensitive"}),
    WrongAnswer("host_others_refused", "None let through",
                {"host_allowed": wrong.no_host_is_fine},
                {"host_foreign": "None names no host"}),
    WrongAnswer("host_others_refused", "any IP address let through",
                {"host_allowed": wrong.any_address},
                {"host_foreign": "another address", "host_service": "answered 307"}),
    WrongAnswer("host_whole_names", "a suffix match",
                {"host_allowed": wrong.suffix_match},
                # [2001:db8::1] ends with ::1: a suffix match lets a foreign address in too.
                {"host_whole": "Compare the whole name", "host_foreign": "2001:db8::1"}),
    WrongAnswer("host_whole_names", "a prefix match",
                {"host_allowed": wrong.prefix_match},
                {"host_whole": "Compare the whole name"}),
    WrongAnswer("host_strict_syntax", "a URL parser finds the host",
                {"host_allowed": wrong.url_parser},
                {"host_strict": "Parse the header strictly"}),
)


def check(**answers: Answers) -> Report:
    """Run the lesson-04 checks on your answers: ``check(issue_server_certificate=...,
    tls_client=..., answer_plain_http=..., host_allowed=...)``."""
    return suite.run(**answers)
