"""Lesson 03, reference layer: roles, scopes and ownership (authorization).

Authentication says who is calling; this layer decides what they may do
(OWASP API1:2023 object level, API5:2023 function level, API3:2023 property level).

- A role is what the account *is* (``user``, ``admin``); a scope is what one token *may do*
  (``notes:read``, ``notes:write``, ``users:admin``). A token gets only the scopes its
  owner's role allows, however many it asks for.
- A missing scope is 403 (the caller is known but not allowed); a bad token stays 401.
- Another user's note answers 404, exactly like a note that does not exist, so note ids
  cannot be probed to learn what exists.
- Registration accepts exactly the fields it documents: ``role`` in the body is a 422.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fastapi import HTTPException, status
from pydantic import BaseModel, ConfigDict

from lessons.store import Note, Store

NOTES_READ = "notes:read"
NOTES_WRITE = "notes:write"
USERS_ADMIN = "users:admin"

SCOPES = {
    NOTES_READ: "Read your own notes.",
    NOTES_WRITE: "Create and delete your own notes, and post comments.",
    USERS_ADMIN: "List and delete user accounts.",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "user": frozenset({NOTES_READ, NOTES_WRITE}),
    "admin": frozenset({NOTES_READ, NOTES_WRITE, USERS_ADMIN}),
}

ROLES = tuple(ROLE_SCOPES)


def grant_scopes(role: str, requested: Iterable[str]) -> frozenset[str]:
    """The scopes a token may carry: those requested that the role allows; if none were
    requested, all that the role allows. An unknown role is allowed nothing."""
    allowed = ROLE_SCOPES.get(role, frozenset())
    wanted = frozenset(requested)
    return allowed & wanted if wanted else allowed


def check_scopes(granted: frozenset[str], required: Sequence[str]) -> None:
    """Raise 403 unless every required scope was granted.

    The challenge follows RFC 6750, section 3.1: ``insufficient_scope`` with the scopes needed,
    so a client knows which token to ask for.
    """
    missing = [scope for scope in required if scope not in granted]
    if missing:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"This needs the scope {' '.join(missing)}.",
            headers={
                "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{" ".join(required)}"'
            },
        )


def owned_note(store: Store, username: str, note_id: int) -> Note | None:
    """The note if ``username`` owns it, otherwise ``None`` (the route answers 404 either way)."""
    return store.get_owned_note(username, note_id)


class UserCreate(BaseModel):
    """Registration: only these fields. Anything else, such as ``role``, is rejected (422),
    not silently ignored, so a client learns at once that it cannot choose its own role."""

    model_config = ConfigDict(extra="forbid")

    username: str
    email: str | None = None
    password: str


# -- the open service's stand-ins for these seams (vulnerable, lessons 00-02) ------------------


def grant_requested(role: str, requested: Iterable[str]) -> frozenset[str]:
    """VULNERABLE: grants whatever the client asks for; with nothing asked, what the role has."""
    wanted = frozenset(requested)
    return wanted if wanted else ROLE_SCOPES.get(role, frozenset())


def allow_any(granted: frozenset[str], required: Sequence[str]) -> None:
    """VULNERABLE: no authorization at all; any authenticated caller may do anything."""


def any_note(store: Store, username: str, note_id: int) -> Note | None:
    """VULNERABLE: returns the note whoever owns it (broken object level authorization)."""
    return store.get_note(note_id)


LAYER = {
    "grant_scopes": grant_scopes,
    "check_scopes": check_scopes,
    "find_note": owned_note,
    "user_model": UserCreate,
}
