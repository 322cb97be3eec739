"""The seams of the Notes service and what fills each of them after lesson N.

A seam is one small, typed function (or model) that the routes call without knowing which
lesson provided it. The open service of lesson 00 fills every seam with its deliberately
vulnerable stand-in; each lesson module declares, in its ``LAYER`` mapping, the reference
implementations it plugs in. ``Layers.upto(n)`` applies lessons 1..n in order, so a lesson
builds on the reference of every earlier one, never on a learner's earlier answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp

from lessons import (
    access,
    basic_auth,
    errors,
    logs,
    passwords,
    sanitize,
    schemas,
    sessions,
    tokens,
    validation,
)
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, claimed_identity
from lessons.passwords import PasswordHasher
from lessons.settings import Settings
from lessons.store import Note, Session, Store, User

# The lesson modules that provide reference layers, in course order. Lessons that change no
# seam of the app (04 HTTPS is served differently, 05 is about the supply chain) are absent.
LAYER_MODULES: dict[int, ModuleType] = {
    1: basic_auth,
    2: tokens,
    3: access,
    6: sessions,
    7: validation,
    8: errors,
}


def _identity_of_lesson_0(service: Service) -> IdentityDependency:
    return claimed_identity(service.store)


@dataclass(frozen=True)
class Layers:
    """One field per seam. Defaults are the open service of lesson 00."""

    # 01: how passwords are stored and checked
    make_hasher: Callable[[Settings], PasswordHasher] = passwords.plain_text
    authenticate: Callable[[Store, PasswordHasher, str, str], User | None] = (
        basic_auth.authenticate_naive
    )
    # 01, 02, 06: how the caller proves who they are (a factory of a FastAPI dependency)
    identity: Callable[[Service], IdentityDependency] = _identity_of_lesson_0
    # 02: bearer tokens
    issue_token: Callable[[Settings, str, Iterable[str]], str] = tokens.issue_token_naive
    decode_token: Callable[[Settings, str], dict[str, Any]] = tokens.decode_token_naive
    # 03: authorization
    grant_scopes: Callable[[str, Iterable[str]], frozenset[str]] = access.grant_requested
    check_scopes: Callable[[frozenset[str], Sequence[str]], None] = access.allow_any
    find_note: Callable[[Store, str, int], Note | None] = access.any_note
    user_model: type[BaseModel] = schemas.UserRecord
    # 06: cookie sessions. No route uses them before lesson 06; the defaults are the
    # vulnerable client-held design that lesson 06 attacks first.
    new_session: Callable[[Settings], tuple[str, str]] = sessions.new_session_predictable
    session_valid: Callable[[Session, int, Settings], bool] = sessions.valid_forever
    csrf_ok: Callable[[str, str | None, str | None], bool] = sessions.csrf_unchecked
    start_session: Callable[[Service, Response, User, str | None], str] = (
        sessions.start_client_held_session
    )
    session_caller: Callable[[Service, str], Caller] = sessions.caller_from_client_cookie
    end_session: Callable[[Service, Session], None] = sessions.keep_session
    # 07: input handling
    search_notes: Callable[[Store, str, str], list[Note]] = Store.search_notes_unsafe
    note_model: type[BaseModel] = schemas.NoteIn
    comment_model: type[BaseModel] = schemas.CommentIn
    sanitize_html: Callable[[str], str] = sanitize.keep_html
    # An ASGI middleware class (or factory) called as body_limit(app, max_bytes=...); None: no
    # limit at all, as in the open service.
    body_limit: Callable[..., ASGIApp] | None = None
    # 08: errors and logging, used from lesson 08 on (lessons.errors installs them). The
    # defaults are the naive variants: exception text in a 500, the input echoed in a 422,
    # client text logged as it is, no audit trail.
    error_response: Callable[[str, Exception], Response] = errors.error_details
    public_errors: Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any]]] = (
        errors.all_error_fields
    )
    log_field: Callable[[str], str] = logs.as_is
    audit: Callable[..., None] = logs.no_audit
    # The type of the note-id path parameter: a plain int until lesson 08 bounds it to what
    # SQLite can store (an unbounded id was a 500).
    note_id: Any = int

    @classmethod
    def upto(cls, lesson: int) -> Layers:
        """The reference layers of lessons 1..``lesson`` on top of the open service."""
        layers = cls()
        for number, module in sorted(LAYER_MODULES.items()):
            if number <= lesson:
                layers = dataclasses.replace(layers, **module.LAYER)
        return layers

    def replace(self, **seams: Any) -> Layers:
        """These layers with some seams filled by other implementations (a learner's)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(seams) - known)
        if unknown:
            raise TypeError(
                f"No seam called {', '.join(unknown)}. The seams are: {', '.join(sorted(known))}."
            )
        return dataclasses.replace(self, **seams)
