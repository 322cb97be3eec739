"""Who is calling: the ``Caller`` every protected route receives, and lesson 00's way of
finding out, which is to believe whatever the client says.

Each lesson that changes how callers prove who they are (Basic auth in 01, bearer tokens in
02, sessions in 06) provides a dependency that returns a ``Caller``; the routes never know
which one is in use.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import Depends, Header, HTTPException, Request, status
from fastapi.security import SecurityScopes

from lessons.store import Session, Store, User


@dataclass(frozen=True)
class Caller:
    user: User
    # The OAuth2 scopes this request carries; empty until lesson 03 gives them meaning.
    scopes: frozenset[str] = frozenset()
    # The verified claims of the bearer token, when the caller used one (logout needs its jti).
    claims: Mapping[str, Any] = field(default_factory=dict)
    # How the caller proved who they are: "claimed", "basic", "bearer" or "session".
    method: str = "claimed"
    # The server-side session record, when the caller used the session cookie (lesson 06):
    # logout deletes it, and the CSRF check compares against its token.
    session: Session | None = None


# A FastAPI dependency (sync or async callable) that returns the caller or raises 401.
IdentityDependency = Callable[..., Caller | Coroutine[Any, Any, Caller]]


def unauthorized(detail: str, scheme: str) -> HTTPException:
    """401 with the challenge RFC 9110 requires, naming the scheme the client should use."""
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": scheme}
    )


def claimed_identity(store: Store) -> IdentityDependency:
    """VULNERABLE, lesson 00 only: the caller is whoever the ``X-User`` header names.

    There is no proof at all: any client can name any user, which is exactly the flaw lesson 00
    shows and lesson 01 removes.
    """

    def caller(x_user: str | None = Header(default=None, description="Your username")) -> Caller:
        user = store.get_user(x_user) if x_user else None
        if user is None:
            # 400, not 401: this is no authentication scheme, so there is nothing to challenge.
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                detail="Say who you are with an X-User header naming a registered user.",
            )
        return Caller(user=user, method="claimed")

    return caller


# The ``check_scopes`` seam: ``check_scopes(role, granted, required)`` raises 403 unless the
# scopes that count (the token's, as far as the caller's current role allows) cover the
# required ones.
ScopeCheck = Callable[[str, frozenset[str], Sequence[str]], None]


def remember(request: Request, who: Caller) -> None:
    """Record on the request who is calling, for whatever reports on the request afterwards
    (lesson 08's access log reads it): the routes say who called, they do not log it."""
    request.state.username = who.user.username


def named(identity: IdentityDependency) -> IdentityDependency:
    """``identity`` that also records the caller on the request (see ``remember``)."""

    async def caller(request: Request, who: Caller = Depends(identity)) -> Caller:  # noqa: B008
        remember(request, who)
        return who

    return caller


def authorized(identity: IdentityDependency, check_scopes: ScopeCheck) -> IdentityDependency:
    """``identity`` with the scope check, for use as ``Security(caller, scopes=[...])``:
    FastAPI collects the scopes a route declares into ``SecurityScopes``."""

    async def caller(request: Request, security_scopes: SecurityScopes,
                     who: Caller = Depends(identity)) -> Caller:  # noqa: B008
        remember(request, who)
        # The role comes from the database on this very request, the scopes from the token.
        check_scopes(who.user.role, who.scopes, security_scopes.scopes)
        return who

    return caller
