"""Lesson 08, reference layer (errors half): request ids, error answers that keep 4xx meaning
and hide every 5xx's details, and the middleware that catches what nobody handled.

What the layer guarantees (OWASP ASVS 5.0 V16 and 13.4.2, API8:2023):

- a 4xx keeps its status, its headers (``WWW-Authenticate`` above all) and its ``detail``: the
  client caused it and must be able to act on it;
- a write that the database refuses because its account was deleted while the request was on
  its way (``store.UnknownUser``, a foreign-key violation) is a 401, the answer the same request
  gets a moment later: a constraint violation is a fact about the request, never a 500;
- every 5xx is ``{"detail": "Internal Server Error", "request_id": "..."}``: no exception
  text, stack trace, SQL or path reaches the client (ASVS 16.5.1), even with ``debug=True``
  (ASVS 13.4.2), and the operator finds the whole story in the logs under that id;
- a 422 names the field, the kind of error and the message, never the submitted value: the
  framework's default answer echoes the input, a password included;
- every response carries ``X-Request-ID``, a fresh random id made by the service. A client's
  own ``X-Request-ID`` is never used as ours (it could collide with another request's on
  purpose, or carry anything); when it is well formed it is logged as ``client_request_id``;
- one JSON access-log line per request: id, method, path (never the query string, where
  clients put tokens), status, duration, user and client address;
- 401 and 403 answers are audit events (``access.denied``).

Why a middleware answers the 500 itself: Starlette's ``ServerErrorMiddleware``, which runs the
handler registered for ``Exception``, is the *outermost* layer of every app, outside all user
middleware. Its 500 never passes through them, so it would carry no request id (and, from
lesson 09 on, no security headers). ``RequestLog`` sits inside it and catches the exception
first, while the response has not started, and answers like any other response.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import Path, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.utils import is_body_allowed_for_status_code
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lessons import logs
from lessons.context import Service
from lessons.identity import unauthorized
from lessons.settings import Settings
from lessons.store import SQLITE_MAX_INTEGER, UnknownUser
from lessons.wiring import LessonLayer

REQUEST_ID_HEADER = "X-Request-ID"
GENERIC_DETAIL = "Internal Server Error"
# A client's own request id is recorded only if it looks like an id: letters, digits and
# hyphens (a UUID fits), 8 to 64 of them. Anything else is dropped, not cleaned up.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{8,64}")
# What a 422 may say about each error: where, what kind, and the message. Not ``input`` (the
# submitted value, or the whole body), not ``ctx`` (internals such as exception objects).
PUBLIC_ERROR_FIELDS = ("type", "loc", "msg")
# The 401 of a request whose account was deleted while it was on its way.
ACCOUNT_GONE = "The account this request was made for no longer exists."

# SQLite stores integers in 64 bits: a larger note id made the lesson-07 service answer 500
# (OverflowError inside the database driver). Bounded, it is a 422 like any invalid input.
NoteId = Annotated[int, Path(ge=1, le=SQLITE_MAX_INTEGER, description="The note's id.")]

ErrorResponse = Any  # Callable[[str, Exception], Response]
PublicErrors = Any  # Callable[[Sequence[Mapping[str, Any]]], list[dict[str, Any]]]


def new_request_id() -> str:
    """128 random bits as 32 hex digits: unique without coordination between workers, and
    says nothing about the service (no counter, no clock, no host)."""
    return secrets.token_hex(16)


# -- the two answers: errors in general, and validation errors -----------------------------------


def error_response(request_id: str, error: Exception) -> Response:
    """The answer to ``error``: an ``HTTPException`` below 500 as it is, a write whose account
    is gone as a 401, anything else generic.

    Starlette's own ``HTTPException`` is the one to test for: FastAPI's is a subclass of it,
    and the router raises Starlette's for 404 and 405."""
    if isinstance(error, UnknownUser):
        # The account was deleted between the request's authentication and its write, and the
        # foreign key refused the row. The credentials stopped being valid: the same request a
        # moment later gets this 401. Not the service failing, so no 500 (which would tell the
        # client to try again, and page the operator for nothing).
        error = unauthorized(ACCOUNT_GONE, "Bearer")
    if isinstance(error, HTTPException) and error.status_code < 500:
        # The client's mistake: keep the status, the headers (WWW-Authenticate tells the
        # client how to authenticate) and the detail, which says what to change.
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    # Ours: the status, and nothing else but the id that finds the story in the logs.
    status = error.status_code if isinstance(error, HTTPException) else 500
    return JSONResponse({"detail": GENERIC_DETAIL, "request_id": request_id},
                        status_code=status)


