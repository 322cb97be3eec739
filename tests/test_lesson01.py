"""Lesson 01: every attack works on its vulnerable variant and fails on the reference layer;
the reference layer keeps its promises (UTF-8, one answer for every failure, over-long
passwords refused like any failure on every login route, failed logins audited, hashes off the
event loop, the lesson-00 rows upgraded); and the checks accept every constant-work way of
handling an unknown user. (The checks' wrong answers are proved by
tests/test_check_suites.py.)

(No ``from __future__ import annotations``: a test below defines FastAPI routes inside a
function, and FastAPI must see the local names in their annotations.)"""

import asyncio
import base64
import functools
import secrets
import threading
import time
from pathlib import Path
from typing import Annotated

import httpx2
import pytest
from fastapi import Depends, FastAPI
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.testclient import TestClient
from helpers import run_cli, serving

from lessons import basic_auth, logs
from lessons.attacks import Account, new_password, seed
from lessons.attacks import lesson01 as attacks
from lessons.attacks.lesson00 import passwords_from
from lessons.attacks.lesson01 import TIMING_COST
from lessons.checks.lesson01 import NON_ASCII_PASSWORD, REFERENCE, suite
from lessons.passwords import HASHING_SLOTS, LONGEST_PASSWORD, argon2_hasher
from lessons.service import app_from_env, create_app
from lessons.settings import Settings

NOTEBOOK = "01_basic_auth.ipynb"


@pytest.fixture
def scene(make_app):
    """An app after lesson ``upto`` (with seam overrides, and settings if given), with alice,
    bob (a non-ASCII password) and mallory, and a client that gets a 500 as a response."""
    def build(upto=1, settings=None, **overrides):
        app = make_app(upto, **overrides) if settings is None else \
            create_app(upto, settings, **overrides)
        people = seed(app, Account("alice", new_password()), Account("bob", NON_ASCII_PASSWORD),
                      Account("mallory", new_password()))
        return app, attacks.outside_client(app), people
    return build


def basic(username: str, password: str) -> dict[str, str]:
    return attacks.basic(username, password)


# -- the attacks: vulnerable variant versus reference --------------------------------------------


@pytest.mark.parametrize(("upto", "succeeds"), [(0, True), (1, False)])
def test_reading_notes_without_a_password(scene, upto, succeeds) -> None:
    _, client, _ = scene(upto)
    result = attacks.run_no_password(client, "alice")
    assert result.succeeded is succeeds, result


@pytest.mark.parametrize(("layer", "succeeds"), [(basic_auth.NAIVE_LAYER, True), ({}, False)])
def test_non_ascii_credentials(scene, layer, succeeds) -> None:
    _, client, _ = scene(1, **layer)
    result = attacks.run_non_ascii(client, "mallory")
    assert result.succeeded is succeeds, result


def test_the_naive_check_locks_out_a_user_with_a_non_ascii_password(scene) -> None:
    _, client, _ = scene(1, **basic_auth.NAIVE_LAYER)
    assert client.get("/basic/me", headers=basic("bob", NON_ASCII_PASSWORD)).status_code == 500


@pytest.mark.parametrize(("layer", "succeeds"), [
    (basic_auth.NAIVE_LAYER, True),
    (basic_auth.EARLY_RETURN_LAYER, False),  # one message: its leak is the timing alone
    ({}, False),
])
def test_enumeration_by_message(scene, layer, succeeds) -> None:
    _, client, _ = scene(1, **layer)
    result = attacks.run_enumerate_by_message(client, "alice")
    assert result.succeeded is succeeds, result


@pytest.mark.parametrize(("layer", "succeeds"),
                         [(basic_auth.EARLY_RETURN_LAYER, True), ({}, False)])
def test_enumeration_by_timing(scene, tmp_path, layer, succeeds) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "timing", **TIMING_COST)
    app, _, _ = scene(1, settings=settings, **layer)
    with attacks.outside_client(app) as client:
        timings = attacks.login_timings(client, "alice")
    assert timings.verdict().succeeded is succeeds, timings.table()
    assert len(timings.known) == len(timings.unknown) == 15
    assert "medians differ by a factor" in timings.table()


# -- the reference layer -----------------------------------------------------------------------


def test_right_credentials_answer_who_you_are(scene) -> None:
    _, client, people = scene(1)
    for name in ("alice", "bob"):
        response = client.get("/basic/me", headers=basic(name, people[name].password))
        assert response.status_code == 200
        assert response.json() == {"username": name, "role": "user"}


