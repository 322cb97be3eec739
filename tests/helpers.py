"""Helpers for tests that run the command line as a learner does: a real process, and for
``serve`` a real server on a free loopback port that is always stopped.

Imported as ``from helpers import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx2


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
    url: str
    # Everything the server printed, filled in once it has stopped.
    output: str = ""


@contextmanager
def serving(*args: str, timeout: float = 30) -> Iterator[Served]:
    """``python -m lessons serve ARGS --port P`` on a free loopback port, ready to answer
    (``GET /health``) when the block starts, and terminated when it ends."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lessons", "serve", *args, "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    served = Served(url=f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx2.get(f"{served.url}/health", timeout=2)
                break
            except httpx2.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, f"the server did not start within {timeout} s"
                time.sleep(0.2)
        yield served
    finally:
        server.terminate()
        try:
            served.output, _ = server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            served.output, _ = server.communicate()
