"""Lesson 06, reference layer: server-side sessions in a ``__Host-`` cookie, with CSRF tokens.

What the layer guarantees (OWASP ASVS 5.0 V7 session management, 3.3.x cookies, 3.5.1 CSRF;
API2:2023 broken authentication):

- the session lives in the database, keyed by a random id of 256 bits from ``secrets`` (a
  CSPRNG, ASVS 7.2.3); the database keeps only the SHA-256 of that id, so a copy of the
  database holds no session anyone could use;
- the cookie ``__Host-session`` carries the id signed with itsdangerous (HMAC-SHA256 with the
  service's key): a made-up cookie is refused before any lookup. Signing hides nothing: the id
  is readable, and that is fine, because it means nothing without the server's record;
- the cookie is ``Secure; HttpOnly; SameSite=Lax; Path=/`` with no ``Domain``: the ``__Host-``
  name makes browsers refuse it unless all of that holds (ASVS 3.3.1, 3.3.3, 3.3.4);
- every login makes a new id, and a session presented with the login request is destroyed,
  so an id planted before login is worthless after it (session fixation, ASVS 7.2.4);
- a session ends after ``session_idle_minutes`` without a request and, whatever happens,
  ``session_absolute_hours`` after login (ASVS 7.3.1, 7.3.2); logout deletes the server's
  record, so a copy of the cookie is worthless too (ASVS 7.4.1); deleting a user deletes their
  sessions (a foreign key with ``ON DELETE CASCADE``, ASVS 7.4.2);
- a write (any method but GET, HEAD, OPTIONS) authenticated by the cookie needs the session's
  CSRF token in ``X-CSRF-Token``, compared in constant time (ASVS 3.5.1). A bearer token needs
  none: browsers never attach an ``Authorization`` header on their own;
- the login (which sets the cookie) and every cookie-authenticated write are refused when the
  browser's ``Origin`` or ``Sec-Fetch-Site`` header says another site's page sent them
  (``origin_ok``). This closes login CSRF, which no token can stop (there is no session yet to
  hold one), and backs the token up for writes: two independent checks, either of which stops
  a forged write on its own (ASVS 3.5.1, defence in depth).

Routes are defined inside functions here, so this module must not use
``from __future__ import annotations`` (FastAPI reads the annotations at run time).
"""

import hashlib
import random
import secrets
import time
from collections.abc import Callable, Collection
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Header, HTTPException, Request, Response, status
from fastapi.security import APIKeyCookie
from itsdangerous import BadSignature, Signer, URLSafeTimedSerializer
from starlette.concurrency import run_in_threadpool

from lessons import tokens
from lessons.access import ROLE_SCOPES
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, remember, unauthorized
from lessons.passwords import off_the_event_loop
from lessons.schemas import WhoAmI
from lessons.settings import Settings
from lessons.store import Session, User
from lessons.wiring import LessonLayer

COOKIE = "__Host-session"
CSRF_HEADER = "X-CSRF-Token"
# The salt keeps these signatures apart from anything else signed with the same key: a value
# signed for another purpose is never a valid session cookie, and the other way round.
SALT = "notes-session-cookie"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Sec-Fetch-Site values that no other site's page can cause: one of the service's own pages,
# or the person typed the address (or chose a bookmark).
OWN_FETCH_SITES = frozenset({"same-origin", "none"})
DEFAULT_PORTS = {"http": 80, "https": 443}
# last_seen is written at most once a minute per session: the idle timeout is measured to the
# minute, and the hot path stays a read.
TOUCH_EVERY_SECONDS = 60
# RFC 9110 requires a challenge with every 401. No registered authentication scheme covers
# cookies, so the service names its own; clients that do not know it ignore it.
CHALLENGE = 'Cookie realm="notes"'


# -- the id, the cookie, the record ------------------------------------------------------------


def signer(settings: Settings) -> Signer:
    """itsdangerous' signer for session cookies: HMAC-SHA256 with the service's key.

    (itsdangerous' own default digest is SHA-1; HMAC-SHA1 is not broken, but there is no
    reason to choose it today.)
    """
    return Signer(settings.secret_key, salt=SALT, digest_method=hashlib.sha256)


