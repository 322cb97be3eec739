"""Lesson 04: the TLS layer against real uvicorn servers on loopback (certificates, protocol
floor, AEAD-only suites, key-exchange groups, sslyze, curl), the plain-HTTP listener, HSTS,
forwarded headers and the proxy loop; the attacks against their vulnerable variants and the
reference; the checks on the solution, the stubs and plausible wrong answers; the CLI; and
that nothing is left listening."""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import psutil
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import verification
from cryptography.x509.oid import NameOID
from helpers import Served, free_port, listening, serving
from starlette.middleware.httpsredirect import HTTPSRedirectMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.testclient import TestClient
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from lessons import tls, workbook
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson04 as attacks
from lessons.checks import FAILED
from lessons.checks.lesson04 import REFERENCE, suite
from lessons.server import BackgroundServer
from lessons.wire import Relay, TlsTerminatingProxy

NOTEBOOK = "04_https.ipynb"


@pytest.fixture
def files(tmp_path: Path) -> tls.TlsFiles:
    return tls.ensure_certificates(tmp_path / "data")


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def second_loopback_address() -> str | None:
    """127.0.0.2 where the OS routes all of 127/8 to loopback (Linux, Windows); not macOS."""
    try:
        with socket.socket() as probe:
            probe.bind(("127.0.0.2", 0))
    except OSError:
        return None
    return "127.0.0.2"


# -- certificates ------------------------------------------------------------------------------


def test_reference_certificate_meets_the_contract_and_a_strict_verifier() -> None:
    ca = tls.create_authority()
    certificate = tls.issue_server_certificate(ca, tls.new_private_key().public_key())
    assert tls.certificate_problems(certificate, ca.certificate) == []
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime <= timedelta(days=366)
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert not san.critical
    # cryptography's RFC 5280 / web-PKI path validation accepts it for both names.
    store = verification.Store([ca.certificate])
    for name in (x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))):
        chain = verification.PolicyBuilder().store(store).build_server_verifier(name).verify(
            certificate, [])
        assert chain[-1] == ca.certificate


def test_the_local_ca_cannot_vouch_for_other_names() -> None:
    ca = tls.create_authority()
    foreign = tls.issue_server_certificate(ca, tls.new_private_key().public_key(),
                                           ("bank.example", "127.0.0.1"))
    verifier = verification.PolicyBuilder().store(verification.Store([ca.certificate]))
    with pytest.raises(verification.VerificationError, match="name constraints"):
        verifier.build_server_verifier(x509.DNSName("bank.example")).verify(foreign, [])


def _certificate(ca: tls.Authority, *, names: list[x509.GeneralName] | None = None,
                 critical_san: bool = False, days: int = 90,
                 signer: Any = None) -> x509.Certificate:
    key = tls.new_private_key()
    now = datetime.now(UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
               .issuer_name(ca.certificate.subject).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - timedelta(minutes=1))
               .not_valid_after(now + timedelta(days=days)))
    if names is not None:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=critical_san)
    return builder.sign(signer or ca.key, hashes.SHA256())


LOCALHOST = x509.DNSName("localhost")
LOOPBACK_IP = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))


@pytest.mark.parametrize(("change", "problem"), [
    ({}, "no subjectAltName"),
    ({"names": [LOCALHOST, LOOPBACK_IP], "critical_san": True}, "marked critical"),
    ({"names": [LOCALHOST, x509.DNSName("127.0.0.1")]}, "does not name 127.0.0.1"),
    ({"names": [LOCALHOST, LOOPBACK_IP], "days": 3650}, "more than 366"),
    ({"names": [LOCALHOST, LOOPBACK_IP], "signer": "stranger"}, "not signed by the local CA"),
])
def test_certificate_problems_name_each_breach_of_the_contract(change, problem) -> None:
    ca = tls.create_authority()
    if change.get("signer") == "stranger":
        change = {**change, "signer": tls.new_private_key()}
    problems = tls.certificate_problems(_certificate(ca, **change), ca.certificate)
    assert any(problem in text for text in problems), problems


