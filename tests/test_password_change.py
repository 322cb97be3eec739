"""``POST /users/me/password`` [02, 06]: the current password and a new one that meets the
policy; every token and session of the user issued before the change ends at once, on every
worker; a wrong current password is a 401 and changes nothing; nothing here is ever a 5xx."""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import anyio
import pytest
from fastapi.testclient import TestClient

from lessons import tokens
from lessons.attacks import Scene, Variant, new_password, reference
from lessons.attacks.lesson02 import bearer, me, read_token
from lessons.basic_auth import authenticate
from lessons.server import serve_lesson
from lessons.sessions import COOKIE, CSRF_HEADER

ROUTE = "/users/me/password"


@pytest.fixture(params=[2, 6, 8], ids=lambda n: f"lesson{n:02d}")
def scene(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Scene]:
    with Scene(reference(request.param), folder=tmp_path) as scene:
        yield scene


def change(scene: Scene, token: str, current: str, new: str) -> int:
    return scene.client.post(ROUTE, headers=bearer(token), json={
        "current_password": current, "new_password": new}).status_code


def changed_at(scene: Scene, username: str) -> int:
    return scene.store.get_user(username).password_changed_at


# -- bearer tokens ---------------------------------------------------------------------------


def test_every_token_issued_before_the_change_ends_and_a_new_login_works(scene) -> None:
    alice = scene.accounts["alice"]
    old = [scene.token("alice") for _ in range(3)]
    bob = scene.token("bob")
    new = new_password()
    assert change(scene, old[0], alice.password, new) == 204
    for token in old:
        refused = me(scene, token)
        assert refused.status_code == 401
        assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert me(scene, bob).status_code == 200  # nobody else's
    assert scene.client.post("/auth/token", data={"username": "alice",
                                                  "password": alice.password}).status_code == 401
    alice.password = new
    assert me(scene, scene.token("alice")).json()["username"] == "alice"


def test_a_token_of_the_same_second_is_refused_and_a_login_right_after_works(tmp_path) -> None:
    with Scene(reference(2), folder=tmp_path) as scene:
        alice = scene.accounts["alice"]
        for _ in range(5):  # until login, change and replay fall in one second
            old = scene.token("alice")
            alice.password, current = new_password(), alice.password
            assert change(scene, old, current, alice.password) == 204
            if read_token(old)[1]["iat"] == changed_at(scene, "alice"):
                break
        assert read_token(old)[1]["iat"] == changed_at(scene, "alice")
        assert me(scene, old).status_code == 401
        fresh = scene.token("alice")  # waits for the next second, then works
        assert read_token(fresh)[1]["iat"] == changed_at(scene, "alice") + 1
        assert me(scene, fresh).status_code == 200


def test_issue_after_waits_only_within_the_second_of_a_change() -> None:
    async def waited(changed: int) -> float:
        start = time.monotonic()
        await tokens.issue_after(changed)
        return time.monotonic() - start

    now = int(time.time())
    assert anyio.run(waited, now - 1) < 0.05
    assert anyio.run(waited, now) > 0 and int(time.time()) > now
    assert anyio.run(waited, now + 3600) < 1.1  # a clock set back holds no login for long


def test_a_login_that_raced_a_change_gets_no_token(tmp_path) -> None:
    """The password is verified, then (on another worker, say) changed before the token is
    issued: the login used a password that is no longer valid, and gets a 401."""

    def verified_then_changed(store, hasher, username, password):
        user = authenticate(store, hasher, username, password)
        if user is not None:
            store.change_password(user.id, user.password_hash, hasher.hash(new_password()),
                                  int(time.time()))
        return user

    with Scene(Variant(2, seams={"authenticate": verified_then_changed}),
               folder=tmp_path) as scene:
        response = scene.token_response("alice")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_session_login_that_raced_a_change_gets_no_session(tmp_path) -> None:
    """The same race on the cookie login: the change ended the sessions that existed, and
    the session this login was about to start must not outlive it either."""

    def verified_then_changed(store, hasher, username, password):
        user = authenticate(store, hasher, username, password)
        if user is not None:
            store.change_password(user.id, user.password_hash, hasher.hash(new_password()),
                                  int(time.time()))
        return user

    with Scene(Variant(6, seams={"authenticate": verified_then_changed}),
               folder=tmp_path) as scene:
        alice = scene.accounts["alice"]
        response = scene.client.post("/session/login", data={"username": "alice",
                                                             "password": alice.password})
        assert response.status_code == 401
        assert scene.store.query("SELECT count(*) FROM sessions")[0][0] == 0