def new_session(settings: Settings) -> tuple[str, str]:
    """A new session id (256 random bits from the OS's CSPRNG) and the cookie value that
    carries it: the id, a dot, and its signature."""
    session_id = secrets.token_urlsafe(32)
    return session_id, signer(settings).sign(session_id).decode("ascii")


def session_id_from(settings: Settings, cookie: str) -> str | None:
    """The session id inside a cookie value, or None when the signature is not ours."""
    try:
        return signer(settings).unsign(cookie).decode("ascii")
    except (BadSignature, UnicodeError):
        return None


def hash_id(session_id: str) -> str:
    """What the database keeps instead of the id. One SHA-256 is enough: the id has 256 random
    bits, so unlike a password it cannot be found by trying likely values."""
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def session_valid(session: Session, now: int, settings: Settings) -> bool:
    """True while the session is neither idle too long nor too old, at time ``now`` (seconds)."""
    idle = now - session.last_seen
    age = now - session.created_at
    return (idle < settings.session_idle_minutes * 60
            and age < settings.session_absolute_hours * 3600)


def csrf_ok(method: str, expected: str | None, sent: str | None) -> bool:
    """May a cookie-authenticated request with this method go ahead?

    Reads (GET, HEAD, OPTIONS) need no token. Anything else needs the session's token, sent
    back in ``X-CSRF-Token``: compared as bytes in constant time, and never equal when either
    side is missing or empty.
    """
    if method.upper() in SAFE_METHODS:
        return True
    if not expected or not sent:
        return False
    return secrets.compare_digest(expected.encode("utf-8"), sent.encode("utf-8"))


def origin_ok(origin: str | None, fetch_site: str | None, trusted: Collection[str]) -> bool:
    """May a request that logs in (sets the session cookie) or writes with the cookie go ahead,
    judged by where the browser says it comes from?

    ``origin`` is the ``Origin`` header and ``fetch_site`` the ``Sec-Fetch-Site`` header, each
    None when not sent. ``trusted`` holds the service's own origin as this request reached it
    and the origins named in ``settings.trusted_origins``, written as browsers write origins
    (``https://127.0.0.1:8443``: lower case, no default port, no slash).

    - A named ``Origin`` must be one of ``trusted``, compared whole: scheme, host and port. A
      page on another port of the same host is the *same site* to a browser (sites ignore
      ports), but another application, maybe mallory's; an ``http://`` page of the same host
      is another origin too.
    - ``Origin: null`` names no origin: browsers send it from sandboxed pages, after a redirect
      from another origin, and for a form posted from a page with ``Referrer-Policy:
      no-referrer``. It proves nothing either way, so ``Sec-Fetch-Site`` decides.
    - ``Sec-Fetch-Site``: ``same-origin`` and ``none`` pass; ``same-site`` passes only with a
      trusted ``Origin`` (a sibling front end named in the settings); ``cross-site``, or any
      value no browser sends, never.
    - Neither header: allowed. Browsers in use send at least one of them with every POST
      (``Origin``: Chromium and Safari from their first versions, Firefox since 70 in 2019,
      Edge since 79 in 2020; ``Sec-Fetch-Site``: Chromium since 76, Firefox since 90, Safari
      since 16.4 in 2023). A request with neither comes from a client that is not a browser
      (curl, a script, a test), and no other site's page can make such a client send
      anything. A browser old enough to send neither (Firefox before 70, the old Edge) is one
      these headers cannot protect; for writes the CSRF token still does. Requiring
      ``Referer`` instead would add nothing: a page suppresses its own with
      ``Referrer-Policy: no-referrer``, so only honest clients would be refused.
    """
    named = origin is not None and origin != "null"
    if named and origin not in trusted:
        return False  # a page of another origin, whatever else the request says
    if fetch_site is None:
        return origin != "null"  # a named, trusted Origin; or neither header at all
    if fetch_site in OWN_FETCH_SITES:
        return True
    if fetch_site == "same-site":
        return named  # a sibling's page, only when its Origin is one we trust
    return False  # cross-site, or a value no browser sends


