"""Lesson 06 checks: the learner's ``new_session``, ``session_valid``, ``csrf_ok``,
``start_session`` and ``origin_ok`` work in the service, and the lesson's attacks fail against
them.

Each check plugs in only the exercise it is about (the other seams keep their reference), so
an unwritten exercise shows as "not attempted" without hiding the others' results. The
scenes' clients raise what the service raises: an exception in the learner's code reaches the
check, which reports it as theirs. One check starts two real HTTPS servers on loopback: login
CSRF needs a real page of another origin and a browser.

``RULES`` lists every rule the exercises state; ``WRONG_ANSWERS`` (written in
``lessons.checks.wrong_lesson06``) breaks each one.
"""

from __future__ import annotations

import hashlib
import math
import random
import string
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from itsdangerous import BadData, BadSignature, Signer, URLSafeSerializer

from lessons import sessions
from lessons.attacks import AttackResult, Scene, SceneError, Variant
from lessons.attacks import lesson06 as attacks
from lessons.checks import Fail, Report, Rule, Suite, Trial, WrongAnswer, expect, expect_type
from lessons.checks import wrong_lesson06 as wrong
from lessons.store import Session

suite = Suite(6, "Cookies and sessions")

# A fixed moment for session_valid's cases: times are whole seconds since 1970 (UTC).
NOW = 1_750_000_000


@contextmanager
def _scene(trial: Trial, **seams: Any) -> Iterator[Scene]:
    """The service after lesson 06 with ``seams`` (the learner's answers) in place and its cast
    seeded, in the trial's folder. Its client raises what the service raises, so that an
    exception in the learner's code is reported as theirs (a stub's as "not attempted")."""
    variant = Variant(6, seams=seams, settings=trial.settings_changes)
    with Scene(variant, trial.root) as scene:
        yield scene.raising()


def _login(scene: Scene, name: str, whose: str, cookie: str | None = None,
           headers: dict[str, str] | None = None) -> tuple[str, str]:
    """Log ``name`` in; fail with a hint about ``whose`` code when that does not work."""
    response = attacks.login_response(scene, name, cookie, headers)
    expect(response.status_code == 204,
           f"With {whose}, POST /session/login answered {response.status_code}: "
           f"{response.text[:200]}")
    value = attacks.cookie_from(response)
    expect(value is not None,
           f"With {whose}, the login answer sets no {sessions.COOKIE} cookie: call "
           f"response.set_cookie(sessions.COOKIE, cookie, ...) on the response you are given.")
    assert value is not None
    return value, response.headers.get(sessions.CSRF_HEADER, "")


def _attack(attack: Callable[[Scene], AttackResult], scene: Scene) -> AttackResult:
    """Run an attack on a scene of the learner's layer. When the attack cannot even be set up
    (a login that fails, say), that is the layer's doing: a failed check, not a workbook
    error."""
    try:
        return attack(scene)
    except SceneError as error:
        raise Fail(f"With your answer the attack could not even be set up: {error}") from None


# -- new_session ---------------------------------------------------------------------------------


def _pair(trial: Trial, settings: Any) -> tuple[str, str]:
    result = trial.new_session(settings)
    expect_type(result, tuple, "new_session", "a tuple of two strings, (session_id, "
                "cookie_value)")
    expect(len(result) == 2 and all(isinstance(part, str) for part in result),
           f"Your new_session returned {len(result)} value(s) of types "
           f"{', '.join(type(part).__name__ for part in result)}; it should return two "
           "strings, (session_id, cookie_value). Signer.sign returns bytes: decode them.")
    return result


def _why_unreadable(settings: Any, cookie: str) -> str:
    """Which itsdangerous set-up made ``cookie``, when it is not the service's."""
    key = settings.secret_key
    try:
        URLSafeSerializer(key, salt=sessions.SALT).loads(cookie)
    except BadData:  # a bad signature, or a signed value that is not a serializer's JSON
        pass
    else:
        return ("That cookie is a serializer's output (JSON, then signed). Sign the bare id "
                "with a Signer: Signer(...).sign(session_id).")
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
    return ("The service cannot verify your cookie with its key. Make it with "
            "Signer(settings.secret_key, salt=sessions.SALT, digest_method=hashlib.sha256)"
            ".sign(session_id).decode(): never a key written in code.")


@suite.check("new_signs", "new_session: the id, and a cookie carrying it signed with the "
                          "service's key")
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
    with _scene(trial, new_session=trial.new_session) as scene:
        cookie, _ = _login(scene, "alice", "your new_session")
        response = attacks.me(scene, cookie)
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


@suite.check("new_random", "new_session: at least 128 bits from a CSPRNG (secrets), a new id "
                           "every time")
def new_session_random(trial: Trial) -> None:
    settings = trial.settings()
    ids = [_pair(trial, settings)[0] for _ in range(200)]
    expect(len(set(ids)) == len(ids),
           "Two calls gave the same id: every session needs a new, random one, made inside "
           "new_session at each call.")
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
        expect_type(result, bool, "session_valid", "True or False (did a path miss its "
                    "return?)")
        expect(result == expected,
               f"{label}: your session_valid says {result}, it should say {expected}. {hint}")


