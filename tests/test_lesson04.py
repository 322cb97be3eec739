"""Lesson 04: the TLS layer against real uvicorn servers on loopback (certificates, protocol
floor, AEAD-only suites, key-exchange groups, sslyze, curl), the plain-HTTP listener and its
audit events, HSTS, forwarded headers and the proxy loop, the host allow-list (and where it
sits in the stack); the attacks' evidence; the CLI; and that nothing is left listening.

The attacks both ways are in tests/test_attacks.py, the checks and their wrong answers in
tests/test_check_suites.py."""

from __future__ import annotations

import asyncio
import ipaddress
import json
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
from starlette.responses import JSONResponse
from starlette.testclient import TestClient

from lessons import logs, optional, workbook
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson04 as attacks
from lessons.checks import PASSED, run_with
from lessons.checks.lesson04 import REFERENCE, suite
from lessons.server import BackgroundServer
from lessons.service import create_app
from lessons.settings import Settings
from lessons.tls import certificates, context, hosts, hsts, plain_http, probes, proxies
from lessons.tls.certificates import TlsFiles
from lessons.wire import Relay, TlsTerminatingProxy
from lessons.wiring import SLOT_NAMES

NOTEBOOK = "04_https.ipynb"


@pytest.fixture
def files(tmp_path: Path) -> TlsFiles:
    return certificates.ensure_certificates(tmp_path / "data")


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
    ca = certificates.create_authority()
    key = certificates.new_private_key()
    certificate = certificates.issue_server_certificate(ca, key.public_key())
    assert certificates.certificate_problems(certificate, ca.certificate) == []
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
    ca = certificates.create_authority()
    foreign = certificates.issue_server_certificate(ca, certificates.new_private_key().public_key(),
                                           ("bank.example", "127.0.0.1"))
    verifier = verification.PolicyBuilder().store(verification.Store([ca.certificate]))
    with pytest.raises(verification.VerificationError, match="name constraints"):
        verifier.build_server_verifier(x509.DNSName("bank.example")).verify(foreign, [])


def _certificate(ca: certificates.Authority, *, names: list[x509.GeneralName] | None = None,
                 critical_san: bool = False, days: int = 90,
                 signer: Any = None) -> x509.Certificate:
    key = certificates.new_private_key()
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
    ca = certificates.create_authority()
    if change.get("signer") == "stranger":
        change = {**change, "signer": certificates.new_private_key()}
    problems = certificates.certificate_problems(_certificate(ca, **change), ca.certificate)
    assert any(problem in text for text in problems), problems


def test_certificates_are_made_private_and_reused(tmp_path: Path) -> None:
    files = certificates.ensure_certificates(tmp_path / "data")
    assert mode(files.folder) == 0o700
    for path in (files.ca_file, files.ca_key, files.certfile, files.keyfile):
        assert mode(path) == 0o600, path.name
    before = {path: path.read_bytes() for path in files.folder.iterdir()}
    files.keyfile.chmod(0o644)  # copied around carelessly
    again = certificates.ensure_certificates(tmp_path / "data")
    assert {path: path.read_bytes() for path in again.folder.iterdir()} == before
    assert mode(again.keyfile) == 0o600


def test_a_certificate_about_to_expire_is_renewed_with_the_same_ca(tmp_path: Path) -> None:
    files = certificates.ensure_certificates(tmp_path / "data")
    ca = certificates.load_authority(files)
    old_ca = files.ca_file.read_bytes()
    nearly_expired = _certificate(ca, names=[LOCALHOST, LOOPBACK_IP], days=3)
    files.certfile.write_bytes(nearly_expired.public_bytes(serialization.Encoding.PEM))
    certificates.ensure_certificates(tmp_path / "data")
    renewed = certificates.load_certificate(files.certfile)
    assert renewed != nearly_expired
    assert certificates.certificate_problems(renewed, ca.certificate) == []
    assert files.ca_file.read_bytes() == old_ca


def test_a_damaged_ca_is_replaced_and_the_server_certificate_reissued(tmp_path: Path) -> None:
    files = certificates.ensure_certificates(tmp_path / "data")
    files.ca_key.write_bytes(b"not a key")
    certificates.ensure_certificates(tmp_path / "data")
    ca = certificates.load_authority(files)
    renewed = certificates.load_certificate(files.certfile)
    assert certificates.certificate_problems(renewed, ca.certificate) == []