def browser_origin(url: str) -> str:
    """An origin as browsers write it: ``scheme://host[:port]``, lower case, without the
    default port of the scheme, without path or trailing slash."""
    parts = urlsplit(url.strip().lower())
    netloc = parts.netloc
    default = f":{DEFAULT_PORTS.get(parts.scheme, '')}"
    if default != ":" and netloc.endswith(default):
        netloc = netloc[: -len(default)]
    return f"{parts.scheme}://{netloc}"


def trusted_origins(settings: Settings, request: Request) -> frozenset[str]:
    """The service's own origin as this request reached it (the scheme after lesson 04's proxy
    check, the host and port of the ``Host`` header), and the origins the settings name.

    The ``Host`` header is safe to use here: a browser always sends the host it is talking
    to, and another site's page cannot change it. Behind a proxy that rewrites ``Host``, name
    the public origin in ``LESSONS_TRUSTED_ORIGINS``."""
    own = browser_origin(f"{request.url.scheme}://{request.url.netloc}")
    return frozenset({own, *(browser_origin(o) for o in settings.trusted_origins)})


def refuse_cross_site(service: Service, request: Request) -> None:
    """403 unless ``origin_ok`` accepts the request's ``Origin`` and ``Sec-Fetch-Site``."""
    if not service.layers.origin_ok(request.headers.get("origin"),
                                    request.headers.get("sec-fetch-site"),
                                    trusted_origins(service.settings, request)):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "Cross-site request refused: logging in and writing with the session cookie are "
            "only allowed from the service's own pages.",
        )


def set_cookie(response: Response, value: str, settings: Settings) -> None:
    """``__Host-session``: HTTPS only, out of reach of page scripts, not sent with cross-site
    form posts, for this host only (no Domain) and every path. Max-Age only tidies the
    browser: the server decides when a session ends."""
    response.set_cookie(COOKIE, value, max_age=settings.session_absolute_hours * 3600,
                        path="/", secure=True, httponly=True, samesite="lax")


def clear_cookie(response: Response) -> None:
    """Tell the browser to drop the cookie. A ``__Host-`` cookie can only be replaced by one
    that meets the same rules, so the deletion carries Secure and Path=/ too."""
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")


def start_session(service: Service, response: Response, user: User,
                  presented: str | None) -> str:
    """Log ``user`` in: end any session the request came with, store a new one, set its cookie
    on ``response``, and return the new session's CSRF token."""
    if presented:
        # Fixation: whatever session came with the login request ends here, whoever made it.
        old_id = session_id_from(service.settings, presented)
        if old_id is not None:
            service.store.delete_session(hash_id(old_id))
    session_id, cookie = service.layers.new_session(service.settings)
    now = int(time.time())
    csrf_token = secrets.token_urlsafe(32)
    service.store.add_session(Session(id_hash=hash_id(session_id), username=user.username,
                                      csrf_token=csrf_token, created_at=now, last_seen=now))
    set_cookie(response, cookie, service.settings)
    return csrf_token


def caller_from_session(service: Service, cookie: str) -> Caller:
    """The caller a session cookie stands for, or a 401: the signature must be ours, the record
    must exist (not logged out, user not deleted) and still be valid now."""
    session_id = session_id_from(service.settings, cookie)
    if session_id is None:
        raise no_session("Invalid session")
    session = service.store.get_session(hash_id(session_id))
    if session is None or not service.layers.session_valid(session, int(time.time()),
                                                           service.settings):
        raise no_session("Session expired or ended: log in again")
    # The user and role come from the database on every request, never from the cookie.
    user = service.store.get_user(session.username)
    if user is None:
        raise no_session("Session expired or ended: log in again")
    scopes = service.layers.grant_scopes(user.role, ())  # the role's default scopes
    return Caller(user=user, scopes=scopes, method="session", session=session)