@suite.check("valid_idle", "session_valid: valid while active; expired once idle for "
                           "session_idle_minutes")
def idle_timeout(trial: Trial) -> None:
    # Not the default 30 minutes, so that a limit written into the code shows.
    settings = trial.settings(session_idle_minutes=7, session_absolute_hours=2)
    _judge_validity(trial, [
        ("A session just created", _session(0, 0), True),
        ("A session idle for 6 min 50 s (limit: 7 min)", _session(410, 410), True),
        ("A session idle for exactly 7 min (limit: 7 min)", _session(420, 420), False),
        ("A session idle for 7 min 10 s (limit: 7 min)", _session(430, 430), False),
        ("A session idle for a day", _session(30, 86_400), False),
    ], settings,
        "Idle time is now - session.last_seen, in seconds; the session has expired once it "
        "reaches settings.session_idle_minutes * 60 (read it from settings, here 7 minutes).")


@suite.check("valid_absolute", "session_valid: expired session_absolute_hours after login, "
                               "however active")
def absolute_timeout(trial: Trial) -> None:
    settings = trial.settings(session_idle_minutes=7, session_absolute_hours=2)
    _judge_validity(trial, [
        ("Active a minute ago, logged in 1 h 59 min ago (limit: 2 h)", _session(7140, 60), True),
        ("Active a minute ago, logged in exactly 2 h ago (limit: 2 h)", _session(7200, 60),
         False),
        ("Active a minute ago, logged in 2 h 1 min ago (limit: 2 h)", _session(7260, 60), False),
        ("Active a second ago, logged in 3 days ago", _session(259_200, 1), False),
    ], settings,
        "Age is now - session.created_at; the session has expired once it reaches "
        "settings.session_absolute_hours * 3600 seconds (here 2 hours), whatever the last "
        "request was.")


def _attack_check(id: str, attack: Callable[[Scene], AttackResult], title: str, hint: str,
                  seam: str) -> None:
    def run(trial: Trial) -> None:
        with _scene(trial, **{seam: getattr(trial, seam)}) as scene:
            result = _attack(attack, scene)
        expect(not result.succeeded, f"{hint} (The service answered: {result.evidence}.)")

    suite.check(id, f"attack fails: {title}")(run)


_attack_check("attack_idle", attacks.idle_session, "a session idle for 45 minutes",
              "A session left alone for 45 minutes still works: refuse it when now - "
              "last_seen reaches settings.session_idle_minutes * 60 (ASVS 7.3.1).",
              "session_valid")
_attack_check("attack_old", attacks.old_session, "a session logged in 9 hours ago, still in use",
              "A session 9 hours old still works because it was used a minute ago: refuse it "
              "when now - created_at reaches settings.session_absolute_hours * 3600 "
              "(ASVS 7.3.2).", "session_valid")


# -- csrf_ok -------------------------------------------------------------------------------------

# A stand-in for a session's CSRF token: the checks call csrf_ok with it directly.
TOKEN = "a-long-stand-in-for-the-csrf-token-of-a-session"  # noqa: S105


def _csrf(trial: Trial, method: str, expected: str | None, sent: str | None) -> bool:
    result = trial.csrf_ok(method, expected, sent)
    expect_type(result, bool, "csrf_ok", "True or False")
    return result


@suite.check("csrf_allows", "csrf_ok: reads need no token; writes pass with the session's token")
def csrf_allows(trial: Trial) -> None:
    for method in ("GET", "HEAD", "OPTIONS"):
        expect(_csrf(trial, method, TOKEN, None) is True,
               f"csrf_ok refused a {method} without a token. Reads (GET, HEAD, OPTIONS) change "
               "nothing and need no token: a page's links and images must keep working.")
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        expect(_csrf(trial, method, TOKEN, TOKEN) is True,
               f"csrf_ok refused a {method} carrying the session's own token.")
    with _scene(trial, csrf_ok=trial.csrf_ok) as scene:
        cookie, csrf = _login(scene, "alice", "your csrf_ok")
        note = attacks.request(scene, "POST", "/notes", cookie=cookie, csrf=csrf,
                               json={"title": "From the check", "body": "With the token."})
        expect(note.status_code == 201,
               f"With your csrf_ok, POST /notes with the cookie and the token answered "
               f"{note.status_code}.")


@suite.check("csrf_refuses", "csrf_ok: a write with a missing, empty or wrong token is refused")
def csrf_refuses(trial: Trial) -> None:
    cases = [
        ("POST", TOKEN, None, "no X-CSRF-Token header at all"),
        ("POST", TOKEN, "", "an empty X-CSRF-Token"),
        ("POST", TOKEN, "another-long-random-token-from-elsewhere-000", "a wrong token"),
        ("DELETE", TOKEN, TOKEN[:-1], "the token without its last character"),
        ("PUT", TOKEN, TOKEN[:8], "the token's first 8 characters"),
        ("POST", None, None, "a session with no token, and no header (None == None)"),
        ("PATCH", "", "", "a session with an empty token, and an empty header"),
    ]
    for method, expected, sent, label in cases:
        expect(_csrf(trial, method, expected, sent) is False,
               f"csrf_ok allowed a {method} with {label}. Refuse a write unless both tokens "
               "are non-empty and exactly equal: `if not expected or not sent: return False`, "
               "then compare the whole of both.")


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


