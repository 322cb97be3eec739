"""Lesson 02, reference layer: JWT bearer tokens (OAuth2 password flow) with python-jose.

What the layer guarantees (OWASP ASVS 5.0 V9 self-contained tokens, API2:2023):

- tokens are HS256, signed with the service's random key, and carry ``sub, iat, nbf, exp,
  iss, aud, jti`` plus the granted ``scope``; ``sub`` is the account's id, random and never
  reused, so a token stands for one account forever: a name can be deleted and registered
  again by someone else, an id cannot (ASVS 10.3.3);
- decoding names the one algorithm it accepts (an allow-list: the token's header does not
  choose) and *requires* every registered claim: python-jose by default accepts a token with
  no ``exp`` (it never expires) or no ``aud`` (it is valid for any audience);
- logout revokes the token's ``jti`` until it would have expired; a revoked token, or one
  whose user was deleted, gets 401 like any other bad token;
- ``POST /users/me/password`` ends every token and session of the user issued before the
  change, on every worker (see ``password_router``).

The identity dependency is split in two: ``caller_from_token`` (plain code: decode, refuse
revoked ids, look the user up) and ``identity_from``, the FastAPI glue that reads the
``Authorization: Bearer`` header and calls it.

Routes are defined inside functions here, so this module must not use
``from __future__ import annotations`` (FastAPI reads the annotations at run time).
"""

import functools
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio
from fastapi import APIRouter, Depends, Request, Response, Security, status
from fastapi.exceptions import RequestValidationError
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from jose import JOSEError, jwt

from lessons.access import SCOPES
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, unauthorized
from lessons.passwords import PasswordHasher, off_the_event_loop
from lessons.schemas import TokenOut
from lessons.settings import Settings
from lessons.store import User
from lessons.wiring import LessonLayer

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "nbf", "exp", "iss", "aud", "jti")
CHALLENGE = "Bearer"
INVALID = 'Bearer error="invalid_token"'

Claims = dict[str, Any]


def subject_of(user: User) -> str:
    """What a token's ``sub`` names: the account's id, never its name (ASVS 10.3.3)."""
    return user.id


def username_subject(user: User) -> str:
    """VULNERABLE, the open service's ``token_subject`` and this lesson's before issue 11:
    ``sub`` is the username. Delete the account, let someone register the same name, and
    every token of the old account reads the new owner's notes."""
    return user.username


