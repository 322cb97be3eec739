"""Real servers on loopback, from a notebook or a test: an app served in a thread of this
process (``BackgroundServer``), or a lesson served by ``python -m lessons serve`` in a process of
its own (``serve_lesson``), exactly as a learner starts it.

Both are always stopped: at the end of their ``with`` block, when starting fails, and (for the
thread) when ``stop()`` is called or the Python process (a Jupyter kernel) exits. They listen
on 127.0.0.1 only, on a free port chosen by the operating system (or a given one).
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn

from lessons.tls.context import uvicorn_context

_running: set[BackgroundServer] = set()


class ServerStartError(RuntimeError):
    pass


class BackgroundServer:
    """uvicorn serving ``app`` in a thread; plain HTTP, or TLS when given a certificate."""

    def __init__(self, app: Any, *, host: str = "127.0.0.1", port: int = 0,
                 certfile: Path | None = None, keyfile: Path | None = None,
                 **uvicorn_options: Any) -> None:
        self.host = host
        self.tls = certfile is not None or "ssl_certfile" in uvicorn_options
        options: dict[str, Any] = {
            "log_level": "warning",  # keep uvicorn's start-up chatter out of notebook output
            "access_log": False,
            "lifespan": "on",
            **uvicorn_options,
        }
        if certfile is not None:
            options.update(ssl_certfile=str(certfile), ssl_keyfile=str(keyfile))
            # Lesson 04's TLS profile (TLS 1.2+, AEAD suites only, P-256/X25519), unless the
            # caller passes its own factory (``ssl_context_factory=None``: Python's defaults).
            options.setdefault("ssl_context_factory", uvicorn_context)
        self._config = uvicorn.Config(app, **options)
        self._server = uvicorn.Server(self._config)
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._requested_port = port  # 0: any free port, chosen by the operating system
        self.port = 0

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        # Bind first, on port 0, so the OS picks a free port and no other process can take it
        # between choosing and listening.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((self.host, self._requested_port))
        except OSError:
            self._socket.close()  # a taken port: leave nothing half-open behind
            raise
        self.port = self._socket.getsockname()[1]
        self._thread = threading.Thread(target=self._run, name=f"lessons-server-{self.port}",
                                        daemon=True)
        _running.add(self)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(
                    "The background server did not start. Run the app with "
                    "`python -m lessons serve` in a terminal to see uvicorn's error."
                )
            time.sleep(0.02)
        return self

    def _run(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except SystemExit:
            pass  # uvicorn exits this way when the app fails to start; start() reports it

    def ask_to_stop(self) -> None:
        """Tell uvicorn to stop, without waiting for it (it looks about ten times a second)."""
        self._server.should_exit = True

    def stop(self, timeout: float = 10.0) -> None:
        self.ask_to_stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        if self._socket is not None:
            self._socket.close()
        _running.discard(self)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> BackgroundServer:
        return self if self.running else self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()


def serve_in_background(app: Any, **options: Any) -> BackgroundServer:
    """Start ``app`` on a free loopback port and return the running server (use ``.url``)."""
    return BackgroundServer(app, **options).start()


def stop_servers(servers: Iterable[BackgroundServer]) -> None:
    """Stop several servers side by side: each is told first, then each is waited for (a stop
    takes about a tenth of a second, most of it uvicorn's wait before it looks)."""
    chosen = list(servers)
    for server in chosen:
        server.ask_to_stop()
    for server in chosen:
        server.stop()


def stop_all() -> None:
    stop_servers(_running)


atexit.register(stop_all)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now. Only for a process that must be told its port
    in advance (a served lesson); in-process servers bind port 0 instead, which cannot race."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@dataclass
class Served:
    """A lesson served in a process of its own: its port, URL and process id, and, once it
    has stopped, everything it printed."""

    port: int
    url: str
    pid: int = 0
    output: str = ""


@contextmanager
def serve_lesson(*args: str, env: Mapping[str, str] | None = None, scheme: str = "http",
                 stop: signal.Signals = signal.SIGTERM, timeout: float = 30,
                 program: Sequence[str] = ("lessons", "serve")) -> Iterator[Served]:
    """``python -m lessons serve ARGS --port P`` on a free loopback port: listening when the
    block starts, stopped (by ``stop``; SIGINT is Ctrl+C) when it ends. (``program`` runs
    another module the same way, ``python -m PROGRAM ARGS --port P``.)

    The server's output goes to a file, not a pipe: a served lesson logs a line per request,
    and a pipe that nobody reads fills up (64 KiB) and then blocks the server mid-request.
    """
    port = free_port()
    command = " ".join(("python -m", *program, *args))
    with tempfile.TemporaryFile("w+", encoding="utf-8") as sink:
        server = subprocess.Popen(  # noqa: S603 - our own command, no shell
            [sys.executable, "-m", *program, *args, "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ if env is None else env),
        )
        served = Served(port=port, url=f"{scheme}://127.0.0.1:{port}", pid=server.pid)
        try:
            deadline = time.monotonic() + timeout
            while not listening(port):
                if server.poll() is not None:
                    sink.seek(0)
                    raise ServerStartError(f"`{command}` exited early:\n{sink.read()}")
                if time.monotonic() > deadline:
                    raise ServerStartError(f"`{command}` did not start within {timeout} s")
                time.sleep(0.05)
            yield served
        finally:
            server.send_signal(stop)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            sink.seek(0)
            served.output = sink.read()