@suite.check("csrf_constant_time", "csrf_ok: compares bytes in constant time, exactly, and never "
                                   "raises on odd header values")
def csrf_constant_time(trial: Trial) -> None:
    _Watched.compared = False
    allowed = _csrf(trial, "POST", _Watched(TOKEN), _Watched(TOKEN))
    expect(not _Watched.compared,
           "csrf_ok compares the tokens with == (or !=), which stops at the first difference: "
           "the time taken tells an attacker how much of a guess is right. Use "
           "secrets.compare_digest on the tokens encoded as bytes.")
    expect(allowed is True, "csrf_ok refused the right token.")
    # Starlette decodes header bytes as Latin-1, so a client can send any of these.
    for odd in ("é" + TOKEN[1:], "\u00ff" * 8, " " + TOKEN, TOKEN + "\t"):
        try:
            result = _csrf(trial, "POST", TOKEN, odd)
        except TypeError as error:
            raise Fail(f"csrf_ok raised TypeError on a non-ASCII header ({error}): "
                       "secrets.compare_digest refuses str with non-ASCII characters. Compare "
                       "bytes: expected.encode() and sent.encode().") from None
        expect(result is False,
               f"csrf_ok allowed the header {odd!r}: compare the header as it came, never "
               "trimmed or otherwise changed first.")


_attack_check("attack_missing_token", attacks.missing_token,
              "a write with the cookie and no CSRF token",
              "A cookie-authenticated write without the token went through: return False "
              "for any method but GET, HEAD and OPTIONS unless the right token came with it.",
              "csrf_ok")


# -- start_session -------------------------------------------------------------------------------


@suite.check("start_rotates", "start_session: a new session id at every login, stored only as "
                              "its hash")
def start_rotates(trial: Trial) -> None:
    with _scene(trial, start_session=trial.start_session) as scene:
        first, _ = _login(scene, "alice", "your start_session")
        second, _ = _login(scene, "alice", "your start_session")
        expect(first != second, "Two logins got the same cookie: make a new session every "
                                "time, with service.layers.new_session(service.settings).")
        stored = {value for row in scene.store.query("SELECT * FROM sessions")
                  for value in tuple(row)}
        for cookie in (first, second):
            session_id = sessions.session_id_from(scene.settings, cookie)
            expect(session_id is not None,
                   "The cookie you set is not the one new_session made: set the cookie value "
                   "it returns (the signed id), not the bare id.")
            expect(session_id not in stored and cookie not in stored,
                   "The database holds the session id itself: whoever reads a copy of it can "
                   "use every session. Store sessions.hash_id(session_id) instead.")
            expect(sessions.hash_id(session_id or "") in stored,
                   "No stored session has the id's hash: store Session(id_hash="
                   "sessions.hash_id(session_id), ...) with service.store.add_session.")
            expect(attacks.me(scene, cookie).status_code == 200,
                   "GET /session/me refuses the session you created: store it with the "
                   "user's name, and created_at and last_seen set to now, int(time.time()).")


@suite.check("start_times", "start_session: the session starts now (created_at and last_seen, "
                            "in seconds)")
def start_times(trial: Trial) -> None:
    with _scene(trial, start_session=trial.start_session) as scene:
        before = int(time.time())
        _login(scene, "alice", "your start_session")
        after = int(time.time())
        rows = scene.store.query("SELECT created_at, last_seen FROM sessions")
        expect(len(rows) == 1, f"One login stored {len(rows)} sessions.")
        for column in ("created_at", "last_seen"):
            value = rows[0][column]
            expect(isinstance(value, int) and before - 1 <= value <= after + 1,
                   f"The stored {column} is {value!r}, not now ({before}): use int(time.time()),"
                   " whole seconds since 1970, the unit session_valid's limits are in. Any "
                   "other clock or unit makes sessions expire at once, or never.")


@suite.check("start_cookie_flags", "start_session: the cookie is __Host-session; Secure; "
                                   "HttpOnly; SameSite=Lax; Path=/; no Domain")
def start_cookie_flags(trial: Trial) -> None:
    with _scene(trial, start_session=trial.start_session) as scene:
        response = attacks.login_response(scene, "alice")
    expect(response.status_code == 204, f"POST /session/login answered {response.status_code}.")
    found = attacks.set_cookie_attributes(response)
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


