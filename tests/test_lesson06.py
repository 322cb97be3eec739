"""Lesson 06: the session routes keep the service contract; every attack succeeds against its
vulnerable variant and fails against the reference; the browser stand-in follows the cookie
rules it documents; the checks pass the solution and the reference, call the stubs not
attempted, and fail plausible wrong answers; and the facts the lesson states about
itsdangerous and FastAPI hold."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from typing import Any

import pytest
from fastapi import HTTPException
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient
from itsdangerous import BadSignature, Signer, URLSafeSerializer, URLSafeTimedSerializer

from lessons import basic_auth, sessions
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson06 as attacks
from lessons.browser import Browser, fetch_site, site_of
from lessons.checks import FAILED, PASSED
from lessons.checks.lesson06 import REFERENCE, estimated_bits, suite
from lessons.layers import Layers
from lessons.store import Session
from lessons.tls import certificates as tls

NOTEBOOK = "06_sessions.ipynb"
COOKIE, CSRF = sessions.COOKIE, sessions.CSRF_HEADER


@pytest.fixture
def scene(make_app) -> attacks.Scene:
    return attacks.stage(make_app(6))


def session_rows(app) -> list[Any]:
    return app.state.service.store.query("SELECT * FROM sessions")


# -- the contract of the session routes -------------------------------------------------------


def test_login_sets_the_host_cookie_and_returns_the_csrf_token(scene) -> None:
    response = scene.login_response("alice")
    assert response.status_code == 204 and response.content == b""
    assert response.headers["Cache-Control"] == "no-store"
    attributes = attacks.set_cookie_attributes(response)[COOKIE]
    assert set(attributes) == {"secure", "httponly", "samesite", "path", "max-age"}
    assert attributes["samesite"].lower() == "lax" and attributes["path"] == "/"
    token = response.headers[CSRF]
    assert len(token) >= 43  # 32 random bytes, base64url
    row = session_rows(scene.app)[0]
    assert row["csrf_token"] == token


def test_the_cookie_holds_a_signed_256_bit_id_and_the_database_only_its_hash(scene) -> None:
    cookie, _ = scene.login("alice")
    session_id = sessions.session_id_from(scene.app.state.service.settings, cookie)
    assert session_id is not None and len(attacks.unb64url(session_id)) == 32
    stored = [tuple(row) for row in session_rows(scene.app)]
    assert stored[0][0] == hashlib.sha256(session_id.encode()).hexdigest()
    flat = {str(value) for row in stored for value in row}
    assert session_id not in flat and cookie not in flat


def test_me_answers_username_and_role_and_the_csrf_token(scene) -> None:
    cookie, csrf = scene.login("alice")
    response = scene.me(cookie)
    assert response.status_code == 200
    assert response.json() == {"username": "alice", "role": "user"}
    assert response.headers[CSRF] == csrf


def test_no_forged_or_garbage_session_gets_in(scene) -> None:
    cookie, _ = scene.login("alice")
    other_key = Signer(secrets.token_urlsafe(32), salt=sessions.SALT,
                       digest_method=hashlib.sha256).sign(secrets.token_urlsafe(32)).decode()
    # Change the signature's first character: its last one also holds base64 padding bits,
    # and some changes there decode to the very same signature.
    start = cookie.rindex(".") + 1
    tampered = cookie[:start] + ("A" if cookie[start] != "A" else "B") + cookie[start + 1:]
    for value in (None, "", "garbage", tampered, other_key, "é" * 10):
        response = (scene.request("GET", "/session/me") if value is None
                    else scene.request("GET", "/session/me",
                                       headers={"Cookie": f"{COOKIE}={value}".encode("latin-1")}))
        assert response.status_code == 401, value
        assert response.headers["WWW-Authenticate"] == sessions.CHALLENGE


def test_logout_needs_the_csrf_token_deletes_the_record_and_clears_the_cookie(scene) -> None:
    cookie, csrf = scene.login("alice")
    assert scene.request("POST", "/session/logout", cookie=cookie).status_code == 403
    assert len(session_rows(scene.app)) == 1
    response = scene.request("POST", "/session/logout", cookie=cookie, csrf=csrf)
    assert response.status_code == 204
    cleared = attacks.set_cookie_attributes(response)[COOKIE]
    assert cleared["max-age"] == "0" and "secure" in cleared and cleared["path"] == "/"
    assert session_rows(scene.app) == []
    assert scene.me(cookie).status_code == 401


def test_a_real_client_jar_keeps_and_drops_the_cookie(make_app) -> None:
    scene = attacks.stage(make_app(6))
    client = TestClient(scene.app, base_url="https://testserver")
    account = scene.accounts["alice"]
    login = client.post("/session/login",
                        data={"username": "alice", "password": account.password})
    assert client.get("/session/me").status_code == 200
    assert client.post("/session/logout",
                       headers={CSRF: login.headers[CSRF]}).status_code == 204
    assert COOKIE not in client.cookies
    assert client.get("/session/me").status_code == 401
    # Over plain HTTP the same jar keeps the Secure cookie to itself.
    plain = TestClient(scene.app)
    plain.post("/session/login", data={"username": "alice", "password": account.password})
    assert plain.get("/session/me").status_code == 401


def test_a_new_id_at_every_login_and_the_presented_session_ends(scene) -> None:
    first, _ = scene.login("alice")
    second, _ = scene.login("alice", cookie=first)
    assert second != first
    assert scene.me(first).status_code == 401 and scene.me(second).status_code == 200
    # Two browsers of the same user keep their own sessions.
    third, _ = scene.login("alice")
    assert scene.me(second).status_code == 200 and scene.me(third).status_code == 200


def test_bad_credentials_get_one_answer_and_end_nothing(scene) -> None:
    cookie, _ = scene.login("alice")
    answers = [scene.request("POST", "/session/login", cookie=cookie,
                             data={"username": name, "password": "wrong-demo-pass"})
               for name in ("alice", "nobody")]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json() == answers[1].json()
    assert all(COOKIE not in attacks.set_cookie_attributes(a) for a in answers)
    assert scene.me(cookie).status_code == 200


def test_the_password_is_checked_off_the_event_loop(make_app) -> None:
    threads: list[bool] = []

    def authenticate(store, hasher, username, password):
        try:
            asyncio.get_running_loop()
            threads.append(False)
        except RuntimeError:
            threads.append(True)  # no event loop in this thread: a worker thread
        return basic_auth.authenticate(store, hasher, username, password)

    scene = attacks.stage(make_app(6, authenticate=authenticate))
    scene.login("alice")
    assert threads == [True]


def test_timeouts_come_from_settings(tmp_path) -> None:
    from lessons.service import create_app
    from lessons.settings import Settings

    settings = Settings.from_env(data_dir=tmp_path / "short", session_idle_minutes=2,
                                 session_absolute_hours=1)
    scene = attacks.stage(create_app(6, settings))
    cookie, _ = scene.login("alice")
    scene.age_sessions(idle=110, age=110)
    assert scene.me(cookie).status_code == 200  # and last_seen moves to now
    scene.age_sessions(idle=130, age=130)  # 130 s idle: past 2 minutes
    assert scene.me(cookie).status_code == 401
    fresh, _ = scene.login("alice")
    scene.age_sessions(idle=30, age=3550)
    assert scene.me(fresh).status_code == 200
    scene.age_sessions(idle=30, age=60)  # 3610 s after login: past 1 hour
    assert scene.me(fresh).status_code == 401


def test_activity_moves_last_seen_at_most_once_a_minute(scene) -> None:
    cookie, _ = scene.login("alice")
    before = session_rows(scene.app)[0]["last_seen"]
    scene.me(cookie)
    assert session_rows(scene.app)[0]["last_seen"] == before  # no write within the minute
    scene.age_sessions(idle=20 * 60)
    scene.me(cookie)
    assert session_rows(scene.app)[0]["last_seen"] >= int(time.time()) - 5
    scene.age_sessions(idle=20 * 60)
    assert scene.me(cookie).status_code == 200  # 20 + 20 minutes, but active in between


def test_login_removes_sessions_that_can_no_longer_be_used(scene) -> None:
    scene.login("alice")
    scene.age_sessions(idle=31 * 60, age=31 * 60)
    scene.login("mallory")
    assert [row["username"] for row in session_rows(scene.app)] == ["mallory"]


def test_deleting_a_user_deletes_their_sessions(scene) -> None:
    cookie, _ = scene.login("bob")
    assert len(session_rows(scene.app)) == 1
    scene.app.state.service.store.delete_user("bob")
    assert session_rows(scene.app) == [] and scene.me(cookie).status_code == 401


# -- the cookie on every route, and CSRF --------------------------------------------------------


def test_every_bearer_route_takes_the_cookie_with_the_roles_scopes(make_app) -> None:
    app = make_app(6)
    scene = attacks.stage(app)
    seed(app, Account("ada", "ada-demo-passphrase-1", role="admin"), notes_each=0)
    scene.accounts["ada"] = Account("ada", "ada-demo-passphrase-1", role="admin")
    cookie, csrf = scene.login("alice")
    assert scene.request("GET", "/users/me", cookie=cookie).json()["username"] == "alice"
    assert [n["owner"] for n in scene.request("GET", "/notes", cookie=cookie).json()] == ["alice"]
    created = scene.request("POST", "/notes", cookie=cookie, csrf=csrf,
                            json={"title": "t", "body": "b"})
    assert created.status_code == 201
    note_id = created.json()["id"]
    assert scene.request("GET", f"/notes/{note_id}", cookie=cookie).status_code == 200
    assert scene.request("DELETE", f"/notes/{note_id}", cookie=cookie,
                         csrf=csrf).status_code == 204
    assert scene.request("POST", "/comments", cookie=cookie, csrf=csrf,
                         json={"body": "hello"}).status_code == 201
    assert scene.request("GET", "/admin/users", cookie=cookie).status_code == 403
    admin, admin_csrf = scene.login("ada")
    assert scene.request("GET", "/admin/users", cookie=admin).status_code == 200
    assert scene.request("DELETE", "/admin/users/bob", cookie=admin,
                         csrf=admin_csrf).status_code == 204


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/notes", {"title": "t", "body": "b"}),
    ("DELETE", "/notes/1", None),
    ("POST", "/comments", {"body": "hello"}),
    ("POST", "/auth/logout", None),
    ("POST", "/session/logout", None),
])
def test_cookie_writes_without_the_token_are_403(scene, method, path, body) -> None:
    cookie, csrf = scene.login("alice")
    for sent in (None, "", csrf[:-1], "x" * len(csrf)):
        response = scene.request(method, path, cookie=cookie, csrf=sent,
                                 **({"json": body} if body else {}))
        assert response.status_code == 403, (sent, response.status_code)
    assert scene.me(cookie).status_code == 200
    assert scene.request("GET", "/notes/1", cookie=cookie).status_code == 200  # reads need none


def test_bearer_requests_need_no_csrf_token_and_win_over_a_cookie(scene) -> None:
    alice = scene.accounts["alice"]
    token = scene.request("POST", "/auth/token", data={"username": "alice",
                                                       "password": alice.password}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert scene.request("POST", "/notes", headers=bearer,
                         json={"title": "t", "body": "b"}).status_code == 201
    mallory_cookie, _ = scene.login("mallory")
    both = scene.request("GET", "/users/me", cookie=mallory_cookie, headers=bearer)
    assert both.json()["username"] == "alice"
    bad = scene.request("GET", "/users/me", cookie=mallory_cookie,
                        headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401 and bad.headers["WWW-Authenticate"].startswith("Bearer")
    nothing = scene.request("GET", "/users/me")
    assert nothing.status_code == 401 and nothing.headers["WWW-Authenticate"] == "Bearer"


def test_auth_logout_with_the_cookie_ends_the_session(scene) -> None:
    cookie, csrf = scene.login("alice")
    response = scene.request("POST", "/auth/logout", cookie=cookie, csrf=csrf)
    assert response.status_code == 204
    assert attacks.set_cookie_attributes(response)[COOKIE]["max-age"] == "0"
    assert scene.me(cookie).status_code == 401


def test_csrf_ok_reference_cases() -> None:
    token = secrets.token_urlsafe(32)
    assert all(sessions.csrf_ok(m, None, None) for m in ("GET", "HEAD", "OPTIONS", "get"))
    assert sessions.csrf_ok("POST", token, token)
    for expected, sent in ((token, None), (token, ""), (None, None), ("", ""), (token, "é"),
                           (token, token + "x")):
        assert not sessions.csrf_ok("DELETE", expected, sent)


def test_earlier_lessons_have_no_session_routes(make_app) -> None:
    client = attacks.https_client(make_app(5))
    assert client.post("/session/login", data={"username": "a", "password": "b"}
                       ).status_code == 404
    assert Layers.upto(5).identity is not sessions.session_or_bearer
    assert Layers.upto(6).identity is sessions.session_or_bearer


# -- the attacks: each succeeds against its variant and fails against the reference ---------------

SUCCEEDS_AGAINST = [
    (attacks.read_cookie, "client-held", attacks.CLIENT_HELD_LAYER),
    (attacks.forge_cookie, "unchecked", attacks.UNCHECKED_LAYER),
    (attacks.fixation, "naive", attacks.NAIVE_LAYER),
    (attacks.replay_after_logout, "naive", attacks.NAIVE_LAYER),
    (attacks.replay_after_logout, "client-held", attacks.CLIENT_HELD_LAYER),
    (attacks.deleted_account, "client-held", attacks.CLIENT_HELD_LAYER),
    (attacks.idle_session, "naive", attacks.NAIVE_LAYER),
    (attacks.old_session, "naive", attacks.NAIVE_LAYER),
    (attacks.missing_token, "naive", attacks.NAIVE_LAYER),
]


@pytest.mark.parametrize(("attack", "variant", "layer"), SUCCEEDS_AGAINST,
                         ids=[f"{a.__name__}-{v}" for a, v, _ in SUCCEEDS_AGAINST])
def test_attack_succeeds_against_its_variant_and_fails_against_the_reference(
        make_app, attack, variant, layer) -> None:
    result = attack(attacks.stage(make_app(6, **layer)))
    assert result.succeeded, result
    held = attack(attacks.stage(make_app(6)))
    assert not held.succeeded, held


def test_every_attack_has_a_variant_it_beats() -> None:
    assert {attack for attack, _, _ in SUCCEEDS_AGAINST} == set(attacks.IN_PROCESS)


def test_forging_fails_even_against_the_signed_client_held_cookie(make_app) -> None:
    result = attacks.forge_cookie(attacks.stage(make_app(6, **attacks.CLIENT_HELD_LAYER)))
    assert not result.succeeded and "401" in result.evidence


def test_the_server_side_cookie_has_nothing_to_read(make_app) -> None:
    result = attacks.read_cookie(attacks.stage(make_app(6, **attacks.NAIVE_LAYER)))
    assert not result.succeeded and "32 random bytes" in result.evidence


@pytest.fixture
def files(tmp_path) -> tls.TlsFiles:
    return tls.ensure_certificates(tmp_path / "tls")


@pytest.mark.slow
def test_cross_site_form_post_and_planted_session_over_the_network(make_app, files) -> None:
    outcomes = {}
    for name, layer in (("naive", attacks.NAIVE_LAYER), ("reference", {})):
        app = make_app(6, **layer)
        people = seed(app, Account("alice", new_password()), Account("mallory", new_password()),
                      notes_each=0)
        outcomes[name] = [r.succeeded for r in
                          attacks.served_attacks(app, files, people["alice"], people["mallory"])]
    # Same site (another port): the form post and the planted session beat the naive service.
    # Another site (localhost): SameSite=Lax keeps the cookie off the POST, even there.
    assert outcomes == {"naive": [True, False, True], "reference": [False, False, False]}


@pytest.mark.slow
def test_the_page_on_another_port_receives_the_cookie_and_nothing_stays_listening(
        make_app, files) -> None:
    app = make_app(6, **attacks.NAIVE_LAYER)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    with attacks.network(app, files) as net:
        ports = (int(net.service_url.rsplit(":", 1)[1]), net.evil_port)
        with net.browser() as alice:
            attacks.browser_login(alice, net.service_url, people["alice"])
            alice.visit(f"{net.evil_url()}/logout")
            alice.visit(f"{net.evil_url('localhost')}/logout")
        assert net.evil.received == [("/logout", (COOKIE,)), ("/logout", ())]
    for port in ports:
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_a_json_shaped_text_plain_form_gets_422_even_without_csrf_protection(
        make_app, files) -> None:
    app = make_app(6, **attacks.NAIVE_LAYER)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    with attacks.network(app, files) as net, net.browser() as alice:
        attacks.browser_login(alice, net.service_url, people["alice"])
        page = alice.visit(f"{net.evil_url()}/note")
        assert page.forms[0].enctype == "text/plain"
        assert alice.submit(page).status_code == 422
        assert alice.history[-1].cookies == (COOKIE,)
    assert app.state.service.store.list_notes("alice") == []


# -- the same outcome in real Chromium (headless), when it is installed ---------------------------

CHROMIUM = next((path for name in ("chromium", "chromium-browser", "google-chrome")
                 if (path := shutil.which(name))), None)


class RequestLog:
    """Pure ASGI: what reached the service (method, path, session cookie or not, status)."""

    def __init__(self, app) -> None:
        self.app = app
        self.seen: list[tuple[str, str, bool, str, int]] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        status: list[int] = []

        async def record(message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, receive, record)
        self.seen.append((scope["method"], scope["path"],
                          COOKIE.encode() in headers.get(b"cookie", b""),
                          headers.get(b"sec-fetch-site", b"").decode(), status[0]))


def spki_pin(files: tls.TlsFiles) -> str:
    """Chromium's --ignore-certificate-errors-spki-list value for the server certificate: the
    one key this throw-away profile accepts without a CA (no system trust store is touched)."""
    from cryptography.hazmat.primitives import serialization

    key = tls.load_certificate(files.certfile).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(key).digest()).decode()


@pytest.mark.slow
# Skipped on a laptop without Chromium; CI (.ci/run) installs it and sets LESSONS_CI, so there
# a missing browser fails the test instead of skipping it.
@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("LESSONS_CI"),
                    reason="needs Chromium (Debian: apt-get install chromium)")
@pytest.mark.parametrize(("variant", "evil_host", "expected"), [
    ("naive", "127.0.0.1", (True, "same-site", 204)),
    ("reference", "127.0.0.1", (True, "same-site", 403)),
    ("naive", "localhost", (False, "cross-site", 401)),
    ("reference", "localhost", (False, "cross-site", 401)),
])
def test_headless_chromium_agrees_with_the_python_browser(make_app, files, tmp_path, variant,
                                                          evil_host, expected) -> None:
    assert CHROMIUM, "Chromium is not installed: .ci/run installs it with apt-get"
    app = make_app(6, **(attacks.NAIVE_LAYER if variant == "naive" else {}))
    password = new_password()
    seed(app, Account("alice", password), notes_each=0)
    log = RequestLog(app)
    with attacks.network(log, files) as net:
        # The service's own page, for this test only: log in, then go to mallory's page.
        front = (f'<!doctype html><script>fetch("/session/login", {{method: "POST", body: '
                 f'new URLSearchParams({{username: "alice", password: "{password}"}})}})'
                 f'.then(() => {{ location.href = "{net.evil_url(evil_host)}/logout"; }});'
                 "</script>")
        app.add_api_route("/front", lambda: HTMLResponse(front), include_in_schema=False)
        browser = subprocess.Popen(
            [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}",
             f"--ignore-certificate-errors-spki-list={spki_pin(files)}",
             f"{net.service_url}/front"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while not any(path == "/session/logout" for _, path, *_ in log.seen):
                assert browser.poll() is None, "Chromium exited early"
                assert time.monotonic() < deadline, f"no forged request arrived: {log.seen}"
                time.sleep(0.1)
        finally:
            os.killpg(browser.pid, signal.SIGTERM)  # Chromium and the helpers it started
            browser.wait(20)
        received = net.evil.received
    logins = [entry for entry in log.seen if entry[1] == "/session/login"]
    assert [entry[-1] for entry in logins] == [204]
    forged = next(entry for entry in log.seen if entry[1] == "/session/logout")
    assert forged[0] == "POST" and forged[2:] == expected, log.seen
    # Ports do not separate cookies: the page on the same host got the session cookie too.
    assert received[0][1] == ((COOKIE,) if evil_host == "127.0.0.1" else ())
    # The Python browser of the notebook predicts the same outcome for the same visit.
    twin = make_app(6, **(attacks.NAIVE_LAYER if variant == "naive" else {}))
    alice = seed(twin, Account("alice", new_password()), notes_each=0)["alice"]
    with attacks.network(twin, files) as python_net:
        predicted = attacks.cross_site_form_post(python_net, alice, evil_host)
    assert predicted.succeeded == (expected[2] == 204)
    assert python_net_sent(predicted) == expected[:2]


def python_net_sent(result) -> tuple[bool, str]:
    """(cookie sent, Sec-Fetch-Site) from a cross_site_form_post result's evidence."""
    sent_cookie = "sent __Host-session" in result.evidence
    site = result.evidence.split("Sec-Fetch-Site: ")[1].split(")")[0]
    return sent_cookie, site