# -- sessions (lesson 06 on) -----------------------------------------------------------------


def session_login(client: TestClient, username: str, password: str) -> str:
    response = client.post("/session/login", data={"username": username, "password": password})
    assert response.status_code == 204, response.text
    return response.headers[CSRF_HEADER]


@pytest.mark.parametrize("upto", [6, 8])
def test_a_session_changes_the_password_with_its_csrf_token_and_ends(tmp_path, upto) -> None:
    with Scene(reference(upto), folder=tmp_path) as scene:
        alice = scene.accounts["alice"]
        token = scene.token("alice")
        browser = TestClient(scene.app, base_url="https://testserver")
        other_browser = TestClient(scene.app, base_url="https://testserver")
        csrf = session_login(browser, "alice", alice.password)
        session_login(other_browser, "alice", alice.password)
        body = {"current_password": alice.password, "new_password": new_password()}
        # A cookie-authenticated write without the session's CSRF token: refused, no change.
        assert browser.post(ROUTE, json=body).status_code == 403
        assert browser.get("/session/me").status_code == 200
        assert browser.post(ROUTE, json=body, headers={CSRF_HEADER: csrf}).status_code == 204
        for client in (browser, other_browser):
            assert client.get("/session/me").status_code == 401
        assert me(scene, token).status_code == 401  # and the bearer tokens
        session_login(browser, "alice", body["new_password"])
        assert browser.get("/session/me").json()["username"] == "alice"


# -- refusals, and never a 5xx ---------------------------------------------------------------


def test_a_wrong_current_password_is_a_401_and_changes_nothing(scene) -> None:
    alice = scene.accounts["alice"]
    token = scene.token("alice")
    for current in ("not-her-password", alice.password + "x", "x" * 5000):
        response = scene.client.post(ROUTE, headers=bearer(token), json={
            "current_password": current, "new_password": new_password()})
        assert response.status_code == 401, current[:20]
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert changed_at(scene, "alice") == 0
    assert me(scene, token).status_code == 200
    assert scene.token_response("alice").status_code == 200


def test_without_a_credential_it_is_a_401(scene) -> None:
    body = {"current_password": "x", "new_password": new_password()}
    assert scene.client.post(ROUTE, json=body).status_code == 401
    assert scene.client.post(ROUTE, json=body, headers=bearer("a.b.c")).status_code == 401


@pytest.mark.parametrize("new", ["password123456", "too-short", "a" * 129,
                                 "alice-likes-long-walks", "my-notes-password-2026",
                                 "abcdefghijklmnop"])
def test_from_lesson_07_the_new_password_meets_the_policy(tmp_path, new) -> None:
    with Scene(reference(8), folder=tmp_path) as scene:
        alice = scene.accounts["alice"]
        token = scene.token("alice")
        response = scene.client.post(ROUTE, headers=bearer(token), json={
            "current_password": alice.password, "new_password": new})
        assert response.status_code == 422
        assert new not in response.text and alice.password not in response.text
        extra = scene.client.post(ROUTE, headers=bearer(token), json={
            "current_password": alice.password, "new_password": new_password(), "role": "x"})
        assert extra.status_code == 422
        assert me(scene, token).status_code == 200  # nothing changed


def test_before_lesson_07_any_new_password_the_hasher_takes_is_accepted(tmp_path) -> None:
    with Scene(reference(2), folder=tmp_path) as scene:
        alice = scene.accounts["alice"]
        too_long = scene.client.post(ROUTE, headers=bearer(scene.token("alice")), json={
            "current_password": alice.password, "new_password": "x" * 4097})
        assert too_long.status_code == 422  # passlib's limit: a 422, not a 500
        assert change(scene, scene.token("alice"), alice.password, "short") == 204