def test_certificates_are_made_private_and_reused(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path / "data")
    assert mode(files.folder) == 0o700
    for path in (files.ca_file, files.ca_key, files.certfile, files.keyfile):
        assert mode(path) == 0o600, path.name
    before = {path: path.read_bytes() for path in files.folder.iterdir()}
    files.keyfile.chmod(0o644)  # copied around carelessly
    again = tls.ensure_certificates(tmp_path / "data")
    assert {path: path.read_bytes() for path in again.folder.iterdir()} == before
    assert mode(again.keyfile) == 0o600


def test_a_certificate_about_to_expire_is_renewed_with_the_same_ca(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path / "data")
    ca = tls.load_authority(files)
    old_ca = files.ca_file.read_bytes()
    nearly_expired = _certificate(ca, names=[LOCALHOST, LOOPBACK_IP], days=3)
    files.certfile.write_bytes(nearly_expired.public_bytes(serialization.Encoding.PEM))
    tls.ensure_certificates(tmp_path / "data")
    renewed = tls.load_certificate(files.certfile)
    assert renewed != nearly_expired
    assert tls.certificate_problems(renewed, ca.certificate) == []
    assert files.ca_file.read_bytes() == old_ca


def test_a_damaged_ca_is_replaced_and_the_server_certificate_reissued(tmp_path: Path) -> None:
    files = tls.ensure_certificates(tmp_path / "data")
    files.ca_key.write_bytes(b"not a key")
    tls.ensure_certificates(tmp_path / "data")
    ca = tls.load_authority(files)
    assert tls.certificate_problems(tls.load_certificate(files.certfile), ca.certificate) == []


# -- the TLS profile, against real servers -----------------------------------------------------


@contextmanager
def https_server(files: tls.TlsFiles, app: Any = None,
                 **options: Any) -> Iterator[BackgroundServer]:
    from fastapi import FastAPI

    app = app if app is not None else FastAPI()
    with BackgroundServer(app, certfile=files.certfile, keyfile=files.keyfile,
                          **options) as server:
        yield server


