"""Lesson 06 checks: the learner's ``new_session``, ``session_valid``, ``csrf_ok`` and
``start_session`` work in the service, and the lesson's attacks fail against them.

Each check plugs in only the exercise it is about (the other seams keep their reference), so
an unwritten exercise shows as "not attempted" without hiding the others' results. One check
starts two real HTTPS servers on loopback: the cross-site form post needs a real page of
another origin and a browser.
"""

from __future__ import annotations

import math
import random
import string
import uuid
from typing import Any

from fastapi import FastAPI
from itsdangerous import BadSignature, Signer, URLSafeSerializer

from lessons import sessions
from lessons.attacks import lesson06 as attacks
from lessons.attacks.lesson06 import Scene, set_cookie_attributes, stage
from lessons.checks import Fail, Report, Suite, Trial, expect
from lessons.store import Session
from lessons.tls import certificates as tls

suite = Suite(6, "Cookies and sessions")

# A fixed moment for session_valid's cases: times are whole seconds since 1970 (UTC).
NOW = 1_750_000_000


def _app(trial: Trial, **seams: Any) -> FastAPI:
    return trial.app(6, **seams)


def _scene(trial: Trial, **seams: Any) -> Scene:
    return stage(_app(trial, **seams))


# -- new_session ---------------------------------------------------------------------------------


def _pair(trial: Trial, settings: Any) -> tuple[str, str]:
    result = trial.new_session(settings)
    expect(isinstance(result, tuple) and len(result) == 2
           and all(isinstance(part, str) for part in result),
           "new_session should return two strings, (session_id, cookie_value), for example "
           "`return session_id, signer.sign(session_id).decode()`.")
    return result


def _why_unreadable(settings: Any, cookie: str) -> str:
    """Which itsdangerous set-up made ``cookie``, when it is not the service's."""
    import hashlib

    key = settings.secret_key
    tries = [
        (Signer(key, salt=sessions.SALT), "You signed with itsdangerous' default digest, "
         "SHA-1. The service verifies with SHA-256: pass digest_method=hashlib.sha256."),
        (Signer(key, digest_method=hashlib.sha256), "Your signer has no salt (or another one): "
         "pass salt=sessions.SALT, the service's name for session cookies."),
        (Signer(key), "Your signer has itsdangerous' defaults: pass salt=sessions.SALT and "
         "digest_method=hashlib.sha256."),
    ]
    for signer, hint in tries:
        try:
            signer.unsign(cookie)
        except BadSignature:
            continue
        return hint
    try:
        URLSafeSerializer(key, salt=sessions.SALT).loads(cookie)
    except BadSignature:
        pass
    else:
        return ("That cookie is a serializer's output (JSON, then signed). Sign the bare id "
                "with a Signer: Signer(...).sign(session_id).")
    return ("The service cannot verify your cookie with its key. Make it with "
            "Signer(settings.secret_key, salt=sessions.SALT, digest_method=hashlib.sha256)"
            ".sign(session_id).decode(): never a key written in code.")


@suite.check("new_session: the id, and a cookie carrying it signed with the service's key")
def new_session_signs(trial: Trial) -> None:
    settings = trial.settings()
    session_id, cookie = _pair(trial, settings)
    expect(cookie != session_id,
           "The cookie is the bare id: sign it, so that the service can refuse made-up "
           "cookies before any lookup.")
    found = sessions.session_id_from(settings, cookie)
    if found is None:
        raise Fail(_why_unreadable(settings, cookie))
    expect(found == session_id, "The cookie carries another id than the one you return: sign "
                                "the id you return.")
    scene = _scene(trial, new_session=trial.new_session)
    cookie, _ = scene.login("alice")
    response = scene.me(cookie)
    expect(response.status_code == 200,
           f"With your new_session, GET /session/me after logging in answered "
           f"{response.status_code}.")