# -- the browser stand-in follows the rules it documents ------------------------------------------


def stored(browser: Browser, url: str, header: str) -> list[str]:
    browser._store(url, header)
    return [c.name for c in browser.jar]


def test_sites_ignore_ports_but_not_hosts_or_schemes() -> None:
    assert site_of("https://127.0.0.1:1") == site_of("https://127.0.0.1:2")
    assert site_of("https://localhost:1") != site_of("https://127.0.0.1:1")
    assert site_of("http://127.0.0.1:1") != site_of("https://127.0.0.1:1")
    assert site_of("https://a.example.org") == site_of("https://b.example.org")
    assert fetch_site("https://127.0.0.1:1/x", "https://127.0.0.1:1/y") == "same-origin"
    assert fetch_site("https://127.0.0.1:2/x", "https://127.0.0.1:1/y") == "same-site"
    assert fetch_site("https://localhost:2/x", "https://127.0.0.1:1/y") == "cross-site"
    assert fetch_site(None, "https://127.0.0.1:1/y") == "none"


@pytest.mark.parametrize(("url", "header", "kept"), [
    ("https://127.0.0.1:1/", "__Host-s=1; Secure; Path=/; HttpOnly", True),
    ("https://127.0.0.1:1/", "__Host-s=1; Secure; Path=/; Domain=127.0.0.1", False),
    ("https://127.0.0.1:1/", "__Host-s=1; Secure", False),  # Path=/ must be explicit
    ("https://127.0.0.1:1/", "__Host-s=1; Path=/", False),
    ("http://127.0.0.1:1/", "__Host-s=1; Secure; Path=/", False),
    ("http://127.0.0.1:1/", "s=1; Secure", False),
    ("https://127.0.0.1:1/", "__Secure-s=1", False),
    ("https://127.0.0.1:1/", "s=1; SameSite=None", False),
    ("https://a.example.org/", "s=1; Domain=example.org", True),
    ("https://a.example.org/", "s=1; Domain=other.org", False),
    ("https://127.0.0.1:1/", "s=1; Domain=0.0.1", False),
])
def test_set_cookie_rules(url, header, kept) -> None:
    with Browser() as browser:
        assert (stored(browser, url, header) == [header.split("=")[0]]) is kept, browser.refused