def issue_token(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    """A signed access token for the account ``subject`` (its id) with the given scopes, valid
    from now on for ``settings.token_minutes``."""
    now = int(time.time())
    claims = {
        "sub": subject,
        "iat": now,
        "nbf": now,
        "exp": now + settings.token_minutes * 60,
        "iss": settings.token_issuer,
        "aud": settings.token_audience,
        # A unique id per token, so that logout can revoke this token and no other.
        "jti": secrets.token_urlsafe(16),
        "scope": " ".join(sorted(scopes)),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def issue_token_naive(settings: Settings, subject: str, scopes: Iterable[str]) -> str:
    """VULNERABLE, for the lesson-02 attacks: a token as many tutorials make it.

    No ``exp`` (it is valid forever), no ``aud`` or ``iss`` (any service that shares the key
    accepts it), no ``jti`` (no single token can be revoked).
    """
    claims = {"sub": subject, "scope": " ".join(sorted(scopes))}
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_token(settings: Settings, token: str) -> Claims:
    """The verified claims of ``token``; raises ``JWTError`` for anything less than a valid,
    current token of this issuer, for this audience, carrying every required claim."""
    return jwt.decode(
        token,
        settings.secret_key,
        algorithms=[ALGORITHM],  # an allow-list: the token's own header does not choose
        audience=settings.token_audience,
        issuer=settings.token_issuer,
        options={f"require_{claim}": True for claim in REQUIRED_CLAIMS},
    )


DecodeToken = Callable[[Settings, str], Claims]


def remembering(decode: DecodeToken, size: int = 4096) -> DecodeToken:
    """``decode`` that remembers, in this process, the tokens it has verified (lesson 10).

    Verifying is pure work: the same token under the same settings always has the same
    signature and claims, so its result can be reused. Only that part is remembered. Whether
    the token was revoked, whether its account still exists and when its password last
    changed are questions about now, asked of the shared database on every request by
    ``caller_from_token``, so a logout still ends the token at once on every worker. Only
    tokens that verified are kept: a forged one is checked in full every time, and cannot
    fill the memory. ``exp`` and ``nbf`` are compared with the clock on every use, as
    python-jose does (whole seconds, no leeway); outside that window the token is decoded
    again, which refuses it with python-jose's own error.
    """

    @functools.lru_cache(maxsize=size)
    def verified(settings: Settings, token: str) -> Claims:
        return decode(settings, token)

    def remembered(settings: Settings, token: str) -> Claims:
        claims = verified(settings, token)
        now = int(time.time())
        if not claims.get("nbf", now) <= now <= claims.get("exp", now):
            return decode(settings, token)
        return dict(claims)  # a copy: the remembered claims are shared by every request

    # Named after what it wraps, as tracebacks and `python -m lessons stack` show it.
    remembered.__name__ = remembered.__qualname__ = f"remembered_{decode.__name__}"
    return remembered


# Lesson 10's decode: lesson 02's, remembered. Verifying an HS256 token with python-jose is the
# largest single cost of GET /users/me (it parses the key and rebuilds an HMAC key object on
# every call), and a client sends the same token many times.
remembered_decode_token = remembering(decode_token)


def decode_token_naive(settings: Settings, token: str) -> Claims:
    """VULNERABLE, for the lesson-02 attacks: reads the claims and checks nothing.

    ``jwt.get_unverified_claims`` is for looking inside a token (say, to pick a key), never
    for trusting it: an unsigned, tampered, expired or foreign token comes back as it is.
    (Unlike its name suggests, python-jose's ``options={"verify_signature": False}`` would
    still check ``exp``, ``nbf`` and ``aud``; this is the version that really checks nothing.)
    """
    return jwt.get_unverified_claims(token)


bearer_scheme = OAuth2PasswordBearer(tokenUrl="auth/token", scopes=SCOPES, auto_error=False)


def caller_from_token(service: Service, token: str) -> Caller:
    """The caller a bearer token stands for, or a 401: the token must decode (signature,
    algorithm, time, audience, issuer, required claims), must not have been revoked by a
    logout, must name an account that exists, and must be newer than that account's last
    password change."""
    try:
        claims = service.layers.decode_token(service.settings, token)
    except JOSEError:
        # JOSEError, python-jose's base class, not just JWTError: a decode without an
        # algorithm allow-list raises JWKError (not a JWTError) for `alg: none`.
        raise unauthorized("Invalid or expired token", INVALID) from None
    jti, subject, issued = claims.get("jti"), claims.get("sub"), claims.get("iat")
    if not isinstance(jti, str) or not isinstance(subject, str) or not isinstance(issued, int):
        raise unauthorized("Invalid or expired token", INVALID)
    # Look the user up by id on every request, with the revocation, in one query: a revoked
    # token or a deleted account's tokens stop working at once (ASVS 7.4.2), a name registered
    # again is another account, and the role comes from the database, not from the token.
    user, revoked = service.store.token_holder(subject, jti)
    if revoked:
        raise unauthorized("This token was revoked by logging out", INVALID)
    if user is None:
        raise unauthorized("Invalid or expired token", INVALID)
    # iat is in whole seconds, so a token of the same second as the change may be older than
    # it: refused too. The token route never issues one in that second (see issue_after).
    if issued <= user.password_changed_at:
        raise unauthorized("The password was changed since this token was issued", INVALID)
    scopes = frozenset(str(claims.get("scope", "")).split())
    return Caller(user=user, scopes=scopes, claims=claims, method="bearer")


def caller_from_token_by_name(service: Service, token: str) -> Caller:
    """VULNERABLE: this lesson's ``caller_from_token`` before issue 11, with tokens whose
    ``sub`` is the username (``username_subject``). It looks the user up by name, so a name
    deleted and registered again is the same caller to it, and it knows nothing of password
    changes, so a token copied before one works on until it expires."""
    try:
        claims = service.layers.decode_token(service.settings, token)
    except JOSEError:
        raise unauthorized("Invalid or expired token", INVALID) from None
    jti, subject = claims.get("jti"), claims.get("sub")
    if not isinstance(jti, str) or not isinstance(subject, str):
        raise unauthorized("Invalid or expired token", INVALID)
    if service.store.is_revoked(jti):
        raise unauthorized("This token was revoked by logging out", INVALID)
    user = service.store.get_user(subject)
    if user is None:
        raise unauthorized("Invalid or expired token", INVALID)
    scopes = frozenset(str(claims.get("scope", "")).split())
    return Caller(user=user, scopes=scopes, claims=claims, method="bearer")


FindCaller = Callable[[Service, str], Caller]


def identity_from(find_caller: FindCaller) -> Callable[[Service], IdentityDependency]:
    """The ``identity`` seam built from a function like ``caller_from_token``: the FastAPI
    part (read ``Authorization: Bearer``, answer 401 with a challenge when it is missing)."""

    def identity(service: Service) -> IdentityDependency:
        async def caller(token: str | None = Depends(bearer_scheme)) -> Caller:
            # Small and on the event loop on purpose: one jwt.decode (about 0.1 ms measured
            # here) and two indexed lookups; a hop to the thread pool costs more than that.
            if not token:
                raise unauthorized("Not authenticated", CHALLENGE)
            return find_caller(service, token)

        return caller

    return identity


def bearer_identity(service: Service) -> IdentityDependency:
    """The dependency that turns ``Authorization: Bearer <token>`` into a ``Caller``."""
    return identity_from(caller_from_token)(service)


def bearer_identity_naive(service: Service) -> IdentityDependency:
    """VULNERABLE, for the lesson-02 attacks: believes the claims once they decode.

    No revocation check, so logging out changes nothing; no lookup of the user, so a deleted
    account's tokens keep working, with whatever role the token itself claims.
    """
    decode = service.layers.decode_token

    async def caller(token: str | None = Depends(bearer_scheme)) -> Caller:
        if not token:
            raise unauthorized("Not authenticated", CHALLENGE)
        try:
            claims = decode(service.settings, token)
        except JOSEError:
            raise unauthorized("Invalid token", INVALID) from None
        # Whatever sub says (a name, with the naive layer's username_subject) is believed.
        user = User(username=str(claims.get("sub")), email=None, id="",
                    role=str(claims.get("role", "user")), password_hash="", created_at="")
        scopes = frozenset(str(claims.get("scope", "")).split())
        return Caller(user=user, scopes=scopes, claims=claims, method="bearer")

    return caller


def revoke(service: Service, claims: Claims) -> bool:
    """Logout: the token's id is refused from now until it would have expired anyway.

    A token with no ``jti`` or no ``exp`` cannot be revoked (there is nothing to name it by,
    or no time when it could be forgotten): nothing happens and this returns False. That is
    the naive tokens' flaw, and why the reference decode requires both claims.
    """
    jti, exp = claims.get("jti"), claims.get("exp")
    if not isinstance(jti, str) or not isinstance(exp, int):
        return False
    service.store.revoke_token(jti, exp)
    return True


def logout(service: Service, who: Caller, response: Response) -> None:
    """The ``logout`` seam for bearer tokens: revoke the token the caller used."""
    if who.claims:
        revoke(service, who.claims)


async def issue_after(changed_at: int) -> None:
    """Wait, if need be, until the second after a password change made at ``changed_at``.

    Tokens carry ``iat`` in whole seconds, and one issued in the second of a change is
    refused with those issued before it (see ``caller_from_token``); so right after a change,
    a login waits for the next second (less than one, and only then) instead of handing out
    a token that would never work. Never more than a second: a clock set back must not hold
    every login."""
    deadline = time.monotonic() + 1
    while (delay := changed_at + 1 - time.time()) > 0 and time.monotonic() < deadline:
        await anyio.sleep(min(delay, deadline - time.monotonic()))


def password_matches(hasher: PasswordHasher, password: str, user: User) -> bool:
    """Does ``password`` verify against the user's stored hash? One that the hasher refuses
    outright (passlib refuses more than 4096 characters) is a wrong password, not a 500."""
    try:
        return bool(hasher.verify(password, user.password_hash))
    except ValueError:
        return False


def router(service: Service) -> APIRouter:
    """``POST /auth/token`` (the OAuth2 password flow) and ``POST /auth/logout``."""
    api = APIRouter(prefix="/auth", tags=["lesson 02: tokens"])
    layers, settings, store = service.layers, service.settings, service.store

    @api.post("/token")
    async def login_for_token(
        request: Request,
        form: OAuth2PasswordRequestForm = Depends(),  # noqa: B008
    ) -> TokenOut:
        # Lesson 10: the check runs inside the limiter's guard (the open service's checks
        # every guess at once).
        user = await layers.guard_login(service, request, form.username, lambda: (
            off_the_event_loop(layers.authenticate, store, service.hasher,
                               form.username, form.password)))
        if user is None:
            # Lesson 08: an audit event names the attempted account, never the password.
            layers.audit("login.failure", user=form.username, method="token")
            raise unauthorized("Incorrect username or password", CHALLENGE)
        await issue_after(user.password_changed_at)
        scopes = layers.grant_scopes(user.role, form.scopes)
        token = layers.issue_token(settings, layers.token_subject(user), scopes)
        # A password change may have landed while the password was being verified: the token
        # now exists, so if the hash is still the one verified, any later change is later
        # than its iat and ends it; if not, this login used a password that is no longer
        # valid, and gets no token.
        current = store.get_user_by_id(user.id)
        if current is None or current.password_hash != user.password_hash:
            layers.audit("login.failure", user=form.username, method="token")
            raise unauthorized("Incorrect username or password", CHALLENGE)
        layers.audit("login.success", user=user.username, method="token")
        return TokenOut(
            access_token=token,
            expires_in=settings.token_minutes * 60,
            scope=" ".join(sorted(scopes)),
        )

    @api.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    def logout_route(who: Caller = Security(service.caller)) -> Response:  # noqa: B008
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        layers.logout(service, who, response)
        layers.audit("logout", user=who.user.username, method=who.method)
        return response

    return api


def password_router(service: Service) -> APIRouter:
    """``POST /users/me/password``: a new password, given the current one (ASVS 6.2.3).

    A change ends every token and session obtained with the old password, at once and on
    every worker, because the state is in the database every request reads:

    - sessions are records: the change deletes the user's records (lesson 06);
    - tokens cannot be recalled, so the account keeps ``password_changed_at``, the second of
      the change, and ``caller_from_token`` refuses a token whose ``iat`` is at or before it
      (ASVS 7.4.1). ``iat`` counts whole seconds, so "at" catches an old token of the same
      second, and the token route waits out that second before issuing (``issue_after``);
    - the change is a compare-and-set on the hash that was checked (two racing changes: the
      first wins), and the token route reads the hash again after issuing, so a login that
      checked the old password while the change landed gets no token.

    Both hashes run off the event loop; the new password's policy is the
    ``password_change_model`` seam's and the ``password_problems`` seam's (strict from lesson
    07: the same rules as at registration, with this account's name and e-mail).
    """
    api = APIRouter(prefix="/users", tags=["lesson 02: tokens"])
    layers, store, hasher = service.layers, service.store, service.hasher
    PasswordChange = layers.password_change_model

    @api.post("/me/password", status_code=status.HTTP_204_NO_CONTENT,
              responses={401: {"description": "Not authenticated, or a wrong current password"}})
    async def change_password(
        request: Request,
        body: PasswordChange,  # type: ignore[valid-type]
        who: Caller = Security(service.caller),  # noqa: B008
    ) -> Response:
        user = who.user
        # The rules a model cannot check alone: they need the account (its name, its e-mail).
        problems = layers.password_problems(body.new_password, username=user.username,
                                            email=user.email)
        if problems:
            raise RequestValidationError([
                {"type": "password_policy", "loc": ("body", "new_password"), "msg": problem,
                 "input": None} for problem in problems])
        async def verify_current() -> User | None:
            matches = await off_the_event_loop(password_matches, hasher, body.current_password,
                                               user)
            return user if matches else None

        # Lesson 10: a stolen token or session must not guess the current password either.
        if await layers.guard_login(service, request, user.username, verify_current) is None:
            layers.audit("password.change.failure", user=user.username, method=who.method)
            raise unauthorized("The current password is wrong", CHALLENGE)
        new_hash = await off_the_event_loop(hasher.hash, body.new_password)
        if not store.change_password(user.id, user.password_hash, new_hash, int(time.time())):
            # The account is gone, or its password changed since this request read it.
            raise unauthorized("The current password is wrong", CHALLENGE)
        layers.audit("password.change", user=user.username, method=who.method)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return api


LAYER = LessonLayer(
    seams={
        "token_subject": subject_of,
        "issue_token": issue_token,
        "decode_token": decode_token,
        "identity": bearer_identity,
    },
    routers={"auth": router, "password": password_router},
)
