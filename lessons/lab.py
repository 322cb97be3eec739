"""What a notebook needs around the lesson itself: a fresh private data folder, apps built in
it, clients for them, servers on loopback, and a compact way to print responses.

    from lessons.lab import Lab, show
    lab = Lab(lesson=1)
    client = lab.client(lab.app())
    show(client.get("/health"))
"""

from __future__ import annotations

import atexit
import json
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2
from fastapi import FastAPI
from fastapi.testclient import TestClient

from lessons.server import BackgroundServer, serve_in_background
from lessons.service import create_app
from lessons.settings import Settings, ensure_private_dir

TOKEN_SIGNATURE = re.compile(r"(eyJ[\w-]+\.eyJ[\w-]+\.)[\w-]{20,}")


class Lab:
    """One notebook's workspace: removed, with every server it started, at ``close()`` or when
    the kernel exits."""

    def __init__(self, lesson: int) -> None:
        self.lesson = lesson
        self.root = Path(tempfile.mkdtemp(prefix=f"lessons-{lesson:02d}-"))
        self._servers: list[BackgroundServer] = []
        atexit.register(self.close)

    def settings(self, folder: str = "service", **changes: Any) -> Settings:
        """Settings whose data folder is ``folder`` inside this lab: apps given the same folder
        share one database; a new name starts from nothing."""
        data_dir = ensure_private_dir(self.root / folder)
        return Settings.from_env(data_dir=data_dir, **changes)

    def app(self, upto: int | str | None = None, *, folder: str = "service",
            **overrides: Any) -> FastAPI:
        """The Notes service after lesson ``upto`` (default: this lab's lesson)."""
        return create_app(self.lesson if upto is None else upto, self.settings(folder),
                          **overrides)

    def client(self, app: FastAPI) -> TestClient:
        """An in-process client: real HTTP requests, handled without a network."""
        return TestClient(app)

    def serve(self, app: FastAPI, **options: Any) -> BackgroundServer:
        """Start ``app`` on a free loopback port; stopped by ``close()`` at the latest."""
        server = serve_in_background(app, **options)
        self._servers.append(server)
        return server

    def http(self, server: BackgroundServer, **options: Any) -> httpx2.Client:
        """A real HTTP client for a server started with ``serve``."""
        return httpx2.Client(base_url=server.url, timeout=10, **options)

    def database(self, folder: str = "service") -> Path:
        return self.root / folder / "notes.db"

    def close(self) -> None:
        for server in self._servers:
            server.stop()
        self._servers.clear()
        shutil.rmtree(self.root, ignore_errors=True)


def show(response: httpx2.Response) -> None:
    """Print a response as ``METHOD /path -> status`` and its JSON body, nothing random."""
    request = response.request
    path = request.url.raw_path.decode()
    print(f"{request.method} {path} -> {response.status_code} {response.reason_phrase}")
    if not response.content:
        return
    try:
        body = response.json()
    except ValueError:
        print(response.text[:500])
        return
    text = json.dumps(body, ensure_ascii=False)
    if len(text) > 100:
        text = json.dumps(body, indent=2, ensure_ascii=False)
    # A token's header and claims are worth reading; its signature would make the printed
    # token a working credential, so notebooks never show one.
    print(TOKEN_SIGNATURE.sub(r"\1<signature>", text))


def attempt(exercise: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Try an exercise: its result (a response is shown), or a note that it is not written yet
    instead of a traceback, so the notebook runs top to bottom either way."""
    try:
        result = exercise(*args, **kwargs)
    except NotImplementedError:
        print(f"{exercise.__name__} is not written yet: fill in its cell above, run it, "
              "then run this cell again.")
        return None
    if isinstance(result, httpx2.Response):
        show(result)
        return None
    return result
