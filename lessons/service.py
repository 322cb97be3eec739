"""The Notes service: its routes, and ``create_app``, which assembles them with the layers of
lessons 1..N.

Routes are built by small factory functions that receive the ``Service`` (settings, store,
hasher, layers), so each route calls a seam without knowing which lesson filled it.
(No ``from __future__ import annotations`` here: FastAPI reads the annotations of routes
defined inside functions, and postponed annotations could not see the local names.)
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Response, Security, status
from fastapi.security import OAuth2PasswordRequestForm, SecurityScopes

from lessons import basic_auth, errors, logs, sessions, tls, tokens
from lessons.access import NOTES_READ, NOTES_WRITE, USERS_ADMIN
from lessons.catalog import lesson_number
from lessons.context import Service
from lessons.identity import Caller, IdentityDependency, unauthorized
from lessons.layers import Layers
from lessons.passwords import PlainTextPasswords, off_the_event_loop, upgrade_plaintext_passwords
from lessons.schemas import (
    CommentOut,
    Health,
    NoteOut,
    TokenOut,
    UserOut,
    WhoAmI,
)
from lessons.settings import Settings
from lessons.store import DuplicateUser, Store

NOT_FOUND = "Not found"


def create_app(upto: int | str = "final", settings: Settings | None = None,
               **overrides: Any) -> FastAPI:
    """The Notes service with the reference layers of lessons 1..``upto``.

    ``overrides`` fill single seams with other implementations, e.g. a learner's
    ``decode_token``; every other seam keeps its reference (see ``lessons.layers``).
    """
    level = lesson_number(upto)
    settings = settings or Settings.from_env()
    layers = Layers.upto(level).replace(**overrides)
    store = Store(settings.database)
    hasher = layers.make_hasher(settings)
    service = Service(settings=settings, store=store, hasher=hasher, layers=layers)
    if not isinstance(hasher, PlainTextPasswords):
        upgrade_plaintext_passwords(store, hasher)
        basic_auth.dummy_hash_for(hasher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()

    app = FastAPI(
        title="Notes service",
        summary=f"The workbook's service as it stands after lesson {level:02d}.",
        version=f"lesson-{level:02d}",
        # Production turns the interactive docs off: they map the whole attack surface.
        docs_url=None if settings.production else "/docs",
        redoc_url=None,
        openapi_url=None if settings.production else "/openapi.json",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.lesson = level

    identity = layers.identity(service)
    caller = authorized(identity, layers.check_scopes)
    app.include_router(health_router())
    app.include_router(users_router(service, caller))
    app.include_router(admin_router(service, caller if level >= 1 else None))
    app.include_router(notes_router(service, caller))
    app.include_router(comments_router(service, caller))
    if level >= 1:
        app.include_router(basic_router(basic_auth.basic_identity(service)))
    if level >= 2:
        app.include_router(auth_router(service, caller))
    if level >= 4:
        # Lesson 04: HSTS on HTTPS responses; X-Forwarded-* believed from known proxies only.
        tls.protect(app, settings.trusted_proxies)
    if level >= 6:
        app.include_router(sessions.router(service))
    if layers.body_limit is not None:
        # Lesson 07: 413 for bodies over settings.max_body_bytes, before they are read whole.
        # Added last so that it runs first, in front of every other middleware and route.
        app.add_middleware(layers.body_limit, max_bytes=settings.max_body_bytes)
    if level >= 8:
        # Lesson 08: request ids, JSON access and audit logs, answers that keep 4xx meaning
        # and hide every 5xx's details. Added after the body limit, so that it runs outside it
        # (a 413 gets an id and a log line too) and catches whatever the layers inside raise.
        errors.install(app, service)
    return app


def app_from_env() -> FastAPI:
    """Factory for plain uvicorn: ``LESSONS_LESSON=3 uvicorn lessons.service:app_from_env
    --factory``. ``python -m lessons serve`` uses it too, so every worker builds the same app."""
    return create_app(os.environ.get("LESSONS_LESSON", "final"))


def authorized(identity: IdentityDependency,
               check_scopes: Any) -> IdentityDependency:
    """Wrap the identity dependency with the scope check, for use as ``Security(caller,
    scopes=[...])``: FastAPI collects the scopes a route declares into ``SecurityScopes``."""

    async def caller(security_scopes: SecurityScopes,
                     who: Annotated[Caller, Depends(identity)]) -> Caller:
        logs.note_user(who.user.username)  # lesson 08: the access log names the caller
        check_scopes(who.scopes, security_scopes.scopes)
        return who

    return caller


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    def health() -> Health:
        return Health()

    return router


def users_router(service: Service, caller: IdentityDependency) -> APIRouter:
    router = APIRouter(prefix="/users", tags=["users"])
    store, hasher = service.store, service.hasher
    UserCreate = service.layers.user_model
    Me = Annotated[Caller, Security(caller)]

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    async def register(body: UserCreate) -> UserOut:  # type: ignore[valid-type]
        fields = body.model_dump()
        password_hash = await off_the_event_loop(hasher.hash, fields["password"])
        try:
            user = store.add_user(fields["username"], password_hash,
                                  role=fields.get("role", "user"), email=fields.get("email"))
        except DuplicateUser:
            raise HTTPException(status.HTTP_409_CONFLICT, "That username is taken.") from None
        return UserOut.of(user)

    @router.get("/me")
    def me(who: Me) -> UserOut:
        return UserOut.of(who.user)

    return router


def admin_router(service: Service, caller: IdentityDependency | None) -> APIRouter:
    """User administration. In lesson 00 ``caller`` is None: no check at all guards it."""
    guard = [Security(caller, scopes=[USERS_ADMIN])] if caller else []
    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=guard)
    store = service.store

    @router.get("/users")
    def list_users() -> list[UserOut]:
        return [UserOut.of(user) for user in store.list_users()]

    @router.delete("/users/{username}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_user(username: str) -> Response:
        if not store.delete_user(username):
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def notes_router(service: Service, caller: IdentityDependency) -> APIRouter:
    router = APIRouter(prefix="/notes", tags=["notes"])
    store, layers = service.store, service.layers
    Reader = Annotated[Caller, Security(caller, scopes=[NOTES_READ])]
    Writer = Annotated[Caller, Security(caller, scopes=[NOTES_WRITE])]
    NoteIn = layers.note_model  # lesson 07: lengths, no unknown fields
    NoteId = layers.note_id  # lesson 08: bounded to what SQLite can store

    @router.post("", status_code=status.HTTP_201_CREATED)
    def create_note(note: NoteIn, who: Writer) -> NoteOut:  # type: ignore[valid-type]
        return NoteOut.of(store.add_note(who.user.username, note.title, note.body))

    @router.get("")
    def list_notes(who: Reader) -> list[NoteOut]:
        return [NoteOut.of(note) for note in store.list_notes(who.user.username)]

    # Declared before /{note_id}, which would otherwise take "search" for an id.
    @router.get("/search")
    def search_notes(who: Reader,
                     q: Annotated[str, Query(min_length=1, max_length=100)]) -> list[NoteOut]:
        return [NoteOut.of(note) for note in layers.search_notes(store, who.user.username, q)]

    @router.get("/{note_id}")
    def read_note(note_id: NoteId, who: Reader) -> NoteOut:  # type: ignore[valid-type]
        note = layers.find_note(store, who.user.username, note_id)
        if note is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        return NoteOut.of(note)

    @router.delete("/{note_id}", status_code=status.HTTP_204_NO_CONTENT)
    def delete_note(note_id: NoteId, who: Writer) -> Response:  # type: ignore[valid-type]
        note = layers.find_note(store, who.user.username, note_id)
        if note is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, NOT_FOUND)
        store.delete_note(note.id)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router


def comments_router(service: Service, caller: IdentityDependency) -> APIRouter:
    router = APIRouter(prefix="/comments", tags=["comments"])
    store, layers = service.store, service.layers
    Writer = Annotated[Caller, Security(caller, scopes=[NOTES_WRITE])]
    CommentIn = layers.comment_model  # lesson 07: length, no unknown fields

    @router.post("", status_code=status.HTTP_201_CREATED)
    def post_comment(comment: CommentIn, who: Writer) -> CommentOut:  # type: ignore[valid-type]
        # Sanitized on the way in (lesson 07), so no reader of GET /comments ever gets markup
        # that can run script, whatever page or app displays it.
        body = layers.sanitize_html(comment.body)
        return CommentOut.of(store.add_comment(who.user.username, body))

    @router.get("")
    def list_comments() -> list[CommentOut]:
        return [CommentOut.of(comment) for comment in store.list_comments()]

    return router


def basic_router(identity: IdentityDependency) -> APIRouter:
    router = APIRouter(prefix="/basic", tags=["lesson 01: HTTP Basic"])

    @router.get("/me")
    def basic_me(who: Annotated[Caller, Depends(identity)]) -> WhoAmI:
        logs.note_user(who.user.username)  # lesson 08: the access log names the caller
        return WhoAmI(username=who.user.username, role=who.user.role)

    return router


def auth_router(service: Service, caller: IdentityDependency) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["lesson 02: tokens"])
    layers, settings = service.layers, service.settings

    @router.post("/token")
    async def login_for_token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenOut:
        user = await off_the_event_loop(layers.authenticate, service.store, service.hasher,
                                        form.username, form.password)
        if user is None:
            # Lesson 08: an audit event names the attempted account, never the password.
            layers.audit("login.failure", user=form.username, method="token")
            raise unauthorized("Incorrect username or password", tokens.CHALLENGE)
        layers.audit("login.success", user=user.username, method="token")
        scopes = layers.grant_scopes(user.role, form.scopes)
        return TokenOut(
            access_token=layers.issue_token(settings, user.username, scopes),
            expires_in=settings.token_minutes * 60,
            scope=" ".join(sorted(scopes)),
        )

    @router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
    def logout(who: Annotated[Caller, Security(caller)]) -> Response:
        if who.claims:
            tokens.revoke(service, who.claims)
        service.layers.audit("logout", user=who.user.username, method=who.method)
        response = Response(status_code=status.HTTP_204_NO_CONTENT)
        if who.session is not None:  # lesson 06: a session cookie's caller ends that session
            sessions.end(service, response, who.session)
        return response

    return router