def estimated_bits(session_id: str) -> float:
    """A generous estimate of the randomness in an id: its length times the bits a character
    of its alphabet carries. A version-4 UUID counts as its 122 random bits."""
    if len(session_id) == 36 and session_id.count("-") == 4:
        try:
            parsed = uuid.UUID(session_id)
        except ValueError:
            pass
        else:
            return 122.0 if parsed.version == 4 else 0.0
    if not session_id:
        return 0.0
    if all(c in string.digits for c in session_id):
        per_char = math.log2(10)
    elif all(c in string.hexdigits for c in session_id):
        per_char = 4.0
    else:
        per_char = 6.0  # base64url, or anything richer (counted as 6: still generous)
    return len(session_id) * per_char


@suite.check("new_session: at least 128 bits from a CSPRNG (secrets), a new id every time")
def new_session_random(trial: Trial) -> None:
    settings = trial.settings()
    ids = [_pair(trial, settings)[0] for _ in range(200)]
    expect(len(set(ids)) == len(ids),
           "Two calls gave the same id: every session needs a new, random one.")
    weakest = min(ids, key=estimated_bits)
    bits = estimated_bits(weakest)
    expect(bits >= 128,
           f"Your ids carry at most about {bits:.0f} random bits ({len(weakest)} characters); "
           "ASVS 7.2.3 asks for at least 128. secrets.token_urlsafe(32) gives 256.")
    state = random.getstate()
    try:
        random.seed(606)
        first = _pair(trial, settings)[0]
        random.seed(606)
        second = _pair(trial, settings)[0]
    finally:
        random.setstate(state)
    expect(first != second,
           "Your ids come from the random module: seeded the same way, it gives the same ids, "
           "and anyone who sees enough of them can compute the next ones. Use secrets, the "
           "operating system's cryptographic generator (ASVS 7.2.3).")


# -- session_valid -------------------------------------------------------------------------------


def _session(created_ago: int, idle_for: int) -> Session:
    return Session(id_hash="0" * 64, username="alice", csrf_token="not-used-here",  # noqa: S106
                   created_at=NOW - created_ago, last_seen=NOW - idle_for)


def _judge_validity(trial: Trial, cases: list[tuple[str, Session, bool]], settings: Any,
                    hint: str) -> None:
    for label, session, expected in cases:
        result = trial.session_valid(session, NOW, settings)
        expect(isinstance(result, bool),
               f"session_valid should return True or False, not {type(result).__name__}.")
        expect(result == expected,
               f"{label}: your session_valid says {result}, it should say {expected}. {hint}")


@suite.check("session_valid: valid while active; not after session_idle_minutes idle")
def idle_timeout(trial: Trial) -> None:
    # Not the default 30 minutes, so that a limit written into the code shows.
    settings = trial.settings(session_idle_minutes=7, session_absolute_hours=2)
    _judge_validity(trial, [
        ("A session just created", _session(0, 0), True),
        ("A session idle for 6 min 50 s (limit: 7 min)", _session(410, 410), True),
        ("A session idle for 7 min 10 s (limit: 7 min)", _session(430, 430), False),
        ("A session idle for a day", _session(30, 86_400), False),
    ], settings,
        "Idle time is now - session.last_seen, in seconds; the limit is "
        "settings.session_idle_minutes * 60 (read it from settings, here 7 minutes).")


@suite.check("session_valid: not after session_absolute_hours, however active")
def absolute_timeout(trial: Trial) -> None:
    settings = trial.settings(session_idle_minutes=7, session_absolute_hours=2)
    _judge_validity(trial, [
        ("Active a minute ago, logged in 1 h 59 min ago (limit: 2 h)", _session(7140, 60), True),
        ("Active a minute ago, logged in 2 h 1 min ago (limit: 2 h)", _session(7260, 60), False),
        ("Active a second ago, logged in 3 days ago", _session(259_200, 1), False),
    ], settings,
        "Age is now - session.created_at; the limit is settings.session_absolute_hours * 3600 "
        "seconds (here 2 hours), whatever the last request was.")


def _attack_check(attack: attacks.Attack, title: str, hint: str, seam: str) -> None:
    def run(trial: Trial) -> None:
        result = attack(_scene(trial, **{seam: getattr(trial, seam)}))
        expect(not result.succeeded, f"{hint} (The service answered: {result.evidence}.)")

    suite.check(f"attack fails: {title}")(run)