def end_session(service: Service, session: Session) -> None:
    """Logout: delete the server's record, so every copy of the cookie stops working."""
    service.store.delete_session(session.id_hash)


def no_session(detail: str = "Not logged in") -> HTTPException:
    return unauthorized(detail, CHALLENGE)


# -- the FastAPI glue --------------------------------------------------------------------------

cookie_scheme = APIKeyCookie(name=COOKIE, auto_error=False,
                             description="The session cookie set by POST /session/login.")

CsrfHeader = Annotated[str | None, Header(alias=CSRF_HEADER, include_in_schema=False)]


async def resume(service: Service, request: Request, cookie: str, sent_csrf: str | None) -> Caller:
    """The caller behind a session cookie, after the two CSRF checks for writes: where the
    request comes from, and the session's token (403: the caller is known, the request is not
    allowed)."""
    who = service.layers.session_caller(service, cookie)
    if request.method.upper() not in SAFE_METHODS:
        refuse_cross_site(service, request)
    expected = who.session.csrf_token if who.session else None
    if not service.layers.csrf_ok(request.method, expected, sent_csrf):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"A write with the session cookie needs the session's CSRF token in {CSRF_HEADER}.",
        )
    now = int(time.time())
    if who.session and who.session.id_hash and now - who.session.last_seen >= TOUCH_EVERY_SECONDS:
        # The one write of the hot path, at most once a minute, off the event loop.
        await run_in_threadpool(service.store.touch_session, who.session.id_hash, now)
    return who


def session_identity(service: Service) -> IdentityDependency:
    """The dependency of the session routes: the session cookie, and nothing else."""

    async def caller(request: Request, sent_csrf: CsrfHeader = None,
                     cookie: str | None = Depends(cookie_scheme)) -> Caller:
        if not cookie:
            raise no_session()
        who = await resume(service, request, cookie, sent_csrf)
        remember(request, who)
        return who

    return caller


def session_or_bearer(service: Service) -> IdentityDependency:
    """The ``identity`` seam from lesson 06 on: a bearer token (lesson 02's path, unchanged)
    or the session cookie. A request with ``Authorization: Bearer`` is judged by its token
    alone, and needs no CSRF token: a browser never adds that header on its own, so another
    site cannot make a victim's browser send it."""

    async def caller(request: Request, sent_csrf: CsrfHeader = None,
                     token: str | None = Depends(tokens.bearer_scheme),
                     cookie: str | None = Depends(cookie_scheme)) -> Caller:
        if token:
            return tokens.caller_from_token(service, token)
        if cookie:
            return await resume(service, request, cookie, sent_csrf)
        raise unauthorized("Not authenticated", tokens.CHALLENGE)

    return caller


def end(service: Service, response: Response, session: Session) -> None:
    """Logout of a session: the server's record first, then the browser's cookie."""
    service.layers.end_session(service, session)
    clear_cookie(response)


def logout(service: Service, who: Caller, response: Response) -> None:
    """The ``logout`` seam from lesson 06 on: a bearer token is revoked (lesson 02's way), and
    a caller who came with the session cookie has that session ended."""
    tokens.logout(service, who, response)
    if who.session is not None:
        end(service, response, who.session)