def test_cookies_go_to_every_port_of_their_host_and_respect_samesite() -> None:
    with Browser() as browser:
        browser._store("https://127.0.0.1:1/", "lax=1; Secure; Path=/")
        browser._store("https://127.0.0.1:1/", "strict=1; Secure; Path=/; SameSite=Strict")
        browser._store("https://127.0.0.1:1/", "none=1; Secure; Path=/; SameSite=None")

        def sent(method: str, initiator: str | None, navigation: bool = True) -> set[str]:
            return {c.name for c in browser._cookies_for(method, "https://127.0.0.1:1/x",
                                                         initiator, navigation)}

        everything = {"lax", "strict", "none"}
        assert browser.cookie_names("https://127.0.0.1:9/") != []  # another port, same jar
        assert browser.cookie_names("https://localhost:1/") == []
        assert sent("POST", "https://127.0.0.1:2/") == everything  # same site
        assert sent("POST", "https://localhost:2/") == {"none"}  # cross-site form post
        assert sent("GET", "https://localhost:2/") == {"lax", "none"}  # cross-site link
        assert sent("GET", "https://localhost:2/", navigation=False) == {"none"}
        assert sent("GET", None) == everything
        browser._store("https://127.0.0.1:5/", "lax=; Secure; Path=/; Max-Age=0")
        assert "lax" not in browser.cookie_names("https://127.0.0.1:1/")


