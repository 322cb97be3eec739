"""Lesson 07: a request-body size limit as pure ASGI middleware (OWASP API4:2023).

Without a limit, a framework reads a request body whole before validation can look at it:
a client that sends a few hundred megabytes makes the service hold them in memory, and a JSON
body of that size takes seconds of CPU to parse, however strict the model that rejects it
afterwards. The middleware sits in front of the app and answers 413 Content Too Large:

- at once, without calling the app, when ``Content-Length`` announces too many bytes;
- as soon as the bytes actually *received* pass the limit, whatever ``Content-Length`` said.
  A chunked request (``Transfer-Encoding: chunked``) has no ``Content-Length`` at all, so a
  limit that trusts the header alone is no limit.

The counting happens in a wrapper around the ASGI ``receive`` callable, which is how an app
pulls the body, one message (chunk) at a time: the wrapper sees every byte before the app
does, and stops the flow at the first byte too many, with the rest of the body still unread.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

TOO_LARGE = "Request body too large: the limit is {limit} bytes."


class BodyTooLarge(HTTPException):
    """Raised by the counting receive wrapper at the first byte past the limit.

    An ``HTTPException`` with status 413, so that FastAPI (which turns any other exception
    raised while it reads a body into a 400) passes it on, and its exception handler answers
    413 in the app's usual JSON shape. The middleware catches it too, for apps that do not."""

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=TOO_LARGE.format(limit=limit))


CountingReceive = Callable[[Receive, int], Receive]


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` that counts the body bytes passing through and raises ``BodyTooLarge`` as
    soon as more than ``max_bytes`` have arrived, before the app gets the offending chunk."""
    received = 0

    async def counted() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(max_bytes)
        return message

    return counted


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` the client announced, if any and if it is a number."""
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def send_too_large(send: Send, max_bytes: int) -> None:
    body = json.dumps({"detail": TOO_LARGE.format(limit=max_bytes)}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            # The rest of the body was never read: the connection cannot be
                            # reused for another request.
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Pure ASGI middleware: 413 for any request whose body is larger than ``max_bytes``.

    ``count`` is the receive wrapper that does the counting (``limited_receive`` by default;
    the lesson's exercise can be plugged in instead)."""

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024,
                 count: CountingReceive = limited_receive) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.count = count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        announced = declared_length(scope)
        if announced is not None and announced > self.max_bytes:
            # Cheapest case: refuse before a single body byte is read.
            await send_too_large(send, self.max_bytes)
            return
        started = False

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, self.count(receive, self.max_bytes), watched_send)
        except BodyTooLarge:
            if started:
                raise  # too late to change the answer; let the server close the connection
            await send_too_large(send, self.max_bytes)


# -- driving an ASGI app by hand, to see how much of a body it pulls ---------------------------


@dataclass
class Exchange:
    """What one hand-driven request did: the status the app sent, its body, and how many body
    chunks (and bytes) it pulled from the client before answering."""

    status: int | None = None
    body: bytes = b""
    chunks_pulled: int = 0
    bytes_pulled: int = 0
    chunks_offered: int = 0
    error: str = ""
    messages: list[Message] = field(default_factory=list)

    @property
    def read_whole_body(self) -> bool:
        return self.chunks_pulled >= self.chunks_offered


async def drive(app: ASGIApp, chunks: Iterable[bytes], *, method: str = "POST",
                path: str = "/notes", headers: Iterable[tuple[str, str]] = ()) -> Exchange:
    """Send one request to ``app`` in process, its body as separate ``http.request`` messages
    (exactly what a server hands an app for a chunked upload), and record how far the app read.
    After the body, ``receive`` answers ``http.disconnect``, as a server does."""
    chunk_list = list(chunks)
    exchange = Exchange(chunks_offered=len(chunk_list))
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80),
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "state": {},
    }

    async def receive() -> Message:
        if exchange.chunks_pulled < len(chunk_list):
            chunk = chunk_list[exchange.chunks_pulled]
            exchange.chunks_pulled += 1
            exchange.bytes_pulled += len(chunk)
            more = exchange.chunks_pulled < len(chunk_list)
            return {"type": "http.request", "body": chunk, "more_body": more}
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        exchange.messages.append(message)
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")

    try:
        await app(scope, receive, send)
    except Exception as error:  # a wrong answer may raise anything: record it, do not crash
        exchange.error = f"{type(error).__name__}: {error}"
    return exchange


def run_drive(app: ASGIApp, chunks: Iterable[bytes], **options: Any) -> Exchange:
    """``drive`` from synchronous code (a notebook cell, a check). It runs in an event loop
    of its own in a worker thread, as ``TestClient`` does, so it also works inside Jupyter,
    whose own loop is already running."""
    from anyio.from_thread import start_blocking_portal

    with start_blocking_portal() as portal:
        return portal.call(functools.partial(drive, app, list(chunks), **options))