# -- the TLS profile, against real servers -----------------------------------------------------


@contextmanager
def https_server(files: TlsFiles, app: Any = None,
                 **options: Any) -> Iterator[BackgroundServer]:
    from fastapi import FastAPI

    app = app if app is not None else FastAPI()
    with BackgroundServer(app, certfile=files.certfile, keyfile=files.keyfile,
                          **options) as server:
        yield server


@pytest.mark.slow
def test_only_tls_12_and_13_with_aead_suites(files: TlsFiles) -> None:
    with https_server(files) as server:
        def probe(**options: Any) -> probes.Handshake:
            return probes.try_handshake("127.0.0.1", server.port, files.ca_file, **options)

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
def test_pythons_default_server_context_is_what_the_hardening_fixes(files: TlsFiles) -> None:
    with https_server(files, ssl_context_factory=None) as server:
        cbc = probes.try_handshake("127.0.0.1", server.port, files.ca_file,
                                version=ssl.TLSVersion.TLSv1_2,
                                ciphers="ECDHE-ECDSA-AES128-SHA256")
        assert cbc.accepted  # so the refusal above is the hardening's doing


def _handshake_with_group(port: int, ca_file: Path, group: str) -> bool:
    trust = context.client_context(ca_file)
    trust.set_ecdh_curve(group)  # the client offers this one group only
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                trust.wrap_socket(raw, server_hostname="127.0.0.1"):
            return True
    except ssl.SSLError:
        return False


@pytest.mark.slow
def test_key_exchange_is_limited_to_the_profiles_groups(files: TlsFiles) -> None:
    with https_server(files) as hardened, https_server(files, ssl_context_factory=None) as plain:
        assert _handshake_with_group(hardened.port, files.ca_file, "prime256v1")
        for group in ("secp521r1", "X448"):
            assert not _handshake_with_group(hardened.port, files.ca_file, group)
            assert _handshake_with_group(plain.port, files.ca_file, group)


def test_without_sslyze_the_scan_says_so_and_what_it_would_have_shown(monkeypatch) -> None:
    monkeypatch.setattr(optional, "available", lambda name: False)
    [line] = probes.mozilla_compliance(1, Path("ca.pem"))
    assert "sslyze is not installed here" in line and "Compliant" in line


@pytest.mark.slow
def test_sslyze_finds_the_server_compliant_with_mozilla_intermediate(files: TlsFiles) -> None:
    if not optional.available("sslyze"):
        if os.environ.get("LESSONS_CI"):
            pytest.fail("sslyze must be installed in CI")
        pytest.skip(optional.absence("sslyze"))
    with https_server(files) as hardened, https_server(files, ssl_context_factory=None) as plain:
        assert probes.mozilla_compliance(hardened.port, files.ca_file) == [
            f"127.0.0.1:{hardened.port}: OK - Compliant."]
        verdict = probes.mozilla_compliance(plain.port, files.ca_file)
    assert verdict[0] == f"127.0.0.1:{plain.port}: FAILED - Not compliant."
    assert any("CBC" in line for line in verdict)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_trusts_the_server_with_the_ca_file_only(files: TlsFiles) -> None:
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
def test_a_client_without_the_ca_gets_a_clear_error(files: TlsFiles) -> None:
    with https_server(files) as server:
        with pytest.raises(httpx2.ConnectError) as caught:
            httpx2.get(f"{server.url}/docs")
        with context.tls_client(server.url, files.ca_file) as client:
            assert client.get("/docs").status_code == 200
    assert context.tls_error(caught.value) == (
        "ConnectError: certificate verify failed: unable to get local issuer certificate")


# -- HSTS, the plain-HTTP listener, forwarded headers ------------------------------------------


