from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx2
import pytest
from fastapi import FastAPI

from lessons.server import (
    BackgroundServer,
    ServerStartError,
    listening,
    serve_in_background,
    stop_servers,
)


def test_serves_on_loopback_and_is_gone_after_the_block(make_app) -> None:
    with serve_in_background(make_app(0)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        assert httpx2.get(f"{server.url}/health").json() == {"status": "ok"}
    assert not server.running
    assert not listening(server.port)


def test_stop_is_idempotent(make_app) -> None:
    server = serve_in_background(make_app(0))
    server.stop()
    server.stop()
    assert not listening(server.port)


def test_servers_stopped_together_all_stop_while_one_is_still_serving(make_app) -> None:
    together = [serve_in_background(make_app(0)) for _ in range(3)]
    other = serve_in_background(make_app(0))
    try:
        with httpx2.Client() as client:  # open keep-alive connections do not hold a stop up
            for server in together:
                assert client.get(f"{server.url}/health").status_code == 200
            stop_servers(together)
        assert not any(server.running or listening(server.port) for server in together)
        assert httpx2.get(f"{other.url}/health").status_code == 200
    finally:
        other.stop()


def test_a_failing_start_says_where_to_look_and_leaves_nothing_listening() -> None:
    @asynccontextmanager
    async def broken_lifespan(app: FastAPI) -> AsyncIterator[None]:
        raise RuntimeError("the app could not start")
        yield

    server = BackgroundServer(FastAPI(lifespan=broken_lifespan))
    with pytest.raises(ServerStartError, match="python -m lessons serve"):
        server.start(timeout=5)
    assert not listening(server.port)
