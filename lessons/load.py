"""Measuring a served lesson from the outside: requests per second, and the cost of a layer.

The client is a deliberately minimal HTTP/1.1 client on keep-alive connections, so that what is
measured is the server, not the client; each lesson runs in a process of its own
(``lessons.server.serve_lesson``), as a learner serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

from lessons.server import serve_lesson

T = TypeVar("T")


@contextlib.contextmanager
def serving_lesson(lesson: int | str, env: Mapping[str, str] | None = None,
                   timeout: float = 30) -> Iterator[str]:
    """``python -m lessons serve --lesson N`` in a process of its own; yields the base URL once
    ``/health`` answers, and always stops the server."""
    with serve_lesson("--lesson", str(lesson), env={**os.environ, **(env or {})},
                      timeout=timeout) as served:
        deadline = time.monotonic() + timeout
        while _in_a_thread(_get_status(served.url, "/health")) != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"`python -m lessons serve --lesson {lesson}` did not answer")
            time.sleep(0.05)
        yield served.url


def _in_a_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end in an event loop of its own, in a worker thread: this also
    works inside Jupyter, whose own loop is already running in the main thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _get_status(url: str, path: str) -> int:
    try:
        statuses = await _hammer(url, path, seconds=0, connections=1, requests_each=1)
    except OSError:
        return 0
    return statuses[0] if statuses else 0


async def _hammer(url: str, path: str, seconds: float, connections: int,
                  requests_each: int | None = None) -> list[int]:
    """Keep-alive GETs on ``connections`` connections for ``seconds`` (or ``requests_each``
    each); a deliberately minimal HTTP/1.1 client, so that the client is not what is measured."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    deadline = time.monotonic() + seconds

    async def one_connection() -> list[int]:
        reader, writer = await asyncio.open_connection(host, port)
        statuses: list[int] = []
        try:
            while (requests_each is None and time.monotonic() < deadline) or \
                    (requests_each is not None and len(statuses) < requests_each):
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ", 2)[1]))
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return statuses

    results = await asyncio.gather(*(one_connection() for _ in range(connections)))
    return [status for statuses in results for status in statuses]


def requests_per_second(url: str, path: str = "/health", seconds: float = 3.0,
                        connections: int = 4) -> float:
    """Throughput of ``GET path`` on a running server, measured from this process."""
    began = time.perf_counter()
    statuses = _in_a_thread(_hammer(url, path, seconds, connections))
    elapsed = time.perf_counter() - began
    if not statuses or any(status != 200 for status in statuses):
        raise RuntimeError(f"GET {path} did not answer 200 every time")
    return len(statuses) / elapsed


def compare_throughput(lessons: Sequence[int | str], rounds: int = 3, seconds: float = 3.0,
                       path: str = "/health") -> dict[str, float]:
    """The median requests per second of each lesson's real server, measured in alternating
    rounds (so a slow moment of the machine does not fall on one side only)."""
    samples: dict[str, list[float]] = {str(lesson): [] for lesson in lessons}
    for _ in range(rounds):
        for lesson in lessons:
            with serving_lesson(lesson) as url:
                requests_per_second(url, path, seconds=0.5)  # warm up
                samples[str(lesson)].append(requests_per_second(url, path, seconds))
    return {lesson: statistics.median(values) for lesson, values in samples.items()}