def test_scripts_may_only_call_their_own_origin() -> None:
    with Browser() as browser, pytest.raises(ValueError, match="no CORS"):
        browser.fetch("GET", "https://127.0.0.1:1/", page="https://127.0.0.1:2/")


# -- the checks ---------------------------------------------------------------------------------


# Plausible wrong answers, each with the checks that must fail on it.

SAFE = ("GET", "HEAD", "OPTIONS")


def signed(settings, session_id: str) -> str:
    return sessions.signer(settings).sign(session_id).decode()


def new_session_from_random(settings):
    session_id = f"{random.getrandbits(256):064x}"
    return session_id, signed(settings, session_id)


def new_session_short(settings):
    session_id = secrets.token_urlsafe(8)
    return session_id, signed(settings, session_id)


def new_session_uuid4(settings):
    session_id = str(uuid.uuid4())
    return session_id, signed(settings, session_id)


def new_session_unsigned(settings):
    session_id = secrets.token_urlsafe(32)
    return session_id, session_id


def new_session_sha1(settings):
    session_id = secrets.token_urlsafe(32)
    return session_id, Signer(settings.secret_key, salt=sessions.SALT).sign(session_id).decode()


def new_session_serialized(settings):
    session_id = secrets.token_urlsafe(32)
    return session_id, URLSafeSerializer(settings.secret_key, salt=sessions.SALT).dumps(session_id)


