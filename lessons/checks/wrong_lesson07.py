"""Lesson 07: plausible wrong answers, each a near miss that breaks one rule of an exercise.

``lessons.checks.lesson07.WRONG_ANSWERS`` hands each to the suite instead of the reference and
names the checks it must fail; ``tests/test_check_suites.py`` proves they do, and no others.
They are written the way people first write these functions: a pattern without anchors, a
field in the wrong order, quotes escaped by hand, a list of code points, a block-list of
``//``, a bound checked by hand, a comparison off by one.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Callable, Sequence
from typing import Annotated

import bleach
from fastapi import HTTPException, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from starlette.types import Message, Receive

from lessons import sanitize, validation
from lessons.body_limit import BodyTooLarge
from lessons.comment_limits import Page
from lessons.store import Note, Store
from lessons.validation import Password, Username, password_problems

# -- registration_model ------------------------------------------------------------------------


def model_max_64() -> type[BaseModel]:
    """"NIST says at least 64": a maximum of 64 characters refuses long passphrases."""

    class UserCreate(validation.UserCreate):
        password: Annotated[str, StringConstraints(min_length=12, max_length=64),
                            AfterValidator(validation.not_common)]

    return UserCreate


def model_composition_rule() -> type[BaseModel]:
    """The old habit: "at least one digit"."""

    def has_digit(password: str) -> str:
        if not any(char.isdigit() for char in password):
            raise ValueError("The password needs at least one digit.")
        return password

    class UserCreate(validation.UserCreate):
        password: Annotated[Password, AfterValidator(has_digit)]

    return UserCreate


def model_ignores_extra() -> type[BaseModel]:
    """Unknown fields dropped silently instead of refused."""

    class UserCreate(validation.UserCreate):
        model_config = ConfigDict(extra="ignore")

    return UserCreate


def model_unanchored_pattern() -> type[BaseModel]:
    """A pattern without ^ and $ matches inside "Alice!"."""

    class UserCreate(validation.UserCreate):
        username: Annotated[str, StringConstraints(pattern=r"[a-z0-9_]{3,32}")]

    return UserCreate


def model_word_pattern() -> type[BaseModel]:
    r"""``\w`` looks like [a-z0-9_] but takes upper case and every script's letters."""

    class UserCreate(validation.UserCreate):
        username: Annotated[str, StringConstraints(pattern=r"^\w{3,32}$")]

    return UserCreate


def model_plain_email() -> type[BaseModel]:
    """``str`` instead of ``EmailStr``."""

    class UserCreate(validation.UserCreate):
        email: str

    return UserCreate


def model_optional_email() -> type[BaseModel]:
    """The address made optional."""

    class UserCreate(validation.UserCreate):
        email: EmailStr | None = None

    return UserCreate


def model_min_11() -> type[BaseModel]:
    """Off by one at the lower bound."""

    class UserCreate(validation.UserCreate):
        password: Annotated[str, StringConstraints(min_length=11, max_length=128),
                            AfterValidator(validation.not_common)]

    return UserCreate


def model_without_common_check() -> type[BaseModel]:
    """Lengths and context, but the common-password list forgotten."""

    class UserCreate(validation.UserCreate):
        password: Annotated[str, StringConstraints(min_length=12, max_length=128)]

    return UserCreate


def model_password_first() -> type[BaseModel]:
    """The password declared first: when its validator runs, ``info.data`` is still empty,
    so the context words are never checked."""

    class UserCreate(BaseModel):
        model_config = ConfigDict(extra="forbid")

        password: Password
        username: Username
        email: EmailStr

        @field_validator("password")
        @classmethod
        def not_guessable(cls, password: str, info: ValidationInfo) -> str:
            problems = password_problems(password, username=info.data.get("username"),
                                         email=info.data.get("email"))
            if problems:
                raise ValueError(" ".join(problems))
            return password

    return UserCreate