_attack_check(attacks.idle_session, "a session idle for 45 minutes",
              "A session left alone for 45 minutes still works: refuse it when now - "
              "last_seen reaches settings.session_idle_minutes * 60 (ASVS 7.3.1).",
              "session_valid")
_attack_check(attacks.old_session, "a session logged in 9 hours ago, still in use",
              "A session 9 hours old still works because it was used a minute ago: refuse it "
              "when now - created_at reaches settings.session_absolute_hours * 3600 "
              "(ASVS 7.3.2).", "session_valid")


# -- csrf_ok -------------------------------------------------------------------------------------

# A stand-in for a session's CSRF token: the checks call csrf_ok with it directly.
TOKEN = "a-long-stand-in-for-the-csrf-token-of-a-session"  # noqa: S105


@suite.check("csrf_ok: reads need no token; writes pass with the session's token")
def csrf_allows(trial: Trial) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        expect(trial.csrf_ok(method, TOKEN, None) is True,
               f"csrf_ok refused a {method} without a token. Reads (GET, HEAD, OPTIONS) change "
               "nothing and need no token: a page's links and images must keep working.")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        expect(trial.csrf_ok(method, TOKEN, TOKEN) is True,
               f"csrf_ok refused a {method} carrying the session's own token.")
    scene = _scene(trial, csrf_ok=trial.csrf_ok)
    cookie, csrf = scene.login("alice")
    note = scene.request("POST", "/notes", cookie=cookie, csrf=csrf,
                         json={"title": "From the check", "body": "With the token."})
    expect(note.status_code == 201,
           f"With your csrf_ok, POST /notes with the cookie and the token answered "
           f"{note.status_code}.")


@suite.check("csrf_ok: a write with a missing, empty or wrong token is refused")
def csrf_refuses(trial: Trial) -> None:
    cases = [
        ("POST", TOKEN, None, "no X-CSRF-Token header at all"),
        ("POST", TOKEN, "", "an empty X-CSRF-Token"),
        ("POST", TOKEN, "another-long-random-token-from-elsewhere-000", "a wrong token"),
        ("DELETE", TOKEN, TOKEN[:-1], "the token without its last character"),
        ("POST", None, None, "a session with no token, and no header (None == None)"),
        ("PATCH", "", "", "a session with an empty token, and an empty header"),
    ]
    for method, expected, sent, label in cases:
        expect(trial.csrf_ok(method, expected, sent) is False,
               f"csrf_ok allowed a {method} with {label}. Refuse a write unless both tokens "
               "are non-empty and equal: `if not expected or not sent: return False`.")


class _Watched(str):
    """A str that notes whether anyone compared it with == or !=."""

    compared = False

    def __eq__(self, other: object) -> bool:
        type(self).compared = True
        return str.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        type(self).compared = True
        return str.__ne__(self, other)

    __hash__ = str.__hash__


@suite.check("csrf_ok: compares in constant time, and never raises on odd header values")
def csrf_constant_time(trial: Trial) -> None:
    _Watched.compared = False
    allowed = trial.csrf_ok("POST", _Watched(TOKEN), _Watched(TOKEN))
    expect(not _Watched.compared,
           "csrf_ok compares the tokens with == (or !=), which stops at the first difference: "
           "the time taken tells an attacker how much of a guess is right. Use "
           "secrets.compare_digest on the tokens encoded as bytes.")
    expect(allowed is True, "csrf_ok refused the right token.")
    # Starlette decodes header bytes as Latin-1, so a client can send any of these.
    for odd in ("é" + TOKEN[1:], "\u00ff" * 8, " " + TOKEN):
        try:
            result = trial.csrf_ok("POST", TOKEN, odd)
        except TypeError as error:
            raise Fail(f"csrf_ok raised TypeError on a non-ASCII header ({error}): "
                       "secrets.compare_digest refuses str with non-ASCII characters. Compare "
                       "bytes: expected.encode() and sent.encode().") from None
        expect(result is False, f"csrf_ok allowed the header {odd!r}.")


_attack_check(attacks.missing_token, "a write with the cookie and no CSRF token",
              "A cookie-authenticated write without the token went through: return False "
              "for any method but GET, HEAD and OPTIONS unless the right token came with it.",
              "csrf_ok")


