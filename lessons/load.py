"""Measuring a served lesson from the outside: requests per second, and the cost of a layer.

The client is a deliberately minimal HTTP/1.1 client on keep-alive connections, so that what is
measured is the server, not the client; each lesson runs in a process of its own
(``lessons.server.serve_lesson``), as a learner serves it, with a data folder of its own (a
measurement never touches the learner's ``var/``).

A lesson can also be served through another app factory with the same uvicorn options
(``Target``), for a comparison the lessons themselves never serve: lesson 08 with one
``@app.middleware("http")`` function added, say.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response

from lessons.server import serve_lesson

T = TypeVar("T")

SERVICE_FACTORY = "lessons.service:app_from_env"  # what `python -m lessons serve` serves
HTTP_MIDDLEWARE_FACTORY = "lessons.load:with_http_middleware"


@dataclass(frozen=True)
class Target:
    """What to measure: the service after ``lesson``, built by ``factory`` ("module:function",
    reading the lesson from ``LESSONS_LESSON``). With the default factory it is served by
    ``python -m lessons serve``; with another, by this module, with the same options."""

    lesson: int
    factory: str = SERVICE_FACTORY
    label: str = ""

    @property
    def name(self) -> str:
        return self.label or f"lesson {self.lesson:02d}"


@contextlib.contextmanager
def serving_lesson(lesson: int | str | Target, env: Mapping[str, str] | None = None,
                   timeout: float = 30, data_dir: Path | None = None) -> Iterator[str]:
    """``python -m lessons serve --lesson N`` in a process of its own; yields the base URL once
    ``/health`` answers, and always stops the server. Its data (database, development key)
    goes to ``data_dir``, or to a temporary folder removed afterwards."""
    target = lesson if isinstance(lesson, Target) else Target(int(lesson))
    with contextlib.ExitStack() as cleanup:
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="lessons-load-")))
        environment = {**os.environ, **(env or {}), "LESSONS_DATA_DIR": str(data_dir)}
        args: tuple[str, ...] = ("--lesson", str(target.lesson))
        if target.factory == SERVICE_FACTORY:
            served = serve_lesson(*args, env=environment, timeout=timeout)
        else:
            served = serve_lesson(target.factory, *args, env=environment, timeout=timeout,
                                  program=("lessons.load",))
        url = cleanup.enter_context(served).url
        deadline = time.monotonic() + timeout
        while _in_a_thread(_get_status(url, "/health")) != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target.name} did not answer on {url}")
            time.sleep(0.05)
        yield url


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


def http_request(url: str, path: str, method: str = "GET", body: bytes = b"",
                 headers: Mapping[str, str] | None = None) -> bytes:
    """The bytes of one HTTP/1.1 request to the server of ``url`` (keep-alive)."""
    parts = urlsplit(url)
    lines = [f"{method} {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port or 80}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method not in ("GET", "HEAD"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _hammer(url: str, path: str, seconds: float, connections: int,
                  requests_each: int | None = None, request: bytes | None = None,
                  on_answer: Callable[[int, float], None] | None = None) -> list[int]:
    """Keep-alive requests on ``connections`` connections for ``seconds`` (or ``requests_each``
    each): ``GET path``, or the given ``request`` bytes. A deliberately minimal HTTP/1.1
    client, so that the client is not what is measured. ``on_answer(status, seconds)`` is
    called after each answer."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = request or http_request(url, path)
    deadline = time.monotonic() + seconds

    async def one_connection() -> list[int]:
        reader, writer = await asyncio.open_connection(host, port)
        statuses: list[int] = []
        try:
            # Each connection answers at least once: on a busy machine opening it may take
            # longer than a short measurement, and a rate needs at least one answer.
            while (requests_each is None and (not statuses or time.monotonic() < deadline)) \
                    or (requests_each is not None and len(statuses) < requests_each):
                began = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ", 2)[1]))
                if on_answer is not None:
                    on_answer(statuses[-1], time.perf_counter() - began)
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
    if any(status != 200 for status in statuses):
        seen = sorted(set(statuses))
        raise RuntimeError(f"GET {path} did not answer 200 every time (answers: {seen})")
    return len(statuses) / elapsed


def compare_throughput(targets: Sequence[int | str | Target], rounds: int = 3,
                       seconds: float = 1.0, path: str = "/health",
                       data_dir: Path | None = None) -> dict[str, float]:
    """The median requests per second of each target's real server, by name. All are served
    at once (an idle server costs nothing) and measured in alternating rounds, so that a slow
    moment of the machine does not fall on one side only. Each keeps its data in a folder of
    its own inside ``data_dir`` (default: a temporary folder, removed afterwards)."""
    chosen = [t if isinstance(t, Target) else Target(int(t)) for t in targets]
    names = [target.name for target in chosen]
    with contextlib.ExitStack() as servers:
        if data_dir is None:
            data_dir = Path(servers.enter_context(
                tempfile.TemporaryDirectory(prefix="lessons-load-")))
        urls = dict(zip(names, serve_all(servers, [
            serving_lesson(target, data_dir=data_dir / f"served{number}")
            for number, target in enumerate(chosen, 1)]), strict=True))
        return compare_urls(urls, rounds, seconds, path)


