"""Lesson 01, reference layer: HTTP Basic authentication against hashed passwords.

What the layer guarantees (OWASP ASVS 5.0 V6, API2:2023 Broken Authentication):

- passwords are stored as Argon2id hashes (``passwords.argon2_hasher``), never as text;
- an unknown user and a wrong password get the same status, body and cost, because an unknown
  user is verified against a dummy hash;
- a password longer than ``passwords.LONGEST_PASSWORD`` (128 characters) is a failed login
  like any other, at the same cost: never handed whole to the hasher, whose own limit (4,096
  characters in passlib) would otherwise end the request in a 500;
- credentials are decoded as UTF-8 (RFC 7617) and compared as bytes, so non-ASCII input can
  never raise inside a comparison and turn into a 500 (passlib encodes the password as UTF-8,
  and libargon2 compares the derived keys in constant time; ``same_text`` does the same for
  two plain values);
- every 401 carries ``WWW-Authenticate: Basic`` so that clients know how to authenticate;
- the hash runs in a worker thread, never on the event loop;
- from lesson 08 on, a failed login is an audit event (``login.failure``) naming the attempted
  username, neutralised by the ``audit`` seam, as the token and session logins do.
"""

from __future__ import annotations

import binascii
import functools
import secrets
from base64 import b64decode
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, named, unauthorized
from lessons.passwords import (
    LONGEST_PASSWORD,
    PasswordHasher,
    PlainTextPasswords,
    argon2_hasher,
    dummy_hash,
    off_the_event_loop,
    plain_text,
    upgrade_plaintext_passwords,
)
from lessons.routes import admin_router
from lessons.schemas import WhoAmI
from lessons.store import Store, User
from lessons.wiring import LessonLayer

CHALLENGE = 'Basic realm="notes", charset="UTF-8"'

# The ``authenticate`` seam: the user these credentials belong to, or None.
Authenticator = Callable[[Store, PasswordHasher, str, str], User | None]
# A way to compare a given password with an expected one.
Comparison = Callable[[str, str], bool]


def same_text(given: str, expected: str) -> bool:
    """Compare two strings in constant time, as UTF-8 bytes.

    ``secrets.compare_digest`` takes as long for a near miss as for a wild guess, so timing
    tells an attacker nothing about how much of a secret they have right. Given two ``str`` it
    raises ``TypeError`` when either holds a non-ASCII character; bytes have no such limit.
    """
    return secrets.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@functools.cache
def dummy_hash_for(hasher: PasswordHasher) -> str:
    """One dummy hash per hasher, made with its own cost settings so that it costs the same to
    verify as a real one. ``create_app`` makes it at start-up, so no request pays for it."""
    return dummy_hash(hasher)


def authenticate(store: Store, hasher: PasswordHasher, username: str, password: str) -> User | None:
    """The user these credentials belong to, or ``None``: the same answer, at the same cost,
    for an unknown username, a wrong password and a password too long to be anyone's."""
    user = store.get_user(username)
    if user is None or len(password) > LONGEST_PASSWORD:
        # Pay for one verification anyway, so the time taken does not reveal that the username
        # does not exist (user enumeration by timing). The dummy never matches; the hasher gets
        # at most LONGEST_PASSWORD characters, so its own size limit can never raise.
        hasher.verify(password[:LONGEST_PASSWORD], dummy_hash_for(hasher))
        return None
    if hasher.verify(password, user.password_hash):
        return user
    return None


def authenticate_unbounded(store: Store, hasher: PasswordHasher, username: str,
                           password: str) -> User | None:
    """VULNERABLE, for the lesson-01 long-password attack: right in every other way.

    It hands the hasher a password of any length. passlib refuses one over 4,096 characters
    with ``PasswordSizeError``, which nothing catches, so the login answers 500 instead of
    401, on every route that checks a password.
    """
    user = store.get_user(username)
    if user is None:
        hasher.verify(password, dummy_hash_for(hasher))
        return None
    if hasher.verify(password, user.password_hash):
        return user
    return None


def authenticate_early_return(store: Store, hasher: PasswordHasher, username: str,
                              password: str) -> User | None:
    """VULNERABLE, for the lesson-01 timing attack: right in every other way.

    Passwords are hashed and both failures get the same message, but an unknown user is turned
    away before any hash is computed. A wrong password costs one Argon2 verification, an unknown
    user costs nothing, and that difference in response time tells an attacker which usernames
    exist (OWASP ASVS 5.0 requirement 6.3.8).
    """
    user = store.get_user(username)
    if user is None:
        return None  # the leak: no verification, so this answer comes back much sooner
    if len(password) <= LONGEST_PASSWORD and hasher.verify(password, user.password_hash):
        return user
    return None


def plain_text_check(compare: Comparison) -> Authenticator:
    """VULNERABLE: the check many tutorials show, with the password comparison of your choice.

    It compares the password with a plain-text column, and it says which half of the pair was
    wrong ("Unknown user" or "Wrong password"), so anyone can list the usernames that exist.
    Lesson 01 uses it with ``secrets.compare_digest`` on ``str`` (``authenticate_naive``), and
    its check runs it with your ``same_text`` to show that comparing bytes removes the 500.
    """

    def authenticate_plain_text(store: Store, hasher: PasswordHasher, username: str,
                                password: str) -> User | None:
        user = store.get_user(username)
        if user is None:
            raise unauthorized("Unknown user", CHALLENGE)
        if not compare(password, user.password_hash):
            raise unauthorized("Wrong password", CHALLENGE)
        return user

    return authenticate_plain_text