@pytest.mark.slow
def test_only_tls_12_and_13_with_aead_suites(files: tls.TlsFiles) -> None:
    with https_server(files) as server:
        def probe(**options: Any) -> tls.Handshake:
            return tls.try_handshake("127.0.0.1", server.port, files.ca_file, **options)

        for old in (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1):
            assert not probe(version=old, legacy=True).accepted
        for cbc in ("ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384",
                    "ECDHE-ECDSA-AES128-SHA"):
            assert not probe(version=ssl.TLSVersion.TLSv1_2, ciphers=cbc, legacy=True).accepted
        for aead in ("ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                     "ECDHE-ECDSA-CHACHA20-POLY1305"):
            handshake = probe(version=ssl.TLSVersion.TLSv1_2, ciphers=aead)
            assert handshake.accepted and handshake.outcome == f"TLSv1.2 {aead}"
        assert probe(version=ssl.TLSVersion.TLSv1_3).outcome.startswith("TLSv1.3 ")


@pytest.mark.slow
def test_pythons_default_server_context_is_what_the_hardening_fixes(files: tls.TlsFiles) -> None:
    with https_server(files, ssl_context_factory=None) as server:
        cbc = tls.try_handshake("127.0.0.1", server.port, files.ca_file,
                                version=ssl.TLSVersion.TLSv1_2,
                                ciphers="ECDHE-ECDSA-AES128-SHA256")
        assert cbc.accepted  # so the refusal above is the hardening's doing


def _handshake_with_group(port: int, ca_file: Path, group: str) -> bool:
    context = tls.client_context(ca_file)
    context.set_ecdh_curve(group)  # the client offers this one group only
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1"):
            return True
    except ssl.SSLError:
        return False


@pytest.mark.slow
def test_key_exchange_is_limited_to_the_profiles_groups(files: tls.TlsFiles) -> None:
    with https_server(files) as hardened, https_server(files, ssl_context_factory=None) as plain:
        assert _handshake_with_group(hardened.port, files.ca_file, "prime256v1")
        for group in ("secp521r1", "X448"):
            assert not _handshake_with_group(hardened.port, files.ca_file, group)
            assert _handshake_with_group(plain.port, files.ca_file, group)


@pytest.mark.slow
def test_sslyze_finds_the_server_compliant_with_mozilla_intermediate(files: tls.TlsFiles) -> None:
    with https_server(files) as hardened, https_server(files, ssl_context_factory=None) as plain:
        assert tls.mozilla_compliance(hardened.port, files.ca_file) == [
            f"127.0.0.1:{hardened.port}: OK - Compliant."]
        verdict = tls.mozilla_compliance(plain.port, files.ca_file)
    assert verdict[0] == f"127.0.0.1:{plain.port}: FAILED - Not compliant."
    assert any("CBC" in line for line in verdict)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_trusts_the_server_with_the_ca_file_only(files: tls.TlsFiles) -> None:
    with https_server(files) as server:
        url = f"https://127.0.0.1:{server.port}/docs"
        trusted = subprocess.run(["curl", "-sS", "--cacert", str(files.ca_file), "-o",
                                  os.devnull, "-w", "%{http_code}", url],
                                 capture_output=True, text=True, timeout=30)
        untrusted = subprocess.run(["curl", "-sS", "-o", os.devnull, url],
                                   capture_output=True, text=True, timeout=30)
    assert trusted.returncode == 0 and trusted.stdout == "200", trusted.stderr
    assert untrusted.returncode == 60  # "Peer certificate cannot be authenticated"


@pytest.mark.slow
def test_a_client_without_the_ca_gets_a_clear_error(files: tls.TlsFiles) -> None:
    with https_server(files) as server:
        with pytest.raises(httpx2.ConnectError) as caught:
            httpx2.get(f"{server.url}/docs")
        with tls.tls_client(server.url, files.ca_file) as client:
            assert client.get("/docs").status_code == 200
    assert tls.tls_error(caught.value) == (
        "ConnectError: certificate verify failed: unable to get local issuer certificate")


# -- HSTS, the plain-HTTP listener, forwarded headers ------------------------------------------


@pytest.mark.slow
def test_hsts_on_https_responses_only(files: tls.TlsFiles, make_app) -> None:
    app = make_app(4)
    with https_server(files, app) as secure, BackgroundServer(app) as plain, \
            BackgroundServer(tls.PlainHttpListener(secure.port)) as redirector:
        with tls.tls_client(secure.url, files.ca_file) as client:
            for path in ("/health", "/nowhere", "/users/me"):  # 200, 404, 401 alike
                assert client.get(path).headers["strict-transport-security"] == tls.HSTS
        assert "strict-transport-security" not in httpx2.get(f"{plain.url}/health").headers
        redirect = httpx2.get(f"{redirector.url}/docs")
        assert redirect.status_code == 308
        assert "strict-transport-security" not in redirect.headers


@pytest.mark.slow
def test_plain_http_redirects_pages_and_refuses_api_calls(files: tls.TlsFiles, make_app) -> None:
    app = make_app(4)
    store = app.state.service.store
    with https_server(files, app) as secure, \
            BackgroundServer(tls.PlainHttpListener(secure.port)) as plain:
        base = plain.url
        for method in ("GET", "HEAD"):
            response = httpx2.request(method, f"{base}/docs?tab=notes")
            assert response.status_code == 308
            assert response.headers["location"] == \
                f"https://127.0.0.1:{secure.port}/docs?tab=notes"
        refused = [
            httpx2.get(f"{base}/users/me", headers={"Authorization": "Bearer x"}),
            httpx2.post(f"{base}/users", json={"username": "eve", "password": "a" * 16}),
            httpx2.delete(f"{base}/notes/1"),
        ]
        assert [r.status_code for r in refused] == [403, 403, 403]
        assert all("location" not in r.headers for r in refused)
        assert store.get_user("eve") is None  # the request never reached a route
        foreign = httpx2.get(f"{base}/docs", headers={"Host": "evil.example"})
        assert foreign.status_code == 400 and "location" not in foreign.headers
        # And the redirect really lands on the service.
        with httpx2.Client(verify=tls.client_context(files.ca_file),
                           follow_redirects=True) as browser:
            assert browser.get(f"{base}/health").json() == {"status": "ok"}


def echo_scope_app() -> Any:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] != "http":
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        await JSONResponse({"scheme": scope["scheme"], "client": scope["client"][0],
                            "forwarded": {k: v for k, v in headers.items()
                                          if k.startswith(("x-forwarded", "forwarded"))}})(
            scope, receive, send)
    return app


