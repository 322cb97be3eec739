"""Helpers for tests that run the command line as a learner does: a real process, and for
``serve`` a real server on a free loopback port that is always stopped.

Imported as ``from helpers import ...`` (pytest puts this folder on ``sys.path``).
"""

from __future__ import annotations

import os
import subprocess
import sys

from lessons.server import Served, free_port, listening, serve_lesson

__all__ = ["Served", "free_port", "listening", "run_cli", "serving"]


def run_cli(*args: str, stdin: str = "", env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
    """``python -m lessons ARGS`` with ``stdin`` piped in; output captured as text."""
    return subprocess.run([sys.executable, "-m", "lessons", *args], input=stdin, text=True,
                          capture_output=True, timeout=timeout, env=env or os.environ.copy())


# One harness for a served lesson, shared with the notebooks: see lessons/server.py.
serving = serve_lesson