@suite.check("start_csrf", "start_session: every session gets a CSRF token of its own")
def start_csrf(trial: Trial) -> None:
    with _scene(trial, start_session=trial.start_session) as scene:
        first_cookie, first = _login(scene, "alice", "your start_session")
        _, second = _login(scene, "mallory", "your start_session")
        expect(bool(first) and bool(second),
               f"The login answer has no {sessions.CSRF_HEADER} header: return the new "
               "session's CSRF token from start_session.")
        expect(first != second, "Two sessions got the same CSRF token: make a new one for "
                                "each, secrets.token_urlsafe(32).")
        expect(estimated_bits(first) >= 128,
               f"The CSRF token carries about {estimated_bits(first):.0f} bits: use "
               "secrets.token_urlsafe(32).")
        session_id = sessions.session_id_from(scene.settings, first_cookie)
        expect(first not in (session_id, first_cookie),
               "The CSRF token is the session id: a token sent in a header and kept by page "
               "scripts must not be the secret that the HttpOnly cookie protects.")
        expect(attacks.me(scene, first_cookie).status_code == 200,
               "The service refuses the session your start_session created (see the check on "
               "how it is stored), so its CSRF token cannot be tried.")
        write = attacks.request(scene, "POST", "/notes", cookie=first_cookie, csrf=first,
                                json={"title": "From the check", "body": "With the token."})
        expect(write.status_code == 201,
               f"A write with the token you returned answered {write.status_code}: store the "
               "same token in the session (Session(csrf_token=...)) that you return.")


@suite.check("attack_fixation", "attack fails: session fixation (and the planted session ends "
                                "at login)")
def start_fixation(trial: Trial) -> None:
    with _scene(trial, start_session=trial.start_session) as scene:
        result = _attack(attacks.fixation, scene)
        expect(not result.succeeded,
               "The cookie planted before alice's login is logged in as alice afterwards: "
               "make a new session id at every login, never reuse the one the browser brings "
               f"(ASVS 7.2.4). (The service answered: {result.evidence}.)")
        planted, _ = _login(scene, "mallory", "your start_session")
        _login(scene, "alice", "your start_session", cookie=planted)
        expect(attacks.me(scene, planted).status_code == 401,
               "The session presented with alice's login is still alive: delete it first, "
               "service.store.delete_session(sessions.hash_id(old_id)), whoever it belonged "
               "to.")


# -- origin_ok -----------------------------------------------------------------------------------

# The service's origin in origin_ok's cases, as a browser reaches it on this laptop; and, for
# the allow-list, a service with a front end on a sibling host.
OWN = "https://127.0.0.1:8443"
NAMED, SIBLING = "https://notes.example.org", "https://app.example.org"
ORIGIN_HINT = ("An Origin header that is sent must be one of `trusted`, compared as a whole "
               "string (scheme, host and port); \"null\" names no origin.")
FETCH_SITE_HINT = ("Sec-Fetch-Site: same-origin and none pass; same-site only with an Origin "
                   "from `trusted`; cross-site, or any other value, never.")

OriginCase = tuple[str, str | None, str | None, frozenset[str], bool]


def _judge_origin(trial: Trial, cases: list[OriginCase], hint: str) -> None:
    for label, origin, fetch_site, trusted, expected in cases:
        result = trial.origin_ok(origin, fetch_site, trusted)
        expect_type(result, bool, "origin_ok", "True or False")
        shown = f"Origin {origin!r}, Sec-Fetch-Site {fetch_site!r}, trusted {sorted(trusted)}"
        expect(result == expected,
               f"{label} ({shown}): your origin_ok says {result}, it should say {expected}. "
               f"{hint}")


@suite.check("origin_allows", "origin_ok: the service's own pages, trusted siblings, and "
                              "clients that send neither header pass")
def origin_allows(trial: Trial) -> None:
    own = frozenset({OWN})
    _judge_origin(trial, [
        ("The service's own page", OWN, "same-origin", own, True),
        ("The service's own page, in a browser that sends only Origin", OWN, None, own, True),
        ("The service's own page, in a browser that sends only Sec-Fetch-Site", None,
         "same-origin", own, True),
        ("The service's own form, on a page with Referrer-Policy: no-referrer", "null",
         "same-origin", own, True),
        ("An address the person typed", None, "none", own, True),
        ("A front end on a sibling host, named in the settings", SIBLING, "same-site",
         frozenset({NAMED, SIBLING}), True),
        ("A script or curl: neither header", None, None, own, True),
    ], "Pass what comes from a trusted origin; with neither header, the client is no browser "
       "(a script, curl, a test), and no other site's page can make it send anything.")


@suite.check("origin_refuses_origin", "origin_ok: an Origin not in `trusted`, compared whole "
                                      "(scheme, host and port), is refused")
def origin_refuses_origin(trial: Trial) -> None:
    own = frozenset({OWN})
    _judge_origin(trial, [
        ("A page on another port of the same host", "https://127.0.0.1:9443", None, own, False),
        ("A plain-HTTP page on the same host and port", "http://127.0.0.1:8443", None, own,
         False),
        ("Another host of the same machine", "https://localhost:8443", None, own, False),
        ("A look-alike host", NAMED + ".mallory.example", None, frozenset({NAMED}), False),
        ("A page on a sibling host that the settings do not name", "https://blog.example.org",
         "same-site", frozenset({NAMED}), False),
        ("A sandboxed page or a redirect from elsewhere, with no Sec-Fetch-Site", "null", None,
         own, False),
    ], ORIGIN_HINT)


@suite.check("origin_refuses_fetch_site", "origin_ok: Sec-Fetch-Site cross-site is refused; "
                                          "same-site only with a trusted Origin")