def test_forwarded_headers_are_believed_from_the_proxy_and_dropped_from_others() -> None:
    guarded = tls.TrustedProxyHeaders(echo_scope_app(), trusted=["10.0.0.5"])
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    from_proxy = TestClient(guarded, client=("10.0.0.5", 1234)).get("/", headers=headers).json()
    assert from_proxy["scheme"] == "https"
    # The client is what the proxy appended, not the claim to the left of it.
    assert from_proxy["client"] == "203.0.113.9"
    outsider = TestClient(guarded, client=("203.0.113.7", 1234)).get("/", headers=headers).json()
    assert outsider == {"scheme": "http", "client": "203.0.113.7", "forwarded": {}}


def test_uvicorns_trust_everyone_setting_lets_an_outsider_claim_https(make_app) -> None:
    service = make_app(4)
    outsider = ("203.0.113.7", 50000)
    trusting = TestClient(ProxyHeadersMiddleware(service, trusted_hosts="*"), client=outsider)
    careful = TestClient(tls.TrustedProxyHeaders(service, trusted=["127.0.0.1"]), client=outsider)
    assert attacks.run_spoofed_proto(trusting).succeeded
    assert not attacks.run_spoofed_proto(careful).succeeded


@pytest.mark.slow
def test_behind_a_proxy_the_loop_ends_and_only_the_proxy_is_believed(files: tls.TlsFiles,
                                                                    make_app) -> None:
    proxy_address = second_loopback_address()
    if proxy_address is None:
        pytest.skip("this system routes only 127.0.0.1 to loopback")
    context = tls.client_context(files.ca_file)

    def browser(url: str) -> httpx2.Client:
        return httpx2.Client(base_url=url, verify=context, follow_redirects=True,
                             max_redirects=5, timeout=10)

    naive = HTTPSRedirectMiddleware(make_app(4))
    fixed = tls.TrustedProxyHeaders(HTTPSRedirectMiddleware(make_app(4)), trusted=[proxy_address])
    with BackgroundServer(naive, proxy_headers=False) as app, \
            TlsTerminatingProxy("127.0.0.1", app.port, tls.server_context(files),
                                source=proxy_address) as proxy, browser(proxy.url()) as client:
        assert attacks.run_redirect_loop(client).succeeded
    with BackgroundServer(fixed, proxy_headers=False) as app, \
            TlsTerminatingProxy("127.0.0.1", app.port, tls.server_context(files),
                                source=proxy_address) as proxy, browser(proxy.url()) as client:
        assert not attacks.run_redirect_loop(client).succeeded
        assert client.get("/health").headers["strict-transport-security"] == tls.HSTS
        # A local client that is not the proxy (127.0.0.1) claims HTTPS: not believed.
        with httpx2.Client(base_url=app.url, follow_redirects=False) as direct:
            spoofed = attacks.spoof_https(direct)
        assert spoofed.status_code == 307
        assert "strict-transport-security" not in spoofed.headers


# -- the attacks: vulnerable variants and the reference ----------------------------------------


@pytest.mark.slow
def test_capture_reads_secrets_on_plain_http_and_only_ciphertext_under_tls(files, make_app) -> None:
    app = make_app(4)
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    with BackgroundServer(app) as plain:
        capture = attacks.capture_login(plain.url, "alice", alice.password,
                                        lambda url: httpx2.Client(base_url=url))
    assert attacks.judge_capture(capture).succeeded
    assert capture.found() == ["the password", "the bearer token"]
    with https_server(files, app) as secure:
        capture = attacks.capture_login(secure.url, "alice", alice.password,
                                        lambda url: tls.tls_client(url, files.ca_file))
    assert capture.token  # the login worked, through the relay
    assert not attacks.judge_capture(capture).succeeded
    assert capture.readable_lines() == []
    assert capture.tls_records()[0] == "handshake" and "application_data" in capture.tls_records()