def model_without_email_context() -> type[BaseModel]:
    """The username passed, the e-mail address forgotten."""

    class UserCreate(validation.UserCreate):
        @field_validator("password")
        @classmethod
        def not_guessable(cls, password: str, info: ValidationInfo) -> str:
            problems = password_problems(password, username=info.data.get("username"))
            if problems:
                raise ValueError(" ".join(problems))
            return password

    return UserCreate


def model_own_context_check() -> type[BaseModel]:
    """The context words checked by hand (well), the repetitive and sequential ones not."""

    class UserCreate(validation.UserCreate):
        @field_validator("password")
        @classmethod
        def not_guessable(cls, password: str, info: ValidationInfo) -> str:
            flat = "".join(char for char in password.casefold() if char.isalnum())
            email = info.data.get("email") or ""
            for word in (info.data.get("username"), email.partition("@")[0], "notes"):
                key = "".join(char for char in (word or "").casefold() if char.isalnum())
                if len(key) >= 3 and key in flat:
                    raise ValueError("The password contains a word that goes with this account.")
            return password

    return UserCreate


def model_echoes_password() -> type[BaseModel]:
    """Right rules, but the message repeats the password to whoever sees the answer."""

    class UserCreate(validation.UserCreate):
        @field_validator("password")
        @classmethod
        def not_guessable(cls, password: str, info: ValidationInfo) -> str:
            problems = password_problems(password, username=info.data.get("username"),
                                         email=info.data.get("email"))
            if problems:
                raise ValueError(f"{password!r} is too easy to guess.")
            return password

    return UserCreate


# -- visible_text ------------------------------------------------------------------------------


def visible_isprintable(text: str) -> str:
    """``str.isprintable`` also refuses every space but the ASCII one (a no-break space)."""
    if not text.isprintable():
        raise ValueError("The text holds a character that does not print.")
    return text


def visible_code_points(text: str) -> str:
    """A list of the code points someone thought of: C0 controls, DEL, the bidi controls."""
    listed = {*map(chr, range(0x20)), "\x7f", *map(chr, range(0x202A, 0x202F)),
              *map(chr, range(0x2066, 0x206A))}
    if any(char in listed for char in text):
        raise ValueError("The text holds a control character.")
    return text


def visible_controls_only(text: str) -> str:
    """Category Cc only: the format characters (Cf) and separators go through."""
    if any(unicodedata.category(char) == "Cc" for char in text):
        raise ValueError("The text holds a control character.")
    return text


def visible_strips(text: str) -> str:
    """Removes the characters instead of refusing: the input is quietly changed."""
    return "".join(char for char in text
                   if unicodedata.category(char) not in {"Cc", "Cf", "Zl", "Zp"})


class InvisibleCharacter(Exception):
    """A custom exception: pydantic turns only ValueError (and AssertionError) into a 422."""