@suite.check("attack fails: a cross-site form post from a page on another port (real servers)")
def csrf_served(trial: Trial) -> None:
    trial.csrf_ok("POST", TOKEN, TOKEN)  # an unwritten exercise stops here, before any server
    raised: list[Exception] = []

    def guarded(method: str, expected: str | None, sent: str | None) -> bool:
        # Inside a real server an exception would be a 500 and a traceback in the server's
        # log; keep it for the check to report instead.
        try:
            return trial.csrf_ok(method, expected, sent)
        except Exception as error:
            raised.append(error)
            return False

    app = _app(trial, csrf_ok=guarded)
    people = attacks.seed(app, attacks.Account("alice", attacks.new_password()), notes_each=0)
    files = tls.ensure_certificates(trial.root / "tls")
    with attacks.network(app, files) as net:
        result = attacks.cross_site_form_post(net, people["alice"])
    if raised:
        raise raised[0]
    expect(not result.succeeded,
           "mallory's page made alice's browser log her out: the form's POST carried her "
           "cookie (same site: SameSite=Lax does not stop it) and no token. csrf_ok must "
           f"refuse it. (What happened: {result.evidence}.)")


# -- start_session -------------------------------------------------------------------------------


def _login(scene: Scene, name: str, cookie: str | None = None) -> tuple[str, str]:
    response = scene.login_response(name, cookie)
    expect(response.status_code == 204,
           f"With your start_session, POST /session/login answered {response.status_code}: "
           f"{response.text[:200]}")
    value = attacks.cookie_from(response)
    expect(value is not None,
           f"The login answer sets no {sessions.COOKIE} cookie: call response.set_cookie("
           f"sessions.COOKIE, cookie, ...) on the response you are given.")
    assert value is not None
    return value, response.headers.get(sessions.CSRF_HEADER, "")


@suite.check("start_session: a new session id at every login, stored only as its hash")
def start_rotates(trial: Trial) -> None:
    scene = _scene(trial, start_session=trial.start_session)
    first, _ = _login(scene, "alice")
    second, _ = _login(scene, "alice")
    expect(first != second, "Two logins got the same cookie: make a new session every time, "
                            "with service.layers.new_session(service.settings).")
    rows = scene.app.state.service.store.query("SELECT * FROM sessions")
    stored = {value for row in rows for value in tuple(row)}
    for cookie in (first, second):
        session_id = sessions.session_id_from(scene.app.state.service.settings, cookie)
        expect(session_id is not None,
               "The cookie you set is not the one new_session made: set the cookie value it "
               "returns (the signed id), not the bare id.")
        expect(session_id not in stored and cookie not in stored,
               "The database holds the session id itself: whoever reads a copy of it can "
               "use every session. Store sessions.hash_id(session_id) instead.")
        expect(sessions.hash_id(session_id or "") in stored,
               "No stored session has the id's hash: store Session(id_hash="
               "sessions.hash_id(session_id), ...) with service.store.add_session.")
        expect(scene.me(cookie).status_code == 200,
               "GET /session/me refuses the session you created: username, created_at and "
               "last_seen should be the user's name and now, int(time.time()).")


@suite.check("start_session: the cookie is __Host-session; Secure; HttpOnly; SameSite=Lax; "
             "Path=/; no Domain")
def start_cookie_flags(trial: Trial) -> None:
    scene = _scene(trial, start_session=trial.start_session)
    response = scene.login_response("alice")
    expect(response.status_code == 204, f"POST /session/login answered {response.status_code}.")
    found = set_cookie_attributes(response)
    expect(sessions.COOKIE in found,
           f"The login answer sets no cookie called {sessions.COOKIE} (it sets "
           f"{', '.join(found) or 'none'}).")
    attributes = found[sessions.COOKIE]
    expect("secure" in attributes,
           "The cookie has no Secure attribute: browsers would send it over plain HTTP, where "
           "anyone on the path reads it (and they refuse a __Host- cookie without it).")
    expect("httponly" in attributes,
           "The cookie has no HttpOnly attribute: any script on a page of the site, an "
           "injected one included, can read document.cookie and steal the session.")
    expect(attributes.get("samesite", "").lower() == "lax",
           "SameSite should be Lax: not sent with other sites' form posts, still sent when "
           "someone follows a link to the service.")
    expect(attributes.get("path") == "/", "The cookie needs Path=/ (a __Host- rule).")
    expect("domain" not in attributes,
           "The cookie has a Domain attribute: it would go to every subdomain too, and "
           "browsers refuse a __Host- cookie that has one. Leave domain out.")