BAD_AUTHORIZATION = {
    "missing": None,
    "another scheme": "Bearer abc",
    "not base64": "Basic %%%",
    "no colon": "Basic " + base64.b64encode(b"alice").decode(),
    "not UTF-8": "Basic " + base64.b64encode(b"alice:\xff\xfe").decode(),
    "wrong password": basic("alice", "wrong-password")["Authorization"],
    "unknown user": basic("nobody_here", "wrong-password")["Authorization"],
    "non-ASCII": basic("zoë", NON_ASCII_PASSWORD)["Authorization"],
}


@pytest.mark.parametrize("case", BAD_AUTHORIZATION)
def test_every_failure_is_401_with_a_basic_challenge(scene, case) -> None:
    _, client, _ = scene(1)
    value = BAD_AUTHORIZATION[case]
    response = client.get("/basic/me", headers={"Authorization": value} if value else {})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="notes", charset="UTF-8"'


def test_unknown_user_and_wrong_password_get_identical_answers(scene) -> None:
    _, client, _ = scene(1)
    real, unknown = attacks.failed_logins(client, "alice")
    assert attacks.visible_answer(real) == attacks.visible_answer(unknown)
    assert real.json() == {"detail": "Incorrect username or password"}


def test_lesson_01_protects_the_notes_with_basic_auth(scene) -> None:
    _, client, people = scene(1)
    assert client.get("/notes", headers={"X-User": "alice"}).status_code == 401
    mine = client.get("/notes", headers=basic("alice", people["alice"].password))
    assert mine.status_code == 200 and {n["owner"] for n in mine.json()} == {"alice"}


def test_the_dummy_hash_has_the_cost_of_a_real_one(make_app) -> None:
    app = make_app(1)
    hasher = app.state.service.hasher
    dummy = basic_auth.dummy_hash_for(hasher)
    assert dummy.startswith("$argon2id$") and not hasher.needs_update(dummy)
    assert basic_auth.dummy_hash_for(hasher) is dummy  # made once, at start-up


def test_lesson_00_rows_are_upgraded_once_and_still_log_in(tmp_path) -> None:
    settings = Settings.from_env(data_dir=tmp_path / "shared")
    people = seed(create_app(0, settings), Account("alice", new_password()),
                  Account("bob", NON_ASCII_PASSWORD), notes_each=0)
    assert passwords_from(settings.database) == {n: a.password for n, a in people.items()}
    create_app(1, settings)
    upgraded = passwords_from(settings.database)
    assert all(value.startswith("$argon2id$") for value in upgraded.values())
    app = create_app(1, settings)  # a second start changes nothing
    assert passwords_from(settings.database) == upgraded
    client = attacks.outside_client(app)
    for name, account in people.items():
        assert client.get("/basic/me", headers=basic(name, account.password)).status_code == 200


def _on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class WatchedHasher:
    """The reference hasher, slowed down and watched: where and how many verifications run."""

    def __init__(self, settings: Settings, delay: float = 0.0) -> None:
        self.inner = argon2_hasher(settings)
        self.delay = delay
        self.on_loop: list[bool] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def hash(self, secret: str) -> str:
        return self.inner.hash(secret)

    def identify(self, hash: str) -> str | None:
        return self.inner.identify(hash)

    def verify(self, secret: str, hash: str) -> bool:
        with self._lock:
            self.on_loop.append(_on_the_event_loop())
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        time.sleep(self.delay)  # stands for CPU-bound work: it holds its thread
        try:
            return self.inner.verify(secret, hash)
        finally:
            with self._lock:
                self.running -= 1


def watched_hashers(delay: float = 0.0):
    """A ``make_hasher`` that keeps the hashers it makes, for the test to inspect."""
    made: list[WatchedHasher] = []

    def make_hasher(settings: Settings) -> WatchedHasher:
        made.append(WatchedHasher(settings, delay))
        return made[-1]

    return make_hasher, made


def test_basic_auth_verifies_passwords_off_the_event_loop(make_app) -> None:
    make_hasher, watched = watched_hashers()
    app = make_app(1, make_hasher=make_hasher)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    client = TestClient(app)
    assert client.get("/basic/me", headers=basic("alice", people["alice"].password)).is_success
    assert client.get("/basic/me", headers=basic("nobody_here", "x")).status_code == 401
    assert watched[0].on_loop == [False, False]


