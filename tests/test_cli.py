"""The command line, run as a learner runs it: a real process, a real port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest


def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lessons", *args], input=stdin, text=True,
                          capture_output=True, timeout=60, env=env or os.environ.copy())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_users_add_reads_the_password_from_stdin(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    result = run("users", "add", "alice", "--role", "admin", stdin="a-long-enough-password\n")
    assert result.returncode == 0, result.stderr
    assert "a-long-enough-password" not in result.stdout + result.stderr

    from lessons.passwords import argon2_hasher
    from lessons.settings import Settings
    from lessons.store import Store

    settings = Settings.from_env()
    user = Store(settings.database).get_user("alice")
    assert user.role == "admin"
    assert argon2_hasher(settings).verify("a-long-enough-password", user.password_hash)


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (("users", "add", "Alice!"), "a-long-enough-password\n", "not a valid username"),
    (("users", "add", "alice"), "short\n", "12 to 128 characters"),
    (("users", "add", "alice", "--role", "root"), "", "invalid choice"),
    (("serve", "--lesson", "99"), "", "no lesson '99'"),
    (("serve", "--port", "70000"), "", "not a TCP port"),
])
def test_bad_arguments_get_a_clear_error(args, stdin, message, tmp_path: Path,
                                         monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    result = run(*args, stdin=stdin)
    assert result.returncode == 2
    assert message in result.stderr


def test_a_duplicate_user_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    assert run("users", "add", "alice", stdin="a-long-enough-password\n").returncode == 0
    again = run("users", "add", "alice", stdin="a-long-enough-password\n")
    assert again.returncode == 2 and "exists already" in again.stderr


@pytest.mark.slow
def test_serve_lesson_0_answers_and_lists_added_users(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LESSONS_DATA_DIR", str(tmp_path))
    assert run("users", "add", "alice", stdin="a-long-enough-password\n").returncode == 0
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "lessons", "serve", "--lesson", "0", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx2.get(f"{url}/health", timeout=2)
                break
            except httpx2.TransportError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "the server did not start within 30 s"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        users = httpx2.get(f"{url}/admin/users", timeout=5).json()
        assert [u["username"] for u in users] == ["alice"]
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=20)
    assert "after lesson 00" in output


def test_lessons_lists_the_course() -> None:
    result = run("lessons")
    assert result.returncode == 0
    assert "00  Tour and threat model" in result.stdout
    assert "00_tour.ipynb" in result.stdout