@pytest.mark.slow
def test_hsts_on_https_responses_only(files: TlsFiles, make_app) -> None:
    app = make_app(4)
    with https_server(files, app) as secure, BackgroundServer(app) as plain, \
            BackgroundServer(plain_http.PlainHttpListener(secure.port)) as redirector:
        with context.tls_client(secure.url, files.ca_file) as client:
            for path in ("/health", "/nowhere", "/users/me"):  # 200, 404, 401 alike
                assert client.get(path).headers["strict-transport-security"] == hsts.HSTS
        assert "strict-transport-security" not in httpx2.get(f"{plain.url}/health").headers
        redirect = httpx2.get(f"{redirector.url}/docs")
        assert redirect.status_code == 308
        assert "strict-transport-security" not in redirect.headers


@pytest.mark.slow
def test_plain_http_redirects_pages_and_refuses_api_calls(files: TlsFiles, make_app) -> None:
    app = make_app(4)
    store = app.state.service.store
    with https_server(files, app) as secure, \
            BackgroundServer(plain_http.PlainHttpListener(secure.port)) as plain:
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
        with httpx2.Client(verify=context.client_context(files.ca_file),
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
    guarded = proxies.TrustedProxyHeaders(echo_scope_app(), trusted=["10.0.0.5"])
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1, 203.0.113.9"}
    from_proxy = TestClient(guarded, client=("10.0.0.5", 1234)).get("/", headers=headers).json()
    assert from_proxy["scheme"] == "https"
    # The client is what the proxy appended, not the claim to the left of it.
    assert from_proxy["client"] == "203.0.113.9"
    outsider = TestClient(guarded, client=("203.0.113.7", 1234)).get("/", headers=headers).json()
    assert outsider == {"scheme": "http", "client": "203.0.113.7", "forwarded": {}}


@pytest.mark.slow
def test_behind_a_proxy_the_loop_ends_and_only_the_proxy_is_believed(files: TlsFiles,
                                                                    make_app) -> None:
    proxy_address = second_loopback_address()
    if proxy_address is None:
        pytest.skip("this system routes only 127.0.0.1 to loopback")
    trust = context.client_context(files.ca_file)

    def browser(url: str) -> httpx2.Client:
        return httpx2.Client(base_url=url, verify=trust, follow_redirects=True,
                             max_redirects=5, timeout=10)

    naive = HTTPSRedirectMiddleware(make_app(4))
    fixed = proxies.TrustedProxyHeaders(HTTPSRedirectMiddleware(make_app(4)),
                                        trusted=[proxy_address])
    with BackgroundServer(naive, proxy_headers=False) as app, \
            TlsTerminatingProxy("127.0.0.1", app.port, context.server_context(files),
                                source=proxy_address) as proxy, browser(proxy.url()) as client:
        assert attacks.run_redirect_loop(client).succeeded
    with BackgroundServer(fixed, proxy_headers=False) as app, \
            TlsTerminatingProxy("127.0.0.1", app.port, context.server_context(files),
                                source=proxy_address) as proxy, browser(proxy.url()) as client:
        assert not attacks.run_redirect_loop(client).succeeded
        assert client.get("/health").headers["strict-transport-security"] == hsts.HSTS
        # A local client that is not the proxy (127.0.0.1) claims HTTPS: not believed.
        with httpx2.Client(base_url=app.url, follow_redirects=False) as direct:
            spoofed = attacks.spoof_https(direct)
        assert spoofed.status_code == 307
        assert "strict-transport-security" not in spoofed.headers


# -- the host allow-list ----------------------------------------------------------------------

OWN = hosts.normal_hosts(["localhost", "127.0.0.1", "[::1]"])


@pytest.mark.parametrize(("host", "allowed"), [
    ("localhost", True), ("LOCALHOST:8443", True), ("127.0.0.1:8000", True), ("[::1]", True),
    ("[::1]:8443", True), ("[0:0:0:0:0:0:0:1]:8443", True),
    (None, False), ("", False), ("evil.example", False), ("evil.example:8443", False),
    ("localhost.", False), ("localhost.evil.example", False), ("127.0.0.1.nip.io", False),
    ("localhost:", False), ("localhost:99999", False), ("localhost:8443:1", False),
    ("localhost@evil.example", False), ("evil.example@localhost", False),
    ("localhost/evil.example", False), ("localhost\r\nX-Injected: 1", False), ("::1", False),
    ("[::1]:8443]", False), ("[::g]", False), ("localhost:８４４３", False),
])
def test_host_allowed_parses_strictly_and_compares_whole_names(host, allowed) -> None:
    assert hosts.host_allowed(host, OWN) is allowed


def test_an_allow_list_from_the_settings_is_normalised() -> None:
    assert hosts.normal_hosts([" LocalHost ", "[::1]", "0:0::1", "127.0.0.1", ""]) == {
        "localhost", "::1", "127.0.0.1"}


def test_the_allowed_hosts_come_from_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LESSONS_ALLOWED_HOSTS", "notes.example, localhost")
    settings = Settings.from_env(data_dir=tmp_path / "data")
    assert settings.allowed_hosts == ("notes.example", "localhost")
    client = TestClient(create_app(4, settings), base_url="https://notes.example")
    assert client.get("/health").status_code == 200
    for other in ("127.0.0.1", "testserver"):  # the defaults, no longer listed
        assert client.get("/health", headers={"Host": other}).status_code == 400


@pytest.mark.parametrize("upto", [4, "final"])
def test_a_foreign_host_gets_400_before_any_route_or_redirect(make_app, upto) -> None:
    app = make_app(upto)
    client = TestClient(app, base_url="https://localhost")
    own = client.get("/notes/", follow_redirects=False)
    # Starlette's trailing-slash redirect, for one of our own names.
    assert (own.status_code, own.headers["location"]) == (307, "https://localhost/notes")
    for host in ("evil.example", "evil.example:443", "localhost.evil.example", "203.0.113.7"):
        for method, path, body in (("GET", "/notes/", None), ("GET", "/health", None),
                                   ("POST", "/users", {"username": "eve", "email":
                                                       "eve@example.org",
                                                       "password": "a long enough phrase"})):
            answer = client.request(method, path, json=body, headers={"Host": host},
                                    follow_redirects=False)
            assert answer.status_code == 400 and answer.json() == hosts.REFUSAL, (host, path)
            assert "location" not in answer.headers
            # A name that is not ours never receives our HSTS policy.
            assert "strict-transport-security" not in answer.headers
    assert app.state.service.store.get_user("eve") is None  # no route was reached


def _asgi_answer(app: Any, scope_type: str, headers: list[tuple[bytes, bytes]]) -> dict:
    """Call an ASGI app once with a hand-made scope: what no HTTP client will send."""
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": scope_type, "method": "GET", "path": "/", "raw_path": b"/",
             "query_string": b"", "headers": headers, "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000),
             "http_version": "1.1", "root_path": ""}
    asyncio.run(app(scope, receive, send))
    return sent[0]