@pytest.mark.slow
def test_silent_redirect_succeeds_against_redirect_everything_only(files, make_app) -> None:
    app = make_app(4)
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    context = tls.client_context(files.ca_file)
    outcomes = {}
    with https_server(files, app) as secure:
        for answer in (tls.answer_plain_http_naive, tls.answer_plain_http):
            with BackgroundServer(tls.PlainHttpListener(secure.port, answer=answer)) as plain:
                outcomes[answer.__name__] = attacks.run_silent_redirect(
                    plain.url, "alice", alice.password, verify=context)
    assert outcomes["answer_plain_http_naive"].succeeded
    assert not outcomes["answer_plain_http"].succeeded
    assert "crossed in clear" in outcomes["answer_plain_http"].evidence  # honest evidence


def test_relay_records_both_directions_and_stops() -> None:
    with socket.create_server(("127.0.0.1", 0)) as echo:
        def serve() -> None:
            connection, _ = echo.accept()
            with connection:
                connection.sendall(connection.recv(100).upper())

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        with Relay("127.0.0.1", echo.getsockname()[1]) as relay:
            with socket.create_connection(("127.0.0.1", relay.port)) as client:
                client.sendall(b"hello")
                assert client.recv(100) == b"HELLO"
            thread.join(5)
        assert relay.sent() == b"hello" and relay.received() == b"HELLO"
    assert not relay.running


# -- the checks --------------------------------------------------------------------------------


def run_only(names: list[str], **wrong: Any) -> dict[str, str]:
    """Run only the named checks (all must exist) with the reference except ``wrong``."""
    report = suite.subset(*names).run(record=False, **{**REFERENCE, **wrong})
    return {o.name: o.status for o in report.outcomes}


NAMES = "issue_server_certificate names localhost and 127.0.0.1 (subjectAltName)"
LIFETIME = "the server certificate is valid now, for at most 366 days"
CHAINED = "the server certificate is signed by the local CA"
SERVER_ONLY = "the server certificate is for a TLS server, not a CA"
HANDSHAKE = "clients of the local CA accept a server using your certificate"
CONNECTS = "tls_client connects to the HTTPS service, trusting the local CA"
STRANGERS = "tls_client refuses a server the local CA did not certify"
HOST_NAME = "tls_client checks the host name in the certificate"
CAPTURE = "the capture attack reads no password or token over your TLS"
REDIRECTS = "answer_plain_http redirects page loads to the same address on HTTPS (308)"
REFUSES = "answer_plain_http refuses API calls (400 or 403, no redirect)"
SILENT = "the silent-redirect attack fails on your plain-HTTP port"


def cn_only(ca, public_key, hosts):
    now = datetime.now(UTC)
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca.certificate.subject).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=90)).sign(ca.key, hashes.SHA256()))


def with_extensions(*extensions, days=90, signer=None):
    def issue(ca, public_key, hosts):
        now = datetime.now(UTC)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
                   .issuer_name(ca.certificate.subject).public_key(public_key)
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + timedelta(days=days)))
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signer or ca.key, hashes.SHA256())
    return issue


GOOD_SAN = (x509.SubjectAlternativeName([LOCALHOST, LOOPBACK_IP]), False)
IP_AS_NAME = (x509.SubjectAlternativeName([LOCALHOST, x509.DNSName("127.0.0.1")]), False)
CA_TRUE = (x509.BasicConstraints(ca=True, path_length=None), True)


def no_verification(base_url, ca_file):
    return httpx2.Client(base_url=base_url, verify=False)


def system_trust(base_url, ca_file):
    return httpx2.Client(base_url=base_url)


def no_host_name_check(base_url, ca_file):
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    return httpx2.Client(base_url=base_url, verify=context)