def router(service: Service) -> APIRouter:
    """``/session/login``, ``/session/me`` and ``/session/logout``."""
    api = APIRouter(prefix="/session", tags=["lesson 06: sessions"])
    layers, store = service.layers, service.store
    SessionCaller = Annotated[Caller, Depends(session_identity(service))]

    @api.post("/login", status_code=status.HTTP_204_NO_CONTENT,
              responses={204: {"description": f"Logged in; the CSRF token is in {CSRF_HEADER}."}})
    async def login(request: Request, username: Annotated[str, Form()],
                    password: Annotated[str, Form()],
                    presented: str | None = Depends(cookie_scheme)) -> Response:
        # No CSRF token here: there is no session yet to hold one. Where the request comes
        # from is all that tells a login from login CSRF (another site's page posting the
        # attacker's credentials), so that is checked first, before any password work.
        refuse_cross_site(service, request)
        # Lesson 10: the check runs inside the limiter's guard.
        user = await layers.guard_login(service, request, username, lambda: (
            off_the_event_loop(layers.authenticate, store, service.hasher, username, password)))
        if user is None:
            # Lesson 08: an audit event names the attempted account, never the password.
            layers.audit("login.failure", user=username, method="session")
            raise no_session("Incorrect username or password")
        # The token travels in a header: never cache this answer anywhere.
        response = Response(status_code=status.HTTP_204_NO_CONTENT,
                            headers={"Cache-Control": "no-store"})
        await run_in_threadpool(_forget_expired, service)
        response.headers[CSRF_HEADER] = await run_in_threadpool(
            layers.start_session, service, response, user, presented)
        # A password change may have landed while the password was being verified, and it
        # ended the sessions that existed then, not this new one: if the hash is no longer
        # the one verified, this login used a password that is not valid any more.
        current = store.get_user(user.username)
        if current is None or current.password_hash != user.password_hash:
            await run_in_threadpool(_end_session_set_on, service, response)
            layers.audit("login.failure", user=username, method="session")
            raise no_session("Incorrect username or password")
        layers.audit("login.success", user=user.username, method="session")
        return response

    @api.get("/me")
    def me(who: SessionCaller, response: Response) -> WhoAmI:
        # A page that was reloaded gets its CSRF token back here; other origins cannot read
        # this response (no CORS), so it is not exposed to them.
        if who.session is not None:
            response.headers[CSRF_HEADER] = who.session.csrf_token
        response.headers["Cache-Control"] = "no-store"
        return WhoAmI(username=who.user.username, role=who.user.role)

    @api.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    def logout(who: SessionCaller) -> Response:
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        if who.session is not None:
            end(service, response, who.session)
        layers.audit("logout", user=who.user.username, method="session")  # lesson 08
        return response

    return api


def _end_session_set_on(service: Service, response: Response) -> None:
    """Delete the server's record of the session whose cookie ``response`` was about to set."""
    for header in response.headers.getlist("set-cookie"):
        name, _, rest = header.partition("=")
        if name.strip() == COOKIE:
            session_id = session_id_from(service.settings, rest.split(";")[0])
            if session_id is not None:
                service.store.delete_session(hash_id(session_id))


def _forget_expired(service: Service) -> None:
    """Housekeeping at each login: remove records that can no longer be used."""
    now = int(time.time())
    settings = service.settings
    service.store.delete_expired_sessions(
        idle_since=now - settings.session_idle_minutes * 60,
        created_before=now - settings.session_absolute_hours * 3600,
    )


LAYER = LessonLayer(
    seams={
        "new_session": new_session,
        "session_valid": session_valid,
        "csrf_ok": csrf_ok,
        "origin_ok": origin_ok,
        "start_session": start_session,
        "session_caller": caller_from_session,
        "end_session": end_session,
        "identity": session_or_bearer,
        "logout": logout,
    },
    routers={"session": router},
)


# -- vulnerable variants, for the lesson-06 attacks ----------------------------------------------


def start_session_reusing(service: Service, response: Response, user: User,
                          presented: str | None) -> str:
    """VULNERABLE (session fixation): logs the user into the session the browser already has.

    It looks tidy (one session per browser), but whoever planted that cookie in the browser
    before the login holds a copy of it, and the copy is now logged in as the victim.
    """
    session_id = session_id_from(service.settings, presented) if presented else None
    if session_id is None:
        session_id, cookie = service.layers.new_session(service.settings)
    else:
        cookie = presented or ""
    now = int(time.time())
    csrf_token = secrets.token_urlsafe(32)
    service.store.delete_session(hash_id(session_id))
    service.store.add_session(Session(hash_id(session_id), user.username, csrf_token, now, now))
    set_cookie(response, cookie, service.settings)
    return csrf_token