def valid_without_idle(session, now, settings):
    return now - session.created_at < settings.session_absolute_hours * 3600


def valid_without_absolute(session, now, settings):
    return now - session.last_seen < settings.session_idle_minutes * 60


def valid_in_minutes_as_seconds(session, now, settings):
    return (now - session.last_seen < settings.session_idle_minutes
            and now - session.created_at < settings.session_absolute_hours * 3600)


def valid_with_fixed_limits(session, now, settings):
    return now - session.last_seen < 30 * 60 and now - session.created_at < 8 * 3600


def csrf_with_equals(method, expected, sent):
    return method in SAFE or expected == sent


def csrf_with_guarded_equals(method, expected, sent):
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return expected == sent


def csrf_accepting_empty(method, expected, sent):
    if method in SAFE:
        return True
    if expected is None or sent is None:
        return False
    return secrets.compare_digest(expected.encode(), sent.encode())


def csrf_comparing_str(method, expected, sent):
    if method in SAFE:
        return True
    if not expected or not sent:
        return False
    return secrets.compare_digest(expected, sent)


def csrf_for_every_method(method, expected, sent):
    return bool(expected and sent) and secrets.compare_digest(expected.encode(), sent.encode())


def csrf_for_post_only(method, expected, sent):
    if method != "POST":
        return True
    return bool(expected and sent) and secrets.compare_digest(expected.encode(), sent.encode())