def test_several_hosts_and_foreign_websockets_are_refused() -> None:
    guarded = hosts.AllowedHosts(JSONResponse({"reached": True}), ["localhost"])
    assert _asgi_answer(guarded, "http", [(b"host", b"localhost")])["status"] == 200
    # No Host at all (HTTP/1.0): judged by the server's address, which URLs then name.
    assert _asgi_answer(guarded, "http", [])["status"] == 400
    on_loopback = hosts.AllowedHosts(JSONResponse({"reached": True}), ["127.0.0.1"])
    assert _asgi_answer(on_loopback, "http", [])["status"] == 200
    # Two Host headers: parts of a system may read different ones (RFC 9112 3.2).
    assert _asgi_answer(guarded, "http", [(b"host", b"localhost"),
                                          (b"host", b"evil.example")])["status"] == 400
    assert _asgi_answer(guarded, "websocket", [(b"host", b"evil.example")]) == {
        "type": "websocket.close", "code": 1008}


def test_the_host_check_sits_inside_the_proxy_check_and_the_request_log(tmp_path) -> None:
    """A refusal is logged, with the client the trusted proxy named: the position in STACK."""
    order = [SLOT_NAMES.index(name) for name in
             ("trusted_proxies", "request_log", "allowed_hosts")]
    assert order == sorted(order)
    settings = Settings.from_env(data_dir=tmp_path / "data", trusted_proxies=("10.0.0.5",))
    client = TestClient(create_app(8, settings), base_url="https://localhost",
                        client=("10.0.0.5", 50000))
    with logs.capture() as captured:
        refused = client.get("/health", headers={"Host": "evil.example",
                                                 "X-Forwarded-For": "198.51.100.7"})
    assert refused.status_code == 400 and "x-request-id" in refused.headers
    [line] = [entry for entry in captured.json() if entry["logger"] == logs.ACCESS]
    assert (line["status"], line["client"], line["path"]) == (400, "198.51.100.7", "/health")


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
                                        lambda url: context.tls_client(url, files.ca_file))
    assert capture.token  # the login worked, through the relay
    assert not attacks.judge_capture(capture).succeeded
    assert capture.readable_lines() == []
    assert capture.tls_records()[0] == "handshake" and "application_data" in capture.tls_records()