def origin_refuses_fetch_site(trial: Trial) -> None:
    own = frozenset({OWN})
    _judge_origin(trial, [
        ("Another site's page, in a browser that sends only Sec-Fetch-Site", None,
         "cross-site", own, False),
        ("Sec-Fetch-Site: cross-site, though Origin names the service", OWN, "cross-site", own,
         False),
        ("Origin: null from another site", "null", "cross-site", own, False),
        ("A page of the same site with no Origin to name it", None, "same-site", own, False),
        ("A Sec-Fetch-Site value no browser sends", None, "cross-origin", own, False),
    ], FETCH_SITE_HINT)


@suite.check("origin_in_service", "origin_ok in the service: a login and a cookie write sent "
                                  "by another page get 403")
def origin_in_service(trial: Trial) -> None:
    own = {"Origin": "https://testserver", "Sec-Fetch-Site": "same-origin"}
    other_port = {"Origin": "https://testserver:8443", "Sec-Fetch-Site": "same-site"}
    with _scene(trial, origin_ok=trial.origin_ok) as scene:
        for label, headers in (("another site's page", attacks.FROM_MALLORYS_SITE),
                               ("a page on another port of the service's host", other_port)):
            answer = attacks.login_response(scene, "mallory", headers=headers)
            expect(answer.status_code == 403,
                   f"A login posted by {label} ({headers}) answered {answer.status_code}: "
                   "that is login CSRF. origin_ok must refuse it.")
        cookie, csrf = _login(scene, "alice", "your origin_ok", headers=own)
        for label, headers, status in (("another page", other_port, 403),
                                       ("the service's own page", own, 201)):
            write = attacks.request(scene, "POST", "/notes", cookie=cookie, csrf=csrf,
                                    headers=headers, json={"title": "t", "body": "b"})
            expect(write.status_code == status,
                   f"A cookie write with the right CSRF token from {label} ({headers}) "
                   f"answered {write.status_code}, not {status}.")


@suite.check("attack_login_csrf", "attack fails: login CSRF from pages on another port and on "
                                  "another site (real servers)")
def origin_served(trial: Trial) -> None:
    # An unwritten exercise stops here, before any server starts.
    trial.origin_ok(None, None, frozenset({OWN}))
    raised: list[Exception] = []

    def guarded(origin: str | None, fetch_site: str | None, trusted: Any) -> bool:
        # Inside a real server an exception would be a 500 and a traceback in the server's
        # log; keep it for the check to report instead.
        try:
            return trial.origin_ok(origin, fetch_site, trusted)
        except Exception as error:
            raised.append(error)
            return False

    variant = Variant(6, seams={"origin_ok": guarded}, settings=trial.settings_changes)
    with Scene(variant, trial.root) as scene:
        net = attacks.network(scene)
        results = [attacks.login_csrf_form(net, host) for host in ("127.0.0.1", "localhost")]
    if raised:
        raise raised[0]
    beaten = [r for r in results if r.succeeded]
    expect(not beaten,
           "mallory's page logged alice's browser into mallory's account: "
           + "; ".join(f"{r.name} ({r.evidence})" for r in beaten)
           + ". A page on another port of the same host is the same *site* to the browser, "
             "but not the service's *origin*: compare whole origins.")


# -- all five ------------------------------------------------------------------------------------

EXERCISES = ("new_session", "session_valid", "csrf_ok", "start_session", "origin_ok")


@suite.check("whole_layer", "all five together: log in, write with the token, log out, and every "
                            "attack fails")
def whole_layer(trial: Trial) -> None:
    seams = {name: getattr(trial, name) for name in EXERCISES}
    with _scene(trial, **seams) as scene:
        cookie, csrf = _login(scene, "alice", "your answers")
        write = attacks.request(scene, "POST", "/notes", cookie=cookie, csrf=csrf,
                                json={"title": "Shopping", "body": "Milk."})
        expect(write.status_code == 201,
               f"With your answers together, POST /notes with the cookie and its CSRF token "
               f"answered {write.status_code}: {write.text[:160]}")
        logout = attacks.request(scene, "POST", "/session/logout", cookie=cookie, csrf=csrf)
        expect(logout.status_code == 204,
               f"With your answers together, POST /session/logout answered "
               f"{logout.status_code}: {logout.text[:160]}")
        expect(attacks.me(scene, cookie).status_code == 401,
               "With your answers together, the cookie still works after logout.")
    variant = Variant(6, seams=seams, settings=trial.settings_changes)
    succeeded = []
    for attack in attacks.IN_PROCESS:
        with Scene(variant, trial.root) as scene:
            result = _attack(attack.run, scene)
        if result.succeeded:
            succeeded.append(result)
    expect(not succeeded, "These attacks succeeded against your layer: "
                          + "; ".join(f"{r.name} ({r.evidence})" for r in succeeded))


# The reference layer's answers to this lesson's exercises.
REFERENCE = {
    "new_session": sessions.new_session,
    "session_valid": sessions.session_valid,
    "csrf_ok": sessions.csrf_ok,
    "start_session": sessions.start_session,
    "origin_ok": sessions.origin_ok,
}


def check(**answers: Any) -> Report:
    """Run the lesson-06 checks: ``check(new_session=..., session_valid=..., csrf_ok=...,
    start_session=..., origin_ok=...)``."""
    return suite.run(**answers)


