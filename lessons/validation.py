"""Lesson 07, reference layer: validation and sanitization.

What the layer guarantees (OWASP ASVS 5.0 V1 and V2, API3:2023 and API4:2023):

- every request body is bound to a strict model: exact fields (``extra="forbid"``), lengths
  and formats, checked at the service, so bad input gets a 422 before any code acts on it
  (ASVS 2.2.1, 2.2.2);
- passwords follow one policy everywhere (this API and ``python -m lessons users add``): 12 to
  128 characters of anything, no composition rules, not in the bundled list of common
  passwords (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.9);
- note search runs a parameterized query (``Store.search_notes``): the search text is data,
  never SQL (ASVS 1.2.4);
- comment HTML is sanitized on the way in with bleach and an allow-list (ASVS 1.3.1; see
  ``lessons.sanitize``);
- request bodies larger than 64 KiB get 413 before they are read whole
  (``lessons.body_limit``).

Each rule lives once, here, as an ``Annotated`` type; the models are made of them and the
command line validates with the same types, so the API and the CLI cannot drift apart.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, StringConstraints, TypeAdapter
from starlette.types import ASGIApp

from lessons.body_limit import BodySizeLimit
from lessons.context import Service
from lessons.sanitize import sanitize_comment
from lessons.store import Store
from lessons.wiring import LessonLayer

USERNAME_PATTERN = r"^[a-z0-9_]{3,32}$"
PASSWORD_MIN, PASSWORD_MAX = 12, 128
TITLE_MAX, NOTE_BODY_MAX, COMMENT_MAX, SEARCH_MAX = 200, 10_000, 5_000, 100

COMMON_PASSWORD_MESSAGE = " ".join((
    "This password is in a list of commonly used passwords, which attackers try first.",
    "Choose another; a few unrelated words make a good one."))


@functools.cache
def common_passwords() -> frozenset[str]:
    """The bundled list (``lessons/data/common_passwords.txt``; its header says where it comes
    from and under which licence), lower-cased for a case-insensitive comparison."""
    text = resources.files("lessons").joinpath("data/common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def is_common_password(password: str) -> bool:
    return password.casefold() in common_passwords()


def not_common(password: str) -> str:
    """Pydantic after-validator: refuse a password from the common-password list. The password
    itself is never put in the message."""
    if is_common_password(password):
        raise ValueError(COMMON_PASSWORD_MESSAGE)
    return password


# -- the rules, one Annotated type each --------------------------------------------------------

# Lower-case letters, digits and underscore only: one spelling per name, so "Alice" and
# "alice" (or a look-alike Cyrillic "а") can never be two different accounts.
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN)]
# Length only: any character is allowed and nothing is trimmed or changed (ASVS 6.2.5, 6.2.8).
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX),
                     AfterValidator(not_common)]
# No control characters in a title (a newline or NUL in a title is never meant).
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                         max_length=TITLE_MAX, pattern=r"^[^\x00-\x1f\x7f]*$")]
NoteBody = Annotated[str, StringConstraints(max_length=NOTE_BODY_MAX)]
CommentBody = Annotated[str, StringConstraints(min_length=1, max_length=COMMENT_MAX)]


class UserCreate(BaseModel):
    """``POST /users``: exactly these three fields, each with its rules. ``EmailStr`` checks
    the address's syntax with the email-validator package (no DNS look-up)."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    email: EmailStr
    password: Password


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: NoteBody


class CommentIn(BaseModel):
    """The comment's HTML is checked for length here and sanitized by the route."""

    model_config = ConfigDict(extra="forbid")

    body: CommentBody


class PasswordChange(BaseModel):
    """``POST /users/me/password``: the new password meets the same policy as at registration
    (ASVS 6.2.4); the current one is only compared, so it has no rule beyond being a string."""

    model_config = ConfigDict(extra="forbid")

    current_password: str
    new_password: Password


# For the command line: the same rules, outside any model.
USERNAME_RULE: TypeAdapter[str] = TypeAdapter(Username)
PASSWORD_RULE: TypeAdapter[str] = TypeAdapter(Password)
EMAIL_RULE: TypeAdapter[str] = TypeAdapter(EmailStr)


def limit_body(app: ASGIApp, service: Service) -> ASGIApp:
    """The body-limit slot: the ``body_limit`` seam's middleware, at the configured size."""
    limit = service.layers.body_limit
    return app if limit is None else limit(app, max_bytes=service.settings.max_body_bytes)


LAYER = LessonLayer(
    seams={
        "user_model": UserCreate,
        "password_change_model": PasswordChange,
        "note_model": NoteIn,
        "comment_model": CommentIn,
        "search_notes": Store.search_notes,  # parameterized; see lessons/store.py
        "sanitize_html": sanitize_comment,
        "body_limit": BodySizeLimit,
    },
    middleware={"body_limit": limit_body},
)