@pytest.mark.slow
def test_silent_redirect_succeeds_against_redirect_everything_only(files, make_app) -> None:
    app = make_app(4)
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    trust = context.client_context(files.ca_file)
    outcomes = {}
    with https_server(files, app) as secure:
        for answer in (plain_http.answer_plain_http_naive, plain_http.answer_plain_http):
            listener = plain_http.PlainHttpListener(secure.port, answer=answer)
            with BackgroundServer(listener) as plain:
                outcomes[answer.__name__] = attacks.run_silent_redirect(
                    plain.url, "alice", alice.password, verify=trust)
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


def test_relay_records_what_the_client_sent_after_the_server_closed() -> None:
    # A server that answers after the head and closes, as the plain-HTTP refusal may: the body
    # the client sends next crossed the network all the same, and the relay must say so.
    with socket.create_server(("127.0.0.1", 0)) as server:
        def answer_and_close() -> None:
            connection, _ = server.accept()
            with connection:
                connection.recv(100)
                connection.sendall(b"403")

        thread = threading.Thread(target=answer_and_close, daemon=True)
        thread.start()
        with Relay("127.0.0.1", server.getsockname()[1]) as relay:
            with socket.create_connection(("127.0.0.1", relay.port)) as client:
                client.sendall(b"head")
                thread.join(5)  # the server has answered and closed
                assert client.recv(100) == b"403"
                client.sendall(b"password=hunter2")
                assert client.recv(100) == b""
        assert relay.sent() == b"headpassword=hunter2"


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
        trust = context.client_context(ca_file)
        health = httpx2.get(f"https://127.0.0.1:{port}/health", verify=trust)
        assert health.json() == {"status": "ok"}
        assert health.headers["strict-transport-security"] == hsts.HSTS
        page = httpx2.get(f"http://127.0.0.1:{http_port}/docs")
        assert (page.status_code, page.headers["location"]) == (
            308, f"https://127.0.0.1:{port}/docs")
        api = httpx2.post(f"http://127.0.0.1:{http_port}/auth/token", data={"username": "a"})
        assert api.status_code == 403
        # The HTTPS port answers for its own names only, over a real connection too.
        foreign = httpx2.get(f"https://127.0.0.1:{port}/notes/", verify=trust,
                             headers={"Host": "evil.example"}, follow_redirects=False)
        assert foreign.status_code == 400 and "location" not in foreign.headers
        if shutil.which("curl"):
            curl = subprocess.run(["curl", "-sS", "--cacert", str(ca_file),
                                   f"https://127.0.0.1:{port}/health"],
                                  capture_output=True, text=True, timeout=30)
            assert curl.stdout == '{"status":"ok"}', curl.stderr
        first_certificate = (data_dir / "tls" / "server.pem").read_bytes()
    assert f"at https://127.0.0.1:{port}" in served.output
    assert f"local CA in {ca_file}" in served.output
    assert "plaintext.refused" not in served.output  # lesson 04 has no audit trail yet
    assert not listening(port) and not listening(http_port)
    assert mode(data_dir / "tls") == 0o700 and mode(data_dir / "tls" / "ca-key.pem") == 0o600
    with serving_https(data_dir):  # a restart reuses the certificate
        assert (data_dir / "tls" / "server.pem").read_bytes() == first_certificate


