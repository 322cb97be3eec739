"""The shapes of the service's requests and responses (pydantic models), one per purpose.

Input models of the open service accept anything; the lessons that tighten them (03: no
unknown fields, 07: lengths and formats) provide their own models for the same seams.
Output models list exactly what may leave the service: a password hash has no field here.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from lessons.store import Comment, Note, User


class UserRecord(BaseModel):
    """VULNERABLE, the lesson-00 registration body: one model for everything a user row holds.

    Because ``role`` is a field, a client can send ``"role": "admin"`` and become one (mass
    assignment, OWASP API3:2023). Lesson 03 replaces it with a model that forbids unknown fields.
    """

    username: str
    email: str | None = None
    password: str
    role: str = "user"


class PasswordChange(BaseModel):
    """``POST /users/me/password`` before lesson 07: any new password the hasher can take
    (passlib refuses more than 4096 characters; the bound keeps that a 422, not a 500)."""

    current_password: str
    new_password: str = Field(max_length=4096)


def no_password_problems(password: str, *, username: str | None = None,
                         email: str | None = None) -> list[str]:
    """The ``password_problems`` seam before lesson 07: nothing is looked at."""
    return []


class UserOut(BaseModel):
    username: str
    email: str | None
    role: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(username=user.username, email=user.email, role=user.role)


class WhoAmI(BaseModel):
    username: str
    role: str


class NoteIn(BaseModel):
    title: str
    body: str


class NoteOut(BaseModel):
    id: int
    title: str
    body: str
    owner: str
    created_at: str

    @classmethod
    def of(cls, note: Note) -> NoteOut:
        return cls(id=note.id, title=note.title, body=note.body, owner=note.owner,
                   created_at=note.created_at)


class CommentIn(BaseModel):
    body: str


class CommentOut(BaseModel):
    id: int
    author: str
    body: str

    @classmethod
    def of(cls, comment: Comment) -> CommentOut:
        return cls(id=comment.id, author=comment.author, body=comment.body)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 -- the scheme's name (RFC 6750)
    expires_in: int
    # RFC 6749, section 5.1: say which scopes were granted, since it may be fewer than asked.
    scope: str


class Health(BaseModel):
    status: str = "ok"
