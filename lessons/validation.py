"""Lesson 07, reference layer: validation and sanitization.

What the layer guarantees (OWASP ASVS 5.0 V1 and V2, API3:2023 and API4:2023):

- every request body is bound to a strict model: exact fields (``extra="forbid"``), lengths
  and formats, checked at the service, so bad input gets a 422 before any code acts on it
  (ASVS 2.2.1, 2.2.2);
- passwords follow one policy everywhere (this API and ``python -m lessons users add``): 12 to
  128 characters of anything, no composition rules, not in the bundled list of common
  passwords (ASVS 6.2.1, 6.2.4, 6.2.5, 6.2.9), not containing the username, the e-mail
  address's name or the service's name, and not trivially repetitive or sequential (ASVS
  6.2.11; NIST SP 800-63B): ``password_problems`` says what is wrong, never echoing the
  password;
- usernames and note titles refuse invisible and direction-changing characters, by Unicode
  category (``visible_text``);
- note search runs a parameterized query (``Store.search_notes``): the search text is data,
  never SQL (ASVS 1.2.4);
- comment HTML is sanitized on the way in with bleach and an allow-list (ASVS 1.3.1; see
  ``lessons.sanitize``);
- request bodies larger than 64 KiB get 413 before they are read whole
  (``lessons.body_limit``);
- the public ``GET /comments`` answers one page of at most 100 comments, and each user may
  post a limited number of comments per time window (``lessons.comment_limits``; API4:2023,
  ASVS 2.4.1).

Each rule lives once, here, as an ``Annotated`` type; the models are made of them and the
command line validates with the same types, so the API and the CLI cannot drift apart.
"""

from __future__ import annotations

import functools
import itertools
import unicodedata
from collections.abc import Callable
from importlib import resources
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    StringConstraints,
    TypeAdapter,
    ValidationInfo,
    field_validator,
)
from starlette.types import ASGIApp

from lessons.body_limit import BodySizeLimit
from lessons.comment_limits import comment_page, quota_wait
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


# -- what a password must not be made of (NIST SP 800-63B) -----------------------------------

# The service's name ("Notes service"): the first word anyone reaches for when a password
# for it is asked.
SERVICE_WORDS = ("notes",)
# Shorter context words (a two-letter e-mail name) would refuse half of all passwords.
CONTEXT_MIN = 3
# At most this many runs of repeated or consecutive characters make a whole password
# trivial: "aaaaaaaaaaaa" is one, "abcdefghijkl" one, "1234abcd5678" three.
MAX_RUNS = 3

CONTEXT_MESSAGE = ("This password contains {what}. Guessing tools try the words that go with an "
                   "account first (NIST SP 800-63B, context-specific words): choose a password "
                   "without {pronoun}.")
PATTERN_MESSAGE = " ".join((
    "This password is a short pattern repeated, or a few runs of repeated or consecutive",
    "characters (like aaaa, abcd or 4321), which guessing tools try early (NIST SP 800-63B).",
    "Choose another; a few unrelated words make a good one."))


def _letters_and_digits(text: str) -> str:
    # Case and separators do not hide a word: "Carol_9", "carol-9" and "CAROL9" are one.
    return "".join(char for char in text.casefold() if char.isalnum())