GARBAGE = [
    b"", b"not json", b"[]", b"null", b'{"current_password": 1, "new_password": 2}',
    b'{"current_password": "x"}', b'{"new_password": "x"}', b'{"current_password": null}',
    json.dumps({"current_password": "\udcff", "new_password": "x"}).encode(),
    json.dumps({"current_password": "\u0000" * 10, "new_password": "\u202e" * 20}).encode(),
]


def test_garbage_is_never_a_5xx(scene) -> None:
    token = scene.token("alice")
    for body in GARBAGE:
        response = scene.client.post(ROUTE, content=body, headers={
            **bearer(token), "Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, (body, response.status_code)


# -- on every worker: two real worker processes ----------------------------------------------


def worker_of(connection: http.client.HTTPConnection, server_port: int) -> int | None:
    """The process that accepted this connection, found in /proc (Linux): the server-side
    socket whose peer is our end, and the process holding it."""
    assert connection.sock is not None
    client_port = connection.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]:
        fields = line.split()
        local, remote = (int(address.split(":")[1], 16) for address in fields[1:3])
        if (local, remote) == (server_port, client_port):
            inode = fields[9]
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            if any(fd.readlink().name == f"socket:[{inode}]"
                   for fd in (process / "fd").iterdir()):
                return int(process.name)
        except OSError:  # gone, or not ours to read
            continue
    return None


def request(connection: http.client.HTTPConnection, method: str, path: str, *,
            headers: dict[str, str] | None = None, body: str | None = None) -> tuple[int, str]:
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read().decode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux's /proc")
def test_on_every_worker_every_token_and_session_ends(tmp_path) -> None:
    with serve_lesson("--lesson", "6", "--workers", "2") as served, ExitStack() as opened:
        # Keep-alive connections, each served by one worker, until both workers have some.
        connections: list[tuple[http.client.HTTPConnection, int]] = []
        seen: set[int] = set()
        for _ in range(64):
            connection = http.client.HTTPConnection("127.0.0.1", served.port, timeout=20)
            opened.callback(connection.close)
            assert request(connection, "GET", "/health")[0] == 200
            worker = worker_of(connection, served.port)
            assert worker is not None
            connections.append((connection, worker))
            seen.add(worker)
            if len(seen) == 2 and len(connections) >= 4:
                break
        assert len(seen) == 2, "the two workers never both accepted a connection"
        first = connections[0][0]
        password = new_password()
        status, _ = request(first, "POST", "/users", headers={"Content-Type": "application/json"},
                            body=json.dumps({"username": "alice", "password": password}))
        assert status == 201
        login = urllib.parse.urlencode({"username": "alice", "password": password})
        # A token and a session from each worker.
        held = []
        for connection, _ in connections:
            status, body = request(connection, "POST", "/auth/token", headers=FORM, body=login)
            assert status == 200
            connection.request("POST", "/session/login", body=login, headers=FORM)
            response = connection.getresponse()
            response.read()
            assert response.status == 204
            cookie = response.getheader("Set-Cookie").split(";")[0]
            held.append((json.loads(body)["access_token"], cookie))
        for (connection, _), (token, cookie) in zip(connections, held, strict=True):
            assert request(connection, "GET", "/users/me", headers=bearer(token))[0] == 200
            assert request(connection, "GET", "/session/me", headers={"Cookie": cookie})[0] == 200
        # The change, on one worker.
        new = new_password()
        status, _ = request(first, "POST", ROUTE, headers={
            **bearer(held[0][0]), "Content-Type": "application/json"},
            body=json.dumps({"current_password": password, "new_password": new}))
        assert status == 204
        # Every worker refuses every token and session issued before it, at once.
        for connection, worker in connections:
            for token, cookie in held:
                assert request(connection, "GET", "/users/me",
                               headers=bearer(token))[0] == 401, worker
                assert request(connection, "GET", "/session/me",
                               headers={"Cookie": cookie})[0] == 401, worker
        # And a login right after it works on every worker.
        login = urllib.parse.urlencode({"username": "alice", "password": new})
        for connection, worker in connections:
            status, body = request(connection, "POST", "/auth/token", headers=FORM, body=login)
            assert status == 200
            token = json.loads(body)["access_token"]
            assert request(connection, "GET", "/users/me", headers=bearer(token))[0] == 200, worker
    assert "Traceback" not in served.output
    assert COOKIE in held[0][1]