def start_keeping_the_presented_session(service, response, user, presented):
    old = sessions.session_id_from(service.settings, presented) if presented else None
    return sessions.start_session(service, response, user, None) if old is None else \
        sessions.start_session_reusing(service, response, user, presented)


def start_without_ending_the_presented_session(service, response, user, presented):
    return sessions.start_session(service, response, user, None)


def start_storing_the_raw_id(service, response, user, presented):
    session_id, cookie = service.layers.new_session(service.settings)
    now, token = int(time.time()), secrets.token_urlsafe(32)
    service.store.add_session(Session(session_id, user.username, token, now, now))
    sessions.set_cookie(response, cookie, service.settings)
    return token


def start_with_cookie(**attributes):
    def start(service, response, user, presented):
        if presented:
            old = sessions.session_id_from(service.settings, presented)
            if old:
                service.store.delete_session(sessions.hash_id(old))
        session_id, cookie = service.layers.new_session(service.settings)
        now, token = int(time.time()), secrets.token_urlsafe(32)
        service.store.add_session(Session(sessions.hash_id(session_id), user.username, token,
                                          now, now))
        options = {"path": "/", "secure": True, "httponly": True, "samesite": "lax",
                   **attributes}
        response.set_cookie(COOKIE, cookie, **options)
        return token

    start.__name__ = "start_with_" + "_".join(f"{k}_{v}" for k, v in attributes.items())
    return start


