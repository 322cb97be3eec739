"""Lesson 02, reference layer: JWT bearer tokens (OAuth2 password flow) with python-jose.

What the layer guarantees (OWASP ASVS 5.0 V9 self-contained tokens, API2:2023):

- tokens are HS256, signed with the service's random key, and carry ``sub, iat, nbf, exp,
  iss, aud, jti`` plus the granted ``scope``;
- decoding names the one algorithm it accepts (an allow-list: the token's header does not
  choose) and *requires* every registered claim: python-jose by default accepts a token with
  no ``exp`` (it never expires) or no ``aud`` (it is valid for any audience);
- logout revokes the token's ``jti`` until it would have expired; a revoked token, or one
  whose user was deleted, gets 401 like any other bad token.

The identity dependency is split in two: ``caller_from_token`` (plain code: decode, refuse
revoked ids, look the user up) and ``identity_from``, the FastAPI glue that reads the
``Authorization: Bearer`` header and calls it.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Depends, Response, Security, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from jose import JOSEError, jwt

from lessons.access import SCOPES
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, unauthorized
from lessons.passwords import off_the_event_loop
from lessons.schemas import TokenOut
from lessons.settings import Settings
from lessons.store import User
from lessons.wiring import LessonLayer

ALGORITHM = "HS256"
REQUIRED_CLAIMS = ("sub", "iat", "nbf", "exp", "iss", "aud", "jti")
CHALLENGE = "Bearer"
INVALID = 'Bearer error="invalid_token"'

Claims = dict[str, Any]


def issue_token(settings: Settings, username: str, scopes: Iterable[str]) -> str:
    """A signed access token for ``username`` with the given scopes, valid from now on for
    ``settings.token_minutes``."""
    now = int(time.time())
    claims = {
        "sub": username,
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


def issue_token_naive(settings: Settings, username: str, scopes: Iterable[str]) -> str:
    """VULNERABLE, for the lesson-02 attacks: a token as many tutorials make it.

    No ``exp`` (it is valid forever), no ``aud`` or ``iss`` (any service that shares the key
    accepts it), no ``jti`` (no single token can be revoked).
    """
    claims = {"sub": username, "scope": " ".join(sorted(scopes))}
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
    logout, and must belong to a user who still exists."""
    try:
        claims = service.layers.decode_token(service.settings, token)
    except JOSEError:
        # JOSEError, python-jose's base class, not just JWTError: a decode without an
        # algorithm allow-list raises JWKError (not a JWTError) for `alg: none`.
        raise unauthorized("Invalid or expired token", INVALID) from None
    jti, subject = claims.get("jti"), claims.get("sub")
    if not isinstance(jti, str) or not isinstance(subject, str):
        raise unauthorized("Invalid or expired token", INVALID)
    if service.store.is_revoked(jti):
        raise unauthorized("This token was revoked by logging out", INVALID)
    # Look the user up on every request: a deleted account's tokens stop working at once
    # (ASVS 7.4.2), and the role comes from the database, not from the token.
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
        user = User(username=str(claims.get("sub")), email=None,
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


def router(service: Service) -> APIRouter:
    """``POST /auth/token`` (the OAuth2 password flow) and ``POST /auth/logout``."""
    api = APIRouter(prefix="/auth", tags=["lesson 02: tokens"])
    layers, settings = service.layers, service.settings

    @api.post("/token")
    async def login_for_token(
        form: OAuth2PasswordRequestForm = Depends(),  # noqa: B008
    ) -> TokenOut:
        user = await off_the_event_loop(layers.authenticate, service.store, service.hasher,
                                        form.username, form.password)
        if user is None:
            # Lesson 08: an audit event names the attempted account, never the password.
            layers.audit("login.failure", user=form.username, method="token")
            raise unauthorized("Incorrect username or password", CHALLENGE)
        layers.audit("login.success", user=user.username, method="token")
        scopes = layers.grant_scopes(user.role, form.scopes)
        return TokenOut(
            access_token=layers.issue_token(settings, user.username, scopes),
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


LAYER = LessonLayer(
    seams={
        "issue_token": issue_token,
        "decode_token": decode_token,
        "identity": bearer_identity,
    },
    routers={"auth": router},
)