# -- what the exercises say, and the near misses that break it ------------------------------------

RULES: tuple[Rule, ...] = (
    # new_session
    Rule("new_csprng", "new_session", "The id comes from a CSPRNG (secrets), never from the "
         "random module.", ("new_random",)),
    Rule("new_128_bits", "new_session", "The id carries at least 128 random bits "
         "(secrets.token_urlsafe(32) carries 256).", ("new_random",)),
    Rule("new_unique", "new_session", "Every call makes a new id.", ("new_random", "whole_layer")),
    Rule("new_signed", "new_session", "The cookie value is the id signed, never the bare id.",
         ("new_signs",)),
    Rule("new_service_key", "new_session", "Signed with the service's key, "
         "settings.secret_key; never a key written in code.", ("new_signs",)),
    Rule("new_signer", "new_session", "A Signer with salt=sessions.SALT and "
         "digest_method=hashlib.sha256: not itsdangerous' SHA-1 default, not a serializer.",
         ("new_signs",)),
    Rule("new_same_id", "new_session", "The cookie carries the very id returned.",
         ("new_signs",)),
    Rule("new_strings", "new_session", "Returns two strings: the signature decoded from bytes.",
         ("new_signs", "new_random")),
    # session_valid
    Rule("valid_idle", "session_valid", "Expired once idle (now - session.last_seen) for "
         "settings.session_idle_minutes, counted in seconds.", ("valid_idle", "attack_idle")),
    Rule("valid_absolute", "session_valid", "Expired settings.session_absolute_hours after "
         "login (now - session.created_at), however active.", ("valid_absolute", "attack_old")),
    Rule("valid_settings", "session_valid", "Both limits come from settings, never from "
         "numbers written in the code.", ("valid_idle", "valid_absolute")),
    Rule("valid_at_limit", "session_valid", "At exactly the limit the session has expired.",
         ("valid_idle", "valid_absolute")),
    Rule("valid_bool", "session_valid", "Returns True or False on every path.",
         ("valid_idle", "valid_absolute", "whole_layer")),
    # csrf_ok
    Rule("csrf_reads", "csrf_ok", "GET, HEAD and OPTIONS need no token.", ("csrf_allows",)),
    Rule("csrf_writes", "csrf_ok", "Every other method needs the session's token; a missing "
         "or empty token on either side is never a match.",
         ("csrf_refuses", "attack_missing_token")),
    Rule("csrf_exact", "csrf_ok", "The header must equal the whole token as it came: no "
         "prefix, no trimming.", ("csrf_refuses", "csrf_constant_time")),
    Rule("csrf_constant_time", "csrf_ok", "Compared in constant time with "
         "secrets.compare_digest, on bytes (on str it raises TypeError for non-ASCII).",
         ("csrf_constant_time",)),
    # start_session
    Rule("start_new_id", "start_session", "A new id at every login, from "
         "service.layers.new_session; never the id the browser brought.",
         ("start_rotates", "attack_fixation")),
    Rule("start_ends_presented", "start_session", "The session presented with the login is "
         "deleted, whoever it belonged to.", ("attack_fixation",)),
    Rule("start_hash_only", "start_session", "Only sessions.hash_id(session_id) is stored.",
         ("start_rotates",)),
    Rule("start_now", "start_session", "created_at and last_seen are now, int(time.time()).",
         ("start_times",)),
    Rule("start_secure", "start_session", "The cookie is Secure.", ("start_cookie_flags",)),
    Rule("start_httponly", "start_session", "The cookie is HttpOnly.", ("start_cookie_flags",)),
    Rule("start_samesite", "start_session", "The cookie is SameSite=Lax.",
         ("start_cookie_flags",)),
    Rule("start_host_cookie", "start_session", "The cookie is __Host-session with Path=/ and "
         "no Domain.", ("start_cookie_flags",)),
    Rule("start_csrf_token", "start_session", "Each session gets its own random CSRF token, "
         "not the session id, stored with the session and returned.", ("start_csrf",)),
    # origin_ok
    Rule("origin_whole", "origin_ok", "A sent Origin must be in `trusted`, compared whole: "
         "scheme, host and port (another port of the same host is another application).",
         ("origin_refuses_origin", "origin_in_service", "attack_login_csrf")),
    Rule("origin_null", "origin_ok", "Origin: null names no origin: alone it is refused; "
         "Sec-Fetch-Site decides.", ("origin_refuses_origin", "origin_allows")),
    Rule("origin_fetch_site", "origin_ok", "Sec-Fetch-Site: cross-site, or a value no browser "
         "sends, is refused, whatever Origin says.", ("origin_refuses_fetch_site",)),
    Rule("origin_same_site", "origin_ok", "Sec-Fetch-Site: same-site passes only with a "
         "trusted Origin (a sibling named in the settings).",
         ("origin_refuses_fetch_site", "origin_allows")),
    Rule("origin_fallback", "origin_ok", "With neither header the request is allowed: it "
         "comes from no browser.", ("origin_allows", "whole_layer")),
    Rule("origin_login_csrf", "origin_ok", "In the service, a login or a cookie write sent by "
         "another site's page is refused (login CSRF included).",
         ("origin_in_service", "attack_login_csrf", "whole_layer")),
)