def moved_permanently(request: Request, https_port: int) -> Response:
    if request.method in ("GET", "HEAD") and "authorization" not in request.headers:
        return RedirectResponse(request.url.replace(scheme="https", port=https_port), 301)
    return JSONResponse({"detail": "no"}, status_code=403)


def same_port(request: Request, https_port: int) -> Response:
    if request.method in ("GET", "HEAD") and "authorization" not in request.headers:
        return RedirectResponse(request.url.replace(scheme="https"), 308)
    return JSONResponse({"detail": "no"}, status_code=403)


def refuse_only_tokens(request: Request, https_port: int) -> Response:
    if "authorization" in request.headers:
        return JSONResponse({"detail": "no"}, status_code=403)
    return RedirectResponse(request.url.replace(scheme="https", port=https_port), 308)


def refuse_everything(request: Request, https_port: int) -> Response:
    return JSONResponse({"detail": "no"}, status_code=403)


@pytest.mark.slow
@pytest.mark.parametrize(("wrong", "failing", "still_passing"), [
    ({"issue_server_certificate": cn_only}, [NAMES, HANDSHAKE], [LIFETIME, CHAINED]),
    ({"issue_server_certificate": with_extensions(IP_AS_NAME)}, [NAMES, HANDSHAKE], [CHAINED]),
    ({"issue_server_certificate": with_extensions((GOOD_SAN[0], True))}, [NAMES], []),
    ({"issue_server_certificate": with_extensions(GOOD_SAN, days=3650)}, [LIFETIME], [NAMES]),
    ({"issue_server_certificate": with_extensions(GOOD_SAN, signer=tls.new_private_key())},
     [CHAINED, HANDSHAKE], [NAMES]),
    ({"issue_server_certificate": with_extensions(GOOD_SAN, CA_TRUE)}, [SERVER_ONLY], [NAMES]),
    ({"tls_client": no_verification}, [STRANGERS, HOST_NAME], [CONNECTS]),
    ({"tls_client": system_trust}, [CONNECTS], [STRANGERS]),
    ({"tls_client": no_host_name_check}, [HOST_NAME], [CONNECTS, STRANGERS]),
    ({"answer_plain_http": tls.answer_plain_http_naive}, [REDIRECTS, REFUSES, SILENT], []),
    ({"answer_plain_http": moved_permanently}, [REDIRECTS], [REFUSES, SILENT]),
    ({"answer_plain_http": same_port}, [REDIRECTS], [REFUSES]),
    ({"answer_plain_http": refuse_only_tokens}, [REFUSES, SILENT], [REDIRECTS]),
    ({"answer_plain_http": refuse_everything}, [REDIRECTS], [REFUSES, SILENT]),
])
def test_checks_fail_plausible_wrong_answers(wrong, failing, still_passing) -> None:
    statuses = run_only(failing + still_passing, **wrong)
    assert all(statuses[name] == FAILED for name in failing), statuses
    assert all(statuses[name] == "passed" for name in still_passing), statuses


@pytest.mark.slow
def test_the_capture_check_fails_a_client_that_talks_plain_http() -> None:
    def downgrade(base_url: str, ca_file: Path) -> httpx2.Client:
        return httpx2.Client(base_url=base_url.replace("https://", "http://"))

    # The server only speaks TLS, so a plain client cannot even log in: still a failure.
    assert run_only([CAPTURE], tls_client=downgrade)[CAPTURE] == FAILED


# -- the command line --------------------------------------------------------------------------


@contextmanager
def serving_https(data_dir: Path) -> Iterator[tuple[Served, int]]:
    """``serve --lesson 4 --https --http-port P``, stopped with Ctrl+C as a learner stops it."""
    http_port = free_port()
    env = {**os.environ, "LESSONS_DATA_DIR": str(data_dir)}
    with serving("--lesson", "4", "--https", "--http-port", str(http_port), env=env,
                 scheme="https", stop=signal.SIGINT) as served:
        yield served, http_port


