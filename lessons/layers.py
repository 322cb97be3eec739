"""The seams of the Notes service, and ``assemble``, which folds the lessons' declarations.

A seam is one small, typed function (or model) that the routes call without knowing which
lesson provided it. ``Layers`` lists every seam with its default: the open service of lesson
00, deliberately vulnerable. Each lesson's reference module declares what it adds in a
``LessonLayer`` (``lessons.wiring``): the seams it fills, its routers, its middleware, its
exception handlers, its start-up work and what ``serve`` needs. ``assemble(n)`` applies the
declarations of lessons 0..n in course order, so a lesson builds on the reference of every
earlier one, never on a learner's earlier answers.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp

from lessons import (
    access,
    basic_auth,
    catalog,
    comment_limits,
    cors,
    errors,
    headers,
    logs,
    passwords,
    sanitize,
    schemas,
    sessions,
    tokens,
)
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, claimed_identity
from lessons.passwords import PasswordHasher
from lessons.ratelimit import guard as ratelimit_guard
from lessons.ratelimit import shared
from lessons.ratelimit.shared import SharedState
from lessons.settings import Settings
from lessons.store import Note, Session, Store, User
from lessons.tls import hosts
from lessons.wiring import (
    STACK,
    LessonLayer,
    MiddlewareFactory,
    RouterFactory,
    ServeOptions,
    Slot,
    Startup,
)


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
    # 02: bearer tokens. token_subject is what a token's sub names (the open default, the
    # username, can be deleted and registered again by someone else; lesson 02's is the id).
    token_subject: Callable[[User], str] = tokens.username_subject
    issue_token: Callable[[Settings, str, Iterable[str]], str] = tokens.issue_token_naive
    decode_token: Callable[[Settings, str], dict[str, Any]] = tokens.decode_token_naive
    # 02, 06: what POST /auth/logout ends (the token; from lesson 06 also a cookie's session)
    logout: Callable[[Service, Caller, Response], None] = tokens.logout
    # 03: authorization
    grant_scopes: Callable[[str, Iterable[str]], frozenset[str]] = access.grant_requested
    check_scopes: Callable[[str, frozenset[str], Sequence[str]], None] = access.allow_any
    find_note: Callable[[Store, str, int], Note | None] = access.any_note
    user_model: type[BaseModel] = schemas.UserRecord
    # 02, 07: the body of POST /users/me/password (any new password until lesson 07's policy)
    password_change_model: type[BaseModel] = schemas.PasswordChange
    # 07: what else makes a new password guessable for this account (the username, the e-mail
    # name, the service's name, a trivial pattern); the open service finds nothing
    password_problems: Callable[..., list[str]] = schemas.no_password_problems
    # 04: which Host header values the service answers for (the allowed_hosts middleware);
    # the default is the open service's: any host at all.
    host_allowed: hosts.HostCheck = hosts.any_host
    # 06: cookie sessions. No route uses them before lesson 06; the defaults are the
    # vulnerable client-held design that lesson 06 attacks first.
    new_session: Callable[[Settings], tuple[str, str]] = sessions.new_session_predictable
    session_valid: Callable[[Session, int, Settings], bool] = sessions.valid_forever
    csrf_ok: Callable[[str, str | None, str | None], bool] = sessions.csrf_unchecked
    origin_ok: Callable[[str | None, str | None, Collection[str]], bool] = (
        sessions.origin_unchecked
    )
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
    # A FastAPI dependency reading which page of comments GET /comments answers (the open
    # service: every comment at once), and the seconds an author must wait before posting
    # another comment, given the times of their recent ones (the open service: never).
    comment_page: Callable[..., comment_limits.Page] = comment_limits.every_comment
    quota_wait: Callable[[Sequence[int], int, int, int], int] = comment_limits.never_wait
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
    # 09: the security headers of every answer (the CSP for a path; the others for a method,
    # path, status and whether the caller was authenticated) and the CORS decisions. The
    # defaults are lesson 08's: no headers, and no other origin may read an answer.
    content_security_policy: Callable[[str], str] = headers.no_policy
    security_headers: Callable[[str, str, int, bool], dict[str, str]] = (
        headers.no_security_headers)
    cors_headers: Callable[[str | None, Collection[str]], dict[str, str]] = cors.no_cors_headers
    preflight_headers: Callable[[str, str, str, Collection[str]], dict[str, str] | None] = (
        cors.no_preflight)
    # 10: what stands between a client and a password check, and a registration (the open
    # service: nothing, every guess is checked as fast as it comes); whose attempts count
    # together; whether a hash gets a place in the worker's hashing queue (the open service:
    # every hash waits in line, however long); where the state every worker shares lives.
    guard_login: Callable[..., Awaitable[User | None]] = ratelimit_guard.unguarded_login
    guard_registration: Callable[..., Awaitable[None]] = ratelimit_guard.unguarded_registration
    client_key: Callable[[str], str] = ratelimit_guard.address_as_is
    hashing_place: Callable[..., AbstractContextManager[None]] = passwords.any_place
    shared_state: Callable[[Service], SharedState] = shared.in_the_database

    @classmethod
    def upto(cls, lesson: int) -> Layers:
        """The seams after lessons 0..``lesson``, each filled by the latest lesson that did."""
        return assemble(lesson).layers

    def replace(self, **seams: Any) -> Layers:
        """These layers with some seams filled by other implementations (a learner's)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(seams) - known)
        if unknown:
            raise TypeError(
                f"No seam called {', '.join(unknown)}. The seams are: {', '.join(sorted(known))}."
            )
        return dataclasses.replace(self, **seams)


# -- folding the declarations --------------------------------------------------------------------

YOURS = -1  # the origin of a seam filled by an override (a learner's answer), not by a lesson


def declaration(lesson: catalog.Lesson) -> LessonLayer | None:
    """The ``LAYER`` that lesson's module declares, or None for a lesson that changes nothing in
    the service (05 is about the supply chain)."""
    if lesson.layer is None:
        return None
    module = importlib.import_module(lesson.layer)
    layer = getattr(module, "LAYER", None)
    if not isinstance(layer, LessonLayer):
        raise TypeError(f"{lesson.layer}.LAYER should be a lessons.wiring.LessonLayer.")
    return layer


@dataclass(frozen=True)
class Assembly:
    """The service after lessons 0..``lesson``: the seams, and every router, middleware,
    handler, start-up task and serve option, each with the lesson that put it there."""

    lesson: int
    layers: Layers
    routers: dict[str, RouterFactory]
    middleware: dict[str, MiddlewareFactory]
    handlers: dict[type[Exception] | int, Callable[..., Any]]
    startup: dict[str, Startup]
    serve: dict[str, ServeOptions]
    # ("seam", name) -> the lesson that filled it (YOURS for an override); the same for
    # ("router", name), ("middleware", slot) and the other parts.
    origin: dict[tuple[str, str], int] = field(default_factory=dict)

    @property
    def stack(self) -> list[tuple[Slot, MiddlewareFactory]]:
        """The middleware in place, outermost first, in the order of ``lessons.wiring.STACK``."""
        return [(slot, self.middleware[slot.name]) for slot in STACK
                if slot.name in self.middleware]

    def uvicorn_options(self, settings: Settings) -> dict[str, Any]:
        options: dict[str, Any] = {}
        for make in self.serve.values():
            options.update(make(settings))
        return options


def assemble(upto: int, **overrides: Any) -> Assembly:
    """Fold the declarations of lessons 0..``upto``; ``overrides`` then fill single seams."""
    seams: dict[str, Any] = {}
    parts: dict[str, dict[Any, Any]] = {name: {} for name in
                                        ("routers", "middleware", "handlers", "startup", "serve")}
    origin: dict[tuple[str, str], int] = {}
    for lesson in catalog.LESSONS[: upto + 1]:
        layer = declaration(lesson)
        if layer is None:
            continue
        seams.update(layer.seams)
        origin.update({("seam", name): lesson.number for name in layer.seams})
        for part, found in parts.items():
            declared = getattr(layer, part)
            found.update(declared)
            origin.update({(part.rstrip("s"), _label(key)): lesson.number for key in declared})
    layers = Layers().replace(**seams).replace(**overrides)
    origin.update({("seam", name): YOURS for name in overrides})
    return Assembly(lesson=upto, layers=layers, origin=origin, **parts)


def _label(key: object) -> str:
    return key.__name__ if isinstance(key, type) else str(key)
