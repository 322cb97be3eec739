"""The Notes service's own routes: health, users, notes, comments and the admin area.

Each router is built by a small function of the ``Service`` (settings, store, hasher, seams),
so a route calls a seam without knowing which lesson filled it, and asks for its caller with
``Security(service.caller, scopes=[...])`` without knowing how callers prove who they are.

``LAYER`` is lesson 00's declaration: every route of the domain, an admin area that no check
guards at all (lesson 01 replaces it with ``admin_router``, which asks for the
``users:admin`` scope), and the interactive docs (``lessons.docs_page``). Routes of the lessons
themselves (``/basic``, ``/auth``, ``/session``) live with their lessons.

(No ``from __future__ import annotations`` here: FastAPI reads the annotations of routes
defined inside functions, and postponed annotations could not see the local names.)
"""

from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    HTTPException,
    Query,
    Request,
    Response,
    Security,
    status,
)

from lessons.access import NOTES_READ, NOTES_WRITE, USERS_ADMIN
from lessons.comment_limits import Page
from lessons.context import Service
from lessons.docs_page import docs_router
from lessons.identity import Caller
from lessons.passwords import off_the_event_loop
from lessons.schemas import CommentOut, Health, NoteOut, UserOut
from lessons.store import DuplicateUser, OverQuota
from lessons.wiring import LessonLayer

NOT_FOUND = "Not found"


def health_router(service: Service) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/health")
    async def health() -> Health:
        return Health()

    return router


def users_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/users", tags=["users"])
    store, hasher = service.store, service.hasher
    UserCreate = service.layers.user_model
    Me = Annotated[Caller, Security(service.caller)]

    @router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
    async def register(request: Request, body: UserCreate) -> UserOut:  # type: ignore[valid-type]
        # Lesson 10: each attempt says whether a name is taken, and costs a hash: limited per
        # client (the open service: not at all).
        await service.layers.guard_registration(service, request)
        fields = body.model_dump()
        password_hash = await off_the_event_loop(hasher.hash, fields["password"])
        try:
            user = store.add_user(fields["username"], password_hash,
                                  role=fields.get("role", "user"), email=fields.get("email"))
        except DuplicateUser:
            raise HTTPException(status.HTTP_409_CONFLICT, "That username is taken.") from None
        return UserOut.of(user)

    @router.get("/me")
    async def me(who: Me) -> UserOut:  # no I/O of its own: a thread hop would cost more
        return UserOut.of(who.user)

    return router


def _admin_routes(service: Service, router: APIRouter) -> APIRouter:
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


def open_admin_router(service: Service) -> APIRouter:
    """VULNERABLE, lesson 00: user administration that checks nothing at all (OWASP API5:2023
    broken function level authorization)."""
    return _admin_routes(service, APIRouter(prefix="/admin", tags=["admin"]))


def admin_router(service: Service) -> APIRouter:
    """User administration, for callers whose token carries the ``users:admin`` scope."""
    guard = [Security(service.caller, scopes=[USERS_ADMIN])]
    return _admin_routes(service, APIRouter(prefix="/admin", tags=["admin"], dependencies=guard))


def notes_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/notes", tags=["notes"])
    store, layers = service.store, service.layers
    Reader = Annotated[Caller, Security(service.caller, scopes=[NOTES_READ])]
    Writer = Annotated[Caller, Security(service.caller, scopes=[NOTES_WRITE])]
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


def comments_router(service: Service) -> APIRouter:
    router = APIRouter(prefix="/comments", tags=["comments"])
    store, layers, settings = service.store, service.layers, service.settings
    Writer = Annotated[Caller, Security(service.caller, scopes=[NOTES_WRITE])]
    CommentIn = layers.comment_model  # lesson 07: length, no unknown fields
    # Lesson 07: one bounded page per answer (the open service answers every comment at once).
    PageAsked = Annotated[Page, Depends(layers.comment_page)]

    @router.post("", status_code=status.HTTP_201_CREATED, responses={429: {
        "description": "The author has posted their quota of comments for now.",
        "headers": {"Retry-After": {"description": "Seconds until the next comment is allowed.",
                                    "schema": {"type": "integer"}}}}})
    def post_comment(comment: CommentIn, who: Writer) -> CommentOut:  # type: ignore[valid-type]
        # Sanitized on the way in (lesson 07), so no reader of GET /comments ever gets markup
        # that can run script, whatever page or app displays it.
        body = layers.sanitize_html(comment.body)
        quota, window = settings.comment_quota, settings.comment_quota_seconds
        try:
            saved = store.add_comment_within(
                who.user.username, body, window,
                lambda times, now: layers.quota_wait(times, now, quota, window))
        except OverQuota as over:
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                f"At most {quota} comments per {window} seconds; try again later.",
                headers={"Retry-After": str(over.retry_after)},
            ) from None
        return CommentOut.of(saved)

    @router.get("", responses={200: {"headers": {"Link": {
        "description": 'The next page, when this one is full: <...>; rel="next" (RFC 8288).',
        "schema": {"type": "string"}}}}})
    def list_comments(page: PageAsked, response: Response) -> list[CommentOut]:
        """The comments, newest first, one page at a time."""
        comments = store.list_comments(page.limit, page.before)
        if comments and len(comments) == page.limit:
            # A relative link: never a host taken from the request (lesson 04).
            response.headers["Link"] = (f"</comments?limit={page.limit}&before="
                                        f'{comments[-1].id}>; rel="next"')
        return [CommentOut.of(comment) for comment in comments]

    return router


LAYER = LessonLayer(routers={
    "health": health_router,
    "users": users_router,
    "admin": open_admin_router,
    "notes": notes_router,
    "comments": comments_router,
    # The interactive docs, served with every file they need (no CDN); off in production.
    "docs": docs_router,
})