def is_trivial_pattern(password: str) -> bool:
    """Whether the whole password is one short unit repeated ("abcabcabcabc") or at most
    ``MAX_RUNS`` runs of repeated or consecutive characters ("zzzzzzzzzzzz", "1234abcd5678").
    A password that merely *contains* "aaa" or "123" is fine: NIST asks verifiers not to
    forbid repeated characters as a composition rule."""
    text = password.casefold()
    size = len(text)
    if any(text == (text[:unit] * size)[:size] for unit in range(1, size // 3 + 1)):
        return True
    runs, step = 1, None
    for before, char in itertools.pairwise(text):
        difference = ord(char) - ord(before)
        if step is None and abs(difference) <= 1:
            step = difference  # the run's direction: repeated (0), up (1) or down (-1)
        elif difference != step:
            runs, step = runs + 1, None
    return runs <= MAX_RUNS


def password_problems(password: str, *, username: str | None = None,
                      email: str | None = None) -> list[str]:
    """What makes ``password`` guessable for this account, beyond its length and the
    common-password list: the username, the name part of the e-mail address or the service's
    name inside it (ignoring case and separators), or a trivially repetitive or sequential
    whole. One message for the context words, one for a pattern, each saying why; neither
    repeats the password. Empty: no problem.

    Every way in that sets a password calls it (registration, the command line, a password
    change), with the context it knows."""
    flat = _letters_and_digits(password)
    local_part = email.rpartition("@")[0] if email else None
    context = [("your username", username), ("the name part of your e-mail address", local_part),
               *(("the service's name", word) for word in SERVICE_WORDS)]
    found = [what for what, word in context
             if len(key := _letters_and_digits(word or "")) >= CONTEXT_MIN and key in flat]
    problems = []
    if found:
        problems.append(CONTEXT_MESSAGE.format(what=" and ".join(found),
                                               pronoun="it" if len(found) == 1 else "them"))
    if is_trivial_pattern(password):
        problems.append(PATTERN_MESSAGE)
    return problems


# -- text that shows what it holds --------------------------------------------------------------

# Characters that change how text looks without being seen themselves: control characters
# (Cc), format characters (Cf: bidirectional overrides and isolates such as U+202E, zero-width
# spaces and joiners, soft hyphens, tag characters) and the line and paragraph separators (Zl,
# Zp). Judged by category, not by a list of code points: a list misses the ones its author did
# not think of, and Unicode keeps adding format characters.
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def visible_text(text: str) -> str:
    """Pydantic after-validator: refuse text holding an invisible or direction-changing
    character anywhere; return it unchanged otherwise."""
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if category in INVISIBLE_CATEGORIES:
            raise ValueError(f"Character {position + 1} is U+{ord(char):04X}, an invisible or "
                             f"direction-changing character (category {category}): text must "
                             "show what it holds.")
    return text


# -- the rules, one Annotated type each --------------------------------------------------------

# Lower-case letters, digits and underscore only: one spelling per name, so "Alice" and
# "alice" (or a look-alike Cyrillic "а") can never be two different accounts.
# The category rule as well: it still holds if the pattern is ever widened to other scripts.
Username = Annotated[str, StringConstraints(pattern=USERNAME_PATTERN), AfterValidator(visible_text)]
# Any character is allowed and nothing is trimmed or changed (ASVS 6.2.5, 6.2.8). The rules
# that need the username and e-mail are in UserCreate.not_guessable.
Password = Annotated[str, StringConstraints(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX),
                     AfterValidator(not_common)]
# A title shows what it holds: no control, format or separator characters (a newline, a NUL or
# a right-to-left override in a title is never meant).
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=TITLE_MAX),
                  AfterValidator(visible_text)]
NoteBody = Annotated[str, StringConstraints(max_length=NOTE_BODY_MAX)]
CommentBody = Annotated[str, StringConstraints(min_length=1, max_length=COMMENT_MAX)]


class UserCreate(BaseModel):
    """``POST /users``: exactly these three fields, each with its rules. ``EmailStr`` checks
    the address's syntax with the email-validator package (no DNS look-up)."""

    model_config = ConfigDict(extra="forbid")

    username: Username
    email: EmailStr
    password: Password  # declared last: its validator below reads the two fields above

    @field_validator("password")
    @classmethod
    def not_guessable(cls, password: str, info: ValidationInfo) -> str:
        """The context rules. ``info.data`` holds the fields declared before this one that
        were valid; a field that was not makes the request fail anyway."""
        problems = password_problems(password, username=info.data.get("username"),
                                     email=info.data.get("email"))
        if problems:
            raise ValueError(" ".join(problems))
        return password


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title
    body: NoteBody


def note_model_with(visible: Callable[[str], str]) -> type[BaseModel]:
    """``NoteIn`` with another visible-text rule on the title (a learner's, for the checks
    and the notebook); everything else as in the reference."""

    class NoteWith(NoteIn):
        title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                                max_length=TITLE_MAX), AfterValidator(visible)]

    return NoteWith


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
        "password_problems": password_problems,
        "note_model": NoteIn,
        "comment_model": CommentIn,
        "search_notes": Store.search_notes,  # parameterized; see lessons/store.py
        "sanitize_html": sanitize_comment,
        "body_limit": BodySizeLimit,
        "comment_page": comment_page,
        "quota_wait": quota_wait,
    },
    middleware={"body_limit": limit_body},
)
