"""Lesson 10: limits of the server itself, below the app (OWASP API4:2023, ASVS 5.0 15.2.2).

No middleware can protect the service from what happens before a request reaches the app:
the server reads the request line and headers whole, and only then calls the app. Served by
uvicorn with its fast parser (httptools), the service has two gaps there:

- **no limit on the header block.** One connection that sends a 48 MiB header to
  ``GET /health`` gets a 200, after the server has spent seconds of its only event loop
  gathering the header piece by piece; meanwhile ``/health`` stalls for everyone. uvicorn's
  other parser, h11, stops at 16 KiB (``h11_max_incomplete_event_size``), at about a quarter
  of httptools' throughput;
- **no timeout before the first request.** uvicorn's keep-alive timeout starts only once a
  response has been sent: a connection that sends nothing, or a header a byte at a time, stays
  open as long as its client likes, and a few thousand of them use up the server's sockets.

``BoundedHttpTools`` is uvicorn's httptools protocol with both limits added where the bytes
arrive, before the parser: it counts the bytes of each request's head (request line and
headers) and answers 431 at the first read past ``LESSONS_MAX_HEADER_BYTES`` (16 KiB), and it
closes a connection whose head has not arrived whole within ``LESSONS_HEADER_TIMEOUT_SECONDS``
(5 s; with 408 when part of it came). Counting costs a few additions per read.

``server_limits`` is lesson 10's ``serve`` option: that protocol, uvicorn's keep-alive timeout
(``LESSONS_KEEPALIVE_TIMEOUT_SECONDS``) and a cap on connections per worker
(``LESSONS_MAX_CONNECTIONS``: past it, uvicorn answers 503). In production a reverse proxy in
front of the service usually holds these limits, and more (see the lesson's notebook).
"""

from __future__ import annotations

import asyncio
import functools
import json
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from lessons.settings import Settings

REASONS = {408: "Request Timeout", 431: "Request Header Fields Too Large"}


class BoundedHttpTools(HttpToolsProtocol):
    """uvicorn's httptools protocol, with a bound on each request's head (bytes and time)."""

    def __init__(self, *args: Any, max_header_bytes: int = 16 * 1024,
                 header_timeout: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_header_bytes = max_header_bytes
        self.header_timeout = header_timeout
        self._head_bytes = 0
        self._reading_head = True  # waiting for, or reading, a request line and headers
        self._head_clock: asyncio.TimerHandle | None = None

    # -- the byte count ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        was_reading_head = self._reading_head
        super().data_received(data)  # the parser calls on_message_begin, on_headers_complete
        if was_reading_head and self._reading_head and not self.transport.is_closing():
            # The whole read belongs to a head still incomplete: count it. (A read that
            # finished the head, or began a pipelined one, is not counted; it is one read.)
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse(431, f"The request line and headers are limited to "
                                  f"{self.max_header_bytes} bytes.")

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        self._reading_head = True
        self._start_head_clock()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._stop_head_clock()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True  # whatever comes next on this connection is a new head
        self._head_bytes = 0

    # -- the clock ---------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_head_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_clock()
        super().connection_lost(exc)

    def _start_head_clock(self) -> None:
        if self._head_clock is None:
            self._head_clock = self.loop.call_later(self.header_timeout, self._head_too_slow)

    def _stop_head_clock(self) -> None:
        if self._head_clock is not None:
            self._head_clock.cancel()
            self._head_clock = None

    def _head_too_slow(self) -> None:
        self._head_clock = None
        if self.transport.is_closing() or not self._reading_head:
            return
        if self._head_bytes or getattr(self, "url", b""):
            self._refuse(408, f"The request line and headers must arrive within "
                              f"{self.header_timeout:g} seconds.")
        else:
            self.transport.close()  # it said nothing: nothing to answer

    # -- the refusal -------------------------------------------------------------------------

    def _refuse(self, status: int, detail: str) -> None:
        """Answer ``status`` and close: the rest of the head is never read."""
        self._stop_head_clock()
        self._reading_head = False
        body = json.dumps({"detail": detail}).encode()
        head = [f"HTTP/1.1 {status} {REASONS[status]}\r\n".encode()]
        head += [name + b": " + value + b"\r\n" for name, value in
                 self.server_state.default_headers]
        head += [b"content-type: application/json\r\n",
                 f"content-length: {len(body)}\r\n".encode(), b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        self.transport.close()
        self.logger.warning("Refused a request: %s %s", status, REASONS[status])


def bounded_protocol(max_header_bytes: int, header_timeout: float) -> functools.partial[Any]:
    """The protocol uvicorn makes for each connection, with these limits. A ``partial`` of a
    class in this module, so that ``--workers N`` can hand it to its worker processes."""
    return functools.partial(BoundedHttpTools, max_header_bytes=max_header_bytes,
                             header_timeout=header_timeout)


def server_limits(settings: Settings) -> dict[str, Any]:
    """What ``serve`` needs from lesson 10: the bounded protocol, the keep-alive timeout, and
    a cap on each worker's connections (uvicorn answers 503 past it)."""
    return {
        "http": bounded_protocol(settings.max_header_bytes, settings.header_timeout_seconds),
        "timeout_keep_alive": settings.keepalive_timeout_seconds,
        "limit_concurrency": settings.max_connections,
    }