def public_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The validation errors a client may see: ``type``, ``loc`` and ``msg`` of each.

    ``input`` goes for every field, not only the ones named like secrets: the input of a
    "missing field" error is the whole body, password included."""
    return [{key: error[key] for key in PUBLIC_ERROR_FIELDS if key in error} for error in errors]


def generic_500(request_id: str) -> Response:
    """The last resort, when even the error answer failed."""
    return JSONResponse({"detail": GENERIC_DETAIL, "request_id": request_id}, status_code=500)


# -- vulnerable variants, for the attacks and the errata -----------------------------------------


def error_details(request_id: str, error: Exception) -> Response:
    """VULNERABLE, the catch-all handler many tutorials show: the exception's type and message
    go back to the client. For an unexpected error that is the database driver's message, the
    SQL, a file path: a map of the service's insides (ASVS 16.5.1)."""
    if isinstance(error, HTTPException):
        return JSONResponse({"detail": error.detail}, status_code=error.status_code,
                            headers=error.headers)
    return JSONResponse({"detail": f"{type(error).__name__}: {error}"}, status_code=500)


def all_error_fields(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """VULNERABLE, FastAPI's default 422 body: every error as pydantic reports it, including
    ``input``, the value the client sent: a password that was too short, or the whole body
    when a field was missing."""
    return list(jsonable_encoder(list(errors)))


def one_message_for_all(request_id: str, error: Exception) -> Response:
    """VULNERABLE (errata): every error, 4xx included, becomes one status and one message.

    Nothing leaks, but nothing works: a 401 loses its ``WWW-Authenticate`` challenge, and a
    client can no longer tell "log in again" (401) from "not allowed" (403) from "no such
    note" (404), or its own mistake from the service's."""
    return JSONResponse({"detail": "An error occurred."}, status_code=500)


# -- the exception handlers ----------------------------------------------------------------------


def _request_id() -> str:
    context = logs.current_request()
    return context.request_id if context else new_request_id()


async def http_exception_handler(request: Request, error: Exception) -> Response:
    """Every ``HTTPException`` (FastAPI's, Starlette's 404/405, lesson 07's 413): a 401 or 403
    is an audit event; the answer comes from the ``error_response`` seam."""
    assert isinstance(error, HTTPException)
    service: Service = request.app.state.service
    context = logs.current_request()
    if error.status_code in (401, 403) and not (context and context.audited):
        # Who was refused, if the identity dependency got as far as knowing (a 403).
        user = getattr(request.state, "username", None) or (context.user if context else None)
        service.layers.audit("access.denied", user=user,
                             status=error.status_code, method=request.method,
                             path=request.url.path, detail=str(error.detail))
    if not is_body_allowed_for_status_code(error.status_code):
        return Response(status_code=error.status_code, headers=error.headers)
    return service.layers.error_response(_request_id(), error)


async def account_gone_handler(request: Request, error: Exception) -> Response:
    """``store.UnknownUser``, a write refused because its account was deleted meanwhile: an
    expected race, not a bug. The answer comes from the ``error_response`` seam (a 401), and the
    refusal is an audit event, not an error with a traceback."""
    assert isinstance(error, UnknownUser)
    service: Service = request.app.state.service
    response = service.layers.error_response(_request_id(), error)
    if response.status_code in (401, 403):
        service.layers.audit("access.denied", user=error.username, status=response.status_code,
                             method=request.method, path=request.url.path,
                             detail="the account was deleted during the request")
    return response


async def validation_exception_handler(request: Request, error: Exception) -> Response:
    """422 with the errors the ``public_errors`` seam lets through."""
    assert isinstance(error, RequestValidationError)
    service: Service = request.app.state.service
    shown = service.layers.public_errors(error.errors())
    return JSONResponse({"detail": jsonable_encoder(shown)}, status_code=422)


# -- the middleware ------------------------------------------------------------------------------


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class RequestLog:
    """Pure ASGI middleware: a request id for every request, in the ``X-Request-ID`` response
    header and in every log line of the request; one access-log line per request; and the
    answer to any exception nothing else handled.

    ``error_response`` and ``log_field`` are the app's seams (the generic answer, the field
    neutraliser)."""

    def __init__(self, app: ASGIApp, error_response: ErrorResponse = error_response,
                 log_field: logs.LogField = logs.neutralise) -> None:
        self.app = app
        self.error_response = error_response
        self.log_field = log_field
        self.access = logging.getLogger(logs.ACCESS)
        self.errors = logging.getLogger(logs.ERRORS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        context = logs.RequestContext(request_id, clean=self.log_field)
        token = logs.enter_request(context)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("ascii"))
        began = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message).append(*(h.decode() for h in header))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            self.errors.error("Unhandled %s in %s %s", type(error).__name__, scope["method"],
                              self.log_field(scope["path"]), exc_info=error)
            if status:
                raise  # the answer has begun: too late to change it; the server closes it
            try:
                response = self.error_response(request_id, error)
            except Exception:  # a broken error answer must not leave the client hanging
                self.errors.exception("The error_response seam failed")
                response = generic_500(request_id)
            await response(scope, receive, send_with_id)
        finally:
            self._log(scope, context, status, time.perf_counter() - began)
            logs.leave_request(token)

    def _log(self, scope: Scope, context: logs.RequestContext, status: int,
             seconds: float) -> None:
        method, path = scope["method"], self.log_field(scope["path"])
        # Who called: noted on the request by the identity dependency, or by a login's audit.
        user = context.user or scope.get("state", {}).get("username")
        fields: dict[str, Any] = {
            "method": method, "path": path, "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "user": user,
            "client": scope["client"][0] if scope.get("client") else None,
        }
        claimed = _header(scope, b"x-request-id")
        if claimed and CLIENT_REQUEST_ID.fullmatch(claimed):
            fields["client_request_id"] = claimed
        level = logging.ERROR if status >= 500 or not status else logging.INFO
        self.access.log(level, "%s %s %s", method, path, status, extra=fields)