def test_plain_http_refusals_are_audit_events_without_the_credential() -> None:
    events: list[tuple[str, dict]] = []

    def audit(event: str, user: str | None = None, **fields: object) -> None:
        events.append((event, fields))

    client = TestClient(plain_http.PlainHttpListener(8443, audit=audit),
                        base_url="http://localhost:8080", client=("203.0.113.7", 50000),
                        follow_redirects=False)
    assert client.get("/docs").status_code == 308  # a page load: no event
    client.get("/users/me?page=2", headers={"Authorization": "Bearer secret-token-value"})
    client.post("/auth/token", data={"username": "alice", "password": "typed-in-clear"})
    client.get("/docs", headers={"Host": "evil.example"})
    assert events == [
        ("plaintext.refused", {"method": "GET", "path": "/users/me", "client": "203.0.113.7",
                               "status": 403, "reason": "Authorization header over plain HTTP"}),
        ("plaintext.refused", {"method": "POST", "path": "/auth/token", "client": "203.0.113.7",
                               "status": 403, "reason": "not a page load"}),
        ("plaintext.refused", {"method": "GET", "path": "/docs", "client": "203.0.113.7",
                               "status": 400, "reason": "unknown host"}),
    ]


@pytest.mark.slow
def test_served_from_lesson_08_the_plain_port_logs_refusals_as_redacted_audit_events(
        tmp_path: Path) -> None:
    secret = "secret-" + new_password()
    http_port = free_port()
    env = {**os.environ, "LESSONS_DATA_DIR": str(tmp_path / "var")}
    with serving("--lesson", "8", "--https", "--http-port", str(http_port), env=env,
                 scheme="https", stop=signal.SIGINT) as served:
        plain = f"http://127.0.0.1:{http_port}"
        assert httpx2.get(f"{plain}/users/me?access_token={secret}",
                          headers={"Authorization": f"Bearer {secret}"}).status_code == 403
        assert httpx2.post(f"{plain}/auth/token",
                           data={"username": "alice", "password": secret}).status_code == 403
    lines = [json.loads(line) for line in served.output.splitlines() if line.startswith("{")]
    events = [line for line in lines if line.get("event") == "plaintext.refused"]
    assert [(e["method"], e["path"], e["client"], e["reason"]) for e in events] == [
        ("GET", "/users/me", "127.0.0.1", "Authorization header over plain HTTP"),
        ("POST", "/auth/token", "127.0.0.1", "not a page load")]
    assert {e["logger"] for e in events} == {logs.AUDIT}
    assert secret not in served.output  # not in the events, nor in the access log's query


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
def test_the_lessons_servers_leave_nothing_listening(files: TlsFiles, make_app) -> None:
    before = own_listeners()
    threads_before = set(threading.enumerate())
    app = make_app(4)
    alice = seed(app, Account("alice", new_password()), notes_each=0)["alice"]
    ports = []
    with https_server(files, app) as secure, \
            BackgroundServer(plain_http.PlainHttpListener(secure.port)) as plain, \
            TlsTerminatingProxy("127.0.0.1", plain.port, context.server_context(files)) as proxy:
        ports += [secure.port, plain.port, proxy.port]
        assert set(ports) <= own_listeners()
        attacks.run_capture(secure.url, "alice", alice.password,
                            lambda url: context.tls_client(url, files.ca_file))
        attacks.run_silent_redirect(plain.url, "alice", alice.password,
                                    verify=context.client_context(files.ca_file))
    report = run_with(suite, REFERENCE, {},
                      only=["cert_handshake", "client_trusts_ca", "plain_silent_redirect"])
    assert {outcome.status for outcome in report.outcomes} == {PASSED}
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

    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(workbook.SOLUTIONS / NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(BASELINE))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(workbook.SOLUTIONS)}}).execute()
    probe = json.loads(nb.cells[-1].outputs[0]["text"])
    assert probe == {"listening": [], "threads": []}


def test_a_500_over_https_carries_hsts_too(tmp_path) -> None:
    """HSTS sits outside the request log, whose generic 500 answers what nothing handled."""
    app = create_app(8, Settings.from_env(data_dir=tmp_path / "data"))

    def boom() -> None:
        raise RuntimeError("an unexpected failure")

    app.add_api_route("/boom", boom)
    client = TestClient(app, base_url="https://localhost", raise_server_exceptions=False)
    answer = client.get("/boom")
    assert answer.status_code == 500 and "x-request-id" in answer.headers
    assert answer.headers["strict-transport-security"] == hsts.HSTS