def new_session_predictable(settings: Settings) -> tuple[str, str]:
    """VULNERABLE: 64 bits from Python's ``random`` module, a Mersenne Twister: too few bits,
    and not a cryptographic generator (enough of its outputs let anyone compute the next)."""
    session_id = f"{random.getrandbits(64):016x}"  # the flaw, on purpose
    return session_id, signer(settings).sign(session_id).decode("ascii")


def keep_session(service: Service, session: Session) -> None:
    """VULNERABLE: logout that only clears the browser's cookie. The record stays, so any copy
    of the cookie (a proxy log, a shared computer, malware) goes on working."""


def valid_forever(session: Session, now: int, settings: Settings) -> bool:
    """VULNERABLE: no idle and no absolute timeout; a session lives until logout."""
    return True


def csrf_unchecked(method: str, expected: str | None, sent: str | None) -> bool:
    """VULNERABLE: no CSRF check; the cookie alone authorises any write."""
    return True


def origin_unchecked(origin: str | None, fetch_site: str | None,
                     trusted: Collection[str]) -> bool:
    """VULNERABLE (login CSRF): any page may log a browser in, or write with its cookie."""
    return True


# The errata's design: the session *is* the cookie. Signed by itsdangerous, so it cannot be
# changed without the key, but not encrypted, so anyone holding it reads it; and the server
# believes whatever it once wrote into it.


def client_held_serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="client-held-session")


def start_client_held_session(service: Service, response: Response, user: User,
                              presented: str | None) -> str:
    """VULNERABLE: puts the username and role in the cookie, signed but readable by anyone."""
    value = client_held_serializer(service.settings).dumps(
        {"username": user.username, "role": user.role})
    set_cookie(response, value, service.settings)
    return ""


def _client_held_caller(payload: Any) -> Caller:
    if not isinstance(payload, dict):
        raise no_session("Invalid session")
    username, role = str(payload.get("username", "")), str(payload.get("role", ""))
    user = User(username=username, email=None, role=role, password_hash="", created_at="",
                id="")  # no id: the cookie names no account, only a name it believes
    session = Session(id_hash="", username=username, csrf_token="", created_at=0, last_seen=0)
    # The role as the cookie says, believed.
    return Caller(user=user, scopes=ROLE_SCOPES.get(role, frozenset()), method="session",
                  session=session)


def caller_from_client_cookie(service: Service, cookie: str) -> Caller:
    """VULNERABLE: checks the signature and the age, then believes the cookie: its user (even
    one deleted since) and its role (even one taken away since). Logout cannot end it: there
    is no record to delete, and a copy stays valid until it is too old."""
    settings = service.settings
    try:
        payload = client_held_serializer(settings).loads(
            cookie, max_age=settings.session_absolute_hours * 3600)
    except BadSignature:  # itsdangerous' SignatureExpired is a subclass
        raise no_session("Invalid session") from None
    return _client_held_caller(payload)


def caller_from_unchecked_cookie(service: Service, cookie: str) -> Caller:
    """VULNERABLE, to show what signing buys: reads the client-held cookie with
    ``loads_unsafe``, which returns the payload whether or not the signature is right."""
    _valid, payload = client_held_serializer(service.settings).loads_unsafe(cookie)
    return _client_held_caller(payload)


SessionCallerSeam = Callable[[Service, str], Caller]

# The vulnerable variants as seam overrides for ``create_app(upto=6, ...)``.
NAIVE_LAYER: dict[str, Any] = {
    "start_session": start_session_reusing,
    "end_session": keep_session,
    "session_valid": valid_forever,
    "csrf_ok": csrf_unchecked,
    "origin_ok": origin_unchecked,
}
CLIENT_HELD_LAYER: dict[str, Any] = {
    "start_session": start_client_held_session,
    "session_caller": caller_from_client_cookie,
    "end_session": keep_session,
    "csrf_ok": csrf_unchecked,
    "origin_ok": origin_unchecked,
}
UNCHECKED_LAYER: dict[str, Any] = {**CLIENT_HELD_LAYER,
                                   "session_caller": caller_from_unchecked_cookie}