def request_log(app: ASGIApp, service: Service) -> ASGIApp:
    """The request-log slot: ``RequestLog`` with the app's ``error_response`` and
    ``log_field`` seams."""
    return RequestLog(app, error_response=service.layers.error_response,
                      log_field=service.layers.log_field)


def json_logging(settings: Settings) -> dict[str, Any]:
    """What ``serve`` needs from lesson 08: every log line, the service's and uvicorn's, is JSON
    on standard output (and in ``LESSONS_LOG_FILE`` in the data folder, if set), through the
    redaction filter. The access log is the service's own (with request ids, without query
    strings), so uvicorn's is off."""
    return {"log_config": logs.uvicorn_log_config(settings.data_dir, settings.log_file),
            "access_log": False}


# No handler is registered for ``Exception``: Starlette would run it in its outermost
# middleware, outside everything else (see the module's docstring); RequestLog answers those.
LAYER = LessonLayer(
    seams={
        "error_response": error_response,
        "public_errors": public_errors,
        "log_field": logs.neutralise,
        "audit": logs.audit,
        "note_id": NoteId,
    },
    middleware={"request_log": request_log},
    handlers={HTTPException: http_exception_handler,
              RequestValidationError: validation_exception_handler,
              UnknownUser: account_gone_handler},
    serve={"json_logging": json_logging},
)


# -- a naive request logger, for the attacks -----------------------------------------------------


class DebugRequestLog:
    """VULNERABLE: the "log every request while we debug" middleware that then stays.

    It writes the method, the path with its query string, every header and the body to the log,
    in plain text. That is every password sent to log in, every bearer token, every session
    cookie, and whatever a client typed into a path, newlines included."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("lessons.debug")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = bytearray()

        async def receive_and_keep() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body.extend(message.get("body", b""))
            return message

        try:
            await self.app(scope, receive_and_keep, send)
        finally:
            query = scope.get("query_string", b"").decode("latin-1")
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            self.log.info("%s %s%s headers=%s body=%s", scope["method"], scope["path"],
                          f"?{query}" if query else "", headers,
                          body.decode("utf-8", "replace"))