def visible_custom_exception(text: str) -> str:
    if any(unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"} for char in text):
        raise InvisibleCharacter(text)
    return text


# -- search_notes ------------------------------------------------------------------------------

COLUMNS = "SELECT id, owner, title, body, created_at FROM notes"


def search_without_owner(store: Store, owner: str, text: str) -> list[Note]:
    """Parameterized and escaped, but the owner check forgotten."""
    literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.query(f"{COLUMNS} WHERE title LIKE ? ESCAPE '\\' ORDER BY id",
                       (f"%{literal}%",))
    return [Note(**row) for row in rows]


def search_newest_first(store: Store, owner: str, text: str) -> list[Note]:
    """Right, except the order asked for."""
    literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.query(f"{COLUMNS} WHERE owner = ? AND title LIKE ? ESCAPE '\\' ORDER BY id DESC",
                       (owner, f"%{literal}%"))
    return [Note(**row) for row in rows]


def search_formatted(store: Store, owner: str, text: str) -> list[Note]:
    """The text pasted into the SQL."""
    rows = store.query(f"{COLUMNS} WHERE owner = '{owner}' AND title LIKE '%{text}%' "
                       "ORDER BY id")
    return [Note(**row) for row in rows]


def search_quotes_escaped(store: Store, owner: str, text: str) -> list[Note]:
    """Everything escaped by hand, carefully: quotes doubled, LIKE's wildcards escaped. It
    stops every classic payload, and still builds SQL from the text: a NUL character breaks it
    (a 500)."""
    literal = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    literal = literal.replace("'", "''")
    rows = store.query(f"{COLUMNS} WHERE owner = ? AND title LIKE '%{literal}%' "
                       "ESCAPE '\\' ORDER BY id", (owner,))
    return [Note(**row) for row in rows]


def search_without_like_escaping(store: Store, owner: str, text: str) -> list[Note]:
    """A parameter, but % and _ still act as wildcards."""
    rows = store.query(f"{COLUMNS} WHERE owner = ? AND title LIKE ? ORDER BY id",
                       (owner, f"%{text}%"))
    return [Note(**row) for row in rows]


def search_backslash_unescaped(store: Store, owner: str, text: str) -> list[Note]:
    """% and _ escaped, the escape character itself not."""
    literal = text.replace("%", "\\%").replace("_", "\\_")
    rows = store.query(f"{COLUMNS} WHERE owner = ? AND title LIKE ? ESCAPE '\\' ORDER BY id",
                       (owner, f"%{literal}%"))
    return [Note(**row) for row in rows]


# -- sanitize_comment --------------------------------------------------------------------------

TAGS = sanitize.ALLOWED_TAGS
PROTOCOLS = sanitize.ALLOWED_PROTOCOLS


def sanitize_escape_everything(text: str) -> str:
    """Safe, and keeps no formatting at all."""
    return bleach.clean(text, tags=set(), strip=False)


def sanitize_without_title(text: str) -> str:
    """Links keep ``href`` only."""

    def href_only(tag: str, name: str, value: str) -> bool:
        return name == "href" and sanitize.absolute_link(html.unescape(value))

    return bleach.clean(text, tags=TAGS, attributes={"a": href_only}, protocols=PROTOCOLS,
                        strip=True)


def sanitize_escapes_disallowed(text: str) -> str:
    """``strip=False``: a disallowed tag is shown as text instead of removed."""
    return bleach.clean(text, tags=TAGS, attributes={"a": sanitize.link_attributes},
                        protocols=PROTOCOLS, strip=False)


def sanitize_global_attributes(text: str) -> str:
    """id, class, name and title allowed on every tag ("*"), as many examples do."""
    return bleach.clean(text, tags=TAGS, protocols=PROTOCOLS, strip=True,
                        attributes={"*": ["id", "class", "name", "title"],
                                    "a": sanitize.link_attributes})


def sanitize_with_images(text: str) -> str:
    """Images allowed too, "because users like them"."""
    return bleach.clean(text, tags=TAGS | {"img"}, protocols=PROTOCOLS, strip=True,
                        attributes={"a": sanitize.link_attributes, "img": ["src", "alt"]})


def sanitize_bleach_defaults(text: str) -> str:
    """No list of schemes: bleach's default also allows http."""
    return bleach.clean(text, tags=TAGS, attributes={"a": ["href", "title"]}, strip=True)


def sanitize_allows_http(text: str) -> str:
    """Absolute links only, but plain http among them."""

    def links(tag: str, name: str, value: str) -> bool:
        if name == "href":
            return sanitize.url_scheme(html.unescape(value)) in {"http", "https", "mailto"}
        return name == "title"

    return bleach.clean(text, tags=TAGS, attributes={"a": links}, strip=True,
                        protocols={"http", "https", "mailto"})


def sanitize_blocks_double_slash(text: str) -> str:
    """A block-list of "//": backslashes and character references get past it."""

    def links(tag: str, name: str, value: str) -> bool:
        return name == "title" or (name == "href" and not value.strip().startswith("//"))

    return bleach.clean(text, tags=TAGS, attributes={"a": links}, protocols=PROTOCOLS, strip=True)


def sanitize_then_unescape(text: str) -> str:
    """Cleaned, then "made readable" by decoding the character references it escaped."""
    return html.unescape(sanitize.sanitize_comment(text))


# -- page_parameters ---------------------------------------------------------------------------


def page_default_100() -> Callable[..., Page]:
    def page(limit: Annotated[int, Query(ge=1, le=100)] = 100,
             before: Annotated[int | None, Query(ge=1)] = None) -> Page:
        return Page(limit, before)

    return page


def page_without_bounds() -> Callable[..., Page]:
    def page(limit: int = 20, before: int | None = None) -> Page:
        return Page(limit, before)

    return page


def page_clamped() -> Callable[..., Page]:
    """The maximum enforced by clamping, and negative numbers forgotten: SQLite reads
    ``LIMIT -1`` as no limit at all."""

    def page(limit: int = 20, before: int | None = None) -> Page:
        return Page(min(limit, 100), before)

    return page


def page_from_zero() -> Callable[..., Page]:
    """``ge=0``: an empty page for limit=0 instead of a 422."""

    def page(limit: Annotated[int, Query(ge=0, le=100)] = 20,
             before: Annotated[int | None, Query(ge=1)] = None) -> Page:
        return Page(limit, before)

    return page


def page_without_cursor() -> Callable[..., Page]:
    """Bounded, but always the first page."""

    def page(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> Page:
        return Page(limit)

    return page


def page_checked_by_hand() -> Callable[..., Page]:
    """Enforced in the body: the OpenAPI schema never learns the bounds."""

    def page(limit: int = 20, before: int | None = None) -> Page:
        if not 1 <= limit <= 100:
            raise HTTPException(422, "limit must be 1 to 100")
        return Page(limit, before)

    return page


# -- quota_wait --------------------------------------------------------------------------------


def quota_one_early(times: Sequence[int], now: int, quota: int, window: int) -> int:
    if len(times) >= quota - 1:
        return max(1, times[0] + window - now) if times else window
    return 0


def quota_one_late(times: Sequence[int], now: int, quota: int, window: int) -> int:
    if len(times) > quota:
        return max(1, times[-quota] + window - now)
    return 0


def quota_from_oldest(times: Sequence[int], now: int, quota: int, window: int) -> int:
    """Waits for the oldest comment of all, which is not always the one that matters."""
    if len(times) < quota:
        return 0
    return max(1, times[0] + window - now)


def quota_whole_window(times: Sequence[int], now: int, quota: int, window: int) -> int:
    """Always the whole window: simple, and not when posting is allowed again."""
    return window if len(times) >= quota else 0


# -- limited_receive ---------------------------------------------------------------------------


def limit_off_by_one(receive: Receive, max_bytes: int) -> Receive:
    """``>=``: a body of exactly the limit is refused."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received >= max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    return counted


def trust_content_length(receive: Receive, max_bytes: int) -> Receive:
    return receive  # "the middleware already checks Content-Length"


def read_all_then_count(receive: Receive, max_bytes: int) -> Receive:
    buffered: list[Message] = []

    async def counted() -> Message:
        if not buffered:
            while True:  # reads the whole body into memory before deciding
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            if sum(len(m.get("body", b"")) for m in buffered) > max_bytes:
                raise BodyTooLarge(max_bytes)
        return buffered.pop(0)

    return counted


def count_each_chunk(receive: Receive, max_bytes: int) -> Receive:
    """Compares each chunk with the limit, not the running total."""

    async def counted() -> Message:
        message = await receive()
        if len(message.get("body", b"")) > max_bytes:
            raise BodyTooLarge(max_bytes)
        return message

    return counted


def raise_value_error(receive: Receive, max_bytes: int) -> Receive:
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > max_bytes:
            raise ValueError("too big")
        return message

    return counted


def assumes_a_body(receive: Receive, max_bytes: int) -> Receive:
    """Every message taken for a body chunk: ``http.disconnect`` has no ``body``."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        received += len(message["body"])
        if received > max_bytes:
            raise BodyTooLarge(max_bytes)
        return message

    return counted
