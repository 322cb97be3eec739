"""Helpers for tests that run the command line as a learner does: a real process, and for
``serve`` a real server on a free loopback port that is always stopped.

Imported as ``from helpers import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass


def run_cli(*args: str, stdin: str = "",
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m lessons ARGS`` with ``stdin`` piped in; output captured as text."""
    return subprocess.run([sys.executable, "-m", "lessons", *args], input=stdin, text=True,
                          capture_output=True, timeout=60, env=env or os.environ.copy())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    port: int
    url: str
    # Everything the server printed, filled in once it has stopped.
    output: str = ""


def listening(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


@contextmanager
def serving(*args: str, env: dict[str, str] | None = None, scheme: str = "http",
            stop: signal.Signals = signal.SIGTERM, timeout: float = 30) -> Iterator[Served]:
    """``python -m lessons serve ARGS --port P`` on a free loopback port, listening when the
    block starts and stopped (by ``stop``, SIGINT being Ctrl+C) when it ends.

    The server's output goes to a file, not a pipe: a served lesson logs a line per request,
    and a pipe that nobody reads fills up (64 KiB) and then blocks the server mid-request.
    """
    port = free_port()
    with tempfile.TemporaryFile("w+") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "lessons", "serve", *args, "--port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, text=True, env=env or os.environ.copy(),
        )
        served = Served(port=port, url=f"{scheme}://127.0.0.1:{port}")
        try:
            deadline = time.monotonic() + timeout
            while not listening(port):
                if server.poll() is not None:
                    sink.seek(0)
                    raise AssertionError(f"the server exited early:\n{sink.read()}")
                assert time.monotonic() < deadline, f"the server did not start within {timeout} s"
                time.sleep(0.1)
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