_naive_check = plain_text_check(secrets.compare_digest)


def authenticate_naive(store: Store, hasher: PasswordHasher, username: str,
                       password: str) -> User | None:
    """VULNERABLE, for the lesson-01 attacks: the version many tutorials show.

    - it answers at once for an unknown user (no hash to compute), so timing reveals which
      usernames exist, and it says so in the message too;
    - it compares ``str`` values with ``secrets.compare_digest``, which raises ``TypeError``
      on non-ASCII text: the request ends in a 500;
    - it compares against a plain-text password column.
    """
    return _naive_check(store, hasher, username, password)


class Utf8HTTPBasic(HTTPBasic):
    """FastAPI's ``HTTPBasic`` decodes credentials as ASCII, so a user whose password has an
    accent can never log in. This one decodes UTF-8, as the ``charset="UTF-8"`` challenge
    tells clients to send (RFC 7617, section 2.1). Missing or malformed credentials give
    ``None``; the caller decides on the 401."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        scheme, _, param = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            text = b64decode(param.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        username, separator, password = text.partition(":")
        if not separator:
            return None
        return HTTPBasicCredentials(username=username, password=password)


basic_scheme = Utf8HTTPBasic(realm="notes", auto_error=False)


def basic_identity(service: Service) -> IdentityDependency:
    """The dependency that turns an ``Authorization: Basic`` header into a ``Caller``."""
    authenticate_with = service.layers.authenticate

    async def caller(
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
    ) -> Caller:
        if credentials is None:
            raise unauthorized("Not authenticated", CHALLENGE)
        user = await off_the_event_loop(
            authenticate_with, service.store, service.hasher,
            credentials.username, credentials.password,
        )
        if user is None:
            # Lesson 08: an audit event names the attempted account, never the password. A
            # success is not one: every Basic request logs in again, and the access log
            # already names the caller of each.
            service.layers.audit("login.failure", user=credentials.username, method="basic")
            # One message for both failures: never say which half of the pair was wrong.
            raise unauthorized("Incorrect username or password", CHALLENGE)
        return Caller(user=user, method="basic")

    return caller


def guarded_basic_identity(service: Service) -> IdentityDependency:
    """``basic_identity``, with its password check inside the ``guard_login`` seam (lesson 10's
    limiter; the open service's guard checks every guess at once). Missing or malformed
    credentials are refused as before, without counting: no password was offered."""
    check = basic_identity(service)

    async def caller(
        request: Request,
        credentials: Annotated[HTTPBasicCredentials | None, Depends(basic_scheme)],
    ) -> Caller:
        if credentials is None:
            return await check(credentials)  # the 401 that asks for credentials
        refusal: HTTPException | None = None

        async def verify() -> User | None:
            nonlocal refusal
            try:
                return (await check(credentials)).user
            except HTTPException as refused:  # the wrong-credentials 401, already audited
                refusal = refused
                return None

        user = await service.layers.guard_login(service, request, credentials.username, verify)
        if user is None:
            raise refusal or unauthorized("Incorrect username or password", CHALLENGE)
        return Caller(user=user, method="basic")

    return caller


def basic_router(service: Service) -> APIRouter:
    """``GET /basic/me``: who the Basic credentials belong to. It uses the Basic dependency
    directly, so it keeps working when a later lesson changes the service's ``identity``."""
    router = APIRouter(prefix="/basic", tags=["lesson 01: HTTP Basic"])
    identity = named(guarded_basic_identity(service))

    @router.get("/me")
    def basic_me(who: Caller = Depends(identity)) -> WhoAmI:  # noqa: B008
        return WhoAmI(username=who.user.username, role=who.user.role)

    return router


def hash_stored_passwords(service: Service) -> None:
    """At start-up: hash any password a lesson-00 database kept as text, and make the dummy
    hash now, so that no request pays for it."""
    if isinstance(service.hasher, PlainTextPasswords):
        return  # a variant that still keeps text (the attacks'), nothing to do
    upgrade_plaintext_passwords(service.store, service.hasher)
    dummy_hash_for(service.hasher)


LAYER = LessonLayer(
    seams={
        "make_hasher": argon2_hasher,
        "authenticate": authenticate,
        "identity": basic_identity,
    },
    routers={"basic": basic_router, "admin": admin_router},
    startup={"hash_stored_passwords": hash_stored_passwords},
)

# The vulnerable variants the lesson attacks, as seam overrides for ``create_app(upto=1, ...)``:
# plain-text passwords checked the naive way, hashed passwords with the early return, and
# hashed passwords of any length.
NAIVE_LAYER = {"make_hasher": plain_text, "authenticate": authenticate_naive}
EARLY_RETURN_LAYER = {"authenticate": authenticate_early_return}
UNBOUNDED_LAYER = {"authenticate": authenticate_unbounded}
