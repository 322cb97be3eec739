"""Lesson 10: a bounded hashing queue, with a fair share per client (OWASP API4:2023).

A password hash is slow on purpose, and a worker runs only a few at once (the hashing slots,
``lessons.passwords.HASHING_SLOTS``); the others wait in line. Unbounded, the line is the
problem: 300 wrong logins sent at once make a real user's login wait behind all 300, five to
ten seconds at OWASP's Argon2id cost. Bounded, a hash that finds no place is refused at once
with 503 and ``Retry-After``: the client learns to come back, and nobody waits long.

- ``hashing_place`` (the seam; exercise 3) decides whether a hash gets a place: at most
  ``LESSONS_HASHING_QUEUE`` (16) per worker, waiting or running, and at most
  ``LESSONS_HASHING_QUEUE_PER_CLIENT`` (4) of them for one client, so that one client cannot
  fill the line for everyone;
- ``hashing_queue`` is the middleware slot: it marks each request with its app's queue and
  its client's address (after lesson 04's proxy check), where ``off_the_event_loop`` finds
  them. It changes nothing else, and costs one context variable per request;
- ``hashing_busy`` answers ``HashingBusy``: 503 with ``Retry-After``, its body the lesson-08
  generic one (every 5xx is).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from lessons import logs
from lessons.errors import new_request_id
from lessons.passwords import HASHING, HashingBusy, HashingQueue

if TYPE_CHECKING:
    from lessons.context import Service


# -- exercise 3: a place in the queue --------------------------------------------------------------


@contextmanager
def hashing_place(queue: HashingQueue, client: str) -> Iterator[None]:
    """Hold a place in ``queue`` for one hash of ``client`` while the ``with`` block runs: at
    once, or not at all (``HashingBusy``) when the queue is full or the client holds its share.
    The place is given back however the block ends."""
    with queue.lock:
        if queue.held >= queue.size or queue.by_client[client] >= queue.share:
            raise HashingBusy(queue.retry_after)
        queue.held += 1
        queue.by_client[client] += 1
    try:
        yield
    finally:
        with queue.lock:
            queue.held -= 1
            queue.by_client[client] -= 1
            if queue.by_client[client] <= 0:
                del queue.by_client[client]  # a client with no place is forgotten


class HashingQueueMiddleware:
    """Pure ASGI: every HTTP request runs with its app's hashing queue and its client's
    address in ``lessons.passwords.HASHING``."""

    def __init__(self, app: ASGIApp, queue: HashingQueue) -> None:
        self.app = app
        self.queue = queue

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        token = HASHING.set((self.queue, client[0] if client else ""))
        try:
            await self.app(scope, receive, send)
        finally:
            HASHING.reset(token)


def hashing_queue(app: ASGIApp, service: Service) -> ASGIApp:
    """The hashing-queue slot: one queue per app (per worker), sized from the settings, with
    the ``hashing_place`` and ``client_key`` seams."""
    settings, layers = service.settings, service.layers
    queue = HashingQueue(size=settings.hashing_queue, share=settings.hashing_queue_per_client,
                         place=layers.hashing_place, client_key=layers.client_key)
    return HashingQueueMiddleware(app, queue)


async def hashing_busy(request: Request, error: Exception) -> Response:
    """``HashingBusy``: 503 at once, with ``Retry-After``. The body is whatever the
    ``error_response`` seam makes of a 503 (the generic one, with the request id)."""
    assert isinstance(error, HashingBusy)
    service: Service = request.app.state.service
    context = logs.current_request()
    response = service.layers.error_response(
        context.request_id if context else new_request_id(),
        HTTPException(503, "The hashing queue is full."))
    response.headers["Retry-After"] = str(error.retry_after)
    return response