def start_with_the_id_as_csrf_token(service, response, user, presented):
    session_id, cookie = service.layers.new_session(service.settings)
    now = int(time.time())
    service.store.add_session(Session(sessions.hash_id(session_id), user.username, session_id,
                                      now, now))
    sessions.set_cookie(response, cookie, service.settings)
    return session_id


def start_with_one_csrf_token(service, response, user, presented):
    session_id, cookie = service.layers.new_session(service.settings)
    now = int(time.time())
    service.store.add_session(Session(sessions.hash_id(session_id), user.username,
                                      "one-token-for-everyone", now, now))
    sessions.set_cookie(response, cookie, service.settings)
    return "one-token-for-everyone"


SIGNS = "new_session: the id, and a cookie carrying it signed with the service's key"
RANDOM = "new_session: at least 128 bits from a CSPRNG (secrets), a new id every time"
IDLE = "session_valid: valid while active; not after session_idle_minutes idle"
ABSOLUTE = "session_valid: not after session_absolute_hours, however active"
IDLE_ATTACK = "attack fails: a session idle for 45 minutes"
OLD_ATTACK = "attack fails: a session logged in 9 hours ago, still in use"
ALLOWS = "csrf_ok: reads need no token; writes pass with the session's token"
REFUSES = "csrf_ok: a write with a missing, empty or wrong token is refused"
CONSTANT = "csrf_ok: compares in constant time, and never raises on odd header values"
TOKEN_ATTACK = "attack fails: a write with the cookie and no CSRF token"
SERVED = "attack fails: a cross-site form post from a page on another port (real servers)"
ROTATES = "start_session: a new session id at every login, stored only as its hash"
FLAGS = ("start_session: the cookie is __Host-session; Secure; HttpOnly; SameSite=Lax; "
         "Path=/; no Domain")
OWN_TOKEN = "start_session: every session gets a CSRF token of its own"
FIXATION = "attack fails: session fixation (and the planted session ends at login)"
WHOLE = "all four together: log in, write with the token, log out, and every attack fails"

WRONG_ANSWERS = [
    ({"new_session": new_session_from_random}, [RANDOM]),
    ({"new_session": new_session_short}, [RANDOM]),
    ({"new_session": new_session_uuid4}, [RANDOM]),
    ({"new_session": new_session_unsigned}, [SIGNS]),
    ({"new_session": new_session_sha1}, [SIGNS]),
    ({"new_session": new_session_serialized}, [SIGNS]),
    ({"session_valid": valid_without_idle}, [IDLE, IDLE_ATTACK, WHOLE]),
    ({"session_valid": valid_without_absolute}, [ABSOLUTE, OLD_ATTACK]),
    ({"session_valid": valid_in_minutes_as_seconds}, [IDLE]),
    ({"session_valid": valid_with_fixed_limits}, [IDLE, ABSOLUTE]),
    ({"csrf_ok": csrf_with_equals}, [REFUSES, CONSTANT]),
    ({"csrf_ok": csrf_with_guarded_equals}, [CONSTANT]),
    ({"csrf_ok": csrf_accepting_empty}, [REFUSES]),
    ({"csrf_ok": csrf_comparing_str}, [CONSTANT]),
    ({"csrf_ok": csrf_for_every_method}, [ALLOWS]),
    ({"csrf_ok": csrf_for_post_only}, [REFUSES]),
    ({"csrf_ok": sessions.csrf_unchecked}, [REFUSES, TOKEN_ATTACK, SERVED]),
    ({"start_session": start_keeping_the_presented_session}, [FIXATION]),
    ({"start_session": start_without_ending_the_presented_session}, [FIXATION]),
    ({"start_session": start_storing_the_raw_id}, [ROTATES]),
    ({"start_session": start_with_cookie(httponly=False)}, [FLAGS]),
    ({"start_session": start_with_cookie(secure=False)}, [FLAGS]),
    ({"start_session": start_with_cookie(domain="testserver")}, [FLAGS]),
    ({"start_session": start_with_cookie(samesite="none")}, [FLAGS]),
    ({"start_session": start_with_the_id_as_csrf_token}, [OWN_TOKEN]),
    ({"start_session": start_with_one_csrf_token}, [OWN_TOKEN]),
]