_wrong = WrongAnswer.row


WRONG_ANSWERS: tuple[WrongAnswer, ...] = (
    # new_session
    _wrong("new_csprng", "random.getrandbits: 256 bits, from a predictable generator",
           {"new_random": "random module"},
           new_session=wrong.new_from_random),
    _wrong("new_128_bits", "secrets.token_urlsafe(8): 64 bits",
           {"new_random": "at least 128"},
           new_session=wrong.new_short),
    _wrong("new_128_bits", "uuid4: 122 random bits",
           {"new_random": "122 random bits"},
           new_session=wrong.new_uuid4),
    _wrong("new_unique", "one random id made at import, for every session",
           {"new_random": "same id", "whole_layer": "session fixation"},
           new_session=wrong.new_made_once),
    _wrong("new_signed", "the bare id as the cookie",
           {"new_signs": "bare id", "whole_layer": "answered 401"},
           new_session=wrong.new_unsigned),
    _wrong("new_service_key", "a key written in the code",
           {"new_signs": "never a key written in code", "whole_layer": "answered 401"},
           new_session=wrong.new_hard_coded_key),
    _wrong("new_signer", "itsdangerous' default digest, SHA-1",
           {"new_signs": "SHA-1", "whole_layer": "answered 401"},
           new_session=wrong.new_sha1),
    _wrong("new_signer", "no salt",
           {"new_signs": "no salt", "whole_layer": "answered 401"},
           new_session=wrong.new_without_salt),
    _wrong("new_signer", "a serializer instead of a Signer",
           {"new_signs": "serializer", "whole_layer": "answered 401"},
           new_session=wrong.new_serialized),
    _wrong("new_same_id", "signs another id than the one returned",
           {"new_signs": "another id", "whole_layer": "answered 401"},
           new_session=wrong.new_signing_another_id),
    _wrong("new_strings", "Signer.sign's bytes, not decoded",
           {"new_signs": "bytes", "new_random": "bytes", "whole_layer": "answered 401"},
           new_session=wrong.new_cookie_as_bytes),
    # session_valid
    _wrong("valid_idle", "no idle timeout",
           {"valid_idle": "exactly 7 min",
            "attack_idle": "45 minutes",
            "whole_layer": "idle for 45"},
           session_valid=wrong.valid_without_idle),
    _wrong("valid_idle", "the idle limit in minutes compared with seconds",
           {"valid_idle": "6 min 50 s", "valid_absolute": "1 h 59 min"},
           session_valid=wrong.valid_minutes_as_seconds),
    _wrong("valid_idle", "last_seen - now: idle time is never positive",
           {"valid_idle": "exactly 7 min",
            "attack_idle": "45 minutes",
            "whole_layer": "idle for 45"},
           session_valid=wrong.valid_idle_reversed),
    _wrong("valid_absolute", "no absolute timeout",
           {"valid_absolute": "exactly 2 h", "attack_old": "9 hours", "whole_layer": "9 hours"},
           session_valid=wrong.valid_without_absolute),
    _wrong("valid_absolute", "hours * 60 instead of * 3600",
           {"valid_idle": "6 min 50 s", "valid_absolute": "1 h 59 min"},
           session_valid=wrong.valid_hours_as_minutes),
    _wrong("valid_settings", "30 minutes and 8 hours written in the code",
           {"valid_idle": "exactly 7 min", "valid_absolute": "exactly 2 h"},
           session_valid=wrong.valid_with_fixed_limits),
    _wrong("valid_at_limit", "<= instead of <: still valid at the limit",
           {"valid_idle": "exactly 7 min", "valid_absolute": "exactly 2 h"},
           session_valid=wrong.valid_at_the_limit),
    _wrong("valid_bool", "the last `return True` forgotten",
           {"valid_idle": "returned None",
            "valid_absolute": "returned None",
            "whole_layer": "answered 401"},
           session_valid=wrong.valid_forgetting_a_return),
    # csrf_ok
    _wrong("csrf_reads", "a token for every method, reads included",
           {"csrf_allows": "a GET without a token"},
           csrf_ok=wrong.csrf_for_every_method),
    _wrong("csrf_reads", "GET alone taken as a read",
           {"csrf_allows": "a HEAD without a token"},
           csrf_ok=wrong.csrf_only_get_is_safe),
    _wrong("csrf_writes", "an empty token matches an empty header",
           {"csrf_refuses": "an empty token"},
           csrf_ok=wrong.csrf_accepting_empty),
    _wrong("csrf_writes", "only POST checked",
           {"csrf_refuses": "a DELETE"},
           csrf_ok=wrong.csrf_for_post_only),
    _wrong("csrf_writes", "expected == sent: None == None",
           {"csrf_refuses": "None == None", "csrf_constant_time": "with =="},
           csrf_ok=wrong.csrf_with_equals),
    _wrong("csrf_writes", "no check at all",
           {"csrf_refuses": "no X-CSRF-Token header",
            "csrf_constant_time": "allowed the header",
            "attack_missing_token": "without the token",
            "whole_layer": "no CSRF token"},
           csrf_ok=sessions.csrf_unchecked),
    _wrong("csrf_exact", "`sent in expected`: any part of the token passes",
           {"csrf_refuses": "without its last character"},
           csrf_ok=wrong.csrf_by_containment),
    _wrong("csrf_exact", "the header trimmed before the comparison",
           {"csrf_constant_time": "never trimmed"},
           csrf_ok=wrong.csrf_trimming),
    _wrong("csrf_constant_time", "== after the guards",
           {"csrf_constant_time": "secrets.compare_digest"},
           csrf_ok=wrong.csrf_with_guarded_equals),
    _wrong("csrf_constant_time", "compare_digest on str",
           {"csrf_constant_time": "TypeError"},
           csrf_ok=wrong.csrf_comparing_str),
    # start_session
    _wrong("start_new_id", "the presented session reused for the login",
           {"attack_fixation": "ASVS 7.2.4", "whole_layer": "session fixation"},
           start_session=wrong.start_keeping_the_presented_session),
    _wrong("start_ends_presented", "the presented session left alive",
           {"attack_fixation": "still alive"},
           start_session=wrong.start_without_ending_the_presented_session),
    _wrong("start_hash_only", "the raw id stored",
           {"start_rotates": "hash_id(session_id)",
            "start_csrf": "refuses the session",
            "whole_layer": "answered 401"},
           start_session=wrong.start_storing_the_raw_id),
    _wrong("start_now", "time in milliseconds",
           {"start_times": "int(time.time())", "whole_layer": "idle for 45"},
           start_session=wrong.start_in_milliseconds),
    _wrong("start_secure", "secure=False",
           {"start_cookie_flags": "no Secure"},
           start_session=wrong.start_with_cookie(secure=False)),
    _wrong("start_httponly", "httponly=False",
           {"start_cookie_flags": "no HttpOnly"},
           start_session=wrong.start_with_cookie(httponly=False)),
    _wrong("start_samesite", "samesite='none'",
           {"start_cookie_flags": "SameSite should be Lax"},
           start_session=wrong.start_with_cookie(samesite="none")),
    _wrong("start_host_cookie", "a Domain attribute",
           {"start_cookie_flags": "Domain attribute"},
           start_session=wrong.start_with_cookie(domain="testserver")),
    _wrong("start_host_cookie", "Path=/session",
           {"start_cookie_flags": "Path=/"},
           start_session=wrong.start_with_cookie(path="/session")),
    _wrong("start_csrf_token", "the session id as the CSRF token",
           {"start_rotates": "session id itself", "start_csrf": "is the session id"},
           start_session=wrong.start_with_the_id_as_csrf_token),
    _wrong("start_csrf_token", "one CSRF token for every session",
           {"start_csrf": "same CSRF token"},
           start_session=wrong.start_with_one_csrf_token),
    _wrong("start_csrf_token", "returns another token than the one stored",
           {"start_csrf": "store the same token", "whole_layer": "answered 403"},
           start_session=wrong.start_returning_another_token),
    # origin_ok
    _wrong("origin_whole", "host names compared, without scheme and port",
           {"origin_refuses_origin": "another port",
            "origin_in_service": "another port",
            "attack_login_csrf": "same site, another port"},
           origin_ok=wrong.origin_hosts_only),
    _wrong("origin_whole", "startswith: a look-alike host passes",
           {"origin_refuses_origin": "look-alike", "origin_in_service": "another port"},
           origin_ok=wrong.origin_by_prefix),
    _wrong("origin_null", "null taken for a missing header",
           {"origin_refuses_origin": "sandboxed page"},
           origin_ok=wrong.origin_null_as_absent),
    _wrong("origin_null", "null refused even with Sec-Fetch-Site: same-origin",
           {"origin_allows": "no-referrer"},
           origin_ok=wrong.origin_refusing_null),
    _wrong("origin_fetch_site", "Origin checked when sent; Sec-Fetch-Site ignored",
           {"origin_allows": "no-referrer",
            "origin_refuses_fetch_site": "sends only Sec-Fetch-Site"},
           origin_ok=wrong.origin_ignoring_fetch_site),
    _wrong("origin_fetch_site", "only the value cross-site refused",
           {"origin_refuses_fetch_site": "no Origin to name it"},
           origin_ok=wrong.origin_not_cross_site),
    _wrong("origin_same_site", "same-site taken as the service's own",
           {"origin_refuses_fetch_site": "no Origin to name it"},
           origin_ok=wrong.origin_same_site_always),
    _wrong("origin_same_site", "same-site always refused, the trusted sibling too",
           {"origin_allows": "sibling host"},
           origin_ok=wrong.origin_same_site_never),
    _wrong("origin_fallback", "a request with neither header refused",
           {"origin_allows": "neither header", "whole_layer": "answered 403"},
           origin_ok=wrong.origin_refusing_neither),
    _wrong("origin_login_csrf", "no origin check at all",
           {"origin_refuses_origin": "another port",
            "origin_refuses_fetch_site": "cross-site",
            "origin_in_service": "login CSRF",
            "attack_login_csrf": "mallory's account",
            "whole_layer": "login CSRF"},
           origin_ok=sessions.origin_unchecked),
)