def test_a_slow_login_never_stalls_health(make_app) -> None:
    """Three slow logins at once: /health still answers at once, and the hashes take turns
    within the hashing slots instead of crowding the CPU."""
    delay = 0.4
    make_hasher, watched = watched_hashers(delay)
    app = make_app(1, make_hasher=make_hasher)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    login = basic("alice", people["alice"].password)

    async def scenario() -> tuple[list[int], float]:
        transport = httpx2.ASGITransport(app=app)
        async with httpx2.AsyncClient(transport=transport, base_url="http://test") as client:
            async def health() -> float:
                await asyncio.sleep(delay / 4)  # while the first hash is under way
                started = time.perf_counter()
                assert (await client.get("/health")).status_code == 200
                return time.perf_counter() - started

            *logins, health_time = await asyncio.gather(
                *(client.get("/basic/me", headers=login) for _ in range(3)), health())
            return [r.status_code for r in logins], health_time

    statuses, health_time = asyncio.run(scenario())
    assert statuses == [200, 200, 200]
    assert health_time < delay / 2, f"/health took {health_time:.3f} s during the logins"
    assert watched[0].on_loop == [False] * 3
    assert watched[0].most_at_once <= HASHING_SLOTS.total_tokens


def test_lesson_1_app_from_env_serves_basic_me(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LESSONS_LESSON", "1")
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path / "env"))
    response = TestClient(app_from_env()).get("/basic/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Basic ")