def _ids(value: Any) -> str:
    return "+".join(f.__name__ for f in value.values()) if isinstance(value, dict) else ""


@pytest.mark.parametrize(("wrong", "failing"), [
    pytest.param(wrong, failing, marks=[pytest.mark.slow] if SERVED in failing else [])
    for wrong, failing in WRONG_ANSWERS], ids=_ids)
def test_checks_fail_plausible_wrong_answers(wrong, failing) -> None:
    report = suite.subset(*failing).run(record=False, **{**REFERENCE, **wrong})
    assert report.count(FAILED) == len(failing), str(report)
    assert all(o.hint for o in report.outcomes)


def test_every_check_can_fail() -> None:
    named = {name for _, failing in WRONG_ANSWERS for name in failing}
    assert named == {check.title for check in suite.checks}


def test_one_wrong_answer_fails_its_checks_and_nothing_else_in_process() -> None:
    in_process = [c.title for c in suite.checks if c.title != SERVED]
    report = suite.subset(*in_process).run(record=False,
                                           **{**REFERENCE, "csrf_ok": csrf_with_guarded_equals})
    failed = [o for o in report.outcomes if o.status != PASSED]
    assert [o.name for o in failed] == [CONSTANT], str(report)
    assert "secrets.compare_digest" in failed[0].hint


def test_the_signing_hint_names_the_sha1_default() -> None:
    report = suite.subset(SIGNS).run(record=False, new_session=new_session_sha1)
    assert "SHA-1" in report.outcomes[0].hint


def test_entropy_estimates() -> None:
    assert estimated_bits(secrets.token_urlsafe(16)) >= 128
    assert estimated_bits(secrets.token_hex(16)) == 128
    assert estimated_bits(str(uuid.uuid4())) == 122
    assert estimated_bits(secrets.token_urlsafe(8)) < 128


def test_a_learners_exception_inside_the_server_is_reported_not_logged(capfd) -> None:
    def broken(method, expected, sent):
        if method == "POST" and sent is None:
            raise KeyError("sent")
        return sessions.csrf_ok(method, expected, sent)

    report = suite.subset(SERVED).run(record=False, csrf_ok=broken)
    assert report.outcomes[0].status == FAILED and "KeyError" in report.outcomes[0].hint
    assert "Traceback" not in capfd.readouterr().err


# -- the facts the lesson states -----------------------------------------------------------------


def test_itsdangerous_signs_and_does_not_encrypt(settings) -> None:
    value = URLSafeTimedSerializer(settings.secret_key).dumps({"role": "admin"})
    assert attacks.decode_without_key(value) == {"role": "admin"}
    assert len(value.split(".")[-1]) == 27  # HMAC-SHA1 by default: 20 bytes
    tampered = attacks.b64url(b'{"role":"root"}') + "." + value.split(".", 1)[1]
    with pytest.raises(BadSignature):
        URLSafeTimedSerializer(settings.secret_key).loads(tampered)
    valid, payload = URLSafeTimedSerializer(settings.secret_key).loads_unsafe(tampered)
    assert valid is False and payload == {"role": "root"}


def test_fastapi_reads_json_only_from_json_requests(make_app) -> None:
    scene = attacks.stage(make_app(6, **attacks.NAIVE_LAYER))
    cookie, _ = scene.login("alice")
    body = '{"title": "x", "body": "y"}'
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = scene.request("POST", "/notes", cookie=cookie, content=body,
                                 headers=headers)
        assert response.status_code == 422, content_type
    json_response = scene.request("POST", "/notes", cookie=cookie, content=body,
                                  headers={"Content-Type": "application/json"})
    assert json_response.status_code == 201  # the naive layer checks no CSRF token


def test_a_session_caller_without_a_record_is_refused_by_the_reference(make_app) -> None:
    app = make_app(6)
    with pytest.raises(HTTPException) as refused:
        sessions.caller_from_session(app.state.service, "x.y")
    assert refused.value.status_code == 401