def compare_urls(urls: Mapping[str, str], rounds: int = 3, seconds: float = 1.0,
                 path: str = "/health") -> dict[str, float]:
    """The median requests per second of ``GET path`` on each of these running servers, by
    name: each warmed up, then measured in alternating rounds."""
    samples: dict[str, list[float]] = {name: [] for name in urls}
    for url in urls.values():
        requests_per_second(url, path, seconds=min(seconds, 0.2))  # warm up
    for _ in range(rounds):
        for name, url in urls.items():
            samples[name].append(requests_per_second(url, path, seconds))
    return {name: statistics.median(values) for name, values in samples.items()}


def serve_all(stack: contextlib.ExitStack,
               servers: Sequence[contextlib.AbstractContextManager[str]]) -> list[str]:
    """Enter every server's context side by side (a start is mostly a new Python process
    importing the service: started together, they take little longer than one); every server
    that started is stopped with ``stack``, whether or not the others did."""
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        started = [pool.submit(server.__enter__) for server in servers]
    for server, future in zip(servers, started, strict=True):
        if future.exception() is None:
            stack.push(server.__exit__)
    return [future.result() for future in started]


# -- latency while something else is going on ------------------------------------------------------


@dataclass(frozen=True)
class Latencies:
    """One probe's answers: when each was asked (seconds from the start) and how long it
    took (milliseconds), with the status of each; and the statuses of the load beside it."""

    at: list[float]
    ms: list[float]
    statuses: list[int]
    load_statuses: list[int] = field(default_factory=list)

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the latencies, in milliseconds (nearest rank)."""
        ordered = sorted(self.ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def worst(self) -> float:
        return max(self.ms, default=float("nan"))


def latency_during(url: str, seconds: float = 2.0, path: str = "/health",
                   load: bytes | None = None, load_connections: int = 0,
                   every: float = 0.01) -> Latencies:
    """``GET path`` once every ``every`` seconds on one keep-alive connection for ``seconds``,
    while ``load_connections`` other connections send ``load`` (request bytes, see
    ``http_request``) back to back: how long each probe waited for its answer."""
    return _in_a_thread(_latency_during(url, seconds, path, load, load_connections, every))


async def _latency_during(url: str, seconds: float, path: str, load: bytes | None,
                          load_connections: int, every: float) -> Latencies:
    began = time.perf_counter()
    at: list[float] = []
    ms: list[float] = []

    def answered(status: int, took: float) -> None:
        at.append(time.perf_counter() - began - took)
        ms.append(took * 1000)

    async def probe() -> list[int]:
        parts = urlsplit(url)
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        request, statuses = http_request(url, path), []
        try:
            while time.perf_counter() - began < seconds:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                statuses.append(int(head.split(b" ", 2)[1]))
                answered(statuses[-1], time.perf_counter() - sent)
                await asyncio.sleep(every)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        return statuses

    jobs = [probe()]
    if load is not None and load_connections:
        jobs.append(_hammer(url, path, seconds, load_connections, request=load))
    results = await asyncio.gather(*jobs)
    return Latencies(at, ms, results[0], results[1] if len(results) > 1 else [])


# -- a comparison the lessons never serve --------------------------------------------------------


def with_http_middleware() -> FastAPI:
    """The lesson named by ``LESSONS_LESSON``, with one more middleware written the way many
    tutorials write one: an ``@app.middleware("http")`` function that only passes the request
    on. Starlette runs it through ``BaseHTTPMiddleware``, which wraps every request and answer
    in objects of its own and hands the body over through a stream between two tasks: the
    price of that wrapping alone is what a measurement of this app shows. Never served by the
    workbook's lessons, whose middleware is pure ASGI."""
    from lessons.service import app_from_env

    app = app_from_env()

    @app.middleware("http")
    async def pass_it_on(request: Request, call_next: Any) -> Response:
        return await call_next(request)  # type: ignore[no-any-return]

    return app


def serve(argv: Sequence[str] | None = None) -> int:
    """``python -m lessons.load FACTORY --lesson N --port P``: serve ``FACTORY`` on loopback
    with the uvicorn options ``python -m lessons serve --lesson N`` uses (lesson 08's JSON
    logging, lesson 04's proxy settings), so that only the app differs."""
    import uvicorn

    from lessons.layers import assemble
    from lessons.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m lessons.load")
    parser.add_argument("factory")
    parser.add_argument("--lesson", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    os.environ["LESSONS_LESSON"] = str(args.lesson)
    options = assemble(args.lesson).uvicorn_options(settings)
    uvicorn.run(args.factory, factory=True, host="127.0.0.1", port=args.port, log_level="info",
                **options)
    return 0


if __name__ == "__main__":
    sys.exit(serve())