@pytest.mark.slow
def test_serve_lesson_1_answers_basic_auth(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    password = new_password()
    added = run_cli("users", "add", "alice", stdin=password + "\n")
    assert added.returncode == 0, added.stderr
    with serving("--lesson", "1") as server:
        url = f"{server.url}/basic/me"
        refused = httpx2.get(url, timeout=10)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Basic realm="notes", charset="UTF-8"'
        me = httpx2.get(url, auth=("alice", password), timeout=10)
        assert me.json() == {"username": "alice", "role": "user"}
    assert "after lesson 01" in server.output


# -- the facts the errata rely on ----------------------------------------------------------------


def test_compare_digest_refuses_non_ascii_str_but_not_bytes() -> None:
    with pytest.raises(TypeError):
        secrets.compare_digest("pässwörd", "pässwörd")
    assert basic_auth.same_text("pässwörd", "pässwörd")
    assert not basic_auth.same_text("pässwörd", "passwörd")


def test_fastapis_http_basic_decodes_ascii_only() -> None:
    """FastAPI's own HTTPBasic turns non-ASCII credentials into a 401 before any check runs,
    so a user with an accented password can never log in through it; ours decodes UTF-8."""
    app = FastAPI()

    fastapis, ours = HTTPBasic(), basic_auth.Utf8HTTPBasic(auto_error=False)

    @app.get("/fastapi")
    def fastapi_basic(credentials: Annotated[HTTPBasicCredentials, Depends(fastapis)]) -> str:
        return credentials.password

    @app.get("/utf8")
    def utf8_basic(credentials: Annotated[HTTPBasicCredentials | None, Depends(ours)]) -> str:
        return credentials.password if credentials else ""

    client = TestClient(app)
    header = basic("bob", NON_ASCII_PASSWORD)
    assert client.get("/fastapi", headers=header).status_code == 401
    assert client.get("/utf8", headers=header).json() == NON_ASCII_PASSWORD
    ascii_header = basic("alice", "plain-ascii")
    assert client.get("/fastapi", headers=ascii_header).json() == "plain-ascii"


# -- over-long passwords, on every login route ---------------------------------------------------

# Each login route, the first lesson that has it, and how it is sent a username and password.
LOGIN_ROUTES = {
    "/basic/me": (1, lambda client, username, password:
                  client.get("/basic/me", headers=basic(username, password))),
    "/auth/token": (2, lambda client, username, password:
                    client.post("/auth/token", data={"username": username,
                                                     "password": password})),
    "/session/login": (6, lambda client, username, password:
                       client.post("/session/login", data={"username": username,
                                                           "password": password})),
}


@pytest.mark.parametrize("route", LOGIN_ROUTES)
@pytest.mark.parametrize("upto", ["first", "final"])
def test_an_over_long_password_is_an_ordinary_failed_login(make_app, route, upto) -> None:
    lesson, log_in = LOGIN_ROUTES[route]
    app = make_app(lesson if upto == "first" else "final")
    people = seed(app, Account("alice", new_password()), notes_each=0)
    client = attacks.outside_client(app)
    wrong = log_in(client, "alice", "a-wrong-guess")
    assert wrong.status_code == 401
    for username in ("alice", "nobody_here"):
        for password in (attacks.LONG_PASSWORD, "x" * (LONGEST_PASSWORD + 1),
                         people["alice"].password + "x" * LONGEST_PASSWORD):
            answer = log_in(client, username, password)
            assert attacks.visible_answer(answer) == attacks.visible_answer(wrong), \
                (username, len(password))


@pytest.mark.parametrize("route", LOGIN_ROUTES)
def test_the_previous_reference_answered_500_on_every_login_route(make_app, route) -> None:
    """The fix above is needed: with authenticate as it was, passlib's size limit is a 500."""
    _, log_in = LOGIN_ROUTES[route]
    app = make_app("final", **basic_auth.UNBOUNDED_LAYER)
    seed(app, Account("alice", new_password()), notes_each=0)
    assert log_in(attacks.outside_client(app), "alice", attacks.LONG_PASSWORD).status_code == 500


def test_a_password_of_128_characters_still_logs_in(scene) -> None:
    app, client, _ = scene(1)
    at_limit = "ø" * (LONGEST_PASSWORD - 1) + "!"
    seed(app, Account("carol", at_limit), notes_each=0)
    assert client.get("/basic/me", headers=basic("carol", at_limit)).status_code == 200


# -- failed Basic logins are audit events from lesson 08 on --------------------------------------


def audit_events(captured: logs.Captured) -> list[tuple[str, str | None, str | None]]:
    return [(e["event"], e.get("user"), e.get("method")) for e in captured.json()
            if e["logger"] == logs.AUDIT]


def test_a_failed_basic_login_is_a_login_failure_event(make_app) -> None:
    app = make_app(8)
    people = seed(app, Account("alice", new_password()), notes_each=0)
    forged = "mallory\nWARNING lessons.audit login.success user=admin"  # Basic: no colon
    with attacks.outside_client(app) as client, logs.capture() as captured:
        client.get("/basic/me", headers=basic("alice", "wrong-guess-1"))
        client.get("/basic/me", headers=basic("nobody_here", attacks.LONG_PASSWORD))
        client.get("/basic/me", headers=basic(forged, "wrong-guess-2"))
        client.get("/basic/me", headers=basic("alice", people["alice"].password))
    assert audit_events(captured) == [
        ("login.failure", "alice", "basic"),
        ("login.failure", "nobody_here", "basic"),
        # The username is the client's text: neutralised, it cannot start a line of its own.
        ("login.failure", "mallory\\nWARNING lessons.audit login.success user=admin", "basic"),
    ]
    assert "wrong-guess" not in captured.text and people["alice"].password not in captured.text
    assert len(captured.text.splitlines()) == len(captured.json())


@pytest.mark.parametrize("route", ["/auth/token", "/session/login"])
def test_an_over_long_password_is_a_login_failure_event(make_app, route) -> None:
    _, log_in = LOGIN_ROUTES[route]
    app = make_app(8)
    seed(app, Account("alice", new_password()), notes_each=0)
    with attacks.outside_client(app) as client, logs.capture() as captured:
        assert log_in(client, "alice", attacks.LONG_PASSWORD).status_code == 401
    method = "token" if route == "/auth/token" else "session"
    assert audit_events(captured) == [("login.failure", "alice", method)]


def test_before_lesson_08_a_failed_login_leaves_no_audit_event(make_app) -> None:
    app = make_app(7)
    with attacks.outside_client(app) as client, logs.capture() as captured:
        assert client.get("/basic/me", headers=basic("alice", "wrong")).status_code == 401
    assert audit_events(captured) == []


# -- the checks accept every way of doing the same work for an unknown user ----------------------


def django_style(store, hasher, username, password):
    """Django's way: for an unknown user, hash the password with the same hasher."""
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.hash(password[:LONGEST_PASSWORD])
        return None
    return user if hasher.verify(password, user.password_hash) else None


def passlibs_dummy_verify(store, hasher, username, password):
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.dummy_verify()
        return None
    return user if hasher.verify(password, user.password_hash) else None


@functools.cache
def fixed_dummy(hasher) -> str:
    return hasher.hash("no-such-user-dummy")


def a_dummy_of_its_own(store, hasher, username, password):
    """A dummy made once per hasher, differently from the reference (a fixed text)."""
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        hasher.verify(password[:LONGEST_PASSWORD], fixed_dummy(hasher))
        return None
    return user if hasher.verify(password, user.password_hash) else None


def verify_then_decide(store, hasher, username, password):
    """One verification on every path, against the user's hash or a dummy, decided after."""
    user = store.get_user(username)
    target = user.password_hash if user is not None else basic_auth.dummy_hash_for(hasher)
    matches = hasher.verify(password[:LONGEST_PASSWORD], target)
    return user if matches and user is not None and len(password) <= LONGEST_PASSWORD else None


AUTHENTICATE_CHECKS = [check.id for check in suite.checks
                       if check.id.startswith(("auth_", "attack_"))]


@pytest.mark.parametrize("authenticate", [django_style, passlibs_dummy_verify,
                                          a_dummy_of_its_own, verify_then_decide])
def test_every_constant_work_answer_passes_the_checks(authenticate) -> None:
    report = suite.subset(*AUTHENTICATE_CHECKS).run(
        record=False, **{**REFERENCE, "authenticate": authenticate})
    assert report.passed, str(report)
