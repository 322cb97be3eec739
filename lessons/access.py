"""Lesson 03, reference layer: roles, scopes and ownership (authorization).

Authentication says who is calling; this layer decides what they may do
(OWASP API1:2023 object level, API5:2023 function level, API3:2023 property level).

- A role is what the account *is* (``user``, ``admin``); a scope is what one token *may do*
  (``notes:read``, ``notes:write``, ``users:admin``). A token gets only the scopes its
  owner's role allows, however many it asks for.
- On every request, the scopes that count are the token's scopes that the caller's *current*
  role still allows: the role is read from the database each time, so an admin who is demoted
  loses ``users:admin`` at once, whatever her token says.
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
from lessons.wiring import LessonLayer

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


def check_scopes(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    """Raise 403 unless the scopes that count hold every required one: those the token was
    granted that the caller's role, as it is now, still allows.

    The challenge follows RFC 6750, section 3.1: ``insufficient_scope`` with the scopes needed,
    so a client knows which token to ask for.
    """
    # The token bounds what this request may do; the role, read from the database on every
    # request, bounds the token: a demotion takes effect at once, not when the token expires.
    counted = granted & ROLE_SCOPES.get(role, frozenset())
    missing = [scope for scope in required if scope not in counted]
    if missing:
        challenge = f'Bearer error="insufficient_scope", scope="{" ".join(required)}"'
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"This needs the scope {' '.join(missing)}.",
            headers={"WWW-Authenticate": challenge},
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


# -- vulnerable: the open service's stand-ins for these seams (lessons 00-02), and three --------
# -- tempting mistakes that lesson 03 attacks (a 403 owner check, scopes that ignore the -----
# -- role, roles used as scopes) ----------------------------------------------------------------


def grant_requested(role: str, requested: Iterable[str]) -> frozenset[str]:
    """VULNERABLE: grants whatever the client asks for; with nothing asked, what the role has."""
    wanted = frozenset(requested)
    return wanted if wanted else ROLE_SCOPES.get(role, frozenset())


def allow_any(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    """VULNERABLE: no authorization at all; any authenticated caller may do anything."""


def check_token_scopes(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    """VULNERABLE, a check that looks complete: the token's scopes alone decide.

    Right in every other way (403, every required scope), but it never looks at the role. An
    admin demoted in the database keeps ``users:admin`` for as long as the token she already
    holds is valid.
    """
    _refuse_missing(granted, required)


def role_as_scopes(role: str, granted: frozenset[str], required: Sequence[str]) -> None:
    """VULNERABLE, for the errata: roles and scopes mixed up. The caller's permissions are
    taken from their role on every request, whatever scopes their token was granted.

    A token that an admin asked for with ``notes:read`` only (for a backup script, say) can
    still delete users, so no token can ever be narrowed to less than its owner's role.
    """
    _refuse_missing(ROLE_SCOPES.get(role, frozenset()), required)


def _refuse_missing(counted: frozenset[str], required: Sequence[str]) -> None:
    missing = [scope for scope in required if scope not in counted]
    if missing:
        raise HTTPException(status.HTTP_403_FORBIDDEN,
                            detail=f"This needs the scope {' '.join(missing)}.")


def any_note(store: Store, username: str, note_id: int) -> Note | None:
    """VULNERABLE: returns the note whoever owns it (broken object level authorization)."""
    return store.get_note(note_id)


def owned_note_or_403(store: Store, username: str, note_id: int) -> Note | None:
    """VULNERABLE, a plausible half-fix: checks the owner but answers 403 for someone else's
    note. A missing note still gets 404, so the difference tells a caller which ids exist."""
    note = store.get_note(note_id)
    if note is not None and note.owner != username:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This note is not yours.")
    return note


LAYER = LessonLayer(seams={
    "grant_scopes": grant_scopes,
    "check_scopes": check_scopes,
    "find_note": owned_note,
    "user_model": UserCreate,
})