@suite.check("start_session: every session gets a CSRF token of its own")
def start_csrf(trial: Trial) -> None:
    scene = _scene(trial, start_session=trial.start_session)
    first_cookie, first = _login(scene, "alice")
    _, second = _login(scene, "mallory")
    expect(bool(first) and bool(second),
           f"The login answer has no {sessions.CSRF_HEADER} header: return the new session's "
           "CSRF token from start_session.")
    expect(first != second, "Two sessions got the same CSRF token: make a new one for each, "
                            "secrets.token_urlsafe(32).")
    expect(estimated_bits(first) >= 128,
           f"The CSRF token carries about {estimated_bits(first):.0f} bits: use "
           "secrets.token_urlsafe(32).")
    session_id = sessions.session_id_from(scene.app.state.service.settings, first_cookie)
    expect(first not in (session_id, first_cookie),
           "The CSRF token is the session id: a token sent in a header and kept by page "
           "scripts must not be the secret that the HttpOnly cookie protects.")
    write = scene.request("POST", "/notes", cookie=first_cookie, csrf=first,
                          json={"title": "From the check", "body": "With the token."})
    expect(write.status_code == 201,
           f"A write with the token you returned answered {write.status_code}: store the same "
           "token in the session (Session(csrf_token=...)) that you return.")


@suite.check("attack fails: session fixation (and the planted session ends at login)")
def start_fixation(trial: Trial) -> None:
    scene = _scene(trial, start_session=trial.start_session)
    result = attacks.fixation(scene)
    expect(not result.succeeded,
           "The cookie planted before alice's login is logged in as alice afterwards: make a "
           "new session id at every login, never reuse the one the browser brings (ASVS "
           f"7.2.4). (The service answered: {result.evidence}.)")
    planted, _ = scene.login("mallory")
    _login(scene, "alice", cookie=planted)
    expect(scene.me(planted).status_code == 401,
           "The session presented with alice's login is still alive: delete it first, "
           "service.store.delete_session(sessions.hash_id(old_id)), whoever it belonged to.")


# -- all four --------------------------------------------------------------------------------------


@suite.check("all four together: log in, write with the token, log out, and every attack fails")
def whole_layer(trial: Trial) -> None:
    seams = {name: getattr(trial, name)
             for name in ("new_session", "session_valid", "csrf_ok", "start_session")}
    scene = _scene(trial, **seams)
    cookie, csrf = scene.login("alice")
    write = scene.request("POST", "/notes", cookie=cookie, csrf=csrf,
                          json={"title": "Shopping", "body": "Milk."})
    expect(write.status_code == 201, f"POST /notes with cookie and token: {write.status_code}.")
    logout = scene.request("POST", "/session/logout", cookie=cookie, csrf=csrf)
    expect(logout.status_code == 204, f"POST /session/logout answered {logout.status_code}.")
    expect(scene.me(cookie).status_code == 401, "The cookie still works after logout.")
    succeeded = [r for r in attacks.run_all(lambda: _app(trial, **seams)) if r.succeeded]
    expect(not succeeded, "These attacks succeeded against your layer: "
                          + "; ".join(f"{r.name} ({r.evidence})" for r in succeeded))


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "new_session": sessions.new_session,
    "session_valid": sessions.session_valid,
    "csrf_ok": sessions.csrf_ok,
    "start_session": sessions.start_session,
}


def check(**answers: Any) -> Report:
    """Run the lesson-06 checks: ``check(new_session=..., session_valid=..., csrf_ok=...,
    start_session=...)``."""
    return suite.run(**answers)