@pytest.mark.slow
def test_serve_https_with_plain_http_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with serving_https(data_dir) as (served, http_port):
        port = served.port
        ca_file = data_dir / "tls" / "ca.pem"
        context = tls.client_context(ca_file)
        health = httpx2.get(f"https://127.0.0.1:{port}/health", verify=context)
        assert health.json() == {"status": "ok"}
        assert health.headers["strict-transport-security"] == tls.HSTS
        page = httpx2.get(f"http://127.0.0.1:{http_port}/docs")
        assert (page.status_code, page.headers["location"]) == (
            308, f"https://127.0.0.1:{port}/docs")
        api = httpx2.post(f"http://127.0.0.1:{http_port}/auth/token", data={"username": "a"})
        assert api.status_code == 403
        if shutil.which("curl"):
            curl = subprocess.run(["curl", "-sS", "--cacert", str(ca_file),
                                   f"https://127.0.0.1:{port}/health"],
                                  capture_output=True, text=True, timeout=30)
            assert curl.stdout == '{"status":"ok"}', curl.stderr
        first_certificate = (data_dir / "tls" / "server.pem").read_bytes()
    assert f"at https://127.0.0.1:{port}" in served.output
    assert f"local CA in {ca_file}" in served.output
    assert not listening(port) and not listening(http_port)
    assert mode(data_dir / "tls") == 0o700 and mode(data_dir / "tls" / "ca-key.pem") == 0o600
    with serving_https(data_dir):  # a restart reuses the certificate
        assert (data_dir / "tls" / "server.pem").read_bytes() == first_certificate


def test_http_port_needs_https(tmp_path: Path) -> None:
    env = {**os.environ, "LESSONS_DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "lessons", "serve", "--http-port", "8080"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "--http-port needs --https" in result.stderr


# -- nothing is left listening ------------------------------------------------------------------


def own_listeners() -> set[int]:
    return {c.laddr.port for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}


@pytest.mark.slow
def test_the_lessons_servers_leave_nothing_listening(files: tls.TlsFiles, make_app) -> None:
    before = own_listeners()
    threads_before = set(threading.enumerate())
    app = make_app(4)
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    ports = []
    with https_server(files, app) as secure, \
            BackgroundServer(tls.PlainHttpListener(secure.port)) as plain, \
            TlsTerminatingProxy("127.0.0.1", plain.port, tls.server_context(files)) as proxy:
        ports += [secure.port, plain.port, proxy.port]
        assert set(ports) <= own_listeners()
        attacks.run_capture(secure.url, "alice", alice.password,
                            lambda url: tls.tls_client(url, files.ca_file))
        attacks.run_silent_redirect(plain.url, "alice", alice.password,
                                    verify=tls.client_context(files.ca_file))
    report = run_only([HANDSHAKE, CONNECTS, SILENT])
    assert set(report.values()) == {"passed"}
    deadline = time.monotonic() + 5
    while own_listeners() - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert own_listeners() - before == set()
    leftover = [t.name for t in set(threading.enumerate()) - threads_before
                if t.name.startswith(("lessons-server", "relay", "tls-proxy"))]
    assert leftover == []


LISTENERS = """
import json, threading
import psutil

def _listening_ports():
    return {c.laddr.port for c in psutil.Process().net_connections(kind="tcp")
            if c.status == psutil.CONN_LISTEN}
"""
BASELINE = LISTENERS + "_kernel_ports = _listening_ports()  # the kernel's own sockets\n"
PROBE = LISTENERS + """
_threads = [t.name for t in threading.enumerate()
            if t.name.startswith(("lessons-server", "relay", "tls-proxy"))]
print(json.dumps({"listening": sorted(_listening_ports() - _kernel_ports), "threads": _threads}))
"""


@pytest.mark.slow
def test_the_notebook_leaves_nothing_listening_when_it_ends() -> None:
    """Run the solved notebook between two extra cells: one before it notes the kernel's own
    listening sockets, one after ``lab.close()`` lists anything else still listening and any
    server thread still alive."""
    import json

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(workbook.SOLUTIONS / NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(BASELINE))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(workbook.SOLUTIONS)}}).execute()
    probe = json.loads(nb.cells[-1].outputs[0]["text"])
    assert probe == {"listening": [], "threads": []}
